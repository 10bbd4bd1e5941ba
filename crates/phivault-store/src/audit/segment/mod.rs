//! Append-only segment files: the embedded default's audit log.
//!
//! `audit/<first position>.seg` files of frames
//! `len u32 | index u64 | at i64 | leaf [32] | event [len]` (little endian),
//! rolled at [`SEGMENT_BYTES`] (`frame.rs`). A batch is written with one
//! positioned `write` into space preallocated with zeros and made durable
//! with one `fdatasync` before `append` returns (group commit: the caller
//! batches). A frame cut short by a crash at the end of the last segment was
//! never acknowledged and is cut off on the next writable open (`tail.rs`).
//! Checkpoints go to `checkpoints.log` (`len u32 | note`), outbox cursors to
//! one small file per sink, replaced atomically.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod frame;
mod tail;

use frame::{HEADER, Header, read_frame};
use phivault_audit::merkle::leaf_hash;

use super::{AuditFrame, AuditMeta, AuditQuery, AuditStore, NewFrame};
use crate::{ErrorKind, StoreError};

/// A segment is closed once it passes this size.
pub const SEGMENT_BYTES: u64 = 64 << 20;
/// Every `SPARSE`-th frame's location is kept in memory.
const SPARSE: u64 = 256;

fn io(what: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| {
        StoreError::new(
            ErrorKind::Unavailable,
            format!("audit {what}: {}", e.kind()),
        )
    }
}

fn corrupt(pos: u64) -> StoreError {
    StoreError::new(
        ErrorKind::Corrupt,
        format!("audit segment damaged at position {pos}"),
    )
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    /// (first position, path) per segment.
    segments: Vec<(u64, PathBuf)>,
    /// (segment, offset) of positions 0, SPARSE, 2·SPARSE, …
    sparse: Vec<(usize, u64)>,
    len: u64,
    current: Option<File>,
    /// End of the written frames in the current segment.
    current_size: u64,
    /// The current segment's length on disk (zeros after `current_size`).
    allocated: u64,
    writable: bool,
    segment_bytes: u64,
}

/// The segment-file audit store.
#[derive(Debug, Clone)]
pub struct SegmentStore {
    inner: Arc<Mutex<Inner>>,
    /// A writable store holds an exclusive lock on `audit/LOCK` for its
    /// lifetime: one writer per log, or indexes would collide.
    _lock: Option<Arc<File>>,
}

/// The lock file that makes one process the log's only writer.
pub const LOCK_FILE: &str = "LOCK";

fn lock(dir: &Path) -> Result<File, StoreError> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))
        .map_err(io("open lock"))?;
    // A writer that is just shutting down (a restart) lets go within
    // moments; another live process does not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::new(
                    ErrorKind::Unavailable,
                    "the audit log is open for writing in another phivault process",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock")(e)),
        }
    }
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io("open"))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory"))
}

impl SegmentStore {
    /// Opens (and with `writable`, creates) the log in `dir`. A writable open
    /// cuts off a torn frame at the end of the last segment.
    pub fn open(dir: &Path, writable: bool) -> Result<Self, StoreError> {
        Self::open_with(dir, writable, SEGMENT_BYTES)
    }

    /// [`Self::open`] with another segment size (tests roll segments fast).
    pub fn open_with(dir: &Path, writable: bool, segment_bytes: u64) -> Result<Self, StoreError> {
        let mut held = None;
        if writable {
            std::fs::create_dir_all(dir).map_err(io("create directory"))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
            held = Some(Arc::new(lock(dir)?));
        }
        let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
            .map_err(io("list directory"))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let p = e.path();
                let first = p
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse::<u64>()
                    .ok()?;
                Some((first, p))
            })
            .collect();
        segments.sort();
        let mut inner = Inner {
            dir: dir.to_owned(),
            segments,
            sparse: Vec::new(),
            len: 0,
            current: None,
            current_size: 0,
            allocated: 0,
            writable,
            segment_bytes,
        };
        inner.scan()?;
        Ok(Self {
            inner: Arc::new(Mutex::new(inner)),
            _lock: held,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut g = inner
                .lock()
                .map_err(|_| StoreError::new(ErrorKind::Unavailable, "audit store poisoned"))?;
            f(&mut g)
        })
        .await
        .map_err(|_| StoreError::new(ErrorKind::Unavailable, "audit store task failed"))?
    }
}

