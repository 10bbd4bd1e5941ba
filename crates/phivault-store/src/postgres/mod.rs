//! PostgreSQL: the production store. A pooled client; a record and its index
//! entries go in with one statement (a data-modifying CTE), so an insert is
//! one round trip and atomic.

mod access;
mod audit;
mod breach;
mod incidents;
mod keys;
mod listen;
mod migrations;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row};

use crate::{
    DekFilter, DekRow, DekSwap, ErrorKind, IndexEntry, IndexReplace, Reseal, Shredded, Store,
    StoreError, StoredRecord, TokenKind, TokenRow,
};

/// The schema phivault's tables live in unless told otherwise.
pub const DEFAULT_SCHEMA: &str = "phivault";

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: String,
    listener: std::sync::Arc<listen::Listener>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

const RECORD_COLUMNS: &str = "r.collection, r.id, r.patient_id, r.created_at, r.updated_at, r.kek_version, r.wrapped_dek, r.sealed, r.plain::text";

fn record(row: &Row) -> Result<StoredRecord, StoreError> {
    let kek: i64 = row.try_get(5)?;
    let sealed: Vec<u8> = row.try_get(7)?;
    let plain: String = row.try_get(8)?;
    Ok(StoredRecord {
        collection: row.try_get(0)?,
        id: row.try_get(1)?,
        patient_id: row.try_get(2)?,
        created_at: row.try_get(3)?,
        updated_at: row.try_get(4)?,
        kek_version: u32::try_from(kek)
            .map_err(|_| StoreError::new(ErrorKind::Corrupt, "kek version out of range"))?,
        wrapped_dek: row.try_get(6)?,
        sealed: StoredRecord::decode_sealed(&sealed)?,
        plain: StoredRecord::parse_plain(&plain)?,
    })
}

/// Splits a `schema=NAME` query parameter off a URL.
pub fn split_schema(url: &str) -> (String, String) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), DEFAULT_SCHEMA.to_owned());
    };
    let mut schema = DEFAULT_SCHEMA.to_owned();
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("schema=") {
            Some(s) => {
                schema = s.to_owned();
                false
            }
            None => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

fn valid_schema_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PgStore {
    /// Connects, creates the schema if needed and applies migrations.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        if !valid_schema_name(schema) {
            return Err(StoreError::new(
                ErrorKind::Unavailable,
                "invalid postgres schema name",
            ));
        }
        let mut cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::new(ErrorKind::Unavailable, "invalid postgres url"))?;
        cfg.options(format!("-c search_path={schema}"));
        cfg.application_name("phivault");
        let listener = std::sync::Arc::new(listen::Listener::new(cfg.clone(), schema));
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(16)
            .build()
            .map_err(|_| StoreError::new(ErrorKind::Unavailable, "cannot build postgres pool"))?;
        let mut client = pool.get().await?;
        migrations::apply(&mut client, schema).await?;
        drop(client);
        Ok(Self {
            pool,
            schema: schema.to_owned(),
            listener,
        })
    }

    /// The PostgreSQL schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

