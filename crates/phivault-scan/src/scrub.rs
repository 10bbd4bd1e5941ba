//! Scrubbing: every detection replaced by `[REDACTED:<kind>]`, for log
//! output (a tracing writer layer in the server) and for free text in
//! de-identified exports.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::detect::{Detectors, Finding};

/// Replaces detections and counts them.
#[derive(Debug)]
pub struct Scrubber {
    detectors: Arc<Detectors>,
    redactions: AtomicU64,
}

impl Scrubber {
    /// A scrubber over `detectors`.
    pub fn new(detectors: Arc<Detectors>) -> Self {
        Scrubber {
            detectors,
            redactions: AtomicU64::new(0),
        }
    }

    /// Total redactions made by this scrubber (all threads, all writers).
    pub fn redactions(&self) -> u64 {
        self.redactions.load(Ordering::Relaxed)
    }

    /// `text` with every detection replaced; borrowed when nothing was found.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut findings = Vec::new();
        let mut out: Option<Vec<u8>> = None;
        let bytes = text.as_bytes();
        let mut start = 0;
        while start <= bytes.len() {
            let end = memchr::memchr(b'\n', bytes.get(start..).unwrap_or_default())
                .map_or(bytes.len(), |p| start + p);
            let line = bytes.get(start..end).unwrap_or_default();
            self.detectors.detect(line, &mut findings);
            if !findings.is_empty() && out.is_none() {
                out = Some(bytes.get(..start).unwrap_or_default().to_vec());
            }
            if let Some(o) = out.as_mut() {
                self.replace(line, &findings, o);
                if end < bytes.len() {
                    o.push(b'\n');
                }
            }
            start = end + 1;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(o) => match String::from_utf8(o) {
                Ok(s) => Cow::Owned(s),
                Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            },
        }
    }

    /// Scrubs one line of bytes (no terminator) into `out`; returns the
    /// number of redactions.
    pub fn scrub_line_into(&self, line: &[u8], out: &mut Vec<u8>) -> usize {
        let mut findings = Vec::new();
        self.detectors.detect(line, &mut findings);
        self.replace(line, &findings, out)
    }

    fn replace(&self, line: &[u8], findings: &[Finding], out: &mut Vec<u8>) -> usize {
        let mut pos = 0;
        for f in findings {
            out.extend_from_slice(line.get(pos..f.start).unwrap_or_default());
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(f.kind.as_str().as_bytes());
            out.push(b']');
            pos = f.end;
        }
        out.extend_from_slice(line.get(pos..).unwrap_or_default());
        self.redactions
            .fetch_add(findings.len() as u64, Ordering::Relaxed);
        findings.len()
    }
}

/// Longest partial line held before part of it is scrubbed and forwarded.
const MAX_PENDING: usize = 64 * 1024;
/// When a long line is forwarded in pieces, at least this many trailing
/// bytes stay buffered, so that a value near the cut is scanned whole with
/// the rest of the line.
const KEEP: usize = 4 * 1024;
/// Bytes of already-forwarded text of the same line kept as look-behind
/// context for the next piece (keywords such as `ssn:` before a bare
/// number, a state before a ZIP code).
const CONTEXT: usize = 64;

/// An [`std::io::Write`] that buffers by line, scrubs each line and forwards
/// it to `W`.
///
/// A line longer than 64 KiB is forwarded in pieces without splitting a
/// value: the cut is placed at whitespace at least 4 KiB before the end of
/// what is buffered, moved back to the start of any detection that spans
/// it, and the next piece is scanned with the last 64 forwarded bytes as
/// context. (A single token longer than 32 KiB is forwarded as it stands.)
/// A partial line is also forwarded, scrubbed, on `flush` and on drop; a
/// value split by an explicit flush can escape detection, so writers should
/// emit whole lines (tracing does).
pub struct ScrubbingWriter<W: Write> {
    inner: W,
    scrubber: Arc<Scrubber>,
    pending: Vec<u8>,
    out: Vec<u8>,
    /// The tail of what was already forwarded of the current line.
    context: Vec<u8>,
    scan: Vec<u8>,
    findings: Vec<Finding>,
}

