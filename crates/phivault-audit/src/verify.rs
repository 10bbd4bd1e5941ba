//! Whole-log verification: recompute the tree from the stored events, check
//! every signed checkpoint against it, and name the first bad index.
//!
//! Stored frames carry `(index, leaf hash, event)`. The verifier checks, in
//! one pass and O(log n) memory: the index sequence (a deleted, inserted or
//! reordered event breaks it at the first bad index), each event against
//! its stored leaf hash and its own `index` field, and the root at every
//! checkpoint size. An edit that also rewrote the stored hashes consistently
//! is caught by the first checkpoint after it; the report then names the
//! range between the last good checkpoint and that one. Successive
//! checkpoints are consistent exactly when each matches the recomputed tree.

use crate::checkpoint::{Checkpoint, CheckpointError, VerifierKey};
use crate::event::encoded_index;
use crate::merkle::{Frontier, Hash, leaf_hash};

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A checkpoint is forged, unsigned or malformed.
    #[error("checkpoint #{position} is not valid: {source}")]
    Checkpoint {
        /// Position in the checkpoint list.
        position: usize,
        /// Why.
        source: CheckpointError,
    },
    /// Checkpoints do not grow.
    #[error("checkpoint #{position} (size {size}) does not follow the previous one")]
    CheckpointOrder {
        /// Position in the checkpoint list.
        position: usize,
        /// Its size.
        size: u64,
    },
    /// The frame at this position has another index: an event was deleted,
    /// inserted or moved.
    #[error(
        "first bad index {expected}: the event stored there has index {found} (deleted, inserted or reordered)"
    )]
    Sequence {
        /// The index expected at this position.
        expected: u64,
        /// The index found.
        found: u64,
    },
    /// The event does not match its stored hash or its own index.
    #[error("first bad index {index}: the event was modified")]
    Modified {
        /// The event's index.
        index: u64,
    },
    /// The stored data could not be read at this index.
    #[error("first bad index {index}: the stored event is unreadable")]
    Unreadable {
        /// The index.
        index: u64,
    },
    /// The recomputed tree does not match a signed checkpoint.
    #[error(
        "first bad index in {from}..{to}: the events do not match the checkpoint signed at size {to}"
    )]
    RootMismatch {
        /// Size of the last checkpoint that matched (0 if none).
        from: u64,
        /// Size of the checkpoint that failed.
        to: u64,
    },
    /// Fewer events than a checkpoint covers.
    #[error("first bad index {have}: the log is truncated (a checkpoint covers {size} events)")]
    Truncated {
        /// Events present.
        have: u64,
        /// Size of the largest checkpoint.
        size: u64,
    },
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Events checked.
    pub events: u64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Size of the newest checkpoint (events after it are not yet signed).
    pub signed_size: u64,
    /// The recomputed root of the whole log.
    pub root: Hash,
}

/// The streaming verifier.
#[derive(Debug)]
pub struct LogVerifier {
    checkpoints: Vec<Checkpoint>,
    next_cp: usize,
    last_good: u64,
    frontier: Frontier,
}

impl LogVerifier {
    /// Opens every checkpoint (in stored order) with `key`.
    pub fn new(notes: &[String], key: &VerifierKey) -> Result<Self, VerifyError> {
        let mut checkpoints: Vec<Checkpoint> = Vec::with_capacity(notes.len());
        for (position, note) in notes.iter().enumerate() {
            let cp = Checkpoint::open(note, key)
                .map_err(|source| VerifyError::Checkpoint { position, source })?;
            if cp.origin != key.name() {
                return Err(VerifyError::Checkpoint {
                    position,
                    source: CheckpointError::WrongOrigin(cp.origin),
                });
            }
            if checkpoints.last().is_some_and(|prev| prev.size >= cp.size) {
                return Err(VerifyError::CheckpointOrder {
                    position,
                    size: cp.size,
                });
            }
            checkpoints.push(cp);
        }
        let mut v = Self {
            checkpoints,
            next_cp: 0,
            last_good: 0,
            frontier: Frontier::new(),
        };
        v.check_checkpoint()?;
        Ok(v)
    }

    /// Events checked so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Checks the next stored frame.
    pub fn push(
        &mut self,
        index: u64,
        stored_leaf: &Hash,
        event: &[u8],
    ) -> Result<(), VerifyError> {
        let expected = self.frontier.size();
        if index != expected {
            return Err(VerifyError::Sequence {
                expected,
                found: index,
            });
        }
        let leaf = leaf_hash(event);
        if leaf != *stored_leaf || encoded_index(event) != Some(index) {
            return Err(VerifyError::Modified { index });
        }
        self.frontier.push(leaf);
        self.check_checkpoint()
    }

    fn check_checkpoint(&mut self) -> Result<(), VerifyError> {
        let size = self.frontier.size();
        while let Some(cp) = self.checkpoints.get(self.next_cp) {
            if cp.size != size {
                break;
            }
            if cp.root != self.frontier.root() {
                return Err(VerifyError::RootMismatch {
                    from: self.last_good,
                    to: size,
                });
            }
            self.last_good = size;
            self.next_cp += 1;
        }
        Ok(())
    }

    /// Ends the pass: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Verified, VerifyError> {
        if let Some(cp) = self.checkpoints.last()
            && cp.size > self.frontier.size()
        {
            return Err(VerifyError::Truncated {
                have: self.frontier.size(),
                size: cp.size,
            });
        }
        Ok(Verified {
            events: self.frontier.size(),
            checkpoints: self.checkpoints.len(),
            signed_size: self.last_good,
            root: self.frontier.root(),
        })
    }
}

#[cfg(test)]
mod tests;
