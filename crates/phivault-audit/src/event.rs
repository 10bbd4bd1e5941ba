//! What an audit event is: the brief's schema (`timestamp`, `user`,
//! `action`, `resource`, `context`) plus outcome, reason, request id,
//! patient pseudonym and field names.
//!
//! An event never holds PHI: no field value, and a search term only as its
//! blind-index tag. Its leaf in the Merkle tree is the canonical encoding,
//! [`Event::encode`]: compact JSON with the fields in declaration order and
//! `index` first, so a leaf names its own position.

use serde::{Deserialize, Serialize};

/// The outcome of the audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused by policy or authentication.
    Denied,
    /// Attempted and failed (for example the store was unavailable).
    Failure,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    /// The client address (after trusted proxies).
    pub ip: String,
    /// `X-Device-Id`, when given and well-formed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// `X-Device-Location` (`lat,long`), when given and well-formed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log (assigned on append).
    pub index: u64,
    /// RFC 3339, UTC, microseconds.
    pub timestamp: String,
    /// The acting user (or `-` when the caller is unknown).
    pub user: String,
    /// What was done: `viewed`, `created`, `modified`, `deleted`,
    /// `searched`, `exported`, a custom verb, or a security action such as
    /// `session_opened` or `role_changed`.
    pub action: String,
    /// The addressed resource, by route (ids only).
    pub resource: String,
    /// Request context.
    pub context: EventContext,
    /// Outcome.
    pub outcome: Outcome,
    /// Why it was denied or failed (a code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The bearer token's public id (`pv_<id>`, never its secret), when a
    /// token authenticated the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The patient concerned (a record id, a pseudonym).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// Names of the fields disclosed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Purpose of use (HL7 v3 ActReason code, from `X-Purpose-Of-Use`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Search terms as `index:tag` (the hex blind-index tag), never values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<String>,
    /// Number of records returned (searches, exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Markers such as `break_glass`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The role permission that allowed it (`view:patients`), when one did:
    /// what access reviews count as used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

impl Event {
    /// The canonical encoding (the Merkle leaf data).
    pub fn encode(&self) -> Vec<u8> {
        // Serializing a struct of strings, numbers and vectors cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a stored event.
    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Whether this event disclosed the patient's PHI (for the accounting
    /// of disclosures): a successful view, search hit, export or custom use.
    pub fn is_disclosure(&self) -> bool {
        self.outcome == Outcome::Success
            && self.patient_id.is_some()
            && (matches!(self.action.as_str(), "viewed" | "searched" | "exported")
                || self.action.starts_with("custom:"))
    }
}

/// The index a canonical encoding says it has, read without a full parse
/// (the verifier's fast path): `{"index":N,…`.
pub fn encoded_index(bytes: &[u8]) -> Option<u64> {
    let rest = bytes.strip_prefix(b"{\"index\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    let digits = std::str::from_utf8(rest.get(..end)?).ok()?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn encoding_is_canonical_and_names_its_index() {
        let e = Event {
            index: 17,
            timestamp: "2026-11-24T10:00:00.000001Z".into(),
            user: "dr.house".into(),
            action: "viewed".into(),
            resource: "/v1/collections/patients/records/p1".into(),
            context: EventContext {
                ip: "10.0.0.1".into(),
                device_id: Some("UA-12345".into()),
                location: None,
            },
            outcome: Outcome::Success,
            reason: None,
            request_id: Some("abcd".into()),
            token: None,
            patient_id: Some("p1".into()),
            fields: vec!["name".into(), "ssn".into()],
            purpose: Some("TREAT".into()),
            query: vec![],
            count: None,
            flags: vec![],
            permission: Some("view:patients".into()),
        };
        let bytes = e.encode();
        assert_eq!(encoded_index(&bytes), Some(17));
        assert_eq!(Event::decode(&bytes).unwrap(), e);
        assert_eq!(Event::decode(&bytes).unwrap().encode(), bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(r#"{"index":17,"timestamp":"2026-11-24T10:00:00.000001Z","user":"dr.house","action":"viewed""#));
        assert!(!text.contains("location"));
        assert!(e.is_disclosure());
        assert_eq!(encoded_index(b"{\"index\":x}"), None);
    }
}
