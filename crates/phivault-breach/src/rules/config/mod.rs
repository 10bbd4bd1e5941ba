//! Rule configuration: serde (unknown keys refused), defaults, validation.

mod validate;

use serde::{Deserialize, Serialize};

use super::Severity;
pub use validate::ConfigError;

/// Largest accepted `volume.max_records`: the detector keeps up to
/// `max_records + 1` patient ids per user, so this bounds memory.
pub(crate) const MAX_VOLUME_RECORDS: u32 = 10_000;
/// Largest accepted `off_hours.learn_after`.
pub(crate) const MAX_LEARN_AFTER: u32 = 10_000;

/// The whole rule set. Every section and key is optional; missing ones take
/// the defaults documented on each type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// `volume`.
    pub volume: VolumeRule,
    /// `off_hours`.
    pub off_hours: OffHoursRule,
    /// `care_team`.
    pub care_team: CareTeamRule,
    /// `flagged`.
    pub flagged: FlaggedRule,
    /// `denials`.
    pub denials: DenialsRule,
    /// `break_glass`.
    pub break_glass: BreakGlassRule,
    /// `honey`.
    pub honey: HoneyRule,
    /// Findings at or above this severity ask the server to isolate the
    /// actor (default `critical`).
    pub auto_isolate_at: Severity,
    /// Memory bounds.
    pub limits: Limits,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            volume: VolumeRule::default(),
            off_hours: OffHoursRule::default(),
            care_team: CareTeamRule::default(),
            flagged: FlaggedRule::default(),
            denials: DenialsRule::default(),
            break_glass: BreakGlassRule::default(),
            honey: HoneyRule::default(),
            auto_isolate_at: Severity::Critical,
            limits: Limits::default(),
        }
    }
}

/// `volume`: a user disclosing more than `max_records` distinct patients'
/// records within `window_minutes`. Default: enabled, `high`, 50 in 5 min.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeRule {
    /// On or off.
    pub enabled: bool,
    /// Severity of its findings.
    pub severity: Severity,
    /// Most records a user may disclose within the window (1..=10000).
    pub max_records: u32,
    /// The sliding window (1..=1440).
    pub window_minutes: u32,
}

impl Default for VolumeRule {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::High,
            max_records: 50,
            window_minutes: 5,
        }
    }
}

/// `off_hours`: PHI access outside the user's usual hours. Until a user
/// has `learn_after` accesses the usual hours are `[usual_start_hour,
/// usual_end_hour)` local time (the window may wrap midnight); after, an
/// hour is usual when it holds at least `min_share` of the user's accesses.
/// Default: enabled, `medium`, 07–19 UTC, learn after 200, 1 %.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffHoursRule {
    /// On or off.
    pub enabled: bool,
    /// Severity of its findings.
    pub severity: Severity,
    /// First usual hour (0..=23).
    pub usual_start_hour: u8,
    /// First unusual hour after the window (1..=24, not equal to the start).
    pub usual_end_hour: u8,
    /// The site's offset from UTC, in minutes (-840..=840).
    pub utc_offset_minutes: i32,
    /// Accesses before the learned hours replace the window (1..=10000).
    pub learn_after: u32,
    /// Share of a user's accesses that makes an hour usual (0 < s <= 1).
    pub min_share: f64,
    /// At most one finding per user per this many minutes (1..=1440).
    pub suppress_minutes: u32,
}

impl Default for OffHoursRule {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Medium,
            usual_start_hour: 7,
            usual_end_hour: 19,
            utc_offset_minutes: 0,
            learn_after: 200,
            min_share: 0.01,
            suppress_minutes: 60,
        }
    }
}

/// `denials`: more than `max` denied events by one user, or from one IP,
/// within `window_minutes`. Default: enabled, `medium`, 5 in 10 min.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenialsRule {
    /// On or off.
    pub enabled: bool,
    /// Severity of its findings.
    pub severity: Severity,
    /// Most denials tolerated within the window (1..=100000).
    pub max: u32,
    /// The sliding window (1..=1440).
    pub window_minutes: u32,
}

impl Default for DenialsRule {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Medium,
            max: 5,
            window_minutes: 10,
        }
    }
}

macro_rules! simple_rule {
    ($(#[$doc:meta])* $name:ident, $severity:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// On or off.
            pub enabled: bool,
            /// Severity of its findings.
            pub severity: Severity,
            /// At most one finding per subject per this many minutes
            /// (1..=1440).
            pub suppress_minutes: u32,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    enabled: true,
                    severity: $severity,
                    suppress_minutes: 60,
                }
            }
        }
    };
}

simple_rule!(
    /// `care_team`: a successful PHI access to a patient whose care team,
    /// by the server's facts, excludes the user. Default: enabled, `high`.
    CareTeamRule,
    Severity::High
);
simple_rule!(
    /// `flagged`: any access (any outcome) to a VIP or employee-patient
    /// record. Default: enabled, `high`.
    FlaggedRule,
    Severity::High
);
simple_rule!(
    /// `break_glass`: emergency access. Default: enabled, `medium`.
    BreakGlassRule,
    Severity::Medium
);
simple_rule!(
    /// `honey`: any event touching a honey record. Default: enabled,
    /// `critical` (so it isolates under the default `auto_isolate_at`).
    HoneyRule,
    Severity::Critical
);

/// Memory bounds: beyond them the least recently seen subject is forgotten
/// first. Default: 10000 users, 10000 addresses, forget after 30 idle days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Users tracked at once (1..=1000000).
    pub max_users: u32,
    /// Client addresses tracked at once for `denials` (1..=1000000).
    pub max_ips: u32,
    /// A user or address unseen this long is forgotten, learned hours
    /// included (1..=3650).
    pub idle_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_users: 10_000,
            max_ips: 10_000,
            idle_days: 30,
        }
    }
}
