//! Isolate and restore: the containment operations shared by the API, the
//! detector (automatic isolation) and `phivault incident isolate|restore`.
//!
//! Each returns the audit event to record; the caller records it (the
//! server through its log, the CLI through the audit outbox).

use phivault_audit::{Event, Outcome};
use phivault_breach::lockdown::{LiftDecision, LiftRefusal, LiftRequest, RestorePolicy, Scope};
use phivault_store::{LockdownRow, Store, StoreError, TokenKind};

use crate::audit::Who;

/// Why a containment operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContainError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such lockdown, or already lifted.
    #[error("no active lockdown with this id")]
    NotFound,
    /// The reason text is unusable.
    #[error("`reason` must be 1-200 printable characters")]
    Reason,
    /// The restore policy refuses this responder.
    #[error("{0}")]
    Refused(LiftRefusal),
}

/// What an isolation did.
#[derive(Debug, Clone)]
pub struct Isolated {
    /// The stored lockdown.
    pub row: LockdownRow,
    /// Sessions revoked.
    pub sessions_revoked: u64,
    /// The `lockdown_applied` event.
    pub event: Event,
}

/// Checks an operator-supplied reason (kept short and printable; it is
/// recorded, so it must not be a place to paste PHI: the API scrubs it).
pub fn check_reason(reason: &str) -> Result<(), ContainError> {
    let n = reason.chars().count();
    if n == 0 || n > 200 || reason.chars().any(char::is_control) {
        return Err(ContainError::Reason);
    }
    Ok(())
}

/// Applies a lockdown: stores it (every process sees it within a second),
/// revokes the sessions it covers, and returns the event to record.
pub async fn isolate(
    store: &dyn Store,
    scope: &Scope,
    reason: &str,
    incident_id: Option<String>,
    by: &Who,
    now: jiff::Timestamp,
) -> Result<Isolated, ContainError> {
    check_reason(reason)?;
    let at = crate::clock::micros(now);
    let row = LockdownRow {
        id: format!("ld_{}", uuid::Uuid::new_v4().simple()),
        scope: scope.to_string(),
        reason: reason.to_owned(),
        incident_id: incident_id.clone(),
        created_by: by.user.clone(),
        created_at: at,
        lift_requested_by: None,
        lift_requested_at: None,
        lifted_by: None,
        lifted_at: None,
    };
    store.insert_lockdown(row.clone()).await?;
    let sessions_revoked = match scope {
        Scope::User(user) => store.revoke_sessions(user, at).await?,
        Scope::Token(public) => {
            let id = public.strip_prefix("pv_").unwrap_or(public);
            match store.get_token(id).await? {
                Some(t) if t.kind == TokenKind::Session && !t.disabled => {
                    u64::from(store.disable_token(id).await?)
                }
                _ => 0,
            }
        }
        _ => 0,
    };
    let mut event = by.event(
        now,
        "lockdown_applied",
        format!("/v1/lockdown/{}", row.id),
        Outcome::Success,
    );
    event.reason = Some(scope_kind(scope).to_owned());
    event.flags = incident_id
        .into_iter()
        .map(|i| format!("incident:{i}"))
        .collect();
    event.count = Some(sessions_revoked);
    Ok(Isolated {
        row,
        sessions_revoked,
        event,
    })
}

/// The kind of a scope, for events (never its value: that is in the
/// resource's lockdown id).
pub fn scope_kind(scope: &Scope) -> &'static str {
    match scope {
        Scope::Vault => "vault",
        Scope::User(_) => "user",
        Scope::Token(_) => "token",
        Scope::Ip(_) => "ip",
        Scope::Collection(_) => "collection",
    }
}

/// What a restore request did.
#[derive(Debug, Clone)]
pub enum Restored {
    /// The lockdown is lifted.
    Lifted(Event),
    /// Recorded as the first of two responders; another must confirm.
    Pending(Event),
}

/// Lifts a lockdown, or records the first of the two responders a
/// two-person restore needs (the domain's [`RestorePolicy`] decides: the
/// same responder twice never counts as two, and the subject of a user or
/// token lockdown can never lift it).
pub async fn restore(
    store: &dyn Store,
    id: &str,
    by: &Who,
    now: jiff::Timestamp,
    requires_two: bool,
) -> Result<Restored, ContainError> {
    let at = crate::clock::micros(now);
    let row = store
        .get_lockdown(id)
        .await?
        .filter(|r| r.lifted_at.is_none())
        .ok_or(ContainError::NotFound)?;
    let lockdown = super::lockdown_of(&row);
    let pending = row
        .lift_requested_by
        .clone()
        .zip(row.lift_requested_at)
        .map(|(who, when)| LiftRequest {
            lockdown_id: row.id.clone(),
            by: who,
            token: None,
            at_micros: when,
        });
    let request = LiftRequest {
        lockdown_id: row.id.clone(),
        by: by.user.clone(),
        token: by.token.clone(),
        at_micros: at,
    };
    let policy = RestorePolicy {
        second_responder: requires_two,
        approval_ttl_minutes: u32::try_from(phivault_store::LIFT_REQUEST_TTL_MICROS / 60_000_000)
            .unwrap_or(60),
    };
    let resource = format!("/v1/lockdown/{id}");
    match policy.decide(&lockdown, pending.as_ref(), &request) {
        LiftDecision::Refused(why) => Err(ContainError::Refused(why)),
        LiftDecision::AwaitSecond => {
            if row.lift_requested_by.is_none() {
                store.request_lift(id, &by.user, at).await?;
            } else {
                // The first approval expired: this one replaces it.
                store.renew_lift_request(id, &by.user, at).await?;
            }
            let e = by.event(now, "lockdown_lift_requested", resource, Outcome::Success);
            Ok(Restored::Pending(e))
        }
        LiftDecision::Lift => {
            if !store.lift_lockdown(id, &by.user, at).await? {
                return Err(ContainError::NotFound);
            }
            let mut e = by.event(now, "lockdown_lifted", resource, Outcome::Success);
            e.flags = row
                .lift_requested_by
                .iter()
                .map(|first| format!("requested_by:{first}"))
                .collect();
            Ok(Restored::Lifted(e))
        }
    }
}
