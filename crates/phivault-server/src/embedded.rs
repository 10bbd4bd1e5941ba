//! An in-process server on a random loopback port: used by `phivault demo`,
//! `phivault bench` and the integration tests (real TLS, real store).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::access::AlertLog;
use crate::clock::Clock;
use crate::config::{Config, FileConfig};
use crate::datadir::{self, DataDirError};
use crate::http::{AppState, router};

/// A running embedded server. Dropping it stops the server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// An admin token for it.
    pub admin_token: Zeroizing<String>,
    /// The server certificate (PEM), to trust in clients.
    pub cert_pem: String,
    /// The shared state (vault, configuration).
    pub state: AppState,
    /// The alerts raised (break-glass and others).
    pub alerts: Arc<AlertLog>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops the server and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Initializes `data_dir` if needed and serves it over TLS on `127.0.0.1:0`.
pub async fn start(
    data_dir: &Path,
    database: Option<String>,
    clock: Arc<dyn Clock>,
) -> Result<Running, DataDirError> {
    let over = FileConfig {
        database,
        ..Default::default()
    };
    start_with(data_dir, over, clock).await
}

/// Like [`start`], with settings that take precedence over the data
/// directory's `config.toml` (the listen address is always `127.0.0.1:0`).
pub async fn start_with(
    data_dir: &Path,
    mut over: FileConfig,
    clock: Arc<dyn Clock>,
) -> Result<Running, DataDirError> {
    if !datadir::is_initialized(data_dir) {
        datadir::init(data_dir, &clock.now().to_string())?;
    }
    over.listen = "127.0.0.1:0".parse().ok();
    let bad = |e: crate::config::ConfigError| DataDirError::Config(e.to_string());
    let file = FileConfig::load(data_dir).map_err(bad)?;
    let config = Config::resolve(data_dir.to_owned(), over, file).map_err(bad)?;
    let (vault, _) = datadir::open(&config, Arc::clone(&clock)).await?;
    let admin_token = datadir::issue_admin_token(vault.store(), clock.as_ref()).await?;
    let tls = crate::tls::server_config(&config.tls_cert, &config.tls_key)?;
    let cert_pem = std::fs::read_to_string(&config.tls_cert)
        .map_err(|e| DataDirError::Io(config.tls_cert.clone(), e))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| DataDirError::Io(data_dir.to_owned(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DataDirError::Io(data_dir.to_owned(), e))?;
    let alerts = Arc::new(AlertLog::default());
    let state = AppState::new(
        Arc::new(vault),
        Arc::new(config),
        Arc::clone(&alerts) as Arc<dyn crate::access::AlertHook>,
    )
    .await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state.clone());
    let header_timeout =
        std::time::Duration::from_secs(u64::from(state.config.limits.header_timeout_seconds));
    let task = tokio::spawn(crate::tls::serve(
        listener,
        app,
        Some(tls),
        header_timeout,
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Running {
        addr,
        admin_token,
        cert_pem,
        state,
        alerts,
        stop: Some(stop),
        task: Some(task),
    })
}
