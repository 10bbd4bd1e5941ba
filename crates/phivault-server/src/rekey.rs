//! Bulk key work on a live vault, shared by `phivault keys` and the
//! server's rotation schedule:
//!
//! - [`rewrap`]: every DEK not under the current KEK is rewrapped (no PHI
//!   field is decrypted). Its work list is "every DEK not at the current
//!   KEK's slot", read from the store page by page, so a rerun after a crash
//!   continues where the store says it stopped.
//! - [`reencrypt`]: records get fresh DEKs and every sealed field is
//!   resealed under them (a suspected DEK compromise, or a deprecated field
//!   algorithm). Atomic per record (a compare-and-swap on the wrapped DEK and
//!   `updated_at`); resumable from the last id of the last finished page.
//!
//! Both record their audit events before each page's changes (fail closed)
//! through a [`Recorder`]: the CLI's outbox or the server's log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use phivault_audit::Event;
use phivault_core::envelope::{DataKey, FieldContext, RecordCipher, WrappedDek};
use phivault_keys::KeyProvider;
use phivault_keys::router::kek_slot;
use phivault_store::{DekFilter, DekSwap, Reseal, SHREDDED_KEK_VERSION, Store, StoredRecord};

use crate::audit::Who;

/// Why a bulk key job stopped. Ids and counts, never key material or PHI.
#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    /// The store failed.
    #[error("database: {0}")]
    Store(#[from] phivault_store::StoreError),
    /// The audit events could not be made durable: nothing was changed.
    #[error("audit: {0}")]
    Audit(String),
    /// The key provider refused (a rotation, say).
    #[error("key provider: {0}")]
    Keys(String),
    /// A new data key could not be generated or used.
    #[error("the system random generator or cipher failed")]
    Crypto,
    /// The collection is not in the schema.
    #[error("unknown collection `{0}`")]
    UnknownCollection(String),
    /// The record does not exist (or was shredded).
    #[error("no record `{0}` in that collection")]
    NoRecord(String),
}

/// Makes audit events durable before the changes they describe.
#[async_trait::async_trait]
pub trait Recorder: Send + Sync {
    /// Appends `events`; an error stops the job before the page is changed.
    async fn record(&self, events: Vec<Event>) -> Result<(), String>;
}

#[async_trait::async_trait]
impl Recorder for crate::audit::AuditLog {
    async fn record(&self, events: Vec<Event>) -> Result<(), String> {
        self.append(events)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// What a job did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Records changed.
    pub done: u64,
    /// Records that could not be processed (bad wrapped DEK, unknown KEK).
    pub failed: u64,
    /// Records in the work list when the job started.
    pub total: u64,
}

/// How a job runs.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Records per page (one transaction each).
    pub page: u32,
    /// At most this many records per second (`None`: as fast as it goes),
    /// so a rotation beside a busy API leaves it its throughput.
    pub max_rate: Option<u32>,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            page: 500,
            max_rate: None,
        }
    }
}

