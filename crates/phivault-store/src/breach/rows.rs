//! Rows of the breach-containment tables. Free text (reasons, summaries,
//! incident documents, alert payloads) may mention clinical facts, and an
//! alert destination may embed a webhook secret: none of it is printed by
//! `Debug`.

use std::fmt;

/// A lockdown: a scope denied access until lifted.
#[derive(Clone, PartialEq, Eq)]
pub struct LockdownRow {
    /// Lockdown id.
    pub id: String,
    /// What is locked: `vault:`, `user:ID`, `token:ID`, `ip:CIDR` or
    /// `collection:NAME`, stored as given.
    pub scope: String,
    /// Why (free text; never logged).
    pub reason: String,
    /// The incident it belongs to, if any.
    pub incident_id: Option<String>,
    /// Who imposed it.
    pub created_by: String,
    /// When, microseconds since the Unix epoch.
    pub created_at: i64,
    /// Who asked for it to be lifted.
    pub lift_requested_by: Option<String>,
    /// When the lift was requested, microseconds.
    pub lift_requested_at: Option<i64>,
    /// Who lifted it.
    pub lifted_by: Option<String>,
    /// When it was lifted, microseconds; `None` while active.
    pub lifted_at: Option<i64>,
}

/// A declared incident.
#[derive(Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// Incident id.
    pub id: String,
    /// Severity, as the server names it.
    pub severity: String,
    /// Summary (free text; never logged).
    pub summary: String,
    /// Status, as the server names it.
    pub status: String,
    /// Who declared it.
    pub declared_by: String,
    /// When, microseconds since the Unix epoch.
    pub declared_at: i64,
    /// Last change, microseconds (the compare-and-swap token).
    pub updated_at: i64,
    /// A JSON document owned by the server, stored and returned verbatim.
    pub data: String,
}

/// An alert in the durable outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Alert id (receivers deduplicate by it).
    pub id: String,
    /// Where to deliver it (may embed a secret; never logged).
    pub destination: String,
    /// The body to deliver (never logged).
    pub payload: String,
    /// When queued, microseconds since the Unix epoch.
    pub created_at: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this time, microseconds.
    pub next_attempt_at: i64,
    /// When delivered, microseconds; `None` while queued.
    pub delivered_at: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl fmt::Debug for LockdownRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockdownRow")
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("incident_id", &self.incident_id)
            .field("created_at", &self.created_at)
            .field("lifted_at", &self.lifted_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for IncidentRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncidentRow")
            .field("id", &self.id)
            .field("severity", &self.severity)
            .field("status", &self.status)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AlertRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertRow")
            .field("id", &self.id)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("delivered_at", &self.delivered_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_out_free_text_and_destinations() {
        let l = LockdownRow {
            id: "l1".into(),
            scope: "vault:".into(),
            reason: "SECRET-REASON".into(),
            incident_id: None,
            created_by: "a".into(),
            created_at: 1,
            lift_requested_by: None,
            lift_requested_at: None,
            lifted_by: None,
            lifted_at: None,
        };
        let i = IncidentRow {
            id: "i1".into(),
            severity: "high".into(),
            summary: "SECRET-SUMMARY".into(),
            status: "open".into(),
            declared_by: "a".into(),
            declared_at: 1,
            updated_at: 1,
            data: "{\"SECRET\":1}".into(),
        };
        let a = AlertRow {
            id: "a1".into(),
            destination: "https://hooks.example/SECRET".into(),
            payload: "SECRET-PAYLOAD".into(),
            created_at: 1,
            attempts: 0,
            next_attempt_at: 1,
            delivered_at: None,
            last_error: Some("SECRET-ERROR".into()),
        };
        let out = format!("{l:?} {i:?} {a:?}");
        assert!(!out.contains("SECRET"), "{out}");
        assert!(out.contains("l1") && out.contains("i1") && out.contains("a1"));
    }
}
