//! Streaming the audit trail to a broker (the brief's Kafka pattern), at
//! least once, through a transactional outbox.
//!
//! The outbox is the log itself: each sink keeps a durable cursor in the
//! audit store (the first index the broker has not yet acknowledged), reads
//! the events after it, publishes them in order with their index as the
//! message id, waits for the broker's acknowledgements and only then advances
//! the cursor. While the broker is down nothing is lost: the events wait in
//! the log and go out in order when it returns. A crash between publish and
//! cursor update republishes a page; consumers detect the duplicates by index
//! (JetStream also drops them inside its duplicate window, Kafka's idempotent
//! producer inside a session).

pub mod nats;

#[cfg(feature = "kafka")]
pub mod kafka;

use std::sync::{Arc, Weak};
use std::time::Duration;

use phivault_store::audit::AuditFrame;

use super::AuditLog;

const PAGE: usize = 1024;

/// The subject (NATS) or topic (Kafka) for a tenant.
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

/// A broker the log is streamed to.
#[async_trait::async_trait]
pub trait Sink: Send + Sync + 'static {
    /// The name the sink's cursor is stored under (`nats`, `kafka`).
    fn name(&self) -> &'static str;

    /// (Re)connects; called before the first page and after every failure.
    async fn connect(&mut self) -> Result<(), OutboxError>;

    /// Publishes the frames in order and returns once the broker has
    /// acknowledged every one of them.
    async fn publish(&mut self, frames: &[AuditFrame]) -> Result<(), OutboxError>;
}

/// How far a sink lags behind the log: events not yet acknowledged.
pub async fn lag(log: &AuditLog, sink: &str) -> Result<u64, OutboxError> {
    let cursor = log
        .store()
        .outbox_cursor(sink)
        .await
        .map_err(|e| OutboxError::Store(e.to_string()))?;
    Ok(log.size().saturating_sub(cursor))
}

/// Publishes the audit log to a sink until the log is dropped. Reconnects
/// with backoff; never skips an event.
pub fn spawn(log: &Arc<AuditLog>, mut sink: impl Sink) {
    let weak = Arc::downgrade(log);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match run(&weak, &mut sink).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(sink = sink.name(), error = %e,
                        "audit stream paused; events stay queued in the log");
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

/// One connection's worth of publishing: returns `Ok` only when the log is
/// gone (server shutting down).
async fn run(weak: &Weak<AuditLog>, sink: &mut impl Sink) -> Result<(), OutboxError> {
    sink.connect().await?;
    let Some(log) = weak.upgrade() else {
        return Ok(());
    };
    let store = Arc::clone(log.store());
    let mut sizes = log.sizes();
    drop(log);
    let store_err = |e: phivault_store::StoreError| OutboxError::Store(e.to_string());
    let mut cursor = store.outbox_cursor(sink.name()).await.map_err(store_err)?;
    loop {
        if cursor >= *sizes.borrow() {
            // Wakes on every commit; ends when the log is dropped.
            if sizes.changed().await.is_err() {
                return Ok(());
            }
            continue;
        }
        let frames = store.read(cursor, PAGE).await.map_err(store_err)?;
        sink.publish(&frames).await?;
        if let Some(last) = frames.last() {
            cursor = last.index + 1;
            store
                .set_outbox_cursor(sink.name(), cursor)
                .await
                .map_err(store_err)?;
        }
    }
}
