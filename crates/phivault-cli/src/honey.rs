//! `phivault honey create` plants decoy patients (created through the
//! server like real intake, then flagged in the store: any later access is
//! a critical alert); `phivault flag` marks VIP and employee-patient
//! records for the `flagged` rule.

use crate::client::{Client, ServerArgs};
use crate::keys::At as Store;
use crate::out::{self, CliResult};

/// Honey records.
#[derive(Debug, clap::Subcommand)]
pub enum HoneyCmd {
    /// Create decoy patients (with a token allowed to create patients).
    Create {
        #[command(flatten)]
        at: Store,
        #[command(flatten)]
        server: ServerArgs,
        /// How many.
        #[arg(long, default_value_t = 3)]
        count: u32,
    },
    /// How many honey records exist (their ids only with `--ids`).
    List {
        #[command(flatten)]
        at: Store,
        /// Print the ids too.
        #[arg(long)]
        ids: bool,
    },
}

/// VIP and employee-patient flags.
#[derive(Debug, clap::Subcommand)]
pub enum FlagCmd {
    /// Flag a patient record `vip` or `employee`.
    Set {
        #[command(flatten)]
        at: Store,
        /// The patient record id.
        #[arg(long)]
        patient: String,
        /// `vip` or `employee`.
        #[arg(long)]
        kind: String,
    },
    /// Remove a patient's flag.
    Clear {
        #[command(flatten)]
        at: Store,
        /// The patient record id.
        #[arg(long)]
        patient: String,
    },
}

/// Opens the store named by the data directory's configuration.
pub async fn open_store(
    at: &Store,
) -> Result<std::sync::Arc<dyn phivault_store::Store>, Box<dyn std::error::Error + Send + Sync>> {
    use phivault_server::config::{Config, FileConfig};
    let over = FileConfig {
        database: at.database.clone(),
        ..Default::default()
    };
    let config = Config::resolve(at.data_dir.clone(), over, FileConfig::load(&at.data_dir)?)?;
    Ok(phivault_store::open(&config.store_location()).await?)
}

fn now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// Runs `phivault honey …`.
pub async fn run(cmd: HoneyCmd) -> CliResult {
    match cmd {
        HoneyCmd::Create { at, server, count } => {
            let store = open_store(&at).await?;
            let client = Client::new(&server, &at.data_dir)?;
            for _ in 0..count {
                let body = serde_json::json!({
                    "fields": serde_json::Value::Object(phivault_server::breach::honey::decoy())
                });
                let v = client
                    .post("/v1/collections/patients/records", &body)
                    .await?;
                let id = v
                    .get("id")
                    .and_then(|i| i.as_str())
                    .ok_or("the server did not return a record id")?;
                store.set_patient_flag(id, "honey", now()).await?;
            }
            out::line(format_args!(
                "planted {count} honey record(s); any access to one is a critical alert"
            ));
            Ok(())
        }
        HoneyCmd::List { at, ids } => {
            let store = open_store(&at).await?;
            let honey: Vec<String> = store
                .patient_flags()
                .await?
                .into_iter()
                .filter(|(_, f)| f == "honey")
                .map(|(id, _)| id)
                .collect();
            out::line(format_args!("{} honey record(s)", honey.len()));
            if ids {
                for id in honey {
                    out::line(id);
                }
            }
            Ok(())
        }
    }
}

/// Runs `phivault flag …`.
pub async fn run_flag(cmd: FlagCmd) -> CliResult {
    match cmd {
        FlagCmd::Set { at, patient, kind } => {
            if kind != "vip" && kind != "employee" {
                return Err("--kind must be `vip` or `employee`".into());
            }
            let store = open_store(&at).await?;
            if store.get_record("patients", &patient).await?.is_none() {
                return Err("no patient record with this id".into());
            }
            store.set_patient_flag(&patient, &kind, now()).await?;
            out::line(format_args!("flagged {patient} as {kind}"));
            Ok(())
        }
        FlagCmd::Clear { at, patient } => {
            let store = open_store(&at).await?;
            let gone = store.clear_patient_flag(&patient).await?;
            out::line(if gone {
                "flag removed"
            } else {
                "no flag was set"
            });
            Ok(())
        }
    }
}
