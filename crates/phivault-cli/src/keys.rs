//! `phivault keys`: KEK status, rotation (rewrap every DEK, no PHI field is
//! decrypted), retirement, re-encryption, scans and crypto-shredding, on the
//! provider `config.toml` names (`key_provider`), beside a running server.
//!
//! Rotation is resumable by construction: its work list is "every DEK not
//! under the current KEK" (see `phivault_server::rekey`), so a rerun with
//! `--resume` after a crash continues where the store says it stopped.
//! Re-encryption keeps a cursor in `rekey/` after each finished page.
//! Events go through the audit outbox (`audit-outbox/`), which the server
//! appends to its log; see `phivault_server::audit::outbox`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use phivault_audit::{Event, Outcome};
use phivault_core::envelope::{Algorithm, FORMAT_V1, field_header};
use phivault_keys::KeyProvider;
use phivault_keys::keyring::Keyring;
use phivault_keys::router::{Providers, kek_slot, kind_name, slot_kek};
use phivault_server::audit::{Who, outbox};
use phivault_server::config::{Config, FileConfig};
use phivault_server::datadir;
use phivault_server::rekey::{self, Cursor, Pace, Progress};
use phivault_store::{DekFilter, SHREDDED_KEK_VERSION, Store};

use crate::out::{self, CliResult};

/// Where the vault is.
#[derive(Debug, Clone, clap::Args)]
pub struct At {
    /// Data directory (holds `keys/`).
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    pub(crate) data_dir: PathBuf,
    /// PostgreSQL URL (default: the SQLite file in the data directory).
    #[arg(long, env = "PHIVAULT_DATABASE")]
    pub(crate) database: Option<String>,
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
        /// (after an interrupted rotation, or after switching provider).
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        pace: PaceArgs,
    },
    /// Give records new DEKs and reseal their fields (suspected DEK
    /// compromise, deprecated algorithm). Atomic per record, resumable.
    Reencrypt {
        #[command(flatten)]
        at: At,
        /// The collection.
        #[arg(long)]
        collection: String,
        /// Only this record.
        #[arg(long)]
        record: Option<String>,
        /// Continue an interrupted run from its saved cursor.
        #[arg(long, conflicts_with = "record")]
        resume: bool,
        #[command(flatten)]
        pace: PaceArgs,
    },
    /// Rotate the blind-index root: add a version, rewrite every tag under
    /// it (searches keep working throughout), then retire the older ones.
    Reindex {
        #[command(flatten)]
        at: At,
        /// Continue an interrupted reindex from its saved cursor.
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        pace: PaceArgs,
    },
    /// Seal the keyring under a new passphrase (argon2id), from
    /// `PHIVAULT_KEYRING_NEW_PASSPHRASE` or the file named by
    /// `PHIVAULT_KEYRING_NEW_PASSPHRASE_FILE`; the current one, if any, from
    /// `PHIVAULT_KEYRING_PASSPHRASE`.
    Protect {
        #[command(flatten)]
        at: At,
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

/// How fast bulk work runs.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PaceArgs {
    /// Records per page (one transaction each).
    #[arg(long, default_value_t = 500)]
    page: u32,
    /// At most this many records per second (leave the API its throughput).
    #[arg(long)]
    max_rate: Option<u32>,
}

impl From<PaceArgs> for Pace {
    fn from(p: PaceArgs) -> Self {
        Self {
            page: p.page.max(1),
            max_rate: p.max_rate,
        }
    }
}

pub struct Ctx {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) keys: Providers,
}

pub async fn open(at: &At) -> Result<Ctx, Box<dyn std::error::Error + Send + Sync>> {
    let over = FileConfig {
        database: at.database.clone(),
        ..Default::default()
    };
    let config = Config::resolve(at.data_dir.clone(), over, FileConfig::load(&at.data_dir)?)?;
    let keyring = Arc::new(datadir::open_keyring(&config.data_dir.join("keys"))?);
    datadir::check_separation(&config, keyring.path())?;
    let store = phivault_store::open(&config.store_location()).await?;
    datadir::check_store_separation(&config, &store, keyring.path()).await?;
    let keys = phivault_server::providers::open(&config, Arc::clone(&keyring)).await?;
    Ok(Ctx {
        config,
        store,
        keyring,
        keys,
    })
}

/// A progress bar with rate and ETA on a terminal; plain `progress:` lines
/// on stderr otherwise (logs, scripts, tests).
struct Meter {
    bar: indicatif::ProgressBar,
    start: Instant,
    total: u64,
    verb: &'static str,
}

