//! Suppression, learning, time handling, memory bounds and configuration.

use super::{care, normal_days, rules, run, run_with};
use crate::rules::{ConfigError, Detector, Facts, Rule, RulesConfig};
use crate::testing::{Build, hms, view};
use crate::util::{DAY, MINUTE, SECOND};

#[test]
fn suppression_gives_one_alert_per_subject_per_window() {
    let t0 = hms(10, 0, 0);
    let e = |k: i64, p: &str| (view(0, t0 + k * MINUTE, "dr.wilson", p), care(false));
    // The same patient every minute for two hours: one finding per hour.
    let same: Vec<_> = (0..120).map(|k| e(k, "h7")).collect();
    let f = run(&same);
    assert_eq!(rules(&f), [Rule::CareTeam, Rule::CareTeam]);
    assert_eq!(f[1].at_micros - f[0].at_micros, 60 * MINUTE);
    // Another patient is another subject.
    let two = vec![e(0, "h7"), e(1, "h8"), e(2, "h7")];
    assert_eq!(run(&two).len(), 2);
}

#[test]
fn volume_fires_again_after_its_window() {
    let burst = |start: i64| {
        (0..60).map(move |k| {
            let e = view(0, start + k * SECOND, "dr.x", &format!("p{start}-{k}"));
            (e, care(true))
        })
    };
    let t0 = hms(10, 0, 0);
    let events: Vec<_> = burst(t0)
        .chain(burst(t0 + 2 * MINUTE))
        .chain(burst(t0 + 10 * MINUTE))
        .collect();
    let f = run(&events);
    assert_eq!(rules(&f), [Rule::Volume, Rule::Volume]);
    assert_eq!(f[1].at_micros, t0 + 10 * MINUTE + 50 * SECOND);
}

#[test]
fn night_shift_is_learned_and_then_day_access_stands_out() {
    let mut cfg = RulesConfig::default();
    cfg.off_hours.learn_after = 50;
    let mut d = Detector::new(cfg);
    let mut fired = 0;
    // Ten nights of 20:00-04:00 work, one access every 24 minutes.
    for night in 0..10 {
        for k in 0..20 {
            let at = hms(20, 0, 0) + night * DAY + k * 24 * MINUTE;
            let f = d.observe(&view(0, at, "nurse.owl", "w1"), &care(true));
            fired += f.len();
        }
    }
    // Before learning: one finding per night hour block (suppressed for an
    // hour); after 50 accesses, the night is usual and nothing fires.
    assert!(fired > 0);
    let late = hms(21, 0, 0) + 9 * DAY + DAY;
    let f = d.observe(&view(0, late, "nurse.owl", "w1"), &care(true));
    assert!(f.is_empty(), "learned: {f:?}");
    // Noon was never seen: unusual for this user even inside 07-19.
    let noon = hms(12, 0, 0) + 11 * DAY;
    let f = d.observe(&view(0, noon, "nurse.owl", "w1"), &care(true));
    assert_eq!(rules(&f), [Rule::OffHours]);
    assert_eq!(f[0].detail, "local_hour=12 learned=true share_per_mille=0");
}

#[test]
fn time_never_goes_back() {
    let mut d = Detector::new(RulesConfig::default());
    let t0 = hms(10, 0, 0);
    let late = view(1, t0 + MINUTE, "dr.wilson", "h7");
    let mut early = view(2, t0, "dr.wilson", "h8");
    assert_eq!(d.observe(&late, &care(false))[0].at_micros, t0 + MINUTE);
    assert_eq!(d.observe(&early, &care(false))[0].at_micros, t0 + MINUTE);
    early.timestamp = "not a time".into();
    early.patient_id = Some("h9".into());
    let f = d.observe(&early, &care(false));
    assert_eq!((f[0].at_micros, f[0].event_index), (t0 + MINUTE, 2));
}

#[test]
fn memory_is_bounded_and_idle_users_are_forgotten() {
    let mut cfg = RulesConfig::default();
    cfg.limits.max_users = 100;
    cfg.limits.max_ips = 50;
    cfg.limits.idle_days = 1;
    let mut d = Detector::new(cfg);
    let t0 = hms(10, 0, 0);
    for k in 0..1000 {
        let e = view(0, t0 + k * SECOND, &format!("u{k}"), "p")
            .denied("not_permitted")
            .ip(&format!("10.2.{}.{}", k / 250, k % 250));
        d.observe(&e, &Facts::default());
        assert!(d.tracked_users() <= 100 && d.tracked_ips() <= 50);
    }
    assert_eq!(d.tracked_users(), 100);
    // Two days later, a sweep (every 4096 events) forgets the idle ones.
    let later = t0 + 2 * DAY;
    for k in 0..4096 {
        d.observe(&view(0, later + k, "active", "p"), &care(true));
    }
    assert_eq!(d.tracked_users(), 1);
    assert_eq!(d.tracked_ips(), 0);
}

