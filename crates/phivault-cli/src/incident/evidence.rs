//! `phivault incident evidence` writes a sealed bundle; `incident
//! verify-evidence` checks it and appends the check to its chain of custody.
//!
//! Layout (every file listed with its SHA-256 in `MANIFEST.json`, the
//! manifest's digest signed with the audit key in `MANIFEST.sig`):
//! - `audit/events.jsonl`: the window's events, canonical encodings;
//! - `audit/proofs.jsonl`: an inclusion proof of each against
//!   `audit/checkpoint.txt`, a checkpoint signed at collection time after
//!   the whole log was checked against the server's own checkpoints;
//! - `audit/public-key.txt`, `incident.json`, `lockdowns.json`;
//! - `config/` (`config.toml`, `breach.toml`; secrets are never in them, and
//!   any line naming a secret, token, pin or passphrase value is dropped);
//! - `keys/metadata.json` (versions, ages, DEK counts: never key material);
//! - `host/facts.json`; `logs/phivault.log` (its last 4 MiB).
//!
//! `custody.jsonl` is outside the manifest: a hash chain starting at the
//! manifest digest, one entry per collection or verification.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use phivault_audit::{Checkpoint, Event, VerifierKey};
use phivault_breach::evidence::{self, CustodyLog};
use phivault_server::audit::{AuditLog, load_or_create_signer};
use phivault_server::config::Config;
use phivault_store::audit::AuditQuery;

type Error = Box<dyn std::error::Error + Send + Sync>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Most bytes of the operational log a bundle keeps.
const LOG_TAIL: u64 = 4 * 1024 * 1024;

/// What to collect.
#[derive(Debug, Clone)]
pub struct Collect<'a> {
    /// Resolved configuration of the data directory.
    pub config: &'a Config,
    /// The incident.
    pub incident_id: &'a str,
    /// Window start and end (µs).
    pub since: i64,
    /// Window end.
    pub until: i64,
    /// Output directory (must not exist or be empty).
    pub out: &'a Path,
    /// Who collects (custody).
    pub actor: &'a str,
}

/// A summary of a written bundle.
#[derive(Debug, Clone)]
pub struct Written {
    /// Events included.
    pub events: usize,
    /// Tree size of the signed checkpoint.
    pub tree_size: u64,
    /// Files sealed.
    pub files: usize,
    /// SHA-256 of the manifest (hex).
    pub manifest_digest: String,
}

fn redact_config(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let key = l
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let names_a_reference = key.ends_with("_env") || key.ends_with("_file");
            names_a_reference
                || !["secret", "token", "pin", "passphrase", "password"]
                    .iter()
                    .any(|w| key.contains(w))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn log_tail(data_dir: &Path) -> Vec<u8> {
    let path = crate::logfile::path_in(data_dir);
    let Ok(bytes) = std::fs::read(&path) else {
        return b"(no operational log file in the data directory)\n".to_vec();
    };
    let start = bytes
        .len()
        .saturating_sub(usize::try_from(LOG_TAIL).unwrap_or(usize::MAX));
    // Start at a line boundary.
    let start = bytes
        .get(start..)
        .and_then(|b| b.iter().position(|c| *c == b'\n').map(|p| start + p + 1))
        .filter(|_| start > 0)
        .unwrap_or(start);
    bytes.get(start..).unwrap_or_default().to_vec()
}

fn host_facts(config: &Config, backend: &str) -> serde_json::Value {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_owned()).ok();
    let os = read("/etc/os-release").and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
    });
    serde_json::json!({
        "collected_at": jiff::Timestamp::now().to_string(),
        "hostname": read("/proc/sys/kernel/hostname"),
        "kernel": read("/proc/sys/kernel/osrelease"),
        "os": os,
        "boot_id": read("/proc/sys/kernel/random/boot_id"),
        "uptime_seconds": read("/proc/uptime").and_then(|u| u.split(' ').next().map(str::to_owned)),
        "collector_pid": std::process::id(),
        "phivault_version": env!("CARGO_PKG_VERSION"),
        "data_dir": config.data_dir.display().to_string(),
        "store": backend,
        "listen": config.listen.to_string(),
    })
}

