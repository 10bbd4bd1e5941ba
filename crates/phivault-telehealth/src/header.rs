//! The SFrame header (RFC 9605 §4.3): a config byte `|X| K |Y| C |` followed by the KID and the
//! CTR, each either inline (values 0..=7) or as 1 to 8 big-endian bytes.
//!
//! [`Header::parse`] takes untrusted bytes from the network: it checks every length with `get`
//! and returns an error, never panics (see the proptest in `tests/header_parse.rs`).

use crate::error::HeaderError;

/// Longest possible header: config byte + 8 KID bytes + 8 CTR bytes.
pub const MAX_HEADER_LEN: usize = 17;

/// The two values an SFrame header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Key identifier (§4.3); see [`crate::frame`] for the index/generation split of §5.1.
    pub kid: u64,
    /// Frame counter, unique per KID (§4.4.3).
    pub ctr: u64,
}

/// Minimal big-endian length of `v` in bytes (1..=8).
fn be_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

/// Config-byte nibble and the trailing bytes for one value (§4.3).
fn field(v: u64) -> (u8, usize) {
    if v < 8 {
        // INVARIANT: v < 8, so it fits in the 3-bit field.
        (v as u8, 0)
    } else {
        let n = be_len(v);
        // INVARIANT: 1 <= n <= 8, so n - 1 fits in 3 bits; the extended flag is bit 3.
        (0b1000 | (n - 1) as u8, n)
    }
}

impl Header {
    /// Encoded length of this header in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        1 + field(self.kid).1 + field(self.ctr).1
    }

    /// Always false: a header has at least its config byte. Present for clippy's `len` rule.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the minimal encoding of this header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (k, kn) = field(self.kid);
        let (c, cn) = field(self.ctr);
        out.push((k << 4) | c);
        let kid = self.kid.to_be_bytes();
        let ctr = self.ctr.to_be_bytes();
        out.extend_from_slice(kid.get(8 - kn..).unwrap_or_default());
        out.extend_from_slice(ctr.get(8 - cn..).unwrap_or_default());
    }

    /// Parses a header from the start of `frame`; returns it and its length in bytes.
    ///
    /// Non-minimal encodings are accepted: the header bytes are authenticated as AAD, so a
    /// re-encoded header fails decryption, and replay checks use the decoded values.
    ///
    /// # Errors
    /// [`HeaderError::Truncated`] if `frame` ends inside the header.
    pub fn parse(frame: &[u8]) -> Result<(Self, usize), HeaderError> {
        let config = *frame.first().ok_or(HeaderError::Truncated)?;
        let mut pos = 1;
        let kid = read_field(frame, &mut pos, config >> 4)?;
        let ctr = read_field(frame, &mut pos, config & 0x0f)?;
        Ok((Self { kid, ctr }, pos))
    }
}

fn read_field(frame: &[u8], pos: &mut usize, nibble: u8) -> Result<u64, HeaderError> {
    let value = u64::from(nibble & 0b111);
    if nibble & 0b1000 == 0 {
        return Ok(value);
    }
    // value + 1 is 1..=8 bytes.
    let n = usize::from(nibble & 0b111) + 1;
    let end = pos.checked_add(n).ok_or(HeaderError::Truncated)?;
    let bytes = frame.get(*pos..end).ok_or(HeaderError::Truncated)?;
    *pos = end;
    Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}
