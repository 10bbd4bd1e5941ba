//! Scoring a breach drill: a scripted attack runs against a test vault and
//! the times it was detected, isolated and alerted are compared with the
//! targets, and the affected list computed with the one expected.
//!
//! Targets: detection within 5 s of the start, isolation within 1 s of
//! detection, the whole drill within 60 s. A stage that never happened
//! fails its target. The drill passes when every target passes, an alert
//! was sent and the affected list matches exactly.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::report::render::md;
use crate::util::SECOND;

/// Detection target, µs from the start.
pub const DETECT_TARGET: i64 = 5 * SECOND;
/// Isolation target, µs from detection.
pub const ISOLATE_TARGET: i64 = SECOND;
/// Whole-drill target, µs from the start.
pub const WHOLE_TARGET: i64 = 60 * SECOND;

/// When each stage happened, µs since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillTimes {
    /// The scripted attack began.
    pub started: i64,
    /// The first finding was raised.
    pub detected: Option<i64>,
    /// The actor was isolated.
    pub isolated: Option<i64>,
    /// The compliance alert was sent.
    pub alerted: Option<i64>,
    /// The drill ended (affected list computed).
    pub finished: i64,
}

/// The times are inconsistent; names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("drill time `{0}` is before the stage it follows")]
pub struct DrillError(pub &'static str);

/// One target's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetResult {
    /// `detect`, `isolate` or `whole`.
    pub name: &'static str,
    /// The target, µs.
    pub target_micros: i64,
    /// The measured time, µs (none when the stage never happened).
    pub actual_micros: Option<i64>,
    /// Whether it was met.
    pub pass: bool,
}

/// The drill's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrillScore {
    /// Start to detection, µs.
    pub time_to_detect_micros: Option<i64>,
    /// Detection to isolation, µs.
    pub time_to_isolate_micros: Option<i64>,
    /// Detection to alert, µs.
    pub time_to_alert_micros: Option<i64>,
    /// Start to finish, µs.
    pub whole_micros: i64,
    /// The timed targets.
    pub targets: Vec<TargetResult>,
    /// The computed affected set equals the expected one.
    pub affected_matches: bool,
    /// Expected but not computed (missed individuals).
    pub missing: Vec<String>,
    /// Computed but not expected (false positives).
    pub unexpected: Vec<String>,
    /// Every target met, an alert sent, the affected set exact.
    pub passed: bool,
}

fn after(later: Option<i64>, earlier: i64, field: &'static str) -> Result<Option<i64>, DrillError> {
    match later {
        Some(t) if t < earlier => Err(DrillError(field)),
        Some(t) => Ok(Some(t.saturating_sub(earlier))),
        None => Ok(None),
    }
}

fn target(name: &'static str, target_micros: i64, actual: Option<i64>) -> TargetResult {
    TargetResult {
        name,
        target_micros,
        actual_micros: actual,
        pass: actual.is_some_and(|a| a <= target_micros),
    }
}

/// Scores a drill.
pub fn score(
    times: &DrillTimes,
    expected: &BTreeSet<String>,
    computed: &BTreeSet<String>,
) -> Result<DrillScore, DrillError> {
    let t = times;
    let detect = after(t.detected, t.started, "detected")?;
    let (isolate, alert) = match t.detected {
        Some(d) => (
            after(t.isolated, d, "isolated")?,
            after(t.alerted, d, "alerted")?,
        ),
        // Isolation or an alert without a detection is still measured from
        // the start, so that nothing is hidden.
        None => (
            after(t.isolated, t.started, "isolated")?,
            after(t.alerted, t.started, "alerted")?,
        ),
    };
    let last = [t.detected, t.isolated, t.alerted]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(t.started);
    if t.finished < last {
        return Err(DrillError("finished"));
    }
    let whole = t.finished.saturating_sub(t.started);
    let isolate_target = if t.detected.is_some() { isolate } else { None };
    let targets = vec![
        target("detect", DETECT_TARGET, detect),
        target("isolate", ISOLATE_TARGET, isolate_target),
        target("whole", WHOLE_TARGET, Some(whole)),
    ];
    let missing: Vec<String> = expected.difference(computed).cloned().collect();
    let unexpected: Vec<String> = computed.difference(expected).cloned().collect();
    let affected_matches = missing.is_empty() && unexpected.is_empty();
    let passed = targets.iter().all(|r| r.pass) && alert.is_some() && affected_matches;
    Ok(DrillScore {
        time_to_detect_micros: detect,
        time_to_isolate_micros: isolate,
        time_to_alert_micros: alert,
        whole_micros: whole,
        targets,
        affected_matches,
        missing,
        unexpected,
        passed,
    })
}

fn secs(us: Option<i64>) -> String {
    us.map_or_else(
        || "never".to_owned(),
        |u| format!("{}.{:03} s", u / SECOND, (u % SECOND).abs() / 1000),
    )
}

/// Most ids listed in the Markdown rendering (JSON lists them all).
const MAX_LISTED: usize = 20;

impl DrillScore {
    /// The score as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The score as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("# Breach drill\n\n");
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(s, "**Result: {verdict}**\n");
        s.push_str("| Target | Goal | Measured | Result |\n|---|---|---|---|\n");
        for t in &self.targets {
            let result = if t.pass { "pass" } else { "fail" };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {result} |",
                t.name,
                secs(Some(t.target_micros)),
                secs(t.actual_micros)
            );
        }
        let _ = writeln!(
            s,
            "\n- **Time to alert:** {}",
            secs(self.time_to_alert_micros)
        );
        let matches = if self.affected_matches { "yes" } else { "no" };
        let _ = writeln!(s, "- **Affected list exact:** {matches}");
        for (label, ids) in [("Missed", &self.missing), ("Unexpected", &self.unexpected)] {
            if ids.is_empty() {
                continue;
            }
            let shown: Vec<String> = ids.iter().take(MAX_LISTED).map(|i| md(i)).collect();
            let more = ids.len().saturating_sub(MAX_LISTED);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "- **{label} ({}):** {}{tail}",
                ids.len(),
                shown.join(", ")
            );
        }
        s
    }
}

#[cfg(test)]
mod tests;
