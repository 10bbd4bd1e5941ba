//! The NATS JetStream sink: stream `PHIVAULT_AUDIT`, subject
//! `phivault.audit.<tenant>`, `Nats-Msg-Id` = `<log>:<index>` where `<log>`
//! is the fingerprint of the log's signing key (the stream's duplicate
//! window spans every log it carries), headers `Phivault-Log` and
//! `Phivault-Index`.

use std::time::Duration;

use async_nats::jetstream;
use phivault_store::audit::AuditFrame;

use super::{OutboxError, Sink, subject};

/// The sink name under which the cursor is stored.
pub const SINK: &str = "nats";
/// JetStream stream holding every tenant's audit subjects.
pub const STREAM: &str = "PHIVAULT_AUDIT";

/// Publishes to JetStream.
#[derive(Debug)]
pub struct NatsSink {
    url: String,
    subject: String,
    log: String,
    js: Option<jetstream::Context>,
}

impl NatsSink {
    /// A sink for the tenant's subject on the server at `url`, for the log
    /// whose signing key has fingerprint `log`.
    pub fn new(url: String, tenant: &str, log: String) -> Self {
        Self {
            url,
            subject: subject(tenant),
            log,
            js: None,
        }
    }
}

fn broker(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Broker(e.to_string())
}

#[async_trait::async_trait]
impl Sink for NatsSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn connect(&mut self) -> Result<(), OutboxError> {
        self.js = None;
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .connect(&self.url)
            .await
            .map_err(broker)?;
        let js = jetstream::new(client);
        js.get_or_create_stream(jetstream::stream::Config {
            name: STREAM.into(),
            subjects: vec!["phivault.audit.>".into()],
            storage: jetstream::stream::StorageType::File,
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .map_err(broker)?;
        self.js = Some(js);
        Ok(())
    }

    async fn publish(&mut self, frames: &[AuditFrame]) -> Result<(), OutboxError> {
        let js = self
            .js
            .as_ref()
            .ok_or_else(|| OutboxError::Broker("not connected".into()))?;
        let mut acks = Vec::with_capacity(frames.len());
        for f in frames {
            let id = f.index.to_string();
            let mut h = async_nats::HeaderMap::new();
            h.insert("Nats-Msg-Id", format!("{}:{id}", self.log).as_str());
            h.insert("Phivault-Log", self.log.as_str());
            h.insert("Phivault-Index", id.as_str());
            let ack = js
                .publish_with_headers(self.subject.clone(), h, bytes::Bytes::from(f.event.clone()))
                .await
                .map_err(broker)?;
            acks.push(ack);
        }
        for a in acks {
            a.await.map_err(broker)?;
        }
        Ok(())
    }
}
