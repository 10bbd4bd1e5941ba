//! Decision tests: behaviour and properties.

use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;

fn role(json: &str) -> Arc<Role> {
    Arc::new(Role::from_json(json).unwrap())
}

fn user(roles: Vec<Arc<Role>>) -> Principal {
    Principal {
        id: "alice".into(),
        token_id: "t".into(),
        admin: false,
        roles,
    }
}

fn res(collection: &str, relation: Relation) -> Resource<'_> {
    Resource {
        collection,
        record: Some("00000000-0000-4000-8000-000000000000"),
        relation,
    }
}

fn ctx(ip: &str, now: &str) -> RequestContext {
    RequestContext {
        ip: ip.parse::<IpAddr>().unwrap(),
        now: now.parse().unwrap(),
    }
}

// 2026-11-23 is a Monday.
const MONDAY_NOON: &str = "2026-11-23T12:00:00Z";

fn decide(p: &Principal, a: Action, r: Resource<'_>, c: &RequestContext) -> Decision {
    authorize(p, &a, r, c)
}

#[test]
fn constraints_decide_with_their_reason() {
    let nurse = role(
        r#"{"role": "nurse", "permissions": ["view:patients", "search:patients"],
            "constraints": {"temporal": "08:00-18:00 Mon-Fri", "ip_range": ["10.1.0.0/16", "2001:db8::/32"]}}"#,
    );
    let u = user(vec![nurse]);
    let r = res("patients", Relation::default());
    assert!(decide(&u, Action::View, r, &ctx("10.1.2.3", MONDAY_NOON)).is_allow());
    assert!(decide(&u, Action::View, r, &ctx("2001:db8::7", MONDAY_NOON)).is_allow());
    assert_eq!(
        decide(&u, Action::View, r, &ctx("10.2.0.1", MONDAY_NOON)),
        Decision::Deny(DenyReason::IpNotAllowed {
            role: "nurse".into()
        })
    );
    assert_eq!(
        decide(
            &u,
            Action::View,
            r,
            &ctx("10.1.2.3", "2026-11-23T18:00:00Z")
        ),
        Decision::Deny(DenyReason::OutsideTimeWindow {
            role: "nurse".into()
        })
    );
    assert_eq!(
        decide(&u, Action::Delete, r, &ctx("10.1.2.3", MONDAY_NOON)),
        Decision::Deny(DenyReason::NoPermission)
    );
    assert_eq!(
        decide(
            &u,
            Action::View,
            res("encounters", Relation::default()),
            &ctx("10.1.2.3", MONDAY_NOON)
        ),
        Decision::Deny(DenyReason::NoPermission)
    );
}

#[test]
fn care_team_and_break_glass() {
    let doc = role(
        r#"{"role": "physician", "permissions": ["view:patients"], "care_team_only": true, "break_glass": true}"#,
    );
    let u = user(vec![doc]);
    let c = ctx("127.0.0.1", MONDAY_NOON);
    let on = Relation {
        patient: true,
        on_care_team: true,
        break_glass: false,
    };
    let off = Relation {
        patient: true,
        on_care_team: false,
        break_glass: false,
    };
    let glass = Relation {
        patient: true,
        on_care_team: false,
        break_glass: true,
    };
    let Decision::Allow { grant, .. } = decide(&u, Action::View, res("patients", on), &c) else {
        panic!("care-team member denied");
    };
    assert!(grant.care_team_only() && !grant.is_break_glass());
    assert_eq!(
        decide(&u, Action::View, res("patients", off), &c),
        Decision::Deny(DenyReason::NotOnCareTeam {
            role: "physician".into()
        })
    );
    let Decision::Allow { grant, reason } = decide(&u, Action::View, res("patients", glass), &c)
    else {
        panic!("break-glass denied");
    };
    assert!(grant.is_break_glass());
    assert!(reason.contains("break-glass"));
    // Break-glass opens viewing only, and only for roles that may use it.
    assert!(!decide(&u, Action::Delete, res("patients", glass), &c).is_allow());
    let clerk = user(vec![role(
        r#"{"role": "clerk", "permissions": ["view:patients"], "care_team_only": true}"#,
    )]);
    assert!(!decide(&clerk, Action::View, res("patients", glass), &c).is_allow());
}

#[test]
fn fields_take_the_widest_visibility_of_the_allowing_roles() {
    let desk = role(
        r#"{"role": "front-desk", "permissions": ["view:patients"],
            "fields": {"patients": {"masked": ["ssn", "birth_date"], "hidden": ["notes"]}}}"#,
    );
    let billing = role(
        r#"{"role": "billing", "permissions": ["view:patients"],
            "fields": {"patients": {"hidden": ["notes", "birth_date"]}}}"#,
    );
    let c = ctx("127.0.0.1", MONDAY_NOON);
    let r = res("patients", Relation::default());
    let Decision::Allow { grant, .. } = decide(&user(vec![desk.clone()]), Action::View, r, &c)
    else {
        panic!("denied");
    };
    assert_eq!(grant.visibility("ssn"), Visibility::Masked);
    assert_eq!(grant.visibility("notes"), Visibility::Hidden);
    assert_eq!(grant.visibility("name"), Visibility::Full);
    assert!(!grant.may_search("ssn"));
    assert!(grant.may_search("mrn"));
    let Decision::Allow { grant, .. } = decide(&user(vec![desk, billing]), Action::View, r, &c)
    else {
        panic!("denied");
    };
    // billing shows ssn in full; desk shows birth_date masked; both hide notes.
    assert_eq!(grant.visibility("ssn"), Visibility::Full);
    assert_eq!(grant.visibility("birth_date"), Visibility::Masked);
    assert_eq!(grant.visibility("notes"), Visibility::Hidden);
}

