//! Data-encryption keys: one per record.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The public 8-byte identifier of a DEK, written in every field header.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// From exactly 8 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }

    /// The id bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A 256-bit data key. Zeroized on drop; `Debug` shows only its id.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey {
    #[zeroize(skip)]
    id: KeyId,
    bytes: Zeroizing<[u8; 32]>,
}

impl DataKey {
    /// A fresh random key and id from the system CSPRNG.
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let mut id = [0u8; 8];
        aws_lc_rs::rand::fill(&mut id)?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut())?;
        Ok(Self {
            id: KeyId(id),
            bytes,
        })
    }

    /// Rebuilds a key from unwrapped material.
    pub fn from_parts(id: KeyId, bytes: Zeroizing<[u8; 32]>) -> Self {
        Self { id, bytes }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key bytes, for the AEAD and for wrapping only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
