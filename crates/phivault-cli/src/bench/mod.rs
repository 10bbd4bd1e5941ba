//! `phivault bench`: one run, side by side, on the same synthetic patients.
//!
//! (a) pgcrypto `pgp_sym_encrypt` / `pgp_sym_decrypt`, search by decrypting;
//! (b) plaintext PostgreSQL with ordinary indexes; (c) phivault storage on
//! PostgreSQL; (d) phivault storage on SQLite; (e) in-process seal + open.
//! (f) the audit trail: durable appends, verification, its cost on vault reads
//! and on HTTPS API reads.
//! (g) key rotation: `keys rotate` rewrap rate, and a large rotation beside
//! a server under read load.
//! (h) the log scanner: `scan-logs` throughput on one core, precision and
//! recall on the labelled corpus.
//! PostgreSQL parts run when `--database` is given.

mod api_cost;
mod audit;
mod data;
mod keys;
pub mod pg;
mod scan;
mod stats;
mod vault;

use stats::Row;

use crate::out::{self, CliResult};

/// Benchmark options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Synthetic patients per backend.
    #[arg(long, default_value_t = 20_000)]
    pub n: usize,
    /// PostgreSQL URL; enables (a), (b) and (c).
    #[arg(long, env = "PHIVAULT_BENCH_DATABASE")]
    pub database: Option<String>,
    /// Reads and searches sampled per backend.
    #[arg(long, default_value_t = 2_000)]
    pub samples: usize,
    /// Equality searches by decryption for pgcrypto (each scans every row).
    #[arg(long, default_value_t = 3)]
    pub pgcrypto_searches: usize,
    /// Skip the pgcrypto part (it dominates the run time).
    #[arg(long)]
    pub skip_pgcrypto: bool,
    /// Events appended per audit append measurement.
    #[arg(long, default_value_t = 200_000)]
    pub audit_events: u64,
    /// Reads per audit-cost measurement.
    #[arg(long, default_value_t = 40_000)]
    pub audit_reads: usize,
    /// Seconds per side in each alternation of the API read-cost
    /// comparison (three alternations per concurrency).
    #[arg(long, default_value_t = 5)]
    pub audit_api_window: u64,
    /// Run only (f), the audit trail.
    #[arg(long)]
    pub only_audit: bool,
    /// Run only (g), key rotation.
    #[arg(long)]
    pub only_keys: bool,
    /// Run only (h), the log scanner.
    #[arg(long)]
    pub only_scan: bool,
    /// MiB of log lines per scanner measurement.
    #[arg(long, default_value_t = 256)]
    pub scan_mib: usize,
    /// DEKs per backend for the `keys rotate` rewrap rate.
    #[arg(long, default_value_t = 100_000)]
    pub rewrap_deks: usize,
    /// DEKs rotated beside the server under read load.
    #[arg(long, default_value_t = 1_000_000)]
    pub rotation_deks: usize,
    /// `--max-rate` for that rotation (none: unthrottled).
    #[arg(long)]
    pub rotation_max_rate: Option<u32>,
}

/// Runs the benchmark and prints the table.
pub async fn run(a: BenchArgs) -> CliResult {
    if a.only_keys {
        return run_keys(&a).await;
    }
    if a.only_scan {
        return run_scan(&a).await;
    }
    let patients = data::patients(a.n);
    out::line(format_args!(
        "phivault bench: {} synthetic patients, 8 PHI fields each",
        a.n
    ));
    out::line("running (f) audit trail…");
    audit::run(a.audit_events, a.database.as_deref()).await?;
    audit::read_cost(
        patients
            .get(..patients.len().min(5_000))
            .unwrap_or(&patients),
        a.audit_reads,
    )
    .await?;
    api_cost::run(5_000, 3, std::time::Duration::from_secs(a.audit_api_window)).await?;
    if a.only_audit {
        return Ok(());
    }
    let mut rows: Vec<Row> = Vec::new();
    rows.extend(vault::seal_open());
    if let Some(url) = &a.database {
        if !a.skip_pgcrypto {
            out::line("running (a) pgcrypto…");
            rows.extend(pg::pgcrypto(url, &patients, a.samples, a.pgcrypto_searches).await?);
        }
        out::line("running (b) plaintext PostgreSQL…");
        rows.extend(pg::plaintext(url, &patients, a.samples).await?);
        out::line("running (c) phivault on PostgreSQL…");
        rows.extend(
            vault::backend(vault::Target::Postgres(url.clone()), &patients, a.samples).await?,
        );
    } else {
        out::line("no --database: PostgreSQL parts (a), (b), (c) skipped");
    }
    out::line("running (d) phivault on SQLite…");
    rows.extend(vault::backend(vault::Target::Sqlite, &patients, a.samples).await?);
    stats::print(&rows);
    run_keys(&a).await?;
    run_scan(&a).await
}

async fn run_scan(a: &BenchArgs) -> CliResult {
    out::line("running (h) log scanner…");
    let mib = a.scan_mib;
    tokio::task::spawn_blocking(move || scan::run(mib, 3)).await??;
    Ok(())
}

async fn run_keys(a: &BenchArgs) -> CliResult {
    out::line("running (g) key rotation…");
    keys::rewrap_rate(a.rewrap_deks, a.database.as_deref()).await?;
    keys::rotation_under_load(a.rotation_deks, a.rotation_max_rate).await?;
    Ok(())
}
