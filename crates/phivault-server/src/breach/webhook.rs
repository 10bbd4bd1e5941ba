//! Alert delivery: the durable queue in the store, drained by one task per
//! server. Each delivery is an HTTPS `POST` of the alert JSON (ids, codes
//! and pseudonyms, never PHI) with `X-Phivault-Signature: t=…,v1=…`
//! (HMAC-SHA256 over `t.body` under the webhook's secret). A failed
//! delivery is retried with exponential backoff; nothing is dropped.
//!
//! Several servers on one database may each deliver an alert; receivers
//! deduplicate by `X-Phivault-Alert-Id` (the queue is at least once).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use phivault_breach::webhook::{backoff, sign};

use super::Breach;
use super::config::Webhook;
use crate::clock::Clock;

/// Longest wait between queue checks when nothing wakes the task.
const IDLE: Duration = Duration::from_secs(1);

/// Deliveries per pass.
const BATCH: u32 = 64;

/// An HTTPS client per destination (its own CA when configured).
fn clients(hooks: &[Webhook]) -> HashMap<String, (Webhook, reqwest::Client)> {
    let mut out = HashMap::new();
    for w in hooks {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true);
        if let Some(ca) = &w.ca_file {
            match std::fs::read(ca).map(|pem| reqwest::Certificate::from_pem_bundle(&pem)) {
                Ok(Ok(certs)) => {
                    for c in certs {
                        b = b.add_root_certificate(c);
                    }
                }
                _ => {
                    tracing::error!(webhook = %w.name, "webhook `ca_file` unreadable; using system roots")
                }
            }
        }
        match b.build() {
            Ok(c) => {
                out.insert(w.name.clone(), (w.clone(), c));
            }
            Err(e) => tracing::error!(webhook = %w.name, error = %e, "webhook client not built"),
        }
    }
    out
}

/// Runs the delivery loop forever.
pub async fn run(weak: std::sync::Weak<Breach>, clock: Arc<dyn Clock>) {
    let Some(hooks) = weak.upgrade().map(|b| clients(&b.config().webhooks)) else {
        return;
    };
    if hooks.is_empty() {
        return;
    }
    loop {
        let Some(breach) = weak.upgrade() else {
            return;
        };
        let _ = tokio::time::timeout(IDLE, breach.deliver.notified()).await;
        loop {
            let now = crate::clock::micros(clock.now());
            let due = match breach.store().due_alerts(now, BATCH).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "alert queue unreadable");
                    break;
                }
            };
            if due.is_empty() {
                break;
            }
            let mut progressed = false;
            for a in due {
                let Some((hook, client)) = hooks.get(&a.destination) else {
                    // A destination removed from breach.toml: keep it queued.
                    continue;
                };
                let result = deliver(hook, client, &a.id, &a.payload, clock.as_ref()).await;
                let now = crate::clock::micros(clock.now());
                let stored = match result {
                    Ok(()) => breach
                        .store()
                        .mark_alert_delivered(&a.id, now)
                        .await
                        .map(|_| ()),
                    Err(why) => {
                        let attempts = a.attempts.saturating_add(1);
                        let wait = i64::try_from(backoff(attempts).as_micros()).unwrap_or(i64::MAX);
                        tracing::warn!(webhook = %hook.name, attempts, error = why, "alert delivery failed; will retry");
                        breach
                            .store()
                            .reschedule_alert(&a.id, attempts, now.saturating_add(wait), why)
                            .await
                            .map(|_| ())
                    }
                };
                match stored {
                    Ok(()) => progressed = true,
                    Err(e) => tracing::warn!(error = %e, "alert queue not updated"),
                }
            }
            if !progressed {
                break;
            }
        }
    }
}

async fn deliver(
    hook: &Webhook,
    client: &reqwest::Client,
    id: &str,
    body: &str,
    clock: &dyn Clock,
) -> Result<(), &'static str> {
    let t = clock.now().as_second();
    let signature = sign(&hook.secret, t, body.as_bytes());
    let resp = client
        .post(hook.url.clone())
        .header("content-type", "application/json")
        .header("x-phivault-alert-id", id)
        .header("x-phivault-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timeout"
            } else {
                "unreachable"
            }
        })?;
    if resp.status().is_success() {
        Ok(())
    } else if resp.status().is_server_error() {
        Err("endpoint answered 5xx")
    } else {
        Err("endpoint answered non-2xx")
    }
}
