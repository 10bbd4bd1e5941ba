//! Key providers: where key-encryption keys (KEKs) live and how data keys are
//! wrapped and unwrapped under them.
//!
//! The vault sees only the [`KeyProvider`] trait. This crate ships the local
//! keyring ([`keyring::Keyring`]): versioned KEK material in a file under
//! `keys/` in the data directory, never inside the PHI database.

pub mod keyring;

use phivault_core::envelope::{DataKey, KekRef, UnwrapError, WrapError, WrappedDek};

/// Wraps and unwraps data keys under a provider's KEK.
#[async_trait::async_trait]
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// The KEK new data keys are wrapped under.
    fn current(&self) -> KekRef;

    /// Wraps a data key for one record under the current KEK.
    async fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError>;

    /// Unwraps a data key of one record, under whichever KEK version wrapped it.
    async fn unwrap(
        &self,
        wrapped: &WrappedDek,
        collection: &str,
        record_id: &str,
    ) -> Result<DataKey, UnwrapError>;
}
