//! Exact known values (a patient list exported for a scan), compared by
//! keyed hash.
//!
//! Each value is normalized (trimmed, ASCII-lowercased), then reduced to
//! two keyed hashes under keys drawn at random for this process:
//! a 64-bit SipHash (std `RandomState`) used as a prefilter, and an
//! HMAC-SHA256 tag that confirms a match. The plaintext is zeroized right
//! after hashing and never stored; neither hash is reproducible outside this
//! process. At scan time only windows of whole tokens whose byte length
//! equals the length of some known value are hashed.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::Read;

use aws_lc_rs::hmac;
use zeroize::{Zeroize, Zeroizing};

use crate::detect::{Finding, alnum, at};
use crate::kind::Kind;

/// Longest accepted value, in bytes.
pub const MAX_VALUE_LEN: usize = 255;
/// Most tokens (alphanumeric runs) in one value.
const MAX_TOKENS: usize = 8;

/// Loading known values failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnownValuesError {
    /// The source could not be read.
    #[error("known values could not be read")]
    Read(#[source] std::io::Error),
    /// A value is longer than [`MAX_VALUE_LEN`] bytes or has too many words.
    #[error("known value on line {line} is too long")]
    TooLong {
        /// 1-based line number in the source.
        line: usize,
    },
    /// The random key could not be generated.
    #[error("random key generation failed")]
    Random,
}

/// Keyed hashes of known values. Holds no plaintext.
pub struct KnownValues {
    key: hmac::Key,
    pre: RandomState,
    prefilter: HashSet<u64>,
    tags: HashSet<[u8; 32]>,
    lengths: [u64; 4],
    max_tokens: usize,
}

impl std::fmt::Debug for KnownValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownValues")
            .field("count", &self.tags.len())
            .finish_non_exhaustive()
    }
}

fn tokens(v: &[u8]) -> usize {
    let mut n = 0;
    let mut prev = false;
    for &b in v {
        let a = alnum(b);
        if a && !prev {
            n += 1;
        }
        prev = a;
    }
    n
}

impl KnownValues {
    fn empty() -> Result<Self, KnownValuesError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key =
            hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| KnownValuesError::Random)?;
        Ok(KnownValues {
            key,
            pre: RandomState::new(),
            prefilter: HashSet::new(),
            tags: HashSet::new(),
            lengths: [0; 4],
            max_tokens: 0,
        })
    }

    /// Reads one value per line (`#` comments and blank lines skipped). The
    /// read buffer is zeroized before returning.
    pub fn from_reader(mut r: impl Read) -> Result<Self, KnownValuesError> {
        let mut buf = Zeroizing::new(Vec::new());
        r.read_to_end(&mut buf).map_err(KnownValuesError::Read)?;
        Self::from_bytes(buf)
    }

    /// Hashes every line of `data`, then zeroizes it.
    pub fn from_bytes(data: Zeroizing<Vec<u8>>) -> Result<Self, KnownValuesError> {
        let mut kv = Self::empty()?;
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            let t = line.trim_ascii();
            if t.is_empty() || t.starts_with(b"#") {
                continue;
            }
            kv.insert(t)
                .map_err(|()| KnownValuesError::TooLong { line: i + 1 })?;
        }
        Ok(kv)
    }

    /// Hashes values held by the caller (used by de-identification for a
    /// record's own identifiers). Values too long or without a letter or
    /// digit are skipped.
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, KnownValuesError> {
        let mut kv = Self::empty()?;
        for v in values {
            let _ = kv.insert(v.as_bytes().trim_ascii());
        }
        Ok(kv)
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when no value was loaded.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    fn insert(&mut self, v: &[u8]) -> Result<(), ()> {
        // Match on whole tokens: drop leading/trailing punctuation.
        let s = v.iter().position(|&b| alnum(b)).unwrap_or(v.len());
        let e = v.iter().rposition(|&b| alnum(b)).map_or(s, |p| p + 1);
        let v = v.get(s..e).unwrap_or_default();
        if v.is_empty() {
            return Ok(());
        }
        let nt = tokens(v);
        if v.len() > MAX_VALUE_LEN || nt > MAX_TOKENS {
            return Err(());
        }
        let mut low = Zeroizing::new(v.to_ascii_lowercase());
        let pre = self.pre.hash_one(&*low);
        let mut tag = [0u8; 32];
        tag.copy_from_slice(hmac::sign(&self.key, &low).as_ref());
        low.zeroize();
        self.prefilter.insert(pre);
        self.tags.insert(tag);
        if let Some(w) = self.lengths.get_mut(v.len() / 64) {
            *w |= 1 << (v.len() % 64);
        }
        self.max_tokens = self.max_tokens.max(nt);
        Ok(())
    }

    fn len_known(&self, n: usize) -> bool {
        self.lengths
            .get(n / 64)
            .is_some_and(|w| w & (1 << (n % 64)) != 0)
    }

    fn matches(&self, w: &[u8]) -> bool {
        let mut low = [0u8; MAX_VALUE_LEN];
        let Some(dst) = low.get_mut(..w.len()) else {
            return false;
        };
        for (d, b) in dst.iter_mut().zip(w) {
            *d = b.to_ascii_lowercase();
        }
        let hit = if self.prefilter.contains(&self.pre.hash_one(&*dst)) {
            let tag = hmac::sign(&self.key, dst);
            let mut t = [0u8; 32];
            t.copy_from_slice(tag.as_ref());
            self.tags.contains(&t)
        } else {
            false
        };
        dst.zeroize();
        hit
    }

    /// Appends a finding for every window of whole tokens equal to a known
    /// value.
    pub(crate) fn find(&self, l: &[u8], out: &mut Vec<Finding>) {
        if self.tags.is_empty() {
            return;
        }
        let mut starts = [0usize; MAX_TOKENS];
        let mut count = 0usize;
        let mut i = 0;
        let n = l.len();
        while i < n {
            if !alnum(at(l, i)) {
                i += 1;
                continue;
            }
            let s = i;
            while i < n && alnum(at(l, i)) {
                i += 1;
            }
            // Ring of the last token starts.
            if let Some(slot) = starts.get_mut(count % MAX_TOKENS) {
                *slot = s;
            }
            count += 1;
            let back = count.min(self.max_tokens);
            for k in 0..back {
                let idx = (count - 1 - k) % MAX_TOKENS;
                let Some(&ws) = starts.get(idx) else { continue };
                let len = i - ws;
                if len <= MAX_VALUE_LEN
                    && self.len_known(len)
                    && self.matches(l.get(ws..i).unwrap_or_default())
                {
                    out.push(Finding {
                        kind: Kind::Known,
                        start: ws,
                        end: i,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_multi_token_values_case_insensitively() {
        let kv = KnownValues::from_bytes(Zeroizing::new(
            b"# list\nJane Doe\n123-45-6789\nMRN00042\n".to_vec(),
        ))
        .unwrap();
        assert_eq!(kv.len(), 3);
        let mut out = Vec::new();
        let line = b"patient jane doe (mrn00042) ssn=123-45-6789 janedoe";
        kv.find(line, &mut out);
        let got: Vec<&[u8]> = out.iter().map(|f| &line[f.start..f.end]).collect();
        assert_eq!(got, vec![&b"jane doe"[..], b"mrn00042", b"123-45-6789"]);
        assert!(!format!("{kv:?}").contains("doe"));
    }
}
