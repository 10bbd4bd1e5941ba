//! The end of the last segment: preallocation and crash recovery.
//!
//! An `fdatasync` after a write that grows a file must also commit the new
//! file size (a journal commit on ext4, ~4× the cost of the data flush on
//! the development machine: 0.64 ms against 0.14 ms for 8 KiB). Overwriting
//! blocks that exist needs only the data. So the writer keeps zeros ahead of
//! itself: a batch that would pass the allocated end carries
//! [`PREALLOCATE`] bytes of zeros in the same write, one size change every
//! few MiB (the way PostgreSQL and etcd preallocate their logs).
//!
//! With zeros ahead, a crash can leave a frame whose header reached the
//! disk and whose event did not. So a writable open checks the frames of
//! the last segment against their leaf hashes: the first that does not
//! match ends the log (it was never acknowledged: acknowledgement follows
//! the flush). Whatever is not zero after the end is first copied to
//! `tail-<position>.bin` (evidence: a crash leaves such bytes, and so would
//! tampering; the signed checkpoints then tell which) and the file is cut.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{io, sync_dir};
use crate::StoreError;

/// Zeros written ahead of the writer at a time.
pub(super) const PREALLOCATE: u64 = 4 << 20;

/// Zeros to append after a batch of `len` bytes written at `start`, given
/// the allocated length; none while the batch fits, and none past the
/// segment size (the segment closes there).
pub(super) fn padding(start: u64, len: u64, allocated: u64, segment_bytes: u64) -> u64 {
    let end = start + len;
    if end <= allocated {
        return 0;
    }
    end.saturating_add(PREALLOCATE)
        .min(segment_bytes)
        .saturating_sub(end)
}

/// Leaves nothing but zeros after `end` in `path`: bytes that are not are
/// copied to `tail-<position>.bin` in `dir`, then the file is cut at `end`.
/// Returns the allocated length afterwards.
pub(super) fn settle(dir: &Path, path: &Path, end: u64, position: u64) -> Result<u64, StoreError> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io("open segment"))?;
    let len = f.metadata().map_err(io("stat segment"))?.len();
    if len <= end {
        return Ok(len);
    }
    f.seek(SeekFrom::Start(end)).map_err(io("seek"))?;
    let mut rest = Vec::new();
    (&mut f)
        .take(len - end)
        .read_to_end(&mut rest)
        .map_err(io("read segment tail"))?;
    let Some(last) = rest.iter().rposition(|b| *b != 0) else {
        return Ok(len);
    };
    let kept = dir.join(format!("tail-{position}.bin"));
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&kept)
        .map_err(io("keep segment tail"))?;
    out.write_all(rest.get(..=last).unwrap_or_default())
        .and_then(|()| out.sync_all())
        .map_err(io("keep segment tail"))?;
    sync_dir(dir)?;
    f.set_len(end).map_err(io("truncate torn tail"))?;
    f.sync_all().map_err(io("sync"))?;
    tracing::warn!(
        position,
        bytes = last + 1,
        "audit: bytes after the last whole frame were moved to tail-<position>.bin"
    );
    Ok(end)
}

/// Opens a segment for positioned writes.
pub(super) fn open_rw(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io("open"))
}
