//! Bulk key work on a live vault (`phivault_server::rekey`): the rotation
//! schedule rotates an old KEK and rewraps everything, and re-encryption
//! beside concurrent patches never loses a write nor is undone by one.
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

use phivault_server::rekey::{self, Cursor, Pace};
use reqwest::Method;
use serde_json::json;

async fn patients(app: &common::App, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create_patient(
                json!({"name": format!("Pat {i}"), "birth_date": "1980-01-02", "notes": "v0"}),
            )
            .await,
        );
    }
    ids
}

async fn schedule(backend: common::Backend) {
    // A vault whose KEK is 120 days old.
    let old = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(120 * 24))
        .unwrap()
        .to_string();
    let Some(app) = common::spawn_app_inited(backend, Default::default(), Some(&old)).await else {
        return;
    };
    let ids = patients(&app, 30).await;
    let v = &app.srv.state.vault;
    let store = v.store().as_ref();
    assert_eq!(store.count_deks_by_kek().await.unwrap(), vec![(1, 30)]);
    // Not due under a 200-day period, and nothing to rewrap.
    let none = rekey::scheduled(store, v.keys().as_ref(), v.audit(), 200).await;
    assert_eq!(none.unwrap(), None);
    let p = rekey::scheduled(store, v.keys().as_ref(), v.audit(), 90)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.done, p.failed), (30, 0));
    assert_eq!(store.count_deks_by_kek().await.unwrap(), vec![(2, 30)]);
    // The new KEK is fresh: the next run does nothing.
    let again = rekey::scheduled(store, v.keys().as_ref(), v.audit(), 90).await;
    assert_eq!(again.unwrap(), None);
    for id in &ids {
        let (s, _) = app
            .send(
                Method::GET,
                &format!("/v1/collections/patients/records/{id}"),
                None,
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, body) = app
        .send(Method::GET, "/v1/audit/events?action=key_rotated", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["events"][0]["resource"], "kek/2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_sqlite() {
    schedule(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_postgres() {
    schedule(common::Backend::Postgres).await;
}

async fn reencrypt_beside_patches(backend: common::Backend) {
    let Some(app) = common::spawn_app(backend).await else {
        return;
    };
    let app = Arc::new(app);
    let ids = patients(&app, 40).await;
    let v = &app.srv.state.vault;
    let before: Vec<Vec<u8>> = {
        let mut out = Vec::new();
        for id in &ids {
            out.push(
                v.store()
                    .get_record("patients", id)
                    .await
                    .unwrap()
                    .unwrap()
                    .wrapped_dek,
            );
        }
        out
    };
    // Patches on every record, retried on 409, while re-encryption runs.
    let patcher = {
        let (app, ids) = (Arc::clone(&app), ids.clone());
        tokio::spawn(async move {
            let mut last = BTreeMap::new();
            for round in 1..=5 {
                for id in &ids {
                    let value = format!("v{round}");
                    loop {
                        let (s, _) = app
                            .send(
                                Method::PATCH,
                                &format!("/v1/collections/patients/records/{id}"),
                                Some(json!({"fields": {"notes": value}})),
                            )
                            .await;
                        match s {
                            200 => break,
                            409 => continue,
                            other => panic!("patch: {other}"),
                        }
                    }
                    last.insert(id.clone(), value);
                }
            }
            last
        })
    };
    let reencrypt_all = || async {
        let who = phivault_server::audit::Who::operator("test");
        let cursor = Cursor {
            collection: "patients".into(),
            ..Cursor::default()
        };
        let pace = Pace {
            page: 3,
            max_rate: None,
        };
        rekey::reencrypt(
            v.store().as_ref(),
            v.keys().as_ref(),
            v.audit().as_ref(),
            &who,
            None,
            cursor,
            pace,
            &mut |_, _| {},
        )
        .await
        .unwrap()
    };
    let p = reencrypt_all().await;
    let last = patcher.await.unwrap();
    assert_eq!(p.failed, 0);
    // A reseal that lost its compare-and-swap to a patch is not counted;
    // a second pass after the patches gives every record its new DEK.
    reencrypt_all().await;
    for (i, id) in ids.iter().enumerate() {
        let (s, body) = app
            .send(
                Method::GET,
                &format!("/v1/collections/patients/records/{id}"),
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["fields"]["notes"], last[id].as_str(), "no patch lost");
        let now = v
            .store()
            .get_record("patients", id)
            .await
            .unwrap()
            .unwrap()
            .wrapped_dek;
        assert_ne!(now, before[i], "patient {i} has a new DEK");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reencrypt_beside_patches_sqlite() {
    reencrypt_beside_patches(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reencrypt_beside_patches_postgres() {
    reencrypt_beside_patches(common::Backend::Postgres).await;
}
