//! `phivault keys`: KEK status, rotation (rewrap every DEK, no PHI field is
//! decrypted), retirement, scans and crypto-shredding.
//!
//! Rotation is resumable by construction: its work list is "every DEK not
//! under the current KEK version" (keyset pages by record id, each DEK moved
//! by a compare-and-swap on the old wrapped bytes), so a rerun with
//! `--resume` after a crash continues where the store says it stopped; no
//! progress file can disagree with the store. Events go through the audit
//! outbox (`audit-outbox/`), which the server appends to its log; see
//! `phivault_server::audit::outbox`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use phivault_audit::{Event, Outcome};
use phivault_core::envelope::{Algorithm, FORMAT_V1, WrappedDek, field_header};
use phivault_keys::KeyProvider;
use phivault_keys::keyring::Keyring;
use phivault_server::audit::{Who, outbox};
use phivault_server::config::{Config, FileConfig};
use phivault_server::datadir;
use phivault_store::{DekFilter, DekSwap, SHREDDED_KEK_VERSION, Store};

use crate::out::{self, CliResult};

/// Where the vault is.
#[derive(Debug, clap::Args)]
pub struct At {
    /// Data directory (holds `keys/`).
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    data_dir: PathBuf,
    /// PostgreSQL URL (default: the SQLite file in the data directory).
    #[arg(long, env = "PHIVAULT_DATABASE")]
    database: Option<String>,
}

