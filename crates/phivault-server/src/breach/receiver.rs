//! A webhook receiver for drills and tests: HTTPS on loopback with its own
//! self-signed certificate, checking each delivery's HMAC signature and
//! keeping what arrived (and when). It can be switched to answer 503, to
//! play an endpoint that is down.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::sync::{Notify, oneshot};

/// One delivery that arrived with a valid signature.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// Its wall-clock arrival.
    pub at_wall: jiff::Timestamp,
    /// `X-Phivault-Alert-Id`.
    pub alert_id: String,
    /// The JSON body.
    pub body: serde_json::Value,
}

#[derive(Debug)]
struct Inner {
    secret: phivault_breach::webhook::WebhookSecret,
    received: Mutex<Vec<Received>>,
    rejected: Mutex<u64>,
    down: AtomicBool,
    down_hits: std::sync::atomic::AtomicU64,
    arrived: Notify,
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    /// Its address.
    pub addr: SocketAddr,
    /// PEM file of its certificate (for the webhook's `ca_file`).
    pub ca_file: PathBuf,
    inner: Arc<Inner>,
    stop: Option<oneshot::Sender<()>>,
}

impl Receiver {
    /// Starts on `127.0.0.1:0`, writing its certificate and key into `dir`.
    pub async fn start(
        dir: &Path,
        secret: &[u8],
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let g = crate::tls::generate_self_signed()?;
        let ca_file = dir.join("receiver-cert.pem");
        let key_file = dir.join("receiver-key.pem");
        std::fs::write(&ca_file, &g.cert_pem)?;
        crate::datadir::write_private(&key_file, g.key_pem.as_bytes())?;
        let tls = crate::tls::server_config(&ca_file, &key_file)?;
        let inner = Arc::new(Inner {
            secret: phivault_breach::webhook::WebhookSecret::new(secret.to_vec())?,
            received: Mutex::default(),
            rejected: Mutex::default(),
            down: AtomicBool::new(false),
            down_hits: std::sync::atomic::AtomicU64::new(0),
            arrived: Notify::new(),
        });
        let app = axum::Router::new()
            .route("/alerts", post(accept))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(crate::tls::serve(
            listener,
            app,
            Some(tls),
            std::time::Duration::from_secs(10),
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            addr,
            ca_file,
            inner,
            stop: Some(stop),
        })
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/alerts", self.addr.port())
    }

    /// Answer 503 to everything (true) or accept again (false).
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// Requests answered 503 while down (failed delivery attempts).
    pub fn down_hits(&self) -> u64 {
        self.inner.down_hits.load(Ordering::SeqCst)
    }

    /// Deliveries accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Deliveries refused for a bad or missing signature.
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.lock().map(|r| *r).unwrap_or(0)
    }

    /// Waits until at least `n` deliveries arrived, or `deadline` passed.
    pub async fn wait_for(&self, n: usize, deadline: Instant) -> Vec<Received> {
        loop {
            let notified = self.inner.arrived.notified();
            let got = self.received();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn accept(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if inner.down.load(Ordering::SeqCst) {
        inner.down_hits.fetch_add(1, Ordering::SeqCst);
        inner.arrived.notify_waiters();
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let now = jiff::Timestamp::now().as_second();
    let ok = phivault_breach::webhook::verify(
        &inner.secret,
        header("x-phivault-signature"),
        &body,
        now,
        300,
    );
    if ok.is_err() {
        if let Ok(mut r) = inner.rejected.lock() {
            *r += 1;
        }
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if let Ok(mut r) = inner.received.lock() {
        r.push(Received {
            at: Instant::now(),
            at_wall: jiff::Timestamp::now(),
            alert_id: header("x-phivault-alert-id").to_owned(),
            body: json,
        });
    }
    inner.arrived.notify_waiters();
    StatusCode::NO_CONTENT
}
