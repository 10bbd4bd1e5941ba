//! Deterministic instruction-count harness for the detectors:
//! `valgrind --tool=cachegrind target/release/examples/cg <mode> <iters>`.
//! Run with iters 0 and 2; the difference divided by 2 × bytes is the cost
//! per input byte (the setup cost cancels out). Modes: `detect` (built-in
//! detectors, as the `detect_builtin` bench), `scrub`, `scan` (with two
//! configured patterns and report formatting, as `scan_reader_with_patterns`),
//! `scanwarm` (the same after one unmeasured scan, so the regex engine's
//! lazily built caches are warm, as in criterion's repeated iterations).
//! Output checks: `dump` (built-in findings per line) and `scandump` (whole
//! reports of `scan_reader` over mutated lines with mixed line ends, with
//! the bench patterns and with anchored or line-crossing ones).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "measurement harness"
)]

use std::hint::black_box;

use phivault_scan::{Detectors, Kind, ScanOptions, Scrubber};

#[path = "support/scandump.rs"]
mod scandump;

fn input() -> Vec<u8> {
    phivault_scan::corpus::log_text().unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "detect".into());
    let iters: usize = args.next().map_or(1, |s| s.parse().unwrap());
    let data = input();
    let builtin = Detectors::new();
    let scrubber = Scrubber::new(std::sync::Arc::new(Detectors::new()));
    let configured = Detectors::new()
        .with_pattern(Kind::Mrn, r"\bMRN-?\d{7}\b")
        .unwrap()
        .with_pattern(Kind::Account, r"\bACCT-\d{8}\b")
        .unwrap();
    let configured = if mode == "scanknown" {
        // As `phivault bench --only-scan`: 1,000 values none of which occurs.
        let values = phivault_scan::corpus::absent_known_values(1_000);
        let kv = phivault_scan::KnownValues::from_values(values.iter().map(String::as_str));
        configured.with_known(std::sync::Arc::new(kv.unwrap()))
    } else {
        configured
    };
    let opts = ScanOptions {
        detectors: std::sync::Arc::new(configured),
        ..ScanOptions::default()
    };
    if mode == "dump" {
        dump(&builtin, &data);
        return;
    }
    if mode == "scandump" {
        scandump::run(&data, &opts);
        return;
    }
    if mode == "knowndump" {
        known_dump(&data);
        return;
    }
    // Warm the lazily built word lists outside the measured iterations.
    let mut found = Vec::new();
    builtin.detect(b"Maria Garcia", &mut found);
    if mode == "scanwarm" || mode == "scanknown" {
        let mut sink = std::io::sink();
        phivault_scan::scan_reader("bench", &data[..], &opts, &mut sink).unwrap();
    }
    let text = std::str::from_utf8(&data).unwrap();
    let mut n = 0usize;
    for _ in 0..iters {
        match mode.as_str() {
            "scrub" => n += scrubber.scrub(text).len(),
            "scan" | "scanwarm" | "scanknown" => {
                let mut sink = std::io::sink();
                let s = phivault_scan::scan_reader("bench", &data[..], &opts, &mut sink).unwrap();
                n += s.findings as usize;
            }
            _ => {
                let mut start = 0;
                for nl in memchr::memchr_iter(b'\n', &data) {
                    builtin.detect(&data[start..nl], &mut found);
                    n += found.len();
                    start = nl + 1;
                }
            }
        }
    }
    println!(
        "{mode} iters={iters} bytes={} n={}",
        data.len(),
        black_box(n)
    );
}

/// Known-value findings on the corpus and its mutations, with every
/// labelled identifier of the corpus (and its first token) as a known value.
fn known_dump(data: &[u8]) {
    let lines = phivault_scan::corpus::lines().unwrap();
    let mut values = Vec::new();
    for l in &lines {
        for lb in &l.labels {
            let v = &l.line[lb.start..lb.end];
            values.push(v.to_owned());
            if let Some((first, _)) = v.split_once(' ') {
                values.push(first.to_owned());
            }
        }
    }
    let kv = phivault_scan::KnownValues::from_values(values.iter().map(String::as_str)).unwrap();
    let d = Detectors::new()
        .with_kinds(phivault_scan::KindSet::none().with(Kind::Known))
        .with_known(std::sync::Arc::new(kv));
    dump(&d, data);
}

/// Corpus lines plus spliced and byte-mutated variants (deterministic).
fn dump(d: &Detectors, data: &[u8]) {
    use std::io::Write;
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    const POKE: &[u8] = b"0123456789::((++  --..//@@AZMDQxhfswae\t\x00\xc3";
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut found = Vec::new();
    let mut buf = Vec::new();
    for round in 0..12 {
        for (i, l) in lines.iter().enumerate() {
            buf.clear();
            if round == 0 {
                buf.extend_from_slice(l);
            } else if round % 3 == 1 {
                let o = lines[next(lines.len())];
                buf.extend_from_slice(&l[next(l.len() + 1)..]);
                buf.extend_from_slice(&o[..next(o.len() + 1)]);
            } else {
                buf.extend_from_slice(l);
                for _ in 0..1 + next(4) {
                    if !buf.is_empty() {
                        let at = next(buf.len());
                        buf[at] = POKE[next(POKE.len())];
                    }
                }
            }
            d.detect(&buf, &mut found);
            for f in &found {
                writeln!(out, "{round} {i} {} {} {}", f.kind, f.start, f.end).unwrap();
            }
        }
    }
}
