//! `phivault scan-logs`: find PHI in log files, directories, gzip files or
//! stdin. Exit 0 when clean, 1 when anything was found, 2 on errors.

use std::path::PathBuf;
use std::sync::Arc;

use phivault_scan::{Baseline, Detectors, Format, Kind, KnownValues, ScanOptions};

/// `scan-logs` options.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files, directories (recursive) or `-` for stdin (the default).
    pub paths: Vec<PathBuf>,
    /// Exact values to look for (one per line; compared by keyed hash, never
    /// kept in plaintext).
    #[arg(long)]
    pub known_values: Option<PathBuf>,
    /// `text` (`file:line:column kind masked`) or `json`.
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Accepted findings (and its key `FILE.key`): those are not reported.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write every finding of this scan to the baseline FILE (accept them).
    #[arg(long)]
    pub write_baseline: Option<PathBuf>,
    /// Identifier formats of your systems: `mrn=REGEX`, `account=REGEX`,
    /// `licence=REGEX` or `device=REGEX` (repeatable).
    #[arg(long = "pattern")]
    pub patterns: Vec<String>,
}

/// Why the scan could not run (exit 2). Paths and option names only.
#[derive(Debug, thiserror::Error)]
enum ScanCliError {
    #[error("--format must be `text` or `json`")]
    Format,
    #[error("--pattern `{0}` must be KIND=REGEX with KIND one of mrn, account, licence, device")]
    PatternShape(String),
    #[error("--pattern for `{0}`: {1}")]
    Pattern(String, String),
    #[error("--known-values: {0}")]
    Known(String),
    #[error("baseline: {0}")]
    Baseline(String),
    #[error("{0}")]
    Scan(String),
}

fn detectors(a: &ScanArgs) -> Result<Detectors, ScanCliError> {
    let mut d = Detectors::new();
    for p in &a.patterns {
        let (kind, re) = p
            .split_once('=')
            .ok_or_else(|| ScanCliError::PatternShape(p.clone()))?;
        let k = match Kind::parse(kind) {
            Some(k @ (Kind::Mrn | Kind::Account | Kind::Licence | Kind::Device)) => k,
            _ => return Err(ScanCliError::PatternShape(kind.to_owned())),
        };
        d = d
            .with_pattern(k, re)
            .map_err(|e| ScanCliError::Pattern(kind.to_owned(), e.to_string()))?;
    }
    if let Some(f) = &a.known_values {
        let file = std::fs::File::open(f).map_err(|e| ScanCliError::Known(e.kind().to_string()))?;
        let known =
            KnownValues::from_reader(file).map_err(|e| ScanCliError::Known(e.to_string()))?;
        d = d.with_known(Arc::new(known));
    }
    Ok(d)
}

fn scan(a: ScanArgs) -> Result<i32, ScanCliError> {
    let format = match a.format.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        _ => return Err(ScanCliError::Format),
    };
    let baseline_err = |e: phivault_scan::BaselineError| ScanCliError::Baseline(e.to_string());
    let baseline = match (&a.baseline, &a.write_baseline) {
        (_, Some(w)) => Some(Baseline::load_or_generate(w).map_err(baseline_err)?),
        (Some(b), None) => Some(Baseline::load(b).map_err(baseline_err)?),
        (None, None) => None,
    };
    let opts = ScanOptions {
        detectors: Arc::new(detectors(&a)?),
        format,
        collect_baseline: a.write_baseline.is_some(),
        baseline,
    };
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        a.paths
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut summary = phivault_scan::scan_paths(&paths, &opts, &mut out)
        .map_err(|e| ScanCliError::Scan(e.to_string()))?;
    if let (Some(w), Some(b)) = (&a.write_baseline, &opts.baseline) {
        let entries = std::mem::take(&mut summary.baseline_entries);
        b.write(w, entries).map_err(baseline_err)?;
        return Ok(0);
    }
    Ok(summary.exit_code())
}

/// Runs the scan; returns the process exit code.
pub fn run(a: ScanArgs) -> i32 {
    match scan(a) {
        Ok(code) => code,
        Err(e) => {
            crate::out::err(format_args!("error: {e}"));
            phivault_scan::ScanError::EXIT_CODE
        }
    }
}
