//! What the store keeps: sealed records, index entries, token hashes.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{ErrorKind, StoreError};

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
    /// Sealed fields as a JSON object of base64 strings (the column format).
    pub fn sealed_json(&self) -> String {
        let m: serde_json::Map<String, serde_json::Value> = self
            .sealed
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(STANDARD.encode(v))))
            .collect();
        serde_json::Value::Object(m).to_string()
    }

    /// Parses the sealed-fields column.
    pub fn parse_sealed(text: &str) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let corrupt = || StoreError::new(ErrorKind::Corrupt, "sealed fields column is malformed");
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|_| corrupt())?;
        v.into_iter()
            .map(|(k, v)| {
                let s = v.as_str().ok_or_else(corrupt)?;
                Ok((k, STANDARD.decode(s).map_err(|_| corrupt())?))
            })
            .collect()
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
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}
