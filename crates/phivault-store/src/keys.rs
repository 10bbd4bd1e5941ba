//! What key management reads and writes: wrapped data keys, never sealed
//! fields (a rewrap does not touch PHI ciphertext).

use std::fmt;

/// The KEK version a shredded record carries: its DEK is gone for good.
pub const SHREDDED_KEK_VERSION: u32 = 0;

/// One record's wrapped data key, as listed for rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct DekRow {
    /// Collection name.
    pub collection: String,
    /// Record id (the keyset pagination key: ids are unique across collections).
    pub id: String,
    /// The KEK version that wrapped the DEK.
    pub kek_version: u32,
    /// The encoded wrapped DEK.
    pub wrapped_dek: Vec<u8>,
}

impl fmt::Debug for DekRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DekRow")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("kek_version", &self.kek_version)
            .finish_non_exhaustive()
    }
}

/// A compare-and-swap of one record's wrapped DEK: applied only while the
/// stored wrapped DEK is still `old`, so a rewrap never overwrites a
/// concurrent change (re-encryption, shredding, another rotation).
#[derive(Clone, PartialEq, Eq)]
pub struct DekSwap {
    /// Collection name.
    pub collection: String,
    /// Record id.
    pub id: String,
    /// The wrapped DEK the caller read.
    pub old: Vec<u8>,
    /// Its replacement.
    pub new: Vec<u8>,
    /// The KEK version of `new`.
    pub kek_version: u32,
}

impl fmt::Debug for DekSwap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DekSwap")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("kek_version", &self.kek_version)
            .finish_non_exhaustive()
    }
}

/// A re-encryption of one record: a new wrapped DEK and every sealed field
/// resealed under it. Applied only while the record still has `old_wrapped`
/// and `expected_updated_at` (no concurrent rewrap, patch or shred), so a
/// reseal never overwrites a change and is never overwritten by a stale one.
/// `updated_at` is kept: the record's content did not change.
#[derive(Clone, PartialEq, Eq)]
pub struct Reseal {
    /// Collection name.
    pub collection: String,
    /// Record id.
    pub id: String,
    /// The record's `updated_at` when it was read.
    pub expected_updated_at: i64,
    /// The wrapped DEK the caller read.
    pub old_wrapped: Vec<u8>,
    /// The new wrapped DEK.
    pub new_wrapped: Vec<u8>,
    /// The KEK version of `new_wrapped`.
    pub kek_version: u32,
    /// The encoded sealed fields under the new DEK
    /// ([`crate::StoredRecord::encode_sealed_fields`]).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for Reseal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reseal")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("kek_version", &self.kek_version)
            .finish_non_exhaustive()
    }
}

/// A record's blind-index entries recomputed under a new index root
/// (`phivault keys reindex`): applied only while the record's `updated_at`
/// is still `expected_updated_at`, replacing every entry of the record.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexReplace {
    /// Collection name.
    pub collection: String,
    /// Record id.
    pub id: String,
    /// The record's `updated_at` when it was read.
    pub expected_updated_at: i64,
    /// All of its entries under the new root.
    pub entries: Vec<crate::IndexEntry>,
}

impl fmt::Debug for IndexReplace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexReplace")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// Which DEKs a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DekFilter {
    /// Every record that still has a DEK (shredded records are skipped).
    All,
    /// Records whose KEK version is not this one (the rotation work list).
    NotAt(u32),
}

/// A record destroyed by [`crate::Store::shred_patient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shredded {
    /// Collection name.
    pub collection: String,
    /// Record id.
    pub id: String,
}
