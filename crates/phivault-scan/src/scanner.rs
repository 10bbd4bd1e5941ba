//! The scan engine: runs the detectors over lines, applies the baseline and
//! feeds the reporter. No I/O of its own (see [`crate::input`]).

use std::sync::Arc;

use crate::baseline::{Baseline, BaselineEntry};
use crate::detect::{BlockHits, Detectors, Finding};
use crate::mask::column;
use crate::report::{Format, Reporter, ScanSummary};

/// What to detect and how to report.
#[derive(Debug, Default)]
pub struct ScanOptions {
    /// The detectors (kinds, configured patterns, known values).
    pub detectors: Arc<Detectors>,
    /// Output format.
    pub format: Format,
    /// Accepted findings to suppress.
    pub baseline: Option<Baseline>,
    /// Collect a [`BaselineEntry`] for every reported finding into the
    /// summary (requires `baseline`, whose key is used).
    pub collect_baseline: bool,
}

/// Per-scan state reused across lines so the hot path does not allocate.
pub(crate) struct Engine<'a> {
    opts: &'a ScanOptions,
    findings: Vec<Finding>,
    /// The configured patterns' matches in the current block.
    hits: BlockHits,
    redacted: String,
    ordinals: Vec<(crate::Kind, usize)>,
    /// Findings per kind (index `Kind as usize`) not yet added to
    /// `summary.by_kind` (a map, too slow to update per finding).
    per_kind: [u64; crate::Kind::ALL.len()],
    pub(crate) reporter: Reporter<'a>,
    pub(crate) summary: ScanSummary,
    /// The input read buffer, reused from one input to the next.
    pub(crate) buf: Vec<u8>,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl<'a> Engine<'a> {
    pub(crate) fn new(opts: &'a ScanOptions, out: &'a mut dyn std::io::Write) -> Self {
        Engine {
            opts,
            findings: Vec::with_capacity(16),
            hits: BlockHits::default(),
            redacted: String::new(),
            ordinals: Vec::new(),
            per_kind: [0; crate::Kind::ALL.len()],
            reporter: Reporter::new(out, opts.format),
            summary: ScanSummary::default(),
            buf: Vec::new(),
        }
    }

    /// Scans `data`, which holds whole lines; `first_line` is the 1-based
    /// number of its first line. Returns the number of lines.
    pub(crate) fn scan_lines(
        &mut self,
        path: &str,
        data: &[u8],
        first_line: u64,
    ) -> std::io::Result<u64> {
        let mut lineno = first_line;
        let mut start = 0;
        let n = data.len();
        let detectors = &*self.opts.detectors;
        detectors.find_block_patterns(data, &mut self.hits);
        while start < n {
            let end = memchr::memchr(b'\n', data.get(start..).unwrap_or_default())
                .map_or(n, |p| start + p);
            let mut line = data.get(start..end).unwrap_or_default();
            if line.last() == Some(&b'\r') {
                line = line.get(..line.len() - 1).unwrap_or_default();
            }
            detectors.detect_in_block(line, start, &mut self.hits, &mut self.findings);
            if !self.findings.is_empty() {
                self.report_line(path, lineno, line)?;
            }
            lineno += 1;
            start = end + 1;
        }
        for (kind, n) in crate::Kind::ALL.iter().zip(self.per_kind.iter_mut()) {
            if *n > 0 {
                self.summary.count(*kind, *n);
                *n = 0;
            }
        }
        let lines = lineno - first_line;
        self.summary.lines += lines;
        self.summary.bytes += n as u64;
        self.reporter.flush_text()?;
        Ok(lines)
    }

    fn report_line(&mut self, path: &str, lineno: u64, line: &[u8]) -> std::io::Result<()> {
        let baseline = self.opts.baseline.as_ref();
        if baseline.is_some() {
            redact_into(line, &self.findings, &mut self.redacted);
            self.ordinals.clear();
        }
        let findings = std::mem::take(&mut self.findings);
        // Columns count characters: up to the last finding, an ASCII line
        // has one per byte (the common case). An OR over the bytes, which
        // the compiler vectorizes (no early exit).
        let ascii = findings
            .last()
            .and_then(|f| line.get(..f.start))
            .is_some_and(|p| p.iter().fold(0u8, |a, &b| a | b) < 0x80);
        for f in &findings {
            let mut entry = None;
            if let Some(b) = baseline {
                let ord = match self.ordinals.iter_mut().find(|(k, _)| *k == f.kind) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        self.ordinals.push((f.kind, 0));
                        0
                    }
                };
                let fp = b.fingerprint(f.kind, path, &self.redacted, ord);
                if b.contains(&fp) {
                    self.summary.suppressed += 1;
                    continue;
                }
                entry = Some(fp);
            }
            if let Some(n) = self.per_kind.get_mut(f.kind as usize) {
                *n += 1;
            }
            if let (true, Some(fp)) = (self.opts.collect_baseline, entry) {
                self.summary.baseline_entries.push(BaselineEntry {
                    fingerprint: fp,
                    kind: f.kind.as_str().to_owned(),
                    path: path.to_owned(),
                    line: lineno,
                });
            }
            let value = line.get(f.start..f.end).unwrap_or_default();
            // Columns count characters: in an ASCII line, bytes.
            let col = if ascii && f.start <= line.len() {
                f.start + 1
            } else {
                column(line, f.start)
            };
            self.reporter.finding(path, lineno, col, f.kind, value)?;
        }
        self.findings = findings;
        Ok(())
    }
}

/// `line` with every finding replaced by `[REDACTED:<kind>]`, into `out`.
pub(crate) fn redact_into(line: &[u8], findings: &[Finding], out: &mut String) {
    out.clear();
    let mut pos = 0;
    for f in findings {
        out.push_str(&String::from_utf8_lossy(
            line.get(pos..f.start).unwrap_or_default(),
        ));
        out.push_str("[REDACTED:");
        out.push_str(f.kind.as_str());
        out.push(']');
        pos = f.end;
    }
    out.push_str(&String::from_utf8_lossy(
        line.get(pos..).unwrap_or_default(),
    ));
}
