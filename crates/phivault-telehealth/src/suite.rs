//! SFrame cipher suites (RFC 9605 §4.5, §8.1) and the per-KID key schedule (§4.4.2).
//!
//! Only composition lives here: AES-GCM, AES-CTR, HMAC and HKDF come from the RustCrypto crates.
//! The AEAD instance (AES key schedule, GHASH key, keyed HMAC) is built once per KID and cached
//! in `FrameKey`, so sealing or opening a frame does no key setup and no allocation.

use aes::Aes128;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use ctr::cipher::{InnerIvInit, StreamCipher};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{CryptoError, KeyError};

/// Length of every suite's nonce, `Nn` (RFC 9605 §4.5).
pub(crate) const NONCE_LEN: usize = 12;
/// Longest `Nk` among the supported suites (AES-CTR-HMAC: 16-byte AES key + 32-byte HMAC key).
const MAX_KEY_LEN: usize = 48;

/// An SFrame cipher suite from the IANA "SFrame Cipher Suites" registry (RFC 9605 §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherSuite {
    /// `AES_128_CTR_HMAC_SHA256_80` (0x0001).
    AesCtr128HmacSha256_80,
    /// `AES_128_CTR_HMAC_SHA256_64` (0x0002).
    AesCtr128HmacSha256_64,
    /// `AES_128_CTR_HMAC_SHA256_32` (0x0003).
    AesCtr128HmacSha256_32,
    /// `AES_128_GCM_SHA256_128` (0x0004), the default.
    AesGcm128Sha256,
    /// `AES_256_GCM_SHA512_128` (0x0005).
    AesGcm256Sha512,
}

impl CipherSuite {
    /// All suites this crate implements, in registry order.
    pub const ALL: [Self; 5] = [
        Self::AesCtr128HmacSha256_80,
        Self::AesCtr128HmacSha256_64,
        Self::AesCtr128HmacSha256_32,
        Self::AesGcm128Sha256,
        Self::AesGcm256Sha512,
    ];

    /// The registry value, as it is fed into the key derivation labels.
    #[must_use]
    pub const fn id(self) -> u16 {
        match self {
            Self::AesCtr128HmacSha256_80 => 0x0001,
            Self::AesCtr128HmacSha256_64 => 0x0002,
            Self::AesCtr128HmacSha256_32 => 0x0003,
            Self::AesGcm128Sha256 => 0x0004,
            Self::AesGcm256Sha512 => 0x0005,
        }
    }

    /// The suite with registry value `id`, if this crate implements it.
    #[must_use]
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// `Nh`: output size of the suite's hash, and so of a ratcheted base key (§5.1).
    #[must_use]
    pub const fn hash_len(self) -> usize {
        match self {
            Self::AesGcm256Sha512 => 64,
            _ => 32,
        }
    }

    /// `Nk`: length of `sframe_key`.
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Self::AesGcm128Sha256 => 16,
            Self::AesGcm256Sha512 => 32,
            _ => MAX_KEY_LEN,
        }
    }

    /// `Nt`: length of the authentication tag appended to each frame.
    #[must_use]
    pub const fn tag_len(self) -> usize {
        match self {
            Self::AesCtr128HmacSha256_80 => 10,
            Self::AesCtr128HmacSha256_64 => 8,
            Self::AesCtr128HmacSha256_32 => 4,
            Self::AesGcm128Sha256 | Self::AesGcm256Sha512 => 16,
        }
    }
}

/// RFC 9605 §4.4.2 / §5.1 HKDF, keyed by the suite's hash.
pub(crate) fn hkdf_expand(suite: CipherSuite, ikm: &[u8], info: &[&[u8]], okm: &mut [u8]) {
    // Extract with the empty salt, as the RFC's `HKDF-Extract("", ...)`. Expand only fails for
    // outputs longer than 255 * Nh, and every caller asks for at most Nh bytes.
    let _infallible = match suite {
        CipherSuite::AesGcm256Sha512 => {
            Hkdf::<Sha512>::new(Some(&[]), ikm).expand_multi_info(info, okm)
        }
        _ => Hkdf::<Sha256>::new(Some(&[]), ikm).expand_multi_info(info, okm),
    };
}

enum Cipher {
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    CtrHmac {
        enc: Box<Aes128>,
        auth: Box<Hmac<Sha256>>,
    },
}

/// `sframe_key` and `sframe_salt` for one KID, with the AEAD already keyed.
pub(crate) struct FrameKey {
    suite: CipherSuite,
    salt: [u8; NONCE_LEN],
    cipher: Cipher,
}

impl Drop for FrameKey {
    fn drop(&mut self) {
        // The ciphers zeroize themselves (aes/aes-gcm `zeroize` feature); the salt is not secret
        // by RFC 9605 §9.1 but costs nothing to clear.
        zeroize::Zeroize::zeroize(&mut self.salt);
    }
}

impl FrameKey {
    /// `derive_key_salt(KID, base_key)` (RFC 9605 §4.4.2).
    pub(crate) fn derive(suite: CipherSuite, kid: u64, base_key: &[u8]) -> Result<Self, KeyError> {
        if base_key.is_empty() {
            return Err(KeyError::EmptyBaseKey);
        }
        let kid = kid.to_be_bytes();
        let id = suite.id().to_be_bytes();
        let mut key = Zeroizing::new([0u8; MAX_KEY_LEN]);
        let key = key.get_mut(..suite.key_len()).ok_or(KeyError::Internal)?;
        hkdf_expand(
            suite,
            base_key,
            &[b"SFrame 1.0 Secret key ", &kid, &id],
            key,
        );
        let mut salt = [0u8; NONCE_LEN];
        hkdf_expand(
            suite,
            base_key,
            &[b"SFrame 1.0 Secret salt ", &kid, &id],
            &mut salt,
        );
        Self::from_parts(suite, key, salt)
    }