impl Inner {
    fn scan(&mut self) -> Result<(), StoreError> {
        let count = self.segments.len();
        for (si, (first, path)) in self.segments.clone().into_iter().enumerate() {
            if first != self.len {
                return Err(corrupt(self.len));
            }
            let last = si + 1 == count;
            // Only the writer recovers a torn tail, so only it checks the
            // last segment's leaves (readers report what is stored).
            let check = last && self.writable;
            let file = File::open(&path).map_err(io("open segment"))?;
            let mut r = BufReader::with_capacity(1 << 16, file);
            let mut offset = 0u64;
            loop {
                let whole = match read_frame(&mut r) {
                    Ok(Some((h, event))) => (!check
                        || (h.index == self.len && h.leaf == leaf_hash(&event)))
                    .then_some(h),
                    Ok(None) => break,
                    Err(()) => None,
                };
                match whole {
                    Some(h) => {
                        if self.len.is_multiple_of(SPARSE) {
                            self.sparse.push((si, offset));
                        }
                        offset += (HEADER as u64) + u64::from(h.len);
                        self.len += 1;
                    }
                    // A torn tail: never acknowledged (cut below when writable).
                    None if last => break,
                    None => return Err(corrupt(self.len)),
                }
            }
            if last {
                self.current_size = offset;
                if self.writable {
                    self.allocated = tail::settle(&self.dir, &path, offset, self.len)?;
                }
            }
        }
        Ok(())
    }

    fn writer(&mut self) -> Result<(), StoreError> {
        let roll = self.segments.is_empty() || self.current_size >= self.segment_bytes;
        if roll {
            let path = self.dir.join(format!("{:020}.seg", self.len));
            let f = tail::open_rw(&path)?;
            sync_dir(&self.dir)?;
            self.segments.push((self.len, path));
            self.current = Some(f);
            self.current_size = 0;
            self.allocated = 0;
        } else if self.current.is_none() {
            let path = self
                .segments
                .last()
                .map(|s| s.1.clone())
                .ok_or_else(|| corrupt(self.len))?;
            self.current = Some(tail::open_rw(&path)?);
        }
        Ok(())
    }

    fn append(&mut self, frames: Vec<NewFrame>) -> Result<(), StoreError> {
        if !self.writable {
            return Err(StoreError::new(
                ErrorKind::Unavailable,
                "audit log opened read-only",
            ));
        }
        let (mut buf, sizes) = frame::encode(&frames)?;
        self.writer()?;
        let start = self.current_size;
        let data = buf.len() as u64;
        let pad = tail::padding(start, data, self.allocated, self.segment_bytes);
        buf.resize(buf.len() + pad as usize, 0);
        let file = self
            .current
            .as_mut()
            .ok_or_else(|| StoreError::new(ErrorKind::Unavailable, "audit segment not open"))?;
        let written = file
            .write_all_at(&buf, start)
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Leave nothing of the batch behind; if even that fails, stop
            // writing until a restart re-reads the file.
            self.allocated = start;
            if file.set_len(start).and_then(|()| file.sync_data()).is_err() {
                self.writable = false;
            }
            return Err(io("write")(e));
        }
        self.allocated = self.allocated.max(start + data + pad);
        let seg = self.segments.len().saturating_sub(1);
        let mut off = start;
        for s in sizes {
            if self.len.is_multiple_of(SPARSE) {
                self.sparse.push((seg, off));
            }
            off += s;
            self.len += 1;
        }
        self.current_size = off;
        Ok(())
    }

    /// Calls `f` for frames from position `from` until it returns false.
    fn each(
        &self,
        from: u64,
        mut f: impl FnMut(Header, Vec<u8>) -> bool,
    ) -> Result<(), StoreError> {
        if from >= self.len {
            return Ok(());
        }
        let Some(&(mut seg, offset)) = self.sparse.get((from / SPARSE) as usize) else {
            return Ok(());
        };
        let mut pos = from - from % SPARSE;
        let mut offset = offset;
        while let Some((_, path)) = self.segments.get(seg) {
            let mut file = File::open(path).map_err(io("open segment"))?;
            file.seek(SeekFrom::Start(offset)).map_err(io("seek"))?;
            let mut r = BufReader::with_capacity(1 << 16, file);
            loop {
                if pos >= self.len {
                    return Ok(());
                }
                match read_frame(&mut r) {
                    Ok(Some((h, event))) => {
                        if pos >= from && !f(h, event) {
                            return Ok(());
                        }
                        pos += 1;
                    }
                    Ok(None) => break,
                    Err(()) => return Err(corrupt(pos)),
                }
            }
            seg += 1;
            offset = 0;
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct Columns {
    user: String,
    action: String,
    #[serde(default)]
    patient_id: Option<String>,
}

fn meta_of(at: i64, event: &[u8]) -> AuditMeta {
    match serde_json::from_slice::<Columns>(event) {
        Ok(c) => AuditMeta {
            at,
            user: c.user,
            action: c.action,
            patient_id: c.patient_id,
        },
        Err(_) => AuditMeta {
            at,
            ..AuditMeta::default()
        },
    }
}

fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("checkpoints.log")
}

fn cursor_path(dir: &Path, sink: &str) -> Result<PathBuf, StoreError> {
    if sink.is_empty() || !sink.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(StoreError::new(ErrorKind::Conflict, "invalid sink name"));
    }
    Ok(dir.join(format!("outbox-{sink}.cursor")))
}

