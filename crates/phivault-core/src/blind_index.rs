//! Blind indexes: exact-match search over sealed fields.
//!
//! A tag is HMAC-SHA256 over the normalized value under a key derived for one
//! (collection, field) pair from the index root key, truncated to 128 bits.
//! The root key is separate from every KEK, so KEK rotation never touches
//! the index; rotating the root key is a separate reindex.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::PhiValue;
use crate::schema::Schema;

/// Length of a stored tag in bytes.
pub const TAG_LEN: usize = 16;

/// A blind-index tag. Public: it is what the store indexes and what the audit
/// trail may record for a search.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindTag([u8; TAG_LEN]);

impl BlindTag {
    /// The tag bytes.
    pub fn as_bytes(&self) -> &[u8; TAG_LEN] {
        &self.0
    }

    /// From stored bytes.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }

    /// Lowercase hex, for audit events.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for BlindTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindTag({})", self.to_hex())
    }
}

/// Computes tags with one derived HMAC key per (collection, index name).
pub struct BlindIndexer {
    keys: HashMap<(String, String), hmac::Key>,
}

impl fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexer")
            .field("indexes", &self.keys.len())
            .finish_non_exhaustive()
    }
}

fn derive(root: &hmac::Key, collection: &str, index: &str) -> hmac::Key {
    let mut ctx = hmac::Context::with_key(root);
    for part in [
        b"phivault/blind-index/v1".as_slice(),
        collection.as_bytes(),
        index.as_bytes(),
    ] {
        ctx.update(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        ctx.update(part);
    }
    let derived = Zeroizing::new(ctx.sign().as_ref().to_vec());
    hmac::Key::new(hmac::HMAC_SHA256, &derived)
}

impl BlindIndexer {
    /// Derives a key for every searchable field and compound index of the schema.
    pub fn new(root: &Zeroizing<[u8; 32]>, schema: &Schema) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, root.as_ref());
        let mut keys = HashMap::new();
        for c in schema.collections() {
            let names = c
                .fields
                .values()
                .filter(|f| f.search)
                .map(|f| f.name.clone())
                .chain(c.compound.iter().map(|x| x.name.clone()));
            for name in names {
                let k = derive(&root, &c.name, &name);
                keys.insert((c.name.clone(), name), k);
            }
        }
        Self { keys }
    }

    /// The tag of normalized values for an index (one part for a field, several
    /// for a compound index). `None` when the index does not exist.
    pub fn tag(&self, collection: &str, index: &str, parts: &[&PhiValue]) -> Option<BlindTag> {
        let key = self.keys.get(&(collection.to_owned(), index.to_owned()))?;
        let mut ctx = hmac::Context::with_key(key);
        for p in parts {
            // Why exposing is fine: the value only feeds the keyed hash.
            let b = p.expose().as_bytes();
            ctx.update(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
            ctx.update(b);
        }
        let full = ctx.sign();
        BlindTag::from_slice(full.as_ref().get(..TAG_LEN)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> PhiValue {
        PhiValue::new(s.to_owned())
    }

    #[test]
    fn tags_are_keyed_per_field_and_root() {
        let schema = Schema::from_toml(Schema::default_toml()).unwrap();
        let a = BlindIndexer::new(&Zeroizing::new([1; 32]), &schema);
        let b = BlindIndexer::new(&Zeroizing::new([2; 32]), &schema);
        let t1 = a.tag("patients", "ssn", &[&v("123-45-6789")]).unwrap();
        assert_eq!(t1, a.tag("patients", "ssn", &[&v("123-45-6789")]).unwrap());
        assert_ne!(t1, b.tag("patients", "ssn", &[&v("123-45-6789")]).unwrap());
        assert_ne!(t1, a.tag("patients", "mrn", &[&v("123-45-6789")]).unwrap());
        assert!(a.tag("patients", "notes", &[&v("x")]).is_none());
        let c1 = a
            .tag("patients", "name_birth_date", &[&v("ab"), &v("c")])
            .unwrap();
        let c2 = a
            .tag("patients", "name_birth_date", &[&v("a"), &v("bc")])
            .unwrap();
        assert_ne!(c1, c2);
    }
}
