//! The frame format of segment files:
//! `len u32 | index u64 | at i64 | leaf [32] | event [len]` (little endian).
//!
//! Events are never empty, so a header whose `len` is zero marks the end of
//! the written frames: segments are preallocated with zeros ahead of the
//! writer (see `tail.rs`).

use std::io::Read;

use super::super::NewFrame;
use crate::{ErrorKind, StoreError};

/// Bytes before a frame's event.
pub(super) const HEADER: usize = 4 + 8 + 8 + 32;
/// Largest event a frame holds.
pub(super) const MAX_EVENT: u32 = 1 << 20;

pub(super) struct Header {
    pub len: u32,
    pub index: u64,
    pub at: i64,
    pub leaf: [u8; 32],
}

fn parse_header(b: &[u8; HEADER]) -> Header {
    let (len, rest) = b.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
    let (index, rest) = rest.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
    let (at, rest) = rest.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
    let leaf = rest.first_chunk::<32>().copied().unwrap_or([0; 32]);
    Header {
        len: u32::from_le_bytes(*len),
        index: u64::from_le_bytes(*index),
        at: i64::from_le_bytes(*at),
        leaf,
    }
}

/// Reads one frame; `Ok(None)` at a clean end (end of file, or the zeros
/// of preallocated space), `Err(())` when the data ends inside a frame.
pub(super) fn read_frame(r: &mut impl Read) -> Result<Option<(Header, Vec<u8>)>, ()> {
    let mut h = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(h.get_mut(got..).ok_or(())?) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
    let head = parse_header(&h);
    if head.len == 0 {
        return Ok(None);
    }
    if head.len > MAX_EVENT {
        return Err(());
    }
    let mut event = vec![0u8; head.len as usize];
    r.read_exact(&mut event).map_err(|_| ())?;
    Ok(Some((head, event)))
}

/// Encodes a batch into one buffer; also returns each frame's size.
pub(super) fn encode(frames: &[NewFrame]) -> Result<(Vec<u8>, Vec<u64>), StoreError> {
    let mut buf = Vec::with_capacity(frames.iter().map(|f| HEADER + f.frame.event.len()).sum());
    let mut sizes = Vec::with_capacity(frames.len());
    for f in frames {
        let len = u32::try_from(f.frame.event.len())
            .ok()
            .filter(|l| (1..=MAX_EVENT).contains(l))
            .ok_or_else(|| {
                StoreError::new(ErrorKind::Conflict, "audit event empty or too large")
            })?;
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&f.frame.index.to_le_bytes());
        buf.extend_from_slice(&f.meta.at.to_le_bytes());
        buf.extend_from_slice(&f.frame.leaf);
        buf.extend_from_slice(&f.frame.event);
        sizes.push((HEADER as u64) + u64::from(len));
    }
    Ok((buf, sizes))
}
