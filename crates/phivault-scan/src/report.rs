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

/// The serialized form of a [`ReportedFinding`], borrowed: the JSON report
/// is built from these without a `String` per finding. Same fields in the
/// same order, so the same bytes.
#[derive(Serialize)]
struct FindingRef<'f> {
    path: &'f str,
    line: u64,
    column: usize,
    kind: &'static str,
    masked: &'f str,
}

/// The text report is flushed to the writer when its buffer passes this
/// size (and after every block of lines, and before a note).
const FLUSH_AT: usize = 64 << 10;

/// Writes findings as they come (text, buffered per block of lines) or at
/// the end (JSON, serialized as they come).
pub(crate) struct Reporter<'a> {
    out: &'a mut dyn Write,
    format: Format,
    /// Text: report lines not yet written. JSON: the findings array's
    /// elements so far, comma-separated.
    buf: Vec<u8>,
    /// The masked value being formatted.
    masked: String,
    /// JSON: findings in `buf`.
    pending: usize,
}

impl std::fmt::Debug for Reporter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// `"00"` to `"99"`: decimal digits two at a time.
#[allow(clippy::indexing_slicing, reason = "const construction, i < 100")]
static PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    // Filled from the end, two digits at a time.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while n >= 100 {
        if let (Some(d), Some(p)) = (
            digits.get_mut(start - 2..start),
            PAIRS.get((n % 100) as usize),
        ) {
            d.copy_from_slice(p);
        }
        start -= 2;
        n /= 100;
    }
    if let Some(p) = PAIRS.get(n as usize) {
        if n >= 10 {
            if let Some(d) = digits.get_mut(start - 2..start) {
                d.copy_from_slice(p);
            }
            start -= 2;
        } else if let Some(d) = digits.get_mut(start - 1) {
            let [_, ones] = *p;
            *d = ones;
            start -= 1;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, format: Format) -> Self {
        Reporter {
            out,
            format,
            buf: Vec::new(),
            masked: String::new(),
            pending: 0,
        }
    }

    /// Reports the finding of kind `kind` whose bytes are `value` at
    /// `path:line:column`; only its masked form is written.
    pub(crate) fn finding(
        &mut self,
        path: &str,
        line: u64,
        column: usize,
        kind: Kind,
        value: &[u8],
    ) -> std::io::Result<()> {
        match self.format {
            Format::Text => {
                // `path:line:column kind masked`
                let b = &mut self.buf;
                b.extend_from_slice(path.as_bytes());
                b.push(b':');
                push_decimal(b, line);
                b.push(b':');
                push_decimal(b, column as u64);
                b.push(b' ');
                b.extend_from_slice(kind.as_str().as_bytes());
                b.push(b' ');
                crate::mask::mask_into(kind, value, b);
                b.push(b'\n');
                if b.len() >= FLUSH_AT {
                    self.flush_text()?;
                }
                Ok(())
            }
            Format::Json => {
                self.masked.clear();
                crate::mask::mask_into(kind, value, &mut self.masked);
                if self.pending > 0 {
                    self.buf.push(b',');
                }
                self.pending += 1;
                let f = FindingRef {
                    path,
                    line,
                    column,
                    kind: kind.as_str(),
                    masked: &self.masked,
                };
                serde_json::to_writer(&mut self.buf, &f).map_err(std::io::Error::other)
            }
        }
    }

    /// Text: writes the buffered report lines.
    pub(crate) fn flush_text(&mut self) -> std::io::Result<()> {
        if self.format == Format::Text && !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Text format: one line per unreadable or skipped input, as it
    /// happens (JSON has them in the summary).
    pub(crate) fn note(&mut self, path: &str, what: &str) -> std::io::Result<()> {
        match self.format {
            Format::Text => {
                self.flush_text()?;
                writeln!(self.out, "{path}: {what}")
            }
            Format::Json => Ok(()),
        }
    }

    pub(crate) fn finish(mut self, summary: &ScanSummary) -> std::io::Result<()> {
        match self.format {
            Format::Text => {
                self.flush_text()?;
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
                // As `{"findings": [...], "summary": {...}}` serialized in one
                // go, with the findings already serialized.
                self.out.write_all(b"{\"findings\":[")?;
                self.out.write_all(&self.buf)?;
                self.out.write_all(b"],\"summary\":")?;
                serde_json::to_writer(&mut *self.out, summary).map_err(std::io::Error::other)?;
                self.out.write_all(b"}\n")?;
            }
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0, 1, 9, 10, 11, 99, 100, 101, 4_096, 1_000_000, u64::MAX] {
            let mut b = Vec::new();
            push_decimal(&mut b, n);
            assert_eq!(b, n.to_string().as_bytes());
        }
    }

    #[test]
    fn borrowed_findings_serialize_as_reported_findings() {
        let owned = ReportedFinding {
            path: "a \"b\"\\c\u{1}.log".to_owned(),
            line: 7,
            column: 12,
            kind: "email",
            masked: "j***@\u{fffd}x.org".to_owned(),
        };
        let borrowed = FindingRef {
            path: &owned.path,
            line: owned.line,
            column: owned.column,
            kind: owned.kind,
            masked: &owned.masked,
        };
        assert_eq!(
            serde_json::to_string(&owned).unwrap(),
            serde_json::to_string(&borrowed).unwrap()
        );
    }
}
