use std::collections::BTreeMap;

use super::*;
use crate::util::{DAY, MINUTE, parse_micros};

fn t0() -> i64 {
    parse_micros("2026-03-02T10:00:00Z").unwrap()
}

fn step(at: i64, kind: StepKind) -> Step {
    Step {
        at_micros: at,
        by: "responder1".into(),
        kind,
        detail: String::new(),
    }
}

fn declared() -> Incident {
    Incident::declare(
        "inc-2026-001",
        Severity::High,
        "Honey record read by billing token",
        t0(),
        "ciso",
    )
    .unwrap()
}

fn affected(pairs: &[(&str, u64)]) -> StepKind {
    let per_state: BTreeMap<String, u64> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    StepKind::AffectedComputed {
        count: per_state.values().sum(),
        per_state,
    }
}

fn states(inc: &Incident, now: i64) -> Vec<(&'static str, DeadlineState)> {
    deadlines(inc, now)
        .into_iter()
        .map(|d| (d.name, d.state))
        .collect()
}

#[test]
fn a_large_breach_needs_every_notice_and_tracks_lateness() {
    let mut inc = declared();
    inc.record(step(t0() + 10 * MINUTE, StepKind::Isolated))
        .unwrap();
    inc.record(step(t0() + 70 * MINUTE, StepKind::ComplianceAlerted))
        .unwrap();
    inc.record(step(t0() + DAY, affected(&[("CA", 520), ("NV", 80)])))
        .unwrap();
    inc.record(step(t0() + 30 * DAY, StepKind::IndividualsNotified))
        .unwrap();
    use DeadlineState::*;
    assert_eq!(
        states(&inc, t0() + 61 * DAY),
        [
            ("isolate", Met),
            ("alert_compliance", MetLate),
            ("notify_individuals", Met),
            ("notify_hhs", Overdue),
            ("notify_media", Overdue),
        ]
    );
    let d = deadlines(&inc, t0());
    assert_eq!(d[0].due_at_micros, Some(t0() + 15 * MINUTE));
    assert_eq!(d[1].due_at_micros, Some(t0() + 60 * MINUTE));
    assert_eq!(d[3].due_at_micros, Some(t0() + 60 * DAY));
    assert!(d[3].basis.contains("164.408(b)"));
    assert!(d[4].basis.contains("164.406"));
    assert_eq!(states(&inc, t0() + 59 * DAY)[3], ("notify_hhs", Pending));
}

#[test]
fn thresholds_follow_the_regulation_exactly() {
    let hhs = |pairs: &[(&str, u64)]| {
        let mut inc = declared();
        inc.record(step(t0() + DAY, affected(pairs))).unwrap();
        deadlines(&inc, t0() + DAY)
    };
    // 500 exactly: HHS with the individuals; 500 in one state is not "more
    // than 500".
    let d = hhs(&[("TX", 500)]);
    assert_eq!(d[3].due_at_micros, Some(t0() + 60 * DAY));
    assert_eq!(d[4].state, DeadlineState::NotRequired);
    // 501 in one state: the media too.
    assert_eq!(hhs(&[("TX", 501)])[4].state, DeadlineState::Pending);
    // 499: the annual log, 60 days after the end of 2026.
    let d = hhs(&[("TX", 300), ("unknown", 199)]);
    assert_eq!(d[3].due_at_micros, parse_micros("2027-03-02T00:00:00Z"));
    assert!(d[3].basis.contains("164.408(c)"));
    assert_eq!(d[4].state, DeadlineState::NotRequired);
    // Residents of unknown state count as one state for the media.
    assert_eq!(hhs(&[("unknown", 600)])[4].state, DeadlineState::Pending);
    // Nobody compromised: no notices.
    let d = hhs(&[]);
    assert_eq!(
        d.iter().skip(2).map(|d| d.state).collect::<Vec<_>>(),
        [DeadlineState::NotRequired; 3]
    );
}

#[test]
fn unknown_extent_assumes_every_notice_and_discovery_starts_the_clock() {
    let mut inc = declared();
    inc.discovered_at_micros = Some(t0() - 10 * DAY);
    inc.validate().unwrap();
    let d = deadlines(&inc, t0());
    for n in &d[2..] {
        assert_eq!(n.state, DeadlineState::Pending, "{}", n.name);
        assert_eq!(n.due_at_micros, Some(t0() + 50 * DAY), "{}", n.name);
        assert!(n.basis.contains("not yet computed"));
    }
    // The plan's deadlines still run from the declaration.
    assert_eq!(d[0].due_at_micros, Some(t0() + 15 * MINUTE));
    assert_eq!(d[0].state, DeadlineState::Pending);
    assert_eq!(
        deadlines(&inc, t0() + 16 * MINUTE)[0].state,
        DeadlineState::Overdue
    );
}

