//! The server and the `phivault` CLI write one SQLite file at the same time:
//! a real second process (this test binary, run again) writes while this one
//! does, and each sees the other's changes.

use std::path::Path;
use std::process::{Command, Stdio};

use phivault_store::BreachStore;
use phivault_store::sqlite::SqliteStore;

const CHILD_DB: &str = "PHIVAULT_TEST_BREACH_CHILD_DB";
const CHILD_WRITES: u64 = 40;

/// The second process; does nothing unless started by `sqlite_two_processes`.
#[tokio::test]
#[ignore = "started by sqlite_two_processes as a second process"]
async fn sqlite_child_writer() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let s = SqliteStore::open(Path::new(&path)).unwrap();
    for i in 0..CHILD_WRITES {
        let l = super::lockdown(&format!("child-{i}"), "vault:", 1_000 + i as i64);
        s.insert_lockdown(l).await.unwrap();
    }
    assert!(s.lift_lockdown("shared", "child", 7).await.unwrap());
    s.set_patient_flag("p-child", "honey", 1).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let s = SqliteStore::open(&path).unwrap();
    s.insert_lockdown(super::lockdown("shared", "vault:", 0))
        .await
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "processes::sqlite_child_writer",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Keep writing for as long as the child lives, so the writes overlap.
    let mut mine = 0u64;
    let status = loop {
        let l = super::lockdown(&format!("parent-{mine}"), "vault:", 2_000 + mine as i64);
        s.insert_lockdown(l).await.unwrap();
        mine += 1;
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
    };
    assert!(status.success(), "the second process failed: {status}");
    assert_eq!(
        s.lockdown_generation().await.unwrap(),
        // Inserts, the lift and the child's flag change.
        1 + mine + CHILD_WRITES + 1 + 1,
        "every change of both processes bumped the generation once"
    );
    let active = s.active_lockdowns().await.unwrap();
    assert_eq!(active.len() as u64, mine + CHILD_WRITES);
    let shared = s.get_lockdown("shared").await.unwrap().unwrap();
    assert_eq!(
        (shared.lifted_by.as_deref(), shared.lifted_at),
        (Some("child"), Some(7))
    );
    assert_eq!(
        s.patient_flags().await.unwrap(),
        vec![("p-child".to_owned(), "honey".to_owned())]
    );
}
