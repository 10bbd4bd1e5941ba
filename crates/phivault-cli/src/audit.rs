//! `phivault audit`: verify the trail, check proofs offline, export it,
//! account for a patient's disclosures. These read the store directly and
//! never start the server (a tampered log must still be examinable).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use phivault_audit::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use phivault_audit::{Checkpoint, Event, VerifierKey, export};
use phivault_server::config::{Config, FileConfig};
use phivault_server::datadir;
use phivault_store::audit::{AuditQuery, AuditStore};

use crate::out::{self, CliResult};

/// Where the trail is.
#[derive(Debug, clap::Args)]
pub struct Location {
    /// Data directory.
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    data_dir: PathBuf,
    /// PostgreSQL URL (default: segment files in the data directory).
    #[arg(long, env = "PHIVAULT_DATABASE")]
    database: Option<String>,
}

/// Audit tools.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCmd {
    /// Recompute the tree from the stored events and check every signed
    /// checkpoint; exits non-zero naming the first bad index.
    Verify {
        #[command(flatten)]
        at: Location,
        /// Verifier key (`name+id+key`) or a file holding it (default: the
        /// data directory's `audit-key/verifier.txt`).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Check an inclusion or consistency proof offline, with only the
    /// public key, a signed checkpoint and the proof JSON the API returned.
    VerifyProof {
        /// Verifier key or a file holding it.
        #[arg(long)]
        public_key: String,
        /// The signed checkpoint (file).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The proof JSON (file) from `/v1/audit/proofs/…`.
        #[arg(long)]
        proof: PathBuf,
        /// For an inclusion proof: the event JSON (file), as stored.
        #[arg(long)]
        event: Option<PathBuf>,
        /// For a consistency proof: the older signed checkpoint (file).
        #[arg(long)]
        old_checkpoint: Option<PathBuf>,
    },
    /// Export events: JSON lines (Splunk HEC), CEF, or FHIR R4 AuditEvent.
    Export {
        #[command(flatten)]
        at: Location,
        /// `jsonl`, `cef` or `fhir`.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Earliest time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Latest time (RFC 3339, exclusive).
        #[arg(long)]
        until: Option<String>,
    },
    /// The accounting of disclosures for one patient.
    Disclosures {
        #[command(flatten)]
        at: Location,
        /// The patient's record id.
        #[arg(long)]
        patient: String,
        /// Print JSON instead of the readable report.
        #[arg(long)]
        json: bool,
    },
}

fn key_of(text_or_path: &str) -> Result<VerifierKey, Box<dyn std::error::Error + Send + Sync>> {
    let text = match std::fs::read_to_string(text_or_path) {
        Ok(t) => t,
        Err(_) => text_or_path.to_owned(),
    };
    Ok(VerifierKey::parse(&text).map_err(|e| format!("--public-key: {e}"))?)
}

async fn open(
    at: &Location,
) -> Result<(Config, Arc<dyn AuditStore>), Box<dyn std::error::Error + Send + Sync>> {
    let over = FileConfig {
        database: at.database.clone(),
        ..Default::default()
    };
    let config = Config::resolve(at.data_dir.clone(), over, FileConfig::load(&at.data_dir)?)?;
    let store = phivault_store::open(&config.store_location()).await?;
    let audit = datadir::audit_store(&config, &store, false)?;
    Ok((config, audit))
}

async fn all_events(
    store: &Arc<dyn AuditStore>,
    q: AuditQuery,
) -> Result<Vec<Event>, Box<dyn std::error::Error + Send + Sync>> {
    let frames = store
        .query(&AuditQuery {
            limit: usize::MAX,
            ..q
        })
        .await?;
    frames
        .iter()
        .map(|f| {
            Event::decode(&f.event).map_err(|_| format!("event {} is unreadable", f.index).into())
        })
        .collect()
}

fn time(
    name: &str,
    v: &Option<String>,
) -> Result<Option<i64>, Box<dyn std::error::Error + Send + Sync>> {
    v.as_ref()
        .map(|s| {
            s.parse::<jiff::Timestamp>()
                .map(|t| t.as_microsecond())
                .map_err(|_| format!("--{name} must be an RFC 3339 time").into())
        })
        .transpose()
}

