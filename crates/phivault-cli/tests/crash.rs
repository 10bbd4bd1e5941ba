//! kill -9 during heavy writes: after a restart no acknowledged record and
//! no acknowledged audit event is lost, and the log still verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Backend, Vault};
use tokio::sync::Mutex;

const WRITERS: usize = 16;
const KILL_AFTER: usize = 1000;

async fn crash_and_recover(backend: Backend) {
    let Some(vault) = Vault::init(backend).await else {
        return;
    };
    let mut srv = vault.serve();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (enough_tx, mut enough_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (http, url, token) = (srv.http.clone(), srv.url.clone(), vault.token.clone());
        let (acked, stop, enough) = (Arc::clone(&acked), Arc::clone(&stop), enough_tx.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let res = http
                    .post(format!("{url}/v1/collections/patients/records"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"fields": common::canary_patient()}))
                    .send()
                    .await;
                let Ok(res) = res else { return };
                if res.status().as_u16() != 201 {
                    return;
                }
                let Ok(body) = res.json::<serde_json::Value>().await else {
                    return;
                };
                let mut a = acked.lock().await;
                a.push(body["id"].as_str().unwrap().to_owned());
                if a.len() >= KILL_AFTER {
                    let _ = enough.try_send(());
                }
            }
        }));
    }
    drop(enough_tx);
    enough_rx.recv().await.unwrap();
    // Writes are still in flight at this instant.
    srv.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().await.clone();
    assert!(acked.len() >= KILL_AFTER);

    // The server restarts on the crashed data (torn tails are cut; the log
    // still matches its checkpoints), and everything acknowledged is there.
    let srv = vault.serve();
    for id in &acked {
        let res = srv
            .http
            .get(format!("{}/v1/collections/patients/records/{id}", srv.url))
            .bearer_auth(&vault.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "acknowledged record {id} lost");
    }
    let events: serde_json::Value = srv
        .http
        .get(format!(
            "{}/v1/audit/events?action=created&limit=100000",
            srv.url
        ))
        .bearer_auth(&vault.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logged: HashSet<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "success")
        .filter_map(|e| e["patient_id"].as_str())
        .collect();
    for id in &acked {
        assert!(logged.contains(id.as_str()), "audit event of {id} lost");
    }
    drop(srv);

    let out = vault.run(&["audit", "verify"]);
    assert!(out.status.success(), "verify: {}", common::text(&out));
    assert!(common::text(&out).starts_with("ok: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_postgres() {
    crash_and_recover(Backend::Postgres).await;
}
