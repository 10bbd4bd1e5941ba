//! Detector tests: a realistic normal fortnight stays quiet; each rule
//! fires on its scenario ([`scenarios`]); suppression, learning and memory
//! bounds ([`bounds`]).

mod bounds;
mod scenarios;

use phivault_audit::Event;

use super::{Detector, Facts, Finding, Rule, RulesConfig};
use crate::testing::{Build, ev, hms, view};
use crate::util::{DAY, MINUTE};

/// Runs `events` through a fresh detector with default rules.
pub(super) fn run(events: &[(Event, Facts)]) -> Vec<Finding> {
    run_with(RulesConfig::default(), events)
}

pub(super) fn run_with(cfg: RulesConfig, events: &[(Event, Facts)]) -> Vec<Finding> {
    assert_eq!(cfg.validate(), Ok(()));
    let mut d = Detector::new(cfg);
    events.iter().flat_map(|(e, f)| d.observe(e, f)).collect()
}

pub(super) fn care(on: bool) -> Facts {
    Facts {
        on_care_team: Some(on),
        ..Facts::default()
    }
}

pub(super) fn rules(findings: &[Finding]) -> Vec<Rule> {
    findings.iter().map(|f| f.rule).collect()
}

/// One ordinary weekday `day` days after day 0: two physicians, a nurse and
/// a billing clerk at work, a few denials, a few failed logins.
pub(super) fn normal_day(day: i64) -> Vec<(Event, Facts)> {
    let base = day * DAY;
    let mut out: Vec<(Event, Facts)> = Vec::new();
    // Physicians: a patient from their own panel every 12 minutes, 08:00 to
    // 17:00, sometimes the same patient again.
    for (doc, start, panel) in [("dr.house", 8, "h"), ("dr.wilson", 9, "w")] {
        for k in 0..45i64 {
            let at = base + hms(start, 0, 0) + k * 12 * MINUTE + 7_000_000;
            let p = format!("{panel}{}", (k * 7 + day) % 40);
            out.push((view(0, at, doc, &p).token("pv_tok1"), care(true)));
        }
        let at = base + hms(start + 3, 1, 0);
        let e = view(0, at, doc, "x99").denied("not_permitted");
        out.push((e, care(false)));
    }
    // The ward nurse: a ward patient viewed and charted every 6 minutes.
    for k in 0..80i64 {
        let at = base + hms(7, 0, 0) + k * 6 * MINUTE;
        let p = format!("ward{}", k % 20);
        out.push((view(0, at, "nurse.joy", &p), care(true)));
        let e = ev(0, at + 30_000_000, "nurse.joy", "modified")
            .patient(&p)
            .fields(&["vitals"]);
        out.push((e, care(true)));
    }
    // Billing: hourly searches, one end-of-day export.
    for h in 9..17 {
        let e = ev(0, base + hms(h, 15, 0), "billing.bob", "searched").count(15);
        out.push((e, Facts::default()));
    }
    let e = ev(0, base + hms(16, 30, 0), "billing.bob", "exported").count(30);
    out.push((e, Facts::default()));
    // Mistyped passwords at the start of the day.
    for s in 0..3 {
        let e = ev(0, base + hms(8, 0, s * 20), "-", "session_opened")
            .denied("authentication_failed")
            .ip("203.0.113.9");
        out.push((e, Facts::default()));
    }
    out.sort_by_key(|(e, _)| e.timestamp.clone());
    out
}

/// `days` consecutive normal days, indexed in order.
pub(super) fn normal_days(days: i64) -> Vec<(Event, Facts)> {
    let mut all: Vec<_> = (0..days).flat_map(normal_day).collect();
    for (i, (e, _)) in all.iter_mut().enumerate() {
        e.index = u64::try_from(i).unwrap_or(0);
    }
    all
}

#[test]
fn a_normal_fortnight_raises_nothing() {
    let events = normal_days(14);
    assert!(events.len() > 14 * 250, "a busy enough fortnight");
    let findings = run(&events);
    assert!(findings.is_empty(), "unexpected findings: {findings:?}");
}
