//! Inclusion and consistency proofs: generation (RFC 6962 §2.1.1, §2.1.2)
//! and verification (RFC 9162 §2.1.3.2, §2.1.4.2).

use super::tree::{NodeSource, TreeError, mth, split};
use super::{Hash, TiledTree, node_hash};

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or sizes are impossible.
    #[error("{0}")]
    Invalid(&'static str),
    /// The proof does not lead to the given root.
    #[error("proof does not match the root")]
    Mismatch,
}

impl TiledTree {
    /// `PATH(index, D[size])`: the audit path of leaf `index` in the tree of
    /// `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        if size > self.size() {
            return Err(TreeError::OutOfRange("tree size is beyond the log"));
        }
        if index >= size {
            return Err(TreeError::OutOfRange("index must be below the tree size"));
        }
        let mut out = Vec::new();
        path(self, index, 0, size, &mut out)?;
        Ok(out)
    }

    /// `PROOF(from, D[to])`: the consistency proof between two sizes.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, TreeError> {
        if to > self.size() {
            return Err(TreeError::OutOfRange("tree size is beyond the log"));
        }
        if from == 0 || from > to {
            return Err(TreeError::OutOfRange("`from` must be between 1 and `to`"));
        }
        let mut out = Vec::new();
        if from < to {
            subproof(self, from, 0, to, true, &mut out)?;
        }
        Ok(out)
    }
}

fn path(
    src: &impl NodeSource,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError> {
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(mth(src, start + k, n - k)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(mth(src, start, k)?);
    }
    Ok(())
}

fn subproof(
    src: &impl NodeSource,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError> {
    if m == n {
        if !whole {
            out.push(mth(src, start, n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, k, whole, out)?;
        out.push(mth(src, start + k, n - k)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(mth(src, start, k)?);
    }
    Ok(())
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves with
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Invalid("index must be below the tree size"));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::Invalid("proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::Invalid("proof is too short"));
    }
    if r != *root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// Checks that the tree of `from` leaves with `from_root` is a prefix of the
/// tree of `to` leaves with `to_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::Invalid("`from` must be between 1 and `to`"));
    }
    if from == to {
        if !proof.is_empty() {
            return Err(ProofError::Invalid(
                "proof between equal sizes must be empty",
            ));
        }
        return if from_root == to_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::Invalid("proof is empty"));
    };
    let (mut fnode, mut snode) = (from - 1, to - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::Invalid("proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::Invalid("proof is too short"));
    }
    if fr != *from_root || sr != *to_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}
