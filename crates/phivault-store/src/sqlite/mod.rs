//! SQLite: the embedded default. One file; WAL mode with `synchronous=FULL`
//! so an acknowledged write survives a power cut; one writer thread that
//! commits queued writes together (group commit), and a small pool of reader
//! connections.

mod access;
mod breach;
mod checkpoint;
mod incidents;
mod keys;
mod migrations;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::Semaphore;

use crate::{
    DekFilter, DekRow, DekSwap, ErrorKind, IndexEntry, IndexReplace, Reseal, Shredded, Store,
    StoreError, StoredRecord, TokenKind, TokenRow,
};
use checkpoint::Checkpointer;
use writer::{Job, Writer};

const READERS: usize = 4;

/// How long a connection waits for a lock before reporting busy.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    _checkpointer: Checkpointer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Creates the database file readable by its owner only (SQLite gives the
/// `-wal` and `-shm` files the same mode).
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |_| StoreError::new(ErrorKind::Unavailable, "cannot create the sqlite file");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)
}

pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open(path)?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    // The writer's per-request savepoints journal into memory, not a temp
    // file; a 32 MiB page cache keeps random-key index and row pages hot
    // (record ids are random, so bulk work by id touches pages at random);
    // checkpoints run on their own thread (see `checkpoint`).
    c.pragma_update(None, "temp_store", "MEMORY")?;
    c.pragma_update(None, "cache_size", -32_768)?;
    c.pragma_update(None, "wal_autocheckpoint", 0)?;
    c.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(c)
}

const RECORD_COLUMNS: &str = "r.collection, r.id, r.patient_id, r.created_at, r.updated_at, r.kek_version, r.wrapped_dek, r.sealed, r.plain";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<(StoredRecord, Vec<u8>, String)> {
    let sealed: Vec<u8> = row.get(7)?;
    let plain: String = row.get(8)?;
    Ok((
        StoredRecord {
            collection: row.get(0)?,
            id: row.get(1)?,
            patient_id: row.get(2)?,
            created_at: row.get(3)?,
            updated_at: row.get(4)?,
            kek_version: row.get(5)?,
            wrapped_dek: row.get(6)?,
            sealed: Default::default(),
            plain: Default::default(),
        },
        sealed,
        plain,
    ))
}