impl Pace {
    /// Waits so that `done` records since `start` stay within the rate.
    pub async fn hold(&self, start: Instant, done: u64) {
        if let Some(rate) = self.max_rate.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(done as f64 / f64::from(rate));
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// DEKs not under `target` (shredded records excluded).
pub async fn outstanding(store: &dyn Store, target: u32) -> Result<u64, RekeyError> {
    Ok(store
        .count_deks_by_kek()
        .await?
        .iter()
        .filter(|(v, _)| *v != target && *v != SHREDDED_KEK_VERSION)
        .map(|(_, n)| n)
        .sum())
}

/// One page of the work list, rewrapped: `(last id, swaps, failures)`;
/// `None` when the list is exhausted.
async fn next_page(
    store: &dyn Store,
    keys: &dyn KeyProvider,
    after: Option<&str>,
    page: u32,
) -> Result<Option<(String, Vec<DekSwap>, u64)>, RekeyError> {
    // Re-read per page: a rotation elsewhere (another `keys rotate`) makes
    // its version the target of this run too.
    let slot = kek_slot(keys.current());
    let rows = store.list_deks(DekFilter::NotAt(slot), after, page).await?;
    let Some(last) = rows.last().map(|r| r.id.clone()) else {
        return Ok(None);
    };
    let (mut swaps, mut failed) = (Vec::with_capacity(rows.len()), 0);
    for r in rows {
        let new = match WrappedDek::decode(&r.wrapped_dek) {
            Ok(w) => keys.rewrap(&w, &r.collection, &r.id).await.ok(),
            Err(_) => None,
        };
        match new {
            Some(n) => swaps.push(DekSwap {
                kek_version: kek_slot(n.kek),
                new: n.encode(),
                old: r.wrapped_dek,
                collection: r.collection,
                id: r.id,
            }),
            None => failed += 1,
        }
    }
    Ok(Some((last, swaps, failed)))
}

/// Rewraps every DEK not under the provider's current KEK; calls `tick`
/// after each page. Pipelined: while one page's swaps commit, the next page
/// is read and rewrapped. A CAS lost to a concurrent change leaves that DEK
/// in the work list: up to three passes pick such stragglers up.
pub async fn rewrap(
    store: &dyn Store,
    keys: &dyn KeyProvider,
    pace: Pace,
    tick: &mut (dyn FnMut(Progress) + Send),
) -> Result<Progress, RekeyError> {
    let mut p = Progress {
        total: outstanding(store, kek_slot(keys.current())).await?,
        ..Progress::default()
    };
    let start = Instant::now();
    for _pass in 0..3 {
        let mut current = next_page(store, keys, None, pace.page).await?;
        while let Some((last, swaps, failed)) = current {
            p.failed += failed;
            let (applied, next) = tokio::join!(
                store.swap_deks(swaps),
                next_page(store, keys, Some(&last), pace.page)
            );
            p.done += applied?;
            current = next?;
            tick(p);
            pace.hold(start, p.done).await;
        }
        if outstanding(store, kek_slot(keys.current())).await? <= p.failed {
            break;
        }
    }
    Ok(p)
}

/// Where a re-encryption is, so a rerun continues after the last finished
/// page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// The collection.
    pub collection: String,
    /// The last record id of the last finished page.
    pub after: Option<String>,
    /// Records re-encrypted so far.
    pub done: u64,
}

/// Gives records of `collection` (every one after `cursor.after`, or only
/// `record`) new DEKs and reseals their fields; calls `tick` with the cursor
/// after each page (the caller persists it). One `record_reencrypted` event
/// per record, with field names only, is durable before its page changes.
#[allow(clippy::too_many_arguments, reason = "one call site per caller")]
pub async fn reencrypt(
    store: &dyn Store,
    keys: &dyn KeyProvider,
    recorder: &dyn Recorder,
    who: &Who,
    record: Option<&str>,
    mut cursor: Cursor,
    pace: Pace,
    tick: &mut (dyn FnMut(&Cursor, Progress) + Send),
) -> Result<Progress, RekeyError> {
    let mut p = Progress {
        total: match record {
            Some(_) => 1,
            None => store.count_records(&cursor.collection).await?,
        },
        done: cursor.done,
        failed: 0,
    };
    let start = Instant::now();
    let mut finished = 0u64;
    loop {
        let page: Vec<StoredRecord> = match record {
            Some(id) if cursor.after.is_none() => {
                let r = store
                    .get_record(&cursor.collection, id)
                    .await?
                    .filter(|r| r.kek_version != SHREDDED_KEK_VERSION)
                    .ok_or_else(|| RekeyError::NoRecord(id.to_owned()))?;
                vec![r]
            }
            Some(_) => Vec::new(),
            None => {
                store
                    .list_records(&cursor.collection, cursor.after.as_deref(), pace.page)
                    .await?
            }
        };
        let Some(last) = page.last() else { break };
        let last_id = last.id.clone();
        let mut reseals = Vec::with_capacity(page.len());
        let mut events = Vec::with_capacity(page.len());
        for rec in page {
            if rec.kek_version == SHREDDED_KEK_VERSION {
                continue;
            }
            match reseal_one(keys, &rec).await {
                Ok(r) => {
                    let mut e = who.event(
                        jiff::Timestamp::now(),
                        "record_reencrypted",
                        crate::vault::resource_of(&rec.collection, &rec.id),
                        phivault_audit::Outcome::Success,
                    );
                    e.patient_id = rec.patient_id.clone();
                    e.fields = rec.sealed.keys().cloned().collect();
                    events.push(e);
                    reseals.push(r);
                }
                Err(RekeyError::Crypto) => return Err(RekeyError::Crypto),
                Err(_) => p.failed += 1,
            }
        }
        if !events.is_empty() {
            recorder.record(events).await.map_err(RekeyError::Audit)?;
        }
        let n = store.reseal_records(reseals).await?;
        p.done += n;
        finished += n;
        cursor.after = Some(last_id);
        cursor.done = p.done;
        tick(&cursor, p);
        pace.hold(start, finished).await;
    }
    Ok(p)
}

/// A record unwrapped, opened and resealed under a fresh DEK.
async fn reseal_one(keys: &dyn KeyProvider, rec: &StoredRecord) -> Result<Reseal, RekeyError> {
    let skip = || RekeyError::NoRecord(rec.id.clone());
    let wrapped = WrappedDek::decode(&rec.wrapped_dek).map_err(|_| skip())?;
    let old = keys
        .unwrap(&wrapped, &rec.collection, &rec.id)
        .await
        .map_err(|_| skip())?;
    let old = RecordCipher::new(&old).map_err(|_| RekeyError::Crypto)?;
    let dek = DataKey::generate().map_err(|_| RekeyError::Crypto)?;
    let new = RecordCipher::new(&dek).map_err(|_| RekeyError::Crypto)?;
    let mut sealed = BTreeMap::new();
    for (name, ct) in &rec.sealed {
        let ctx = FieldContext {
            collection: &rec.collection,
            record_id: &rec.id,
            field: name,
        };
        // The plaintext lives only in this zeroizing value.
        let value = old.open(ctx, ct).map_err(|_| skip())?;
        sealed.insert(
            name.clone(),
            new.seal(ctx, &value).map_err(|_| RekeyError::Crypto)?,
        );
    }
    let w = keys
        .wrap(&dek, &rec.collection, &rec.id)
        .await
        .map_err(|_| RekeyError::Crypto)?;
    Ok(Reseal {
        collection: rec.collection.clone(),
        id: rec.id.clone(),
        expected_updated_at: rec.updated_at,
        old_wrapped: rec.wrapped_dek.clone(),
        new_wrapped: w.encode(),
        kek_version: kek_slot(w.kek),
        sealed: StoredRecord::encode_sealed_fields(&sealed),
    })
}

/// Rotates when the current KEK is older than the period, then rewraps at
/// a gentle pace; also finishes a rewrap a crash interrupted. Checks hourly.
pub fn spawn_schedule(
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    audit: Arc<crate::audit::AuditLog>,
    period_days: u32,
) {
    let (keys, audit) = (Arc::downgrade(&keys), Arc::downgrade(&audit));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let (Some(k), Some(a)) = (keys.upgrade(), audit.upgrade()) else {
                return;
            };
            if let Err(e) = scheduled(store.as_ref(), k.as_ref(), &a, period_days).await {
                tracing::error!(error = %e, "key rotation schedule: run failed");
            }
        }
    });
}

