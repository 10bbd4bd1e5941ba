//! The Kafka sink (cargo feature `kafka`, librdkafka through `rdkafka`):
//! topic `phivault.audit.<tenant>`, every event keyed by tenant so the topic's
//! partition keeps them in order, header `phivault-index` = the event's
//! index, `phivault-log` = the fingerprint of the log's signing key. The
//! producer is idempotent with `acks=all`, so broker-side retries
//! neither reorder nor duplicate within a producer session; across sessions
//! consumers drop duplicates by index.
//!
//! Create the topic with one partition (or at least keep the tenant key) and
//! a replication factor of three in production. Only plaintext transport is
//! built: TLS needs librdkafka's OpenSSL build, a second crypto stack this
//! project does not ship by default.

use phivault_store::audit::AuditFrame;
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{OutboxError, Sink, subject};

/// The sink name under which the cursor is stored.
pub const SINK: &str = "kafka";

/// Publishes to a Kafka topic.
pub struct KafkaSink {
    brokers: String,
    tenant: String,
    topic: String,
    log: String,
    producer: Option<FutureProducer>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A sink for the tenant's topic on the given bootstrap servers, for
    /// the log whose signing key has fingerprint `log`.
    pub fn new(brokers: String, tenant: &str, log: String) -> Self {
        Self {
            brokers,
            tenant: tenant.to_owned(),
            topic: subject(tenant),
            log,
            producer: None,
        }
    }
}

fn broker(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Broker(e.to_string())
}

#[async_trait::async_trait]
impl Sink for KafkaSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn connect(&mut self) -> Result<(), OutboxError> {
        self.producer = None;
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "10000")
            .set("linger.ms", "2")
            .create()
            .map_err(broker)?;
        self.producer = Some(p);
        Ok(())
    }

    async fn publish(&mut self, frames: &[AuditFrame]) -> Result<(), OutboxError> {
        let p = self
            .producer
            .as_ref()
            .ok_or_else(|| OutboxError::Broker("not connected".into()))?;
        let mut pending = Vec::with_capacity(frames.len());
        for f in frames {
            let id = f.index.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "phivault-log",
                    value: Some(self.log.as_bytes()),
                })
                .insert(Header {
                    key: "phivault-index",
                    value: Some(id.as_bytes()),
                });
            let record = FutureRecord::to(&self.topic)
                .key(self.tenant.as_bytes())
                .payload(f.event.as_slice())
                .headers(headers);
            pending.push(p.send_result(record).map_err(|(e, _)| broker(e))?);
        }
        for d in pending {
            d.await
                .map_err(|_| broker("delivery report lost"))?
                .map_err(|(e, _)| broker(e))?;
        }
        Ok(())
    }
}
