//! What `incident status`, `incident affected` and `incident report` print.

use std::path::Path;

use phivault_breach::incident::{Deadline, Incident, render_json, render_text};
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
    let disclosed = c.list.patients.values().filter(|p| p.disclosed).count();
    out::line(format_args!(
        "{} patient(s) affected ({} disclosed, {} attempted only), from a verified log of {} events",
        c.list.patients.len(),
        disclosed,
        c.list.patients.len() - disclosed,
        c.log_size
    ));
    for (state, n) in &per_state {
        out::line(format_args!("  {state}: {n}"));
    }
    let flags = c.list.notification_flags(|p| states.get(p).cloned());
    out::line(format_args!(
        "HHS notice with the individual notices (500 or more): {}; media notice (more than 500 in one state): {}",
        if flags.hhs_immediate { "required" } else { "not required" },
        if flags.media { "required" } else { "not required" }
    ));
    for (id, p) in &c.list.patients {
        out::line(format_args!(
            "{id}  {}  fields: {}  first {}  last {}  events {}",
            if p.disclosed { "disclosed" } else { "attempted" },
            p.fields.iter().cloned().collect::<Vec<_>>().join(","),
            phivault_server::clock::rfc3339_micros(p.first_at_micros),
            phivault_server::clock::rfc3339_micros(p.last_at_micros),
            p.events
        ));
    }
}

/// `incident report`: the four-factor assessment, Markdown or HTML by the
/// output file's extension.
pub fn risk(
    i: &Incident,
    c: &Computed,
    lockdowns: &[LockdownRow],
    deadlines: &[Deadline],
    out_path: &Path,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let inputs = phivault_breach::report::RiskInputs::gather(i, &c.list, lockdowns_of(lockdowns, i), deadlines);
    match out_path.extension().and_then(|e| e.to_str()) {
        Some("html") => Ok(inputs.to_html()),
        Some("md") => Ok(inputs.to_markdown()),
        _ => Err("--out must end in .md or .html".into()),
    }
}

fn lockdowns_of(rows: &[LockdownRow], i: &Incident) -> Vec<phivault_breach::lockdown::Lockdown> {
    rows.iter()
        .map(phivault_server::breach::lockdown_of)
        .filter(|l| l.incident_id.as_deref() == Some(i.id.as_str()) || l.incident_id.is_none())
        .collect()
}