#[test]
fn an_explicit_admin_role_may_use_wildcards() {
    let ops = role(r#"{"role": "ops-admin", "admin": true, "permissions": ["*:patients"]}"#);
    let u = user(vec![ops]);
    let c = ctx("127.0.0.1", MONDAY_NOON);
    assert!(decide(&u, Action::Delete, res("patients", Relation::default()), &c).is_allow());
    assert!(
        !decide(
            &u,
            Action::Delete,
            res("encounters", Relation::default()),
            &c
        )
        .is_allow()
    );
}

fn verbs() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "view", "create", "modify", "delete", "search", "export", "annotate",
    ])
}

fn action(v: &str) -> Action {
    match v {
        "view" => Action::View,
        "create" => Action::Create,
        "modify" => Action::Modify,
        "delete" => Action::Delete,
        "search" => Action::Search,
        "export" => Action::Export,
        other => Action::Custom(other.to_owned()),
    }
}

proptest! {
    /// A matching denial wins over any set of permissions.
    #[test]
    fn deny_overrides_allow(verb in verbs(), others in prop::collection::vec(verbs(), 0..5)) {
        let mut perms: Vec<String> = others.iter().map(|v| format!("\"{v}:patients\"")).collect();
        perms.push(format!("\"{verb}:patients\""));
        let allow = role(&format!(r#"{{"role": "a", "permissions": [{}]}}"#, perms.join(",")));
        let deny = role(&format!(r#"{{"role": "d", "deny": ["{verb}:patients"]}}"#));
        let c = ctx("127.0.0.1", MONDAY_NOON);
        for roles in [vec![allow.clone(), deny.clone()], vec![deny, allow]] {
            let d = decide(&user(roles), action(verb), res("patients", Relation::default()), &c);
            let denied = matches!(d, Decision::Deny(DenyReason::Denied { .. }));
            prop_assert!(denied);
        }
    }

    /// Without a permission for the verb, the answer is deny, whatever else the roles hold.
    #[test]
    fn no_permission_means_deny(verb in verbs(), others in prop::collection::vec(verbs(), 0..6)) {
        let perms: Vec<String> = others
            .iter()
            .filter(|v| **v != verb)
            .map(|v| format!("\"{v}:patients\", \"{verb}:encounters\""))
            .collect();
        let r = role(&format!(r#"{{"role": "a", "permissions": [{}], "break_glass": true}}"#, perms.join(",")));
        let c = ctx("127.0.0.1", MONDAY_NOON);
        let d = decide(&user(vec![r]), action(verb), res("patients", Relation::default()), &c);
        prop_assert_eq!(d, Decision::Deny(DenyReason::NoPermission));
    }

    /// Window edges: the start minute is inside, the end minute is outside.
    #[test]
    fn window_edges(start in 0u16..1439, len in 1u16..1439, tz in prop::sample::select(vec!["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"])) {
        let end = (start + len) % 1440;
        prop_assume!(end != start);
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let r = role(&format!(
            r#"{{"role": "a", "permissions": ["view:patients"], "timezone": "{tz}",
                "constraints": {{"temporal": "{}-{}"}}}}"#, hm(start), hm(end)));
        let zone = jiff::tz::TimeZone::get(tz).unwrap();
        // A day without DST changes in any of these zones.
        let day = jiff::civil::date(2026, 6, 15);
        let at = |m: u16| {
            let t = jiff::civil::time(i8::try_from(m / 60).unwrap(), i8::try_from(m % 60).unwrap(), 0, 0);
            day.to_datetime(t).to_zoned_datetime(zone.clone()).unwrap().timestamp()
        };
        let u = user(vec![r]);
        let ok = |m: u16| decide(&u, Action::View, res("patients", Relation::default()),
            &RequestContext { ip: IpAddr::from([127, 0, 0, 1]), now: at(m) }).is_allow();
        prop_assert!(ok(start));
        prop_assert!(!ok(end));
        if len > 1 { prop_assert!(ok((start + 1) % 1440)); }
        prop_assert!(!ok((end + 1) % 1440) || len == 1439);
    }
}

proptest! {
    /// Around daylight-saving changes, a window follows local wall-clock time:
    /// for instants within a day of each 2026 transition in New York and
    /// Berlin, the decision matches the local time of the instant.
    #[test]
    fn windows_follow_wall_clock_across_dst(
        start in 0u16..1380,
        len in 1u16..60,
        offset_min in 0i64..(3 * 1440),
        zone in prop::sample::select(vec![
            ("America/New_York", "2026-03-07T05:00:00Z"),
            ("America/New_York", "2026-10-31T04:00:00Z"),
            ("Europe/Berlin", "2026-03-28T00:00:00Z"),
            ("Europe/Berlin", "2026-10-24T23:00:00Z"),
        ]),
    ) {
        let (tz_name, base) = zone;
        let end = start + len;
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let r = role(&format!(
            r#"{{"role": "a", "permissions": ["view:patients"], "timezone": "{tz_name}",
                "constraints": {{"temporal": "{}-{}"}}}}"#, hm(start), hm(end)));
        let base: jiff::Timestamp = base.parse().unwrap();
        let at = base.checked_add(jiff::SignedDuration::from_mins(offset_min)).unwrap();
        let local = at.to_zoned_datetime(jiff::tz::TimeZone::get(tz_name).unwrap());
        let minute = u16::try_from(local.hour()).unwrap() * 60 + u16::try_from(local.minute()).unwrap();
        let want = minute >= start && minute < end;
        let got = decide(&user(vec![r]), Action::View, res("patients", Relation::default()),
            &RequestContext { ip: IpAddr::from([127, 0, 0, 1]), now: at }).is_allow();
        prop_assert_eq!(got, want);
    }
}
