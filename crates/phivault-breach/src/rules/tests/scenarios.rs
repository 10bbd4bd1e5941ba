//! Each rule on its own scenario, against the background of a normal day.

use phivault_audit::Outcome;

use super::{care, normal_day, rules, run, run_with};
use crate::rules::{Facts, Flag, Rule, RulesConfig, Severity};
use crate::testing::{Build, ev, hms, view};
use crate::util::{MINUTE, SECOND};

/// A normal day with `extra` events merged in time order.
fn day_with(extra: Vec<(phivault_audit::Event, Facts)>) -> Vec<(phivault_audit::Event, Facts)> {
    let mut all = normal_day(0);
    all.extend(extra);
    all.sort_by_key(|(e, _)| e.timestamp.clone());
    for (i, (e, _)) in all.iter_mut().enumerate() {
        e.index = u64::try_from(i).unwrap_or(0);
    }
    all
}

#[test]
fn volume_fires_once_on_a_burst_of_distinct_patients() {
    // Five and a half minutes after one of dr.house's panel views (11:00:07)
    // and well before the next (11:12:07): only the burst is in the window.
    let t0 = hms(11, 5, 30);
    // 120 distinct patients in two minutes by a physician.
    let burst = (0..120)
        .map(|k| {
            (
                view(0, t0 + k * SECOND, "dr.house", &format!("z{k}")),
                care(true),
            )
        })
        .collect();
    let f = run(&day_with(burst));
    assert_eq!(rules(&f), [Rule::Volume]);
    let v = &f[0];
    assert_eq!(v.user, "dr.house");
    assert_eq!(v.severity, Severity::High);
    assert!(!v.isolate);
    assert_eq!(v.patient_id, None);
    // It fired on the 51st distinct patient, once.
    assert!(
        v.detail.starts_with("distinct_patients=51 bulk_records=0 "),
        "{}",
        v.detail
    );
    assert_eq!(v.at_micros, t0 + 50 * SECOND);
}

#[test]
fn volume_counts_distinct_patients_in_a_sliding_window() {
    let t0 = hms(11, 0, 0);
    // 50 distinct patients, each viewed three times: not more than 50.
    let same: Vec<_> = (0..150)
        .map(|k| {
            (
                view(0, t0 + k * SECOND, "dr.x", &format!("p{}", k % 50)),
                care(true),
            )
        })
        .collect();
    assert!(run(&same).is_empty());
    // 100 distinct patients, one every 7 s: at most 43 in any 5 minutes.
    let slow: Vec<_> = (0..100)
        .map(|k| {
            (
                view(0, t0 + k * 7 * SECOND, "dr.x", &format!("p{k}")),
                care(true),
            )
        })
        .collect();
    assert!(run(&slow).is_empty());
    // Denied views are attempts, not disclosures.
    let denied: Vec<_> = (0..60)
        .map(|k| {
            let e = view(0, t0 + k * SECOND, "dr.x", &format!("p{k}")).denied("not_permitted");
            (e, care(true))
        })
        .collect();
    assert!(!rules(&run(&denied)).contains(&Rule::Volume));
}

#[test]
fn volume_adds_search_and_export_counts() {
    let t0 = hms(10, 0, 0);
    let mut events = vec![(
        ev(0, t0, "billing.bob", "exported").count(45),
        Facts::default(),
    )];
    for k in 0..5 {
        events.push((
            view(0, t0 + (k + 1) * SECOND, "billing.bob", &format!("p{k}")),
            care(true),
        ));
    }
    assert!(run(&events).is_empty(), "45 + 5 is not more than 50");
    events.push((
        ev(0, t0 + 10 * SECOND, "billing.bob", "searched").count(1),
        Facts::default(),
    ));
    let f = run(&events);
    assert_eq!(rules(&f), [Rule::Volume]);
    assert!(
        f[0].detail
            .starts_with("distinct_patients=5 bulk_records=46 "),
        "{}",
        f[0].detail
    );
    // A failed export adds nothing.
    let failed = vec![(
        ev(0, t0, "billing.bob", "exported")
            .count(500)
            .outcome(Outcome::Failure),
        Facts::default(),
    )];
    assert!(run(&failed).is_empty());
}

