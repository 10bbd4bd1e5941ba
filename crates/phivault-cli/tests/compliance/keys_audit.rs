//! Keys and the audit trail: KEK age, separation, envelopes, keyring
//! restores, a tampered segment, stale checkpoints, streaming lag, the outbox.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_kek_fails_rotation() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let (ok, out) = check(&v, &["--at", &later(100)]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "keys.kek_age",
        "164.312(a)(2)(iv)",
        "100 days old; the rotation period is 90",
    );
    let (_, out) = check(&v, &["--at", &later(80)]);
    assert_line(
        &out,
        "WARN",
        "keys.kek_age",
        "164.312(a)(2)(iv)",
        "near the rotation period",
    );
}

/// `keys/` moved beside the database (a symlink keeps the path working).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_beside_the_database_fail_separation() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let d = v.data_dir();
    std::fs::rename(d.join("keys"), d.join("db-keys")).unwrap();
    std::os::unix::fs::symlink(d.join("db-keys"), d.join("keys")).unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "keys.separation",
        "164.312(a)(2)(iv)",
        "beside the SQLite PHI database",
    );
}

/// A record sealed under this vault's keyring, then another vault's keyring
/// in its place: the sampled envelopes do not open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_keyring_fails_envelope_check() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let srv = v.serve();
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    drop(srv);
    let other = Vault::init(Backend::Sqlite).await.unwrap();
    let keys = v.data_dir().join("keys/keyring.json");
    std::fs::copy(other.data_dir().join("keys/keyring.json"), &keys).unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "keys.envelope",
        "164.312(c)(2)",
        "1 of 1 sampled data keys do not open",
    );
}

/// A keyring restored from a backup older than the last rotation: data
/// keys are under a KEK version it does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_older_than_the_rotation_warns_and_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let srv = v.serve_env(&ENV);
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    drop(srv);
    let keyring = v.data_dir().join("keys/keyring.json");
    let backup = std::fs::read(&keyring).unwrap();
    let o = v.run_env(&["keys", "rotate"], &ENV);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(&keyring, backup).unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "WARN",
        "keys.deks_current",
        "164.312(a)(2)(iv)",
        "1 data keys are not under the current KEK",
    );
    assert_line(
        &out,
        "FAIL",
        "keys.envelope",
        "164.312(c)(2)",
        "1 of 1 sampled data keys do not open",
    );
}

/// One byte of a stored event changed: the check fails naming its index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_audit_segment_fails_naming_the_index() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let srv = v.serve_env(&ENV);
    for _ in 0..3 {
        post(
            &srv,
            &v.token,
            "/v1/collections/patients/records",
            json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
        )
        .await;
    }
    checkpoint(&srv, &v.token).await;
    drop(srv);
    let index = common::tamper_created_event(&v.data_dir());
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "audit.verify",
        "164.312(b)",
        &format!("first bad index {index}:"),
    );
}

/// A trail whose verifier key is gone cannot be checked: a fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_audit_verifier_key_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let srv = v.serve_env(&ENV);
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    checkpoint(&srv, &v.token).await;
    drop(srv);
    std::fs::remove_file(v.data_dir().join("audit-key/verifier.txt")).unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "audit.verify",
        "164.312(b)",
        "verifier key `audit-key/verifier.txt` is missing",
    );
}

/// Events after the newest checkpoint stay unsigned once the server is
/// gone: a warn past twice the interval, a fail after a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_checkpoint_warns_then_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    config(
        &v,
        "audit_checkpoint_seconds = 3600\naudit_checkpoint_events = 1000000\n",
    );
    let mut srv = v.serve_env(&ENV);
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    srv.kill9();
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "PASS",
        "audit.checkpoint_fresh",
        "164.312(c)(1)",
        "unsigned",
    );
    let in_3h = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(3))
        .unwrap()
        .to_string();
    let (_, out) = check(&v, &["--at", &in_3h]);
    assert_line(
        &out,
        "WARN",
        "audit.checkpoint_fresh",
        "164.312(c)(1)",
        "are unsigned",
    );
    let (ok, out) = check(&v, &["--at", &later(2)]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "audit.checkpoint_fresh",
        "164.312(c)(1)",
        "are unsigned",
    );
}

/// A broker that never acknowledges: the lag is named per sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lag_warns_then_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    // Nothing listens on port 9 (discard) here: the sink never connects.
    config(&v, "nats_url = \"nats://127.0.0.1:9\"\n");
    let srv = v.serve_env(&ENV);
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    checkpoint(&srv, &v.token).await;
    drop(srv);
    let in_1h = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap()
        .to_string();
    let (_, out) = check(&v, &["--at", &in_1h]);
    assert_line(&out, "WARN", "audit.streaming", "164.312(b)", "`nats` lags");
    let (ok, out) = check(&v, &["--at", &later(2)]);
    assert!(!ok);
    assert_line(&out, "FAIL", "audit.streaming", "164.312(b)", "`nats` lags");
}

/// `keys rotate` beside a server that then dies leaves its events in the
/// outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_left_undrained_warns() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let mut srv = v.serve_env(&ENV);
    let o = v.run_env(&["keys", "rotate"], &ENV);
    assert!(o.status.success(), "{}", text(&o));
    srv.kill9();
    let pending = std::fs::read_dir(v.data_dir().join("audit-outbox"))
        .unwrap()
        .count();
    assert!(pending > 0, "the rotation's events were drained already");
    let in_10m = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_mins(10))
        .unwrap()
        .to_string();
    let (_, out) = check(&v, &["--at", &in_10m]);
    assert_line(
        &out,
        "WARN",
        "audit.outbox_pending",
        "164.312(b)",
        "wait in audit-outbox/",
    );
}

/// KEKs in an HSM (SoftHSM2) with the keyring left open: a warn, not a
/// fail, since the keyring then holds only the blind-index root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_keyring_beside_an_hsm_warns() {
    let label = format!("pv-comp-{}", std::process::id());
    let Some((hsm, pin)) = common::softhsm_config(&label) else {
        return;
    };
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    config(&v, &hsm);
    let env = [("PHIVAULT_PKCS11_PIN", pin.as_str())];
    let srv = v.serve_env(&env);
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    drop(srv);
    let o = v.run_env(&["compliance", "check"], &env);
    let out = text(&o);
    assert_line(
        &out,
        "WARN",
        "keys.keyring_protected",
        "164.312(a)(2)(iv)",
        "KEKs are in the HSM/KMS",
    );
    assert!(!out.contains("FAIL  keys.keyring_protected"), "{out}");
}
