//! Criterion: one authorization decision with 1,000 roles defined and
//! 100,000 users holding 1-3 of them each (roles carry time windows, IP
//! ranges and field rules). Also prints the p50/p99 of single decisions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use phivault_core::policy::{
    Action, Principal, Relation, RequestContext, Resource, Role, authorize,
};

const ROLES: usize = 1_000;
const USERS: usize = 100_000;

fn setup() -> Vec<Principal> {
    let verbs = ["view", "search", "create", "modify"];
    let roles: Vec<Arc<Role>> = (0..ROLES)
        .map(|i| {
            let json = format!(
                r#"{{"role": "role-{i}", "permissions": ["{}:patients", "{}:encounters", "annotate:studies-{i}"],
                    "constraints": {{"temporal": "07:00-19:00 Mon-Fri, 09:00-13:00 Sat", "ip_range": ["10.{}.0.0/16", "2001:db8:{:x}::/48"]}},
                    "timezone": "America/New_York", "care_team_only": {},
                    "fields": {{"patients": {{"masked": ["ssn"], "hidden": ["notes"]}}}}}}"#,
                verbs[i % 4],
                verbs[(i + 1) % 4],
                i % 256,
                i,
                i % 3 == 0
            );
            Arc::new(Role::from_json(&json).unwrap())
        })
        .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..USERS)
        .map(|u| {
            let n = 1 + (next() % 3) as usize;
            Principal {
                id: format!("user-{u}"),
                token_id: format!("t{u}"),
                admin: false,
                roles: (0..n)
                    .map(|_| Arc::clone(&roles[(next() % ROLES as u64) as usize]))
                    .collect(),
            }
        })
        .collect()
}

fn decisions(c: &mut Criterion) {
    let users = setup();
    let ctx = RequestContext {
        ip: "10.7.1.2".parse::<IpAddr>().unwrap(),
        now: "2026-11-23T15:00:00Z".parse().unwrap(),
    };
    let res = Resource {
        collection: "patients",
        record: Some("00000000-0000-4000-8000-000000000000"),
        relation: Relation {
            patient: true,
            on_care_team: true,
            break_glass: false,
        },
    };
    // Distribution of single decisions over every user.
    let mut times: Vec<u128> = users
        .iter()
        .map(|u| {
            let t = Instant::now();
            black_box(authorize(black_box(u), &Action::View, res, &ctx));
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    println!(
        "authorize over {USERS} users / {ROLES} roles: p50 {} ns, p99 {} ns, max {} ns",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1]
    );
    let mut i = 0usize;
    c.bench_function("authorize (1,000 roles, 100,000 users)", |b| {
        b.iter(|| {
            i = (i + 7919) % USERS;
            authorize(black_box(&users[i]), &Action::View, res, &ctx)
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
