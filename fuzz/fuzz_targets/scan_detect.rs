//! The PHI detector over one line (`phivault_scan::Detectors::detect`) and
//! the report masks (`phivault_scan::mask`): log lines are arbitrary bytes.
//!
//! Asserts, for the built-in detectors and for detectors with two
//! configured (anchor-free) patterns:
//! - findings are non-empty spans inside the line, sorted by start and
//!   non-overlapping (the documented contract of `detect`);
//! - detection is deterministic (a reused output vector gives the same);
//! - masks show at most the last four digits of an SSN, phone or card
//!   number, no letter or digit of a date, and nothing of a known value;
//! - `column` is at least 1 and at most the byte offset plus 1.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phivault_scan::mask::{column, mask};
use phivault_scan::{Detectors, Finding, Kind};

fn detectors() -> &'static [Detectors; 2] {
    static D: OnceLock<[Detectors; 2]> = OnceLock::new();
    D.get_or_init(|| {
        let with_patterns = Detectors::new()
            .with_pattern(Kind::Mrn, r"\bMRN-?\d{6,8}\b")
            .and_then(|d| d.with_pattern(Kind::Account, r"\bACCT[0-9A-F]{8}\b"))
            .expect("valid patterns");
        [Detectors::new(), with_patterns]
    })
}

fn check(d: &Detectors, line: &[u8]) {
    let mut found: Vec<Finding> = Vec::new();
    d.detect(line, &mut found);
    let mut last_end = 0;
    for f in &found {
        assert!(f.start < f.end, "empty finding {f:?}");
        assert!(f.end <= line.len(), "finding past the line {f:?}");
        assert!(f.start >= last_end, "overlapping or unsorted {found:?}");
        last_end = f.end;
        let value = &line[f.start..f.end];
        let m = mask(f.kind, value);
        let digits = m.bytes().filter(u8::is_ascii_digit).count();
        match f.kind {
            Kind::Ssn | Kind::Phone | Kind::Card => assert!(digits <= 4, "{:?} mask", f.kind),
            Kind::Date => assert!(!m.chars().any(|c| c.is_ascii_alphanumeric())),
            Kind::Known => assert_eq!(m, "[known value]"),
            _ => {}
        }
        let col = column(line, f.start);
        assert!(col >= 1 && col <= f.start + 1);
    }
    let mut again = vec![Finding {
        kind: Kind::Ssn,
        start: 0,
        end: 1,
    }];
    d.detect(line, &mut again);
    assert_eq!(again, found);
}

fuzz_target!(|data: &[u8]| {
    for d in detectors() {
        // The detector is given lines without their terminator.
        for line in data.split(|b| *b == b'\n') {
            check(d, line);
        }
    }
});