fn hashes(v: &serde_json::Value) -> Result<Vec<Hash>, Box<dyn std::error::Error + Send + Sync>> {
    v.get("proof")
        .and_then(|p| p.as_array())
        .ok_or("proof file has no `proof` array")?
        .iter()
        .map(|h| {
            let b = B64.decode(h.as_str().unwrap_or_default())?;
            Ok(<Hash>::try_from(b.as_slice()).map_err(|_| "proof hash is not 32 bytes")?)
        })
        .collect()
}

fn field(
    v: &serde_json::Value,
    name: &str,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    Ok(v.get(name)
        .and_then(|x| x.as_u64())
        .ok_or_else(|| format!("proof file has no `{name}`"))?)
}

/// Runs an audit subcommand.
pub async fn run(cmd: AuditCmd) -> CliResult {
    match cmd {
        AuditCmd::Verify { at, public_key } => {
            let (config, store) = open(&at).await?;
            let key = match public_key {
                Some(k) => key_of(&k)?,
                None => key_of(
                    &phivault_server::audit::verifier_path(&config.data_dir).to_string_lossy(),
                )?,
            };
            let ok = phivault_server::audit::verify::verify_store(&store, &key).await?;
            out::line(format_args!(
                "ok: {} events, {} checkpoints verified (newest signed size {}), root {}",
                ok.events,
                ok.checkpoints,
                ok.signed_size,
                B64.encode(ok.root)
            ));
            Ok(())
        }
        AuditCmd::VerifyProof {
            public_key,
            checkpoint,
            proof,
            event,
            old_checkpoint,
        } => {
            let key = key_of(&public_key)?;
            let cp = Checkpoint::open(&std::fs::read_to_string(&checkpoint)?, &key)
                .map_err(|e| format!("--checkpoint: {e}"))?;
            let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof)?)
                .map_err(|_| "--proof is not JSON")?;
            let path = hashes(&p)?;
            if let Some(ev) = event {
                let bytes = std::fs::read(&ev)?;
                let index = field(&p, "index")?;
                if field(&p, "tree_size")? != cp.size {
                    return Err("the proof is for another tree size than the checkpoint".into());
                }
                verify_inclusion(index, cp.size, &leaf_hash(&bytes), &path, &cp.root)
                    .map_err(|e| format!("inclusion proof rejected: {e}"))?;
                out::line(format_args!(
                    "ok: event {index} is in the log of {} events signed by {}",
                    cp.size,
                    key.name()
                ));
            } else if let Some(old) = old_checkpoint {
                let old = Checkpoint::open(&std::fs::read_to_string(&old)?, &key)
                    .map_err(|e| format!("--old-checkpoint: {e}"))?;
                if field(&p, "from")? != old.size || field(&p, "to")? != cp.size {
                    return Err("the proof is for other sizes than the checkpoints".into());
                }
                verify_consistency(old.size, cp.size, &old.root, &cp.root, &path)
                    .map_err(|e| format!("consistency proof rejected: {e}"))?;
                out::line(format_args!(
                    "ok: the log of {} events extends the log of {} events",
                    cp.size, old.size
                ));
            } else {
                return Err("give --event (inclusion) or --old-checkpoint (consistency)".into());
            }
            Ok(())
        }
        AuditCmd::Export {
            at,
            format,
            since,
            until,
        } => {
            let (_, store) = open(&at).await?;
            let q = AuditQuery {
                since: time("since", &since)?,
                until: time("until", &until)?,
                ..Default::default()
            };
            for e in all_events(&store, q).await? {
                match format.as_str() {
                    "jsonl" => out::line(export::splunk_hec(&e)),
                    "cef" => out::line(export::cef(&e)),
                    "fhir" => out::line(export::fhir_audit_event(&e)),
                    _ => return Err("--format must be jsonl, cef or fhir".into()),
                }
            }
            Ok(())
        }
        AuditCmd::Disclosures { at, patient, json } => {
            let (_, store) = open(&at).await?;
            let q = AuditQuery {
                patient_id: Some(patient.clone()),
                ..Default::default()
            };
            let list = phivault_server::audit::report::disclosures(
                &patient,
                &all_events(&store, q).await?,
            );
            if json {
                out::line(serde_json::to_string_pretty(&list)?);
            } else {
                out::line(phivault_server::audit::report::render(&patient, &list));
            }
            Ok(())
        }
    }
}
