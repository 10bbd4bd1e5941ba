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
    /// Baseline entries for every reported finding, when requested with
    /// [`crate::ScanOptions::collect_baseline`]; write them with
    /// [`crate::Baseline::write`].
    #[serde(skip)]
    pub baseline_entries: Vec<BaselineEntry>,
}

impl ScanSummary {
    /// Process exit code for the CLI: 0 when clean, 1 when anything was
    /// found. (Errors are the CLI's to map, conventionally to 2.)
    pub fn exit_code(&self) -> i32 {
        i32::from(self.findings > 0)
    }

    pub(crate) fn count(&mut self, kind: Kind) {
        self.findings += 1;
        *self.by_kind.entry(kind.as_str()).or_insert(0) += 1;
    }

    /// Adds another summary's totals (for parallel scans).
    pub fn merge(&mut self, other: ScanSummary) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.findings += other.findings;
        self.suppressed += other.suppressed;
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
                    "scanned {} input(s), {} line(s), {} byte(s): {} finding(s){}{}",
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
