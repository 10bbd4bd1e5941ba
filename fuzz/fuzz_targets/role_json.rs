//! Role and policy JSON (`phivault_core::policy::Role::from_json`), as read
//! from the `policies/` directory: one role object or an array of them, each
//! re-serialized and parsed on its own (as the server's loader does).
//!
//! Asserts:
//! - a role that parses from the text also parses, identically, from the
//!   text re-serialized through `serde_json::Value` (what the directory
//!   loader stores and parses again);
//! - "no permission means deny": for a non-admin principal holding only
//!   this role, every allowed action on a collection is covered by one of
//!   the role's permissions (no break-glass relation is given), and the
//!   grant shows every field exactly as the role does.
#![no_main]

use std::net::IpAddr;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use phivault_core::policy::{
    Action, Decision, Principal, Relation, RequestContext, Resource, Role, authorize,
};

fn check(text: &str) {
    let Ok(role) = Role::from_json(text) else {
        return;
    };
    let again = serde_json::from_str::<serde_json::Value>(text)
        .map(|v| v.to_string())
        .expect("text that parsed as a role is JSON");
    let role2 = Role::from_json(&again).expect("a re-serialized role parses");
    assert_eq!(format!("{role:?}"), format!("{role2:?}"));

    let principal = Principal {
        id: "u1".into(),
        token_id: "t1".into(),
        admin: false,
        roles: vec![Arc::new(role.clone())],
    };
    let ctx = RequestContext {
        ip: IpAddr::from([192, 168, 1, 10]),
        now: jiff::Timestamp::from_second(1_795_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    };
    let mut collections: Vec<String> = vec!["patients".into(), "studies".into(), "x".into()];
    let mut verbs: Vec<String> = vec![];
    for p in role.permissions() {
        let s = p.to_string();
        if let Some((v, c)) = s.split_once(':') {
            verbs.push(v.to_owned());
            collections.push(c.to_owned());
        }
    }
    let mut actions = vec![Action::View, Action::Create, Action::Delete, Action::Search];
    actions.extend(
        verbs
            .into_iter()
            .filter(|v| v != "session" && v != "break_glass" && v != "*")
            .map(Action::Custom),
    );
    for coll in &collections {
        for action in &actions {
            let resource = Resource {
                collection: coll,
                record: Some("r1"),
                relation: Relation {
                    patient: true,
                    on_care_team: true,
                    break_glass: false,
                },
            };
            if let Decision::Allow { grant, .. } = authorize(&principal, action, resource, &ctx) {
                assert!(
                    role.permissions().any(|p| p.matches(action.verb(), coll)),
                    "allowed without a permission"
                );
                for field in ["ssn", "notes", "name"] {
                    assert_eq!(grant.visibility(field), role.visibility(coll, field));
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    // A policy file may hold an array of roles.
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(text) {
        for item in items.iter().take(8) {
            check(&item.to_string());
        }
    }
});
