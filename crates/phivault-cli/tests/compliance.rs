//! `phivault compliance check` through the binary: a production-like
//! install (README "Production") passes with no fail, a zero-config one
//! names its warns and fails, and each misconfiguration a check exists for
//! fails (or warns) naming the finding and its §164.312 paragraph.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::path::{Path, PathBuf};

use common::{Backend, Server, Vault, text};
use serde_json::{Value, json};

const PASSPHRASE: &str = "correct horse battery staple";
const ENV: [(&str, &str); 1] = [("PHIVAULT_KEYRING_PASSPHRASE", PASSPHRASE)];

/// Seals the keyring under the passphrase (`keys protect`).
fn protect(v: &Vault) {
    let o = v.run_env(
        &["keys", "protect"],
        &[("PHIVAULT_KEYRING_NEW_PASSPHRASE", PASSPHRASE)],
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// `compliance check` as text: (exit success, output).
fn check(v: &Vault, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["compliance", "check"];
    args.extend_from_slice(extra);
    let o = v.run_env(&args, &ENV);
    (o.status.success(), text(&o))
}

/// `compliance check --format json`: (exit success, report).
fn report(v: &Vault, extra: &[&str]) -> (bool, Value) {
    let mut args = vec!["compliance", "check", "--format", "json"];
    args.extend_from_slice(extra);
    let o = v.run_env(&args, &ENV);
    let r: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    (o.status.success(), r)
}

fn finding<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding `{id}` in {r:#}"))
}

fn config(v: &Vault, toml: &str) {
    std::fs::write(v.data_dir().join("config.toml"), toml).unwrap();
}

fn policy(v: &Vault, name: &str, role: Value) {
    let dir = v.data_dir().join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.json")), role.to_string()).unwrap();
}

/// Asserts a text report line `STATUS  id  [§paragraph…` and that it
/// contains `detail`.
fn assert_line(out: &str, status: &str, id: &str, paragraph: &str, detail: &str) {
    let prefix = format!("{status}  {id}  [§{paragraph} ");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"));
    assert!(line.contains(detail), "`{detail}` not in `{line}`");
}

fn later(days: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap()
        .to_string()
}

/// A certificate for localhost issued by a fresh test CA, valid from
/// `from` to `until`; returns (cert, key, CA cert) paths.
fn ca_issued(
    dir: &Path,
    from: jiff::Timestamp,
    until: jiff::Timestamp,
) -> (PathBuf, PathBuf, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let day = |t: jiff::Timestamp| {
        let d = jiff::tz::TimeZone::UTC.to_datetime(t).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "phivault test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.not_before = day(from);
    leaf.not_after = day(until);
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let (c, k) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k, ca_pem)
}

fn days_from_now(d: i64) -> jiff::Timestamp {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * d))
        .unwrap()
}

fn tls_config(c: &Path, k: &Path) -> String {
    format!(
        "tls_cert = {:?}\ntls_key = {:?}\n",
        c.display().to_string(),
        k.display().to_string()
    )
}

