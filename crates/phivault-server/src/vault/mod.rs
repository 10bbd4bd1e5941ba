//! The vault service: validates, seals, indexes and stores records, and opens
//! them for authorized readers. Every operation takes a [`Grant`] from the
//! decision point and refuses one that does not cover it.

mod export;
mod index_keys;
mod notify;
mod ops;
mod reindex;
mod search;
mod view;

use std::sync::Arc;

use phivault_core::policy::{Action, Grant};
use phivault_core::record::RecordError;
use phivault_core::schema::{Collection, Schema};
use phivault_core::validate::{ValidationContext, ValueError};
use phivault_keys::KeyProvider;
use phivault_store::{ErrorKind, Store, StoreError};

pub use index_keys::IndexKeys;
pub use notify::state_of_address;
pub use reindex::ReindexPage;
pub use search::SearchRequest;

/// The route-shaped resource name events carry (ids only).
pub fn resource_of(collection: &str, id: &str) -> String {
    ops::resource(collection, id)
}
pub use view::{Disclosed, FieldOut, RecordView};

use crate::audit::{AuditLog, Who};
use crate::clock::Clock;
use phivault_audit::{Event, Outcome};

/// Why a vault operation failed. Messages name fields, never values.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The grant does not cover this operation.
    #[error("not authorized")]
    Forbidden,
    /// No such collection.
    #[error("collection `{0}` does not exist")]
    UnknownCollection(String),
    /// No such record (or the id is malformed).
    #[error("record not found")]
    NotFound,
    /// The fields were rejected.
    #[error(transparent)]
    Invalid(#[from] RecordError),
    /// The grant hides this field (or, for a search, does not show it in full).
    #[error("field `{0}` is not permitted with your roles")]
    FieldNotPermitted(String),
    /// A search named a field or index that cannot be searched.
    #[error("field `{0}` is not searchable")]
    NotSearchable(String),
    /// A request member other than a field is wrong.
    #[error("field `{field}`: {problem}")]
    BadRequest {
        /// The member.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// A concurrent change won; retry.
    #[error("the record changed concurrently; retry")]
    Conflict,
    /// Stored ciphertext or wrapped key failed to authenticate.
    #[error("record failed its integrity check")]
    Integrity,
    /// Key provider failure.
    #[error("key provider failed")]
    Keys,
    /// The record's keys were destroyed (`phivault keys shred`): its sealed
    /// fields are gone for good.
    #[error("record was crypto-shredded")]
    Shredded,
    /// Storage failure.
    #[error("storage failed: {0}")]
    Store(StoreError),
    /// Random generator or sealing failure.
    #[error("cryptographic operation failed")]
    Crypto,
    /// The audit trail cannot record the access: nothing is disclosed.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Conflict => Self::Conflict,
            _ => Self::Store(e),
        }
    }
}

impl From<ValueError> for VaultError {
    fn from(e: ValueError) -> Self {
        Self::Invalid(RecordError::Value(e))
    }
}

/// What a vault operation needs from the decision point and the request:
/// the grant (made only by `policy::authorize`) and the requester, whom
/// every audit event names.
#[derive(Debug, Clone)]
pub struct Permit {
    /// The grant.
    pub grant: Grant,
    /// The requester.
    pub who: Who,
}

impl Permit {
    /// A successful event by the requester, naming the permission used.
    pub fn event(&self, now: jiff::Timestamp, action: &str, resource: String) -> Event {
        let mut e = self.who.event(now, action, resource, Outcome::Success);
        e.permission = self.grant.rule().map(str::to_owned);
        e
    }
}

/// The vault: schema, key provider, blind indexer, store and audit log.
/// Every operation records its audit event before it discloses or changes
/// anything.
pub struct Vault {
    schema: Schema,
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    index: IndexKeys,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    /// The dedicated pseudonym key for de-identified exports, derived from
    /// the blind-index root under its own label.
    pseudonym_seed: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.store.backend())
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Assembles a vault.
    pub fn new(
        schema: Schema,
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyProvider>,
        index_root: &zeroize::Zeroizing<[u8; 32]>,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
    ) -> Self {
        let index = IndexKeys::fixed(index_root, &schema);
        let root = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, index_root.as_ref());
        let pseudonym_seed = zeroize::Zeroizing::new(
            aws_lc_rs::hmac::sign(&root, b"phivault/pseudonyms/v1")
                .as_ref()
                .to_vec(),
        );
        Self {
            schema,
            store,
            keys,
            index,
            clock,
            audit,
            pseudonym_seed,
        }
    }

    /// Follows the keyring's blind-index root versions (instead of the one
    /// fixed root given to [`Self::new`]).
    pub fn with_index_keyring(mut self, keyring: Arc<phivault_keys::keyring::Keyring>) -> Self {
        self.index = IndexKeys::from_keyring(keyring, &self.schema);
        self
    }

    /// The blind-index keys.
    pub fn index_keys(&self) -> &IndexKeys {
        &self.index
    }

    /// The pseudonym key for de-identified exports.
    pub fn pseudonym_key(&self) -> phivault_scan::deid::PseudonymKey {
        phivault_scan::deid::PseudonymKey::new(&self.pseudonym_seed)
    }

    /// The audit log.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Records events (durably) by the permit's requester.
    async fn record(&self, events: Vec<Event>) -> Result<(), VaultError> {
        self.audit.append(events).await?;
        Ok(())
    }

    /// An event by the permit's requester, now.
    fn event(&self, permit: &Permit, action: &str, resource: String) -> Event {
        permit.event(self.clock.now(), action, resource)
    }

    /// Best effort: records that an attempt failed after its event (or
    /// before any disclosure). The request fails either way.
    async fn record_failure(&self, mut e: Event, reason: &str) {
        e.outcome = Outcome::Failure;
        e.reason = Some(reason.to_owned());
        e.fields.clear();
        if let Err(err) = self.audit.append(vec![e]).await {
            tracing::error!(error = %err, "audit: failure event not recorded");
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The key provider.
    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    fn check(
        &self,
        grant: &Grant,
        action: &Action,
        collection: &str,
    ) -> Result<&Collection, VaultError> {
        if !grant.covers(action, collection) {
            return Err(VaultError::Forbidden);
        }
        self.schema
            .collection(collection)
            .ok_or_else(|| VaultError::UnknownCollection(collection.to_owned()))
    }

    fn validation_context(&self) -> ValidationContext {
        let today = self
            .clock
            .now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        ValidationContext { today }
    }
}
