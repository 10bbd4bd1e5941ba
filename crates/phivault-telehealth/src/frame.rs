//! SFrame encryption and decryption of frames (RFC 9605 §4.4.3, §4.4.4) with the sender-key
//! ratchet of §5.1 and a replay window per KID.
//!
//! KID layout (§5.1): the low [`GENERATION_BITS`] bits are the ratchet generation, the rest is
//! the key index. The session layer ([`crate::session`]) puts the epoch and the sender index into
//! the key index, so a receiver finds the right key from the header alone.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::error::{KeyError, OpenError, RatchetError, SealError};
use crate::header::{Header, MAX_HEADER_LEN};
use crate::replay::{Refusal, ReplayWindow};
use crate::suite::{CipherSuite, FrameKey, hkdf_expand};

/// `R` of RFC 9605 §5.1: KID bits reserved for the ratchet generation.
pub const GENERATION_BITS: u32 = 8;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;
/// Largest key index that fits next to the generation bits.
pub const MAX_KEY_INDEX: u64 = u64::MAX >> GENERATION_BITS;
/// How many generations a receiver ratchets forward on its own to follow a sender.
pub const MAX_RATCHET_STEPS: u64 = 16;

/// KID for `key_index` at `generation` (§5.1: `KID = (key_index << R) | generation`).
#[must_use]
pub const fn kid(key_index: u64, generation: u64) -> u64 {
    (key_index << GENERATION_BITS) | (generation & GENERATION_MASK)
}

/// Splits a KID into `(key_index, generation)`.
#[must_use]
pub const fn split_kid(kid: u64) -> (u64, u64) {
    (kid >> GENERATION_BITS, kid & GENERATION_MASK)
}

/// `base_key[i+1] = HKDF-Expand(HKDF-Extract("", base_key[i]), "SFrame 1.0 Ratchet", Nh)` (§5.1).
fn ratchet_base_key(suite: CipherSuite, base_key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut next = Zeroizing::new(vec![0u8; suite.hash_len()]);
    hkdf_expand(suite, base_key, &[b"SFrame 1.0 Ratchet"], &mut next);
    next
}

fn check_base_key(key_index: u64, base_key: &[u8]) -> Result<(), KeyError> {
    if key_index > MAX_KEY_INDEX {
        return Err(KeyError::KeyIndexTooLarge);
    }
    if base_key.is_empty() {
        return Err(KeyError::EmptyBaseKey);
    }
    Ok(())
}

/// The sending half of one participant's SFrame context.
pub struct SframeSender {
    suite: CipherSuite,
    key_index: u64,
    generation: u64,
    base_key: Zeroizing<Vec<u8>>,
    key: FrameKey,
    /// Next counter to use; `None` once `u64::MAX` has been used.
    ctr: Option<u64>,
    /// Reused AAD buffer (`header || metadata`): no allocation per frame once warm.
    aad: Vec<u8>,
}

impl std::fmt::Debug for SframeSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SframeSender")
            .field("suite", &self.suite)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl SframeSender {
    /// A sender for `key_index` at generation 0 with the given base key.
    ///
    /// # Errors
    /// [`KeyError`] if the key index does not fit the KID layout or the key is empty.
    pub fn new(suite: CipherSuite, key_index: u64, base_key: &[u8]) -> Result<Self, KeyError> {
        check_base_key(key_index, base_key)?;
        let key = FrameKey::derive(suite, kid(key_index, 0), base_key)?;
        Ok(Self {
            suite,
            key_index,
            generation: 0,
            base_key: Zeroizing::new(base_key.to_vec()),
            key,
            ctr: Some(0),
            aad: Vec::with_capacity(MAX_HEADER_LEN + 64),
        })
    }

    /// The KID frames are sealed under now.
    #[must_use]
    pub fn kid(&self) -> u64 {
        kid(self.key_index, self.generation)
    }

    /// Ratchets the base key one generation forward (§5.1) and erases the old one.
    ///
    /// # Errors
    /// [`RatchetError::GenerationExhausted`] after 2^R - 1 ratchets.
    pub fn ratchet(&mut self) -> Result<(), RatchetError> {
        if self.generation >= GENERATION_MASK {
            return Err(RatchetError::GenerationExhausted);
        }
        let next = ratchet_base_key(self.suite, &self.base_key);
        self.key = FrameKey::derive(self.suite, kid(self.key_index, self.generation + 1), &next)?;
        self.base_key = next;
        self.generation += 1;
        Ok(())
    }

    /// Seals `plaintext` into `out` (cleared first) as `header || ciphertext || tag`;
    /// `metadata` is authenticated but not sent (§4.4.3).
    ///
    /// # Errors
    /// [`SealError::CounterExhausted`] when the counter space of this key is used up.
    pub fn seal(
        &mut self,
        metadata: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        let ctr = self.ctr.ok_or(SealError::CounterExhausted)?;
        let header = Header {
            kid: self.kid(),
            ctr,
        };
        out.clear();
        header.encode(out);
        let header_len = out.len();
        self.aad.clear();
        self.aad.extend_from_slice(out);
        self.aad.extend_from_slice(metadata);
        out.extend_from_slice(plaintext);
        let tag_len = self.suite.tag_len();
        out.resize(out.len() + tag_len, 0);
        let body = out.get_mut(header_len..).ok_or(SealError::Encrypt)?;
        let (ct, tag) = body
            .split_at_mut_checked(plaintext.len())
            .ok_or(SealError::Encrypt)?;
        self.key
            .seal(ctr, &self.aad, ct, tag)
            .map_err(|_| SealError::Encrypt)?;
        // Only a frame that was produced consumes its counter.
        self.ctr = ctr.checked_add(1);
        Ok(())
    }
}

