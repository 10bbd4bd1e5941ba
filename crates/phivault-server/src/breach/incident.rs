//! Incidents in the store: declared, then one step at a time, each step
//! also an audit event (`incident_step`), so the timeline is as
//! tamper-evident as the accesses it is about.

use phivault_audit::{Event, Outcome};
use phivault_breach::incident::{Incident, Step, StepKind};
use phivault_breach::rules::Severity;
use phivault_store::{ErrorKind, IncidentRow, Store, StoreError};

use crate::audit::Who;

/// Why an incident operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such incident.
    #[error("no incident with this id")]
    NotFound,
    /// The summary or another text is unusable.
    #[error("{0}")]
    Invalid(String),
    /// The stored document does not parse.
    #[error("the stored incident is damaged")]
    Damaged,
}

/// A unit enum value from its wire name (`high`, `compliance_alerted`).
pub fn parse_name<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// An acting user as an incident record spells it: letters, digits and
/// `.-_@+` (`cli:root` becomes `cli.root`).
pub fn actor_id(user: &str) -> String {
    let s: String = user
        .chars()
        .take(128)
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@+".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    if s.is_empty() { "unknown".into() } else { s }
}

fn step_name(k: &StepKind) -> String {
    match serde_json::to_value(k) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn event_for(by: &Who, now: jiff::Timestamp, id: &str, step: &Step) -> Event {
    let mut e = by.event(
        now,
        "incident_step",
        format!("/v1/incidents/{id}"),
        Outcome::Success,
    );
    e.reason = Some(step_name(&step.kind));
    e
}

fn row_of(i: &Incident, status: &str, updated_at: i64) -> Result<IncidentRow, IncidentError> {
    Ok(IncidentRow {
        id: i.id.clone(),
        severity: i.severity.as_str().to_owned(),
        summary: i.summary.clone(),
        status: status.to_owned(),
        declared_by: i.declared_by.clone(),
        declared_at: i.declared_at_micros,
        updated_at,
        data: serde_json::to_string(i).map_err(|_| IncidentError::Damaged)?,
    })
}

/// Opens an incident; returns it and its `incident_step` (declared) event.
/// The summary is checked by the domain and scrubbed of anything the PHI
/// detectors match before it is stored.
pub async fn declare(
    store: &dyn Store,
    severity: Severity,
    summary: &str,
    by: &Who,
    now: jiff::Timestamp,
) -> Result<(Incident, Event), IncidentError> {
    let at = crate::clock::micros(now);
    let summary = scrub(summary);
    let id: String = format!("inc_{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(16)
        .collect();
    let incident = Incident::declare(&id, severity, &summary, at, &actor_id(&by.user))
        .map_err(|e| IncidentError::Invalid(e.to_string()))?;
    store
        .insert_incident(row_of(&incident, "open", at)?)
        .await?;
    let step = incident
        .steps
        .first()
        .cloned()
        .ok_or(IncidentError::Damaged)?;
    let e = event_for(by, now, &incident.id, &step);
    Ok((incident, e))
}

/// Loads an incident.
pub async fn load(store: &dyn Store, id: &str) -> Result<(Incident, IncidentRow), IncidentError> {
    let row = store
        .get_incident(id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    let i: Incident = serde_json::from_str(&row.data).map_err(|_| IncidentError::Damaged)?;
    Ok((i, row))
}

/// Adds a step (compare-and-swap, retried on a concurrent change); returns
/// the updated incident and the step's event.
pub async fn add_step(
    store: &dyn Store,
    id: &str,
    kind: StepKind,
    detail: &str,
    by: &Who,
    now: jiff::Timestamp,
) -> Result<(Incident, Event), IncidentError> {
    let detail = scrub(detail);
    for _ in 0..8 {
        let (mut incident, row) = load(store, id).await?;
        let at = crate::clock::micros(now).max(row.updated_at + 1);
        // Steps stay in time order even when clocks disagree slightly.
        let last = incident.steps.last().map_or(i64::MIN, |s| s.at_micros);
        let step = Step {
            at_micros: crate::clock::micros(now).max(last),
            by: actor_id(&by.user),
            kind: kind.clone(),
            detail: detail.clone(),
        };
        incident
            .record(step.clone())
            .map_err(|e| IncidentError::Invalid(e.to_string()))?;
        let status = if matches!(kind, StepKind::Closed) {
            "closed"
        } else {
            row.status.as_str()
        };
        let new = row_of(&incident, status, at)?;
        match store
            .update_incident(id, &new.status, &new.data, at, row.updated_at)
            .await
        {
            Ok(()) => return Ok((incident, event_for(by, now, id, &step))),
            Err(e) if e.kind() == ErrorKind::Conflict => continue,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(IncidentError::NotFound),
            Err(e) => return Err(e.into()),
        }
    }
    Err(IncidentError::Invalid(
        "the incident kept changing; try again".into(),
    ))
}

/// Removes anything the PHI detectors match from operator text.
pub fn scrub(text: &str) -> String {
    static SCRUBBER: std::sync::OnceLock<phivault_scan::Scrubber> = std::sync::OnceLock::new();
    SCRUBBER
        .get_or_init(|| {
            phivault_scan::Scrubber::new(std::sync::Arc::new(phivault_scan::Detectors::new()))
        })
        .scrub(text)
        .into_owned()
}