async fn post(srv: &Server, token: &str, path: &str, body: Value) -> Value {
    let r = srv
        .http
        .post(format!("{}{path}", srv.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn checkpoint(srv: &Server, token: &str) {
    let r = srv
        .http
        .get(format!("{}/v1/audit/checkpoint", srv.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// The README's production section, as far as one machine allows:
/// PostgreSQL, a passphrase-sealed keyring, a CA-issued certificate, idle
/// timeout 10 minutes, audit streamed to NATS, metrics on loopback, named
/// users with narrow roles and one break-glass holder. Passes with no fail;
/// the JSON report parses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_install_passes() {
    let Some(v) = Vault::init(Backend::Postgres).await else {
        return;
    };
    protect(&v);
    let pki = tempfile::tempdir().unwrap();
    let (cert, key, ca) = ca_issued(pki.path(), days_from_now(-1), days_from_now(365));
    config(
        &v,
        &format!(
            "{}session_idle_minutes = 10\nsession_lifetime_minutes = 480\nkey_rotation_days = 90\nauto_rotate = true\nnats_url = \"nats://127.0.0.1:4222\"\nmetrics_listen = \"127.0.0.1:0\"\n",
            tls_config(&cert, &key)
        ),
    );
    policy(
        &v,
        "nurse",
        json!({"role": "nurse", "permissions": ["view:patients", "search:patients"],
               "care_team_only": true, "fields": {"patients": {"masked": ["ssn"]}}}),
    );
    policy(
        &v,
        "er",
        json!({"role": "er", "permissions": ["view:patients"], "break_glass": true}),
    );
    policy(
        &v,
        "registrar",
        json!({"role": "registrar", "permissions": ["create:patients", "view:patients"]}),
    );
    let srv = v.serve_trusting(&ENV, &ca);
    for (id, role) in [
        ("nurse1", "nurse"),
        ("nurse2", "nurse"),
        ("doc1", "er"),
        ("reg1", "registrar"),
    ] {
        post(
            &srv,
            &v.token,
            "/v1/users",
            json!({"id": id, "display_name": id, "roles": [role]}),
        )
        .await;
    }
    // A registrar, not the admin token, registers and reads a patient.
    let api = post(&srv, &v.token, "/v1/users/reg1/tokens", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = post(&srv, &api, "/v1/sessions", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = post(
        &srv,
        &session,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = srv
        .http
        .get(format!("{}/v1/collections/patients/records/{id}", srv.url))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    checkpoint(&srv, &v.token).await;
    drop(srv);
    let (ok, r) = report(&v, &[]);
    let fails: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .collect();
    assert!(ok && fails.is_empty(), "fails: {fails:#?}");
    assert_eq!(r["summary"]["fail"], 0);
    assert!(
        finding(&r, "keys.envelope")["summary"]
            .as_str()
            .unwrap()
            .starts_with("1 sampled data keys open"),
        "{r:#}"
    );
    assert_eq!(r["install"]["store"], "postgresql");
    for id in [
        "keys.keyring_protected",
        "transmission.tls",
        "transmission.certificate",
        "transmission.certificate_issuer",
        "access.automatic_logoff",
        "access.break_glass",
        "access.wildcard_phi",
        "auth.admin_token",
        "keys.envelope",
        "audit.verify",
        "audit.streaming",
        "config.weakening_settings",
    ] {
        assert_eq!(
            finding(&r, id)["status"],
            "pass",
            "{id}: {:#}",
            finding(&r, id)
        );
    }
    // The HTML report of the same install has no fail badge; keep it (and
    // look at it) with PHIVAULT_COMPLIANCE_REPORT_DIR=DIR.
    let o = v.run_env(&["compliance", "check", "--format", "html"], &ENV);
    assert!(o.status.success(), "{}", text(&o));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(!html.contains("badge fail") && html.contains("badge pass"));
    if let Ok(dir) = std::env::var("PHIVAULT_COMPLIANCE_REPORT_DIR") {
        std::fs::write(Path::new(&dir).join("production.html"), &html).unwrap();
        let t = v.run_env(&["compliance", "check"], &ENV);
        std::fs::write(Path::new(&dir).join("production.txt"), text(&t)).unwrap();
    }
    // Each finding carries its paragraph and, where one applies, the pitfall.
    assert_eq!(
        finding(&r, "access.wildcard_phi")["safeguard"],
        "164.312(a)(1)"
    );
    assert_eq!(
        finding(&r, "access.wildcard_phi")["pitfall"],
        "overpermissioned_accounts"
    );
}

/// A zero-config install (init only) fails on its unprotected keyring and
/// warns on what it lacks, naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_config_install_warns_and_fails_naming_why() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "keys.keyring_protected",
        "164.312(a)(2)(iv)",
        "not passphrase-protected",
    );
    assert!(out.contains("pitfall: Keys stored with PHI"), "{out}");
    assert_line(
        &out,
        "WARN",
        "transmission.certificate_issuer",
        "164.312(e)(2)(i)",
        "self-signed",
    );
    assert_line(
        &out,
        "WARN",
        "audit.streaming",
        "164.312(b)",
        "not streamed off-host",
    );
    assert_line(
        &out,
        "WARN",
        "audit.verify",
        "164.312(b)",
        "nothing has been recorded",
    );
    assert_line(
        &out,
        "WARN",
        "access.unique_users",
        "164.312(a)(2)(i)",
        "no named users",
    );
    assert_line(
        &out,
        "WARN",
        "access.break_glass",
        "164.312(a)(2)(ii)",
        "no role may request",
    );
    assert_line(
        &out,
        "PASS",
        "access.automatic_logoff",
        "164.312(a)(2)(iii)",
        "15 idle minutes",
    );
    assert!(out.contains("safeguard check(s) failed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_idle_timeout_fails_automatic_logoff() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    config(&v, "session_idle_minutes = 30\n");
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "access.automatic_logoff",
        "164.312(a)(2)(iii)",
        "30 idle minutes",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_session_lifetime_warns() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    config(&v, "session_lifetime_minutes = 1440\n");
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "auth.session_lifetime",
        "164.312(d)",
        "1440 minutes",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_http_fails_transmission_and_settings() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    config(&v, "insecure_http = true\n");
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.tls",
        "164.312(e)(1)",
        "plain HTTP",
    );
    assert_line(
        &out,
        "FAIL",
        "config.weakening_settings",
        "164.312(a)(1)",
        "insecure_http",
    );
    assert!(out.contains("pitfall: The \"Temporary\" Backdoor"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_all_trusted_proxy_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    config(&v, "trusted_proxies = [\"10.0.0.0/8\", \"0.0.0.0/0\"]\n");
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "config.weakening_settings",
        "164.312(a)(1)",
        "`0.0.0.0/0`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listener_off_host_warns() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    config(&v, "metrics_listen = \"0.0.0.0:9464\"\n");
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "transmission.metrics_listener",
        "164.312(e)(1)",
        "0.0.0.0:9464",
    );
}

/// Expired, not yet valid (as of `--at`), expiring within 30 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_validity_is_checked() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let pki = tempfile::tempdir().unwrap();
    let (c, k, _) = ca_issued(pki.path(), days_from_now(-400), days_from_now(-2));
    config(&v, &tls_config(&c, &k));
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.certificate",
        "164.312(e)(2)(ii)",
        "expired on",
    );
    let (c, k, _) = ca_issued(pki.path(), days_from_now(-1), days_from_now(10));
    config(&v, &tls_config(&c, &k));
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "transmission.certificate",
        "164.312(e)(2)(ii)",
        "expires in",
    );
    let (ok, out) = check(&v, &["--at", "2001-01-01T00:00:00Z"]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.certificate",
        "164.312(e)(2)(ii)",
        "not valid before",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_with_another_key_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let pki = tempfile::tempdir().unwrap();
    let (c, _, _) = ca_issued(pki.path(), days_from_now(-1), days_from_now(365));
    let other = tempfile::tempdir().unwrap();
    let (_, k, _) = ca_issued(other.path(), days_from_now(-1), days_from_now(365));
    config(&v, &tls_config(&c, &k));
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.certificate",
        "164.312(e)(2)(ii)",
        "do not form a TLS configuration",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_certificate_fails_outdated_encryption() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    config(
        &v,
        &tls_config(
            &data.join("weak-rsa1024-sha1.cert.pem"),
            &data.join("weak-rsa1024-sha1.key.pem"),
        ),
    );
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.certificate_strength",
        "164.312(e)(2)(ii)",
        "1024-bit RSA",
    );
    assert!(out.contains("SHA-1"), "{out}");
    assert!(
        out.contains("pitfall: Outdated Encryption Practices"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_certificate_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    std::fs::remove_file(v.data_dir().join("tls/cert.pem")).unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.certificate",
        "164.312(e)(2)(ii)",
        "missing or not a PEM",
    );
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_phi_role_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    policy(
        &v,
        "ops",
        json!({"role": "ops", "admin": true, "permissions": ["view:*", "read_audit:audit"]}),
    );
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "access.wildcard_phi",
        "164.312(a)(1)",
        "role `ops` grants `view:*`",
    );
    assert!(out.contains("pitfall: Overpermissioned Accounts"), "{out}");
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
    let seg = std::fs::read_dir(v.data_dir().join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.windows(9).position(|w| w == b"\"created\"").unwrap();
    bytes[at + 1] = b'C';
    let start = bytes[..at]
        .windows(9)
        .rposition(|w| w == b"{\"index\":")
        .unwrap();
    let index: String = bytes[start + 9..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    std::fs::write(&seg, bytes).unwrap();
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

/// The built-in admin token reading and writing records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_used_for_phi_warns() {
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
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "auth.admin_token",
        "164.312(d)",
        "used for 1 PHI accesses",
    );
    assert!(
        !out.contains("Pat Example") && !out.contains("1980-01-02"),
        "{out}"
    );
}

/// Every user holds the break-glass role, and nobody used what they hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_for_everyone_and_unused_permissions_warn() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    policy(
        &v,
        "er",
        json!({"role": "er", "permissions": ["view:patients", "export:patients"], "break_glass": true}),
    );
    let srv = v.serve();
    for n in 0..4 {
        post(
            &srv,
            &v.token,
            "/v1/users",
            json!({"id": format!("u{n}"), "display_name": "x", "roles": ["er"]}),
        )
        .await;
    }
    drop(srv);
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "access.break_glass",
        "164.312(a)(2)(ii)",
        "4 of 4 users hold a break-glass role (`er`)",
    );
    assert_line(
        &out,
        "WARN",
        "access.unused_permissions",
        "164.312(a)(1)",
        "role `er`: `export:patients` (4 users)",
    );
}

/// PHI written into the server's log directory around the scrubber fails;
/// redaction markers warn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phi_in_log_files_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let logs = v.data_dir().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("phivault.log"),
        "2026-12-02T14:17:43.123456Z DEBUG phivault_server::vault: lookup ssn=078-05-1120 email=zebulon.canary@example.net\n",
    )
    .unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "logs.no_phi",
        "164.312(a)(2)(iv)",
        "possible PHI values in clear",
    );
    assert!(
        out.contains("pitfall: PHI in log files \"just for debugging\""),
        "{out}"
    );
    for leaked in common::CANARY_STRINGS {
        assert!(!out.contains(leaked), "the report repeats `{leaked}`");
    }
    std::fs::write(
        logs.join("phivault.log"),
        "2026-12-02T14:17:43.123456Z  WARN phivault_server::vault: lookup failed key=[REDACTED:ssn]\n",
    )
    .unwrap();
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "logs.no_phi",
        "164.312(a)(2)(iv)",
        "`[REDACTED:…]`",
    );
}

