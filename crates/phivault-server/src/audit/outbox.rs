//! Streaming the audit trail to NATS JetStream (the brief's Kafka pattern),
//! at least once, through a transactional outbox.
//!
//! The outbox is the log itself: the publisher keeps a durable cursor (the
//! first index not yet acknowledged by the broker), reads events after it,
//! publishes each to `phivault.audit.<tenant>` with `Nats-Msg-Id` set to its
//! index (JetStream drops duplicates inside its window; consumers can always
//! detect them by index), waits for the broker's acknowledgements and only
//! then advances the cursor. While the broker is down nothing is lost: the
//! events wait in the log and go out in order when it returns.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream;

use super::AuditLog;

/// The sink name under which the cursor is stored.
pub const SINK: &str = "nats";
/// JetStream stream holding every tenant's audit subjects.
pub const STREAM: &str = "PHIVAULT_AUDIT";
const PAGE: usize = 1024;

/// The subject for a tenant.
pub fn subject(tenant: &str) -> String {
    format!("phivault.audit.{tenant}")
}

/// Why a publishing round stopped.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The broker is unreachable or did not acknowledge.
    #[error("broker: {0}")]
    Broker(String),
    /// The audit store failed.
    #[error("audit store: {0}")]
    Store(String),
}

/// Publishes the audit log to NATS until the log is dropped. Reconnects with
/// backoff; never skips an event.
pub fn spawn(log: &Arc<AuditLog>, url: String, tenant: String) {
    let weak = Arc::downgrade(log);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match run(&weak, &url, &tenant).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "audit stream paused; events stay queued in the log");
                }
            }
            if weak.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
}

async fn connect(url: &str) -> Result<jetstream::Context, OutboxError> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|e| OutboxError::Broker(e.to_string()))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: STREAM.into(),
        subjects: vec!["phivault.audit.>".into()],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .map_err(|e| OutboxError::Broker(e.to_string()))?;
    Ok(js)
}

/// One connection's worth of publishing: returns `Ok` only when the log is
/// gone (server shutting down).
async fn run(weak: &Weak<AuditLog>, url: &str, tenant: &str) -> Result<(), OutboxError> {
    let js = connect(url).await?;
    let subject = subject(tenant);
    let Some(log) = weak.upgrade() else {
        return Ok(());
    };
    let store = Arc::clone(log.store());
    let mut sizes = log.sizes();
    drop(log);
    let mut cursor = store
        .outbox_cursor(SINK)
        .await
        .map_err(|e| OutboxError::Store(e.to_string()))?;
    loop {
        if cursor >= *sizes.borrow() {
            // Wakes on every commit; ends when the log is dropped.
            if sizes.changed().await.is_err() {
                return Ok(());
            }
            continue;
        }
        let frames = store
            .read(cursor, PAGE)
            .await
            .map_err(|e| OutboxError::Store(e.to_string()))?;
        let mut acks = Vec::with_capacity(frames.len());
        for f in &frames {
            let mut h = async_nats::HeaderMap::new();
            h.insert("Nats-Msg-Id", f.index.to_string().as_str());
            h.insert("Phivault-Index", f.index.to_string().as_str());
            let ack = js
                .publish_with_headers(subject.clone(), h, bytes::Bytes::from(f.event.clone()))
                .await
                .map_err(|e| OutboxError::Broker(e.to_string()))?;
            acks.push(ack);
        }
        for a in acks {
            a.await.map_err(|e| OutboxError::Broker(e.to_string()))?;
        }
        if let Some(last) = frames.last() {
            cursor = last.index + 1;
            store
                .set_outbox_cursor(SINK, cursor)
                .await
                .map_err(|e| OutboxError::Store(e.to_string()))?;
        }
    }
}
