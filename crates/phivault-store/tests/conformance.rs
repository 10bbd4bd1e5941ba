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
    BreakGlassRow, DekFilter, DekSwap, ErrorKind, IndexEntry, Reseal, SHREDDED_KEK_VERSION, Store,
    StoredRecord, TokenKind, TokenRow, UserRow,
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
    // The batched form answers each pair, in order, duplicates included.
    let pair = |p: &str, u: &str| (p.to_owned(), u.to_owned());
    assert_eq!(
        s.on_care_teams(vec![
            pair(p, "a"),
            pair(p, "b"),
            pair("other", "b"),
            pair(p, "b")
        ])
        .await
        .unwrap(),
        [false, true, false, true]
    );
    assert!(s.on_care_teams(vec![]).await.unwrap().is_empty());

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

/// DEK pages, counts per KEK version, compare-and-swap, shredding.
async fn keys_suite(s: Arc<dyn Store>) {
    let ids: Vec<String> = (0..25)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    for (n, id) in ids.iter().enumerate() {
        let mut r = rec(id, n as i64);
        r.wrapped_dek = vec![n as u8; 60];
        s.insert_record(r, vec![idx("ssn", n as u8)]).await.unwrap();
    }
    // An encounter linked to the first patient.
    let enc_id = "10000000-0000-4000-8000-000000000001";
    let mut enc = rec(enc_id, 99);
    enc.collection = "encounters".into();
    enc.patient_id = Some(ids[0].clone());
    s.insert_record(enc, vec![idx("code", 7)]).await.unwrap();
    assert_eq!(s.count_deks_by_kek().await.unwrap(), vec![(1, 26)]);

    // Keyset pages cover every record once, in id order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .list_deks(DekFilter::All, after.as_deref(), 7)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().map(|d| d.id.clone());
        seen.extend(page);
    }
    assert_eq!(seen.len(), 26);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
    let first = &seen[0];
    assert_eq!(
        (first.kek_version, first.wrapped_dek.clone()),
        (1, vec![0; 60])
    );

    // CAS: a stale `old` does not apply; a right one does; both in one call.
    let swap = |id: &str, old: Vec<u8>| DekSwap {
        collection: "patients".into(),
        id: id.into(),
        old,
        new: vec![0xAA; 61],
        kek_version: 2,
    };
    let n = s
        .swap_deks(vec![swap(&ids[1], vec![1; 60]), swap(&ids[2], vec![9; 60])])
        .await
        .unwrap();
    assert_eq!(n, 1, "the stale swap is refused");
    let got = s.get_record("patients", &ids[1]).await.unwrap().unwrap();
    assert_eq!((got.kek_version, got.wrapped_dek), (2, vec![0xAA; 61]));
    assert_eq!(
        got.sealed,
        rec(&ids[1], 0).sealed,
        "sealed fields untouched"
    );
    let still = s.get_record("patients", &ids[2]).await.unwrap().unwrap();
    assert_eq!((still.kek_version, still.wrapped_dek), (1, vec![2; 60]));
    assert_eq!(
        s.swap_deks(vec![swap(&ids[1], vec![1; 60])]).await.unwrap(),
        0,
        "a second swap from the same old value is refused"
    );
    assert_eq!(s.count_deks_by_kek().await.unwrap(), vec![(1, 25), (2, 1)]);
    let todo = s.list_deks(DekFilter::NotAt(2), None, 100).await.unwrap();
    assert_eq!(todo.len(), 25);
    assert!(todo.iter().all(|d| d.kek_version == 1));

    // Shredding the first patient takes its encounter too, nothing else.
    let gone = s.shred_patient(&ids[0]).await.unwrap();
    let mut gone_ids: Vec<&str> = gone.iter().map(|g| g.id.as_str()).collect();
    gone_ids.sort_unstable();
    assert_eq!(gone_ids, vec![ids[0].as_str(), enc_id]);
    let p = s.get_record("patients", &ids[0]).await.unwrap().unwrap();
    assert!(p.wrapped_dek.is_empty() && p.sealed.is_empty());
    assert_eq!(p.kek_version, SHREDDED_KEK_VERSION);
    assert!(
        s.search("patients", "ssn", &[0; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.search("encounters", "code", &[7; 16], 10)
            .await
            .unwrap()
            .is_empty()
    );
    let other = s.get_record("patients", &ids[3]).await.unwrap().unwrap();
    assert_eq!(other.wrapped_dek, vec![3; 60]);
    assert_eq!(
        s.search("patients", "ssn", &[3; 16], 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.count_deks_by_kek().await.unwrap(),
        vec![(SHREDDED_KEK_VERSION, 2), (1, 23), (2, 1)]
    );
    let all = s.list_deks(DekFilter::All, None, 100).await.unwrap();
    assert_eq!(all.len(), 24, "shredded records are not listed");
    assert!(s.shred_patient("no-such").await.unwrap().is_empty());

    // Reseal: applies only to an unchanged record, keeps updated_at and the
    // index, replaces the DEK and every sealed field at once.
    let r4 = s.get_record("patients", &ids[4]).await.unwrap().unwrap();
    let mut new_sealed = BTreeMap::new();
    new_sealed.insert("ssn".to_owned(), vec![0x55; 30]);
    let reseal = |old: Vec<u8>, expected: i64| Reseal {
        collection: "patients".into(),
        id: ids[4].clone(),
        expected_updated_at: expected,
        old_wrapped: old,
        new_wrapped: vec![0xBB; 61],
        kek_version: 2,
        sealed: StoredRecord::encode_sealed_fields(&new_sealed),
    };
    let stale = vec![
        reseal(vec![0xEE; 60], r4.updated_at),
        reseal(r4.wrapped_dek.clone(), r4.updated_at + 1),
    ];
    assert_eq!(
        s.reseal_records(stale).await.unwrap(),
        0,
        "stale reseals refused"
    );
    assert_eq!(
        s.reseal_records(vec![reseal(r4.wrapped_dek.clone(), r4.updated_at)])
            .await
            .unwrap(),
        1
    );
    let after = s.get_record("patients", &ids[4]).await.unwrap().unwrap();
    assert_eq!(after.wrapped_dek, vec![0xBB; 61]);
    assert_eq!(after.kek_version, 2);
    assert_eq!(after.sealed, new_sealed);
    assert_eq!(after.updated_at, r4.updated_at, "content did not change");
    assert_eq!(after.plain, r4.plain);
    assert_eq!(
        s.search("patients", "ssn", &[4; 16], 10)
            .await
            .unwrap()
            .len(),
        1,
        "index entries kept"
    );
    // A patch read before the reseal is a conflict, not a silent undo.
    let err = s
        .update_record(r4.clone(), r4.updated_at, vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let still = s.get_record("patients", &ids[4]).await.unwrap().unwrap();
    assert_eq!(still.wrapped_dek, vec![0xBB; 61]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = phivault_store::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
    keys_suite(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys() {
    let Some((schema, client, s)) = common::fresh_postgres("pv_keys").await else {
        return;
    };
    keys_suite(Arc::new(s)).await;
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
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