#[test]
fn the_record_is_validated() {
    let field = |f: fn(&mut Incident)| {
        let mut i = declared();
        f(&mut i);
        i.validate().map_err(|e| (e.field, e.step))
    };
    assert_eq!(field(|_| {}), Ok(()));
    assert_eq!(field(|i| i.id = "inc 1".into()), Err(("id", None)));
    assert_eq!(field(|i| i.summary = String::new()), Err(("summary", None)));
    assert_eq!(
        field(|i| i.summary = "a\u{1b}[2Jb".into()),
        Err(("summary", None))
    );
    assert_eq!(
        field(|i| i.summary = "é".repeat(501)),
        Err(("summary", None))
    );
    assert_eq!(field(|i| i.summary = "é".repeat(500)), Ok(()));
    assert_eq!(
        field(|i| i.declared_by = "a b".into()),
        Err(("declared_by", None))
    );
    assert_eq!(
        field(|i| i.discovered_at_micros = Some(i64::MAX)),
        Err(("discovered_at_micros", None))
    );
    let mut inc = declared();
    assert_eq!(
        inc.record(step(t0() - 1, StepKind::Note))
            .map_err(|e| (e.field, e.step)),
        Err(("steps.at_micros", Some(1)))
    );
    assert_eq!(inc.steps.len(), 1, "a refused step is not kept");
    let mut bad = step(t0(), StepKind::Note);
    bad.detail = "two\nlines".into();
    assert_eq!(inc.record(bad).unwrap_err().field, "steps.detail");
    assert_eq!(
        inc.record(step(t0(), StepKind::Declared))
            .unwrap_err()
            .field,
        "steps.kind"
    );
    let wrong_sum = StepKind::AffectedComputed {
        count: 10,
        per_state: BTreeMap::from([("CA".to_owned(), 3)]),
    };
    assert_eq!(
        inc.record(step(t0(), wrong_sum)).unwrap_err().field,
        "steps.kind.per_state"
    );
    inc.record(step(t0() + 1, StepKind::Closed)).unwrap();
    let e = inc.record(step(t0() + 2, StepKind::Note)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "incident `steps.kind` no step may follow `closed`"
    );
}

#[test]
fn json_round_trips_and_refuses_unknown_members() {
    let mut inc = declared();
    inc.record(step(t0() + DAY, affected(&[("CA", 2)])))
        .unwrap();
    let json = serde_json::to_string(&inc).unwrap();
    assert!(json.contains(r#""kind":"declared""#), "{json}");
    assert!(
        json.contains(r#""kind":{"affected_computed":{"count":2,"per_state":{"CA":2}}}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), inc);
    let extra = json.replacen("{\"id\"", "{\"phi\":\"x\",\"id\"", 1);
    assert!(serde_json::from_str::<Incident>(&extra).is_err());
}

#[test]
fn status_renders_as_a_table_and_as_json() {
    let mut inc = declared();
    inc.record(step(t0() + 5 * MINUTE, StepKind::Isolated))
        .unwrap();
    let text = render_text(&inc, t0() + 20 * MINUTE);
    assert!(text.contains("incident  inc-2026-001\n"));
    assert!(text.contains("summary   Honey record read by billing token\n"));
    let row = text.lines().find(|l| l.starts_with("isolate ")).unwrap();
    assert!(row.contains("2026-03-02T10:15:00.000000Z"));
    assert!(row.contains("2026-03-02T10:05:00.000000Z"));
    assert!(row.ends_with(" met"));
    let row = text
        .lines()
        .find(|l| l.starts_with("notify_media "))
        .unwrap();
    assert!(row.ends_with(" pending"));
    assert!(
        text.lines()
            .any(|l| l.contains(" isolated ") && l.contains("responder1"))
    );
    let v = render_json(&inc, t0() + 20 * MINUTE);
    assert_eq!(v["incident"]["id"], "inc-2026-001");
    assert_eq!(v["deadlines"][0]["state"], "met");
    assert_eq!(v["deadlines"][1]["state"], "pending");
    assert_eq!(v["deadlines"][0]["due_at"], "2026-03-02T10:15:00.000000Z");
    assert_eq!(v["deadlines"][2]["met_at"], serde_json::Value::Null);
}
