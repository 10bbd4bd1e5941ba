//! `phivault access review`: permissions held and not used.

use std::path::PathBuf;

use crate::out::{self, CliResult};

/// Access tools.
#[derive(Debug, clap::Subcommand)]
pub enum AccessCmd {
    /// List permissions that enabled users hold but have not used in the period.
    Review {
        /// The period, in days.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Data directory.
        #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
        data_dir: PathBuf,
        /// PostgreSQL URL (default: SQLite in the data directory).
        #[arg(long, env = "PHIVAULT_DATABASE")]
        database: Option<String>,
    },
}

/// Runs an access subcommand.
pub async fn run(cmd: AccessCmd) -> CliResult {
    let AccessCmd::Review {
        days,
        data_dir,
        database,
    } = cmd;
    let state = crate::policy::open_state(data_dir, database).await?;
    let since = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(days)))?;
    let unused = phivault_server::access::review(
        state.vault.store().as_ref(),
        state.vault.audit().store().as_ref(),
        &state.roles,
        since.as_microsecond(),
    )
    .await?;
    if unused.is_empty() {
        out::line(format_args!(
            "every permission held was used in the last {days} days"
        ));
        return Ok(());
    }
    out::line(format_args!(
        "{} permission(s) held but not used in the last {days} days (candidates for removal):",
        unused.len()
    ));
    out::line(format_args!(
        "{:<28} {:<20} {:<28} last used",
        "user", "role", "permission"
    ));
    for h in unused {
        let last = h.last_used.map_or_else(
            || "never".to_owned(),
            phivault_server::clock::rfc3339_micros,
        );
        out::line(format_args!(
            "{:<28} {:<20} {:<28} {last}",
            h.user, h.role, h.permission
        ));
    }
    Ok(())
}
