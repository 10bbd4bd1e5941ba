//! `key_provider` in `config.toml`, through the real binary: the server and
//! `phivault keys` on a PKCS#11 token (SoftHSM2), and a vault moved from
//! the local keyring to Vault Transit (the in-process stand-in), its old
//! DEKs still readable and then migrated by `keys rotate --resume`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use common::{Backend, Server, Vault, text};
use phivault_core::envelope::WrappedDek;
use serde_json::json;

async fn create(srv: &Server, token: &str, i: usize) -> String {
    let res = srv
        .http
        .post(format!("{}/v1/collections/patients/records", srv.url))
        .bearer_auth(token)
        .json(&json!({"fields": {"name": format!("Pat {i}"), "birth_date": "1980-01-02", "ssn": format!("123-45-{:04}", 1000 + i)}}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn assert_readable(srv: &Server, token: &str, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        let res = srv
            .http
            .get(format!("{}/v1/collections/patients/records/{id}", srv.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "record {i}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["fields"]["name"].as_str().unwrap().starts_with("Pat "));
    }
}

/// The provider kind of each record's stored wrapped DEK.
async fn kinds(v: &Vault, ids: &[String]) -> Vec<u8> {
    let loc = v
        .data_dir()
        .join("phivault.db")
        .to_string_lossy()
        .into_owned();
    let store = phivault_store::open(&loc).await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        let r = store.get_record("patients", id).await.unwrap().unwrap();
        out.push(WrappedDek::decode(&r.wrapped_dek).unwrap().kek.provider);
    }
    out
}

fn config(v: &Vault, toml: &str) {
    std::fs::write(v.data_dir().join("config.toml"), toml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_provider_end_to_end() {
    let label = format!("pv-cli-{}", std::process::id());
    let Some((hsm, pin)) = common::softhsm_config(&label) else {
        return;
    };
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    config(&v, &hsm);
    let env = [("PHIVAULT_PKCS11_PIN", pin.as_str())];
    // Without the PIN the server refuses to start, naming what is missing.
    let no_pin = v.run(&["keys", "status"]);
    assert!(!no_pin.status.success());
    assert!(
        text(&no_pin).contains("PHIVAULT_PKCS11_PIN"),
        "{}",
        text(&no_pin)
    );
    let srv = v.serve_env(&env);
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(create(&srv, &v.token, i).await);
    }
    assert_readable(&srv, &v.token, &ids).await;
    assert!(
        kinds(&v, &ids).await.iter().all(|k| *k == 2),
        "wrapped in the HSM"
    );
    let st = text(&v.run_env(&["keys", "status"], &env));
    assert!(st.contains("key provider: pkcs11"), "{st}");
    assert!(
        st.contains("kek 1 (current)") && st.contains("10 DEKs"),
        "{st}"
    );
    let r = v.run_env(&["keys", "rotate"], &env);
    assert!(r.status.success(), "{}", text(&r));
    let st = text(&v.run_env(&["keys", "status"], &env));
    assert!(st.contains("kek 2 (current)"), "{st}");
    let r = v.run_env(&["keys", "retire", "--below", "2"], &env);
    assert!(r.status.success(), "{}", text(&r));
    assert_readable(&srv, &v.token, &ids).await;
    drop(srv);
    // A restart finds version 2 in the token.
    let srv = v.serve_env(&env);
    assert_readable(&srv, &v.token, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_to_vault_transit_migration() {
    const TOKEN: &str = "hvs.cli-test-token-0123456789";
    let standin = phivault_keys::transit::standin::Standin::start(TOKEN)
        .await
        .unwrap();
    reqwest::Client::new()
        .post(format!("{}/v1/transit/keys/phivault", standin.addr()))
        .header("X-Vault-Token", TOKEN)
        .json(&json!({"type": "aes256-gcm96"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let srv = v.serve();
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(create(&srv, &v.token, i).await);
    }
    drop(srv);
    config(
        &v,
        &format!(
            "key_provider = \"vault-transit\"\nvault_addr = \"{}\"\n",
            standin.addr()
        ),
    );
    let env = [("PHIVAULT_VAULT_TOKEN", TOKEN)];
    let wrong = v.run_env(
        &["keys", "status"],
        &[("PHIVAULT_VAULT_TOKEN", "hvs.wrong")],
    );
    assert!(!wrong.status.success(), "a wrong token is refused at start");
    let srv = v.serve_env(&env);
    // Old DEKs unwrap under the keyring; new ones go to Transit.
    assert_readable(&srv, &v.token, &ids).await;
    for i in 10..15 {
        ids.push(create(&srv, &v.token, i).await);
    }
    let k = kinds(&v, &ids).await;
    assert_eq!(&k[..10], &[1; 10]);
    assert_eq!(&k[10..], &[3; 5]);
    let st = text(&v.run_env(&["keys", "status"], &env));
    assert!(st.contains("key provider: vault-transit"), "{st}");
    assert!(st.contains("10 DEKs under keyring kek 1"), "{st}");
    // Migration: every DEK moves to Transit; nothing else changes.
    let r = v.run_env(&["keys", "rotate", "--resume"], &env);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("rewrapped 10 DEKs"), "{}", text(&r));
    assert_eq!(kinds(&v, &ids).await, vec![3; 15]);
    assert_readable(&srv, &v.token, &ids).await;
    // A Transit rotation then rewraps all fifteen to version 2.
    let r = v.run_env(&["keys", "rotate"], &env);
    assert!(r.status.success(), "{}", text(&r));
    assert!(
        text(&r).contains("rewrapped 15 DEKs to kek 2"),
        "{}",
        text(&r)
    );
    assert_readable(&srv, &v.token, &ids).await;
    let scan = text(&v.run_env(&["keys", "scan"], &env));
    assert!(scan.contains("0 under a kek below 2"), "{scan}");
}
