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

#[path = "compliance/access_logs.rs"]
mod access_logs;
mod common;
#[path = "compliance/keys_audit.rs"]
mod keys_audit;
#[path = "compliance/settings_tls.rs"]
mod settings_tls;

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
        "transmission.audit_stream",
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
