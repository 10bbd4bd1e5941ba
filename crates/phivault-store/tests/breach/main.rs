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
mod watch;

use std::sync::Arc;

use phivault_store::{
    AlertRow, BreachStore, ErrorKind, IncidentRow, LockdownRow, Store, TokenKind, TokenRow,
};

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

fn incident(id: &str, declared_at: i64) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        severity: "high".into(),
        summary: "bulk export by a clerk account".into(),
        status: "open".into(),
        declared_by: "secops@clinic.example".into(),
        declared_at,
        updated_at: declared_at,
        data: r#"{"timeline": [], "b": 1, "a": 2}"#.into(),
    }
}

fn alert(id: &str, created_at: i64, next_attempt_at: i64) -> AlertRow {
    AlertRow {
        id: id.into(),
        destination: "https://hooks.example/T000/secret".into(),
        payload: format!(r#"{{"alert":"{id}"}}"#),
        created_at,
        attempts: 0,
        next_attempt_at,
        delivered_at: None,
        last_error: None,
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
    incidents(&*s).await;
    flags(&*s).await;
    alerts(&*s).await;
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

/// Incidents: duplicates, order, compare-and-swap.
async fn incidents(s: &dyn Store) {
    let (i1, i2, i3) = (incident("i1", 10), incident("i2", 30), incident("i3", 20));
    for i in [&i1, &i2, &i3] {
        s.insert_incident(i.clone()).await.unwrap();
    }
    let e = s.insert_incident(incident("i1", 99)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(s.get_incident("i1").await.unwrap(), Some(i1.clone()));
    assert!(s.get_incident("nope").await.unwrap().is_none());
    assert_eq!(
        s.list_incidents().await.unwrap(),
        vec![i2.clone(), i3.clone(), i1.clone()],
        "newest first"
    );

    let data = r#"{"z": "kept as written",   "a": [1, 2]}"#;
    s.update_incident("i1", "contained", data, 50, 10)
        .await
        .unwrap();
    let got = s.get_incident("i1").await.unwrap().unwrap();
    assert_eq!(
        (got.status.as_str(), got.data.as_str(), got.updated_at),
        ("contained", data, 50)
    );
    assert_eq!((got.summary, got.declared_at), (i1.summary.clone(), 10));
    let stale = s
        .update_incident("i1", "closed", "{}", 60, 10)
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert_eq!(
        s.get_incident("i1").await.unwrap().unwrap().status,
        "contained"
    );
    let gone = s
        .update_incident("nope", "closed", "{}", 60, 10)
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    s.update_incident("i1", "closed", "{}", 60, 50)
        .await
        .unwrap();
}

/// One flag per patient; setting is idempotent and replaces.
async fn flags(s: &dyn Store) {
    assert!(s.patient_flags().await.unwrap().is_empty());
    s.set_patient_flag("p2", "honey", 1).await.unwrap();
    s.set_patient_flag("p1", "vip", 2).await.unwrap();
    s.set_patient_flag("p1", "vip", 3).await.unwrap();
    assert_eq!(
        s.patient_flags().await.unwrap(),
        vec![("p1".into(), "vip".into()), ("p2".into(), "honey".into())]
    );
    s.set_patient_flag("p1", "employee", 4).await.unwrap();
    assert!(s.clear_patient_flag("p2").await.unwrap());
    assert!(!s.clear_patient_flag("p2").await.unwrap());
    assert_eq!(
        s.patient_flags().await.unwrap(),
        vec![("p1".to_owned(), "employee".to_owned())]
    );
}

/// The outbox: due filtering and order, delivery, rescheduling, backlog.
async fn alerts(s: &dyn Store) {
    assert_eq!(s.alert_backlog().await.unwrap(), 0);
    let a1 = alert("a1", 10, 100);
    let a2 = alert("a2", 5, 200);
    let a3 = alert("a3", 20, 50);
    let a4 = alert("a4", 1, 300);
    for a in [&a1, &a2, &a3, &a4] {
        s.enqueue_alert(a.clone()).await.unwrap();
    }
    let e = s.enqueue_alert(alert("a1", 0, 0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(s.alert_backlog().await.unwrap(), 4);
    let ids = |v: Vec<AlertRow>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert!(s.due_alerts(49, 10).await.unwrap().is_empty());
    assert_eq!(ids(s.due_alerts(100, 10).await.unwrap()), ["a1", "a3"]);
    assert_eq!(
        s.due_alerts(200, 10).await.unwrap(),
        vec![a2.clone(), a1.clone(), a3.clone()],
        "oldest first, rows intact"
    );
    assert_eq!(ids(s.due_alerts(1_000, 2).await.unwrap()), ["a4", "a2"]);

    assert!(
        s.reschedule_alert("a2", 1, 500, "http status 503")
            .await
            .unwrap()
    );
    assert!(
        s.reschedule_alert("a3", u32::MAX, 500, "timeout")
            .await
            .unwrap()
    );
    assert_eq!(ids(s.due_alerts(200, 10).await.unwrap()), ["a1"]);
    let due = s.due_alerts(500, 10).await.unwrap();
    assert_eq!(ids(due.clone()), ["a4", "a2", "a1", "a3"]);
    assert_eq!(
        (due[1].attempts, due[1].next_attempt_at),
        (1, 500),
        "rescheduled"
    );
    assert_eq!(due[1].last_error.as_deref(), Some("http status 503"));
    assert_eq!(due[3].attempts, u32::MAX);

    assert!(s.mark_alert_delivered("a1", 150).await.unwrap());
    assert!(!s.mark_alert_delivered("a1", 151).await.unwrap());
    assert!(!s.mark_alert_delivered("nope", 151).await.unwrap());
    assert!(!s.reschedule_alert("a1", 2, 900, "late").await.unwrap());
    assert!(!s.reschedule_alert("nope", 2, 900, "late").await.unwrap());
    assert_eq!(
        ids(s.due_alerts(10_000, 10).await.unwrap()),
        ["a4", "a2", "a3"]
    );
    assert_eq!(s.alert_backlog().await.unwrap(), 3);
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
