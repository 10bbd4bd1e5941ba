//! The audit trail in the service: who is acting ([`Who`]), the events the
//! vault and the access handlers record, the log itself ([`AuditLog`]), the
//! signing key's home, and the broker sinks ([`stream`]).

mod keys;
mod log;
pub mod outbox;
pub mod report;
pub mod stream;
pub mod verify;

use std::net::IpAddr;

use axum::http::HeaderMap;
use phivault_audit::{Event, EventContext, Outcome};

pub use keys::{load_or_create_signer, verifier_path};
pub use log::{AuditError, AuditLog, CheckpointPolicy};

/// The requester, as every event records it (no PHI: ids, address, the
/// device's own identifiers, a purpose-of-use code).
#[derive(Debug, Clone, Default)]
pub struct Who {
    /// User id (`-` when unknown).
    pub user: String,
    /// Client address.
    pub ip: String,
    /// `X-Device-Id`.
    pub device_id: Option<String>,
    /// `X-Device-Location`.
    pub location: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// The authenticating token's public id (`pv_<id>`), when one was used.
    pub token: Option<String>,
    /// `X-Purpose-Of-Use` (HL7 v3 ActReason code).
    pub purpose: Option<String>,
}

/// A request header that cannot be recorded as sent.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("header `{0}` is malformed")]
pub struct BadHeader(pub &'static str);

fn header(
    h: &HeaderMap,
    name: &'static str,
    ok: impl Fn(&str) -> bool,
) -> Result<Option<String>, BadHeader> {
    match h.get(name).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(v)) if ok(v) => Ok(Some(v.to_owned())),
        Some(_) => Err(BadHeader(name)),
    }
}

fn is_device_id(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

fn is_location(v: &str) -> bool {
    let mut parts = v.split(',');
    let coord = |p: Option<&str>, max: f64| {
        p.and_then(|s| s.trim().parse::<f64>().ok())
            .is_some_and(|x| x.is_finite() && x.abs() <= max)
    };
    v.len() <= 48
        && coord(parts.next(), 90.0)
        && coord(parts.next(), 180.0)
        && parts.next().is_none()
}

fn is_purpose(v: &str) -> bool {
    (2..=16).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_uppercase())
}

impl Who {
    /// From a request: user, client address, request id and the optional
    /// `X-Device-Id`, `X-Device-Location` and `X-Purpose-Of-Use` headers.
    pub fn from_request(
        user: &str,
        ip: IpAddr,
        request_id: Option<String>,
        headers: &HeaderMap,
    ) -> Result<Self, BadHeader> {
        Ok(Self {
            user: user.to_owned(),
            ip: ip.to_string(),
            device_id: header(headers, "x-device-id", is_device_id)?,
            location: header(headers, "x-device-location", is_location)?,
            request_id,
            token: None,
            purpose: header(headers, "x-purpose-of-use", is_purpose)?,
        })
    }

    /// An operator acting from the command line on this host.
    pub fn operator(user: &str) -> Self {
        Self {
            user: user.to_owned(),
            ip: "local".into(),
            ..Self::default()
        }
    }

    /// An event by this requester.
    pub fn event(
        &self,
        now: jiff::Timestamp,
        action: &str,
        resource: String,
        outcome: Outcome,
    ) -> Event {
        Event {
            index: 0,
            timestamp: crate::clock::rfc3339_micros(crate::clock::micros(now)),
            user: self.user.clone(),
            action: action.to_owned(),
            resource,
            context: EventContext {
                ip: self.ip.clone(),
                device_id: self.device_id.clone(),
                location: self.location.clone(),
            },
            outcome,
            reason: None,
            request_id: self.request_id.clone(),
            token: self.token.clone(),
            patient_id: None,
            fields: Vec::new(),
            purpose: self.purpose.clone(),
            query: Vec::new(),
            count: None,
            flags: Vec::new(),
            permission: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn request_headers_are_checked_before_they_are_recorded() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-device-id", "UA-12345".parse().unwrap());
        h.insert("x-device-location", "40.7128,-74.0060".parse().unwrap());
        h.insert("x-purpose-of-use", "TREAT".parse().unwrap());
        let w = Who::from_request("u", ip, None, &h).unwrap();
        assert_eq!(w.device_id.as_deref(), Some("UA-12345"));
        assert_eq!(w.location.as_deref(), Some("40.7128,-74.0060"));
        assert_eq!(w.purpose.as_deref(), Some("TREAT"));
        h.insert("x-device-location", "Jane Doe, 12 Elm St".parse().unwrap());
        assert_eq!(
            Who::from_request("u", ip, None, &h).unwrap_err().0,
            "x-device-location"
        );
        h.remove("x-device-location");
        h.insert("x-device-id", "john smith".parse().unwrap());
        assert!(Who::from_request("u", ip, None, &h).is_err());
        h.remove("x-device-id");
        h.insert(
            "x-purpose-of-use",
            "treatment of 123-45-6789".parse().unwrap(),
        );
        assert!(Who::from_request("u", ip, None, &h).is_err());
    }
}
