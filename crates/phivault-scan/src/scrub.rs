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

/// Longest partial line held before it is scrubbed and forwarded anyway.
const MAX_PENDING: usize = 64 * 1024;

/// An [`std::io::Write`] that buffers by line, scrubs each line and forwards
/// it to `W`. A partial line is forwarded (scrubbed) on `flush`, on drop, or
/// once it exceeds 64 KiB; a value split across such a cut can escape
/// detection, so writers should emit whole lines (tracing does).
pub struct ScrubbingWriter<W: Write> {
    inner: W,
    scrubber: Arc<Scrubber>,
    pending: Vec<u8>,
    out: Vec<u8>,
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
        }
    }

    /// The shared scrubber (for its redaction count).
    pub fn scrubber(&self) -> &Arc<Scrubber> {
        &self.scrubber
    }

    fn forward(&mut self, upto: usize, newline: bool) -> std::io::Result<()> {
        self.out.clear();
        let line = self.pending.get(..upto).unwrap_or_default();
        self.scrubber.scrub_line_into(line, &mut self.out);
        if newline {
            self.out.push(b'\n');
        }
        self.inner.write_all(&self.out)?;
        let drop_to = if newline { upto + 1 } else { upto };
        self.pending.drain(..drop_to.min(self.pending.len()));
        Ok(())
    }

    fn drain_lines(&mut self, from: usize) -> std::io::Result<()> {
        let mut search = from;
        while let Some(p) = memchr::memchr(b'\n', self.pending.get(search..).unwrap_or_default()) {
            let nl = search + p;
            self.forward(nl, true)?;
            search = 0;
        }
        if self.pending.len() > MAX_PENDING {
            self.forward(self.pending.len(), false)?;
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
