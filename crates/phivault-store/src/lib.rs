//! Storage adapters behind one [`Store`] trait: SQLite (the embedded default,
//! one file in the data directory) and PostgreSQL (production).
//!
//! A store only ever sees sealed fields, wrapped data keys and blind-index
//! tags; it holds no key and cannot read PHI. Every write is one transaction.

mod access;
pub mod audit;
mod breach;
mod error;
mod keys;
pub mod postgres;
pub mod sqlite;
mod types;

pub use access::AccessStore;
pub use breach::{AlertRow, BreachStore, IncidentRow, LIFT_REQUEST_TTL_MICROS, LockdownRow};
pub use error::{ErrorKind, StoreError};
pub use keys::{DekFilter, DekRow, DekSwap, IndexReplace, Reseal, SHREDDED_KEK_VERSION, Shredded};
pub use types::{BreakGlassRow, IndexEntry, StoredRecord, TokenKind, TokenRow, UserRow};

/// The storage contract. Both backends pass the same conformance suite
/// (`tests/conformance.rs`).
#[async_trait::async_trait]
pub trait Store: AccessStore + BreachStore + Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The audit store kept in the same database (PostgreSQL); `None` when
    /// the audit trail lives elsewhere (segment files beside SQLite).
    fn audit_store(&self) -> Option<std::sync::Arc<dyn audit::AuditStore>> {
        None
    }

    /// The database server's own data directory when it is on this machine
    /// and readable (PostgreSQL's `data_directory`, for the key-separation
    /// check); `None` otherwise.
    async fn server_data_directory(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// Inserts a record and its blind-index entries atomically.
    async fn insert_record(
        &self,
        rec: StoredRecord,
        index: Vec<IndexEntry>,
    ) -> Result<(), StoreError>;

    /// One record by collection and id.
    async fn get_record(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError>;

    /// Replaces a record whose `updated_at` is still `expected_updated_at`
    /// and whose wrapped DEK is still `rec.wrapped_dek` (a rewrap, reseal or
    /// shred in between is a conflict, never silently undone),
    /// dropping the index entries named in `drop_indexes` and adding `index`.
    /// `ErrorKind::NotFound` if the record is gone, `ErrorKind::Conflict` if
    /// it changed in between.
    async fn update_record(
        &self,
        rec: StoredRecord,
        expected_updated_at: i64,
        drop_indexes: Vec<String>,
        index: Vec<IndexEntry>,
    ) -> Result<(), StoreError>;

    /// Deletes a record and its index entries; false if it did not exist.
    async fn delete_record(&self, collection: &str, id: &str) -> Result<bool, StoreError>;

    /// Records whose index entry `index` has `tag` (an index lookup, never a scan).
    async fn search(
        &self,
        collection: &str,
        index: &str,
        tag: &[u8],
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError>;

    /// Stores a new token.
    async fn insert_token(&self, token: TokenRow) -> Result<(), StoreError>;

    /// A token by id.
    async fn get_token(&self, id: &str) -> Result<Option<TokenRow>, StoreError>;

    /// Number of stored tokens (zero on a fresh database).
    async fn count_tokens(&self) -> Result<u64, StoreError>;

    /// Number of records, per collection (for status pages and benchmarks).
    async fn count_records(&self, collection: &str) -> Result<u64, StoreError>;

    /// A page of a collection's records in id order, after the id `after`
    /// (keyset pagination, for exports).
    async fn list_records(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// Up to `limit` wrapped DEKs with ids greater than `after`, by id
    /// (keyset pagination: stable while records are added or changed).
    async fn list_deks(
        &self,
        filter: DekFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DekRow>, StoreError>;

    /// Number of records per KEK version, ascending by version (shredded
    /// records count under [`SHREDDED_KEK_VERSION`]).
    async fn count_deks_by_kek(&self) -> Result<Vec<(u32, u64)>, StoreError>;

    /// Applies each swap whose stored wrapped DEK still equals `old`, in one
    /// transaction; returns how many applied (the others changed meanwhile).
    async fn swap_deks(&self, swaps: Vec<DekSwap>) -> Result<u64, StoreError>;

    /// Applies each reseal whose record is unchanged since it was read, in
    /// one transaction; returns how many applied.
    async fn reseal_records(&self, reseals: Vec<Reseal>) -> Result<u64, StoreError>;

    /// Replaces every blind-index entry of each unchanged record, in one
    /// transaction; returns the ids that changed meanwhile (not applied).
    async fn replace_index(&self, replaces: Vec<IndexReplace>) -> Result<Vec<String>, StoreError>;

    /// Crypto-shreds the patient record `patient_id` and every record linked
    /// to it: the wrapped DEK and the sealed fields are erased, the KEK
    /// version set to [`SHREDDED_KEK_VERSION`], the blind-index entries
    /// deleted; plain fields stay. One transaction. Returns the records.
    async fn shred_patient(&self, patient_id: &str) -> Result<Vec<Shredded>, StoreError>;
}

/// Opens the store named by a URL: `postgres://…` or a SQLite file path.
///
/// A PostgreSQL URL may carry `schema=NAME` among its query parameters to put
/// phivault's tables in that schema (default `phivault`).
pub async fn open(url_or_path: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
        let (url, schema) = postgres::split_schema(url_or_path);
        Ok(std::sync::Arc::new(
            postgres::PgStore::connect(&url, &schema).await?,
        ))
    } else {
        Ok(std::sync::Arc::new(sqlite::SqliteStore::open(
            std::path::Path::new(url_or_path),
        )?))
    }
}
