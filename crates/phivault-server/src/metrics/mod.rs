//! Prometheus metrics on a listener of their own (`metrics_listen`), plain
//! HTTP, never the API port. Labels are route templates, sink names and
//! outcome codes only: never an id, a value or anything a request carried.

mod registry;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use phivault_scan::Scrubber;
use registry::{Counters, Histograms};

use crate::audit::AuditLog;

static LOG_SCRUBBER: OnceLock<Arc<Scrubber>> = OnceLock::new();
static REQUESTS: Counters = Counters::new();
static LATENCY: Histograms = Histograms::new();
static DENIALS: Counters = Counters::new();
static AUTH_FAILURES: Counters = Counters::new();
static LOCKOUTS: Counters = Counters::new();
static RATE_LIMITED: Counters = Counters::new();
static AUDIT_APPEND: Histograms = Histograms::new();
static AUDIT_FAILURES: Counters = Counters::new();
static ALERTS: Counters = Counters::new();
static TAP_DROPPED: Counters = Counters::new();

/// One answered request: route template, method, status, latency.
pub fn observe_request(route: &str, method: &str, status: u16, took: Duration) {
    let status = status.to_string();
    REQUESTS.inc(&[("route", route), ("method", method), ("status", &status)]);
    LATENCY.observe(&[("route", route)], took);
}

/// A request refused by the decision point (403), by error code.
pub fn count_denial(code: &'static str) {
    DENIALS.inc(&[("code", code)]);
}

/// A failed authentication, by reason code.
pub fn count_auth_failure(reason: &'static str) {
    AUTH_FAILURES.inc(&[("reason", reason)]);
}

/// A lockout started, by what it locks (`address` or `token`).
pub fn count_lockout(kind: &'static str) {
    LOCKOUTS.inc(&[("kind", kind)]);
}

/// A request refused by the rate limit.
pub fn count_rate_limited() {
    RATE_LIMITED.inc(&[]);
}

/// One audit append (the caller's wait until its events were durable).
pub fn observe_audit_append(took: Duration, ok: bool) {
    AUDIT_APPEND.observe(&[], took);
    if !ok {
        AUDIT_FAILURES.inc(&[]);
    }
}

/// A security alert raised, by kind or detection rule.
pub fn count_alert(kind: &str) {
    ALERTS.inc(&[("kind", kind)]);
}

/// Committed audit events the breach detector did not get to analyse (its
/// queue was full). They are durable in the trail; only live detection
/// missed them.
pub fn count_tap_dropped(events: u64) {
    TAP_DROPPED.add(&[], events);
}

/// Registers the log scrubber whose redaction count is exported.
pub fn set_log_redactions(s: Arc<Scrubber>) {
    let _ = LOG_SCRUBBER.set(s);
}

/// Log lines' PHI redactions so far (0 when no scrubber is installed).
pub fn log_redactions() -> u64 {
    LOG_SCRUBBER.get().map_or(0, |s| s.redactions())
}

enum Family {
    Counters(&'static Counters),
    Histograms(&'static Histograms),
}

/// The recorded families: name, help, series.
const FAMILIES: [(&str, &str, Family); 10] = [
    (
        "phivault_http_requests_total",
        "requests answered, by route template, method and status",
        Family::Counters(&REQUESTS),
    ),
    (
        "phivault_http_request_duration_seconds",
        "request latency by route template",
        Family::Histograms(&LATENCY),
    ),
    (
        "phivault_authz_denials_total",
        "requests refused by the access decision, by error code",
        Family::Counters(&DENIALS),
    ),
    (
        "phivault_auth_failures_total",
        "failed authentications, by reason",
        Family::Counters(&AUTH_FAILURES),
    ),
    (
        "phivault_auth_lockouts_total",
        "lockouts started after repeated authentication failures, by what is locked",
        Family::Counters(&LOCKOUTS),
    ),
    (
        "phivault_rate_limited_total",
        "requests refused by the per-address rate limit",
        Family::Counters(&RATE_LIMITED),
    ),
    (
        "phivault_audit_append_seconds",
        "time until an audit append was durable (group commit)",
        Family::Histograms(&AUDIT_APPEND),
    ),
    (
        "phivault_audit_append_failures_total",
        "audit appends that failed (PHI requests refused, fail-closed)",
        Family::Counters(&AUDIT_FAILURES),
    ),
    (
        "phivault_alerts_total",
        "security alerts raised, by kind or detection rule",
        Family::Counters(&ALERTS),
    ),
    (
        "phivault_breach_unanalysed_events_total",
        "audit events the breach detector skipped because it fell behind (they are in the trail)",
        Family::Counters(&TAP_DROPPED),
    ),
];

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
    for (name, help, family) in FAMILIES {
        let kind = match family {
            Family::Counters(_) => "counter",
            Family::Histograms(_) => "histogram",
        };
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        match family {
            Family::Counters(c) => c.render(name, &mut out),
            Family::Histograms(h) => h.render(name, &mut out),
        }
    }
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for l in lines {
            out.push_str(&format!("{name}{l}\n"));
        }
    };
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