/// Key management.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCmd {
    /// KEK versions, their age, DEKs per version, keyring protection.
    Status {
        #[command(flatten)]
        at: At,
        /// Rotation period: a current KEK older than this is flagged.
        #[arg(long, default_value_t = 90)]
        period_days: u32,
    },
    /// Add a KEK version and rewrap every DEK under it.
    Rotate {
        #[command(flatten)]
        at: At,
        /// Do not add a version: finish rewrapping to the current one
        /// (after an interrupted rotation).
        #[arg(long)]
        resume: bool,
        /// DEKs per page (one transaction each).
        #[arg(long, default_value_t = 500)]
        page: u32,
    },
    /// Remove KEK versions below `--below`; refused while a DEK uses one.
    Retire {
        #[command(flatten)]
        at: At,
        /// The oldest version to keep.
        #[arg(long)]
        below: u32,
    },
    /// Records sealed with a deprecated algorithm or a KEK below `--min-version`.
    Scan {
        #[command(flatten)]
        at: At,
        /// Lowest acceptable KEK version (default: the current one).
        #[arg(long)]
        min_version: Option<u32>,
    },
    /// Destroy the keys of a patient's record and of every linked record.
    Shred {
        #[command(flatten)]
        at: At,
        /// The patient record id.
        #[arg(long)]
        patient: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

struct Ctx {
    config: Config,
    store: Arc<dyn Store>,
    keyring: Keyring,
}

async fn open(at: &At) -> Result<Ctx, Box<dyn std::error::Error + Send + Sync>> {
    let over = FileConfig {
        database: at.database.clone(),
        ..Default::default()
    };
    let config = Config::resolve(at.data_dir.clone(), over, FileConfig::load(&at.data_dir)?)?;
    let keyring = datadir::open_keyring(&config.data_dir.join("keys"))?;
    datadir::check_separation(&config, keyring.path())?;
    let store = phivault_store::open(&config.store_location()).await?;
    Ok(Ctx {
        config,
        store,
        keyring,
    })
}

fn event(action: &str, resource: String) -> Event {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    Who::operator(&format!("cli:{user}")).event(
        jiff::Timestamp::now(),
        action,
        resource,
        Outcome::Success,
    )
}

/// Makes events durable in the outbox; on the embedded store with no
/// server holding `audit/LOCK`, appends them to the log at once.
async fn record(ctx: &Ctx, events: Vec<Event>) -> CliResult {
    outbox::write(&ctx.config.data_dir, &events)
        .map_err(|e| format!("audit outbox: cannot record the events: {e}"))?;
    if ctx.store.backend() == "sqlite" {
        if let Ok(log) = datadir::open_audit(&ctx.config, &ctx.store, true).await {
            outbox::drain(&ctx.config.data_dir, &log).await?;
        } else {
            out::err("audit: the server holds the log; it appends these events within 30 s");
        }
    }
    Ok(())
}

/// Runs a `keys` subcommand.
pub async fn run(cmd: KeysCmd) -> CliResult {
    match cmd {
        KeysCmd::Status { at, period_days } => status(&open(&at).await?, period_days).await,
        KeysCmd::Rotate { at, resume, page } => rotate(&open(&at).await?, resume, page).await,
        KeysCmd::Retire { at, below } => retire(&open(&at).await?, below).await,
        KeysCmd::Scan { at, min_version } => scan(&open(&at).await?, min_version).await,
        KeysCmd::Shred { at, patient, yes } => shred(&open(&at).await?, &patient, yes).await,
    }
}

async fn status(ctx: &Ctx, period_days: u32) -> CliResult {
    let counts = ctx.store.count_deks_by_kek().await?;
    let count = |v: u32| counts.iter().find(|(k, _)| *k == v).map_or(0, |(_, n)| *n);
    let current = ctx.keyring.current().version;
    out::line(format_args!(
        "keyring: {} ({})",
        ctx.keyring.path().display(),
        if ctx.keyring.is_protected() {
            "passphrase-protected"
        } else {
            "NOT passphrase-protected"
        }
    ));
    for k in ctx.keyring.keks() {
        let created = k.created_at.map_or("unknown".into(), |t| t.to_string());
        let mark = if k.version == current {
            " (current)"
        } else {
            ""
        };
        out::line(format_args!(
            "kek {}{mark}: created {created}, {} DEKs",
            k.version,
            count(k.version)
        ));
    }
    let shredded = count(SHREDDED_KEK_VERSION);
    if shredded > 0 {
        out::line(format_args!("shredded records: {shredded}"));
    }
    let known: Vec<u32> = ctx.keyring.keks().iter().map(|k| k.version).collect();
    for (v, n) in &counts {
        if *v != SHREDDED_KEK_VERSION && !known.contains(v) {
            out::line(format_args!(
                "WARNING: {n} DEKs under kek {v}, which the keyring lacks"
            ));
        }
    }
    let age = ctx
        .keyring
        .keks()
        .last()
        .and_then(|k| k.created_at)
        .map(|t| jiff::Timestamp::now().duration_since(t).as_secs() / 86_400);
    match age {
        Some(d) if d > i64::from(period_days) => out::line(format_args!(
            "WARNING: current kek is {d} days old (rotation period {period_days} days): run `phivault keys rotate`"
        )),
        Some(d) => out::line(format_args!(
            "current kek age: {d} days (period {period_days})"
        )),
        None => out::line("current kek age: unknown"),
    }
    Ok(())
}

async fn rotate(ctx: &Ctx, resume: bool, page: u32) -> CliResult {
    if !resume {
        let kek = ctx.keyring.rotate(jiff::Timestamp::now()).await?;
        out::err(format_args!("rotated: kek {} is current", kek.version));
        record(
            ctx,
            vec![event("key_rotated", format!("kek/{}", kek.version))],
        )
        .await?;
    }
    let target = ctx.keyring.current();
    let todo = |c: &[(u32, u64)]| -> u64 {
        c.iter()
            .filter(|(v, _)| *v != target.version && *v != SHREDDED_KEK_VERSION)
            .map(|(_, n)| n)
            .sum()
    };
    let total = todo(&ctx.store.count_deks_by_kek().await?);
    let (start, mut done, mut failed) = (Instant::now(), 0u64, 0u64);
    // A CAS lost to a concurrent change leaves that DEK in the work list:
    // a few passes pick such stragglers up.
    for _pass in 0..3 {
        let mut after: Option<String> = None;
        loop {
            let rows = ctx
                .store
                .list_deks(DekFilter::NotAt(target.version), after.as_deref(), page)
                .await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.id.clone());
            let mut swaps = Vec::with_capacity(rows.len());
            for r in rows {
                let new = match WrappedDek::decode(&r.wrapped_dek) {
                    Ok(w) => ctx.keyring.rewrap(&w, &r.collection, &r.id).await,
                    Err(_) => {
                        failed += 1;
                        continue;
                    }
                };
                match new {
                    Ok(n) => swaps.push(DekSwap {
                        kek_version: n.kek.version,
                        new: n.encode(),
                        old: r.wrapped_dek,
                        collection: r.collection,
                        id: r.id,
                    }),
                    Err(_) => failed += 1,
                }
            }
            done += ctx.store.swap_deks(swaps).await?;
            let secs = start.elapsed().as_secs_f64().max(1e-3);
            let rate = done as f64 / secs;
            let eta = total.saturating_sub(done) as f64 / rate.max(1e-9);
            out::err(format_args!(
                "progress: rewrapped {done}/{total} ({rate:.0}/s, ETA {eta:.0} s)"
            ));
        }
        if todo(&ctx.store.count_deks_by_kek().await?) <= failed {
            break;
        }
    }
    let left = todo(&ctx.store.count_deks_by_kek().await?);
    let mut e = event("dek_rewrapped", format!("kek/{}", target.version));
    e.count = Some(done);
    record(ctx, vec![e]).await?;
    out::line(format_args!(
        "rewrapped {done} DEKs to kek {} in {:.1} s; {left} not at it ({failed} failed to unwrap)",
        target.version,
        start.elapsed().as_secs_f64()
    ));
    if left > 0 {
        return Err(format!(
            "{left} DEKs are not under kek {}; rerun with --resume",
            target.version
        )
        .into());
    }
    Ok(())
}

