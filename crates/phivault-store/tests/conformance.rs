//! One conformance suite, run against every backend: SQLite always, and
//! PostgreSQL when `PHIVAULT_TEST_POSTGRES_URL` is set. With
//! `PHIVAULT_REQUIRE_POSTGRES=1` (as CI sets) a missing URL fails the run
//! instead of skipping the PostgreSQL half.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use phivault_store::{
    BreakGlassRow, ErrorKind, IndexEntry, Store, StoredRecord, TokenKind, TokenRow, UserRow,
};

fn rec(id: &str, t: i64) -> StoredRecord {
    let mut sealed = BTreeMap::new();
    sealed.insert("ssn".to_owned(), vec![1, 2, 3, id.len() as u8]);
    sealed.insert("name".to_owned(), vec![9; 40]);
    let mut plain = serde_json::Map::new();
    plain.insert("department".into(), serde_json::json!("cardiology"));
    StoredRecord {
        collection: "patients".into(),
        id: id.into(),
        patient_id: Some(id.into()),
        created_at: t,
        updated_at: t,
        kek_version: 1,
        wrapped_dek: vec![7; 60],
        sealed,
        plain,
    }
}

fn idx(name: &str, tag: u8) -> IndexEntry {
    IndexEntry {
        index: name.into(),
        tag: vec![tag; 16],
    }
}

