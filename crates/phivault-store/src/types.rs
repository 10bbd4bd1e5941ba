//! What the store keeps: sealed records, index entries, token hashes.

use std::collections::BTreeMap;
use std::fmt;

use crate::{ErrorKind, StoreError};

/// Version byte of the sealed-fields column format.
const SEALED_FORMAT: u8 = 1;

/// A record as stored: sealed PHI fields, plain fields, the wrapped DEK.
#[derive(Clone, PartialEq)]
pub struct StoredRecord {
    /// Collection name.
    pub collection: String,
    /// Record id.
    pub id: String,
    /// The patient record this record links to (its own id for patients).
    pub patient_id: Option<String>,
    /// Creation time, microseconds since the Unix epoch.
    pub created_at: i64,
    /// Last change, microseconds since the Unix epoch.
    pub updated_at: i64,
    /// The KEK version that wrapped the DEK (for rotation queries).
    pub kek_version: u32,
    /// The encoded wrapped DEK.
    pub wrapped_dek: Vec<u8>,
    /// Sealed fields by name.
    pub sealed: BTreeMap<String, Vec<u8>>,
    /// Non-PHI fields.
    pub plain: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRecord")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("fields", &self.sealed.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl StoredRecord {
    /// Sealed fields in the column format: `0x01 | count u16 | (name_len u8 |
    /// name | len u32 | sealed)*`, names in ascending order, big-endian
    /// lengths. Binary keeps the column small and cheap to read and write.
    pub fn encode_sealed(&self) -> Vec<u8> {
        Self::encode_sealed_fields(&self.sealed)
    }

    /// [`Self::encode_sealed`] for a map of sealed fields.
    pub fn encode_sealed_fields(sealed: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
        let size: usize = sealed.iter().map(|(k, v)| 5 + k.len() + v.len()).sum();
        let mut out = Vec::with_capacity(3 + size);
        out.push(SEALED_FORMAT);
        let count = u16::try_from(sealed.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for (name, ct) in sealed.iter().take(usize::from(count)) {
            let n = u8::try_from(name.len()).unwrap_or(u8::MAX);
            out.push(n);
            out.extend_from_slice(name.as_bytes().get(..usize::from(n)).unwrap_or_default());
            let len = u32::try_from(ct.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(ct);
        }
        out
    }

    /// Parses the sealed-fields column (strictly: ordered unique names, no
    /// trailing bytes).
    pub fn decode_sealed(b: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let corrupt = || StoreError::new(ErrorKind::Corrupt, "sealed fields column is malformed");
        let (&ver, rest) = b.split_first().ok_or_else(corrupt)?;
        if ver != SEALED_FORMAT {
            return Err(corrupt());
        }
        let (count, mut rest) = rest.split_first_chunk::<2>().ok_or_else(corrupt)?;
        let mut out = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..u16::from_be_bytes(*count) {
            let (&n, r) = rest.split_first().ok_or_else(corrupt)?;
            let (name, r) = r.split_at_checked(usize::from(n)).ok_or_else(corrupt)?;
            let (len, r) = r.split_first_chunk::<4>().ok_or_else(corrupt)?;
            let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| corrupt())?;
            let (ct, r) = r.split_at_checked(len).ok_or_else(corrupt)?;
            let name = std::str::from_utf8(name).map_err(|_| corrupt())?.to_owned();
            if last.as_ref().is_some_and(|l| *l >= name) {
                return Err(corrupt());
            }
            last = Some(name.clone());
            out.insert(name, ct.to_vec());
            rest = r;
        }
        if !rest.is_empty() {
            return Err(corrupt());
        }
        Ok(out)
    }

    /// Parses the plain-fields column.
    pub fn parse_plain(
        text: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        serde_json::from_str(text)
            .map_err(|_| StoreError::new(ErrorKind::Corrupt, "plain fields column is malformed"))
    }
}

/// One blind-index entry of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Field or compound index name.
    pub index: String,
    /// The tag.
    pub tag: Vec<u8>,
}

/// A stored bearer token: the hash only.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Public lookup id.
    pub id: String,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    /// The principal it authenticates.
    pub principal: String,
    /// Whether the principal is the built-in administrator.
    pub admin: bool,
    /// Creation time, microseconds since the Unix epoch.
    pub created_at: i64,
    /// Revoked tokens stay for the audit trail.
    pub disabled: bool,
    /// An API token or a session.
    pub kind: TokenKind,
    /// Absolute expiry (sessions), microseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Last use (sessions, for the idle timeout), microseconds.
    pub last_used_at: Option<i64>,
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A long-lived API token, exchanged for sessions.
    Api,
    /// A session: idle timeout and absolute lifetime.
    Session,
}

impl TokenKind {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Session => "session",
        }
    }

    /// Parses the column value.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "api" => Ok(Self::Api),
            "session" => Ok(Self::Session),
            _ => Err(StoreError::new(ErrorKind::Corrupt, "unknown token kind")),
        }
    }
}

/// A user (no PHI: an id and a display name chosen by the administrator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Unique user id (e.g. `jdoe@clinic.example`).
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Disabled users cannot authenticate.
    pub disabled: bool,
    /// Creation time, microseconds.
    pub created_at: i64,
}

/// A break-glass grant.
#[derive(Clone, PartialEq, Eq)]
pub struct BreakGlassRow {
    /// Grant id.
    pub id: String,
    /// Who asked.
    pub user_id: String,
    /// For which patient (record id).
    pub patient_id: String,
    /// The justification given (may itself mention clinical facts: never logged).
    pub reason: String,
    /// When granted, microseconds.
    pub granted_at: i64,
    /// When it lapses, microseconds.
    pub expires_at: i64,
}

impl fmt::Debug for BreakGlassRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakGlassRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("patient_id", &self.patient_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &[(&str, &[u8])]) -> StoredRecord {
        StoredRecord {
            collection: "patients".into(),
            id: "x".into(),
            patient_id: None,
            created_at: 0,
            updated_at: 0,
            kek_version: 1,
            wrapped_dek: vec![],
            sealed: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
            plain: serde_json::Map::new(),
        }
    }

    #[test]
    fn sealed_column_round_trips_and_rejects_garbage() {
        let r = rec(&[("ssn", b"\x01abc"), ("name", b""), ("notes", &[0u8; 300])]);
        let enc = r.encode_sealed();
        assert_eq!(StoredRecord::decode_sealed(&enc).unwrap(), r.sealed);
        assert!(StoredRecord::decode_sealed(&[]).is_err());
        assert!(StoredRecord::decode_sealed(&[2, 0, 0]).is_err());
        let mut trailing = enc.clone();
        trailing.push(0);
        assert!(StoredRecord::decode_sealed(&trailing).is_err());
        for cut in 0..enc.len() {
            assert!(StoredRecord::decode_sealed(enc.get(..cut).unwrap()).is_err());
        }
        // Duplicate or unordered names are refused.
        let dup = [1, 0, 2, 1, b'a', 0, 0, 0, 0, 1, b'a', 0, 0, 0, 0];
        assert!(StoredRecord::decode_sealed(&dup).is_err());
    }
}
