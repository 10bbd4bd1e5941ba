//! `phivault keys` through the real binary, beside a running server:
//! rotation killed with SIGKILL mid-way and resumed, retire refused while
//! an old version is in use, shredding one patient leaves the others
//! readable. SQLite always, PostgreSQL when configured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{BIN, Backend, Server, Vault, text};
use serde_json::json;

const PATIENTS: usize = 120;

async fn create(srv: &Server, token: &str, coll: &str, body: serde_json::Value) -> String {
    let res = srv
        .http
        .post(format!("{}/v1/collections/{coll}/records", srv.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn status_of(srv: &Server, token: &str, coll: &str, id: &str) -> u16 {
    srv.http
        .get(format!("{}/v1/collections/{coll}/records/{id}", srv.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn read(srv: &Server, token: &str, coll: &str, id: &str) -> serde_json::Value {
    let res = srv
        .http
        .get(format!("{}/v1/collections/{coll}/records/{id}", srv.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The stored wrapped DEK of every patient, read from the store directly.
async fn wrapped_deks(v: &Vault, ids: &[String]) -> Vec<Vec<u8>> {
    let loc = v.database.clone().unwrap_or_else(|| {
        v.data_dir()
            .join("phivault.db")
            .to_string_lossy()
            .into_owned()
    });
    let store = phivault_store::open(&loc).await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        out.push(
            store
                .get_record("patients", id)
                .await
                .unwrap()
                .unwrap()
                .wrapped_dek,
        );
    }
    out
}

/// Starts `keys <args…>` and SIGKILLs it once it reports `kill_after`
/// records done.
fn run_and_kill(v: &Vault, args: &[&str], kill_after: u64) {
    let mut child = Command::new(BIN)
        .args(args)
        .args(v.location())
        .env_remove("PHIVAULT_DATABASE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let Some(rest) = line
            .strip_prefix("progress: rewrapped ")
            .or_else(|| line.strip_prefix("progress: re-encrypted "))
            .or_else(|| line.strip_prefix("progress: reindexed "))
        else {
            continue;
        };
        let n: u64 = rest.split('/').next().unwrap().parse().unwrap();
        if n >= kill_after {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
}

async fn keys_end_to_end(backend: Backend) {
    let Some(v) = Vault::init(backend).await else {
        return;
    };
    let srv = v.serve();
    let mut ids = Vec::new();
    for i in 0..PATIENTS {
        let ssn = format!("123-45-{:04}", 1000 + i);
        let body =
            json!({"fields": {"name": format!("Pat {i}"), "birth_date": "1980-01-02", "ssn": ssn}});
        ids.push(create(&srv, &v.token, "patients", body).await);
    }
    let enc = create(
        &srv,
        &v.token,
        "encounters",
        json!({"patient_id": ids[0], "fields": {"date": "2024-05-01", "reason": "checkup"}}),
    )
    .await;
    let total = PATIENTS as u64 + 1;

    // Kill at a pseudo-random point (from the clock), then resume.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let kill_after = 10 + u64::from(nanos) % 90;
    run_and_kill(&v, &["keys", "rotate", "--page", "10"], kill_after);
    let st = v.run(&["keys", "status"]);
    let st_text = text(&st);
    assert!(st.status.success(), "{st_text}");
    assert!(st_text.contains("kek 2 (current)"), "{st_text}");

    // Retire is refused while version 1 DEKs remain.
    let r = v.run(&["keys", "retire", "--below", "2"]);
    assert!(!r.status.success());
    assert!(text(&r).contains("refusing to retire"), "{}", text(&r));

    // Every record reads back through the running server mid-rotation.
    for id in &ids {
        assert_eq!(status_of(&srv, &v.token, "patients", id).await, 200);
    }

    let r = v.run(&["keys", "rotate", "--resume", "--page", "10"]);
    assert!(r.status.success(), "{}", text(&r));
    let st_text = text(&v.run(&["keys", "status"]));
    assert!(st_text.contains("kek 2 (current): created"), "{st_text}");
    assert!(
        st_text.contains(&format!("{total} DEKs")),
        "no DEK lost: {st_text}"
    );
    let r = v.run(&["keys", "retire", "--below", "2"]);
    assert!(r.status.success(), "{}", text(&r));
    for id in &ids {
        assert_eq!(status_of(&srv, &v.token, "patients", id).await, 200);
    }
    let scan = text(&v.run(&["keys", "scan", "--min-version", "2"]));
    assert!(
        scan.contains("0 under a kek below 2, 0 with a deprecated"),
        "{scan}"
    );

    // Re-encryption: one record, then the whole collection killed mid-way
    // and resumed. Every record gets a new DEK and reads back the same.
    let before_values = read(&srv, &v.token, "patients", &ids[5]).await;
    let before = wrapped_deks(&v, &ids).await;
    let r = v.run(&[
        "keys",
        "reencrypt",
        "--collection",
        "patients",
        "--record",
        &ids[5],
    ]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("re-encrypted 1 records"), "{}", text(&r));
    let after_one = wrapped_deks(&v, &ids).await;
    assert_ne!(after_one[5], before[5]);
    assert_eq!(after_one[6], before[6], "only the named record");
    assert_eq!(
        read(&srv, &v.token, "patients", &ids[5]).await["fields"],
        before_values["fields"]
    );
    let bad = v.run(&["keys", "reencrypt", "--collection", "nosuch"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("no collection `nosuch`"),
        "{}",
        text(&bad)
    );
    run_and_kill(
        &v,
        &[
            "keys",
            "reencrypt",
            "--collection",
            "patients",
            "--page",
            "10",
        ],
        kill_after,
    );
    let r = v.run(&[
        "keys",
        "reencrypt",
        "--collection",
        "patients",
        "--resume",
        "--page",
        "10",
    ]);
    assert!(r.status.success(), "{}", text(&r));
    let after = wrapped_deks(&v, &ids).await;
    for (i, (a, b)) in after.iter().zip(&after_one).enumerate() {
        assert_ne!(a, b, "patient {i} has a new DEK");
    }
    for id in &ids {
        assert_eq!(status_of(&srv, &v.token, "patients", id).await, 200);
    }
    assert_eq!(
        read(&srv, &v.token, "patients", &ids[5]).await["fields"],
        before_values["fields"]
    );
    let scan = text(&v.run(&["keys", "scan", "--min-version", "2"]));
    assert!(scan.contains("0 under a kek below 2"), "{scan}");

    // Reindex under a new blind-index root, killed mid-way: searches find
    // every record meanwhile (two roots active) and after the resume.
    let search_ssn = |i: usize| {
        let body = json!({"field": "ssn", "value": format!("123-45-{:04}", 1000 + i)});
        srv.http
            .post(format!("{}/v1/collections/patients/search", srv.url))
            .bearer_auth(&v.token)
            .json(&body)
            .send()
    };
    let found = |res: serde_json::Value| res["records"].as_array().map_or(0, Vec::len);
    run_and_kill(&v, &["keys", "reindex", "--page", "10"], kill_after);
    let st = text(&v.run(&["keys", "status"]));
    assert!(
        st.contains("blind-index root: version 2 (active: [1, 2])"),
        "{st}"
    );
    for i in [1, PATIENTS / 2, PATIENTS - 1] {
        let res = search_ssn(i).await.unwrap();
        assert_eq!(
            found(res.json().await.unwrap()),
            1,
            "patient {i} mid-reindex"
        );
    }
    let r = v.run(&["keys", "reindex", "--resume", "--page", "10"]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("retired index roots [1]"), "{}", text(&r));
    let st = text(&v.run(&["keys", "status"]));
    assert!(
        st.contains("blind-index root: version 2 (active: [2])"),
        "{st}"
    );
    for i in 0..PATIENTS {
        let res = search_ssn(i).await.unwrap();
        assert_eq!(
            found(res.json().await.unwrap()),
            1,
            "patient {i} after reindex"
        );
    }

    // Shred the first patient (and its encounter); the others stay readable.
    let r = v.run(&["keys", "shred", "--patient", &ids[0], "--yes"]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("shredded 2 records"), "{}", text(&r));
    assert_eq!(status_of(&srv, &v.token, "patients", &ids[0]).await, 410);
    assert_eq!(status_of(&srv, &v.token, "encounters", &enc).await, 410);
    // The admin API: `confirm` must repeat the id; then the record is gone.
    let shred = |id: &str, confirm: &str| {
        srv.http
            .post(format!(
                "{}/v1/collections/patients/records/{id}/shred",
                srv.url
            ))
            .bearer_auth(&v.token)
            .json(&json!({ "confirm": confirm }))
            .send()
    };
    let res = shred(&ids[1], &ids[2]).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(status_of(&srv, &v.token, "patients", &ids[1]).await, 200);
    let res = shred(&ids[1], &ids[1]).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["shredded"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(status_of(&srv, &v.token, "patients", &ids[1]).await, 410);
    for id in &ids[2..] {
        assert_eq!(status_of(&srv, &v.token, "patients", id).await, 200);
    }
    let res = srv
        .http
        .post(format!("{}/v1/collections/patients/search", srv.url))
        .bearer_auth(&v.token)
        .json(&json!({"field": "ssn", "value": "123-45-1000"}))
        .send()
        .await
        .unwrap();
    let found: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        found["records"].as_array().map(Vec::len),
        Some(0),
        "{found}"
    );
    drop(srv);

    // The server appended the outboxed events (at start at the latest).
    let srv = v.serve();
    drop(srv);
    let left = std::fs::read_dir(v.data_dir().join("audit-outbox"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "outbox drained");
    let events = text(&v.run(&["audit", "export", "--format", "jsonl"]));
    for action in [
        "key_rotated",
        "dek_rewrapped",
        "kek_retired",
        "patient_shredded",
        "reencrypt_started",
        "record_reencrypted",
        "reencrypt_finished",
        "index_key_rotated",
        "record_reindexed",
        "index_key_retired",
    ] {
        assert!(events.contains(action), "{action} missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_sqlite() {
    keys_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_postgres() {
    keys_end_to_end(Backend::Postgres).await;
}

/// The server process cannot write a core file (key material in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_runs_without_core_dumps() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let srv = v.serve();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", srv.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let cols: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&cols[4..6], &["0", "0"], "{core}");
}

/// Two `keys rotate` at once (two processes): no version is lost or
/// reused, and every DEK ends under the newest version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_keep_every_version() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let srv = v.serve();
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = json!({"fields": {"name": format!("Pat {i}"), "birth_date": "1980-01-02"}});
        ids.push(create(&srv, &v.token, "patients", body).await);
    }
    let spawn = || {
        Command::new(BIN)
            .args(["keys", "rotate", "--page", "3"])
            .args(v.location())
            .env_remove("PHIVAULT_DATABASE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let st = text(&v.run(&["keys", "status"]));
    assert!(st.contains("kek 2: created"), "{st}");
    let current = st
        .lines()
        .find(|l| l.starts_with("kek 3 (current): created"))
        .unwrap_or_else(|| panic!("{st}"));
    assert!(current.ends_with(", 20 DEKs"), "{st}");
    // The running server's very next write uses the new KEK (it notices the
    // changed keyring file), not one 30 s later.
    let fresh = create(
        &srv,
        &v.token,
        "patients",
        json!({"fields": {"name": "Fresh", "birth_date": "1980-01-02"}}),
    )
    .await;
    let w = wrapped_deks(&v, &[fresh]).await;
    let kek = phivault_core::envelope::WrappedDek::decode(&w[0])
        .unwrap()
        .kek;
    assert_eq!(kek.version, 3, "new writes use the new version at once");
    for id in &ids {
        assert_eq!(status_of(&srv, &v.token, "patients", id).await, 200);
    }
}

#[test]
fn shred_asks_for_confirmation() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(v) = rt.block_on(Vault::init(Backend::Sqlite)) else {
        return;
    };
    let mut child = Command::new(BIN)
        .args(["keys", "shred", "--patient", "x"])
        .args(v.location())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"no\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("not confirmed"), "{}", text(&out));
}

/// The keyring passphrase: a zero-config vault fails the compliance check
/// on it; `keys protect` seals it; then the check passes that safeguard,
/// the server needs the passphrase, and a longer idle timeout fails
/// §164.312(a)(2)(iii).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_protection_and_compliance_check() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let c = v.run(&["compliance", "check"]);
    assert!(!c.status.success());
    let t = text(&c);
    assert!(
        t.contains("FAIL  keys.keyring_protected  [§164.312(a)(2)(iv)"),
        "{t}"
    );
    assert!(t.contains("PASS  keys.separation"), "{t}");
    let short = v.run_env(
        &["keys", "protect"],
        &[("PHIVAULT_KEYRING_NEW_PASSPHRASE", "short")],
    );
    assert!(!short.status.success());
    let pass = "correct horse battery staple";
    let r = v.run_env(
        &["keys", "protect"],
        &[("PHIVAULT_KEYRING_NEW_PASSPHRASE", pass)],
    );
    assert!(r.status.success(), "{}", text(&r));
    let body = std::fs::read_to_string(v.data_dir().join("keys/keyring.json")).unwrap();
    assert!(!body.contains("\"keks\""), "sealed: no KEK list in clear");
    // Without the passphrase nothing opens the keyring.
    let no = v.run(&["keys", "status"]);
    assert!(!no.status.success());
    assert!(
        text(&no).contains("passphrase is required"),
        "{}",
        text(&no)
    );
    let env = [("PHIVAULT_KEYRING_PASSPHRASE", pass)];
    let c = v.run_env(&["compliance", "check", "--format", "json"], &env);
    assert!(c.status.success(), "{}", text(&c));
    let report: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
    let findings = &report["findings"];
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] != "fail"),
        "{findings}"
    );
    let srv = v.serve_env(&env);
    let id = create(
        &srv,
        &v.token,
        "patients",
        json!({"fields": {"name": "Pat", "birth_date": "1980-01-02"}}),
    )
    .await;
    assert_eq!(status_of(&srv, &v.token, "patients", &id).await, 200);
    drop(srv);
    std::fs::write(
        v.data_dir().join("config.toml"),
        "session_idle_minutes = 30\n",
    )
    .unwrap();
    let c = v.run_env(&["compliance", "check"], &env);
    assert!(!c.status.success());
    assert!(
        text(&c).contains("FAIL  access.automatic_logoff  [§164.312(a)(2)(iii)"),
        "{}",
        text(&c)
    );
}