async fn suite(s: Arc<dyn Store>) {
    // Insert and read back.
    let a = rec("00000000-0000-4000-8000-00000000000a", 10);
    s.insert_record(a.clone(), vec![idx("ssn", 1), idx("email", 2)])
        .await
        .unwrap();
    let got = s.get_record("patients", &a.id).await.unwrap().unwrap();
    assert_eq!(got, a);
    assert!(
        s.get_record("encounters", &a.id).await.unwrap().is_none(),
        "collection is part of the key"
    );
    assert!(s.get_record("patients", "nope").await.unwrap().is_none());

    // Search is by exact tag and index name.
    assert_eq!(
        s.search("patients", "ssn", &[1; 16], 10).await.unwrap(),
        vec![a.clone()]
    );
    assert!(
        s.search("patients", "ssn", &[2; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.search("patients", "email", &[1; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A duplicate id fails as a conflict and leaves nothing half-written.
    let dup = rec(&a.id, 11);
    let e = s.insert_record(dup, vec![idx("ssn", 9)]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(
        s.search("patients", "ssn", &[9; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Update with optimistic concurrency replaces named index entries.
    let mut a2 = a.clone();
    a2.updated_at = 20;
    a2.sealed.insert("ssn".into(), vec![4, 4, 4]);
    s.update_record(a2.clone(), 10, vec!["ssn".into()], vec![idx("ssn", 3)])
        .await
        .unwrap();
    assert_eq!(s.get_record("patients", &a.id).await.unwrap().unwrap(), a2);
    assert!(
        s.search("patients", "ssn", &[1; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.search("patients", "ssn", &[3; 16], 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.search("patients", "email", &[2; 16], 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let stale = s
        .update_record(a2.clone(), 10, vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    let mut ghost = rec("00000000-0000-4000-8000-0000000000ff", 1);
    ghost.updated_at = 2;
    let e = s.update_record(ghost, 1, vec![], vec![]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    // Many concurrent writers (group commit on SQLite): all land.
    let mut tasks = Vec::new();
    for i in 0..100u8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let id = format!("00000000-0000-4000-8000-0000000001{i:02x}");
            s.insert_record(rec(&id, 100 + i64::from(i)), vec![idx("mrn", i)])
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(s.count_records("patients").await.unwrap(), 101);
    // Keyset pages walk every record once, in id order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .list_records("patients", after.as_deref(), 7)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        seen.extend(page.into_iter().map(|r| r.id));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), &seen), (101, &sorted));
    assert!(
        s.list_records("encounters", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.search("patients", "mrn", &[42; 16], 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Deleting under the wrong collection touches nothing, index entries included.
    assert!(!s.delete_record("encounters", &a.id).await.unwrap());
    assert_eq!(
        s.search("patients", "email", &[2; 16], 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Delete removes the record and its index entries.
    assert!(s.delete_record("patients", &a.id).await.unwrap());
    assert!(!s.delete_record("patients", &a.id).await.unwrap());
    assert!(s.get_record("patients", &a.id).await.unwrap().is_none());
    assert!(
        s.search("patients", "email", &[2; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Tokens.
    let t = TokenRow {
        id: "0123456789abcdef".into(),
        hash: vec![5; 32],
        principal: "admin".into(),
        admin: true,
        created_at: 1,
        disabled: false,
        kind: TokenKind::Api,
        expires_at: None,
        last_used_at: None,
    };
    s.insert_token(t.clone()).await.unwrap();
    assert_eq!(s.get_token(&t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(
        s.insert_token(t).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert!(s.get_token("ffffffffffffffff").await.unwrap().is_none());

    access_suite(s).await;
}

/// Users, roles, sessions, care teams, break-glass.
async fn access_suite(s: Arc<dyn Store>) {
    s.put_role("nurse", r#"{"role":"nurse"}"#, 1).await.unwrap();
    s.put_role(
        "nurse",
        r#"{"role":"nurse","permissions":["view:patients"]}"#,
        2,
    )
    .await
    .unwrap();
    s.put_role("clerk", r#"{"role":"clerk"}"#, 3).await.unwrap();
    let roles = s.list_roles().await.unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[1].0, "nurse");
    assert!(roles[1].1.contains("view:patients"));

    let u = UserRow {
        id: "jdoe@clinic.example".into(),
        display_name: "J. Doe".into(),
        roles: vec!["nurse".into()],
        disabled: false,
        created_at: 5,
    };
    s.insert_user(u.clone()).await.unwrap();
    assert_eq!(
        s.insert_user(u.clone()).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(s.get_user(&u.id).await.unwrap(), Some(u.clone()));
    assert!(s.get_user("nobody").await.unwrap().is_none());

    // A session, touched, then every token of the user goes with the user.
    let session = TokenRow {
        id: "00000000000000aa".into(),
        hash: vec![1; 32],
        principal: u.id.clone(),
        admin: false,
        created_at: 10,
        disabled: false,
        kind: TokenKind::Session,
        expires_at: Some(1_000),
        last_used_at: Some(10),
    };
    let api = TokenRow {
        id: "00000000000000bb".into(),
        kind: TokenKind::Api,
        expires_at: None,
        last_used_at: None,
        ..session.clone()
    };
    s.insert_token(session.clone()).await.unwrap();
    s.insert_token(api.clone()).await.unwrap();
    s.touch_token(&session.id, 20).await.unwrap();
    let got = s.get_token(&session.id).await.unwrap().unwrap();
    assert_eq!(
        (got.kind, got.last_used_at, got.expires_at),
        (TokenKind::Session, Some(20), Some(1_000))
    );
    assert!(
        s.update_user(&u.id, Some(vec!["clerk".into()]), None)
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_user(&u.id).await.unwrap().unwrap().roles,
        vec!["clerk".to_owned()]
    );
    assert!(!s.get_token(&api.id).await.unwrap().unwrap().disabled);
    assert!(s.update_user(&u.id, None, Some(true)).await.unwrap());
    assert!(s.get_user(&u.id).await.unwrap().unwrap().disabled);
    assert!(s.get_token(&api.id).await.unwrap().unwrap().disabled);
    assert!(s.get_token(&session.id).await.unwrap().unwrap().disabled);
    assert!(!s.update_user("nobody", None, Some(true)).await.unwrap());
    assert!(s.disable_token("0123456789abcdef").await.unwrap());
    assert!(!s.disable_token("ffffffffffffffff").await.unwrap());

    assert_eq!(s.list_users().await.unwrap().len(), 1);

    // Care teams are replaced as a whole.
    let p = "00000000-0000-4000-8000-00000000000p";
    s.set_care_team(p, vec!["a".into(), "b".into(), "a".into()])
        .await
        .unwrap();
    assert!(s.on_care_team(p, "a").await.unwrap());
    s.set_care_team(p, vec!["b".into()]).await.unwrap();
    assert!(!s.on_care_team(p, "a").await.unwrap());
    assert!(s.on_care_team(p, "b").await.unwrap());
    assert!(!s.on_care_team("other", "b").await.unwrap());

    // Break-glass grants lapse.
    let g = BreakGlassRow {
        id: "g1".into(),
        user_id: "a".into(),
        patient_id: p.into(),
        reason: "unconscious patient in the emergency department".into(),
        granted_at: 100,
        expires_at: 200,
    };
    s.insert_break_glass(g).await.unwrap();
    assert!(s.break_glass_active("a", p, 199).await.unwrap());
    assert!(!s.break_glass_active("a", p, 200).await.unwrap());
    assert!(!s.break_glass_active("b", p, 150).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let s = phivault_store::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
    suite(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conformance() {
    let Some((schema, client, s)) = common::fresh_postgres("pv_conf").await else {
        return;
    };
    suite(Arc::new(s)).await;
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
