//! The audit log service: one writer task assigns indexes, appends batches
//! durably (group commit), grows the Merkle tree and signs checkpoints.
//!
//! `append` answers only after the store has made the batch durable, so a
//! caller that waits for it (every PHI response does) is fail-closed: if the
//! store cannot write, the caller gets an error and discloses nothing.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use phivault_audit::merkle::{Hash, TILE_WIDTH, TiledTree, TreeError, leaf_hash};
use phivault_audit::{Checkpoint, Event, Signer, VerifierKey};
use phivault_store::StoreError;
use phivault_store::audit::{AuditFrame, AuditMeta, AuditStore, NewFrame};
use tokio::sync::{mpsc, oneshot, watch};

/// Largest batch the writer commits at once.
const MAX_BATCH: usize = 8192;

/// Why the audit log refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The store could not make the events durable.
    #[error("audit store unavailable: {0}")]
    Unavailable(String),
    /// The log does not match its last signed checkpoint (refuse to serve).
    #[error(
        "the audit log does not match its signed checkpoints: {0}; run `phivault audit verify`"
    )]
    Tampered(String),
    /// A proof request names sizes or indexes the log does not have.
    #[error("{0}")]
    Range(&'static str),
}

impl From<StoreError> for AuditError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// When checkpoints are signed: after this many events or this long,
/// whichever comes first (and on request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Events between checkpoints.
    pub every_events: u64,
    /// Time between checkpoints while events arrive.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            every_events: 1000,
            every: Duration::from_secs(10),
        }
    }
}

type Reply = oneshot::Sender<Result<u64, AuditError>>;

enum Msg {
    Append(Vec<Event>, Reply),
    Checkpoint(oneshot::Sender<Result<String, AuditError>>),
}

/// The audit log.
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    tree: Arc<RwLock<TiledTree>>,
    store: Arc<dyn AuditStore>,
    verifier: VerifierKey,
    sizes: watch::Receiver<u64>,
    tap: Tap,
}

/// Where committed events go for live analysis (breach detection): set
/// once; the writer never waits for it (a full queue drops and counts).
type Tap = Arc<std::sync::OnceLock<mpsc::Sender<Vec<Event>>>>;

/// Batches of committed events the live tap can hold before it drops.
const TAP_QUEUE: usize = 4096;

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("store", &self.store.kind())
            .field("origin", &self.verifier.name())
            .finish_non_exhaustive()
    }
}

fn meta_of(e: &Event) -> AuditMeta {
    AuditMeta {
        at: e
            .timestamp
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .unwrap_or(0),
        user: e.user.clone(),
        action: e.action.clone(),
        patient_id: e.patient_id.clone(),
    }
}

impl AuditLog {
    /// Rebuilds the tree from the store, checks it against the newest signed
    /// checkpoint (refusing a log that does not match) and starts the writer.
    pub async fn open(
        store: Arc<dyn AuditStore>,
        signer: Signer,
        policy: CheckpointPolicy,
    ) -> Result<Arc<Self>, AuditError> {
        Self::open_as(store, signer, Some(policy)).await
    }

    /// Opens the log for reading only (tools beside the running server): the
    /// tree is checked against the signed checkpoints, but no writer runs,
    /// so every append fails (closed) and no checkpoint is ever signed here.
    pub async fn open_read_only(
        store: Arc<dyn AuditStore>,
        signer: Signer,
    ) -> Result<Arc<Self>, AuditError> {
        Self::open_as(store, signer, None).await
    }

