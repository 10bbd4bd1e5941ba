//! The response plan's and HIPAA's deadlines for one incident.
//!
//! | name | due | basis |
//! |---|---|---|
//! | `isolate` | declaration + 15 min | response plan |
//! | `alert_compliance` | declaration + 60 min | response plan |
//! | `notify_individuals` | discovery + 60 days | 45 CFR §164.404(b) |
//! | `notify_hhs` | 500 or more affected: discovery + 60 days, with the individuals (§164.408(b)); fewer: the annual log, 60 days after the end of the calendar year of discovery (§164.408(c)) | |
//! | `notify_media` | more than 500 residents of one state: discovery + 60 days | 45 CFR §164.406 |
//!
//! Until the affected individuals are computed, every notice is assumed
//! required with the earliest due date: a deadline is never shown as
//! relaxed before the facts say so. The `unknown` state bucket counts as
//! one state for the media notice (it may be one). Days are 24-hour
//! periods from the discovery instant, which is never later than the end
//! of the calendar day.

use serde::Serialize;

use super::{Incident, StepKind};
use crate::util::{DAY, MINUTE};

/// Where a deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    /// Done in time.
    Met,
    /// Done, after the due time.
    MetLate,
    /// Not done, not yet due.
    Pending,
    /// Not done and past due.
    Overdue,
    /// The facts say this notice is not required.
    NotRequired,
}

impl DeadlineState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::MetLate => "met_late",
            Self::Pending => "pending",
            Self::Overdue => "overdue",
            Self::NotRequired => "not_required",
        }
    }
}

/// One deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// `isolate`, `alert_compliance`, `notify_individuals`, `notify_hhs`,
    /// `notify_media`.
    pub name: &'static str,
    /// When it is due (none when not required).
    pub due_at_micros: Option<i64>,
    /// When the step that meets it was recorded.
    pub met_at_micros: Option<i64>,
    /// Where it stands at `now`.
    pub state: DeadlineState,
    /// Why it applies (or not), with the rule cited.
    pub basis: &'static str,
}

/// Individuals at which HHS is notified with the individuals (§164.408(b)).
const HHS_IMMEDIATE: u64 = 500;
/// Residents of one state above which the media is notified (§164.406).
const MEDIA_OVER: u64 = 500;
/// HIPAA's 60 days.
const SIXTY_DAYS: i64 = 60 * DAY;

/// The start of the calendar year (UTC) after the one holding `at`, in µs.
fn next_year_start(at: i64) -> Option<i64> {
    use jiff::tz::Offset;
    let ts = jiff::Timestamp::from_microsecond(at).ok()?;
    let year = Offset::UTC.to_datetime(ts).year();
    let jan1 = jiff::civil::Date::new(year.checked_add(1)?, 1, 1).ok()?;
    let start = Offset::UTC
        .to_timestamp(jan1.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    Some(start.as_microsecond())
}

fn deadline(
    name: &'static str,
    due: Option<i64>,
    met: Option<i64>,
    now: i64,
    basis: &'static str,
) -> Deadline {
    let state = match (due, met) {
        (Some(d), Some(m)) if m > d => DeadlineState::MetLate,
        (_, Some(_)) => DeadlineState::Met,
        (None, None) => DeadlineState::NotRequired,
        (Some(d), None) if now > d => DeadlineState::Overdue,
        (Some(_), None) => DeadlineState::Pending,
    };
    Deadline {
        name,
        due_at_micros: due,
        met_at_micros: met,
        state,
        basis,
    }
}

/// The deadlines of `inc` as they stand at `now_micros`.
pub fn deadlines(inc: &Incident, now_micros: i64) -> Vec<Deadline> {
    let declared = inc.declared_at_micros;
    let discovered = inc.discovered_at();
    let met = |k: StepKind| inc.first(&k).map(|s| s.at_micros);
    let sixty = discovered.saturating_add(SIXTY_DAYS);
    let affected = inc.affected();
    let (individuals_due, individuals_basis) = match affected {
        Some((0, _)) => (None, "45 CFR 164.404: no individual's PHI was compromised"),
        Some(_) => (
            Some(sixty),
            "45 CFR 164.404(b): within 60 days of discovery",
        ),
        None => (
            Some(sixty),
            "45 CFR 164.404(b): affected not yet computed, assumed required",
        ),
    };
    let (hhs_due, hhs_basis) = match affected {
        Some((0, _)) => (None, "45 CFR 164.408: no individual's PHI was compromised"),
        Some((n, _)) if n >= HHS_IMMEDIATE => (
            Some(sixty),
            "45 CFR 164.408(b): 500 or more affected, with the individual notices",
        ),
        Some(_) => (
            next_year_start(discovered).map(|y| y.saturating_add(SIXTY_DAYS)),
            "45 CFR 164.408(c): fewer than 500, annual log within 60 days of year end",
        ),
        None => (
            Some(sixty),
            "45 CFR 164.408(b): affected not yet computed, assumed 500 or more",
        ),
    };
    let (media_due, media_basis) = match affected {
        Some((_, per_state)) if per_state.values().any(|&n| n > MEDIA_OVER) => (
            Some(sixty),
            "45 CFR 164.406: more than 500 residents of one state",
        ),
        Some(_) => (
            None,
            "45 CFR 164.406: no state has more than 500 affected residents",
        ),
        None => (
            Some(sixty),
            "45 CFR 164.406: affected not yet computed, assumed required",
        ),
    };
    vec![
        deadline(
            "isolate",
            Some(declared.saturating_add(15 * MINUTE)),
            met(StepKind::Isolated),
            now_micros,
            "response plan: isolate within 15 minutes of declaration",
        ),
        deadline(
            "alert_compliance",
            Some(declared.saturating_add(60 * MINUTE)),
            met(StepKind::ComplianceAlerted),
            now_micros,
            "response plan: alert compliance within 60 minutes of declaration",
        ),
        deadline(
            "notify_individuals",
            individuals_due,
            met(StepKind::IndividualsNotified),
            now_micros,
            individuals_basis,
        ),
        deadline(
            "notify_hhs",
            hhs_due,
            met(StepKind::HhsNotified),
            now_micros,
            hhs_basis,
        ),
        deadline(
            "notify_media",
            media_due,
            met(StepKind::MediaNotified),
            now_micros,
            media_basis,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::parse_micros;

    #[test]
    fn the_annual_log_is_due_sixty_days_after_year_end() {
        let at = parse_micros("2026-06-15T12:00:00Z").unwrap();
        let due = next_year_start(at).unwrap() + SIXTY_DAYS;
        assert_eq!(crate::util::rfc3339(due), "2027-03-02T00:00:00.000000Z");
        // 2028 is a leap year: the 60th day after 31 December 2027 is 29
        // February 2028.
        let at = parse_micros("2027-12-31T23:00:00Z").unwrap();
        let due = next_year_start(at).unwrap() + SIXTY_DAYS;
        assert_eq!(crate::util::rfc3339(due), "2028-03-01T00:00:00.000000Z");
    }
}
