//! The single writer thread with group commit.
//!
//! Writers queue jobs; the thread takes every job waiting (up to a batch
//! limit), runs each inside its own savepoint of one transaction, commits
//! (one fsync for the batch), and only then answers each job. A job that
//! fails rolls back to its savepoint and leaves nothing half-written; the
//! others still commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::{ErrorKind, IndexEntry, StoreError, StoredRecord, TokenRow};

const MAX_BATCH: usize = 512;

pub(super) enum Job {
    Insert {
        rec: StoredRecord,
        index: Vec<IndexEntry>,
    },
    Update {
        rec: StoredRecord,
        expected_updated_at: i64,
        drop_indexes: Vec<String>,
        index: Vec<IndexEntry>,
    },
    Delete {
        collection: String,
        id: String,
    },
    InsertToken(TokenRow),
    /// Any other write, run inside the job's savepoint.
    Exec(ExecFn),
}

/// A write run by the writer thread inside a savepoint of the group commit.
pub(super) type ExecFn = Box<dyn FnOnce(&Connection) -> Result<bool, StoreError> + Send>;

type Reply = oneshot::Sender<Result<bool, StoreError>>;

pub(super) struct Writer {
    tx: mpsc::SyncSender<(Job, Reply)>,
}

fn closed() -> StoreError {
    StoreError::new(ErrorKind::Unavailable, "sqlite writer stopped")
}

impl Writer {
    pub(super) fn spawn(conn: Connection, restart: Arc<AtomicBool>) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<(Job, Reply)>(4096);
        std::thread::Builder::new()
            .name("phivault-sqlite-writer".into())
            .spawn(move || run(conn, rx, restart))
            .map_err(|_| StoreError::new(ErrorKind::Unavailable, "cannot start sqlite writer"))?;
        Ok(Self { tx })
    }

    pub(super) async fn submit(&self, job: Job) -> Result<bool, StoreError> {
        let (reply, wait) = oneshot::channel();
        let tx = self.tx.clone();
        // The queue is bounded: a full queue applies back-pressure.
        match tx.try_send((job, reply)) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(item)) => {
                tokio::task::spawn_blocking(move || tx.send(item).map_err(|_| closed()))
                    .await
                    .map_err(|_| closed())??;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(closed()),
        }
        wait.await.map_err(|_| closed())?
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<(Job, Reply)>, restart: Arc<AtomicBool>) {
    while let Ok(first) = rx.recv() {
        // Between batches the writer holds no transaction: the cheapest moment
        // to restart a WAL that the checkpointer has (almost) fully copied.
        if restart.swap(false, Ordering::AcqRel) && !try_restart_wal(&conn) {
            restart.store(true, Ordering::Release);
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<Reply>) = batch.into_iter().unzip();
        match commit_batch(&mut conn, jobs) {
            Ok(results) => {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One non-blocking attempt: while the checkpointer is mid-copy the attempt
/// fails at once (and is retried after the next batch) instead of stalling
/// every request queued behind the writer.
fn try_restart_wal(conn: &Connection) -> bool {
    if conn.busy_timeout(Duration::ZERO).is_err() {
        return false;
    }
    let done = conn
        .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
        .is_ok_and(|busy| busy == 0);
    if let Err(e) = conn.busy_timeout(super::BUSY_TIMEOUT) {
        tracing::warn!(code = ?e.sqlite_error_code(), "sqlite busy timeout not restored");
    }
    done
}

fn commit_batch(
    conn: &mut Connection,
    jobs: Vec<Job>,
) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let sp = tx.savepoint()?;
        let r = apply(&sp, job);
        if r.is_ok() {
            sp.commit()?;
        } else {
            drop(sp); // rolls back to the savepoint
        }
        results.push(r);
    }
    tx.commit()?;
    Ok(results)
}

pub(super) fn insert_index(
    tx: &Connection,
    collection: &str,
    id: &str,
    index: &[IndexEntry],
) -> Result<(), StoreError> {
    let mut st = tx.prepare_cached(
        "INSERT INTO blind_index (collection, idx, tag, record_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for e in index {
        st.execute(params![collection, e.index, e.tag, id])?;
    }
    Ok(())
}

fn apply(tx: &Connection, job: Job) -> Result<bool, StoreError> {
    match job {
        Job::Insert { rec, index } => {
            tx.prepare_cached(
                "INSERT INTO records (id, collection, patient_id, created_at, updated_at, kek_version, wrapped_dek, sealed, plain)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                rec.id,
                rec.collection,
                rec.patient_id,
                rec.created_at,
                rec.updated_at,
                rec.kek_version,
                rec.wrapped_dek,
                rec.encode_sealed(),
                serde_json::Value::Object(rec.plain.clone()).to_string(),
            ])?;
            insert_index(tx, &rec.collection, &rec.id, &index)?;
            Ok(true)
        }
        Job::Update {
            rec,
            expected_updated_at,
            drop_indexes,
            index,
        } => {
            let n = tx
                .prepare_cached(
                    "UPDATE records SET updated_at = ?1, kek_version = ?2, wrapped_dek = ?3, sealed = ?4, plain = ?5
                     WHERE id = ?6 AND collection = ?7 AND updated_at = ?8 AND wrapped_dek = ?3",
                )?
                .execute(params![
                    rec.updated_at,
                    rec.kek_version,
                    rec.wrapped_dek,
                    rec.encode_sealed(),
                    serde_json::Value::Object(rec.plain.clone()).to_string(),
                    rec.id,
                    rec.collection,
                    expected_updated_at,
                ])?;
            if n == 0 {
                let exists: i64 = tx.query_row(
                    "SELECT count(*) FROM records WHERE id = ?1 AND collection = ?2",
                    params![rec.id, rec.collection],
                    |r| r.get(0),
                )?;
                return Err(if exists == 0 {
                    StoreError::new(ErrorKind::NotFound, "no such record")
                } else {
                    StoreError::new(ErrorKind::Conflict, "record changed concurrently")
                });
            }
            let mut st =
                tx.prepare_cached("DELETE FROM blind_index WHERE record_id = ?1 AND idx = ?2")?;
            for name in drop_indexes {
                st.execute(params![rec.id, name])?;
            }
            insert_index(tx, &rec.collection, &rec.id, &index)?;
            Ok(true)
        }
        Job::Delete { collection, id } => {
            let n = tx
                .prepare_cached("DELETE FROM records WHERE id = ?1 AND collection = ?2")?
                .execute(params![id, collection])?;
            if n > 0 {
                tx.prepare_cached("DELETE FROM blind_index WHERE record_id = ?1")?
                    .execute(params![id])?;
            }
            Ok(n > 0)
        }
        Job::InsertToken(t) => {
            tx.prepare_cached(
                "INSERT INTO tokens (id, hash, principal, admin, created_at, disabled, kind, expires_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                t.id,
                t.hash,
                t.principal,
                t.admin,
                t.created_at,
                t.disabled,
                t.kind.as_str(),
                t.expires_at,
                t.last_used_at
            ])?;
            Ok(true)
        }
        Job::Exec(f) => f(tx),
    }
}
