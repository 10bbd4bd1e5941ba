//! Rewrap rate: unwrap under KEK v1 and wrap under v2, one DEK per iteration.
//! Local keyring always; SoftHSM2 when `PHIVAULT_TEST_PKCS11_MODULE`/`_PIN`
//! are set (`eval "$(scripts/softhsm)"`), with calls offloaded to the
//! blocking pool and inline.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "bench"
)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phivault_core::envelope::{DataKey, WrappedDek};
use phivault_keys::keyring::Keyring;
use phivault_keys::pkcs11::{Pkcs11Config, Pkcs11Provider};
use phivault_keys::{KeyProvider, Pin};

const N: usize = 512;

fn prepare(rt: &tokio::runtime::Runtime, p: &dyn KeyProvider) -> Vec<(WrappedDek, String)> {
    rt.block_on(async {
        let mut out = Vec::with_capacity(N);
        for i in 0..N {
            let id = format!("r{i}");
            let dek = DataKey::generate().unwrap();
            out.push((p.wrap(&dek, "patients", &id).await.unwrap(), id));
        }
        p.rotate(jiff::Timestamp::now()).await.unwrap();
        out
    })
}

fn run(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, p: &dyn KeyProvider) {
    let deks = prepare(rt, p);
    let mut g = c.benchmark_group("rewrap");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let (w, id) = &deks[usize::try_from(i).unwrap() % N];
                    std::hint::black_box(p.rewrap(w, "patients", id).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let k = Keyring::create(dir.path(), "2026-01-01T00:00:00Z").unwrap();
    run(c, "local_keyring", &rt, &k);

    let (Ok(module), Ok(pin)) = (
        std::env::var("PHIVAULT_TEST_PKCS11_MODULE"),
        std::env::var("PHIVAULT_TEST_PKCS11_PIN"),
    ) else {
        eprintln!("skipping PKCS#11 bench: run scripts/softhsm");
        return;
    };
    let token =
        std::env::var("PHIVAULT_TEST_PKCS11_TOKEN").unwrap_or_else(|_| "phivault-test".into());
    for offload in [true, false] {
        let mut cfg = Pkcs11Config::new(&module, &token, Pin::new(pin.clone()));
        cfg.key_label = format!("phivault-bench-{offload}-{}", std::process::id());
        cfg.create_if_missing = true;
        cfg.offload = offload;
        let p = rt
            .block_on(Pkcs11Provider::connect(cfg, jiff::Timestamp::now()))
            .unwrap();
        let name = if offload {
            "softhsm2_spawn_blocking"
        } else {
            "softhsm2_inline"
        };
        run(c, name, &rt, &p);
        rt.block_on(async {
            let top = p.current().version;
            p.rotate(jiff::Timestamp::now()).await.unwrap();
            p.retire_below(top + 1).await.unwrap();
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