    async fn open_as(
        store: Arc<dyn AuditStore>,
        signer: Signer,
        policy: Option<CheckpointPolicy>,
    ) -> Result<Arc<Self>, AuditError> {
        let verifier = signer.verifier();
        let mut tree = TiledTree::new();
        let mut pos = 0u64;
        loop {
            let page = store.read(pos, 65_536).await?;
            if page.is_empty() {
                break;
            }
            for f in page {
                if f.index != pos {
                    return Err(AuditError::Tampered(format!(
                        "event {pos} is missing or out of order"
                    )));
                }
                tree.push(f.leaf);
                pos += 1;
            }
        }
        let notes = store.checkpoints().await?;
        let mut signed = 0;
        if let Some(last) = notes.last() {
            let cp = Checkpoint::open(last, &verifier)
                .map_err(|e| AuditError::Tampered(e.to_string()))?;
            if cp.size > tree.size() {
                return Err(AuditError::Tampered(format!(
                    "the log is truncated at {}",
                    tree.size()
                )));
            }
            let root = root_at(&store, &tree, cp.size).await?;
            if root != cp.root {
                return Err(AuditError::Tampered(format!(
                    "events before {} were changed",
                    cp.size
                )));
            }
            signed = cp.size;
        }
        let (size_tx, sizes) = watch::channel(tree.size());
        let tree = Arc::new(RwLock::new(tree));
        let (tx, rx) = mpsc::channel(65_536);
        let tap = Tap::default();
        if let Some(policy) = policy {
            tokio::spawn(writer(
                rx,
                Writer {
                    store: Arc::clone(&store),
                    tree: Arc::clone(&tree),
                    signer,
                    policy,
                    signed,
                    signed_at: Instant::now(),
                    last_note: None,
                    size_tx,
                    tap: Arc::clone(&tap),
                    tap_drops: DropLog::default(),
                },
            ));
        }
        Ok(Arc::new(Self {
            tx,
            tree,
            store,
            verifier,
            sizes,
            tap,
        }))
    }

    /// Appends events; returns the first one's index once all are durable.
    pub async fn append(&self, events: Vec<Event>) -> Result<u64, AuditError> {
        let started = Instant::now();
        let (reply, wait) = oneshot::channel();
        let r = match self.tx.send(Msg::Append(events, reply)).await {
            Ok(()) => wait
                .await
                .unwrap_or_else(|_| Err(AuditError::Unavailable("audit writer stopped".into()))),
            Err(_) => Err(AuditError::Unavailable("audit writer stopped".into())),
        };
        crate::metrics::observe_audit_append(started.elapsed(), r.is_ok());
        r
    }

    /// Signs a checkpoint of the current size if events arrived since the
    /// last one; returns the newest signed checkpoint.
    pub async fn checkpoint(&self) -> Result<String, AuditError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(Msg::Checkpoint(reply))
            .await
            .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?;
        wait.await
            .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
    }

    /// Number of durable events.
    pub fn size(&self) -> u64 {
        self.tree.read().map(|t| t.size()).unwrap_or(0)
    }

    /// The events this process commits from now on, batch by batch, with
    /// their indexes (breach detection). Only one subscriber: `None` when
    /// already taken. A subscriber that falls [`TAP_QUEUE`] batches behind
    /// loses batches (logged), never slows the trail.
    pub fn subscribe(&self) -> Option<mpsc::Receiver<Vec<Event>>> {
        let (tx, rx) = mpsc::channel(TAP_QUEUE);
        self.tap.set(tx).ok().map(|()| rx)
    }

    /// The durable size, updated after every commit.
    pub fn sizes(&self) -> watch::Receiver<u64> {
        self.sizes.clone()
    }

    /// The public key that verifies checkpoints.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AuditStore> {
        &self.store
    }

    /// The audit path of event `index` in the tree of `size` events.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        with_tiles(&self.store, &self.tree, |t| t.inclusion_proof(index, size)).await
    }

    /// The tree's root hash at `size` (evidence bundles sign their own
    /// checkpoint of the log as collected).
    pub async fn root_at(&self, size: u64) -> Result<Hash, AuditError> {
        let tree = self
            .tree
            .read()
            .map_err(|_| AuditError::Unavailable("audit tree poisoned".into()))?
            .clone();
        root_at(&self.store, &tree, size).await
    }

    /// The consistency proof between two sizes.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, AuditError> {
        with_tiles(&self.store, &self.tree, |t| t.consistency_proof(from, to)).await
    }
}

