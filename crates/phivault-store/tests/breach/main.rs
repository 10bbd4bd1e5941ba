//! Breach-containment persistence, one suite on every backend (SQLite always,
//! PostgreSQL when configured; see `common`), plus what only one backend
//! does: a second process on the SQLite file, LISTEN/NOTIFY on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

#[path = "../common/mod.rs"]
mod common;
mod processes;
mod records;
mod watch;

use std::sync::Arc;

use phivault_store::{BreachStore, ErrorKind, LockdownRow, Store, TokenKind, TokenRow};

fn lockdown(id: &str, scope: &str, created_at: i64) -> LockdownRow {
    LockdownRow {
        id: id.into(),
        scope: scope.into(),
        reason: "exfiltration suspected".into(),
        incident_id: None,
        created_by: "secops@clinic.example".into(),
        created_at,
        lift_requested_by: None,
        lift_requested_at: None,
        lifted_by: None,
        lifted_at: None,
    }
}

fn token(id: &str, user: &str, kind: TokenKind, disabled: bool) -> TokenRow {
    TokenRow {
        id: id.into(),
        hash: vec![3; 32],
        principal: user.into(),
        admin: false,
        created_at: 1,
        disabled,
        kind,
        expires_at: (kind == TokenKind::Session).then_some(10_000),
        last_used_at: None,
    }
}

async fn suite(s: Arc<dyn Store>) {
    lockdowns(Arc::clone(&s)).await;
    sessions(&*s).await;
    records::incidents(&*s).await;
    records::flags(&*s).await;
    records::alerts(&*s).await;
}

