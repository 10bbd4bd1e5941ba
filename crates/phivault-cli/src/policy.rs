//! `phivault policy validate DIR` and `phivault policy explain`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use phivault_core::policy::{Action, Decision, Principal};
use phivault_server::config::{Config, FileConfig};
use phivault_server::http::{AppState, Target};
use phivault_server::{SystemClock, datadir};

use crate::out::{self, CliResult};

/// Policy tools.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCmd {
    /// Check a directory of role files (JSON); exits non-zero naming the first bad one.
    Validate {
        /// The directory (e.g. `phivault-data/policies`).
        dir: PathBuf,
    },
    /// Print the decision for a request and the rule that decided it.
    Explain(ExplainArgs),
}

/// What to explain.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The user.
    #[arg(long)]
    pub user: String,
    /// view, create, modify, delete, search, export or a custom verb.
    #[arg(long)]
    pub action: String,
    /// The collection.
    #[arg(long)]
    pub collection: String,
    /// The record, for record-level actions.
    #[arg(long)]
    pub record: Option<String>,
    /// When (RFC 3339) [default: now].
    #[arg(long)]
    pub at: Option<jiff::Timestamp>,
    /// The client address [default: 127.0.0.1].
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// Data directory.
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (default: SQLite in the data directory).
    #[arg(long, env = "PHIVAULT_DATABASE")]
    pub database: Option<String>,
}

/// Runs a policy subcommand; `Ok(false)` when the answer is a denial.
pub async fn run(cmd: PolicyCmd) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    match cmd {
        PolicyCmd::Validate { dir } => {
            if !dir.is_dir() {
                return Err(format!("`{}` is not a directory", dir.display()).into());
            }
            let roles = phivault_server::access::load_dir(&dir)?;
            for (r, _) in &roles {
                out::line(format_args!("ok  {}", r.name()));
            }
            out::line(format_args!(
                "{} role(s) valid in {}",
                roles.len(),
                dir.display()
            ));
            Ok(true)
        }
        PolicyCmd::Explain(a) => explain(a).await,
    }
}

fn action(verb: &str) -> Action {
    match verb {
        "view" => Action::View,
        "create" => Action::Create,
        "modify" => Action::Modify,
        "delete" => Action::Delete,
        "search" => Action::Search,
        "export" => Action::Export,
        other => Action::Custom(other.to_owned()),
    }
}

/// Opens the vault and its role book without serving (for offline tools).
pub async fn open_state(
    data_dir: PathBuf,
    database: Option<String>,
) -> Result<AppState, Box<dyn std::error::Error + Send + Sync>> {
    let over = FileConfig {
        database,
        ..Default::default()
    };
    let config = Arc::new(Config::resolve(
        data_dir.clone(),
        over,
        FileConfig::load(&data_dir)?,
    )?);
    let (vault, _) = datadir::open_beside_server(&config, Arc::new(SystemClock)).await?;
    let alerts: Arc<dyn phivault_server::access::AlertHook> =
        Arc::new(phivault_server::access::AlertLog::default());
    Ok(AppState::new(Arc::new(vault), config, alerts).await?)
}

async fn explain(a: ExplainArgs) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let state = open_state(a.data_dir.clone(), a.database.clone()).await?;
    let Some(user) = state.vault.store().get_user(&a.user).await? else {
        return Err(format!("no user `{}`", a.user).into());
    };
    if user.disabled {
        out::line(format_args!("deny: user `{}` is disabled", user.id));
        return Ok(false);
    }
    let principal = Principal {
        roles: state.roles.resolve(&user.roles),
        id: user.id,
        token_id: String::new(),
        admin: false,
    };
    let target = Target {
        collection: &a.collection,
        record: a.record.as_deref(),
        links_to: None,
    };
    let at = a.at.unwrap_or_else(jiff::Timestamp::now);
    let decision = state
        .evaluate(&principal, &action(&a.action), target, a.ip, at)
        .await
        .map_err(|e| format!("cannot decide: {}", e.message))?;
    out::line(format_args!(
        "user `{}` (roles: {}) {} {} at {at} from {}",
        principal.id,
        if user.roles.is_empty() {
            "none".to_owned()
        } else {
            user.roles.join(", ")
        },
        a.action,
        a.record
            .as_deref()
            .map_or_else(|| a.collection.clone(), |r| format!("{}/{r}", a.collection)),
        a.ip
    ));
    match decision {
        Decision::Allow { grant, reason } => {
            out::line(format_args!("allow: {reason}"));
            if grant.care_team_only() {
                out::line("  results limited to the user's care-team patients");
            }
            Ok(true)
        }
        Decision::Deny(why) => {
            out::line(format_args!("deny ({}): {why}", why.code()));
            Ok(false)
        }
    }
}

/// Exit status for a policy answer.
pub fn finish(r: Result<bool, Box<dyn std::error::Error + Send + Sync>>) -> CliResult {
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err("the decision is deny".into()),
        Err(e) => Err(e),
    }
}
