//! Audit storage behind one [`AuditStore`] trait: append-only segment files
//! (the embedded default, under `audit/` in the data directory) and a
//! PostgreSQL table the service cannot UPDATE or DELETE.
//!
//! A store keeps frames `(index, leaf hash, event bytes)`, signed checkpoint
//! notes and the outbox cursors of the streaming sinks. It never interprets
//! the events beyond the few columns it indexes ([`AuditMeta`]).

pub mod segment;

use crate::StoreError;

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFrame {
    /// The index the writer gave it (position in the log).
    pub index: u64,
    /// Its Merkle leaf hash.
    pub leaf: [u8; 32],
    /// The canonical event encoding.
    pub event: Vec<u8>,
}

/// Columns indexed for queries (PostgreSQL; segment files filter by scan).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditMeta {
    /// Event time, microseconds since the epoch.
    pub at: i64,
    /// Acting user.
    pub user: String,
    /// Action.
    pub action: String,
    /// Patient pseudonym.
    pub patient_id: Option<String>,
}

/// A frame to append with its indexed columns.
#[derive(Debug, Clone)]
pub struct NewFrame {
    /// The frame.
    pub frame: AuditFrame,
    /// Indexed columns.
    pub meta: AuditMeta,
}

/// A filter over the log (all parts optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// First index (inclusive).
    pub from: Option<u64>,
    /// Last index (exclusive).
    pub to: Option<u64>,
    /// Earliest time (µs, inclusive).
    pub since: Option<i64>,
    /// Latest time (µs, exclusive).
    pub until: Option<i64>,
    /// Acting user.
    pub user: Option<String>,
    /// Patient pseudonym.
    pub patient_id: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// Maximum number of frames.
    pub limit: usize,
}

impl AuditQuery {
    /// Whether a frame with these columns passes the filter.
    pub fn matches(&self, index: u64, m: &AuditMeta) -> bool {
        self.from.is_none_or(|f| index >= f)
            && self.to.is_none_or(|t| index < t)
            && self.since.is_none_or(|s| m.at >= s)
            && self.until.is_none_or(|u| m.at < u)
            && self.user.as_ref().is_none_or(|u| *u == m.user)
            && self.action.as_ref().is_none_or(|a| *a == m.action)
            && self
                .patient_id
                .as_ref()
                .is_none_or(|p| m.patient_id.as_ref() == Some(p))
    }
}

/// Where audit events are kept.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// `segments` or `postgres`.
    fn kind(&self) -> &'static str;

    /// Appends frames in order; returns only once they are durable (fsync'd
    /// or committed). On error nothing of the batch is kept.
    async fn append(&self, frames: Vec<NewFrame>) -> Result<(), StoreError>;

    /// Appends a batch whose indexes are decided under the store's own
    /// writer lock, for stores that several server processes append to
    /// (PostgreSQL). `known` is how many frames this writer has seen;
    /// `build(first)` makes the batch starting at index `first`. Returns
    /// the frames other writers appended in between (`known..first`, leaf
    /// hashes only, empty events), which the caller adds to its tree before
    /// its own. Durable on return; on error nothing of the batch is kept.
    ///
    /// The default, for single-writer stores, builds at `known` and appends.
    async fn append_shared(
        &self,
        known: u64,
        build: Box<dyn FnOnce(u64) -> Vec<NewFrame> + Send>,
    ) -> Result<Vec<AuditFrame>, StoreError> {
        self.append(build(known)).await?;
        Ok(Vec::new())
    }

    /// Number of frames stored.
    async fn count(&self) -> Result<u64, StoreError>;

    /// Up to `max` frames starting at position `from`, in stored order.
    async fn read(&self, from: u64, max: usize) -> Result<Vec<AuditFrame>, StoreError>;

    /// Frames matching a filter, in index order, with their columns.
    async fn query(&self, q: &AuditQuery) -> Result<Vec<AuditFrame>, StoreError>;

    /// Appends a signed checkpoint note covering `size` events (durably).
    async fn append_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError>;

    /// Every checkpoint note, oldest first.
    async fn checkpoints(&self) -> Result<Vec<String>, StoreError>;

    /// How far a sink has published (events below this index are delivered).
    async fn outbox_cursor(&self, sink: &str) -> Result<u64, StoreError>;

    /// Records delivery up to (excluding) `upto`.
    async fn set_outbox_cursor(&self, sink: &str, upto: u64) -> Result<(), StoreError>;
}
