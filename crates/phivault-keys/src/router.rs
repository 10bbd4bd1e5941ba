//! The provider a vault runs with: new DEKs are wrapped under the configured
//! provider; a stored DEK is unwrapped by the provider kind that wrapped it.
//!
//! The local keyring is always present (it holds the blind-index root key),
//! so a vault that moves from the keyring to an HSM or to Vault Transit
//! keeps reading the DEKs written before the move, and `phivault keys rotate
//! --resume` migrates them: the rotation's work list is "every DEK not at
//! [`kek_slot`] of the current KEK", which a DEK under another provider
//! never is.

use std::sync::Arc;

use phivault_core::envelope::{DataKey, KekRef, UnwrapError, WrapError, WrappedDek};

use crate::keyring::Keyring;
use crate::{KekInfo, KeyProvider, ProviderError, RetireError, RotateError, VersionsError};

/// The store's one-number name for a KEK (its `kek_version` column): the
/// version for the local keyring (kind 1, as written by every earlier
/// build), `kind << 24 | version` for the others.
pub fn kek_slot(k: KekRef) -> u32 {
    if k.provider == 1 {
        k.version
    } else {
        (u32::from(k.provider) << 24) | (k.version & 0x00FF_FFFF)
    }
}

/// The KEK a [`kek_slot`] names.
pub fn slot_kek(slot: u32) -> KekRef {
    match (slot >> 24) as u8 {
        0 => KekRef {
            provider: 1,
            version: slot,
        },
        kind => KekRef {
            provider: kind,
            version: slot & 0x00FF_FFFF,
        },
    }
}

/// A provider kind's name, for status output.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        1 => "keyring",
        2 => "pkcs11",
        3 => "vault-transit",
        _ => "unknown",
    }
}

/// The configured provider plus the local keyring for older DEKs.
#[derive(Debug, Clone)]
pub struct Providers {
    primary: Arc<dyn KeyProvider>,
    keyring: Arc<Keyring>,
}

impl Providers {
    /// `primary` wraps; DEKs of kind 1 unwrap under `keyring` when
    /// `primary` is another kind.
    pub fn new(primary: Arc<dyn KeyProvider>, keyring: Arc<Keyring>) -> Self {
        Self { primary, keyring }
    }

    /// The keyring alone as the provider.
    pub fn keyring_only(keyring: Arc<Keyring>) -> Self {
        Self {
            primary: keyring.clone(),
            keyring,
        }
    }

    /// The provider that wraps new DEKs.
    pub fn primary(&self) -> &Arc<dyn KeyProvider> {
        &self.primary
    }

    /// The local keyring.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    fn for_kind(&self, kind: u8) -> Option<&dyn KeyProvider> {
        if kind == self.primary.current().provider {
            Some(self.primary.as_ref())
        } else if kind == 1 {
            Some(self.keyring.as_ref())
        } else {
            None
        }
    }
}

#[async_trait::async_trait]
impl KeyProvider for Providers {
    fn current(&self) -> KekRef {
        self.primary.current()
    }

    async fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError> {
        self.primary.wrap(dek, collection, record_id).await
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedDek,
        collection: &str,
        record_id: &str,
    ) -> Result<DataKey, UnwrapError> {
        match self.for_kind(wrapped.kek.provider) {
            Some(p) => p.unwrap(wrapped, collection, record_id).await,
            None => Err(UnwrapError::UnknownKek(wrapped.kek.version)),
        }
    }

    async fn versions(&self) -> Result<Vec<KekInfo>, VersionsError> {
        self.primary.versions().await
    }

    async fn rotate(&self, now: jiff::Timestamp) -> Result<KekRef, RotateError> {
        self.primary.rotate(now).await
    }

    async fn retire_below(&self, version: u32) -> Result<Vec<u32>, RetireError> {
        self.primary.retire_below(version).await
    }

    async fn refresh(&self) -> Result<u32, ProviderError> {
        if self.primary.current().provider != 1 {
            self.keyring.refresh().await?;
        }
        self.primary.refresh().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn slots_round_trip_and_keep_keyring_versions() {
        for k in [
            KekRef {
                provider: 1,
                version: 7,
            },
            KekRef {
                provider: 2,
                version: 1,
            },
            KekRef {
                provider: 3,
                version: 12,
            },
        ] {
            assert_eq!(slot_kek(kek_slot(k)), k);
        }
        assert_eq!(
            kek_slot(KekRef {
                provider: 1,
                version: 3
            }),
            3
        );
        assert_ne!(
            kek_slot(KekRef {
                provider: 2,
                version: 3
            }),
            3
        );
    }
}
