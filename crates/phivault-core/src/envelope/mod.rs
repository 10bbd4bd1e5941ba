//! The envelope format: fields sealed with a per-record data key (DEK), the
//! DEK wrapped by a key-encryption key (KEK) held by a key provider.
//!
//! Sealed field layout (format 1), all integers big-endian:
//!
//! ```text
//! 0      1      2          10         22
//! | ver  | alg  | dek id   | nonce    | ciphertext || 16-byte GCM tag |
//! ```
//!
//! The associated data binds the header to the collection, record id and
//! field name (see [`FieldContext`]), so a ciphertext copied into another
//! row or field fails to open.

mod data_key;
mod wrap;

use aws_lc_rs::aead::{
    AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, RandomizedNonceKey, UnboundKey,
};

pub use data_key::{DataKey, KeyId};
pub use wrap::{KekRef, LocalKek, UnwrapError, WrapError, WrappedDek};

use crate::PhiValue;

/// The only envelope format version so far.
pub const FORMAT_V1: u8 = 1;

/// Header length of a sealed field: version, algorithm, DEK id, nonce.
pub const FIELD_HEADER_LEN: usize = 2 + 8 + NONCE_LEN;

/// AEAD algorithms on the allow-list. An id not listed here does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-256-GCM (NIST SP 800-38D), 96-bit random nonces.
    Aes256Gcm,
}

impl Algorithm {
    /// The id written in headers.
    pub fn id(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
        }
    }

    /// The allow-list: ids this build opens.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Aes256Gcm),
            _ => None,
        }
    }
}

/// Where a sealed field belongs; all three are bound into the associated data.
#[derive(Debug, Clone, Copy)]
pub struct FieldContext<'a> {
    /// Collection name.
    pub collection: &'a str,
    /// Record id.
    pub record_id: &'a str,
    /// Field name.
    pub field: &'a str,
}

/// Sealing failed (the system RNG or AEAD reported an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sealing failed")]
pub struct SealError;

/// Why a sealed field did not open. `Integrity` is deliberately the same for
/// a wrong key, a tampered ciphertext and a ciphertext moved to another field
/// or record: no oracle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Too short, or an unknown format version.
    #[error("ciphertext is malformed")]
    Malformed,
    /// An algorithm id that is not on the allow-list.
    #[error("ciphertext uses an algorithm that is not allowed")]
    UnsupportedAlgorithm,
    /// Authentication failed.
    #[error("ciphertext failed its integrity check")]
    Integrity,
}

/// Seals and opens the fields of one record under its DEK. Build one per
/// record; the AES key schedule is computed once.
pub struct RecordCipher {
    key_id: KeyId,
    sealer: RandomizedNonceKey,
    opener: LessSafeKey,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    /// A cipher for the record whose DEK is `dek`.
    pub fn new(dek: &DataKey) -> Result<Self, SealError> {
        let sealer = RandomizedNonceKey::new(&AES_256_GCM, dek.expose()).map_err(|_| SealError)?;
        let opener =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, dek.expose()).map_err(|_| SealError)?);
        Ok(Self {
            key_id: dek.id(),
            sealer,
            opener,
        })
    }

    /// Seals one field value.
    pub fn seal(&self, ctx: FieldContext<'_>, value: &PhiValue) -> Result<Vec<u8>, SealError> {
        let mut header = [0u8; 10];
        header[0] = FORMAT_V1;
        header[1] = Algorithm::Aes256Gcm.id();
        header[2..10].copy_from_slice(self.key_id.as_bytes());
        let aad = field_aad(ctx, &header);
        // Why exposing is fine: the plaintext is copied into a buffer that is
        // encrypted in place before it leaves this function.
        let mut buf = value.expose().as_bytes().to_vec();
        let nonce = self
            .sealer
            .seal_in_place_append_tag(Aad::from(aad.as_slice()), &mut buf)
            .map_err(|_| SealError)?;
        let mut out = Vec::with_capacity(FIELD_HEADER_LEN + buf.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens one sealed field.
    pub fn open(&self, ctx: FieldContext<'_>, sealed: &[u8]) -> Result<PhiValue, OpenError> {
        let (header, rest) = sealed.split_at_checked(10).ok_or(OpenError::Malformed)?;
        let (nonce, ct) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(OpenError::Malformed)?;
        match header {
            [FORMAT_V1, alg, kid @ ..] => {
                if Algorithm::from_id(*alg).is_none() {
                    return Err(OpenError::UnsupportedAlgorithm);
                }
                if kid != self.key_id.as_bytes() {
                    return Err(OpenError::Integrity);
                }
            }
            _ => return Err(OpenError::Malformed),
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Malformed)?;
        let aad = field_aad(ctx, header);
        let mut buf = ct.to_vec();
        let plain_len = self
            .opener
            .open_in_place(nonce, Aad::from(aad.as_slice()), &mut buf)
            .map_err(|_| OpenError::Integrity)?
            .len();
        buf.truncate(plain_len);
        let text = String::from_utf8(buf).map_err(|_| OpenError::Integrity)?;
        Ok(PhiValue::new(text))
    }
}

/// Reads the algorithm id and DEK id of a sealed field without opening it
/// (for key scans).
pub fn field_header(sealed: &[u8]) -> Option<(u8, u8, KeyId)> {
    match sealed.get(..10)? {
        [ver, alg, kid @ ..] => Some((*ver, *alg, KeyId::from_slice(kid)?)),
        _ => None,
    }
}

fn push_part(aad: &mut Vec<u8>, part: &[u8]) {
    // Length-prefixed so `("ab", "c")` and `("a", "bc")` differ.
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    aad.extend_from_slice(&len.to_be_bytes());
    aad.extend_from_slice(part);
}

fn field_aad(ctx: FieldContext<'_>, header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    push_part(&mut aad, b"phivault/field/v1");
    push_part(&mut aad, ctx.collection.as_bytes());
    push_part(&mut aad, ctx.record_id.as_bytes());
    push_part(&mut aad, ctx.field.as_bytes());
    push_part(&mut aad, header);
    aad
}

#[cfg(test)]
mod tests;