impl Meter {
    fn new(total: u64, verb: &'static str) -> Self {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} ({per_sec}, ETA {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(verb);
        Self {
            bar,
            start: Instant::now(),
            total,
            verb,
        }
    }

    fn set(&self, done: u64) {
        if !self.bar.is_hidden() {
            self.bar.set_position(done);
            return;
        }
        let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-3);
        let eta = self.total.saturating_sub(done) as f64 / rate.max(1e-9);
        out::err(format_args!(
            "progress: {} {done}/{} ({rate:.0}/s, ETA {eta:.0} s)",
            self.verb, self.total
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub fn cli_who() -> Who {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    Who::operator(&format!("cli:{user}"))
}

fn event(action: &str, resource: String) -> Event {
    cli_who().event(jiff::Timestamp::now(), action, resource, Outcome::Success)
}

async fn record(ctx: &Ctx, events: Vec<Event>) -> CliResult {
    record_events(&ctx.config, &ctx.store, events).await
}

/// Makes events durable in the outbox, then appends them to the log at
/// once when this process can write it (PostgreSQL, whose writers share
/// the log; the embedded store when no server holds `audit/LOCK`). Else the
/// server appends them: within a second after a lockdown change, within
/// 30 s otherwise.
pub async fn record_events(
    config: &Config,
    store: &Arc<dyn Store>,
    events: Vec<Event>,
) -> CliResult {
    outbox::write(&config.data_dir, &events)
        .map_err(|e| format!("audit outbox: cannot record the events: {e}"))?;
    match datadir::open_audit(config, store, true).await {
        Ok(log) => {
            outbox::drain(&config.data_dir, &log).await?;
        }
        Err(_) => out::err("audit: the server holds the log; it appends these events shortly"),
    }
    Ok(())
}

/// Runs a `keys` subcommand.
pub async fn run(cmd: KeysCmd) -> CliResult {
    match cmd {
        KeysCmd::Status { at, period_days } => status(&open(&at).await?, period_days).await,
        KeysCmd::Rotate { at, resume, pace } => {
            rotate(&open(&at).await?, resume, pace.into()).await
        }
        KeysCmd::Reencrypt {
            at,
            collection,
            record,
            resume,
            pace,
        } => {
            reencrypt(
                &open(&at).await?,
                collection,
                record.as_deref(),
                resume,
                pace.into(),
            )
            .await
        }
        KeysCmd::Reindex { at, resume, pace } => {
            reindex(&open(&at).await?, resume, pace.into()).await
        }
        KeysCmd::Protect { at } => protect(&at),
        KeysCmd::Retire { at, below } => retire(&open(&at).await?, below).await,
        KeysCmd::Scan { at, min_version } => scan(&open(&at).await?, min_version).await,
        KeysCmd::Shred { at, patient, yes } => shred(&open(&at).await?, &patient, yes).await,
    }
}

/// Key metadata for evidence bundles: provider, versions and their ages,
/// DEK counts per version, keyring protection. Never key material.
pub async fn metadata(
    ctx: &Ctx,
) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
    let counts = ctx.store.count_deks_by_kek().await?;
    let current = ctx.keys.current();
    let versions: Vec<serde_json::Value> = ctx
        .keys
        .versions()
        .await?
        .iter()
        .map(|k| {
            let slot = kek_slot(phivault_core::envelope::KekRef {
                provider: current.provider,
                version: k.version,
            });
            serde_json::json!({
                "version": k.version,
                "created_at": k.created_at.map(|t| t.to_string()),
                "current": k.version == current.version,
                "deks": counts.iter().find(|(s, _)| *s == slot).map_or(0, |(_, n)| *n),
            })
        })
        .collect();
    let roots: Vec<u32> = ctx.keyring.index_roots().iter().map(|(v, _)| *v).collect();
    Ok(serde_json::json!({
        "provider": kind_name(current.provider),
        "keyring_protected": ctx.keyring.is_protected(),
        "kek_versions": versions,
        "index_root_versions_active": roots,
        "index_root_current": ctx.keyring.current_index_version(),
        "shredded_records": counts.iter().find(|(s, _)| *s == SHREDDED_KEK_VERSION).map_or(0, |(_, n)| *n),
    }))
}

async fn status(ctx: &Ctx, period_days: u32) -> CliResult {
    let counts = ctx.store.count_deks_by_kek().await?;
    let count = |slot: u32| {
        counts
            .iter()
            .find(|(k, _)| *k == slot)
            .map_or(0, |(_, n)| *n)
    };
    let current = ctx.keys.current();
    out::line(format_args!(
        "key provider: {}",
        kind_name(current.provider)
    ));
    out::line(format_args!(
        "keyring: {} ({})",
        ctx.keyring.path().display(),
        if ctx.keyring.is_protected() {
            "passphrase-protected"
        } else {
            "NOT passphrase-protected"
        }
    ));
    let versions = ctx.keys.versions().await?;
    let mut known = Vec::new();
    for k in &versions {
        let kek = phivault_core::envelope::KekRef {
            provider: current.provider,
            version: k.version,
        };
        known.push(kek_slot(kek));
        let created = k.created_at.map_or("unknown".into(), |t| t.to_string());
        let mark = if k.version == current.version {
            " (current)"
        } else {
            ""
        };
        out::line(format_args!(
            "kek {}{mark}: created {created}, {} DEKs",
            k.version,
            count(kek_slot(kek))
        ));
    }
    let roots: Vec<u32> = ctx.keyring.index_roots().iter().map(|(v, _)| *v).collect();
    out::line(format_args!(
        "blind-index root: version {} (active: {roots:?})",
        ctx.keyring.current_index_version()
    ));
    let shredded = count(SHREDDED_KEK_VERSION);
    if shredded > 0 {
        out::line(format_args!("shredded records: {shredded}"));
    }
    for (slot, n) in &counts {
        if *slot == SHREDDED_KEK_VERSION || known.contains(slot) {
            continue;
        }
        let k = slot_kek(*slot);
        if k.provider == current.provider {
            out::line(format_args!(
                "WARNING: {n} DEKs under kek {}, which the provider lacks",
                k.version
            ));
        } else {
            out::line(format_args!(
                "{n} DEKs under {} kek {}: run `phivault keys rotate --resume` to move them",
                kind_name(k.provider),
                k.version
            ));
        }
    }
    match phivault_server::providers::current_age_days(&ctx.keys, jiff::Timestamp::now()).await {
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

async fn rotate(ctx: &Ctx, resume: bool, pace: Pace) -> CliResult {
    if !resume {
        // The intent is durable first; the keyring serializes rotations
        // across processes (`keys/LOCK`).
        record(ctx, vec![event("key_rotation_started", "kek".into())]).await?;
        let kek = ctx.keys.rotate(jiff::Timestamp::now()).await?;
        record(
            ctx,
            vec![event("key_rotated", format!("kek/{}", kek.version))],
        )
        .await?;
        out::err(format_args!("rotated: kek {} is current", kek.version));
    }
    let target = ctx.keys.current();
    let start = Instant::now();
    let total = rekey::outstanding(ctx.store.as_ref(), kek_slot(target)).await?;
    let m = Meter::new(total, "rewrapped");
    let p = rekey::rewrap(ctx.store.as_ref(), &ctx.keys, pace, &mut |p: Progress| {
        m.set(p.done);
    })
    .await;
    m.finish();
    let p = p?;
    let target = ctx.keys.current();
    let left = rekey::outstanding(ctx.store.as_ref(), kek_slot(target)).await?;
    let mut e = event("dek_rewrapped", format!("kek/{}", target.version));
    e.count = Some(p.done);
    record(ctx, vec![e]).await?;
    let secs = start.elapsed().as_secs_f64();
    out::line(format_args!(
        "rewrapped {} DEKs to kek {} in {secs:.1} s ({:.0}/s); {left} not at it ({} failed to unwrap)",
        p.done,
        target.version,
        p.done as f64 / secs.max(1e-6),
        p.failed
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

/// Where a re-encryption's cursor is kept (the data directory, apart
/// from the keys).
fn cursor_path(data_dir: &Path, collection: &str) -> PathBuf {
    data_dir
        .join("rekey")
        .join(format!("reencrypt-{collection}.json"))
}

async fn reencrypt(
    ctx: &Ctx,
    collection: String,
    record_id: Option<&str>,
    resume: bool,
    pace: Pace,
) -> CliResult {
    let schema_path = ctx.config.data_dir.join("schema.toml");
    let schema = phivault_core::schema::Schema::from_toml(
        &std::fs::read_to_string(&schema_path)
            .map_err(|e| format!("`{}`: {e}", schema_path.display()))?,
    )?;
    if schema.collection(&collection).is_none() {
        return Err(format!("`--collection`: no collection `{collection}` in the schema").into());
    }
    let path = cursor_path(&ctx.config.data_dir, &collection);
    let cursor = if resume {
        load_json::<Cursor>(&path, "re-encryption")?
    } else {
        Cursor {
            collection: collection.clone(),
            ..Cursor::default()
        }
    };
    let mut e = event("reencrypt_started", format!("/v1/collections/{collection}"));
    e.count = Some(cursor.done);
    record(ctx, vec![e]).await?;
    let who = cli_who();
    let recorder = OutboxRecorder { ctx };
    let start = Instant::now();
    let total = match record_id {
        Some(_) => 1,
        None => ctx.store.count_records(&collection).await?,
    };
    let m = Meter::new(total, "re-encrypted");
    let mut save_err = None;
    let p = rekey::reencrypt(
        ctx.store.as_ref(),
        &ctx.keys,
        &recorder,
        &who,
        record_id,
        cursor,
        pace,
        &mut |c: &Cursor, p: Progress| {
            m.set(p.done);
            if record_id.is_none()
                && let Err(e) = save_json(&path, c)
            {
                save_err = Some(e);
            }
        },
    )
    .await;
    m.finish();
    let p = p?;
    if let Some(e) = save_err {
        out::err(format_args!("warning: cannot save the cursor: {e}"));
    }
    if record_id.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    let mut e = event(
        "reencrypt_finished",
        format!("/v1/collections/{collection}"),
    );
    e.count = Some(p.done);
    record(ctx, vec![e]).await?;
    out::line(format_args!(
        "re-encrypted {} records of `{collection}` in {:.1} s; {} could not be opened",
        p.done,
        start.elapsed().as_secs_f64(),
        p.failed
    ));
    if p.failed > 0 {
        return Err(format!("{} records could not be re-encrypted", p.failed).into());
    }
    Ok(())
}

fn protect(at: &At) -> CliResult {
    let keyring = datadir::open_keyring(&at.data_dir.join("keys"))?;
    let new = datadir::secret_from("PHIVAULT_KEYRING_NEW_PASSPHRASE")?
        .ok_or("set PHIVAULT_KEYRING_NEW_PASSPHRASE or PHIVAULT_KEYRING_NEW_PASSPHRASE_FILE")?;
    if new.expose_secret().chars().count() < 12 {
        return Err("the new passphrase must have at least 12 characters".into());
    }
    keyring.protect(&new, phivault_keys::keyring::KdfParams::DEFAULT)?;
    out::line(format_args!(
        "keyring {} is sealed under the new passphrase (argon2id); start the server with PHIVAULT_KEYRING_PASSPHRASE",
        keyring.path().display()
    ));
    Ok(())
}

/// Where a reindex is: the root version it writes and the last record done.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct ReindexCursor {
    version: u32,
    collection: Option<String>,
    after: Option<String>,
    done: u64,
}

async fn reindex(ctx: &Ctx, resume: bool, pace: Pace) -> CliResult {
    let path = ctx.config.data_dir.join("rekey").join("reindex.json");
    let mut cur = if resume {
        load_json::<ReindexCursor>(&path, "reindex")?
    } else {
        record(
            ctx,
            vec![event("index_key_rotation_started", "index".into())],
        )
        .await?;
        let v = ctx
            .keyring
            .rotate_index_root(&jiff::Timestamp::now().to_string())?;
        record(ctx, vec![event("index_key_rotated", format!("index/{v}"))]).await?;
        ReindexCursor {
            version: v,
            ..ReindexCursor::default()
        }
    };
    if ctx.keyring.current_index_version() != cur.version {
        return Err(format!(
            "the saved reindex writes index root {} but the current one is {}",
            cur.version,
            ctx.keyring.current_index_version()
        )
        .into());
    }
    save_json(&path, &cur)?;
    let clock: Arc<dyn phivault_server::Clock> = Arc::new(phivault_server::SystemClock);
    let (vault, _) = datadir::open_beside_server(&ctx.config, clock).await?;
    let collections: Vec<String> = vault
        .schema()
        .collections()
        .map(|c| c.name.clone())
        .filter(|c| vault.has_indexes(c))
        .collect();
    let start_at = cur
        .collection
        .as_ref()
        .and_then(|c| collections.iter().position(|x| x == c))
        .unwrap_or(0);
    let mut total = 0;
    for c in &collections {
        total += ctx.store.count_records(c).await?;
    }
    let m = Meter::new(total, "reindexed");
    let start = Instant::now();
    let who = cli_who();
    let mut since_start = 0u64;
    for coll in collections.iter().skip(start_at) {
        if cur.collection.as_deref() != Some(coll) {
            cur.collection = Some(coll.clone());
            cur.after = None;
        }
        loop {
            let page = vault
                .reindex_page(coll, cur.after.as_deref(), pace.page)
                .await?;
            let Some(last) = page.last.clone() else { break };
            let mut plan = page;
            for attempt in 0..4 {
                let events: Vec<Event> = plan
                    .touched
                    .iter()
                    .map(|(id, patient, fields)| {
                        let mut e = who.event(
                            jiff::Timestamp::now(),
                            "record_reindexed",
                            phivault_server::vault::resource_of(coll, id),
                            Outcome::Success,
                        );
                        e.patient_id.clone_from(patient);
                        e.fields.clone_from(fields);
                        e
                    })
                    .collect();
                if !events.is_empty() {
                    record(ctx, events).await?;
                }
                let n = plan.replaces.len() as u64;
                let changed = vault.apply_reindex(plan.replaces).await?;
                cur.done += n.saturating_sub(changed.len() as u64);
                since_start += n.saturating_sub(changed.len() as u64);
                if changed.is_empty() {
                    break;
                }
                if attempt == 3 {
                    // The cursor stays before this page; nothing is retired.
                    return Err(format!(
                        "{} records kept changing; rerun `phivault keys reindex --resume`",
                        changed.len()
                    )
                    .into());
                }
                // Changed meanwhile: read them again.
                plan = vault.reindex_ids(coll, &changed).await?;
            }
            cur.after = Some(last);
            save_json(&path, &cur)?;
            m.set(cur.done);
            pace.hold(start, since_start).await;
        }
    }
    m.finish();
    let retired = ctx.keyring.retire_index_roots_below(cur.version)?;
    let mut e = event("index_key_retired", format!("index/below/{}", cur.version));
    e.count = Some(cur.done);
    record(ctx, vec![e]).await?;
    let _ = std::fs::remove_file(&path);
    out::line(format_args!(
        "reindexed {} records under index root {} in {:.1} s; retired index roots {retired:?}",
        cur.done,
        cur.version,
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn save_json(path: &Path, v: &impl serde::Serialize) -> Result<(), String> {
    let body = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    datadir::write_private(path, &body).map_err(|e| e.to_string())
}

/// Reads a saved cursor; `what` names the job in the error.
fn load_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, String> {
    let text = std::fs::read(path)
        .map_err(|_| format!("no saved {what} to resume (`{}`)", path.display()))?;
    serde_json::from_slice(&text)
        .map_err(|_| format!("`{}` is not a {what} cursor", path.display()))
}

struct OutboxRecorder<'a> {
    ctx: &'a Ctx,
}

#[async_trait::async_trait]
impl rekey::Recorder for OutboxRecorder<'_> {
    async fn record(&self, events: Vec<Event>) -> Result<(), String> {
        record(self.ctx, events).await.map_err(|e| e.to_string())
    }
}

async fn retire(ctx: &Ctx, below: u32) -> CliResult {
    let counts = ctx.store.count_deks_by_kek().await?;
    let current = ctx.keys.current().provider;
    let in_use: Vec<String> = counts
        .iter()
        .filter(|(s, _)| *s != SHREDDED_KEK_VERSION)
        .map(|(s, n)| (slot_kek(*s), *n))
        .filter(|(k, n)| k.provider == current && k.version < below && *n > 0)
        .map(|(k, n)| format!("kek {}: {n} DEKs", k.version))
        .collect();
    if !in_use.is_empty() {
        return Err(format!(
            "refusing to retire: DEKs still use older versions ({}); run `phivault keys rotate --resume` first",
            in_use.join(", ")
        )
        .into());
    }
    let removed = ctx.keys.retire_below(below).await?;
    let mut e = event("kek_retired", format!("kek/below/{below}"));
    e.count = Some(removed.len() as u64);
    record(ctx, vec![e]).await?;
    out::line(format_args!("retired kek versions {removed:?}"));
    Ok(())
}

async fn scan(ctx: &Ctx, min_version: Option<u32>) -> CliResult {
    let current = ctx.keys.current();
    let min = min_version.unwrap_or(current.version);
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
            let k = slot_kek(r.kek_version);
            if k.provider != current.provider || k.version < min {
                old_kek += 1;
                out::line(format_args!(
                    "{}/{}: {} kek {} (want {} kek >= {min})",
                    r.collection,
                    r.id,
                    kind_name(k.provider),
                    k.version,
                    kind_name(current.provider)
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
