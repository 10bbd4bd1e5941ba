//! The log scanner (`phivault_scan::scan_reader`): reads files, stdin or
//! gzip streams of arbitrary bytes in blocks of lines.
//!
//! Asserts, in text and JSON report formats, with two configured
//! anchor-free patterns (so the block-at-a-time pattern search is used):
//! - a plain (non-gzip) input never fails; a gzip one may (corrupt stream);
//! - an input with a NUL in its first 8 KiB is skipped as binary;
//! - otherwise the scanner reports exactly the findings that `detect` finds
//!   line by line (lines split at `\n`, a trailing `\r` dropped), counts
//!   every line and byte, and its per-kind counts add up.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use phivault_scan::{Detectors, Finding, Format, Kind, ScanOptions, scan_reader};

fn detectors() -> &'static Arc<Detectors> {
    static D: OnceLock<Arc<Detectors>> = OnceLock::new();
    D.get_or_init(|| {
        Arc::new(
            Detectors::new()
                .with_pattern(Kind::Mrn, r"\bMRN-?\d{6,8}\b")
                .and_then(|d| d.with_pattern(Kind::Device, r"SN[0-9]{4}(-[0-9]{2})?"))
                .expect("valid patterns"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let d = detectors();
    let gz = data.starts_with(&[0x1f, 0x8b]);
    for format in [Format::Text, Format::Json] {
        let opts = ScanOptions {
            detectors: Arc::clone(d),
            format,
            ..ScanOptions::default()
        };
        let mut report = Vec::new();
        let res = scan_reader("fuzz.log", data, &opts, &mut report);
        if gz {
            continue;
        }
        let summary = res.expect("a plain input scans");
        if data.iter().take(8 << 10).any(|b| *b == 0) {
            assert_eq!((summary.skipped, summary.findings), (1, 0));
            continue;
        }
        let mut expected = 0u64;
        let mut lines = 0u64;
        let mut found: Vec<Finding> = Vec::new();
        if !data.is_empty() {
            let body = data.strip_suffix(b"\n").unwrap_or(data);
            for line in body.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                d.detect(line, &mut found);
                expected += found.len() as u64;
                lines += 1;
            }
        }
        assert_eq!(summary.findings, expected, "scanner and detect disagree");
        assert_eq!(summary.lines, lines);
        assert_eq!(summary.bytes, data.len() as u64);
        assert_eq!(summary.by_kind.values().sum::<u64>(), summary.findings);
    }
});