fn split_index(index: &[IndexEntry]) -> (Vec<&str>, Vec<&[u8]>) {
    (
        index.iter().map(|e| e.index.as_str()).collect(),
        index.iter().map(|e| e.tag.as_slice()).collect(),
    )
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn audit_store(&self) -> Option<std::sync::Arc<dyn crate::audit::AuditStore>> {
        Some(std::sync::Arc::new(self.clone()))
    }

    async fn insert_record(
        &self,
        rec: StoredRecord,
        index: Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "WITH r AS (
                   INSERT INTO records (id, collection, patient_id, created_at, updated_at, kek_version, wrapped_dek, sealed, plain)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb) RETURNING id)
                 INSERT INTO blind_index (collection, idx, tag, record_id)
                 SELECT $2, u.idx, u.tag, r.id FROM r, unnest($10::text[], $11::bytea[]) AS u(idx, tag)",
            )
            .await?;
        let (names, tags) = split_index(&index);
        let plain = serde_json::Value::Object(rec.plain.clone()).to_string();
        c.execute(
            &st,
            &[
                &rec.id,
                &rec.collection,
                &rec.patient_id,
                &rec.created_at,
                &rec.updated_at,
                &i64::from(rec.kek_version),
                &rec.wrapped_dek,
                &rec.encode_sealed(),
                &plain,
                &names,
                &tags,
            ],
        )
        .await?;
        Ok(())
    }

    async fn get_record(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError> {
        let c = self.pool.get().await?;
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = $1 AND r.collection = $2");
        let st = c.prepare_cached(&sql).await?;
        c.query_opt(&st, &[&id, &collection])
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn update_record(
        &self,
        rec: StoredRecord,
        expected_updated_at: i64,
        drop_indexes: Vec<String>,
        index: Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let plain = serde_json::Value::Object(rec.plain.clone()).to_string();
        let n = tx
            .execute(
                "UPDATE records SET updated_at = $1, kek_version = $2, wrapped_dek = $3, sealed = $4, plain = $5::text::jsonb
                 WHERE id = $6 AND collection = $7 AND updated_at = $8 AND wrapped_dek = $3",
                &[
                    &rec.updated_at,
                    &i64::from(rec.kek_version),
                    &rec.wrapped_dek,
                    &rec.encode_sealed(),
                    &plain,
                    &rec.id,
                    &rec.collection,
                    &expected_updated_at,
                ],
            )
            .await?;
        if n == 0 {
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM records WHERE id = $1 AND collection = $2",
                    &[&rec.id, &rec.collection],
                )
                .await?
                .is_some();
            return Err(if exists {
                StoreError::new(ErrorKind::Conflict, "record changed concurrently")
            } else {
                StoreError::new(ErrorKind::NotFound, "no such record")
            });
        }
        tx.execute(
            "DELETE FROM blind_index WHERE record_id = $1 AND idx = ANY($2::text[])",
            &[&rec.id, &drop_indexes],
        )
        .await?;
        let (names, tags) = split_index(&index);
        tx.execute(
            "INSERT INTO blind_index (collection, idx, tag, record_id)
             SELECT $1, u.idx, u.tag, $2 FROM unnest($3::text[], $4::bytea[]) AS u(idx, tag)",
            &[&rec.collection, &rec.id, &names, &tags],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_record(&self, collection: &str, id: &str) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        // The record and its index entries go in one statement (atomic).
        let st = c
            .prepare_cached(
                "WITH r AS (DELETE FROM records WHERE id = $1 AND collection = $2 RETURNING id),
                      b AS (DELETE FROM blind_index WHERE record_id IN (SELECT id FROM r))
                 SELECT count(*) FROM r",
            )
            .await?;
        let n: i64 = c.query_one(&st, &[&id, &collection]).await?.try_get(0)?;
        Ok(n > 0)
    }

    async fn search(
        &self,
        collection: &str,
        index: &str,
        tag: &[u8],
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM blind_index b JOIN records r ON r.id = b.record_id
             WHERE b.collection = $1 AND b.idx = $2 AND b.tag = $3 ORDER BY r.created_at LIMIT $4"
        );
        let st = c.prepare_cached(&sql).await?;
        let rows = c
            .query(&st, &[&collection, &index, &tag, &i64::from(limit)])
            .await?;
        rows.iter().map(record).collect()
    }

    async fn insert_token(&self, t: TokenRow) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO tokens (id, hash, principal, admin, created_at, disabled, kind, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &t.id,
                &t.hash,
                &t.principal,
                &t.admin,
                &t.created_at,
                &t.disabled,
                &t.kind.as_str(),
                &t.expires_at,
                &t.last_used_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "SELECT id, hash, principal, admin, created_at, disabled, kind, expires_at, last_used_at FROM tokens WHERE id = $1",
            )
            .await?;
        let Some(r) = c.query_opt(&st, &[&id]).await? else {
            return Ok(None);
        };
        Ok(Some(TokenRow {
            id: r.try_get(0)?,
            hash: r.try_get(1)?,
            principal: r.try_get(2)?,
            admin: r.try_get(3)?,
            created_at: r.try_get(4)?,
            disabled: r.try_get(5)?,
            kind: TokenKind::parse(r.try_get(6)?)?,
            expires_at: r.try_get(7)?,
            last_used_at: r.try_get(8)?,
        }))
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let n: i64 = c
            .query_one("SELECT count(*) FROM tokens", &[])
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn list_records(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records r WHERE r.collection = $1 AND r.id > $2 \
             ORDER BY r.id LIMIT $3"
        );
        let st = c.prepare_cached(&sql).await?;
        let rows = c
            .query(&st, &[&collection, &after.unwrap_or(""), &i64::from(limit)])
            .await?;
        rows.iter().map(record).collect()
    }

    async fn count_records(&self, collection: &str) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM records WHERE collection = $1",
                &[&collection],
            )
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
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

    async fn server_data_directory(&self) -> Result<Option<String>, StoreError> {
        let c = self.pool.get().await?;
        match c.query_one("SHOW data_directory", &[]).await {
            Ok(row) => Ok(Some(row.try_get(0)?)),
            // Not a superuser nor in pg_read_all_settings: cannot be checked.
            Err(e)
                if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
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
