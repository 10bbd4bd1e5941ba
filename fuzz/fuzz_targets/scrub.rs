//! The log scrubber (`phivault_scan::Scrubber`, `ScrubbingWriter`): the
//! server's tracing output passes through it, and it must never panic.
//!
//! Asserts:
//! - `scrub` borrows (changes nothing) exactly when no line has a finding,
//!   and keeps the number of lines;
//! - `scrub_line_into` reports as many redactions as `detect` finds;
//! - the streaming `ScrubbingWriter`, fed the input in chunks whose sizes
//!   come from the input, writes the same bytes as `scrub` (lines are
//!   shorter than its 64 KiB limit, and it is flushed only at the end);
//! - fed the input repeated past 64 KiB (one input in sixteen), the writer
//!   keeps the number of lines (it is flushed by drop).
//!
//! Not asserted: that re-scanning scrubbed text finds nothing. A
//! `[REDACTED:kind]` marker can give neighbouring text the context a
//! detector needs (a keyword, a date next to a number), so the scrubber
//! does not promise that.
#![no_main]

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use phivault_scan::{Detectors, Finding, Scrubber, ScrubbingWriter};

fn scrubber() -> &'static Arc<Scrubber> {
    static S: OnceLock<Arc<Scrubber>> = OnceLock::new();
    S.get_or_init(|| Arc::new(Scrubber::new(Arc::new(Detectors::new()))))
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let s = scrubber();
    let detectors = Detectors::new();
    let mut any = false;
    let mut findings: Vec<Finding> = Vec::new();
    for line in text.as_bytes().split(|b| *b == b'\n') {
        detectors.detect(line, &mut findings);
        any |= !findings.is_empty();
        let mut out = Vec::new();
        assert_eq!(s.scrub_line_into(line, &mut out), findings.len());
    }
    let scrubbed = s.scrub(text);
    assert_eq!(matches!(scrubbed, Cow::Borrowed(_)), !any);
    assert_eq!(
        scrubbed.bytes().filter(|b| *b == b'\n').count(),
        text.bytes().filter(|b| *b == b'\n').count()
    );

    let mut sink = Vec::new();
    {
        let mut w = ScrubbingWriter::new(&mut sink, Arc::clone(s));
        let step = usize::from(chunk).max(1);
        for piece in text.as_bytes().chunks(step) {
            std::io::Write::write_all(&mut w, piece).expect("writing to a Vec");
        }
        std::io::Write::flush(&mut w).expect("flushing a Vec");
    }
    // `scrub` returns a `String` (lossy if a span cut a character); the
    // writer passes bytes. Compare where both are the same text.
    if let Ok(w) = std::str::from_utf8(&sink) {
        assert_eq!(w, &*scrubbed);
    }

    // One input in sixteen: the text repeated past the writer's 64 KiB line
    // limit, so over-long lines are forwarded in pieces. Then only the line
    // count is asserted (a piece is scanned with 64 bytes of context, not the
    // whole line, so the output may differ from `scrub`).
    if chunk >= 0xf0 && !text.is_empty() {
        let long = text.repeat((70 << 10) / text.len() + 1);
        let mut sink = Vec::new();
        {
            let mut w = ScrubbingWriter::new(&mut sink, Arc::clone(s));
            for piece in long.as_bytes().chunks(usize::from(chunk) << 6) {
                std::io::Write::write_all(&mut w, piece).expect("writing to a Vec");
            }
        }
        assert_eq!(
            sink.iter().filter(|b| **b == b'\n').count(),
            long.bytes().filter(|b| *b == b'\n').count()
        );
    }
});
