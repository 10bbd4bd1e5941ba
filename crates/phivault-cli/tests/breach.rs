//! Breach containment through the real binary: the drill on both
//! backends, lockdown across two server processes on one PostgreSQL and
//! from the CLI on SQLite, two-person restore, evidence sealing and its
//! tamper checks, the exact affected list, and alert delivery that
//! survives a webhook endpoint being down.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Backend, Server, Vault, text};
use serde_json::{Value, json};

async fn call(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s
        .http
        .request(method, format!("{}{path}", s.url))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn ok(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let (st, v) = call(s, method, path, token, body).await;
    assert!((200..300).contains(&st), "{path}: {st} {v}");
    v
}

/// A clinician `user` with an API token; returns (api token, session).
async fn clinician(s: &Server, admin: &str, user: &str) -> (String, String) {
    use reqwest::Method as M;
    ok(
        s,
        M::PUT,
        "/v1/roles/clin",
        admin,
        Some(json!({"role": "clin", "permissions": ["view:patients"]})),
    )
    .await;
    ok(
        s,
        M::POST,
        "/v1/users",
        admin,
        Some(json!({"id": user, "roles": ["clin"]})),
    )
    .await;
    let api = ok(s, M::POST, &format!("/v1/users/{user}/tokens"), admin, None).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = ok(s, M::POST, "/v1/sessions", &api, None).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (api, session)
}

async fn patient(s: &Server, admin: &str) -> String {
    let v = ok(
        s,
        reqwest::Method::POST,
        "/v1/collections/patients/records",
        admin,
        Some(json!({"fields": {"name": "Ada Lovelace", "birth_date": "1980-02-03", "address": "1 Elm St, Austin, TX 78701"}})),
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

/// Polls `f` until it is true or `limit` passes; the time it took.
async fn within<F, Fut>(limit: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn drill(backend: Backend) {
    let Some(url) = (match backend {
        Backend::Sqlite => Some(None),
        Backend::Postgres => common::postgres_url().map(Some),
    }) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "drill".to_owned(),
        "--out".into(),
        out.path().to_string_lossy().into_owned(),
    ];
    if let Some(u) = url {
        args.push("--database".into());
        args.push(u);
    }
    let o = std::process::Command::new(common::BIN)
        .args(&args)
        .env_remove("PHIVAULT_DATABASE")
        .env_remove("PHIVAULT_DATA_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "drill failed: {}", text(&o));
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("drill-report.json")).unwrap())
            .unwrap();
    eprintln!("{backend:?} drill: {report}");
    assert_eq!(report["affected_matches"], json!(true), "{report}");
    assert!(out.path().join("drill-report.md").exists());
    assert!(out.path().join("evidence/MANIFEST.json.sig").exists());
}

#[tokio::test]
async fn the_drill_passes_end_to_end_on_sqlite() {
    drill(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_drill_passes_end_to_end_on_postgres() {
    drill(Backend::Postgres).await;
}

#[tokio::test]
async fn a_lockdown_reaches_a_second_server_on_the_same_postgres_within_a_second() {
    use reqwest::Method as M;
    let Some(a) = Vault::init(Backend::Postgres).await else {
        return;
    };
    // A second host: a copy of the data directory (same keys), same database.
    let b_dir = tempfile::tempdir().unwrap();
    let st = std::process::Command::new("cp")
        .args([
            "-a",
            &a.data_dir().to_string_lossy(),
            &b_dir.path().join("data").to_string_lossy(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let b = Vault {
        dir: b_dir,
        database: a.database.clone(),
        token: a.token.clone(),
    };
    let sa = a.serve();
    // Roles are loaded at start: make them before the second server starts.
    let (api, session) = clinician(&sa, &a.token, "mallory").await;
    let p = patient(&sa, &a.token).await;
    let sb = b.serve();
    let read = format!("/v1/collections/patients/records/{p}");
    assert_eq!(call(&sb, M::GET, &read, &session, None).await.0, 200);

    let v = ok(
        &sa,
        M::POST,
        "/v1/lockdown",
        &a.token,
        Some(json!({"scope": "user:mallory", "reason": "suspected compromise"})),
    )
    .await;
    let lockdown = v["lockdown"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["sessions_revoked"], json!(1));
    let took = within(Duration::from_secs(5), || async {
        let (s, v) = call(&sb, M::POST, "/v1/sessions", &api, None).await;
        s == 403 && v["error"]["code"] == "locked_down"
    })
    .await
    .expect("server B never applied the lockdown");
    eprintln!("lockdown applied on the second server after {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // The old session is revoked everywhere.
    assert_eq!(call(&sb, M::GET, &read, &session, None).await.0, 401);

    // It survives a restart.
    drop(sb);
    let sb = b.serve();
    assert_eq!(call(&sb, M::POST, "/v1/sessions", &api, None).await.0, 403);

    // Lifted on B, A lets the user open a session again within a second.
    ok(
        &sb,
        M::POST,
        &format!("/v1/lockdown/{lockdown}/lift"),
        &a.token,
        None,
    )
    .await;
    let took = within(Duration::from_secs(5), || async {
        call(&sa, M::POST, "/v1/sessions", &api, None).await.0 == 201
    })
    .await
    .expect("server A never lifted the lockdown");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // Both servers appended to one log: it still verifies.
    drop(sa);
    drop(sb);
    let o = a.run(&["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn cli_isolation_applies_to_a_running_embedded_server_and_restore_needs_two_responders() {
    use reqwest::Method as M;
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    std::fs::write(
        v.data_dir().join("breach.toml"),
        "restore_requires_two = true\n",
    )
    .unwrap();
    let s = v.serve();
    let (api, _) = clinician(&s, &v.token, "eve").await;
    let o = v.run(&[
        "incident", "isolate", "--scope", "user:eve", "--reason", "drill",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let id = t.split_whitespace().nth(1).unwrap().to_owned();
    assert!(id.starts_with("ld_"), "{t}");
    let took = within(Duration::from_secs(5), || async {
        call(&s, M::POST, "/v1/sessions", &api, None).await.0 == 403
    })
    .await
    .expect("the server never applied the CLI lockdown");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    let first = v.run(&["incident", "restore", "--lockdown", &id, "--as", "alice"]);
    assert!(
        text(&first).contains("second responder"),
        "{}",
        text(&first)
    );
    let again = v.run(&["incident", "restore", "--lockdown", &id, "--as", "alice"]);
    assert!(
        text(&again).contains("second") && !text(&again).contains("lifted"),
        "the same responder twice lifted it: {}",
        text(&again)
    );
    assert_eq!(call(&s, M::POST, "/v1/sessions", &api, None).await.0, 403);
    let second = v.run(&["incident", "restore", "--lockdown", &id, "--as", "bob"]);
    assert!(text(&second).contains("lifted"), "{}", text(&second));
    within(Duration::from_secs(5), || async {
        call(&s, M::POST, "/v1/sessions", &api, None).await.0 == 201
    })
    .await
    .expect("the lift never reached the server");

    // Every step is in the audit trail (drained from the CLI's outbox).
    let seen = within(Duration::from_secs(40), || async {
        let (_, ev) = call(
            &s,
            M::GET,
            "/v1/audit/events?action=lockdown_lifted",
            &v.token,
            None,
        )
        .await;
        ev["events"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert!(seen.is_some(), "lockdown_lifted never reached the trail");
}

#[tokio::test]
async fn evidence_verifies_and_any_altered_file_is_named() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let s = v.serve();
    let (_, session) = clinician(&s, &v.token, "trudy").await;
    let p = patient(&s, &v.token).await;
    call(
        &s,
        reqwest::Method::GET,
        &format!("/v1/collections/patients/records/{p}"),
        &session,
        None,
    )
    .await;
    let o = v.run(&[
        "incident",
        "declare",
        "--severity",
        "high",
        "--summary",
        "test incident",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let id = text(&o).split_whitespace().nth(1).unwrap().to_owned();
    let out = v.dir.path().join("bundle");
    let o = v.run(&[
        "incident",
        "evidence",
        "--incident",
        &id,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let verify = |dir: &std::path::Path| {
        std::process::Command::new(common::BIN)
            .args([
                "incident",
                "verify-evidence",
                &dir.to_string_lossy(),
                "--data-dir",
                &v.data_dir().to_string_lossy(),
            ])
            .output()
            .unwrap()
    };
    let o = verify(&out);
    assert!(o.status.success(), "{}", text(&o));
    let custody = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    assert_eq!(
        custody.lines().count(),
        2,
        "collection and this check: {custody}"
    );

    let events = std::fs::read_to_string(out.join("audit/events.jsonl")).unwrap();
    assert!(
        events.contains("trudy"),
        "the window's events are in the bundle"
    );
    let copy = |name: &str| {
        let d = v.dir.path().join(format!("bundle-{name}"));
        let st = std::process::Command::new("cp")
            .args(["-a", &out.to_string_lossy(), &d.to_string_lossy()])
            .status()
            .unwrap();
        assert!(st.success());
        d
    };
    for file in [
        "audit/events.jsonl",
        "host/facts.json",
        "keys/metadata.json",
        "logs/phivault.log",
        "config/config.toml",
    ] {
        let d = copy(&file.replace('/', "-"));
        let path = d.join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.push(b'x');
        std::fs::write(&path, bytes).unwrap();
        let o = verify(&d);
        assert!(!o.status.success(), "an altered {file} verified");
        assert!(text(&o).contains(file), "{file}: {}", text(&o));
    }
    let d = copy("missing");
    std::fs::remove_file(d.join("lockdowns.json")).unwrap();
    assert!(text(&verify(&d)).contains("lockdowns.json"));
    let d = copy("extra");
    std::fs::write(d.join("planted.txt"), "x").unwrap();
    let o = verify(&d);
    assert!(
        !o.status.success() && text(&o).contains("planted.txt"),
        "{}",
        text(&o)
    );
    let d = copy("manifest");
    let m = std::fs::read_to_string(d.join("MANIFEST.json")).unwrap();
    std::fs::write(d.join("MANIFEST.json"), m.replacen(&id, "inc_forged", 1)).unwrap();
    assert!(!verify(&d).status.success(), "a forged manifest verified");
    let d = copy("custody");
    let c = std::fs::read_to_string(d.join("custody.jsonl")).unwrap();
    std::fs::write(
        d.join("custody.jsonl"),
        c.replacen("collected", "colected", 1),
    )
    .unwrap();
    assert!(
        !verify(&d).status.success(),
        "a rewritten custody chain verified"
    );
    // A different key does not vouch for it.
    let other = Vault::init(Backend::Sqlite).await.unwrap();
    let o = std::process::Command::new(common::BIN)
        .args([
            "incident",
            "verify-evidence",
            &out.to_string_lossy(),
            "--data-dir",
            &other.data_dir().to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "another vault's key verified the bundle"
    );
}

#[tokio::test]
async fn the_affected_list_is_exactly_the_scripted_accesses() {
    use reqwest::Method as M;
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let s = v.serve();
    let (_, early) = clinician(&s, &v.token, "mallory").await;
    let ps: Vec<String> = {
        let mut ps = Vec::new();
        for _ in 0..6 {
            ps.push(patient(&s, &v.token).await);
        }
        ps
    };
    // Before the window: mallory reads p5 (excluded by --since).
    ok(
        &s,
        M::GET,
        &format!("/v1/collections/patients/records/{}", ps[5]),
        &early,
        None,
    )
    .await;
    // Audit timestamps are microseconds; make the window start strictly after.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = jiff::Timestamp::now().to_string();
    for p in &ps[0..3] {
        ok(
            &s,
            M::GET,
            &format!("/v1/collections/patients/records/{p}"),
            &early,
            None,
        )
        .await;
    }
    // Another user's read of p3 is not mallory's.
    let (_, other) = clinician(&s, &v.token, "bob").await;
    ok(
        &s,
        M::GET,
        &format!("/v1/collections/patients/records/{}", ps[3]),
        &other,
        None,
    )
    .await;
    // A denied attempt: mallory tries to delete p4.
    let (st, _) = call(
        &s,
        M::DELETE,
        &format!("/v1/collections/patients/records/{}", ps[4]),
        &early,
        None,
    )
    .await;
    assert_eq!(st, 403);
    let csv = v.dir.path().join("affected.csv");
    let o = v.run(&[
        "incident",
        "affected",
        "--actor",
        "mallory",
        "--since",
        &since,
        "--csv",
        &csv.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    let want: BTreeSet<&str> = ps[0..3]
        .iter()
        .map(String::as_str)
        .chain([ps[4].as_str()])
        .collect();
    assert_eq!(ids, want, "{csv}");
    for r in &rows {
        let id = r.split(',').next().unwrap();
        let access = r.rsplit(',').next().unwrap();
        if id == ps[4] {
            assert_eq!(access, "attempted", "{r}");
        } else {
            assert_eq!(access, "yes", "{r}");
            assert!(r.contains(",TX,"), "state from the address: {r}");
        }
    }
    assert!(text(&o).contains("TX"), "{}", text(&o));
    // No PHI in the list: ids, state codes, field names and times only.
    assert!(!csv.contains("Ada") && !csv.contains("Elm"), "{csv}");
}

#[tokio::test]
async fn alerts_reach_a_webhook_that_was_down_for_a_while() {
    use reqwest::Method as M;
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let secret = "webhook-secret-for-the-test-0123456789";
    let receiver =
        phivault_server::breach::receiver::Receiver::start(v.dir.path(), secret.as_bytes())
            .await
            .unwrap();
    receiver.set_down(true);
    let secret_file = v.dir.path().join("hook-secret");
    std::fs::write(&secret_file, secret).unwrap();
    std::fs::write(
        v.data_dir().join("breach.toml"),
        format!(
            "[rules.off_hours]\nenabled = false\n\n[[webhooks]]\nname = \"soc\"\nurl = \"{}\"\nsecret_file = \"{}\"\nca_file = \"{}\"\n",
            receiver.url(),
            secret_file.display(),
            receiver.ca_file.display()
        ),
    )
    .unwrap();
    let s = v.serve();
    // A break-glass grant is an alert by itself.
    ok(&s, M::PUT, "/v1/roles/er", &v.token, Some(json!({"role": "er", "permissions": ["view:patients"], "care_team_only": true, "break_glass": true}))).await;
    ok(
        &s,
        M::POST,
        "/v1/users",
        &v.token,
        Some(json!({"id": "doc", "roles": ["er"]})),
    )
    .await;
    let api = ok(&s, M::POST, "/v1/users/doc/tokens", &v.token, None).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = ok(&s, M::POST, "/v1/sessions", &api, None).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = patient(&s, &v.token).await;
    let (st, body) = call(&s, M::POST, "/v1/break-glass", &session, Some(json!({"patient_id": p, "reason": "unconscious patient in the emergency department, no team on site"}))).await;
    assert!((200..300).contains(&st), "{st} {body}");
    // Down: deliveries fail and are retried (the alert is queued, not lost).
    let failing = within(Duration::from_secs(20), || async {
        let (_, ev) = call(
            &s,
            M::GET,
            "/v1/audit/events?action=alert_raised",
            &v.token,
            None,
        )
        .await;
        ev["events"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert!(failing.is_some(), "no alert was raised");
    // At least two deliveries fail (the first try and one retry).
    let retried = within(Duration::from_secs(30), || async {
        receiver.down_hits() >= 2
    })
    .await;
    assert!(
        retried.is_some(),
        "the delivery was not retried while the endpoint was down"
    );
    assert!(receiver.received().is_empty());
    receiver.set_down(false);
    let got = receiver
        .wait_for(1, Instant::now() + Duration::from_secs(30))
        .await;
    assert!(
        !got.is_empty(),
        "the alert never arrived after the endpoint came back"
    );
    assert_eq!(got.len(), 1, "one alert, delivered once: {got:?}");
    let body = got[0].body.to_string();
    assert!(body.contains("break_glass"), "{body}");
    assert!(
        !body.contains("Ada") && !body.contains("unconscious"),
        "PHI or free text in an alert: {body}"
    );
    assert_eq!(receiver.rejected(), 0);
}

#[tokio::test]
async fn a_planted_honey_record_alerts_and_isolates_whoever_reads_it() {
    use reqwest::Method as M;
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let s = v.serve();
    let (_, session) = clinician(&s, &v.token, "insider").await;
    let token_file = v.dir.path().join("admin-token");
    let o = v.run(&[
        "honey",
        "create",
        "--count",
        "2",
        "--url",
        &s.url,
        "--token-file",
        &token_file.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = v.run(&["honey", "list", "--ids"]);
    let listed = text(&o);
    let ids: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(ids.len(), 2, "{listed}");
    // Decoys look like any patient record to a reader.
    let (st, body) = call(
        &s,
        M::GET,
        &format!("/v1/collections/patients/records/{}", ids[0]),
        &session,
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    for f in ["name", "birth_date", "ssn", "address"] {
        assert!(body["fields"].get(f).is_some(), "decoy lacks {f}: {body}");
    }
    // The flag reaches the server within a second; from then on a read
    // alerts (critical) and isolates the reader.
    let refused = within(Duration::from_secs(5), || async {
        let (st, _) = call(
            &s,
            M::GET,
            &format!("/v1/collections/patients/records/{}", ids[0]),
            &session,
            None,
        )
        .await;
        st == 401 || st == 403
    })
    .await;
    assert!(
        refused.is_some(),
        "reading a honey record never isolated the reader"
    );
    let (_, ev) = call(
        &s,
        M::GET,
        "/v1/audit/events?action=alert_raised&user=insider",
        &v.token,
        None,
    )
    .await;
    assert!(
        ev["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "honey"),
        "{ev}"
    );
}