async fn read_tile(store: &Arc<dyn AuditStore>, tile: u64) -> Result<Vec<Hash>, AuditError> {
    let frames = store.read(tile * TILE_WIDTH, TILE_WIDTH as usize).await?;
    Ok(frames.into_iter().map(|f| f.leaf).collect())
}

async fn root_at(
    store: &Arc<dyn AuditStore>,
    tree: &TiledTree,
    size: u64,
) -> Result<Hash, AuditError> {
    let mut t = tree.clone();
    loop {
        match t.root_at(size) {
            Ok(r) => return Ok(r),
            Err(TreeError::NeedTile(n)) => t.load_tile(n, read_tile(store, n).await?),
            Err(TreeError::OutOfRange(m)) => return Err(AuditError::Range(m)),
        }
    }
}

/// Runs a tree operation, reading the tiles it asks for. Tiles are cached
/// in the tree until a few dozen accumulate.
async fn with_tiles<T>(
    store: &Arc<dyn AuditStore>,
    tree: &Arc<RwLock<TiledTree>>,
    op: impl Fn(&TiledTree) -> Result<T, TreeError>,
) -> Result<T, AuditError> {
    for _ in 0..8 {
        let r = {
            let t = tree
                .read()
                .map_err(|_| AuditError::Unavailable("audit tree poisoned".into()))?;
            op(&t)
        };
        match r {
            Ok(v) => return Ok(v),
            Err(TreeError::OutOfRange(m)) => return Err(AuditError::Range(m)),
            Err(TreeError::NeedTile(n)) => {
                let leaves = read_tile(store, n).await?;
                let mut t = tree
                    .write()
                    .map_err(|_| AuditError::Unavailable("audit tree poisoned".into()))?;
                if t.loaded_tiles() > 64 {
                    t.clear_loaded();
                }
                t.load_tile(n, leaves);
            }
        }
    }
    Err(AuditError::Unavailable("audit tiles unavailable".into()))
}

struct Writer {
    store: Arc<dyn AuditStore>,
    tree: Arc<RwLock<TiledTree>>,
    signer: Signer,
    policy: CheckpointPolicy,
    signed: u64,
    signed_at: Instant,
    last_note: Option<String>,
    size_tx: watch::Sender<u64>,
    tap: Tap,
    tap_drops: DropLog,
}

/// Batches the live tap dropped: counted in a metric at once, logged at
/// most once per [`DropLog::EVERY`] with the number dropped since.
#[derive(Default)]
struct DropLog {
    since_logged: u64,
    logged_at: Option<Instant>,
}

impl DropLog {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    fn dropped(&mut self, events: u64) {
        crate::metrics::count_tap_dropped(events);
        self.since_logged += events;
        if self.logged_at.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            tracing::error!(
                events = self.since_logged,
                "breach detection is behind: committed audit events were not analysed"
            );
            self.since_logged = 0;
            self.logged_at = Some(Instant::now());
        }
    }
}

async fn writer(mut rx: mpsc::Receiver<Msg>, mut w: Writer) {
    w.last_note = w.store.checkpoints().await.ok().and_then(|mut v| v.pop());
    loop {
        let wait = w.policy.every.saturating_sub(w.signed_at.elapsed());
        let first = match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(_) => {
                w.maybe_checkpoint(true).await;
                continue;
            }
        };
        let mut batch = Vec::new();
        let mut checkpoint_requests = Vec::new();
        let mut n = 0usize;
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                Msg::Append(events, reply) => {
                    n += events.len();
                    batch.push((events, reply));
                }
                Msg::Checkpoint(reply) => checkpoint_requests.push(reply),
            }
            if n < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            w.commit(batch).await;
        }
        w.maybe_checkpoint(!checkpoint_requests.is_empty()).await;
        for r in checkpoint_requests {
            let _ = r.send(
                w.last_note
                    .clone()
                    .ok_or_else(|| AuditError::Unavailable("no checkpoint yet".into())),
            );
        }
    }
}

