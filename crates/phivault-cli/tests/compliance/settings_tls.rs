//! Misconfigured settings and certificates: logoff, session lifetime,
//! plain HTTP, trusted proxies, metrics listener, certificate validity,
//! key mismatch, weak and missing certificates.

use super::*;

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
async fn no_lockout_fails_and_no_rate_limit_warns() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    config(&v, "auth_failure_limit = 0\n");
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "auth.abuse_limits",
        "164.312(d)",
        "never lock out",
    );
    config(&v, "rate_limit_per_second = 0\nrate_limit_burst = 10\n");
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "auth.abuse_limits",
        "164.312(d)",
        "no per-address rate limit",
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
async fn weak_ec_certificate_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    config(
        &v,
        &tls_config(
            &data.join("weak-p192.cert.pem"),
            &data.join("weak-p192.key.pem"),
        ),
    );
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "transmission.certificate_strength",
        "164.312(e)(2)(ii)",
        "192-bit EC key",
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

/// NATS beyond this host without TLS; loopback and `tls://` pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_audit_broker_off_host_warns() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    config(&v, "nats_url = \"nats://nats.internal:4222\"\n");
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "transmission.audit_stream",
        "164.312(e)(1)",
        "`nats_url` reaches `nats.internal` without TLS",
    );
    config(&v, "nats_url = \"tls://nats.internal:4222\"\n");
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "PASS",
        "transmission.audit_stream",
        "164.312(e)(1)",
        "over TLS",
    );
}
