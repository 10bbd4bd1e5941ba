//! The scanner reports exactly what `Detectors::detect` finds line by line,
//! whatever the line ends, the reads and the configured patterns (the
//! scanner searches patterns once per block of lines when that gives the
//! same matches, see `detect::patterns`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test")]

use std::io::Read;
use std::sync::Arc;

use phivault_scan::{Detectors, Format, Kind, KindSet, ScanOptions, scan_reader};

/// Patterns that anchor, match line terminators, match the empty string, or
/// are plain (searched once per block).
const PATTERNS: &[&str] = &[
    r"\bMRN-?\d{7}\b",
    r"\bACCT-\d{8}\b",
    r"^\w+",
    r"\d{3}$",
    r"(?m)^ERROR",
    r"\s+MRN",
    r".\d{7}",
    r"(?s)MRN.{3}",
    r"x*",
    r"\b{start}\d{5}",
    r"[^a]ACCT",
    r"(?R)\d$",
];

fn input() -> Vec<u8> {
    let lines: &[&[u8]] = &[
        b"2024-03-01T10:22:03Z info ssn=123-45-6789 MRN-1234567 ok",
        b"ACCT-12345678 for jane.doe@example.org\r",
        b"ERROR MRN1234567\r\r",
        b"MRN-7654321",
        b"",
        b"x MRN-12345678 xx ACCT-1234567 \xc3\xa9 MRN-2345678 12345",
        b"\r",
        b"tail 555 MRN",
        b"123\r",
        b"   MRN-1111111 phone (617) 555-0123 xxx",
    ];
    let mut data = Vec::new();
    for round in 0..40 {
        for (i, l) in lines.iter().enumerate() {
            data.extend_from_slice(l);
            data.extend_from_slice(if (round + i) % 3 == 0 { b"\r\n" } else { b"\n" });
        }
    }
    data.extend_from_slice(b"last MRN-3333333 no newline\r");
    data
}

/// `(line, column, kind)` of every finding, from `detect` on each line.
fn expected(d: &Detectors, data: &[u8]) -> Vec<(u64, u64, String)> {
    let mut want = Vec::new();
    let mut found = Vec::new();
    let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    for (i, mut l) in pieces.into_iter().enumerate() {
        if l.last() == Some(&b'\r') {
            l = &l[..l.len() - 1];
        }
        d.detect(l, &mut found);
        for f in &found {
            let col = l[..f.start].iter().filter(|&&b| b & 0xc0 != 0x80).count() + 1;
            want.push((i as u64 + 1, col as u64, f.kind.as_str().to_owned()));
        }
    }
    want
}

/// A reader that returns a few bytes at a time.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 97 + 13;
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn reported(d: Detectors, r: impl Read) -> Vec<(u64, u64, String)> {
    let opts = ScanOptions {
        detectors: Arc::new(d),
        format: Format::Json,
        ..ScanOptions::default()
    };
    let mut out = Vec::new();
    scan_reader("t.log", r, &opts, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn scan_reports_what_detect_finds_per_line() {
    let data = input();
    for p in PATTERNS {
        let sets = [
            Detectors::new()
                .with_kinds(KindSet::none().with(Kind::Mrn))
                .with_pattern(Kind::Mrn, p)
                .unwrap(),
            Detectors::new()
                .with_pattern(Kind::Mrn, p)
                .unwrap()
                .with_pattern(Kind::Account, r"\bACCT-\d{8}\b")
                .unwrap(),
        ];
        for d in sets {
            let want = expected(&d, &data);
            assert!(!want.is_empty(), "{p}");
            assert_eq!(reported(d.clone(), &data[..]), want, "{p}");
            assert_eq!(reported(d, Trickle(&data, 0)), want, "{p}, short reads");
        }
    }
}
