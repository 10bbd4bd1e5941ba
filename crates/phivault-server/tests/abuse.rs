//! Abuse resistance through the real server: authentication lockout per
//! token id and per address (recorded, counted, `Retry-After`, expiring on
//! the server's clock), the per-address rate limit, and slow clients
//! (headers and bodies that never finish).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::time::Duration;

use phivault_audit::Event;
use phivault_server::config::FileConfig;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn events(app: &common::App, action: &str) -> Vec<Event> {
    let (s, b) = app
        .send(
            Method::GET,
            &format!("/v1/audit/events?action={action}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    serde_json::from_value(b["events"].clone()).unwrap()
}

/// The admin token with its secret replaced (same id, wrong secret).
fn wrong_secret(token: &str) -> String {
    // `pv_<id>_<secret>`: the id has no `_`, the secret may.
    let rest = token.strip_prefix("pv_").unwrap();
    let (id, secret) = rest.split_once('_').unwrap();
    format!("pv_{id}_{}", "A".repeat(secret.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_token_out_until_the_lockout_ends() {
    let over = FileConfig {
        auth_failure_limit: Some(3),
        auth_lockout_seconds: Some(600),
        ..FileConfig::default()
    };
    let app = common::spawn_app_with(common::Backend::Sqlite, over)
        .await
        .unwrap();
    let good = app.srv.admin_token.as_str().to_owned();
    let bad = wrong_secret(&good);
    for _ in 0..3 {
        let (s, b) = app
            .send_as(&bad, Method::GET, "/v1/collections", None)
            .await;
        assert_eq!(s, 401, "{b}");
    }
    // Locked now: even the right secret is refused, with a time to wait.
    let res = app
        .http
        .get(app.url("/v1/collections"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("600")
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "auth_locked_out");
    // The lockout ends on the server's clock.
    app.clock.advance(jiff::SignedDuration::from_secs(601));
    let (s, b) = app.send(Method::GET, "/v1/collections", None).await;
    assert_eq!(s, 200, "{b}");
    // Recorded: the failures of the known principal and the lockout.
    let failed = events(&app, "authentication_failed").await;
    assert_eq!(failed.len(), 3);
    assert!(
        failed
            .iter()
            .all(|e| e.reason.as_deref() == Some("bad_secret"))
    );
    let locked = events(&app, "authentication_locked_out").await;
    let kinds: Vec<_> = locked.iter().filter_map(|e| e.reason.clone()).collect();
    assert!(kinds.contains(&"token".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"address".to_owned()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_with_many_token_ids_lock_the_address_out() {
    let over = FileConfig {
        auth_failure_limit: Some(4),
        ..FileConfig::default()
    };
    let app = common::spawn_app_with(common::Backend::Sqlite, over)
        .await
        .unwrap();
    for i in 0..4 {
        let made_up = format!("pv_{i:016x}_{}", "B".repeat(43));
        let (s, _) = app
            .send_as(&made_up, Method::GET, "/v1/collections", None)
            .await;
        assert_eq!(s, 401);
    }
    let (s, b) = app.send(Method::GET, "/v1/collections", None).await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(b["error"]["code"], "auth_locked_out");
    // A malformed token counts too, and is refused while locked.
    let (s, _) = app
        .send_as("not-a-token", Method::GET, "/v1/collections", None)
        .await;
    assert_eq!(s, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_refuses_a_burst_beyond_its_size() {
    let over = FileConfig {
        rate_limit_per_second: Some(1),
        rate_limit_burst: Some(5),
        ..FileConfig::default()
    };
    let app = common::spawn_app_with(common::Backend::Sqlite, over)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = app.http.get(app.url("/healthz")).send().await.unwrap();
        statuses.push(res.status().as_u16());
        if res.status().as_u16() == 429 {
            let wait: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&wait), "{wait}");
        }
    }
    // At most one token refilled during the loop (1 per second).
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((5..=6).contains(&ok), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 8 - ok);
}

/// Reads from `tcp` until the peer closes (`Ok(())`) or `limit` passes.
async fn closed_within(tcp: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_tls_handshake_or_headers_is_cut_off() {
    let over = FileConfig {
        header_timeout_seconds: Some(1),
        ..FileConfig::default()
    };
    let app = common::spawn_app_with(common::Backend::Sqlite, over)
        .await
        .unwrap();
    // Plain bytes that are not a TLS handshake: refused at once.
    let mut tcp = tokio::net::TcpStream::connect(app.srv.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut tcp, Duration::from_secs(15)).await);
    // Over TLS, a request whose headers never end is closed by the header
    // timeout (1 s here), long before the 30 s upper bound of the wait.
    let mut tls = tls_connect(&app).await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(done.is_ok(), "the connection stayed open");
    assert!(started.elapsed() < Duration::from_secs(10));
}

async fn tls_connect(app: &common::App) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(app.srv.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(app.srv.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408() {
    let over = FileConfig {
        body_timeout_seconds: Some(1),
        ..FileConfig::default()
    };
    let app = common::spawn_app_with(common::Backend::Sqlite, over)
        .await
        .unwrap();
    // Headers promise 100 bytes; ten arrive, then nothing.
    let mut tls = tls_connect(&app).await;
    let head = format!(
        "POST /v1/collections/patients/records HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"fields\":",
        app.auth()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}
