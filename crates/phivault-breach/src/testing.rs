//! Test helpers: a terse audit event builder on a fixed day.

use phivault_audit::{Event, EventContext, Outcome};

use crate::util::{MINUTE, SECOND, parse_micros, rfc3339};

/// 2026-03-02T00:00:00Z, a Monday, in µs.
pub(crate) fn day0() -> i64 {
    parse_micros("2026-03-02T00:00:00Z").unwrap_or(0)
}

/// `h:m:s` on day 0, in µs.
pub(crate) fn hms(h: i64, m: i64, s: i64) -> i64 {
    day0() + h * 60 * MINUTE + m * MINUTE + s * SECOND
}

/// A successful `viewed` of `patient` by `user` at `at` (µs) from
/// 10.0.0.1; adjust with the builder methods.
pub(crate) fn view(index: u64, at: i64, user: &str, patient: &str) -> Event {
    ev(index, at, user, "viewed")
        .patient(patient)
        .fields(&["name", "dob"])
}

/// A successful `action` by `user` at `at` without a patient.
pub(crate) fn ev(index: u64, at: i64, user: &str, action: &str) -> Event {
    Event {
        index,
        timestamp: rfc3339(at),
        user: user.to_owned(),
        action: action.to_owned(),
        resource: "/v1/collections/patients/records".to_owned(),
        context: EventContext {
            ip: "10.0.0.1".to_owned(),
            device_id: None,
            location: None,
        },
        outcome: Outcome::Success,
        reason: None,
        request_id: None,
        token: None,
        patient_id: None,
        fields: vec![],
        purpose: None,
        query: vec![],
        count: None,
        flags: vec![],
        permission: None,
    }
}

/// Builder methods over [`Event`].
pub(crate) trait Build: Sized {
    fn patient(self, p: &str) -> Self;
    fn outcome(self, o: Outcome) -> Self;
    fn denied(self, reason: &str) -> Self;
    fn ip(self, ip: &str) -> Self;
    fn token(self, t: &str) -> Self;
    fn count(self, n: u64) -> Self;
    fn flag(self, f: &str) -> Self;
    fn fields(self, f: &[&str]) -> Self;
}

impl Build for Event {
    fn patient(mut self, p: &str) -> Self {
        self.patient_id = Some(p.to_owned());
        self.resource = format!("/v1/collections/patients/records/{p}");
        self
    }
    fn outcome(mut self, o: Outcome) -> Self {
        self.outcome = o;
        self
    }
    fn denied(mut self, reason: &str) -> Self {
        self.outcome = Outcome::Denied;
        self.reason = Some(reason.to_owned());
        self.fields.clear();
        self
    }
    fn ip(mut self, ip: &str) -> Self {
        self.context.ip = ip.to_owned();
        self
    }
    fn token(mut self, t: &str) -> Self {
        self.token = Some(t.to_owned());
        self
    }
    fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }
    fn flag(mut self, f: &str) -> Self {
        self.flags.push(f.to_owned());
        self
    }
    fn fields(mut self, f: &[&str]) -> Self {
        self.fields = f.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}
