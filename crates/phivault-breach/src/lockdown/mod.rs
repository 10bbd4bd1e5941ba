//! Lockdowns: what is shut ([`Scope`]), the per-request decision
//! ([`LockdownSet::check`]) and the two-person restore rule
//! ([`RestorePolicy`]).
//!
//! Incident responders keep access under `vault` and `collection` scopes
//! (someone must investigate), but a `user`, `token` or `ip` lockdown binds
//! them too: a responder's own account may be the compromised one. A
//! lockdown never expires by itself; only a restore lifts it.

mod restore;
mod scope;
mod set;

use serde::{Deserialize, Serialize};

pub use restore::{LiftDecision, LiftRefusal, LiftRequest, RestorePolicy};
pub use scope::{Scope, ScopeError};
pub(crate) use scope::{normalize as normalize_net, valid_user as valid_user_id};
pub use set::{LockdownSet, RequestFacts};

use crate::util::{ident, printable_line};

/// Longest accepted reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// One lockdown, as stored by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockdown {
    /// Its id (1-64 of `[A-Za-z0-9._:@-]`).
    pub id: String,
    /// What it covers.
    pub scope: Scope,
    /// Why (operator text or a rule code; no PHI, the server scrubs it).
    pub reason: String,
    /// The incident it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// Who imposed it (a user id, or `detector` for automatic isolation).
    pub created_by: String,
    /// When, µs since the epoch.
    pub created_at_micros: i64,
}

/// A lockdown record is not acceptable; names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("lockdown `{field}` {reason}")]
pub struct LockdownError {
    /// The field.
    pub field: &'static str,
    /// What is expected.
    pub reason: &'static str,
}

impl Lockdown {
    /// Checks the text fields (the scope is valid by construction).
    pub fn validate(&self) -> Result<(), LockdownError> {
        let err = |field, reason| Err(LockdownError { field, reason });
        if !ident(&self.id, 64) {
            return err("id", "must be 1-64 letters, digits or `._:@-`");
        }
        let reason = self.reason.trim();
        if reason.is_empty()
            || self.reason.chars().count() > MAX_REASON_CHARS
            || !printable_line(&self.reason)
        {
            return err("reason", "must be one printable line of 1-500 characters");
        }
        if let Some(i) = &self.incident_id
            && !ident(i, 64)
        {
            return err("incident_id", "must be 1-64 letters, digits or `._:@-`");
        }
        if !scope::valid_user(&self.created_by) {
            return err("created_by", "must be a user id");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lockdown {
        Lockdown {
            id: "ld-1".into(),
            scope: Scope::Vault,
            reason: "ransomware suspected".into(),
            incident_id: Some("inc-2026-001".into()),
            created_by: "ciso@example.org".into(),
            created_at_micros: 1,
        }
    }

    #[test]
    fn lockdowns_round_trip_as_json_and_validate_their_text() {
        let l = sample();
        assert_eq!(l.validate(), Ok(()));
        let json = serde_json::to_string(&l).unwrap();
        assert!(json.contains(r#""scope":"vault""#));
        assert_eq!(serde_json::from_str::<Lockdown>(&json).unwrap(), l);
        let field = |f: fn(&mut Lockdown)| {
            let mut l = sample();
            f(&mut l);
            l.validate().map_err(|e| e.field)
        };
        assert_eq!(field(|l| l.id = "a b".into()), Err("id"));
        assert_eq!(field(|l| l.reason = "  ".into()), Err("reason"));
        assert_eq!(field(|l| l.reason = "line\nbreak".into()), Err("reason"));
        assert_eq!(field(|l| l.reason = "x".repeat(501)), Err("reason"));
        assert_eq!(
            field(|l| l.incident_id = Some(String::new())),
            Err("incident_id")
        );
        assert_eq!(field(|l| l.created_by = "a b".into()), Err("created_by"));
        let bad = json.replace("vault", "galaxy");
        assert!(serde_json::from_str::<Lockdown>(&bad).is_err());
    }
}