#[test]
fn off_hours_fires_on_night_access_with_the_site_offset() {
    let night = view(0, hms(2, 30, 0), "dr.house", "h1");
    let f = run(&day_with(vec![(night.clone(), care(true))]));
    assert_eq!(rules(&f), [Rule::OffHours]);
    assert_eq!(f[0].patient_id.as_deref(), Some("h1"));
    assert_eq!(f[0].detail, "local_hour=2 learned=false usual=07-19");
    // At UTC-5, 02:30 UTC is 21:30 local: still off hours. 14:00 UTC is
    // 09:00 local: usual.
    let mut cfg = RulesConfig::default();
    cfg.off_hours.utc_offset_minutes = -300;
    let f = run_with(cfg.clone(), &[(night, care(true))]);
    assert_eq!(f[0].detail, "local_hour=21 learned=false usual=07-19");
    let day = view(0, hms(14, 0, 0), "dr.house", "h1");
    assert!(run_with(cfg, &[(day, care(true))]).is_empty());
    // A denied attempt at night is not an access (the denials rule counts it).
    let denied = view(0, hms(2, 30, 0), "dr.house", "h1").denied("not_permitted");
    assert!(run(&[(denied, care(true))]).is_empty());
}

#[test]
fn care_team_fires_on_success_only_and_defers_to_break_glass() {
    let e = view(0, hms(10, 0, 0), "dr.wilson", "h7");
    let f = run(&day_with(vec![(e.clone(), care(false))]));
    assert_eq!(rules(&f), [Rule::CareTeam]);
    assert_eq!(f[0].user, "dr.wilson");
    assert_eq!(f[0].patient_id.as_deref(), Some("h7"));
    assert_eq!(f[0].detail, "action=viewed reason=not_on_care_team");
    assert!(run(&[(e.clone().denied("not_permitted"), care(false))]).is_empty());
    assert!(
        run(&[(e.clone(), Facts::default())]).is_empty(),
        "unknown care team"
    );
    let glass = e.flag("break_glass");
    assert_eq!(rules(&run(&[(glass, care(false))])), [Rule::BreakGlass]);
}

#[test]
fn flagged_records_fire_on_any_outcome() {
    let vip = Facts {
        flag: Some(Flag::Vip),
        on_care_team: Some(true),
        ..Facts::default()
    };
    let e = view(0, hms(10, 0, 0), "nurse.joy", "celebrity").denied("not_permitted");
    let f = run(&day_with(vec![(e, vip)]));
    assert_eq!(rules(&f), [Rule::Flagged]);
    assert_eq!(f[0].detail, "flag=vip action=viewed outcome=denied");
    let staff = Facts {
        flag: Some(Flag::Employee),
        ..Facts::default()
    };
    let e = view(0, hms(10, 0, 0), "nurse.joy", "colleague");
    assert_eq!(
        run(&[(e, staff)])[0].detail,
        "flag=employee action=viewed outcome=success"
    );
}