/// One run of the schedule (public for tests).
pub async fn scheduled(
    store: &dyn Store,
    keys: &dyn KeyProvider,
    audit: &crate::audit::AuditLog,
    period_days: u32,
) -> Result<Option<Progress>, RekeyError> {
    let who = Who::operator("scheduler");
    let now = jiff::Timestamp::now();
    let due = crate::providers::current_age_days(keys, now)
        .await
        .is_some_and(|d| d >= i64::from(period_days));
    if due {
        // Durable intent first; then the rotation (the keyring serializes
        // rotations across processes).
        let ev = |action: &str, r: String| {
            who.event(
                jiff::Timestamp::now(),
                action,
                r,
                phivault_audit::Outcome::Success,
            )
        };
        audit
            .record(vec![ev("key_rotation_started", "kek".into())])
            .await
            .map_err(RekeyError::Audit)?;
        let kek = keys
            .rotate(now)
            .await
            .map_err(|e| RekeyError::Keys(e.to_string()))?;
        audit
            .record(vec![ev("key_rotated", format!("kek/{}", kek.version))])
            .await
            .map_err(RekeyError::Audit)?;
    }
    if outstanding(store, kek_slot(keys.current())).await? == 0 {
        return Ok(None);
    }
    let pace = Pace {
        page: 500,
        max_rate: Some(5_000),
    };
    let p = rewrap(store, keys, pace, &mut |_| {}).await?;
    let mut e = who.event(
        jiff::Timestamp::now(),
        "dek_rewrapped",
        format!("kek/{}", keys.current().version),
        phivault_audit::Outcome::Success,
    );
    e.count = Some(p.done);
    audit.record(vec![e]).await.map_err(RekeyError::Audit)?;
    Ok(Some(p))
}
