//! Lifting a lockdown, optionally with two different responders.

use serde::{Deserialize, Serialize};

use super::{Lockdown, Scope};
use crate::util::MINUTE;

/// How a lockdown may be lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestorePolicy {
    /// A second, different responder must confirm the first one's request.
    pub second_responder: bool,
    /// A pending request older than this no longer counts (1..=1440
    /// minutes; default 60): approval is for the situation as it is now.
    pub approval_ttl_minutes: u32,
}

impl Default for RestorePolicy {
    fn default() -> Self {
        Self {
            second_responder: true,
            approval_ttl_minutes: 60,
        }
    }
}

/// One responder asking to lift a lockdown (the server has already checked
/// that `by` is an incident responder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    /// The lockdown to lift.
    pub lockdown_id: String,
    /// The requesting user.
    pub by: String,
    /// The token the request came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When, µs since the epoch.
    pub at_micros: i64,
}

/// The outcome of a lift request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiftDecision {
    /// Lift the lockdown now.
    Lift,
    /// Record this request as pending; a second responder must confirm.
    AwaitSecond,
    /// Refuse this request (any pending request stays as it was).
    Refused(LiftRefusal),
}

/// Why a lift request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LiftRefusal {
    /// The request names another lockdown.
    #[error("the request names another lockdown")]
    WrongLockdown,
    /// The requester (or their token) is what the lockdown shuts out.
    #[error("the subject of a lockdown cannot lift it")]
    Subject,
    /// The pending request is the requester's own.
    #[error("a second, different responder must confirm")]
    SamePerson,
}

impl RestorePolicy {
    /// Checks the values; names the bad field.
    pub fn validate(&self) -> Result<(), super::LockdownError> {
        if (1..=1440).contains(&self.approval_ttl_minutes) {
            Ok(())
        } else {
            Err(super::LockdownError {
                field: "approval_ttl_minutes",
                reason: "must be between 1 and 1440 minutes",
            })
        }
    }

    /// Decides `request` given the `pending` request recorded earlier (if
    /// any). User ids are compared ignoring ASCII case, so two spellings of
    /// one id never count as two people.
    pub fn decide(
        &self,
        lockdown: &Lockdown,
        pending: Option<&LiftRequest>,
        request: &LiftRequest,
    ) -> LiftDecision {
        if request.lockdown_id != lockdown.id {
            return LiftDecision::Refused(LiftRefusal::WrongLockdown);
        }
        let is_subject = match &lockdown.scope {
            Scope::User(u) => u.eq_ignore_ascii_case(&request.by),
            Scope::Token(t) => request.token.as_deref() == Some(t.as_str()),
            _ => false,
        };
        if is_subject {
            return LiftDecision::Refused(LiftRefusal::Subject);
        }
        if !self.second_responder {
            return LiftDecision::Lift;
        }
        let ttl = i64::from(self.approval_ttl_minutes).saturating_mul(MINUTE);
        let live = pending.filter(|p| {
            p.lockdown_id == lockdown.id
                && p.at_micros >= lockdown.created_at_micros
                && p.at_micros <= request.at_micros
                && request.at_micros.saturating_sub(p.at_micros) <= ttl
        });
        match live {
            None => LiftDecision::AwaitSecond,
            Some(p) if p.by.eq_ignore_ascii_case(&request.by) => {
                LiftDecision::Refused(LiftRefusal::SamePerson)
            }
            Some(_) => LiftDecision::Lift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockdown(scope: &str) -> Lockdown {
        Lockdown {
            id: "ld-1".into(),
            scope: scope.parse().unwrap(),
            reason: "honey record touched".into(),
            incident_id: None,
            created_by: "detector".into(),
            created_at_micros: 1_000,
        }
    }

    fn ask(by: &str, at: i64) -> LiftRequest {
        LiftRequest {
            lockdown_id: "ld-1".into(),
            by: by.into(),
            token: Some("pv_00000000000000aa".into()),
            at_micros: at,
        }
    }

    #[test]
    fn two_different_responders_lift_one_cannot() {
        let p = RestorePolicy::default();
        assert_eq!(p.validate(), Ok(()));
        let zero = RestorePolicy {
            approval_ttl_minutes: 0,
            ..p
        };
        assert_eq!(zero.validate().unwrap_err().field, "approval_ttl_minutes");
        let l = lockdown("vault");
        assert_eq!(
            p.decide(&l, None, &ask("alice", 2_000)),
            LiftDecision::AwaitSecond
        );
        let first = ask("alice", 2_000);
        assert_eq!(
            p.decide(&l, Some(&first), &ask("bob", 3_000)),
            LiftDecision::Lift
        );
        assert_eq!(
            p.decide(&l, Some(&first), &ask("alice", 3_000)),
            LiftDecision::Refused(LiftRefusal::SamePerson)
        );
        assert_eq!(
            p.decide(&l, Some(&first), &ask("ALICE", 3_000)),
            LiftDecision::Refused(LiftRefusal::SamePerson),
            "case variants are one person"
        );
    }

    #[test]
    fn stale_or_foreign_pending_requests_do_not_count() {
        let p = RestorePolicy::default();
        let l = lockdown("vault");
        let first = ask("alice", 2_000);
        let late = 2_000 + 61 * MINUTE;
        assert_eq!(
            p.decide(&l, Some(&first), &ask("bob", late)),
            LiftDecision::AwaitSecond
        );
        let before = ask("alice", 500);
        assert_eq!(
            p.decide(&l, Some(&before), &ask("bob", 3_000)),
            LiftDecision::AwaitSecond
        );
        let other = LiftRequest {
            lockdown_id: "ld-2".into(),
            ..ask("alice", 2_000)
        };
        assert_eq!(
            p.decide(&l, Some(&other), &ask("bob", 3_000)),
            LiftDecision::AwaitSecond
        );
        assert_eq!(
            p.decide(&l, None, &other),
            LiftDecision::Refused(LiftRefusal::WrongLockdown)
        );
    }

    #[test]
    fn the_subject_never_lifts_and_one_person_suffices_when_configured() {
        let single = RestorePolicy {
            second_responder: false,
            ..RestorePolicy::default()
        };
        let l = lockdown("user:mallory");
        assert_eq!(
            single.decide(&l, None, &ask("Mallory", 2_000)),
            LiftDecision::Refused(LiftRefusal::Subject)
        );
        assert_eq!(
            single.decide(&l, None, &ask("alice", 2_000)),
            LiftDecision::Lift
        );
        let t = lockdown("token:pv_00000000000000aa");
        assert_eq!(
            RestorePolicy::default().decide(&t, None, &ask("alice", 2_000)),
            LiftDecision::Refused(LiftRefusal::Subject)
        );
    }
}
