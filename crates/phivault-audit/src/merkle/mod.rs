//! RFC 6962 §2.1 Merkle tree hashing (also RFC 9162 §2.1), SHA-256.
//!
//! Leaves and interior nodes are domain-separated (`0x00` and `0x01`
//! prefixes) so a leaf can never be passed off as a node.

mod proof;
mod tree;

pub use proof::{ProofError, verify_consistency, verify_inclusion};
pub use tree::{NeedTile, NodeSource, TILE_HEIGHT, TILE_WIDTH, TiledTree, TreeError};

use aws_lc_rs::digest::{Context, SHA256, digest};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

fn finish(ctx: Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `MTH({d}) = SHA-256(0x00 || d)` (RFC 6962 §2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    finish(ctx)
}

/// `SHA-256(0x01 || left || right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[0x01]);
    ctx.update(left);
    ctx.update(right);
    finish(ctx)
}

/// The hash of the empty tree, `SHA-256()` (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, b"").as_ref());
    out
}

/// The root of a tree grown one leaf at a time, in O(log n) memory: the
/// hashes of the complete subtrees that make up the tree so far, largest
/// first (one per set bit of the size).
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    stack: Vec<Hash>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash. `on_complete(level, index, hash)` sees every
    /// complete subtree this append closes (level ≥ 1), smallest first.
    pub fn push_with(&mut self, leaf: Hash, mut on_complete: impl FnMut(u32, u64, &Hash)) {
        let mut h = leaf;
        let mut n = self.size;
        let mut level = 0u32;
        // INVARIANT: `stack` holds one hash per set bit of `size`, so every
        // set low bit of `n` has a hash to pop.
        while n & 1 == 1 {
            let Some(left) = self.stack.pop() else { break };
            h = node_hash(&left, &h);
            n >>= 1;
            level += 1;
            on_complete(level, self.size >> level, &h);
        }
        self.stack.push(h);
        self.size += 1;
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_with(leaf, |_, _, _| {});
    }

    /// The tree head: `MTH(D[size])`.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

#[cfg(test)]
mod tests;
