use super::*;

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn times() -> DrillTimes {
    let t0 = 1_000_000_000_000;
    DrillTimes {
        started: t0,
        detected: Some(t0 + 2 * SECOND),
        isolated: Some(t0 + 2 * SECOND + 400_000),
        alerted: Some(t0 + 3 * SECOND),
        finished: t0 + 40 * SECOND,
    }
}

#[test]
fn a_good_drill_passes_every_target() {
    let s = score(&times(), &set(&["p1", "p2"]), &set(&["p1", "p2"])).unwrap();
    assert_eq!(s.time_to_detect_micros, Some(2 * SECOND));
    assert_eq!(s.time_to_isolate_micros, Some(400_000));
    assert_eq!(s.time_to_alert_micros, Some(SECOND));
    assert_eq!(s.whole_micros, 40 * SECOND);
    assert!(s.targets.iter().all(|t| t.pass));
    assert!(s.affected_matches && s.passed);
    let md = s.to_markdown();
    assert!(md.contains("**Result: PASS**"));
    assert!(md.contains("| isolate | 1.000 s | 0.400 s | pass |"));
    let j = s.to_json();
    assert_eq!(j["targets"][0]["name"], "detect");
    assert_eq!(j["passed"], true);
    assert_eq!(j["time_to_isolate_micros"], 400_000);
}

#[test]
fn each_target_fails_on_its_own() {
    let all = set(&["p1"]);
    let mut t = times();
    t.detected = Some(t.started + 5 * SECOND + 1);
    t.isolated = t.detected;
    t.alerted = t.detected;
    let s = score(&t, &all, &all).unwrap();
    assert_eq!(
        s.targets.iter().map(|r| r.pass).collect::<Vec<_>>(),
        [false, true, true]
    );
    assert!(!s.passed);
    let mut t = times();
    t.isolated = t.detected.map(|d| d + SECOND + 1);
    let s = score(&t, &all, &all).unwrap();
    assert_eq!(
        s.targets.iter().map(|r| r.pass).collect::<Vec<_>>(),
        [true, false, true]
    );
    let mut t = times();
    t.finished = t.started + 61 * SECOND;
    let s = score(&t, &all, &all).unwrap();
    assert_eq!(
        s.targets.iter().map(|r| r.pass).collect::<Vec<_>>(),
        [true, true, false]
    );
    // Never detected: detect and isolate fail, and the markdown says never.
    let mut t = times();
    t.detected = None;
    let s = score(&t, &all, &all).unwrap();
    assert_eq!(
        s.targets.iter().map(|r| r.pass).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert!(
        s.to_markdown()
            .contains("| detect | 5.000 s | never | fail |")
    );
    // No alert: every target met, yet the drill fails.
    let mut t = times();
    t.alerted = None;
    let s = score(&t, &all, &all).unwrap();
    assert!(s.targets.iter().all(|r| r.pass) && !s.passed);
}

#[test]
fn affected_mismatches_are_listed_both_ways() {
    let s = score(
        &times(),
        &set(&["p1", "p2", "p3"]),
        &set(&["p2", "p3", "p9"]),
    )
    .unwrap();
    assert!(!s.affected_matches && !s.passed);
    assert_eq!(
        (s.missing.as_slice(), s.unexpected.as_slice()),
        (&["p1".to_owned()][..], &["p9".to_owned()][..])
    );
    let md = s.to_markdown();
    assert!(md.contains("- **Missed (1):** p1\n"));
    assert!(md.contains("- **Unexpected (1):** p9\n"));
    let many: BTreeSet<String> = (0..25).map(|k| format!("q{k:02}")).collect();
    let md = score(&times(), &many, &BTreeSet::new())
        .unwrap()
        .to_markdown();
    assert!(md.contains("q19 and 5 more"));
}

#[test]
fn inconsistent_times_name_the_field() {
    let mut t = times();
    t.detected = Some(t.started - 1);
    assert_eq!(score(&t, &set(&[]), &set(&[])), Err(DrillError("detected")));
    let mut t = times();
    t.isolated = Some(t.started + SECOND);
    assert_eq!(score(&t, &set(&[]), &set(&[])), Err(DrillError("isolated")));
    let mut t = times();
    t.finished = t.started + SECOND;
    assert_eq!(
        score(&t, &set(&[]), &set(&[])).unwrap_err().to_string(),
        "drill time `finished` is before the stage it follows"
    );
}
