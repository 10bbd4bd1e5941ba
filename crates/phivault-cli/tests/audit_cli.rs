//! The audit tools as an operator or auditor runs them: `audit verify`,
//! `audit verify-proof` with only the public key, `audit export` in every
//! format, `audit disclosures`, and `access review`, all through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use common::{Backend, Server, Vault};
use phivault_audit::Event;
use serde_json::{Value, json};

async fn get(srv: &Server, token: &str, path: &str) -> reqwest::Response {
    let r = srv
        .http
        .get(format!("{}{path}", srv.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r
}

async fn create(srv: &Server, token: &str) -> String {
    let r = srv
        .http
        .post(format!("{}/v1/collections/patients/records", srv.url))
        .bearer_auth(token)
        .json(&json!({"fields": common::canary_patient()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn tools(backend: Backend) {
    let Some(vault) = Vault::init(backend).await else {
        return;
    };
    let srv = vault.serve();
    let tok = vault.token.clone();
    let id = create(&srv, &tok).await;
    let rec = format!("/v1/collections/patients/records/{id}");
    srv.http
        .get(format!("{}{rec}", srv.url))
        .bearer_auth(&tok)
        .header("x-purpose-of-use", "TREAT")
        .send()
        .await
        .unwrap();
    let old_cp = get(&srv, &tok, "/v1/audit/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    create(&srv, &tok).await;
    let cp = get(&srv, &tok, "/v1/audit/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    let key = get(&srv, &tok, "/v1/audit/public-key")
        .await
        .text()
        .await
        .unwrap();
    let size: u64 = cp.lines().nth(1).unwrap().parse().unwrap();
    let old_size: u64 = old_cp.lines().nth(1).unwrap().parse().unwrap();

    // The viewed event, its inclusion proof, and a consistency proof.
    let evs: Value = get(
        &srv,
        &tok,
        &format!("/v1/audit/events?action=viewed&patient_id={id}"),
    )
    .await
    .json()
    .await
    .unwrap();
    let ev: Event = serde_json::from_value(evs["events"][0].clone()).unwrap();
    let incl: Value = get(
        &srv,
        &tok,
        &format!(
            "/v1/audit/proofs/inclusion?index={}&tree_size={size}",
            ev.index
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let cons: Value = get(
        &srv,
        &tok,
        &format!("/v1/audit/proofs/consistency?from={old_size}&to={size}"),
    )
    .await
    .json()
    .await
    .unwrap();
    drop(srv);

    let d = tempfile::tempdir().unwrap();
    let p = |name: &str, bytes: &[u8]| common::write(d.path(), name, bytes);
    let key_f = p("key", key.as_bytes());
    let cp_f = p("cp", cp.as_bytes());
    let old_f = p("old", old_cp.as_bytes());
    let incl_f = p("incl.json", incl.to_string().as_bytes());
    let cons_f = p("cons.json", cons.to_string().as_bytes());
    let ev_f = p("ev.json", &ev.encode());
    let s = |x: &std::path::Path| x.to_string_lossy().into_owned();
    let offline = |extra: &[&str]| {
        let mut args = vec!["audit", "verify-proof"];
        args.extend_from_slice(extra);
        std::process::Command::new(common::BIN)
            .args(args)
            .output()
            .unwrap()
    };
    let (kf, cf, inf, ef, of, cof) = (
        s(&key_f),
        s(&cp_f),
        s(&incl_f),
        s(&ev_f),
        s(&old_f),
        s(&cons_f),
    );
    let o = offline(&[
        "--public-key",
        &kf,
        "--checkpoint",
        &cf,
        "--proof",
        &inf,
        "--event",
        &ef,
    ]);
    assert!(o.status.success(), "{}", common::text(&o));
    let o = offline(&[
        "--public-key",
        &kf,
        "--checkpoint",
        &cf,
        "--proof",
        &cof,
        "--old-checkpoint",
        &of,
    ]);
    assert!(o.status.success(), "{}", common::text(&o));
    // An altered event is not in the signed log.
    let mut forged = ev.clone();
    forged.user = "someone-else".into();
    let forged_f = s(&p("forged.json", &forged.encode()));
    let o = offline(&[
        "--public-key",
        &kf,
        "--checkpoint",
        &cf,
        "--proof",
        &inf,
        "--event",
        &forged_f,
    ]);
    assert!(!o.status.success());
    assert!(common::text(&o).contains("inclusion proof rejected"));
    // A checkpoint signed by another key is refused.
    let other =
        "phivault.local/audit/default+00000000+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let o = offline(&[
        "--public-key",
        other,
        "--checkpoint",
        &cf,
        "--proof",
        &inf,
        "--event",
        &ef,
    ]);
    assert!(!o.status.success());

    // Verify the whole stored log.
    let o = vault.run(&["audit", "verify"]);
    assert!(o.status.success(), "{}", common::text(&o));
    let t = common::text(&o);
    let n: u64 = t
        .strip_prefix("ok: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n >= size, "{t}");

    // Exports: every format parses, no PHI in any.
    for format in ["jsonl", "cef", "fhir"] {
        let o = vault.run(&["audit", "export", "--format", format]);
        assert!(o.status.success(), "{format}: {}", common::text(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.lines().count() as u64 >= size, "{format}");
        for line in out.lines() {
            if format != "cef" {
                let v: Value = serde_json::from_str(line).unwrap();
                assert!(v.is_object());
            } else {
                assert!(line.starts_with("CEF:0|"));
            }
            for c in common::CANARY_STRINGS {
                assert!(!line.contains(c), "PHI `{c}` in {format} export");
            }
        }
        if format == "fhir" {
            assert!(out.contains("\"resourceType\":\"AuditEvent\""));
        }
    }
    let o = vault.run(&["audit", "export", "--format", "xml"]);
    assert!(!o.status.success());

    // The accounting of disclosures names the reader, the fields and the purpose.
    let o = vault.run(&["audit", "disclosures", "--patient", &id, "--json"]);
    assert!(o.status.success(), "{}", common::text(&o));
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = list.to_string();
    assert!(
        text.contains("admin") && text.contains("TREAT") && text.contains("ssn"),
        "{text}"
    );
    let o = vault.run(&["audit", "disclosures", "--patient", &id]);
    assert!(o.status.success());
    for c in common::CANARY_STRINGS {
        assert!(!common::text(&o).contains(c));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_sqlite() {
    tools(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_postgres() {
    tools(Backend::Postgres).await;
}

/// Flipping one byte of a stored event is named by `audit verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_tampering() {
    let vault = Vault::init(Backend::Sqlite).await.unwrap();
    let srv = vault.serve();
    for _ in 0..3 {
        create(&srv, &vault.token).await;
    }
    get(&srv, &vault.token, "/v1/audit/checkpoint").await;
    drop(srv);
    let digits = common::tamper_created_event(&vault.data_dir());
    let o = vault.run(&["audit", "verify"]);
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(t.contains(&format!("first bad index {digits}:")), "{t}");
}
