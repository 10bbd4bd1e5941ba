//! What `incident status`, `incident affected` and `incident report` print.

use std::path::Path;

use phivault_breach::affected::Actor;
use phivault_breach::incident::{Incident, render_json, render_text};
use phivault_store::{LockdownRow, Store};

use super::affected::Computed;
use crate::out::{self, CliResult};

/// `incident status`: one incident's table, or a line per incident.
pub async fn status(
    store: &dyn Store,
    id: Option<&str>,
    format: &str,
    now: jiff::Timestamp,
) -> CliResult {
    let now = now.as_microsecond();
    if format != "text" && format != "json" {
        return Err("--format must be `text` or `json`".into());
    }
    let Some(id) = id else {
        let rows = store.list_incidents().await?;
        if format == "json" {
            let all: Vec<serde_json::Value> = rows
                .iter()
                .filter_map(|r| serde_json::from_str::<Incident>(&r.data).ok())
                .map(|i| render_json(&i, now))
                .collect();
            out::line(serde_json::to_string_pretty(&all)?);
            return Ok(());
        }
        if rows.is_empty() {
            out::line("no incident");
        }
        for r in rows {
            out::line(format_args!(
                "{}  {}  {}  declared {} by {}  {}",
                r.id,
                r.status,
                r.severity,
                phivault_server::clock::rfc3339_micros(r.declared_at),
                r.declared_by,
                r.summary
            ));
        }
        return Ok(());
    };
    let (i, _) = phivault_server::breach::incident::load(store, id).await?;
    if format == "json" {
        out::line(serde_json::to_string_pretty(&render_json(&i, now))?);
    } else {
        out::line(render_text(&i, now).trim_end());
    }
    Ok(())
}

/// `incident affected`: counts, the 500 thresholds, and one line per
/// patient (ids, field names, times; never values).
pub fn print_affected(c: &Computed) {
    let states = c.states.clone();
    let per_state = c.list.per_state(|p| states.get(p).cloned());
    let compromised = c.list.compromised().count();
    out::line(format_args!(
        "{} patient(s) affected ({} compromised: disclosed or written; {} attempted only), from a verified log of {} events",
        c.list.entries.len(),
        compromised,
        c.list.entries.len() - compromised,
        c.log_size
    ));
    if c.list.unattributed.events > 0 {
        out::line(format_args!(
            "  plus {} search/export event(s) returning {} record(s) without naming them",
            c.list.unattributed.events, c.list.unattributed.records
        ));
    }
    for (state, n) in &per_state {
        out::line(format_args!("  {state}: {n}"));
    }
    let n = c.list.notifications(|p| states.get(p).cloned());
    out::line(format_args!(
        "individuals to notify: {}; HHS notice with the individual notices (500 or more): {}; media notice (more than 500 in one state): {}",
        n.individuals,
        if n.hhs_immediate {
            "required"
        } else {
            "not required"
        },
        if n.media_states.is_empty() {
            "not required".to_owned()
        } else {
            format!("required in {}", n.media_states.join(", "))
        }
    ));
    let t =
        |v: Option<i64>| v.map_or_else(|| "-".to_owned(), phivault_server::clock::rfc3339_micros);
    for (id, p) in &c.list.entries {
        out::line(format_args!(
            "{id}  {}  fields: {}  first {}  last {}  events {}",
            p.access().as_str(),
            p.fields.iter().cloned().collect::<Vec<_>>().join(","),
            t(p.first_access_micros),
            t(p.last_access_micros),
            p.events
        ));
    }
}

/// `incident report`: the four-factor assessment filled with what the
/// system knows, Markdown or HTML by the output file's extension.
pub async fn risk(
    store: &dyn Store,
    i: &Incident,
    c: &Computed,
    actor: &Actor,
    lockdowns: &[LockdownRow],
    out_path: &Path,
    now_micros: i64,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    use phivault_breach::report::{Acquisition, Mitigation, Nature, Person, RiskInputs};
    let (actor_scope, user) = match actor {
        Actor::User(u) => (format!("user:{u}"), Some(u.clone())),
        Actor::Token(t) => (format!("token:{t}"), None),
        Actor::Ip(n) => (format!("ip:{n}"), None),
    };
    let row = match &user {
        Some(u) => store.get_user(u).await?,
        None => None,
    };
    let related: Vec<&LockdownRow> = lockdowns
        .iter()
        .filter(|l| l.scope == actor_scope || l.incident_id.as_deref() == Some(i.id.as_str()))
        .collect();
    let inputs = RiskInputs {
        incident: i.clone(),
        now_micros,
        nature: Nature::from_list(&c.list),
        person: Person {
            actor: actor_scope,
            internal: row.as_ref().map(|_| true),
            role: row.as_ref().map(|u| u.roles.join(", ")),
            obligated_recipient: false,
        },
        acquisition: Acquisition::from_list(&c.list),
        mitigation: Mitigation {
            detected_at_micros: None,
            isolated_at_micros: related.iter().map(|l| l.created_at).min(),
            lockdowns: related.iter().map(|l| l.scope.clone()).collect(),
            ..Mitigation::default()
        },
    };
    match out_path.extension().and_then(|e| e.to_str()) {
        Some("html") => Ok(inputs.to_html()),
        Some("md") => Ok(inputs.to_markdown()),
        _ => Err("--out must end in .md or .html".into()),
    }
}