#[test]
fn per_user_patient_memory_is_capped_yet_still_fires() {
    let mut d = Detector::new(RulesConfig::default());
    let t0 = hms(10, 0, 0);
    let mut fired = Vec::new();
    for k in 0..10_000 {
        let e = view(0, t0 + k * 10_000, "dr.bulk", &format!("p{k}"));
        fired.extend(d.observe(&e, &care(true)));
    }
    // 10 000 patients in 100 s: one finding (suppressed for the window).
    assert_eq!(rules(&fired), [Rule::Volume]);
}

#[test]
fn learning_over_normal_days_stays_quiet() {
    // With one full day's accesses as the threshold, the nurse (160 a day)
    // is judged by her learned hours from day 1, the physicians (45 a day)
    // from day 3; their whole shifts have been seen by then.
    let mut cfg = RulesConfig::default();
    cfg.off_hours.learn_after = 160;
    assert!(run_with(cfg, &normal_days(5)).is_empty());
}

#[test]
fn config_defaults_parse_and_validation_names_the_field() {
    let cfg = RulesConfig::default();
    assert_eq!(cfg.validate(), Ok(()));
    assert_eq!(cfg.volume.max_records, 50);
    assert_eq!(cfg.honey.severity, crate::rules::Severity::Critical);
    let parsed: RulesConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(parsed, cfg);
    let parsed: RulesConfig =
        serde_json::from_str(r#"{"volume":{"max_records":10},"auto_isolate_at":"high"}"#).unwrap();
    assert_eq!(
        (parsed.volume.max_records, parsed.volume.window_minutes),
        (10, 5)
    );
    assert!(serde_json::from_str::<RulesConfig>(r#"{"volume":{"max":1}}"#).is_err());
    assert!(serde_json::from_str::<RulesConfig>(r#"{"honeypot":{}}"#).is_err());
    assert!(serde_json::from_str::<RulesConfig>(r#"{"auto_isolate_at":"urgent"}"#).is_err());
    let bad = |f: fn(&mut RulesConfig)| {
        let mut c = RulesConfig::default();
        f(&mut c);
        c.validate().map_err(|e: ConfigError| e.field)
    };
    assert_eq!(bad(|c| c.volume.max_records = 0), Err("volume.max_records"));
    assert_eq!(
        bad(|c| c.volume.window_minutes = 0),
        Err("volume.window_minutes")
    );
    assert_eq!(
        bad(|c| c.off_hours.usual_start_hour = 24),
        Err("off_hours.usual_start_hour")
    );
    assert_eq!(
        bad(|c| c.off_hours.usual_end_hour = 7),
        Err("off_hours.usual_end_hour")
    );
    assert_eq!(
        bad(|c| c.off_hours.min_share = f64::NAN),
        Err("off_hours.min_share")
    );
    assert_eq!(
        bad(|c| c.off_hours.utc_offset_minutes = 900),
        Err("off_hours.utc_offset_minutes")
    );
    assert_eq!(
        bad(|c| c.off_hours.learn_after = 0),
        Err("off_hours.learn_after")
    );
    assert_eq!(bad(|c| c.denials.max = 0), Err("denials.max"));
    assert_eq!(
        bad(|c| c.honey.suppress_minutes = 0),
        Err("honey.suppress_minutes")
    );
    assert_eq!(bad(|c| c.limits.max_users = 0), Err("limits.max_users"));
    let msg = bad(|c| c.volume.max_records = 0);
    assert!(msg.is_err());
    let mut c = RulesConfig::default();
    c.denials.window_minutes = 2000;
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "rules config `denials.window_minutes` must be between 1 and 1440 minutes"
    );
    // Overnight windows are allowed.
    let mut c = RulesConfig::default();
    c.off_hours.usual_start_hour = 19;
    c.off_hours.usual_end_hour = 7;
    assert_eq!(c.validate(), Ok(()));
}