/// The HTML report: self-contained, grouped by paragraph with badges, and
/// every string escaped (a configured path with markup in it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_is_self_contained_and_escaped() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    config(
        &v,
        "tls_cert = \"/nonexistent/<b>&'cert\\\".pem\"\ntls_key = \"/nonexistent/key.pem\"\n",
    );
    let o = v.run_env(&["compliance", "check", "--format", "html"], &ENV);
    assert!(!o.status.success());
    let html = String::from_utf8(o.stdout).unwrap();
    if let Ok(dir) = std::env::var("PHIVAULT_COMPLIANCE_REPORT_DIR") {
        std::fs::write(Path::new(&dir).join("zero-config.html"), &html).unwrap();
    }
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<table>") && html.contains("</table>"));
    for p in [
        "164.312(a)(1)",
        "164.312(a)(2)(iii)",
        "164.312(b)",
        "164.312(e)(2)(ii)",
    ] {
        assert!(html.contains(&format!("§{p} ")), "no group for {p}");
    }
    assert!(html.contains("<span class=\"badge fail\">FAIL</span>"));
    assert!(html.contains("<code>transmission.certificate</code>"));
    assert!(
        html.contains("/nonexistent/&lt;b&gt;&amp;&#39;cert&quot;.pem"),
        "{html}"
    );
    assert!(!html.contains("<b>&'cert"), "unescaped path");
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
    assert!(!html.contains("http://") && !html.contains("https://"));
}
