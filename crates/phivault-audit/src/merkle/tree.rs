//! A tree that answers proofs at any past size without keeping every node.
//!
//! Subtrees of [`TILE_WIDTH`] leaves and larger are kept in memory (32 bytes
//! per 256 leaves, about 1.3 MB at 10 million events); hashes below that are
//! recomputed from one tile of leaf hashes, which the caller reads from
//! storage when [`NodeSource::node`] reports [`NeedTile`]. This keeps the
//! Merkle math free of I/O (the approach of C2SP tiled logs).

use std::collections::HashMap;

use super::{Frontier, Hash, empty_root, node_hash};

/// Height of a tile: subtrees of `2^TILE_HEIGHT` leaves are kept in memory.
pub const TILE_HEIGHT: u32 = 8;
/// Leaves per tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The leaf hashes of this tile are needed (read them and retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedTile(pub u64);

/// Why a tree operation cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The leaf hashes of a tile must be read first.
    #[error("tile {0} is needed")]
    NeedTile(u64),
    /// The request names a size or index the tree does not have.
    #[error("{0}")]
    OutOfRange(&'static str),
}

impl From<NeedTile> for TreeError {
    fn from(n: NeedTile) -> Self {
        Self::NeedTile(n.0)
    }
}

/// Hashes of complete, aligned subtrees: `node(level, index)` covers leaves
/// `[index·2^level, (index+1)·2^level)`.
pub trait NodeSource {
    /// The hash of one complete subtree.
    fn node(&self, level: u32, index: u64) -> Result<Hash, TreeError>;
}

/// The append-only tree: upper levels in memory, the current partial tile's
/// leaves in memory, full tiles' leaves supplied on demand.
#[derive(Debug, Clone, Default)]
pub struct TiledTree {
    frontier: Frontier,
    /// `upper[k][i]` = node(TILE_HEIGHT + k, i).
    upper: Vec<Vec<Hash>>,
    /// Leaf hashes of the last, incomplete tile.
    tail: Vec<Hash>,
    /// Tiles read from storage for the current operation.
    loaded: HashMap<u64, Vec<Hash>>,
}

impl TiledTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let upper = &mut self.upper;
        self.frontier.push_with(leaf, |level, index, h| {
            if level >= TILE_HEIGHT {
                let k = (level - TILE_HEIGHT) as usize;
                if upper.len() <= k {
                    upper.resize_with(k + 1, Vec::new);
                }
                if let Some(row) = upper.get_mut(k) {
                    debug_assert_eq!(row.len() as u64, index);
                    row.push(*h);
                }
            }
        });
        self.tail.push(leaf);
        if self.tail.len() as u64 == TILE_WIDTH {
            self.tail.clear();
        }
    }

    /// Supplies the leaf hashes of a full tile (after [`TreeError::NeedTile`]).
    pub fn load_tile(&mut self, tile: u64, leaves: Vec<Hash>) {
        self.loaded.insert(tile, leaves);
    }

    /// Number of supplied tiles held.
    pub fn loaded_tiles(&self) -> usize {
        self.loaded.len()
    }

    /// Forgets supplied tiles (they are only a cache for one operation).
    pub fn clear_loaded(&mut self) {
        self.loaded.clear();
    }

    /// `MTH(D[0:size])` for any size up to the current one.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        if size > self.size() {
            return Err(TreeError::OutOfRange("tree size is beyond the log"));
        }
        if size == 0 {
            return Ok(empty_root());
        }
        mth(self, 0, size)
    }

    fn tile_leaves(&self, tile: u64) -> Result<&[Hash], TreeError> {
        if tile == self.size() / TILE_WIDTH {
            return Ok(&self.tail);
        }
        match self.loaded.get(&tile) {
            Some(v) if v.len() as u64 == TILE_WIDTH => Ok(v),
            _ => Err(TreeError::NeedTile(tile)),
        }
    }
}

impl NodeSource for TiledTree {
    fn node(&self, level: u32, index: u64) -> Result<Hash, TreeError> {
        let end = (index + 1)
            .checked_shl(level)
            .ok_or(TreeError::OutOfRange("node out of range"))?;
        if end > self.size() {
            return Err(TreeError::OutOfRange("node is not complete"));
        }
        if level >= TILE_HEIGHT {
            let k = (level - TILE_HEIGHT) as usize;
            return self
                .upper
                .get(k)
                .and_then(|row| row.get(index as usize))
                .copied()
                .ok_or(TreeError::OutOfRange("node is not complete"));
        }
        let first = index << level;
        let tile = first / TILE_WIDTH;
        let leaves = self.tile_leaves(tile)?;
        let start = (first % TILE_WIDTH) as usize;
        let slice = leaves
            .get(start..start + (1usize << level))
            .ok_or(TreeError::NeedTile(tile))?;
        Ok(hash_complete(slice))
    }
}

/// The root of a power-of-two run of leaf hashes.
fn hash_complete(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                _ => empty_root(), // unreachable: chunks_exact(2)
            })
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// Largest power of two strictly below `n` (n ≥ 2).
pub(super) fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:start+len])` where `start` is aligned to the largest power of
/// two not above `len` (always so inside RFC 6962's recursions).
pub(super) fn mth(src: &impl NodeSource, start: u64, len: u64) -> Result<Hash, TreeError> {
    if len == 0 {
        return Ok(empty_root());
    }
    if len.is_power_of_two() && start.is_multiple_of(len) {
        let level = len.trailing_zeros();
        return src.node(level, start >> level);
    }
    let k = split(len);
    let left = mth(src, start, k)?;
    let right = mth(src, start + k, len - k)?;
    Ok(node_hash(&left, &right))
}
