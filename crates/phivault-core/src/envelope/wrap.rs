//! Wrapped data keys and the local (software) key-encryption key.
//!
//! Wrapped DEK layout (format 1), big-endian:
//!
//! ```text
//! 0     1          2            6         14
//! | ver | provider | kek version | dek id | provider payload |
//! ```
//!
//! The payload is whatever the key provider returns (for the local keyring:
//! a 12-byte nonce and the AES-256-GCM ciphertext and tag of the DEK). The
//! associated data binds the header to the record's collection and id, so a
//! wrapped DEK copied to another row does not unwrap.

use std::fmt;

use aws_lc_rs::aead::{
    AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, RandomizedNonceKey, UnboundKey,
};
use zeroize::Zeroizing;

use super::{DataKey, FORMAT_V1, KeyId, push_part};

/// Which KEK wrapped a DEK: the provider kind and the KEK version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KekRef {
    /// Provider kind: 1 local keyring, 2 PKCS#11, 3 Vault Transit.
    pub provider: u8,
    /// KEK version within that provider.
    pub version: u32,
}

/// A DEK as stored: header plus provider payload. Public data.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDek {
    /// The KEK that wrapped it.
    pub kek: KekRef,
    /// The DEK's public id.
    pub dek_id: KeyId,
    /// The provider's ciphertext.
    pub payload: Vec<u8>,
}

impl fmt::Debug for WrappedDek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDek")
            .field("kek", &self.kek)
            .field("dek_id", &self.dek_id)
            .finish_non_exhaustive()
    }
}

/// Wrapping failed inside the provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wrapping the data key failed")]
pub struct WrapError;

/// Unwrapping failed: malformed, unknown KEK version, or integrity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    /// The stored bytes are not a wrapped DEK.
    #[error("wrapped data key is malformed")]
    Malformed,
    /// No KEK of that provider and version is available.
    #[error("key-encryption key version {0} is not available")]
    UnknownKek(u32),
    /// Authentication failed (wrong key, tampering, or moved to another row).
    #[error("wrapped data key failed its integrity check")]
    Integrity,
}

impl WrappedDek {
    /// The 14-byte header.
    pub fn header(&self) -> [u8; 14] {
        let mut h = [0u8; 14];
        h[0] = FORMAT_V1;
        h[1] = self.kek.provider;
        h[2..6].copy_from_slice(&self.kek.version.to_be_bytes());
        h[6..14].copy_from_slice(self.dek_id.as_bytes());
        h
    }

    /// Header followed by payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header().to_vec();
        out.extend_from_slice(&self.payload);
        out
    }

    /// Parses stored bytes.
    pub fn decode(b: &[u8]) -> Result<Self, UnwrapError> {
        let (h, payload) = b.split_at_checked(14).ok_or(UnwrapError::Malformed)?;
        let [FORMAT_V1, provider, v0, v1, v2, v3, kid @ ..] = h else {
            return Err(UnwrapError::Malformed);
        };
        Ok(Self {
            kek: KekRef {
                provider: *provider,
                version: u32::from_be_bytes([*v0, *v1, *v2, *v3]),
            },
            dek_id: KeyId::from_slice(kid).ok_or(UnwrapError::Malformed)?,
            payload: payload.to_vec(),
        })
    }

    /// The associated data a provider must bind when wrapping or unwrapping.
    pub fn aad(kek: KekRef, dek_id: KeyId, collection: &str, record_id: &str) -> Vec<u8> {
        let header = Self {
            kek,
            dek_id,
            payload: Vec::new(),
        }
        .header();
        let mut aad = Vec::with_capacity(64);
        push_part(&mut aad, b"phivault/dek/v1");
        push_part(&mut aad, collection.as_bytes());
        push_part(&mut aad, record_id.as_bytes());
        push_part(&mut aad, &header);
        aad
    }
}

/// A software KEK (AES-256-GCM), as kept by the local keyring.
pub struct LocalKek {
    kek: KekRef,
    sealer: RandomizedNonceKey,
    opener: LessSafeKey,
}

impl fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKek")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

impl LocalKek {
    /// Builds the KEK from its material; the caller's buffer is zeroized by
    /// its own `Zeroizing` wrapper.
    pub fn new(version: u32, material: &Zeroizing<[u8; 32]>) -> Result<Self, WrapError> {
        Ok(Self {
            kek: KekRef {
                provider: 1,
                version,
            },
            sealer: RandomizedNonceKey::new(&AES_256_GCM, material.as_ref())
                .map_err(|_| WrapError)?,
            opener: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, material.as_ref()).map_err(|_| WrapError)?,
            ),
        })
    }

    /// The provider kind and version of this KEK.
    pub fn kek_ref(&self) -> KekRef {
        self.kek
    }

    /// Wraps a DEK for the given record.
    pub fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError> {
        let aad = WrappedDek::aad(self.kek, dek.id(), collection, record_id);
        let mut buf = Zeroizing::new(dek.expose().to_vec());
        let nonce = self
            .sealer
            .seal_in_place_append_tag(Aad::from(aad.as_slice()), &mut *buf)
            .map_err(|_| WrapError)?;
        let mut payload = nonce.as_ref().to_vec();
        payload.extend_from_slice(&buf);
        Ok(WrappedDek {
            kek: self.kek,
            dek_id: dek.id(),
            payload,
        })
    }

    /// Unwraps a DEK of the given record.
    pub fn unwrap(
        &self,
        w: &WrappedDek,
        collection: &str,
        record_id: &str,
    ) -> Result<DataKey, UnwrapError> {
        if w.kek != self.kek {
            return Err(UnwrapError::UnknownKek(w.kek.version));
        }
        let (nonce, ct) = w
            .payload
            .split_at_checked(NONCE_LEN)
            .ok_or(UnwrapError::Malformed)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| UnwrapError::Malformed)?;
        let aad = WrappedDek::aad(self.kek, w.dek_id, collection, record_id);
        let mut buf = Zeroizing::new(ct.to_vec());
        let plain = self
            .opener
            .open_in_place(nonce, Aad::from(aad.as_slice()), &mut buf)
            .map_err(|_| UnwrapError::Integrity)?;
        let bytes: [u8; 32] = (&*plain).try_into().map_err(|_| UnwrapError::Integrity)?;
        Ok(DataKey::from_parts(w.dek_id, Zeroizing::new(bytes)))
    }
}