fn finish(parts: (StoredRecord, Vec<u8>, String)) -> Result<StoredRecord, StoreError> {
    let (mut r, sealed, plain) = parts;
    r.sealed = StoredRecord::decode_sealed(&sealed)?;
    r.plain = StoredRecord::parse_plain(&plain)?;
    Ok(r)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        create_private(path)?;
        let mut w = connect(path)?;
        let restart = Arc::new(std::sync::atomic::AtomicBool::new(false));
        migrations::apply(&mut w)?;
        let readers = (0..READERS)
            .map(|_| connect(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            path: path.to_owned(),
            writer: Writer::spawn(w, Arc::clone(&restart))?,
            _checkpointer: Checkpointer::spawn(connect(path)?, restart)?,
            readers: Arc::new(Mutex::new(readers)),
            permits: Arc::new(Semaphore::new(READERS)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::new(ErrorKind::Unavailable, "store is closed"))?;
        let pool = Arc::clone(&self.readers);
        let poisoned = || StoreError::new(ErrorKind::Unavailable, "reader pool poisoned");
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .lock()
                .map_err(|_| poisoned())?
                .pop()
                .ok_or_else(poisoned)?;
            let out = f(&conn);
            pool.lock().map_err(|_| poisoned())?.push(conn);
            out
        })
        .await
        .map_err(|_| StoreError::new(ErrorKind::Unavailable, "reader task failed"))?
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn insert_record(
        &self,
        rec: StoredRecord,
        index: Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(Job::Insert { rec, index })
            .await
            .map(|_| ())
    }

    async fn get_record(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError> {
        let (c, i) = (collection.to_owned(), id.to_owned());
        self.read(move |conn| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = ?1 AND r.collection = ?2"
            );
            let mut st = conn.prepare_cached(&sql)?;
            st.query_row(params![i, c], record_from_row)
                .optional()?
                .map(finish)
                .transpose()
        })
        .await
    }

    async fn update_record(
        &self,
        rec: StoredRecord,
        expected_updated_at: i64,
        drop_indexes: Vec<String>,
        index: Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(Job::Update {
                rec,
                expected_updated_at,
                drop_indexes,
                index,
            })
            .await
            .map(|_| ())
    }

    async fn delete_record(&self, collection: &str, id: &str) -> Result<bool, StoreError> {
        self.writer
            .submit(Job::Delete {
                collection: collection.to_owned(),
                id: id.to_owned(),
            })
            .await
    }

    async fn search(
        &self,
        collection: &str,
        index: &str,
        tag: &[u8],
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let (c, i, t) = (collection.to_owned(), index.to_owned(), tag.to_vec());
        self.read(move |conn| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM blind_index b JOIN records r ON r.id = b.record_id \
                 WHERE b.collection = ?1 AND b.idx = ?2 AND b.tag = ?3 ORDER BY r.created_at LIMIT ?4"
            );
            let mut st = conn.prepare_cached(&sql)?;
            let rows = st.query_map(params![c, i, t, limit], record_from_row)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(finish(r?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn insert_token(&self, token: TokenRow) -> Result<(), StoreError> {
        self.writer
            .submit(Job::InsertToken(token))
            .await
            .map(|_| ())
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT id, hash, principal, admin, created_at, disabled, kind, expires_at, last_used_at FROM tokens WHERE id = ?1",
            )?;
            let row = st
                .query_row(params![id], |r| {
                    Ok((
                        TokenRow {
                            id: r.get(0)?,
                            hash: r.get(1)?,
                            principal: r.get(2)?,
                            admin: r.get(3)?,
                            created_at: r.get(4)?,
                            disabled: r.get(5)?,
                            kind: TokenKind::Api,
                            expires_at: r.get(7)?,
                            last_used_at: r.get(8)?,
                        },
                        r.get::<_, String>(6)?,
                    ))
                })
                .optional()?;
            row.map(|(mut t, kind)| {
                t.kind = TokenKind::parse(&kind)?;
                Ok(t)
            })
            .transpose()
        })
        .await
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn list_records(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let (c, a) = (collection.to_owned(), after.unwrap_or("").to_owned());
        self.read(move |conn| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM records r WHERE r.collection = ?1 AND r.id > ?2 \
                 ORDER BY r.id LIMIT ?3"
            );
            let mut st = conn.prepare_cached(&sql)?;
            let rows = st.query_map(params![c, a, limit], record_from_row)?;
            rows.map(|r| finish(r?)).collect()
        })
        .await
    }

    async fn count_records(&self, collection: &str) -> Result<u64, StoreError> {
        let c = collection.to_owned();
        self.read(move |conn| {
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM records WHERE collection = ?1",
                params![c],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn list_deks(
        &self,
        filter: DekFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DekRow>, StoreError> {
        self.list_deks_impl(filter, after, limit).await
    }

    async fn count_deks_by_kek(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        self.count_deks_by_kek_impl().await
    }

    async fn reseal_records(&self, reseals: Vec<Reseal>) -> Result<u64, StoreError> {
        self.reseal_records_impl(reseals).await
    }

    async fn replace_index(&self, replaces: Vec<IndexReplace>) -> Result<Vec<String>, StoreError> {
        self.replace_index_impl(replaces).await
    }

    async fn swap_deks(&self, swaps: Vec<DekSwap>) -> Result<u64, StoreError> {
        self.swap_deks_impl(swaps).await
    }

    async fn shred_patient(&self, patient_id: &str) -> Result<Vec<Shredded>, StoreError> {
        self.shred_patient_impl(patient_id).await
    }
}
