//! `phivault`: the vault server and its tools.

mod access;
mod audit;
mod bench;
mod client;
mod compliance;
mod demo;
mod drill;
mod export;
mod hardening;
mod honey;
mod incident;
mod keys;
mod logfile;
mod out;
mod policy;
mod scan;
mod serve;
mod telehealth;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// A self-hosted vault for protected health information.
#[derive(Debug, Parser)]
#[command(name = "phivault", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data directory: schema, keyring, TLS certificate, admin token.
    Init(InitArgs),
    /// Run the server (initializes the data directory on first run).
    Serve(ServeArgs),
    /// Start a throwaway vault and walk through create, read, search, update, delete.
    Demo,
    /// Measure phivault against pgcrypto and plaintext PostgreSQL, side by side.
    Bench(bench::BenchArgs),
    /// Review permissions held against their use.
    #[command(subcommand)]
    Access(access::AccessCmd),
    /// Verify, prove, export and account from the audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Validate role files; explain a decision.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Export a collection de-identified (Safe Harbor) through the server.
    Export(export::ExportArgs),
    /// Find PHI in log files, directories, gzip files or stdin (exit 1 if any).
    ScanLogs(scan::ScanArgs),
    /// Key management: status, rotate, reencrypt, retire, scan, shred.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Check the technical safeguards (§164.312) of this install.
    #[command(subcommand)]
    Compliance(compliance::ComplianceCmd),
    /// Telehealth end-to-end encryption: `phivault telehealth demo`.
    #[command(subcommand)]
    Telehealth(telehealth::TelehealthCmd),
    /// Incident response: declare, isolate, restore, evidence, affected, report.
    #[command(subcommand)]
    Incident(incident::IncidentCmd),
    /// Honey records: decoy patients whose any access is a critical alert.
    #[command(subcommand)]
    Honey(honey::HoneyCmd),
    /// Flag VIP and employee-patient records for the `flagged` rule.
    #[command(subcommand)]
    Flag(honey::FlagCmd),
    /// Run a breach simulation end to end and time it against the targets.
    Drill(drill::DrillArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Data directory.
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    data_dir: PathBuf,
    /// Write the admin token to this file (mode 0600) instead of printing it.
    #[arg(long, env = "PHIVAULT_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// PostgreSQL URL (default: SQLite in the data directory).
    #[arg(long, env = "PHIVAULT_DATABASE")]
    database: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Data directory.
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    data_dir: PathBuf,
    /// Listen address [default: 127.0.0.1:8443].
    #[arg(long, env = "PHIVAULT_LISTEN")]
    listen: Option<SocketAddr>,
    /// PostgreSQL URL (default: SQLite in the data directory).
    #[arg(long, env = "PHIVAULT_DATABASE")]
    database: Option<String>,
    /// PEM certificate chain (default: the data directory's self-signed one).
    #[arg(long, env = "PHIVAULT_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "PHIVAULT_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP (needs `--dev`; refused on non-loopback addresses).
    #[arg(long, env = "PHIVAULT_INSECURE_HTTP")]
    insecure_http: bool,
    /// Development mode: allows `--insecure-http`; refused on non-loopback
    /// addresses. Nothing turns authentication or authorization off.
    #[arg(long)]
    dev: bool,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long, env = "PHIVAULT_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Write a newly issued admin token to this file instead of printing it.
    #[arg(long, env = "PHIVAULT_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// Session idle timeout in minutes (automatic logoff) [default: 15].
    #[arg(long, env = "PHIVAULT_SESSION_IDLE_MINUTES")]
    session_idle_minutes: Option<u32>,
    /// Session absolute lifetime in minutes [default: 720].
    #[arg(long, env = "PHIVAULT_SESSION_LIFETIME_MINUTES")]
    session_lifetime_minutes: Option<u32>,
}

/// Every log line passes the PHI detectors before it is written (defense
/// in depth: nothing logs PHI by construction); redactions are counted.
fn scrubbed_stderr(
    file: Option<std::sync::Arc<logfile::LogFile>>,
) -> impl for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static {
    let scrubber = std::sync::Arc::new(phivault_scan::Scrubber::new(std::sync::Arc::new(
        phivault_scan::Detectors::new(),
    )));
    phivault_server::metrics::set_log_redactions(std::sync::Arc::clone(&scrubber));
    move || {
        phivault_scan::ScrubbingWriter::new(
            logfile::Tee::new(std::io::stderr(), file.clone()),
            std::sync::Arc::clone(&scrubber),
        )
    }
}

fn init_logging(default: &str, file: Option<std::sync::Arc<logfile::LogFile>>) {
    use tracing_subscriber::EnvFilter;
    let mut directives = std::env::var("PHIVAULT_LOG").unwrap_or_else(|_| default.to_owned());
    // rustls warns about every client quirk (an IP address sent as SNI, say);
    // those are the client's business, not operator alerts.
    if !directives.contains("rustls") {
        directives.push_str(",rustls=error");
    }
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("PHIVAULT_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(scrubbed_stderr(file));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = hardening::disable_core_dumps() {
        // Refuse to hold keys in a process that could dump them.
        out::err(format_args!("error: {e}"));
        return ExitCode::FAILURE;
    }
    if let Command::ScanLogs(a) = cli.command {
        return ExitCode::from(u8::try_from(scan::run(a)).unwrap_or(2));
    }
    // The server also keeps its log in the data directory (evidence).
    let file = match &cli.command {
        Command::Serve(a) => logfile::LogFile::open(&a.data_dir).ok(),
        _ => None,
    };
    init_logging(
        match cli.command {
            Command::Demo
            | Command::Bench(_)
            | Command::Policy(_)
            | Command::Access(_)
            | Command::Audit(_)
            | Command::ScanLogs(_)
            | Command::Export(_)
            | Command::Keys(_)
            | Command::Compliance(_)
            | Command::Telehealth(_)
            | Command::Incident(_)
            | Command::Honey(_)
            | Command::Flag(_)
            | Command::Drill(_) => "warn",
            _ => "info",
        },
        file,
    );
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out::err(format_args!("error: cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Init(a) => serve::init_cmd(a.data_dir, a.database, a.admin_token_file).await,
            Command::Serve(a) => serve::serve_cmd(a).await,
            Command::Demo => demo::run().await,
            Command::Bench(a) => bench::run(a).await,
            Command::Policy(c) => policy::finish(policy::run(c).await),
            Command::Access(c) => access::run(c).await,
            Command::Audit(c) => audit::run(c).await,
            Command::ScanLogs(_) => Ok(()),
            Command::Export(a) => export::run(a).await,
            Command::Keys(c) => keys::run(c).await,
            Command::Compliance(c) => compliance::run(c).await,
            Command::Telehealth(c) => telehealth::run(c).await,
            Command::Incident(c) => incident::run(c).await,
            Command::Honey(c) => honey::run(c).await,
            Command::Flag(c) => honey::run_flag(c).await,
            Command::Drill(a) => drill::run(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out::err(format_args!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}
