//! Throughput of the detectors over corpus-like input (several MB), single
//! thread. `cargo bench -p phivault-scan --bench scan`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "bench")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phivault_scan::{Detectors, Kind, ScanOptions, Scrubber};

/// The corpus log lines (without their labels), repeated to ~8 MB.
fn input() -> Vec<u8> {
    let lines = phivault_scan::corpus::log_text().unwrap();
    let mut out = Vec::with_capacity(9 << 20);
    while out.len() < 8 << 20 {
        out.extend_from_slice(&lines);
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = input();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);

    let builtin = Detectors::new();
    g.bench_function("detect_builtin", |b| {
        let mut found = Vec::new();
        b.iter(|| {
            let mut n = 0usize;
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', &data) {
                builtin.detect(&data[start..nl], &mut found);
                n += found.len();
                start = nl + 1;
            }
            black_box(n)
        });
    });

    let configured = Detectors::new()
        .with_pattern(Kind::Mrn, r"\bMRN-?\d{7}\b")
        .unwrap()
        .with_pattern(Kind::Account, r"\bACCT-\d{8}\b")
        .unwrap();
    let opts = ScanOptions {
        detectors: std::sync::Arc::new(configured),
        ..ScanOptions::default()
    };
    g.bench_function("scan_reader_with_patterns", |b| {
        b.iter(|| {
            let mut sink = std::io::sink();
            let s = phivault_scan::scan_reader("bench", &data[..], &opts, &mut sink).unwrap();
            black_box(s.findings)
        });
    });

    let scrubber = Scrubber::new(std::sync::Arc::new(Detectors::new()));
    let text = std::str::from_utf8(&data).unwrap();
    g.bench_function("scrub", |b| {
        b.iter(|| black_box(scrubber.scrub(text).len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
