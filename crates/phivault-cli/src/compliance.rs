//! `phivault compliance check`: safeguards mapped to §164.312, exit 1 on
//! any fail.

use std::path::PathBuf;
use std::sync::Arc;

use phivault_server::compliance::{self, Status};
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
        /// `text` or `json`.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

/// Runs a `compliance` subcommand.
pub async fn run(cmd: ComplianceCmd) -> CliResult {
    let ComplianceCmd::Check {
        data_dir,
        database,
        format,
    } = cmd;
    if format != "text" && format != "json" {
        return Err("`--format` must be `text` or `json`".into());
    }
    let over = FileConfig {
        database,
        ..Default::default()
    };
    let config = Config::resolve(data_dir.clone(), over, FileConfig::load(&data_dir)?)?;
    let keyring = Arc::new(datadir::open_keyring(&config.data_dir.join("keys"))?);
    let store = phivault_store::open(&config.store_location()).await?;
    let keys = phivault_server::providers::open(&config, Arc::clone(&keyring)).await?;
    let findings = compliance::check(&config, &keyring, &keys, &store).await;
    if format == "json" {
        out::line(serde_json::to_string_pretty(&findings)?);
    } else {
        for f in &findings {
            let tag = match f.status {
                Status::Pass => "PASS",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            out::line(format_args!(
                "{tag}  {}  [§{}]: {}",
                f.id, f.safeguard, f.summary
            ));
            if f.status != Status::Pass {
                out::line(format_args!("      remediation: {}", f.remediation));
            }
        }
    }
    let failed = findings.iter().filter(|f| f.status == Status::Fail).count();
    if failed > 0 {
        return Err(format!("{failed} safeguard(s) failed").into());
    }
    Ok(())
}
