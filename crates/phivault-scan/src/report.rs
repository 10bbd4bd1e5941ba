//! Report output: text lines, JSON for CI, and the summary.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::baseline::BaselineEntry;
use crate::kind::Kind;

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// `path:line:column kind masked`, one finding a line, then a summary.
    #[default]
    Text,
    /// One JSON document `{"findings": [...], "summary": {...}}`.
    Json,
}

/// One reported finding; the value appears only masked.
#[derive(Clone, Debug, Serialize)]
pub struct ReportedFinding {
    /// The path as given (or `-` for stdin).
    pub path: String,
    /// 1-based line number.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: usize,
    /// The kind name.
    pub kind: &'static str,
    /// The masked value (`***-**-6789`).
    pub masked: String,
}

/// An input that could not be read: its path and the kind of I/O error
/// (never any of its content).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct InputError {
    /// The path as given or found while walking a directory.
    pub path: String,
    /// The I/O error kind (`permission denied`, `not found`, ...).
    pub error: String,
}

/// Totals over one scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanSummary {
    /// Inputs scanned (files, gzip members counted once, stdin).
    pub files: u64,
    /// Bytes scanned (after decompression).
    pub bytes: u64,
    /// Lines scanned.
    pub lines: u64,
    /// Findings reported (not suppressed by the baseline).
    pub findings: u64,
    /// Findings suppressed by the baseline.
    pub suppressed: u64,
    /// Reported findings per kind.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Inputs skipped as binary (a NUL byte in the first 8 KiB, after
    /// gzip decompression).
    pub skipped: u64,
    /// Inputs that could not be opened or read completely (the scan went
    /// on with the next input). Findings made before a read error are kept.
    pub errors: Vec<InputError>,
    /// Baseline entries for every reported finding, when requested with
    /// [`crate::ScanOptions::collect_baseline`]; write them with
    /// [`crate::Baseline::write`].
    #[serde(skip)]
    pub baseline_entries: Vec<BaselineEntry>,
}

impl ScanSummary {
    /// Process exit code for the CLI: 1 when anything was found (even if
    /// some inputs could not be read: PHI in the logs must fail the check
    /// either way), else 2 ([`crate::ScanError::EXIT_CODE`]) when an input
    /// could not be read (the scan is incomplete, so "clean" cannot be
    /// claimed), else 0. Binary inputs skipped do not change the code.
    pub fn exit_code(&self) -> i32 {
        if self.findings > 0 {
            1
        } else if !self.errors.is_empty() {
            crate::ScanError::EXIT_CODE
        } else {
            0
        }
    }

    /// Adds `n` reported findings of `kind`.
    pub(crate) fn count(&mut self, kind: Kind, n: u64) {
        self.findings += n;
        *self.by_kind.entry(kind.as_str()).or_insert(0) += n;
    }

    /// Adds another summary's totals (for parallel scans).
    pub fn merge(&mut self, other: ScanSummary) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.findings += other.findings;
        self.suppressed += other.suppressed;
        self.skipped += other.skipped;
        self.errors.extend(other.errors);
        for (k, v) in other.by_kind {
            *self.by_kind.entry(k).or_insert(0) += v;
        }
        self.baseline_entries.extend(other.baseline_entries);
    }
}

/// Writes findings as they come (text) or at the end (JSON).
pub(crate) struct Reporter<'a> {
    out: &'a mut dyn Write,
    format: Format,
    pending: Vec<ReportedFinding>,
}

impl std::fmt::Debug for Reporter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, format: Format) -> Self {
        Reporter {
            out,
            format,
            pending: Vec::new(),
        }
    }

    pub(crate) fn finding(&mut self, f: ReportedFinding) -> std::io::Result<()> {
        match self.format {
            Format::Text => writeln!(
                self.out,
                "{}:{}:{} {} {}",
                f.path, f.line, f.column, f.kind, f.masked
            ),
            Format::Json => {
                self.pending.push(f);
                Ok(())
            }
        }
    }

    /// Text format: one line per unreadable or skipped input, as it
    /// happens (JSON has them in the summary).
    pub(crate) fn note(&mut self, path: &str, what: &str) -> std::io::Result<()> {
        match self.format {
            Format::Text => writeln!(self.out, "{path}: {what}"),
            Format::Json => Ok(()),
        }
    }

    pub(crate) fn finish(self, summary: &ScanSummary) -> std::io::Result<()> {
        match self.format {
            Format::Text => {
                let kinds: Vec<String> = summary
                    .by_kind
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                writeln!(
                    self.out,
                    "scanned {} input(s), {} line(s), {} byte(s): {} finding(s){}{}{}{}",
                    summary.files,
                    summary.lines,
                    summary.bytes,
                    summary.findings,
                    if kinds.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", kinds.join(", "))
                    },
                    if summary.suppressed > 0 {
                        format!(", {} suppressed by baseline", summary.suppressed)
                    } else {
                        String::new()
                    },
                    if summary.skipped > 0 {
                        format!(", {} binary input(s) skipped", summary.skipped)
                    } else {
                        String::new()
                    },
                    if summary.errors.is_empty() {
                        String::new()
                    } else {
                        format!(", {} input(s) unreadable", summary.errors.len())
                    }
                )?;
            }
            Format::Json => {
                #[derive(Serialize)]
                struct Doc<'s> {
                    findings: &'s [ReportedFinding],
                    summary: &'s ScanSummary,
                }
                let doc = Doc {
                    findings: &self.pending,
                    summary,
                };
                serde_json::to_writer(&mut *self.out, &doc).map_err(std::io::Error::other)?;
                writeln!(self.out)?;
            }
        }
        self.out.flush()
    }
}