impl<W: Write> std::fmt::Debug for ScrubbingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrubbingWriter")
            .field("pending_bytes", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> ScrubbingWriter<W> {
    /// Wraps `inner`; redactions are counted on `scrubber`.
    pub fn new(inner: W, scrubber: Arc<Scrubber>) -> Self {
        ScrubbingWriter {
            inner,
            scrubber,
            pending: Vec::new(),
            out: Vec::new(),
            context: Vec::new(),
            scan: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// The shared scrubber (for its redaction count).
    pub fn scrubber(&self) -> &Arc<Scrubber> {
        &self.scrubber
    }

    /// Detects over `context + pending[..upto]`; findings are shifted to
    /// offsets in `pending` (clipped at 0 when one starts in the context).
    fn detect_pending(&mut self, upto: usize) {
        if self.context.is_empty() {
            // The common case (short lines): no copy.
            let piece = self.pending.get(..upto).unwrap_or_default();
            self.scrubber.detectors.detect(piece, &mut self.findings);
            return;
        }
        self.scan.clear();
        self.scan.extend_from_slice(&self.context);
        self.scan
            .extend_from_slice(self.pending.get(..upto).unwrap_or_default());
        self.scrubber
            .detectors
            .detect(&self.scan, &mut self.findings);
        let shift = self.context.len();
        self.findings.retain_mut(|f| {
            if f.end <= shift {
                return false;
            }
            f.start = f.start.saturating_sub(shift);
            f.end -= shift;
            true
        });
    }

    /// Scrubs and writes `pending[..upto]` (plus a newline), drops it from
    /// `pending`. Findings must be those of `detect_pending`, each ending
    /// at or before `upto`.
    fn emit(&mut self, upto: usize, newline: bool) -> std::io::Result<()> {
        self.out.clear();
        let piece = self.pending.get(..upto).unwrap_or_default();
        self.scrubber.replace(piece, &self.findings, &mut self.out);
        if newline {
            self.out.push(b'\n');
        }
        self.inner.write_all(&self.out)?;
        if newline {
            self.context.clear();
        } else {
            // Keep the last CONTEXT forwarded bytes (raw: detection needs
            // the original keyword; they never leave this buffer).
            self.context.extend_from_slice(piece);
            let excess = self.context.len().saturating_sub(CONTEXT);
            self.context.drain(..excess);
        }
        let drop_to = if newline { upto + 1 } else { upto };
        self.pending.drain(..drop_to.min(self.pending.len()));
        Ok(())
    }

    fn forward(&mut self, upto: usize, newline: bool) -> std::io::Result<()> {
        self.detect_pending(upto);
        self.emit(upto, newline)
    }

    /// Forwards the head of an over-long partial line, cut where no value
    /// can be split.
    fn forward_long(&mut self) -> std::io::Result<()> {
        let len = self.pending.len();
        self.detect_pending(len);
        let target = len.saturating_sub(KEEP);
        let window = self.pending.get(..target).unwrap_or_default();
        let mut cut = window
            .iter()
            .rposition(|b| b.is_ascii_whitespace())
            .map_or(target, |p| p + 1);
        if let Some(f) = self.findings.iter().find(|f| f.start < cut && f.end > cut) {
            cut = f.start;
        }
        if cut < MAX_PENDING / 2 {
            // One huge token: nothing better than forwarding it all.
            cut = len;
        }
        self.findings.retain(|f| f.end <= cut);
        self.emit(cut, false)
    }

    fn drain_lines(&mut self, from: usize) -> std::io::Result<()> {
        let mut search = from;
        while let Some(p) = memchr::memchr(b'\n', self.pending.get(search..).unwrap_or_default()) {
            let nl = search + p;
            self.forward(nl, true)?;
            search = 0;
        }
        while self.pending.len() > MAX_PENDING {
            self.forward_long()?;
        }
        Ok(())
    }
}

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let from = self.pending.len();
        self.pending.extend_from_slice(buf);
        self.drain_lines(from)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.forward(self.pending.len(), false)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for ScrubbingWriter<W> {
    fn drop(&mut self) {
        // Best effort: an error here has nowhere to go.
        let _ = self.flush();
    }
}