    /// Builds the key from `sframe_key` and `sframe_salt` directly (used by the RFC vectors).
    pub(crate) fn from_parts(
        suite: CipherSuite,
        key: &[u8],
        salt: [u8; NONCE_LEN],
    ) -> Result<Self, KeyError> {
        let bad = |_| KeyError::Internal;
        let cipher = match suite {
            CipherSuite::AesGcm128Sha256 => {
                Cipher::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            CipherSuite::AesGcm256Sha512 => {
                Cipher::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
            _ => {
                // RFC 9605 §4.5.1: enc_key = key[..Nka], auth_key = key[Nka..].
                let (enc, auth) = key.split_at_checked(16).ok_or(KeyError::Internal)?;
                Cipher::CtrHmac {
                    enc: Box::new(Aes128::new_from_slice(enc).map_err(bad)?),
                    auth: Box::new(<Hmac<Sha256> as KeyInit>::new_from_slice(auth).map_err(bad)?),
                }
            }
        };
        Ok(Self {
            suite,
            salt,
            cipher,
        })
    }

    /// RFC 9605 §4.4.3: `nonce = sframe_salt XOR encode_big_endian(CTR, Nn)`.
    fn nonce(&self, ctr: u64) -> [u8; NONCE_LEN] {
        let mut nonce = self.salt;
        for (n, c) in nonce.iter_mut().skip(NONCE_LEN - 8).zip(ctr.to_be_bytes()) {
            *n ^= c;
        }
        nonce
    }

    /// Encrypts `buf` in place and writes the `Nt`-byte tag into `tag`.
    pub(crate) fn seal(
        &self,
        ctr: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(ctr);
        let out = match &self.cipher {
            Cipher::Gcm128(c) => c
                .encrypt_inout_detached(&Nonce::from(nonce), aad, buf.into())
                .map_err(|_| CryptoError)?,
            Cipher::Gcm256(c) => c
                .encrypt_inout_detached(&Nonce::from(nonce), aad, buf.into())
                .map_err(|_| CryptoError)?,
            Cipher::CtrHmac { enc, auth } => {
                ctr_keystream(enc, &nonce, buf)?;
                let full = ctr_hmac_tag(auth, self.suite, &nonce, aad, buf);
                let short = full.get(..tag.len()).ok_or(CryptoError)?;
                tag.copy_from_slice(short);
                return Ok(());
            }
        };
        let out: &[u8] = out.as_slice();
        if out.len() != tag.len() {
            return Err(CryptoError);
        }
        tag.copy_from_slice(out);
        Ok(())
    }

    /// Verifies `tag` and decrypts `buf` in place; on failure `buf` is unspecified.
    pub(crate) fn open(
        &self,
        ctr: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(ctr);
        match &self.cipher {
            Cipher::Gcm128(c) => {
                let tag = Tag::try_from(tag).map_err(|_| CryptoError)?;
                c.decrypt_inout_detached(&Nonce::from(nonce), aad, buf.into(), &tag)
                    .map_err(|_| CryptoError)
            }
            Cipher::Gcm256(c) => {
                let tag = Tag::try_from(tag).map_err(|_| CryptoError)?;
                c.decrypt_inout_detached(&Nonce::from(nonce), aad, buf.into(), &tag)
                    .map_err(|_| CryptoError)
            }
            Cipher::CtrHmac { enc, auth } => {
                let full = ctr_hmac_tag(auth, self.suite, &nonce, aad, buf);
                let expected = full.get(..tag.len()).ok_or(CryptoError)?;
                if !bool::from(expected.ct_eq(tag)) {
                    return Err(CryptoError);
                }
                ctr_keystream(enc, &nonce, buf)
            }
        }
    }
}

/// RFC 9605 §4.5.1: AES-CTR with `initial_counter = nonce || 0x00000000`.
fn ctr_keystream(enc: &Aes128, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CryptoError> {
    let mut iv = [0u8; 16];
    for (d, s) in iv.iter_mut().zip(nonce) {
        *d = *s;
    }
    let core =
        ctr::CtrCore::<Aes128, ctr::flavors::Ctr32BE>::inner_iv_init(enc.clone(), &iv.into());
    let mut ctr = ctr::Ctr32BE::<Aes128>::from_core(core);
    ctr.try_apply_keystream(buf).map_err(|_| CryptoError)
}

/// RFC 9605 §4.5.1 `compute_tag`, before truncation to `Nt`.
fn ctr_hmac_tag(
    auth: &Hmac<Sha256>,
    suite: CipherSuite,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ct: &[u8],
) -> [u8; 32] {
    let len = |n: usize| u64::try_from(n).unwrap_or(u64::MAX).to_be_bytes();
    let mut mac = auth.clone();
    mac.update(&len(aad.len()));
    mac.update(&len(ct.len()));
    mac.update(&len(suite.tag_len()));
    mac.update(nonce);
    mac.update(aad);
    mac.update(ct);
    mac.finalize().into_bytes().into()
}
