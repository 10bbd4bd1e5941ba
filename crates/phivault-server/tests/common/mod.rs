//! `spawn_app()` for the integration tests: a real server over TLS on a
//! random port, with a fresh SQLite data directory or a fresh PostgreSQL
//! schema per test.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::path::PathBuf;
use std::sync::Arc;

use phivault_server::ManualClock;
use phivault_server::embedded::Running;
use serde_json::Value;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests, or `None` to skip (failing instead when CI
/// requires PostgreSQL with `PHIVAULT_REQUIRE_POSTGRES=1`).
pub fn postgres_url() -> Option<String> {
    match std::env::var("PHIVAULT_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("PHIVAULT_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PHIVAULT_REQUIRE_POSTGRES=1 but PHIVAULT_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping PostgreSQL half: PHIVAULT_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

pub struct App {
    pub srv: Running,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    /// PostgreSQL: base URL and schema of this test.
    pub pg: Option<(String, String)>,
    /// The server's clock (starts at the real time; tests move it).
    pub clock: Arc<ManualClock>,
}

impl App {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.srv.url())
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.srv.admin_token.as_str())
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, self.url(path))
            .header("authorization", self.auth());
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Sends a request with another bearer token (and optional extra header).
    pub async fn send_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, self.url(path))
            .header("authorization", format!("Bearer {token}"));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn create_patient(&self, fields: Value) -> String {
        let (s, b) = self
            .send(
                reqwest::Method::POST,
                "/v1/collections/patients/records",
                Some(serde_json::json!({"fields": fields})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().unwrap().to_owned()
    }

    /// `PUT /v1/roles/{name}` as the admin; expects 200.
    pub async fn put_role(&self, role: Value) {
        let name = role["role"].as_str().unwrap().to_owned();
        let (s, b) = self
            .send(
                reqwest::Method::PUT,
                &format!("/v1/roles/{name}"),
                Some(role),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// `POST /v1/users` as the admin; expects 201.
    pub async fn add_user(&self, id: &str, roles: &[&str]) {
        let body = serde_json::json!({"id": id, "display_name": id, "roles": roles});
        let (s, b) = self
            .send(reqwest::Method::POST, "/v1/users", Some(body))
            .await;
        assert_eq!(s, 201, "{b}");
    }

    /// An API token for the user, exchanged for a session token.
    pub async fn session(&self, user: &str) -> String {
        let (s, b) = self
            .send(
                reqwest::Method::POST,
                &format!("/v1/users/{user}/tokens"),
                None,
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let api = b["token"].as_str().unwrap().to_owned();
        let (s, b) = self
            .send_as(&api, reqwest::Method::POST, "/v1/sessions", None)
            .await;
        assert_eq!(s, 201, "{b}");
        assert!(b["expires_at"].as_str().is_some());
        b["token"].as_str().unwrap().to_owned()
    }

    /// Runs SQL against this test's PostgreSQL schema.
    pub async fn pg_client(&self) -> tokio_postgres::Client {
        let (url, schema) = self.pg.clone().unwrap();
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("SET search_path TO {schema}"))
            .await
            .unwrap();
        c
    }
}

pub fn client(cert_pem: &str) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .build()
        .unwrap()
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Starts a server on `backend`; `None` when that backend is not configured.
pub async fn spawn_app(backend: Backend) -> Option<App> {
    spawn_app_with(backend, phivault_server::config::FileConfig::default()).await
}

/// Like [`spawn_app`], with extra settings.
pub async fn spawn_app_with(
    backend: Backend,
    over: phivault_server::config::FileConfig,
) -> Option<App> {
    spawn_app_inited(backend, over, None).await
}

/// Like [`spawn_app_with`], the data directory first initialized at
/// `init_at` (its KEK then dates from that time).
pub async fn spawn_app_inited(
    backend: Backend,
    over: phivault_server::config::FileConfig,
    init_at: Option<&str>,
) -> Option<App> {
    spawn_app_files(backend, over, init_at, &[]).await
}

/// Like [`spawn_app_inited`], with `files` (name, text) written into the
/// data directory before the server starts (`breach.toml`, say).
pub async fn spawn_app_files(
    backend: Backend,
    mut over: phivault_server::config::FileConfig,
    init_at: Option<&str>,
    files: &[(&str, &str)],
) -> Option<App> {
    let dir = tempfile::tempdir().unwrap();
    if let Some(t) = init_at {
        phivault_server::datadir::init(&dir.path().join("data"), t).unwrap();
    } else if !files.is_empty() {
        phivault_server::datadir::init(
            &dir.path().join("data"),
            &jiff::Timestamp::now().to_string(),
        )
        .unwrap();
    }
    for (name, text) in files {
        std::fs::write(dir.path().join("data").join(name), text).unwrap();
    }
    let (database, pg) = match backend {
        Backend::Sqlite => (None, None),
        Backend::Postgres => {
            let (location, url, schema) = fresh_schema().await?;
            (Some(location), Some((url, schema)))
        }
    };
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    over.database = database;
    let srv = phivault_server::embedded::start_with(
        &dir.path().join("data"),
        over,
        Arc::clone(&clock) as Arc<dyn phivault_server::Clock>,
    )
    .await
    .unwrap();
    let http = client(&srv.cert_pem);
    Some(App {
        srv,
        http,
        dir,
        backend,
        pg,
        clock,
    })
}

/// A new, empty PostgreSQL schema for one test: `(store location, base
/// URL, schema name)`; `None` when PostgreSQL is not configured.
pub async fn fresh_schema() -> Option<(String, String, String)> {
    let url = postgres_url()?;
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let schema = format!("pv_t{}_{n}", std::process::id());
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    Some((format!("{url}{sep}schema={schema}"), url, schema))
}

/// Runs an async test body against SQLite and (when configured) PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
                $body(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = common::spawn_app(common::Backend::Postgres).await {
                    $body(app).await;
                }
            }
        }
    };
}

/// Like `both_backends!`, each server started with `breach.toml` = `$files`.
#[macro_export]
macro_rules! both_backends_with_files {
    ($name:ident, $body:ident, $breach:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::spawn_app_files(
                    common::Backend::Sqlite,
                    Default::default(),
                    None,
                    &[("breach.toml", $breach)],
                )
                .await
                .unwrap();
                $body(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = common::spawn_app_files(
                    common::Backend::Postgres,
                    Default::default(),
                    None,
                    &[("breach.toml", $breach)],
                )
                .await
                {
                    $body(app).await;
                }
            }
        }
    };
}

/// A full synthetic patient.
pub fn canary_patient() -> Value {
    serde_json::json!({
        "name": "Zebulon Canarywright",
        "birth_date": "1961-03-14",
        "ssn": "078-05-1120",
        "mrn": "MRN-CANARY-9931",
        "address": "4417 Canary Row, Monterey, CA 93940",
        "phone": "(831) 555-0177",
        "email": "zebulon.canary@example.net",
        "notes": "CANARYNOTE chronic canary lung"
    })
}

/// Strings of the canary patient that must never appear at rest or in logs.
pub const CANARY_STRINGS: &[&str] = &[
    "Canarywright",
    "1961-03-14",
    "078-05-1120",
    "078051120",
    "MRN-CANARY-9931",
    "Canary Row",
    "8315550177",
    "zebulon.canary",
    "CANARYNOTE",
];
