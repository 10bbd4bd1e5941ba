//! `phivault incident affected`: the breach notification list, computed
//! from the audit log after the whole log verified.

use std::collections::BTreeMap;
use std::sync::Arc;

use phivault_audit::Event;
use phivault_breach::affected::{AffectedList, AffectedQuery, affected};
use phivault_server::config::Config;
use phivault_store::Store;
use phivault_store::audit::AuditQuery;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The list and, when asked, each patient's state.
#[derive(Debug)]
pub struct Computed {
    /// The list.
    pub list: AffectedList,
    /// Patient id → USPS state code (patients without one are absent).
    pub states: BTreeMap<String, String>,
    /// Events the verified log held.
    pub log_size: u64,
}

/// Verifies the log, then lists the patients `q` names.
pub async fn compute(
    config: &Config,
    store: &Arc<dyn Store>,
    q: &AffectedQuery,
    with_states: bool,
) -> Result<Computed, Error> {
    let audit = phivault_server::datadir::audit_store(config, store, false)?;
    let key = phivault_audit::VerifierKey::parse(&std::fs::read_to_string(
        phivault_server::audit::verifier_path(&config.data_dir),
    )?)?;
    let verified = phivault_server::audit::verify::verify_store(&audit, &key)
        .await
        .map_err(|e| {
            format!("the audit log does not verify, so no list is computed from it: {e}")
        })?;
    let frames = audit
        .query(&AuditQuery {
            since: Some(q.since_micros),
            until: Some(q.until_micros),
            limit: usize::MAX,
            ..AuditQuery::default()
        })
        .await?;
    let events: Vec<Event> = frames
        .iter()
        .map(|f| Event::decode(&f.event).map_err(|_| format!("event {} is unreadable", f.index)))
        .collect::<Result<_, _>>()?;
    let list = affected(events.iter(), q);
    let mut states = BTreeMap::new();
    if with_states && !list.entries.is_empty() {
        let ids: Vec<String> = list.entries.keys().cloned().collect();
        let (vault, _) = phivault_server::datadir::open_beside_server(
            config,
            Arc::new(phivault_server::SystemClock),
        )
        .await?;
        // Reading each address is itself a disclosure: recorded first.
        let who = crate::keys::cli_who();
        crate::keys::record_events(config, store, vault.notification_events(&ids, &who)).await?;
        for (id, st) in vault.states_of(&ids).await? {
            if let Some(st) = st {
                states.insert(id, st.to_owned());
            }
        }
    }
    Ok(Computed {
        list,
        states,
        log_size: verified.events,
    })
}
