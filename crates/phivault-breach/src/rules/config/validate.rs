//! `RulesConfig::validate`.

use super::{MAX_LEARN_AFTER, MAX_VOLUME_RECORDS, RulesConfig};

/// Longest accepted window, in minutes (one day).
const MAX_WINDOW_MINUTES: u32 = 24 * 60;

/// A configuration value out of range; names the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rules config `{field}` {reason}")]
pub struct ConfigError {
    /// The dotted key, such as `volume.max_records`.
    pub field: &'static str,
    /// What is expected.
    pub reason: &'static str,
}

fn check(ok: bool, field: &'static str, reason: &'static str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError { field, reason })
    }
}

impl RulesConfig {
    /// Checks every value; the error names the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const WINDOW: &str = "must be between 1 and 1440 minutes";
        let w = |m: u32| (1..=MAX_WINDOW_MINUTES).contains(&m);
        let v = &self.volume;
        check(
            (1..=MAX_VOLUME_RECORDS).contains(&v.max_records),
            "volume.max_records",
            "must be between 1 and 10000",
        )?;
        check(w(v.window_minutes), "volume.window_minutes", WINDOW)?;
        let o = &self.off_hours;
        check(
            o.usual_start_hour <= 23,
            "off_hours.usual_start_hour",
            "must be between 0 and 23",
        )?;
        check(
            (1..=24).contains(&o.usual_end_hour),
            "off_hours.usual_end_hour",
            "must be between 1 and 24",
        )?;
        check(
            o.usual_end_hour % 24 != o.usual_start_hour,
            "off_hours.usual_end_hour",
            "must differ from the start hour",
        )?;
        check(
            (-840..=840).contains(&o.utc_offset_minutes),
            "off_hours.utc_offset_minutes",
            "must be between -840 and 840",
        )?;
        check(
            (1..=MAX_LEARN_AFTER).contains(&o.learn_after),
            "off_hours.learn_after",
            "must be between 1 and 10000",
        )?;
        check(
            o.min_share.is_finite() && o.min_share > 0.0 && o.min_share <= 1.0,
            "off_hours.min_share",
            "must be greater than 0 and at most 1",
        )?;
        check(w(o.suppress_minutes), "off_hours.suppress_minutes", WINDOW)?;
        let d = &self.denials;
        check(
            (1..=100_000).contains(&d.max),
            "denials.max",
            "must be between 1 and 100000",
        )?;
        check(w(d.window_minutes), "denials.window_minutes", WINDOW)?;
        check(
            w(self.care_team.suppress_minutes),
            "care_team.suppress_minutes",
            WINDOW,
        )?;
        check(
            w(self.flagged.suppress_minutes),
            "flagged.suppress_minutes",
            WINDOW,
        )?;
        check(
            w(self.break_glass.suppress_minutes),
            "break_glass.suppress_minutes",
            WINDOW,
        )?;
        check(
            w(self.honey.suppress_minutes),
            "honey.suppress_minutes",
            WINDOW,
        )?;
        let l = &self.limits;
        const MILLION: &str = "must be between 1 and 1000000";
        check(
            (1..=1_000_000).contains(&l.max_users),
            "limits.max_users",
            MILLION,
        )?;
        check(
            (1..=1_000_000).contains(&l.max_ips),
            "limits.max_ips",
            MILLION,
        )?;
        check(
            (1..=3650).contains(&l.idle_days),
            "limits.idle_days",
            "must be between 1 and 3650",
        )?;
        Ok(())
    }
}
