//! Exact known values (a patient list exported for a scan), compared by
//! keyed hash.
//!
//! Each value is normalized (trimmed, ASCII-lowercased), then reduced to
//! two keyed hashes under keys drawn at random for this process:
//! a 64-bit SipHash (std `RandomState`) used as a prefilter, and an
//! HMAC-SHA256 tag that confirms a match. The plaintext is zeroized right
//! after hashing and never stored; neither hash is reproducible outside this
//! process. At scan time a line's tokens are first tested against a keyed
//! bitmap of the values' first tokens (foldhash over the token's first and
//! last eight bytes, lowercased; a prefilter only), and only
//! windows that begin with such a token and whose byte length equals the
//! length of some known value are hashed.

mod tokens;

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::Read;

use aws_lc_rs::hmac;
use foldhash::fast::RandomState as TokenHasher;
use zeroize::{Zeroize, Zeroizing};

use crate::detect::{Finding, alnum};
use crate::kind::Kind;

/// Longest accepted value, in bytes.
pub const MAX_VALUE_LEN: usize = 255;
/// Most tokens (alphanumeric runs) in one value.
const MAX_TOKENS: usize = 8;
/// Bits of the first-token bitmap: 64 per distinct first token, within
/// these bounds (the largest is 16 MiB).
const FIRST_BITS: (usize, usize) = (1 << 12, 1 << 27);

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
    /// Keyed hashes of the values' first tokens (until `finish`), and
    /// their lengths.
    first: TokenHasher,
    firsts: HashSet<u64>,
    first_lengths: [u64; 4],
    /// `firsts` as a bitmap indexed by a hash's top bits (built by `finish`).
    first_bits: Vec<u64>,
    first_shift: u32,
}

impl std::fmt::Debug for KnownValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownValues")
            .field("count", &self.tags.len())
            .finish_non_exhaustive()
    }
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
            first: TokenHasher::default(),
            firsts: HashSet::new(),
            first_lengths: [0; 4],
            first_bits: Vec::new(),
            first_shift: 63,
        })
    }

    /// Builds the first-token bitmap once every value is in.
    fn finish(mut self) -> Self {
        let bits = (self.firsts.len() * 64)
            .next_power_of_two()
            .clamp(FIRST_BITS.0, FIRST_BITS.1);
        self.first_shift = 64 - bits.trailing_zeros();
        self.first_bits = vec![0; bits / 64];
        // Only the bitmap is needed from here on.
        for h in std::mem::take(&mut self.firsts) {
            let b = (h >> self.first_shift) as usize;
            if let Some(w) = self.first_bits.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
        self
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
        Ok(kv.finish())
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
        Ok(kv.finish())
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
        let nt = tokens::Tokens::new(v).count();
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
        add_length(&mut self.lengths, v.len());
        let first = v.iter().position(|&b| !alnum(b)).unwrap_or(v.len());
        let h = self.first_hash(v, 0, first);
        self.firsts.insert(h);
        add_length(&mut self.first_lengths, first);
        self.max_tokens = self.max_tokens.max(nt);
        Ok(())
    }

    /// The prefilter hash of the token `l[s..e]` (an alphanumeric run, so
    /// OR-ing 0x20 into every byte lowercases it): its first and last eight
    /// bytes (one folded multiply). Tokens of different lengths with the same
    /// ends collide, and tokens longer than 16 bytes are hashed by their ends
    /// only: a prefilter, the window check is exact.
    #[inline(always)]
    fn first_hash(&self, l: &[u8], s: usize, e: usize) -> u64 {
        const LOWER: u64 = 0x2020_2020_2020_2020;
        let (head, tail) = tokens::ends(l, s, e);
        self.first
            .hash_one(u128::from(head | LOWER) | (u128::from(tail | LOWER) << 64))
    }

    /// Can a known value begin with the token `l[s..e]`?
    #[inline(always)]
    fn may_begin(&self, l: &[u8], s: usize, e: usize) -> bool {
        if !has_length(&self.first_lengths, e - s) {
            return false;
        }
        let b = (self.first_hash(l, s, e) >> self.first_shift) as usize;
        self.first_bits
            .get(b / 64)
            .is_some_and(|w| w & (1 << (b % 64)) != 0)
    }

    /// Exact check of a window (after both prefilters).
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
        let mut ring = tokens::Ring::default();
        for (s, e) in tokens::Tokens::new(l) {
            ring.push(self.may_begin(l, s, e).then_some(s));
            if ring.live(self.max_tokens) {
                self.windows(l, e, &ring, out);
            }
        }
    }

    /// The windows that end at `e` and begin at a live start of `ring`
    /// (rare: a token that passed the first-token prefilter is recent).
    #[inline(never)]
    fn windows(&self, l: &[u8], e: usize, ring: &tokens::Ring, out: &mut Vec<Finding>) {
        for ws in ring.starts(self.max_tokens) {
            let len = e - ws;
            if len <= MAX_VALUE_LEN
                && has_length(&self.lengths, len)
                && self.matches(l.get(ws..e).unwrap_or_default())
            {
                out.push(Finding {
                    kind: Kind::Known,
                    start: ws,
                    end: e,
                });
            }
        }
    }
}

fn add_length(set: &mut [u64; 4], n: usize) {
    if let Some(w) = set.get_mut(n / 64) {
        *w |= 1 << (n % 64);
    }
}

fn has_length(set: &[u64; 4], n: usize) -> bool {
    set.get(n / 64).is_some_and(|w| w & (1 << (n % 64)) != 0)
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

    #[test]
    fn first_token_prefilter_keeps_every_match() {
        // Long first tokens (hashed by their ends), shared first tokens,
        // values that are a prefix of others, and many values (a bitmap
        // larger than the minimum).
        let mut values: Vec<String> = (0..3000)
            .map(|i| match i % 4 {
                0 => format!("Patient{i} Example"),
                1 => format!("averyveryverylongfirsttoken{i}-x"),
                2 => format!("{i}@Example.test"),
                _ => format!("Patient{} Example Jr", i - 3),
            })
            .collect();
        values.push("shared one".into());
        values.push("shared two three".into());
        let kv = KnownValues::from_values(values.iter().map(String::as_str)).unwrap();
        assert_eq!(kv.len(), values.len());
        let mut out = Vec::new();
        for v in &values {
            let line = format!(
                "x={} y=patient1 averyveryverylongfirsttoken9-y",
                v.to_uppercase()
            );
            out.clear();
            kv.find(line.as_bytes(), &mut out);
            let got: Vec<&str> = out.iter().map(|f| &line[f.start..f.end]).collect();
            assert!(
                got.iter().any(|g| g.eq_ignore_ascii_case(v)),
                "{v} not found in {line}: {got:?}"
            );
            assert!(
                got.iter()
                    .all(|g| values.iter().any(|v| g.eq_ignore_ascii_case(v))),
                "{line}: {got:?}"
            );
        }
        out.clear();
        kv.find(
            b"shared two patient1 averyveryverylongfirsttoken1-y",
            &mut out,
        );
        assert!(out.is_empty(), "near misses are not matches");
    }
}