/// Inserts, lift requests and lifts; the generation moves with each change.
async fn lockdowns(s: Arc<dyn Store>) {
    assert_eq!(s.lockdown_generation().await.unwrap(), 0);
    assert!(s.active_lockdowns().await.unwrap().is_empty());
    let l1 = lockdown("l1", "vault:", 20);
    let l2 = lockdown("l2", "user:jdoe@clinic.example", 10);
    let l3 = LockdownRow {
        incident_id: Some("i1".into()),
        ..lockdown("l3", "ip:203.0.113.0/24", 30)
    };
    for l in [&l1, &l2, &l3] {
        s.insert_lockdown(l.clone()).await.unwrap();
    }
    assert_eq!(s.lockdown_generation().await.unwrap(), 3);
    let mut dup = lockdown("l1", "collection:notes", 99);
    dup.reason = "other".into();
    let e = s.insert_lockdown(dup).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(s.lockdown_generation().await.unwrap(), 3, "no bump");
    assert_eq!(s.get_lockdown("l1").await.unwrap(), Some(l1.clone()));
    assert_eq!(s.get_lockdown("l3").await.unwrap(), Some(l3.clone()));
    assert!(s.get_lockdown("nope").await.unwrap().is_none());
    assert_eq!(
        s.active_lockdowns().await.unwrap(),
        vec![l2.clone(), l1.clone(), l3.clone()],
        "by created_at"
    );

    // The first request stands; a request on a missing id changes nothing.
    assert!(s.request_lift("l1", "alice", 40).await.unwrap());
    assert_eq!(s.lockdown_generation().await.unwrap(), 4);
    assert!(!s.request_lift("l1", "bob", 41).await.unwrap());
    assert!(!s.request_lift("nope", "bob", 41).await.unwrap());
    assert_eq!(s.lockdown_generation().await.unwrap(), 4);
    let got = s.get_lockdown("l1").await.unwrap().unwrap();
    assert_eq!(
        (got.lift_requested_by.as_deref(), got.lift_requested_at),
        (Some("alice"), Some(40))
    );
    assert_eq!(got.lifted_at, None);

    // The first lift stands; the request is kept; a lifted lockdown takes no request.
    assert!(s.lift_lockdown("l1", "bob", 50).await.unwrap());
    assert_eq!(s.lockdown_generation().await.unwrap(), 5);
    assert!(!s.lift_lockdown("l1", "carol", 60).await.unwrap());
    assert!(!s.lift_lockdown("nope", "carol", 60).await.unwrap());
    assert!(!s.request_lift("l1", "carol", 61).await.unwrap());
    assert_eq!(s.lockdown_generation().await.unwrap(), 5);
    let got = s.get_lockdown("l1").await.unwrap().unwrap();
    assert_eq!(
        (
            got.lift_requested_by.as_deref(),
            got.lift_requested_at,
            got.lifted_by.as_deref(),
            got.lifted_at
        ),
        (Some("alice"), Some(40), Some("bob"), Some(50))
    );
    // Lifting without a request is the caller's policy, not the store's.
    assert!(s.lift_lockdown("l2", "bob", 70).await.unwrap());
    assert!(!s.request_lift("l2", "alice", 71).await.unwrap());
    assert_eq!(s.lockdown_generation().await.unwrap(), 6);
    assert_eq!(s.active_lockdowns().await.unwrap(), vec![l3.clone()]);

    // Racing requests: exactly one is recorded, one bump.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.request_lift("l3", &format!("r{i}"), 80 + i).await })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap().unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(s.lockdown_generation().await.unwrap(), 7);

    // A request younger than the approval lifetime stands; an older one
    // is replaced (a stale approval must not block the restore forever).
    let first = s.get_lockdown("l3").await.unwrap().unwrap();
    let at = first.lift_requested_at.unwrap();
    let ttl = phivault_store::LIFT_REQUEST_TTL_MICROS;
    assert!(
        !s.renew_lift_request("l3", "late", at + ttl - 1)
            .await
            .unwrap()
    );
    assert_eq!(s.lockdown_generation().await.unwrap(), 7);
    assert!(
        s.renew_lift_request("l3", "late", at + ttl + 1)
            .await
            .unwrap()
    );
    let got = s.get_lockdown("l3").await.unwrap().unwrap();
    assert_eq!(
        (got.lift_requested_by.as_deref(), got.lift_requested_at),
        (Some("late"), Some(at + ttl + 1))
    );
    assert_eq!(s.lockdown_generation().await.unwrap(), 8);
    assert!(
        !s.renew_lift_request("l1", "late", at + 10 * ttl)
            .await
            .unwrap(),
        "lifted"
    );
}

/// Only the user's live session tokens are revoked.
async fn sessions(s: &dyn Store) {
    let u = "jdoe@clinic.example";
    let tokens = [
        token("s-live-1", u, TokenKind::Session, false),
        token("s-live-2", u, TokenKind::Session, false),
        token("s-dead", u, TokenKind::Session, true),
        token("api", u, TokenKind::Api, false),
        token("s-other", "other@clinic.example", TokenKind::Session, false),
    ];
    for t in &tokens {
        s.insert_token(t.clone()).await.unwrap();
    }
    assert_eq!(s.revoke_sessions(u, 500).await.unwrap(), 2);
    let disabled =
        |id: &'static str| async move { s.get_token(id).await.unwrap().unwrap().disabled };
    assert!(disabled("s-live-1").await && disabled("s-live-2").await);
    assert!(disabled("s-dead").await);
    assert!(!disabled("api").await, "API tokens are left alone");
    assert!(!disabled("s-other").await, "other users are left alone");
    assert_eq!(s.revoke_sessions(u, 501).await.unwrap(), 0);
    assert_eq!(s.revoke_sessions("nobody", 501).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_breach() {
    let dir = tempfile::tempdir().unwrap();
    let s = phivault_store::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
    assert!(s.watch_lockdowns().is_none(), "SQLite is polled");
    suite(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_breach() {
    let Some((schema, client, s)) = common::fresh_postgres("pv_breach").await else {
        return;
    };
    suite(Arc::new(s)).await;
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