impl Writer {
    fn size(&self) -> u64 {
        self.tree.read().map(|t| t.size()).unwrap_or(0)
    }

    async fn commit(&mut self, batch: Vec<(Vec<Event>, Reply)>) {
        let known = self.size();
        let mut replies = Vec::with_capacity(batch.len());
        let mut groups = Vec::with_capacity(batch.len());
        for (events, reply) in batch {
            replies.push((reply, events.len() as u64));
            groups.push(events);
        }
        // The store decides the first index (another server process may
        // have appended to a shared store); the batch is encoded then.
        let built = Arc::new(std::sync::Mutex::new(Built::default()));
        let out = Arc::clone(&built);
        let keep_events = self.tap.get().is_some();
        let build = Box::new(move |first: u64| {
            let (frames, events) = encode_batch(first, groups, keep_events);
            if let Ok(mut b) = out.lock() {
                b.leaves = frames.iter().map(|f| f.frame.leaf).collect();
                b.events = events;
            }
            frames
        });
        match self.store.append_shared(known, build).await {
            Ok(tail) => {
                let Built { leaves, events } = built
                    .lock()
                    .map(|mut b| std::mem::take(&mut *b))
                    .unwrap_or_default();
                let mut first = known + tail.len() as u64;
                if let Ok(mut t) = self.tree.write() {
                    for f in tail {
                        t.push(f.leaf);
                    }
                    for l in leaves {
                        t.push(l);
                    }
                    self.size_tx.send_replace(t.size());
                }
                for (reply, n) in replies {
                    let _ = reply.send(Ok(first));
                    first += n;
                }
                if let Some(tap) = self.tap.get()
                    && !events.is_empty()
                    && let Err(e) = tap.try_send(events)
                {
                    let n = match &e {
                        mpsc::error::TrySendError::Full(v)
                        | mpsc::error::TrySendError::Closed(v) => v.len(),
                    };
                    self.tap_drops.dropped(n as u64);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit append failed; PHI requests are refused");
                let err = AuditError::from(e);
                for (reply, _) in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    async fn maybe_checkpoint(&mut self, due_by_time: bool) {
        let size = self.size();
        if size == self.signed {
            self.signed_at = Instant::now();
            return;
        }
        let due = size - self.signed >= self.policy.every_events
            || due_by_time
            || self.signed_at.elapsed() >= self.policy.every;
        if !due {
            return;
        }
        let root = match self.tree.read() {
            Ok(t) => t.root(),
            Err(_) => return,
        };
        let note = self.signer.sign(&Checkpoint {
            origin: self.signer.verifier().name().to_owned(),
            size,
            root,
        });
        match self.store.append_checkpoint(size, &note).await {
            Ok(()) => {
                self.signed = size;
                self.signed_at = Instant::now();
                self.last_note = Some(note);
            }
            Err(e) => tracing::error!(error = %e, "audit checkpoint not stored; will retry"),
        }
    }
}

/// What a commit encoded: the leaves for the tree, the events for the tap.
#[derive(Default)]
struct Built {
    leaves: Vec<Hash>,
    events: Vec<Event>,
}

/// Gives each event its index from `first` on and encodes it as a frame;
/// keeps the events when asked (for the tap).
fn encode_batch(first: u64, groups: Vec<Vec<Event>>, keep: bool) -> (Vec<NewFrame>, Vec<Event>) {
    let mut frames = Vec::new();
    let mut kept = Vec::new();
    for (index, mut e) in (first..).zip(groups.into_iter().flatten()) {
        e.index = index;
        let bytes = e.encode();
        frames.push(NewFrame {
            frame: AuditFrame {
                index,
                leaf: leaf_hash(&bytes),
                event: bytes,
            },
            meta: meta_of(&e),
        });
        if keep {
            kept.push(e);
        }
    }
    (frames, kept)
}
