//! Verification throughput (hash + tree per event, storage excluded) and
//! inclusion proofs in a tree of 10 million events (one tile supplied).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "bench"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phivault_audit::merkle::{TILE_WIDTH, TiledTree, TreeError, leaf_hash};
use phivault_audit::verify::LogVerifier;
use phivault_audit::{Event, EventContext, Outcome, Signer};

fn event(i: u64) -> Vec<u8> {
    Event {
        index: i,
        timestamp: "2026-11-24T10:00:00.000001Z".into(),
        user: "dr.house".into(),
        action: "viewed".into(),
        resource: format!("/v1/collections/patients/records/{i:016x}"),
        context: EventContext {
            ip: "10.0.0.1".into(),
            device_id: Some("UA-12345".into()),
            location: None,
        },
        outcome: Outcome::Success,
        reason: None,
        request_id: Some("0123456789abcdef".into()),
        token: None,
        patient_id: Some(format!("{i:016x}")),
        fields: vec!["name".into(), "ssn".into(), "birth_date".into()],
        purpose: Some("TREAT".into()),
        query: vec![],
        count: None,
        flags: vec![],
        permission: None,
    }
    .encode()
}

fn bench(c: &mut Criterion) {
    let n = 100_000u64;
    let frames: Vec<(u64, [u8; 32], Vec<u8>)> = (0..n)
        .map(|i| {
            let e = event(i);
            (i, leaf_hash(&e), e)
        })
        .collect();
    let (signer, _) = Signer::generate("bench.local/audit").unwrap();
    let key = signer.verifier();
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("100k events", |b| {
        b.iter(|| {
            let mut v = LogVerifier::new(&[], &key).unwrap();
            for (i, h, e) in &frames {
                v.push(*i, h, e).unwrap();
            }
            v.finish().unwrap()
        })
    });
    g.finish();

    let size = 10_000_000u64;
    let mut tree = TiledTree::new();
    for i in 0..size {
        tree.push(leaf_hash(&i.to_be_bytes()));
    }
    let index = 7_654_321u64;
    let tile = index / TILE_WIDTH;
    let leaves: Vec<[u8; 32]> = (tile * TILE_WIDTH..(tile + 1) * TILE_WIDTH)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect();
    c.bench_function("inclusion proof at 10M (tile in hand)", |b| {
        b.iter(|| {
            let mut t = tree.clone();
            t.clear_loaded();
            match t.inclusion_proof(index, size) {
                Err(TreeError::NeedTile(n)) => {
                    assert_eq!(n, tile);
                    t.load_tile(n, leaves.clone());
                }
                other => panic!("{other:?}"),
            }
            t.inclusion_proof(index, size).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