async fn retire(ctx: &Ctx, below: u32) -> CliResult {
    let counts = ctx.store.count_deks_by_kek().await?;
    let in_use: Vec<String> = counts
        .iter()
        .filter(|(v, n)| *v != SHREDDED_KEK_VERSION && *v < below && *n > 0)
        .map(|(v, n)| format!("kek {v}: {n} DEKs"))
        .collect();
    if !in_use.is_empty() {
        return Err(format!(
            "refusing to retire: DEKs still use older versions ({}); run `phivault keys rotate --resume` first",
            in_use.join(", ")
        )
        .into());
    }
    let removed = ctx.keyring.retire_below(below).await?;
    let mut e = event("kek_retired", format!("kek/below/{below}"));
    e.count = Some(removed.len() as u64);
    record(ctx, vec![e]).await?;
    out::line(format_args!("retired kek versions {removed:?}"));
    Ok(())
}

async fn scan(ctx: &Ctx, min_version: Option<u32>) -> CliResult {
    let min = min_version.unwrap_or(ctx.keyring.current().version);
    let (mut after, mut old_kek, mut bad_alg, mut seen) = (None::<String>, 0u64, 0u64, 0u64);
    loop {
        let rows = ctx
            .store
            .list_deks(DekFilter::All, after.as_deref(), 500)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id.clone());
        for r in rows {
            seen += 1;
            if r.kek_version < min {
                old_kek += 1;
                out::line(format_args!(
                    "{}/{}: kek {} < {min}",
                    r.collection, r.id, r.kek_version
                ));
            }
            let Some(rec) = ctx.store.get_record(&r.collection, &r.id).await? else {
                continue;
            };
            let deprecated = rec.sealed.values().any(|s| {
                field_header(s).is_none_or(|(ver, alg, _)| {
                    ver != FORMAT_V1 || Algorithm::from_id(alg) != Some(Algorithm::Aes256Gcm)
                })
            });
            if deprecated {
                bad_alg += 1;
                out::line(format_args!(
                    "{}/{}: deprecated or unknown field algorithm",
                    r.collection, r.id
                ));
            }
        }
    }
    out::line(format_args!(
        "scanned {seen} records: {old_kek} under a kek below {min}, {bad_alg} with a deprecated algorithm"
    ));
    Ok(())
}

async fn shred(ctx: &Ctx, patient: &str, yes: bool) -> CliResult {
    if !yes {
        out::err(format_args!(
            "this destroys the keys of patient `{patient}` and every linked record: the data becomes unrecoverable. Type `shred` to continue:"
        ));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != "shred" {
            return Err("not confirmed; nothing changed".into());
        }
    }
    // The event is durable before anything is destroyed (fail closed).
    let mut e = event("patient_shredded", format!("patients/{patient}"));
    e.patient_id = Some(patient.to_owned());
    record(ctx, vec![e]).await?;
    let gone = ctx.store.shred_patient(patient).await?;
    out::line(format_args!(
        "shredded {} records of patient {patient}",
        gone.len()
    ));
    for g in &gone {
        out::line(format_args!("  {}/{}", g.collection, g.id));
    }
    Ok(())
}
