//! `phivault init` and `phivault serve`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use phivault_server::config::{Config, FileConfig};
use phivault_server::datadir;
use phivault_server::http::{AppState, router};
use phivault_server::{Clock, SystemClock};

use crate::ServeArgs;
use crate::out::{self, CliResult};

fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

/// Writes or prints a newly issued admin token (shown once).
fn hand_over_token(token: &str, file: Option<&Path>) -> CliResult {
    match file {
        Some(f) => {
            datadir::write_private(f, token.as_bytes())?;
            out::line(format_args!("admin token written to {}", f.display()));
        }
        None => {
            out::line("admin token (shown once; store it in a secrets manager):");
            out::line(format_args!("  {token}"));
        }
    }
    Ok(())
}

async fn ensure_admin_token(vault: &phivault_server::Vault, file: Option<&Path>) -> CliResult {
    if vault.store().count_tokens().await? == 0 {
        let t = datadir::issue_admin_token(vault.store(), &SystemClock).await?;
        hand_over_token(&t, file)?;
    }
    Ok(())
}

/// `phivault init`.
pub async fn init_cmd(
    data_dir: PathBuf,
    database: Option<String>,
    token_file: Option<PathBuf>,
) -> CliResult {
    if datadir::is_initialized(&data_dir) {
        return Err(format!("`{}` is already initialized", data_dir.display()).into());
    }
    let report = datadir::init(&data_dir, &now_text())?;
    let over = FileConfig {
        database,
        ..Default::default()
    };
    let config = Config::resolve(data_dir.clone(), over, FileConfig::load(&data_dir)?)?;
    let (vault, _) = datadir::open(&config, Arc::new(SystemClock)).await?;
    out::line(format_args!("initialized {}", data_dir.display()));
    out::line(format_args!(
        "TLS certificate SHA-256 fingerprint: {}",
        report.fingerprint
    ));
    ensure_admin_token(&vault, token_file.as_deref()).await
}

/// `phivault serve`.
pub async fn serve_cmd(a: ServeArgs) -> CliResult {
    let data_dir = a.data_dir.clone();
    if !datadir::is_initialized(&data_dir) {
        let report = datadir::init(&data_dir, &now_text())?;
        out::line(format_args!(
            "first run: initialized {}",
            data_dir.display()
        ));
        out::line(format_args!(
            "TLS certificate SHA-256 fingerprint: {}",
            report.fingerprint
        ));
    }
    let over = FileConfig {
        listen: a.listen,
        database: a.database,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        insecure_http: a.insecure_http.then_some(true),
        dev: a.dev.then_some(true),
        max_body_bytes: a.max_body_bytes,
        session_idle_minutes: a.session_idle_minutes,
        session_lifetime_minutes: a.session_lifetime_minutes,
        ..Default::default()
    };
    let config = Arc::new(Config::resolve(
        data_dir.clone(),
        over,
        FileConfig::load(&data_dir)?,
    )?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (vault, keyring) = datadir::open(&config, clock).await?;
    if !keyring.is_protected() {
        // Loud on purpose: the zero-config start is for trying phivault out.
        tracing::warn!(
            "keyring is NOT passphrase-protected: anyone who can read keys/ can decrypt; run `phivault keys protect`"
        );
        out::err(
            "WARNING: the keyring (keys/keyring.json) is not passphrase-protected. Set PHIVAULT_KEYRING_NEW_PASSPHRASE and run `phivault keys protect`, then start with PHIVAULT_KEYRING_PASSPHRASE.",
        );
    }
    ensure_admin_token(&vault, a.admin_token_file.as_deref()).await?;
    let tls = if config.insecure_http {
        tracing::warn!("serving plain HTTP on loopback: for development only");
        None
    } else {
        Some(phivault_server::tls::server_config(
            &config.tls_cert,
            &config.tls_key,
        )?)
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if tls.is_some() && config.tls_cert.starts_with(&config.data_dir) {
        out::line(format_args!(
            "TLS certificate SHA-256 fingerprint: {}",
            datadir::cert_fingerprint(&config.tls_cert)?
        ));
    }
    out::line(format_args!(
        "phivault listening on {scheme}://{addr} (store: {})",
        vault.store().backend()
    ));
    if let Some(m) = config.metrics_listen {
        let l = tokio::net::TcpListener::bind(m).await?;
        out::line(format_args!(
            "metrics on http://{}/metrics",
            l.local_addr()?
        ));
        tokio::spawn(phivault_server::metrics::serve(
            l,
            Arc::clone(vault.audit()),
            config.sinks(),
            shutdown_signal(),
        ));
    }
    let alerts: Arc<dyn phivault_server::access::AlertHook> =
        Arc::new(phivault_server::access::AlertLog::default());
    let state = AppState::new(Arc::new(vault), Arc::clone(&config), alerts).await?;
    let header_timeout =
        std::time::Duration::from_secs(u64::from(config.limits.header_timeout_seconds));
    phivault_server::tls::serve(
        listener,
        router(state),
        tls,
        header_timeout,
        shutdown_signal(),
    )
    .await;
    out::line("phivault stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
