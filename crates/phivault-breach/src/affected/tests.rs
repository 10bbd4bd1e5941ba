use std::collections::BTreeMap;

use phivault_audit::Outcome;

use super::*;
use crate::testing::{Build, ev, hms, view};

fn stream() -> Vec<Event> {
    let mut v = vec![
        // Before the window.
        view(0, hms(7, 59, 59), "mallory", "p0"),
        // In the window: views, a repeat with other fields, a write.
        view(0, hms(8, 0, 0), "mallory", "p1"),
        view(0, hms(8, 5, 0), "mallory", "p1").fields(&["ssn"]),
        view(0, hms(8, 6, 0), "mallory", "p2").token("pv_00000000000000aa"),
        ev(0, hms(8, 7, 0), "mallory", "modified")
            .patient("p3")
            .fields(&["address"]),
        // Attempts only.
        view(0, hms(8, 8, 0), "mallory", "p4").denied("not_permitted"),
        view(0, hms(8, 9, 0), "mallory", "p4").outcome(Outcome::Failure),
        // A disclosure after a denial.
        view(0, hms(8, 10, 0), "mallory", "p5").denied("not_permitted"),
        view(0, hms(8, 11, 0), "mallory", "p5"),
        // A break-glass grant discloses nothing by itself.
        ev(0, hms(8, 12, 0), "mallory", "custom:break_glass").patient("p6"),
        // Bulk results without patient ids.
        ev(0, hms(8, 13, 0), "mallory", "exported").count(40),
        ev(0, hms(8, 14, 0), "mallory", "searched").count(3),
        ev(0, hms(8, 15, 0), "mallory", "searched")
            .count(9)
            .denied("not_permitted"),
        // Somebody else, inside the window.
        view(0, hms(8, 30, 0), "dr.house", "p7"),
        view(0, hms(8, 31, 0), "dr.house", "p1"),
        // After the window.
        view(0, hms(9, 0, 1), "mallory", "p8"),
    ];
    let mut bad = view(0, hms(8, 40, 0), "mallory", "p9");
    bad.timestamp = "garbled".into();
    v.push(bad);
    for (i, e) in v.iter_mut().enumerate() {
        e.index = i as u64;
    }
    v
}

fn query(actor: Actor) -> AffectedQuery {
    AffectedQuery {
        actor,
        since_micros: hms(8, 0, 0),
        until_micros: hms(9, 0, 0),
    }
}

fn state(p: &str) -> Option<String> {
    match p {
        "p1" | "p2" => Some("CA".into()),
        "p3" => Some("NV".into()),
        _ => None,
    }
}

#[test]
fn the_list_is_exact_for_the_actor_and_window() {
    let events = stream();
    let list = affected(&events, &query(Actor::User("mallory".into())));
    let ids: Vec<_> = list.entries.keys().map(String::as_str).collect();
    assert_eq!(ids, ["p1", "p2", "p3", "p4", "p5", "p6", "p9"]);
    let access: Vec<_> = list.entries.values().map(|e| e.access()).collect();
    use Access::*;
    assert_eq!(
        access,
        [
            Disclosed, Disclosed, Modified, Attempted, Disclosed, Other, Disclosed
        ]
    );
    let p1 = &list.entries["p1"];
    assert_eq!(p1.events, 2, "dr.house's view of p1 is not mallory's");
    let fields: Vec<_> = p1.fields.iter().map(String::as_str).collect();
    assert_eq!(fields, ["dob", "name", "ssn"]);
    assert_eq!(
        (p1.first_access_micros, p1.last_access_micros),
        (Some(hms(8, 0, 0)), Some(hms(8, 5, 0)))
    );
    let p4 = &list.entries["p4"];
    assert!(p4.fields.is_empty() && !p4.compromised() && p4.attempts == 2);
    let p5 = &list.entries["p5"];
    assert_eq!((p5.events, p5.disclosures, p5.attempts), (2, 1, 1));
    let p9 = &list.entries["p9"];
    assert_eq!(
        (p9.first_access_micros, p9.events),
        (None, 1),
        "untimed, yet included"
    );
    assert_eq!(list.untimed_events, 1);
    assert_eq!(
        list.unattributed,
        Unattributed {
            events: 2,
            records: 43
        }
    );
    assert!(list.incomplete());
    assert_eq!(list.events, 13);
    let compromised: Vec<_> = list.compromised().map(|e| e.patient_id.as_str()).collect();
    assert_eq!(compromised, ["p1", "p2", "p3", "p5", "p9"]);
}

#[test]
fn token_and_network_actors() {
    let events = stream();
    let by_token = affected(&events, &query(Actor::Token("pv_00000000000000aa".into())));
    assert_eq!(by_token.entries.keys().collect::<Vec<_>>(), ["p2"]);
    let mut events = stream();
    events[14].context.ip = "::ffff:192.0.2.44".into();
    let net = Actor::Ip("192.0.2.0/24".parse().unwrap());
    let by_net = affected(&events, &query(net));
    assert_eq!(by_net.entries.keys().collect::<Vec<_>>(), ["p1"]);
    assert_eq!(by_net.entries["p1"].events, 1);
}

#[test]
fn per_state_csv_and_thresholds() {
    let events = stream();
    let list = affected(&events, &query(Actor::User("mallory".into())));
    let per = list.per_state(state);
    assert_eq!(
        per,
        BTreeMap::from([("CA".into(), 2), ("NV".into(), 1), ("unknown".into(), 2)])
    );
    let csv = list.to_csv(state);
    let lines: Vec<_> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "patient_id,state,fields,first_access,last_access,events,disclosed"
    );
    assert_eq!(
        lines[1],
        "p1,CA,dob;name;ssn,2026-03-02T08:00:00.000000Z,2026-03-02T08:05:00.000000Z,2,yes"
    );
    assert_eq!(
        lines[3],
        "p3,NV,address,2026-03-02T08:07:00.000000Z,2026-03-02T08:07:00.000000Z,1,modified"
    );
    assert_eq!(
        lines[4],
        "p4,unknown,,2026-03-02T08:08:00.000000Z,2026-03-02T08:09:00.000000Z,2,attempted"
    );
    assert_eq!(lines[7], "p9,unknown,dob;name,,,1,yes");
    assert_eq!(lines.len(), 9, "header, seven rows, final empty piece");
    let n = list.notifications(state);
    assert_eq!(
        (n.individuals, n.hhs_immediate, n.media_states.len()),
        (5, false, 0)
    );
    assert_eq!(
        list.step_kind(state),
        StepKind::AffectedComputed {
            count: 5,
            per_state: per
        }
    );
}

#[test]
fn notification_thresholds_are_500_total_and_over_500_in_a_state() {
    let many: Vec<_> = (0..501)
        .map(|k| view(k, hms(8, 30, 0), "mallory", &format!("q{k}")))
        .collect();
    let list = affected(&many, &query(Actor::User("mallory".into())));
    let n = list.notifications(|_| Some("TX".into()));
    assert!(n.hhs_immediate);
    assert_eq!(n.media_states, ["TX"]);
    let n = list.notifications(|p| Some(if p == "q0" { "OK" } else { "TX" }.into()));
    assert!(
        n.hhs_immediate && n.media_states.is_empty(),
        "500 in TX is not more than 500"
    );
    let list = affected(&many[..499], &query(Actor::User("mallory".into())));
    assert!(!list.notifications(|_| None).hhs_immediate);
}
