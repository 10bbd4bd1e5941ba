//! Key providers: where key-encryption keys (KEKs) live and how data keys are
//! wrapped and unwrapped under them.
//!
//! The vault sees only the [`KeyProvider`] trait. This crate ships three
//! providers, one per [`KekRef::provider`] kind:
//!
//! | kind | provider | where the KEK lives |
//! | --- | --- | --- |
//! | 1 | [`keyring::Keyring`] | `keys/keyring.json`, optionally sealed under an argon2id passphrase |
//! | 2 | [`pkcs11::Pkcs11Provider`] | a non-extractable AES-256 key inside a PKCS#11 token |
//! | 3 | [`transit::TransitProvider`] | a HashiCorp Vault Transit `aes256-gcm96` key |
//!
//! Every provider binds [`WrappedDek::aad`] as associated data, so a wrapped
//! DEK copied to another record does not unwrap, and every provider supports
//! rotation: [`KeyProvider::rotate`] adds a KEK version, [`KeyProvider::rewrap`]
//! moves one DEK to the current version, [`KeyProvider::retire_below`] drops
//! versions no DEK uses any more.

pub mod error;
pub mod keyring;
pub mod pkcs11;
pub mod router;
mod secret;
pub mod transit;

pub use error::{
    ProviderError, ProviderErrorKind, RetireError, RewrapError, RotateError, VersionsError,
};
pub use secret::{Passphrase, Pin, SecretLoadError, VaultToken};

use phivault_core::envelope::{DataKey, KekRef, UnwrapError, WrapError, WrappedDek};

/// Metadata of one KEK version (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekInfo {
    /// Version number.
    pub version: u32,
    /// Creation time, when the provider records one (PKCS#11 records the day).
    pub created_at: Option<jiff::Timestamp>,
}

/// Wraps and unwraps data keys under a provider's KEK.
///
/// The rotation methods have defaults so a minimal provider only implements
/// `current`, `wrap` and `unwrap`.
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

    /// The KEK versions this provider can unwrap with, oldest first.
    async fn versions(&self) -> Result<Vec<KekInfo>, VersionsError> {
        Ok(vec![KekInfo {
            version: self.current().version,
            created_at: None,
        }])
    }

    /// Creates the next KEK version and makes it current; returns it. Data
    /// keys wrapped before keep unwrapping under their own version.
    async fn rotate(&self, _now: jiff::Timestamp) -> Result<KekRef, RotateError> {
        Err(RotateError::Unsupported)
    }

    /// Re-wraps one data key under the current KEK (unwrap, then wrap; the
    /// DEK exists only in zeroizing memory in between). A DEK already under
    /// the current KEK is returned unchanged.
    async fn rewrap(
        &self,
        wrapped: &WrappedDek,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, RewrapError> {
        if wrapped.kek == self.current() {
            return Ok(wrapped.clone());
        }
        let dek = self.unwrap(wrapped, collection, record_id).await?;
        Ok(self.wrap(&dek, collection, record_id).await?)
    }

    /// Re-reads the KEK versions from where they live (after a rotation or
    /// retirement by another process); returns the current version.
    async fn refresh(&self) -> Result<u32, ProviderError> {
        Ok(self.current().version)
    }

    /// Removes KEK versions below `version`; returns the versions removed.
    /// `version` must not exceed the current version. The caller checks first
    /// that no stored DEK is wrapped under a removed version: afterwards such
    /// DEKs no longer unwrap.
    async fn retire_below(&self, _version: u32) -> Result<Vec<u32>, RetireError> {
        Err(RetireError::Unsupported)
    }
}
