//! PHI out of logs (the brief's "just for debugging" story): the server's
//! log files under `logs/` are scanned with the same detectors as
//! `phivault scan-logs`. The server scrubs every line before writing it, so
//! a finding means something wrote around the scrubber (an old build, a
//! debugging patch, another program); redaction markers mean code tried to
//! log PHI and the scrubber caught it.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use phivault_scan::{Detectors, Format, ScanOptions};

use super::{Finding, Install, Pitfall, Safeguard, Status};

pub(super) fn check(i: &Install<'_>) -> Finding {
    const ID: &str = "logs.no_phi";
    const S: Safeguard = Safeguard::Encryption;
    let dir = i.config.data_dir.join("logs");
    if !dir.exists() {
        return Finding::pass(
            ID,
            S,
            "no log files yet in logs/; the server scrubs every log line for PHI before writing it",
        )
        .pitfall(Pitfall::DebugLogs);
    }
    let opts = ScanOptions {
        detectors: Arc::new(Detectors::new()),
        format: Format::Json,
        baseline: None,
        collect_baseline: false,
    };
    let summary =
        match phivault_scan::scan_paths(std::slice::from_ref(&dir), &opts, &mut std::io::sink()) {
            Ok(s) => s,
            Err(e) => return Finding::unknown(ID, S, e).pitfall(Pitfall::DebugLogs),
        };
    if summary.findings > 0 {
        let kinds = summary
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Finding::not_met(
            ID,
            S,
            Status::Fail,
            format!(
                "{} possible PHI values in clear in logs/ ({kinds}): something writes logs around the scrubber",
                summary.findings
            ),
            "find the writer (`phivault scan-logs DATA/logs` shows file:line), stop it, and purge the files under your incident procedure",
        )
        .pitfall(Pitfall::DebugLogs);
    }
    let redacted = redacted_lines(&dir);
    if redacted > 0 {
        return Finding::not_met(
            ID,
            S,
            Status::Warn,
            format!(
                "no PHI in clear in logs/, but {redacted} lines carry `[REDACTED:…]`: code tried to log PHI and the scrubber caught it"
            ),
            "find the log statements (the lines show where) and log ids instead of values",
        )
        .pitfall(Pitfall::DebugLogs);
    }
    Finding::pass(
        ID,
        S,
        format!(
            "{} log lines in logs/ scanned: no PHI, no redactions (every line is scrubbed before it is written)",
            summary.lines
        ),
    )
    .pitfall(Pitfall::DebugLogs)
}

fn redacted_lines(dir: &std::path::Path) -> u64 {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    let mut n = 0;
    for f in files {
        let Ok(file) = std::fs::File::open(&f) else {
            continue;
        };
        for line in std::io::BufReader::new(file)
            .split(b'\n')
            .map_while(Result::ok)
        {
            if memchr_find(&line, b"[REDACTED:") {
                n += 1;
            }
        }
    }
    n
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
