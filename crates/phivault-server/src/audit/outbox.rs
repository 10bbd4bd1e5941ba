//! The audit outbox: how a key-management command run beside the server
//! gets its events into the one log without a second writer.
//!
//! The embedded segment log has one writer per process (`audit/LOCK`) and the
//! PostgreSQL writer assigns indexes in-process, so `phivault keys` never
//! appends while a server may be running. It writes its events (no key
//! material, no PHI: actions, record pseudonyms, counts) to a file under
//! `audit-outbox/`, fsynced before it reports success, and the server's
//! writer appends them at start and every [`DRAIN_PERIOD`], then deletes the
//! file. Until then the events are durable but not yet in the Merkle tree.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use phivault_audit::Event;

use super::{AuditError, AuditLog};

/// How often the server drains the outbox (and re-reads the keyring).
pub const DRAIN_PERIOD: Duration = Duration::from_secs(30);

/// The outbox directory of a data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-outbox")
}

/// Writes `events` as one file (JSON lines), durably: file fsynced, renamed
/// into place, directory fsynced.
pub fn write(data_dir: &Path, events: &[Event]) -> std::io::Result<PathBuf> {
    let d = dir(data_dir);
    fs::create_dir_all(&d)?;
    let name = format!(
        "{}-{}.jsonl",
        jiff::Timestamp::now().as_microsecond(),
        std::process::id()
    );
    let tmp = d.join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    for e in events {
        let line = serde_json::to_string(e).map_err(std::io::Error::other)?;
        writeln!(f, "{line}")?;
    }
    f.sync_all()?;
    let path = d.join(name);
    fs::rename(&tmp, &path)?;
    fs::File::open(&d)?.sync_all()?;
    Ok(path)
}

/// Appends every pending file's events to `log` (oldest file first) and
/// deletes each file once its events are durable. Returns the count.
pub async fn drain(data_dir: &Path, log: &AuditLog) -> Result<u64, AuditError> {
    // One drain at a time in this process (the periodic one and the one a
    // lockdown change triggers must not both append a file).
    static DRAINING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = DRAINING.lock().await;
    let d = dir(data_dir);
    let Ok(entries) = fs::read_dir(&d) else {
        return Ok(0);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut n = 0;
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        let events: Vec<Event> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let count = events.len() as u64;
        if !events.is_empty() {
            log.append(events).await?;
        }
        if fs::remove_file(&f).is_err() {
            tracing::error!(file = %f.display(), "audit outbox: appended but not removed");
        }
        n += count;
    }
    Ok(n)
}