#[test]
fn denials_fire_per_user_and_per_address() {
    let t0 = hms(13, 0, 0);
    let probe = |k: i64, user: &str, ip: &str| {
        let e = view(0, t0 + k * 30 * SECOND, user, &format!("p{k}")).denied("not_permitted");
        (e.ip(ip), Facts::default())
    };
    // Five denials are tolerated; the sixth fires, once.
    let five: Vec<_> = (0..5).map(|k| probe(k, "mallory", "10.1.1.1")).collect();
    assert!(run(&day_with(five)).is_empty());
    let twelve: Vec<_> = (0..12).map(|k| probe(k, "mallory", "10.1.1.1")).collect();
    let f = run(&day_with(twelve));
    assert_eq!(rules(&f), [Rule::Denials, Rule::Denials]);
    assert!(
        f[0].detail
            .starts_with("by=user denied=6 max=5 window_minutes=10")
    );
    assert!(f[1].detail.starts_with("by=ip denied=6 "));
    assert!(f[0].detail.ends_with("last_reason=not_permitted"));
    // Spread over more than ten minutes: quiet.
    let slow: Vec<_> = (0..12)
        .map(|k| {
            let e = view(0, t0 + k * 3 * MINUTE, "mallory", "p").denied("not_permitted");
            (e, Facts::default())
        })
        .collect();
    assert!(run(&slow).is_empty());
    // Different users from one IPv6 /64: the address fires, no user does.
    let spray: Vec<_> = (0..6)
        .map(|k| probe(k, &format!("u{k}"), &format!("2001:db8:1:2::{k:x}")))
        .collect();
    let f = run(&spray);
    assert_eq!(rules(&f), [Rule::Denials]);
    assert!(f[0].detail.starts_with("by=ip denied=6"));
    // Anonymous failed logins count per address only.
    let logins: Vec<_> = (0..6)
        .map(|k| {
            let e = ev(0, t0 + k * SECOND, "-", "session_opened")
                .denied("authentication_failed")
                .ip(&format!("198.51.100.{k}"));
            (e, Facts::default())
        })
        .collect();
    assert!(run(&logins).is_empty());
}

#[test]
fn break_glass_fires_on_the_grant_and_on_flagged_use() {
    let grant = ev(0, hms(10, 0, 0), "dr.wilson", "custom:break_glass").patient("h3");
    let used = view(0, hms(10, 1, 0), "dr.wilson", "h3").flag("break_glass");
    let other = view(0, hms(10, 2, 0), "dr.wilson", "h4").flag("break_glass");
    let f = run(&day_with(vec![
        (grant, Facts::default()),
        (used, Facts::default()),
        (other, Facts::default()),
    ]));
    assert_eq!(rules(&f), [Rule::BreakGlass, Rule::BreakGlass]);
    assert_eq!(f[0].detail, "action=custom:break_glass outcome=success");
    assert_eq!(
        f[1].patient_id.as_deref(),
        Some("h4"),
        "h3's use was suppressed"
    );
}

#[test]
fn honey_is_critical_and_isolates() {
    let honey = Facts {
        honey: true,
        ..Facts::default()
    };
    let e = view(0, hms(10, 0, 0), "billing.bob", "canary-1")
        .token("pv_abc")
        .ip("10.9.9.9")
        .outcome(Outcome::Failure);
    let f = run(&day_with(vec![(e, honey)]));
    assert_eq!(rules(&f), [Rule::Honey]);
    let h = &f[0];
    assert_eq!(h.severity, Severity::Critical);
    assert!(h.isolate);
    assert_eq!(h.token.as_deref(), Some("pv_abc"));
    assert_eq!(h.ip, "10.9.9.9");
    assert_eq!(h.detail, "action=viewed outcome=failure");
    // With the threshold lowered to high, a care-team finding isolates too.
    let cfg = RulesConfig {
        auto_isolate_at: Severity::High,
        ..RulesConfig::default()
    };
    let e = view(0, hms(10, 0, 0), "dr.wilson", "h7");
    assert!(run_with(cfg, &[(e, care(false))])[0].isolate);
}

#[test]
fn disabled_rules_stay_quiet() {
    let mut cfg = RulesConfig::default();
    cfg.honey.enabled = false;
    cfg.off_hours.enabled = false;
    let honey = Facts {
        honey: true,
        ..Facts::default()
    };
    let e = view(0, hms(3, 0, 0), "dr.house", "canary-1");
    assert!(run_with(cfg, &[(e, honey)]).is_empty());
}