#[async_trait::async_trait]
impl AuditStore for SegmentStore {
    fn kind(&self) -> &'static str {
        "segments"
    }

    async fn append(&self, frames: Vec<NewFrame>) -> Result<(), StoreError> {
        self.run(move |i| i.append(frames)).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.run(|i| Ok(i.len)).await
    }

    async fn read(&self, from: u64, max: usize) -> Result<Vec<AuditFrame>, StoreError> {
        self.run(move |i| {
            let mut out = Vec::with_capacity(max.min(4096));
            i.each(from, |h, event| {
                out.push(AuditFrame {
                    index: h.index,
                    leaf: h.leaf,
                    event,
                });
                out.len() < max
            })?;
            Ok(out)
        })
        .await
    }

    async fn query(&self, q: &AuditQuery) -> Result<Vec<AuditFrame>, StoreError> {
        let q = q.clone();
        self.run(move |i| {
            let mut out = Vec::new();
            let mut pos = q.from.unwrap_or(0);
            i.each(pos, |h, event| {
                if q.to.is_some_and(|t| pos >= t) {
                    return false;
                }
                pos += 1;
                if q.matches(h.index, &meta_of(h.at, &event)) {
                    out.push(AuditFrame {
                        index: h.index,
                        leaf: h.leaf,
                        event,
                    });
                }
                out.len() < q.limit
            })?;
            Ok(out)
        })
        .await
    }

    async fn append_checkpoint(&self, _size: u64, note: &str) -> Result<(), StoreError> {
        let note = note.as_bytes().to_vec();
        self.run(move |i| {
            let mut f = open_append(&checkpoint_path(&i.dir))?;
            let len = u32::try_from(note.len())
                .map_err(|_| StoreError::new(ErrorKind::Conflict, "checkpoint too large"))?;
            let mut buf = len.to_le_bytes().to_vec();
            buf.extend_from_slice(&note);
            f.write_all(&buf)
                .and_then(|()| f.sync_data())
                .map_err(io("write checkpoint"))
        })
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<String>, StoreError> {
        self.run(|i| {
            let bytes = match std::fs::read(checkpoint_path(&i.dir)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
                Err(e) => return Err(io("read checkpoints")(e)),
            };
            let mut out = Vec::new();
            let mut rest = bytes.as_slice();
            while let Some((len, tail)) = rest.split_first_chunk::<4>() {
                let len = u32::from_le_bytes(*len) as usize;
                let Some(note) = tail.get(..len) else {
                    break; // a torn final checkpoint was never acknowledged
                };
                out.push(String::from_utf8_lossy(note).into_owned());
                rest = tail.get(len..).unwrap_or_default();
            }
            Ok(out)
        })
        .await
    }

    async fn outbox_cursor(&self, sink: &str) -> Result<u64, StoreError> {
        let sink = sink.to_owned();
        self.run(move |i| match std::fs::read(cursor_path(&i.dir, &sink)?) {
            Ok(b) => <[u8; 8]>::try_from(b.as_slice())
                .map(u64::from_le_bytes)
                .map_err(|_| StoreError::new(ErrorKind::Corrupt, "outbox cursor damaged")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io("read outbox cursor")(e)),
        })
        .await
    }

    async fn set_outbox_cursor(&self, sink: &str, upto: u64) -> Result<(), StoreError> {
        let sink = sink.to_owned();
        self.run(move |i| {
            let path = cursor_path(&i.dir, &sink)?;
            let tmp = path.with_extension("tmp");
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io("write outbox cursor"))?;
            f.write_all(&upto.to_le_bytes())
                .and_then(|()| f.sync_data())
                .map_err(io("write outbox cursor"))?;
            std::fs::rename(&tmp, &path).map_err(io("replace outbox cursor"))?;
            sync_dir(&i.dir)
        })
        .await
    }
}
