//! Medians, percentiles and the printed table.

use std::time::Duration;

use crate::out;

/// One measured operation.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which system: "pgcrypto", "plaintext pg", …
    pub system: &'static str,
    /// Which operation: "insert", "read", "search ssn", …
    pub op: &'static str,
    /// Median.
    pub median: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Samples.
    pub n: usize,
}

/// The median of some figures (NaN when there are none).
pub fn median(v: impl IntoIterator<Item = f64>) -> f64 {
    let mut x: Vec<f64> = v.into_iter().collect();
    x.sort_by(f64::total_cmp);
    x.get(x.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Summarizes latencies.
pub fn row(system: &'static str, op: &'static str, mut samples: Vec<Duration>) -> Row {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().unwrap_or_default()
    };
    Row {
        system,
        op,
        median: at(0.5),
        p99: at(0.99),
        n: samples.len(),
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{:.0} ns", us * 1000.0)
    } else if us < 10_000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

/// Prints the table and the ratios against the plaintext baseline.
pub fn print(rows: &[Row]) {
    out::line("");
    out::line(format_args!(
        "{:<22} {:<18} {:>10} {:>10} {:>8}  {}",
        "system", "operation", "median", "p99", "n", "vs plaintext pg"
    ));
    for r in rows {
        let base = rows
            .iter()
            .find(|b| b.system == "plaintext pg" && b.op == r.op);
        let ratio = match base {
            Some(b) if r.system != "plaintext pg" && !b.median.is_zero() => {
                format!("{:.2}×", r.median.as_secs_f64() / b.median.as_secs_f64())
            }
            _ => String::new(),
        };
        out::line(format_args!(
            "{:<22} {:<18} {:>10} {:>10} {:>8}  {}",
            r.system,
            r.op,
            fmt(r.median),
            fmt(r.p99),
            r.n,
            ratio
        ));
    }
}