/// Collects and seals a bundle.
pub async fn collect(c: Collect<'_>, keys_metadata: serde_json::Value) -> Result<Written, Error> {
    if c.out.exists() && std::fs::read_dir(c.out)?.next().is_some() {
        return Err(format!("`{}` exists and is not empty", c.out.display()).into());
    }
    let store = phivault_store::open(&c.config.store_location()).await?;
    let (incident, _) =
        phivault_server::breach::incident::load(store.as_ref(), c.incident_id).await?;
    let audit_store = phivault_server::datadir::audit_store(c.config, &store, false)?;
    let origin = c.config.audit_origin();
    let log = AuditLog::open_read_only(
        Arc::clone(&audit_store),
        load_or_create_signer(&c.config.data_dir, &origin)?,
    )
    .await?;
    let size = log.size();
    let root = log.root_at(size).await?;
    let signer = load_or_create_signer(&c.config.data_dir, &origin)?;
    let note = signer.sign(&Checkpoint {
        origin: origin.clone(),
        size,
        root,
    });
    let frames = audit_store
        .query(&AuditQuery {
            since: Some(c.since),
            until: Some(c.until),
            to: Some(size),
            limit: usize::MAX,
            ..AuditQuery::default()
        })
        .await?;
    let mut events = Vec::new();
    let mut proofs = Vec::new();
    for f in &frames {
        events.extend_from_slice(&f.event);
        events.push(b'\n');
        let proof = log.inclusion_proof(f.index, size).await?;
        let line = serde_json::json!({
            "index": f.index,
            "tree_size": size,
            "proof": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        });
        proofs.extend_from_slice(line.to_string().as_bytes());
        proofs.push(b'\n');
    }
    let lockdowns: Vec<serde_json::Value> = store
        .active_lockdowns()
        .await?
        .into_iter()
        .map(|r| serde_json::json!({"id": r.id, "scope": r.scope, "reason": r.reason, "created_by": r.created_by, "created_at": r.created_at, "incident_id": r.incident_id}))
        .collect();
    let read_text = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let files: Vec<(String, Vec<u8>)> = vec![
        ("audit/events.jsonl".into(), events),
        ("audit/proofs.jsonl".into(), proofs),
        ("audit/checkpoint.txt".into(), note.into_bytes()),
        (
            "audit/public-key.txt".into(),
            format!("{}\n", log.verifier()).into_bytes(),
        ),
        (
            "incident.json".into(),
            serde_json::to_vec_pretty(&incident)?,
        ),
        (
            "lockdowns.json".into(),
            serde_json::to_vec_pretty(&lockdowns)?,
        ),
        (
            "config/config.toml".into(),
            redact_config(&read_text(c.config.data_dir.join("config.toml"))).into_bytes(),
        ),
        (
            "config/breach.toml".into(),
            redact_config(&read_text(phivault_server::breach::config::path_in(
                &c.config.data_dir,
            )))
            .into_bytes(),
        ),
        (
            "keys/metadata.json".into(),
            serde_json::to_vec_pretty(&keys_metadata)?,
        ),
        (
            "host/facts.json".into(),
            serde_json::to_vec_pretty(&host_facts(c.config, store.backend()))?,
        ),
        ("logs/phivault.log".into(), log_tail(&c.config.data_dir)),
    ];
    let sealed = evidence::seal(
        &files,
        &evidence::SealMeta {
            incident_id: c.incident_id.to_owned(),
            created_at_micros: jiff::Timestamp::now().as_microsecond(),
            since_micros: c.since,
            until_micros: c.until,
        },
        &signer,
    )?;
    std::fs::create_dir_all(c.out)?;
    for (path, bytes) in &files {
        write_new(&c.out.join(path), bytes)?;
    }
    write_new(
        &c.out.join(evidence::MANIFEST_FILE),
        sealed.manifest_json.as_bytes(),
    )?;
    write_new(
        &c.out.join(evidence::SIGNATURE_FILE),
        sealed.signature_note.as_bytes(),
    )?;
    let mut custody = CustodyLog::new(&sealed.manifest_digest)?;
    let line = custody.append(now_micros(), &actor_id(c.actor), "collected")?;
    write_new(&c.out.join(evidence::CUSTODY_FILE), line.as_bytes())?;
    Ok(Written {
        events: frames.len(),
        tree_size: size,
        files: files.len(),
        manifest_digest: sealed.manifest_digest,
    })
}

fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn actor_id(user: &str) -> String {
    phivault_server::breach::incident::actor_id(user)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    phivault_server::datadir::write_private(path, bytes)?;
    Ok(())
}

/// Every regular file under `dir`, as `(relative path, bytes)`.
fn listing(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let ty = entry.file_type()?;
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                let rel = path
                    .strip_prefix(dir)
                    .map_err(|_| "a file outside the bundle")?
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path)?));
            } else {
                return Err(format!("`{}` is not a regular file", path.display()).into());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a verification found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Files whose digests matched.
    pub files: usize,
    /// Events whose inclusion proofs verified.
    pub events: usize,
    /// Custody entries (after this check's own).
    pub custody: u64,
    /// The custody chain's new last hash (recorded in the audit trail, so
    /// a chain cut short later is caught).
    pub custody_hash: String,
    /// The incident the bundle is about.
    pub incident_id: String,
}

/// Verifies a bundle with `key` (the audit public key, from outside the
/// bundle), then appends this access to its chain of custody.
pub fn verify(dir: &Path, key: &VerifierKey, actor: &str) -> Result<Checked, Error> {
    let files = listing(dir)?;
    let get = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, b)| b.clone())
            .ok_or_else(|| format!("the bundle has no `{name}`"))
    };
    let manifest = String::from_utf8(get(evidence::MANIFEST_FILE)?)
        .map_err(|_| "MANIFEST.json is not text")?;
    let note = String::from_utf8(get(evidence::SIGNATURE_FILE)?)
        .map_err(|_| "MANIFEST.sig is not text")?;
    let verified = evidence::verify(&files, &manifest, &note, key)?;
    let cp_note =
        String::from_utf8(get("audit/checkpoint.txt")?).map_err(|_| "checkpoint is not text")?;
    let cp = Checkpoint::open(&cp_note, key).map_err(|e| format!("audit/checkpoint.txt: {e}"))?;
    let events =
        String::from_utf8(get("audit/events.jsonl")?).map_err(|_| "events are not text")?;
    let proofs =
        String::from_utf8(get("audit/proofs.jsonl")?).map_err(|_| "proofs are not text")?;
    let mut n = 0;
    for (i, (e, p)) in events.lines().zip(proofs.lines()).enumerate() {
        let event = Event::decode(e.as_bytes())
            .map_err(|_| format!("event line {} is unreadable", i + 1))?;
        let p: serde_json::Value =
            serde_json::from_str(p).map_err(|_| format!("proof line {} is unreadable", i + 1))?;
        let hashes: Vec<phivault_audit::Hash> = p
            .get("proof")
            .and_then(serde_json::Value::as_array)
            .ok_or("a proof has no hashes")?
            .iter()
            .map(|h| {
                h.as_str()
                    .and_then(|s| B64.decode(s).ok())
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .ok_or("a proof hash is malformed")
            })
            .collect::<Result<_, _>>()?;
        phivault_audit::merkle::verify_inclusion(
            event.index,
            cp.size,
            &phivault_audit::leaf_hash(e.as_bytes()),
            &hashes,
            &cp.root,
        )
        .map_err(|_| format!("event {} is not in the signed audit log", event.index))?;
        n += 1;
    }
    if events.lines().count() != proofs.lines().count() {
        return Err("events and proofs differ in number".into());
    }
    let custody_path = dir.join(evidence::CUSTODY_FILE);
    let text =
        std::fs::read_to_string(&custody_path).map_err(|_| "the bundle has no custody.jsonl")?;
    evidence::verify_custody(&text, &verified.manifest_digest)?;
    let mut custody = CustodyLog::resume(&text, &verified.manifest_digest)?;
    let line = custody.append(now_micros(), &actor_id(actor), "verified")?;
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&custody_path)?
        .write_all(line.as_bytes())?;
    Ok(Checked {
        files: verified.manifest.files.len(),
        events: n,
        custody: custody.report().entries,
        custody_hash: custody.report().last_hash,
        incident_id: verified.manifest.incident_id.clone(),
    })
}
