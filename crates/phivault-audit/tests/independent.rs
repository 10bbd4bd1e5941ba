//! Our proofs verify with an independent RFC 6962 implementation
//! (the `ct-merkle` crate, RustCrypto `sha2`), and its roots equal ours.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use phivault_audit::merkle::{Hash, TILE_WIDTH, TiledTree, TreeError, leaf_hash};
use sha2::Sha256;

fn with_tiles<T>(
    tree: &mut TiledTree,
    leaves: &[Hash],
    op: impl Fn(&TiledTree) -> Result<T, TreeError>,
) -> T {
    loop {
        match op(tree) {
            Err(TreeError::NeedTile(t)) => {
                let s = (t * TILE_WIDTH) as usize;
                tree.load_tile(t, leaves[s..s + TILE_WIDTH as usize].to_vec());
            }
            other => return other.unwrap(),
        }
    }
}

fn root(h: Hash, n: u64) -> RootHash<Sha256> {
    RootHash::new(h.into(), n)
}

#[test]
fn proofs_verify_with_ct_merkle() {
    let data: Vec<Vec<u8>> = (0..1300u32)
        .map(|i| format!("{{\"index\":{i},\"event\":\"e{i}\"}}").into_bytes())
        .collect();
    let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    let mut ours = TiledTree::new();
    let mut theirs = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    for (d, l) in data.iter().zip(&leaves) {
        ours.push(*l);
        theirs.push(d.clone());
        assert_eq!(ours.root().as_slice(), theirs.root().as_bytes().as_slice());
    }
    let n = ours.size();
    let top = root(ours.root(), n);
    for size in [1u64, 2, 3, 7, 8, 255, 256, 257, 1000, 1024, 1299, 1300] {
        let at = root(with_tiles(&mut ours, &leaves, |t| t.root_at(size)), size);
        for idx in [0, size / 3, size - 1] {
            let p = with_tiles(&mut ours, &leaves, |t| t.inclusion_proof(idx, size));
            let proof = InclusionProof::<Sha256>::from_bytes(p.concat());
            at.verify_inclusion(&data[idx as usize], idx, &proof)
                .unwrap();
            // And a wrong leaf does not verify.
            assert!(
                at.verify_inclusion(&b"forged".to_vec(), idx, &proof)
                    .is_err()
            );
        }
        if size < n {
            let c = with_tiles(&mut ours, &leaves, |t| t.consistency_proof(size, n));
            let proof = ConsistencyProof::<Sha256>::try_from_bytes(c.concat()).unwrap();
            top.verify_consistency(&at, &proof).unwrap();
        }
    }
}