struct ReceiverKey {
    generation: u64,
    base_key: Zeroizing<Vec<u8>>,
    key: FrameKey,
    window: ReplayWindow,
}

/// What an opened frame was sealed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenedFrame {
    /// The frame's KID.
    pub kid: u64,
    /// The frame's counter.
    pub ctr: u64,
}

/// The receiving side: one key per sender key index, each with its own replay window.
pub struct SframeReceiver {
    suite: CipherSuite,
    keys: HashMap<u64, ReceiverKey>,
    aad: Vec<u8>,
}

impl std::fmt::Debug for SframeReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SframeReceiver")
            .field("suite", &self.suite)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl SframeReceiver {
    /// An empty receiver for `suite`.
    #[must_use]
    pub fn new(suite: CipherSuite) -> Self {
        Self {
            suite,
            keys: HashMap::new(),
            aad: Vec::with_capacity(MAX_HEADER_LEN + 64),
        }
    }

    /// Installs (or replaces) the generation-0 base key of `key_index`.
    ///
    /// # Errors
    /// [`KeyError`] if the key index does not fit the KID layout or the key is empty.
    pub fn add_key(&mut self, key_index: u64, base_key: &[u8]) -> Result<(), KeyError> {
        check_base_key(key_index, base_key)?;
        let key = FrameKey::derive(self.suite, kid(key_index, 0), base_key)?;
        self.keys.insert(
            key_index,
            ReceiverKey {
                generation: 0,
                base_key: Zeroizing::new(base_key.to_vec()),
                key,
                window: ReplayWindow::default(),
            },
        );
        Ok(())
    }

    /// Erases the key of `key_index`; returns whether one was installed.
    pub fn remove_key(&mut self, key_index: u64) -> bool {
        self.keys.remove(&key_index).is_some()
    }

    /// Keeps only the key indices for which `keep` returns true.
    pub fn retain_keys(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.keys.retain(|index, _| keep(*index));
    }

    /// Whether a key is installed for `key_index`.
    #[must_use]
    pub fn has_key(&self, key_index: u64) -> bool {
        self.keys.contains_key(&key_index)
    }

    /// Number of installed key indices.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Opens `frame` into `out` (cleared first); `metadata` must equal the sender's.
    ///
    /// # Errors
    /// See [`OpenError`]; the replay window only moves for frames that authenticated.
    pub fn open(
        &mut self,
        metadata: &[u8],
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<OpenedFrame, OpenError> {
        let (header, header_len) = Header::parse(frame)?;
        let (key_index, generation) = split_kid(header.kid);
        let entry = self.keys.get_mut(&key_index).ok_or(OpenError::UnknownKey)?;
        let (header_bytes, body) = frame
            .split_at_checked(header_len)
            .ok_or(OpenError::Decrypt)?;
        let ct_len = body
            .len()
            .checked_sub(self.suite.tag_len())
            .ok_or(OpenError::Decrypt)?;
        let (ct, tag) = body.split_at_checked(ct_len).ok_or(OpenError::Decrypt)?;
        self.aad.clear();
        self.aad.extend_from_slice(header_bytes);
        self.aad.extend_from_slice(metadata);
        out.clear();
        out.extend_from_slice(ct);

        if generation == entry.generation {
            entry.window.check(header.ctr).map_err(|r| match r {
                Refusal::Replayed => OpenError::Replayed,
                Refusal::TooOld => OpenError::TooOld,
            })?;
            entry
                .key
                .open(header.ctr, &self.aad, out, tag)
                .map_err(|_| OpenError::Decrypt)?;
            entry.window.commit(header.ctr);
        } else if generation < entry.generation {
            return Err(OpenError::StaleGeneration);
        } else {
            // §5.1: the sender ratcheted; follow it, but keep the old key until a frame under
            // the new generation authenticates, so a forged KID cannot erase it.
            if generation - entry.generation > MAX_RATCHET_STEPS {
                return Err(OpenError::GenerationTooFarAhead);
            }
            let mut base = Zeroizing::new(entry.base_key.to_vec());
            for _ in entry.generation..generation {
                base = ratchet_base_key(self.suite, &base);
            }
            let key =
                FrameKey::derive(self.suite, header.kid, &base).map_err(|_| OpenError::Decrypt)?;
            key.open(header.ctr, &self.aad, out, tag)
                .map_err(|_| OpenError::Decrypt)?;
            let mut window = ReplayWindow::default();
            window.commit(header.ctr);
            *entry = ReceiverKey {
                generation,
                base_key: base,
                key,
                window,
            };
        }
        out.truncate(ct_len);
        Ok(OpenedFrame {
            kid: header.kid,
            ctr: header.ctr,
        })
    }
}
