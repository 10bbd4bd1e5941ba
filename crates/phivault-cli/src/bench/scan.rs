//! (h) The log scanner: `scan-logs` throughput on one core, on files as an
//! operator scans them (plain, gzip, with a known-values file), and
//! precision / recall per kind on the labelled corpus.
//!
//! The input is the corpus's log lines repeated to the requested size and
//! written to a temporary file, so it is read from the page cache: the
//! figures are the scanner's, not the disk's. Each scan runs on a thread of
//! its own, through `scan_paths` (the code `phivault scan-logs` runs) with
//! the report written to a file. CPU time is the process's, from
//! `/proc/self/stat` (10 ms ticks; runs last seconds): for a gzip file it
//! includes the thread that inflates beside the scanning one, so "per
//! CPU-second" is the one-core figure and "wall" what two cores give.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use phivault_scan::{Detectors, Format, Kind, KnownValues, ScanOptions, corpus};

use super::audit::stat_cpu;
use super::stats::median;
use crate::out;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The site formats the benchmark configures, as `--pattern` would.
const PATTERNS: [(Kind, &str); 3] = [
    (Kind::Mrn, r"\bMRN-?\d{7}\b"),
    (Kind::Account, r"\bACCT-\d{8}\b"),
    (Kind::Device, r"\bSN-[0-9A-F]{10}\b"),
];

/// Runs (h): `mib` MiB of log lines, `runs` scans per variant (medians).
pub fn run(mib: usize, runs: usize) -> BenchResult<()> {
    let detectors = configured()?;
    quality(&detectors)?;
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("app.log");
    let bytes = write_logs(&plain, mib)?;
    let gz = dir.path().join("app.log.gz");
    gzip(&plain, &gz)?;
    let known = Arc::new(known_values()?);
    let variants: [(&str, &Path, Detectors); 3] = [
        ("plain file", &plain, configured()?),
        ("gzip file (level 6)", &gz, configured()?),
        (
            "plain file, 1,000 known values",
            &plain,
            configured()?.with_known(known),
        ),
    ];
    for (name, path, d) in variants {
        let opts = ScanOptions {
            detectors: Arc::new(d),
            format: Format::Text,
            ..ScanOptions::default()
        };
        let report = dir.path().join("report.txt");
        let mut samples = Vec::new();
        let mut findings = 0;
        for _ in 0..runs {
            let (s, f) = scan_once(path, &opts, &report)?;
            samples.push(s);
            findings = f;
        }
        let wall = median(samples.iter().map(|s| s.wall));
        let cpu = median(samples.iter().map(|s| s.cpu));
        out::line(format_args!(
            "scan-logs, {name}, {:.0} MB of log lines, {findings} findings: \
             {:.0} MB/s wall, {:.0} MB per CPU-second (median of {runs}; per run wall: {})",
            mb(bytes),
            mb(bytes) / wall,
            mb(bytes) / cpu,
            samples
                .iter()
                .map(|s| format!("{:.0}", mb(bytes) / s.wall))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    Ok(())
}

fn configured() -> BenchResult<Detectors> {
    let mut d = Detectors::new();
    for (k, re) in PATTERNS {
        d = d.with_pattern(k, re)?;
    }
    Ok(d)
}

/// Prints precision and recall per kind on the corpus.
fn quality(d: &Detectors) -> BenchResult<()> {
    let lines = corpus::lines()?;
    let ev = corpus::evaluate(d, &lines);
    let labels: usize = lines.iter().map(|l| l.labels.len()).sum();
    out::line(format_args!(
        "scan-logs detectors on the labelled corpus ({} lines, {labels} labelled identifiers):",
        lines.len()
    ));
    out::line(format_args!(
        "  {:<8} {:>6} {:>6} {:>6} {:>9} {:>7}",
        "kind", "tp", "fp", "fn", "precision", "recall"
    ));
    for (k, s) in &ev.scores {
        out::line(format_args!(
            "  {k:<8} {:>6} {:>6} {:>6} {:>9.3} {:>7.3}",
            s.true_positives,
            s.false_positives,
            s.false_negatives,
            s.precision(),
            s.recall()
        ));
    }
    Ok(())
}

/// Writes the corpus's log lines, repeated, until `mib` MiB; returns bytes.
fn write_logs(path: &Path, mib: usize) -> BenchResult<u64> {
    let lines = corpus::log_text()?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut n = 0u64;
    while n < (mib as u64) << 20 {
        f.write_all(&lines)?;
        n += lines.len() as u64;
    }
    f.flush()?;
    Ok(n)
}

fn gzip(from: &Path, to: &Path) -> BenchResult<()> {
    let mut r = std::fs::File::open(from)?;
    let mut w =
        flate2::write::GzEncoder::new(std::fs::File::create(to)?, flate2::Compression::default());
    std::io::copy(&mut r, &mut w)?;
    w.finish()?.sync_all()?;
    Ok(())
}

/// 1,000 canary-like known values, none of them in the corpus.
fn known_values() -> BenchResult<KnownValues> {
    let values = corpus::absent_known_values(1_000);
    Ok(KnownValues::from_values(values.iter().map(String::as_str))?)
}

struct Sample {
    wall: f64,
    cpu: f64,
}

/// One `scan_paths` over `path` on a fresh thread; returns its wall and
/// the process's CPU seconds and the findings reported.
fn scan_once(path: &Path, opts: &ScanOptions, report: &Path) -> BenchResult<(Sample, u64)> {
    let paths = [PathBuf::from(path)];
    std::thread::scope(|s| {
        s.spawn(|| -> BenchResult<(Sample, u64)> {
            let mut out = std::fs::File::create(report)?;
            let cpu0 = process_cpu()?;
            let t0 = Instant::now();
            let summary = phivault_scan::scan_paths(&paths, opts, &mut out)?;
            let wall = t0.elapsed().as_secs_f64();
            let cpu = process_cpu()? - cpu0;
            if !summary.errors.is_empty() {
                return Err("the benchmark input could not be read".into());
            }
            Ok((Sample { wall, cpu }, summary.findings))
        })
        .join()
        .map_err(|_| "scan thread panicked")?
    })
}

fn process_cpu() -> BenchResult<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    Ok(stat_cpu(&stat).1)
}

#[allow(clippy::cast_precision_loss, reason = "byte counts far below 2^52")]
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
