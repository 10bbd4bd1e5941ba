//! Detection on the live audit stream.
//!
//! The server feeds every appended [`Event`](phivault_audit::Event) to one
//! [`Detector`] together with the [`Facts`] it knows about the record (honey
//! record, VIP or employee-patient flag, care-team membership); the
//! detector answers with zero or more [`Finding`]s. Time is the event's own
//! timestamp, never a clock; memory is bounded by [`Limits`].
//!
//! | rule | fires on | subject (suppression key) |
//! |---|---|---|
//! | `volume` | a user disclosed more than `max_records` distinct patients' records (plus search/export result counts) within `window_minutes` | user |
//! | `off_hours` | a successful PHI access at an hour unusual for that user | user |
//! | `care_team` | a successful PHI access to a patient whose care team excludes the user | user, patient |
//! | `flagged` | any access, any outcome, to a VIP or employee-patient record | user, patient |
//! | `denials` | more than `max` denied events by one user, or from one IP (IPv6: one /64), within `window_minutes` | user, or IP |
//! | `break_glass` | an event flagged `break_glass`, or the grant `custom:break_glass` | user, patient |
//! | `honey` | any event touching a honey record | user, record |
//!
//! A rule fires at most once per subject per its window (`volume`,
//! `denials`) or per its `suppress_minutes` (the others), so a burst gives
//! one alert.

mod config;
mod counting;
mod detector;
mod hours;
mod state;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use config::{
    BreakGlassRule, CareTeamRule, ConfigError, DenialsRule, FlaggedRule, HoneyRule, Limits,
    OffHoursRule, RulesConfig, VolumeRule,
};
pub use detector::Detector;

/// How serious a finding or an incident is; ordered `low < medium < high <
/// critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look in the daily review.
    Low,
    /// Review today.
    Medium,
    /// Page the privacy officer.
    High,
    /// Contain now.
    Critical,
}

impl Severity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which detection rule produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Too many patients in too little time.
    Volume,
    /// Access at an unusual hour for the user.
    OffHours,
    /// Access outside the user's care team.
    CareTeam,
    /// Access to a VIP or employee-patient record.
    Flagged,
    /// Repeated denials.
    Denials,
    /// Emergency access.
    BreakGlass,
    /// A honey (canary) record was touched.
    Honey,
}

impl Rule {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Volume => "volume",
            Self::OffHours => "off_hours",
            Self::CareTeam => "care_team",
            Self::Flagged => "flagged",
            Self::Denials => "denials",
            Self::BreakGlass => "break_glass",
            Self::Honey => "honey",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sensitivity flag on a patient record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A very important person (public figure, celebrity).
    Vip,
    /// The patient is a member of the workforce.
    Employee,
}

impl Flag {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vip => "vip",
            Self::Employee => "employee",
        }
    }
}

/// What the server knows about the record an event touches, looked up per
/// event. `Facts::default()` means nothing is known: not honey, not flagged,
/// care team unknown (the `care_team` rule then stays quiet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The record is a honey (canary) record that no legitimate work touches.
    pub honey: bool,
    /// The record's sensitivity flag.
    pub flag: Option<Flag>,
    /// Whether the acting user is on the patient's care team (`None`:
    /// unknown or not applicable).
    pub on_care_team: Option<bool>,
}

/// One detection. Holds ids, pseudonyms and codes only: `detail` is built
/// from counts and codes, never from a field value or free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule that fired.
    pub rule: Rule,
    /// Its configured severity.
    pub severity: Severity,
    /// The acting user of the triggering event (`-` when unknown).
    pub user: String,
    /// The triggering event's token public id.
    pub token: Option<String>,
    /// The triggering event's client address, as logged.
    pub ip: String,
    /// The patient of the triggering event, for per-record rules
    /// (`off_hours`, `care_team`, `flagged`, `break_glass`, `honey`);
    /// `None` for the aggregate rules (`volume`, `denials`).
    pub patient_id: Option<String>,
    /// When (the detector's time at the triggering event), µs since epoch.
    pub at_micros: i64,
    /// The triggering event's index in the audit log.
    pub event_index: u64,
    /// `key=value` pairs of counts and codes.
    pub detail: String,
    /// Whether the server should isolate the actor (`severity >=
    /// auto_isolate_at`).
    pub isolate: bool,
}
