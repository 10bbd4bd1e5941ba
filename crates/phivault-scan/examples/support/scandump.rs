//! `cg scandump`: the full `scan_reader` output (text and JSON reports,
//! baseline entries) over the corpus lines and mutated variants, with
//! `\n`, `\r\n` and stray `\r` line ends, a multi-megabyte line, short
//! reads, and configured patterns that use anchors, match newlines or
//! match the empty string. Diff it before and after an engine change.

use std::io::{Read, Write};
use std::sync::Arc;

use phivault_scan::{Baseline, Detectors, Format, Kind, KindSet, ScanOptions, scan_reader};

/// Patterns whose meaning depends on line boundaries or line ends.
const TRICKY: &[&str] = &[
    r"\bMRN-?\d{7}\b",
    r"^\w+",
    r"\d{4}$",
    r"(?m)^ERROR",
    r"(?m)\d$",
    r"\s+MRN",
    r".\d{7}",
    r"[^a]ACCT",
    r"(?s)MRN.{3}",
    r"(?i)acct-\d+",
    r"x*",
    r"\b",
    r"(?:MRN|ACCT)-?\d+\b",
    r"[ -~]{2}MRN",
    r"\d{3}\r?$",
    r"(?R)\d$",
    r"(?R)^[a-z]+",
    r"\Aa",
    r"z\z",
    r"\b{start}\d{5}\b{end}",
    r"(?-u:\xff)",
    r"\Bx\B",
    r"(?x) ACCT - \d{8}",
    r"\x41CCT",
    r"\p{Lu}{4}-",
    r"[\d&&[^0]]{6}",
];

const TOKENS: &[&[u8]] = &[
    b"MRN-1234567",
    b"MRN1234567",
    b"ACCT-12345678",
    b"MRN-12345678",
    b"xACCT-12345678",
    b"ACCT-1234567",
    b" MRN-7654321 ",
    b"\r",
    b"ERROR ",
];

const ENDS: &[&[u8]] = &[b"\n", b"\n", b"\n", b"\n", b"\r\n", b"\r\r\n", b"\n\n"];

/// Deterministic pseudo-random numbers below `n`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn input(data: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    const POKE: &[u8] = b"0123456789::((++  --..//@@AZMDQxhfswae\t\x00\xc3\r";
    // The corpus first and unchanged: no NUL in the first 8 KiB.
    let mut out = data.to_vec();
    let mut line = Vec::new();
    for round in 0..8 {
        for l in &lines {
            line.clear();
            line.extend_from_slice(l);
            if round % 2 == 1 {
                let at = rng.below(line.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                line.splice(at..at, t.iter().copied());
            }
            if round >= 2 {
                for _ in 0..rng.below(3) {
                    if !line.is_empty() {
                        let at = rng.below(line.len());
                        line[at] = POKE[rng.below(POKE.len())];
                    }
                }
            }
            out.extend_from_slice(&line);
            out.extend_from_slice(ENDS[rng.below(ENDS.len())]);
        }
        if round == 4 {
            // One line longer than the reader's first buffer.
            for i in 0..40_000 {
                out.extend_from_slice(lines[i % lines.len()]);
                out.push(b' ');
            }
            out.push(b'\n');
        }
    }
    // No final line end, and a trailing `\r`.
    out.extend_from_slice(b"tail MRN-1234567 555-12-3456\r");
    out
}

/// A reader that returns at most a few hundred bytes per call.
struct Short<'a>(&'a [u8], Rng);

impl Read for Short<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (1 + self.1.below(700)).min(buf.len()).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        buf[..n].copy_from_slice(head);
        self.0 = rest;
        Ok(n)
    }
}

fn report(out: &mut impl Write, title: &str, text: &[u8]) {
    writeln!(out, "== {title} ({} bytes)", text.len()).unwrap();
    out.write_all(text).unwrap();
}

fn scan(opts: &ScanOptions, data: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    scan_reader("dump", data, opts, &mut text).unwrap();
    text
}

pub fn run(data: &[u8], bench: &ScanOptions) {
    let input = input(data);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    report(&mut out, "bench text", &scan(bench, &input));
    let short = {
        let mut text = Vec::new();
        scan_reader("dump", Short(&input, Rng(7)), bench, &mut text).unwrap();
        text
    };
    report(&mut out, "bench text, short reads", &short);
    let json = ScanOptions {
        detectors: bench.detectors.clone(),
        format: Format::Json,
        ..ScanOptions::default()
    };
    report(&mut out, "bench json", &scan(&json, &input));
    let base = ScanOptions {
        detectors: bench.detectors.clone(),
        baseline: Some(Baseline::generate().unwrap()),
        collect_baseline: true,
        ..ScanOptions::default()
    };
    let mut text = Vec::new();
    let s = scan_reader("dump", &input[..], &base, &mut text).unwrap();
    report(&mut out, "baseline text", &text);
    for e in &s.baseline_entries {
        writeln!(out, "entry {} {} {}", e.kind, e.path, e.line).unwrap();
    }
    for (i, p) in TRICKY.iter().enumerate() {
        let only = Detectors::new()
            .with_kinds(KindSet::none().with(Kind::Mrn))
            .with_pattern(Kind::Mrn, p)
            .unwrap();
        let opts = ScanOptions {
            detectors: Arc::new(only),
            ..ScanOptions::default()
        };
        report(&mut out, &format!("pattern {i} {p}"), &scan(&opts, &input));
        // The same with the built-in detectors and a second pattern.
        let mixed = Detectors::new()
            .with_pattern(Kind::Mrn, p)
            .unwrap()
            .with_pattern(Kind::Account, r"\bACCT-\d{8}\b")
            .unwrap();
        let opts = ScanOptions {
            detectors: Arc::new(mixed),
            ..ScanOptions::default()
        };
        report(&mut out, &format!("mixed {i} {p}"), &scan(&opts, &input));
    }
}
