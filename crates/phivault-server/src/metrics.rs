//! Prometheus metrics on a listener of their own (`metrics_listen`), plain
//! HTTP, never the API port. Labels are route templates, sink names and
//! outcome codes only: never an id, a value or anything a request carried.

use std::sync::{Arc, OnceLock};

use phivault_scan::Scrubber;

use crate::audit::AuditLog;

static LOG_SCRUBBER: OnceLock<Arc<Scrubber>> = OnceLock::new();

/// Registers the log scrubber whose redaction count is exported.
pub fn set_log_redactions(s: Arc<Scrubber>) {
    let _ = LOG_SCRUBBER.set(s);
}

/// Log lines' PHI redactions so far (0 when no scrubber is installed).
pub fn log_redactions() -> u64 {
    LOG_SCRUBBER.get().map_or(0, |s| s.redactions())
}

/// The exposition text.
pub async fn render(audit: &AuditLog, sinks: &[&str]) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for l in lines {
            out.push_str(&format!("{name}{l}\n"));
        }
    };
    metric(
        "phivault_log_redactions_total",
        "counter",
        "PHI found and redacted in log lines before they were written",
        vec![format!(" {}", log_redactions())],
    );
    metric(
        "phivault_audit_events",
        "gauge",
        "events in the audit log",
        vec![format!(" {}", audit.size())],
    );
    let mut lag = Vec::new();
    for s in sinks {
        if let Ok(n) = crate::audit::stream::lag(audit, s).await {
            lag.push(format!("{{sink=\"{s}\"}} {n}"));
        }
    }
    metric(
        "phivault_audit_outbox_lag",
        "gauge",
        "audit events not yet acknowledged by a broker",
        lag,
    );
    out
}

/// Serves `GET /metrics` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    audit: Arc<AuditLog>,
    sinks: Vec<&'static str>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let (audit, sinks) = (Arc::clone(&audit), sinks.clone());
            async move { render(&audit, &sinks).await }
        }),
    );
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
}
