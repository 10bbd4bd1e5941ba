//! Record identifiers: random 128-bit values rendered as UUID v4 text.
//!
//! A record id is a pseudonym: it reveals nothing about the patient and is
//! what the audit trail records in place of PHI.

use std::fmt;

/// A validated record id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(String);

/// The id text is not a lowercase UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record id must be a lowercase UUID")]
pub struct InvalidRecordId;

impl RecordId {
    /// A fresh random id from the system CSPRNG.
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b)?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let s = format!(
            "{}-{}-{}-{}-{}",
            hex.get(0..8).unwrap_or_default(),
            hex.get(8..12).unwrap_or_default(),
            hex.get(12..16).unwrap_or_default(),
            hex.get(16..20).unwrap_or_default(),
            hex.get(20..32).unwrap_or_default()
        );
        Ok(Self(s))
    }

    /// Parses untrusted text (for example a URL path segment).
    pub fn parse(s: &str) -> Result<Self, InvalidRecordId> {
        let ok = s.len() == 36
            && s.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidRecordId)
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let a = RecordId::generate().unwrap();
        let b = RecordId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(RecordId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().as_bytes()[14], b'4');
    }

    #[test]
    fn rejects_junk() {
        for s in [
            "",
            "x",
            "../etc/passwd",
            "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA",
        ] {
            assert!(RecordId::parse(s).is_err(), "{s}");
        }
    }
}
