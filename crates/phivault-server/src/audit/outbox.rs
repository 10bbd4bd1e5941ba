//! The audit outbox: how a key-management command run beside the server
//! gets its events into the one log without a second writer.
//!
//! The embedded segment log has one writer per process (`audit/LOCK`), so a
//! command run beside the server never appends to it. It writes its events (no key
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
///
/// Several processes may drain one outbox (servers and CLI tools on a
/// shared PostgreSQL log): a file is claimed first by renaming it to
/// `NAME.draining-PID`, which only one of them can do. A claim whose process
/// is gone (it crashed mid-drain) is taken over: its events are appended
/// again (at least once; duplicates carry the same request-less content and
/// a later index).
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
        .filter(|p| pending(p))
        .collect();
    files.sort();
    let mut n = 0;
    for f in files {
        let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let base = name.split(".draining-").next().unwrap_or(name);
        let claimed = d.join(format!("{base}.draining-{}", std::process::id()));
        if fs::rename(&f, &claimed).is_err() {
            continue; // another process claimed it first
        }
        let Ok(text) = fs::read_to_string(&claimed) else {
            continue;
        };
        let events: Vec<Event> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let count = events.len() as u64;
        if !events.is_empty()
            && let Err(e) = log.append(events).await
        {
            // Give the file back for the next drain.
            let _ = fs::rename(&claimed, d.join(base));
            return Err(e);
        }
        if fs::remove_file(&claimed).is_err() {
            tracing::error!(file = %claimed.display(), "audit outbox: appended but not removed");
        }
        n += count;
    }
    Ok(n)
}

/// A file to drain: a finished `.jsonl`, or a claim by a process that no
/// longer runs.
fn pending(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('.') {
        return false;
    }
    match name.split_once(".draining-") {
        None => name.ends_with(".jsonl"),
        Some((_, pid)) => pid
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()),
    }
}
