//! `phivault compliance check`: safeguards mapped to §164.312 and the
//! brief's pitfalls, as text, JSON or a self-contained HTML report; exit 1
//! on any fail.

use std::path::PathBuf;
use std::sync::Arc;

use phivault_server::compliance::{self, Install, Report, Status};
use phivault_server::config::{Config, FileConfig};
use phivault_server::datadir;

use crate::out::{self, CliResult};

/// Compliance commands.
#[derive(Debug, clap::Subcommand)]
pub enum ComplianceCmd {
    /// Check this install's technical safeguards.
    Check {
        /// Data directory.
        #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
        data_dir: PathBuf,
        /// PostgreSQL URL (default: the SQLite file in the data directory).
        #[arg(long, env = "PHIVAULT_DATABASE")]
        database: Option<String>,
        /// `text`, `json` or `html` (a self-contained page).
        #[arg(long, default_value = "text")]
        format: String,
        /// Evaluate the time-based checks (KEK age, certificate validity,
        /// checkpoint and streaming lag, access review) as of this RFC 3339
        /// time, e.g. the date of a scheduled audit [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The access-review period in days (unused permissions, admin use).
        #[arg(long, default_value_t = 90)]
        review_days: u32,
    },
}

/// Runs a `compliance` subcommand.
pub async fn run(cmd: ComplianceCmd) -> CliResult {
    let ComplianceCmd::Check {
        data_dir,
        database,
        format,
        at,
        review_days,
    } = cmd;
    if !matches!(format.as_str(), "text" | "json" | "html") {
        return Err("`--format` must be `text`, `json` or `html`".into());
    }
    let now = match at {
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .map_err(|_| "`--at` must be an RFC 3339 time")?,
        None => jiff::Timestamp::now(),
    };
    let file = FileConfig::load(&data_dir)?;
    // `insecure_http` in config.toml is refused without `--dev` when the
    // server starts; here it is resolved anyway so the check can name it.
    let over = FileConfig {
        database,
        dev: file.insecure_http.filter(|on| *on),
        ..Default::default()
    };
    let mut config = Config::resolve(data_dir.clone(), over, file)?;
    config.dev = false;
    let keyring = Arc::new(datadir::open_keyring(&config.data_dir.join("keys"))?);
    let store = phivault_store::open(&config.store_location()).await?;
    let keys = phivault_server::providers::open(&config, Arc::clone(&keyring)).await?;
    let install = Install {
        config: &config,
        keyring: &keyring,
        keys: &keys,
        store: &store,
        now,
        review_days,
    };
    let report = Report::new(&install, compliance::check(&install).await);
    match format.as_str() {
        "json" => out::line(serde_json::to_string_pretty(&report)?),
        "html" => out::line(compliance::html::render(&report)),
        _ => text(&report),
    }
    if report.summary.fail > 0 {
        return Err(format!("{} safeguard check(s) failed", report.summary.fail).into());
    }
    Ok(())
}

fn text(r: &Report) {
    for f in &r.findings {
        out::line(format_args!(
            "{}  {}  [§{} {}]: {}",
            f.status.label(),
            f.id,
            f.safeguard.paragraph(),
            f.safeguard.title(),
            f.summary
        ));
        if let Some(p) = f.pitfall
            && f.status != Status::Pass
        {
            out::line(format_args!("      pitfall: {}", p.title()));
        }
        if f.status != Status::Pass {
            out::line(format_args!("      remediation: {}", f.remediation));
        }
    }
    let c = r.summary;
    out::line(format_args!(
        "{} pass, {} warn, {} fail",
        c.pass, c.warn, c.fail
    ));
}
