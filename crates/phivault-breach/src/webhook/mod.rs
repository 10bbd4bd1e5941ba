//! Alert webhooks: the payload, its HMAC-SHA256 signature header and the
//! retry schedule. Sending is the server's job.
//!
//! The payload carries ids, pseudonyms and codes only: it is built from a
//! [`Finding`], whose detail is counts and codes by construction. The
//! signature header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">` (the scheme receivers know from Stripe and Svix), so a
//! receiver can refuse forgeries and replays outside its tolerance.

mod sign;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use sign::{MIN_SECRET_LEN, WebhookError, WebhookSecret, sign, verify};

use crate::rules::{Finding, Rule, Severity};
use crate::util::{hex, rfc3339, sha256};

/// One alert, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertPayload {
    /// A stable id (`al_` and 32 hex digits) derived from the finding, so a
    /// retried delivery has the same id and receivers can drop duplicates.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// Its severity.
    pub severity: Severity,
    /// When (RFC 3339, UTC, µs).
    pub at: String,
    /// The acting user.
    pub user: String,
    /// The token public id.
    pub token: Option<String>,
    /// The client address.
    pub ip: String,
    /// The patient's record id (a pseudonym), for per-record rules.
    pub patient_id: Option<String>,
    /// The audit event that triggered it.
    pub event_index: u64,
    /// The incident it was attached to, if any.
    pub incident_id: Option<String>,
    /// Counts and codes.
    pub detail: String,
    /// Whether the actor is being isolated.
    pub isolate: bool,
}

impl AlertPayload {
    /// The payload for a finding.
    pub fn from_finding(f: &Finding, incident_id: Option<&str>) -> Self {
        let seed = format!(
            "phivault-alert/1\n{}\n{}\n{}\n{}\n{}\n",
            f.rule.as_str(),
            f.event_index,
            f.user,
            f.ip,
            f.detail
        );
        let digest = hex(&sha256(seed.as_bytes()));
        Self {
            id: format!("al_{}", digest.get(..32).unwrap_or(&digest)),
            rule: f.rule,
            severity: f.severity,
            at: rfc3339(f.at_micros),
            user: f.user.clone(),
            token: f.token.clone(),
            ip: f.ip.clone(),
            patient_id: f.patient_id.clone(),
            event_index: f.event_index,
            incident_id: incident_id.map(str::to_owned),
            detail: f.detail.clone(),
            isolate: f.isolate,
        }
    }

    /// The request body (compact JSON).
    pub fn to_json(&self) -> Vec<u8> {
        // Strings, integers and enums always serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// First retry delay.
const BASE: Duration = Duration::from_secs(1);
/// Longest delay between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Deliveries give up after this many failed attempts (about three hours
/// of retries).
pub const MAX_ATTEMPTS: u32 = 20;

/// The delay before retry number `attempt` (0 for the first retry): 1 s,
/// 2 s, 4 s, … doubling up to 15 minutes. The server adds jitter from its
/// own random source so that many failed deliveries do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    BASE.checked_mul(factor)
        .map_or(MAX_BACKOFF, |d| d.min(MAX_BACKOFF))
}

/// Whether a delivery that got this HTTP status should be retried: timeouts,
/// rate limits and server errors are; other client errors are not (the
/// request will not get better).
pub fn retryable(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            rule: Rule::Honey,
            severity: Severity::Critical,
            user: "billing.bob".into(),
            token: Some("pv_00000000000000aa".into()),
            ip: "10.9.9.9".into(),
            patient_id: Some("5f0c6f0e-1d7e-4a53-9b51-3a7c2f0d9e11".into()),
            at_micros: 1_772_445_600_000_000,
            event_index: 4711,
            detail: "action=viewed outcome=success".into(),
            isolate: true,
        }
    }

    #[test]
    fn payload_is_stable_and_carries_only_ids_and_codes() {
        let p = AlertPayload::from_finding(&finding(), Some("inc-7"));
        assert_eq!(p, AlertPayload::from_finding(&finding(), Some("inc-7")));
        assert!(p.id.starts_with("al_") && p.id.len() == 35);
        let mut other = finding();
        other.event_index += 1;
        assert_ne!(AlertPayload::from_finding(&other, None).id, p.id);
        let body = String::from_utf8(p.to_json()).unwrap();
        assert!(body.starts_with(r#"{"id":"al_"#));
        assert!(
            body.contains(
                r#""rule":"honey","severity":"critical","at":"2026-03-02T10:00:00.000000Z""#
            ),
            "{body}"
        );
        assert!(body.contains(r#""event_index":4711,"incident_id":"inc-7""#));
        let back: AlertPayload = serde_json::from_slice(&p.to_json()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(9), Duration::from_secs(512));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(40), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
        assert!((0..30).all(|a| backoff(a) <= backoff(a + 1)));
        assert!(retryable(503) && retryable(429) && retryable(408));
        assert!(!retryable(400) && !retryable(401) && !retryable(200));
    }
}
