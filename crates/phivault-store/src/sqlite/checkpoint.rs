//! WAL checkpoints off the write path. The writer connection runs with
//! automatic checkpoints disabled; this thread copies committed WAL frames
//! into the database file with `PASSIVE` checkpoints (which never block the
//! writer or readers), so a checkpoint no longer stalls every request waiting
//! on a group commit. When the WAL grows past a limit it asks the writer to
//! restart it between two batches (only the few frames not yet copied remain).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use crate::{ErrorKind, StoreError};

/// How often the WAL is checked.
const PERIOD: Duration = Duration::from_millis(250);

/// WAL size (in pages) beyond which a checkpoint restarts the log.
const MAX_WAL_FRAMES: i64 = 4_096;

/// Stops the checkpointer when dropped (with the store).
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn spawn(conn: Connection, restart: Arc<AtomicBool>) -> Result<Self, StoreError> {
        let (stop, rx) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("phivault-sqlite-checkpoint".into())
            .spawn(move || {
                // Wakes every PERIOD; ends once the store (the sender) is gone.
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(PERIOD) {
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        r.get::<_, i64>(1)
                    }) {
                        // The WAL only resets when the writer finds it fully
                        // copied, which never happens under continuous writes:
                        // past a size, ask the writer to restart it.
                        Ok(frames) if frames > MAX_WAL_FRAMES => {
                            restart.store(true, Ordering::Release);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(code = ?e.sqlite_error_code(), "sqlite checkpoint failed");
                        }
                    }
                }
                // A last full checkpoint on shutdown keeps the WAL small.
                let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(|_| {
                StoreError::new(ErrorKind::Unavailable, "cannot start sqlite checkpointer")
            })?;
        Ok(Self { _stop: stop })
    }
}
