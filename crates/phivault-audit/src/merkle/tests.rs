#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use proptest::prelude::*;

use super::*;

/// RFC 6962 reference, straight from the definitions, over all leaves.
fn ref_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = tree::split(n as u64) as usize;
            node_hash(&ref_mth(&d[..k]), &ref_mth(&d[k..]))
        }
    }
}

fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = tree::split(n as u64) as usize;
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![ref_mth(d)] };
    }
    let k = tree::split(n as u64) as usize;
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(ref_mth(&d[..k]));
        p
    }
}

/// Runs `op`, loading whatever tiles it asks for from `leaves`.
fn with_tiles<T>(
    tree: &mut TiledTree,
    leaves: &[Hash],
    op: impl Fn(&TiledTree) -> Result<T, TreeError>,
) -> Result<T, TreeError> {
    loop {
        match op(tree) {
            Err(TreeError::NeedTile(t)) => {
                let s = (t * TILE_WIDTH) as usize;
                tree.load_tile(t, leaves[s..s + TILE_WIDTH as usize].to_vec());
            }
            other => return other,
        }
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
        .collect()
}

fn tree_of(l: &[Hash]) -> TiledTree {
    let mut t = TiledTree::new();
    for h in l {
        t.push(*h);
    }
    t
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Roots of the RFC 6962 test leaves used by Certificate Transparency's
/// reference implementations (transparency-dev/merkle testdata).
#[test]
fn known_answer_roots() {
    let inputs: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let mut f = Frontier::new();
    for (i, data) in inputs.iter().enumerate() {
        f.push(leaf_hash(data));
        assert_eq!(hex(&f.root()), roots[i], "root of {} leaves", i + 1);
    }
    assert_eq!(
        hex(&empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn tiled_tree_matches_reference_across_tile_boundaries() {
    let l = leaves(3 * TILE_WIDTH as usize + 17);
    let mut t = tree_of(&l);
    for size in [1u64, 2, 255, 256, 257, 511, 512, 513, 700, 785] {
        let want = ref_mth(&l[..size as usize]);
        assert_eq!(with_tiles(&mut t, &l, |t| t.root_at(size)).unwrap(), want);
        for index in [0, size / 2, size - 1] {
            let p = with_tiles(&mut t, &l, |t| t.inclusion_proof(index, size)).unwrap();
            assert_eq!(p, ref_path(index as usize, &l[..size as usize]));
            verify_inclusion(index, size, &l[index as usize], &p, &want).unwrap();
        }
    }
    assert_eq!(t.root(), ref_mth(&l));
}

#[test]
fn full_tiles_must_be_supplied() {
    let l = leaves(600);
    let t = tree_of(&l);
    assert_eq!(t.inclusion_proof(3, 600), Err(TreeError::NeedTile(0)));
    assert_eq!(
        t.inclusion_proof(600, 600),
        Err(TreeError::OutOfRange("index must be below the tree size"))
    );
    assert!(matches!(
        t.inclusion_proof(0, 601),
        Err(TreeError::OutOfRange(_))
    ));
}

#[test]
fn verification_rejects_wrong_leaf_index_root_and_lengths() {
    let l = leaves(13);
    let mut t = tree_of(&l);
    let root = t.root();
    let p = with_tiles(&mut t, &l, |t| t.inclusion_proof(5, 13)).unwrap();
    assert_eq!(
        verify_inclusion(5, 13, &l[6], &p, &root),
        Err(ProofError::Mismatch)
    );
    assert!(verify_inclusion(6, 13, &l[5], &p, &root).is_err());
    assert!(verify_inclusion(5, 8, &l[5], &p, &root).is_err());
    assert!(verify_inclusion(5, 13, &l[5], &p[..p.len() - 1], &root).is_err());
    let mut longer = p.clone();
    longer.push(root);
    assert!(verify_inclusion(5, 13, &l[5], &longer, &root).is_err());
    let c = with_tiles(&mut t, &l, |t| t.consistency_proof(7, 13)).unwrap();
    let old = ref_mth(&l[..7]);
    verify_consistency(7, 13, &old, &root, &c).unwrap();
    assert!(verify_consistency(7, 13, &root, &root, &c).is_err());
    assert!(verify_consistency(6, 13, &old, &root, &c).is_err());
    assert!(verify_consistency(0, 13, &old, &root, &c).is_err());
    verify_consistency(13, 13, &root, &root, &[]).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proofs_match_the_rfc_definitions(n in 1usize..1100, a in 0usize..1100, b in 0usize..1100) {
        let l = leaves(n);
        let mut t = tree_of(&l);
        let size = (a % n) + 1;
        let index = b % size;
        let root = ref_mth(&l[..size]);
        let p = with_tiles(&mut t, &l, |t| t.inclusion_proof(index as u64, size as u64)).unwrap();
        prop_assert_eq!(&p, &ref_path(index, &l[..size]));
        prop_assert!(verify_inclusion(index as u64, size as u64, &l[index], &p, &root).is_ok());
        let from = (b % size) + 1;
        let c = with_tiles(&mut t, &l, |t| t.consistency_proof(from as u64, size as u64)).unwrap();
        prop_assert_eq!(&c, &ref_subproof(from, &l[..size], true));
        let old = ref_mth(&l[..from]);
        prop_assert!(verify_consistency(from as u64, size as u64, &old, &root, &c).is_ok());
    }

    #[test]
    fn any_changed_leaf_breaks_inclusion(n in 2usize..300, i in 0usize..300, flip in 0usize..32) {
        let l = leaves(n);
        let mut t = tree_of(&l);
        let i = i % n;
        let p = with_tiles(&mut t, &l, |t| t.inclusion_proof(i as u64, n as u64)).unwrap();
        let mut bad = l[i];
        bad[flip] ^= 1;
        prop_assert!(verify_inclusion(i as u64, n as u64, &bad, &p, &t.root()).is_err());
    }
}
