//! Keyring format 2: the format-1 JSON body sealed with AES-256-GCM under a
//! key derived from a passphrase by argon2id (RFC 9106).
//!
//! ```json
//! {"format":2,"protection":"argon2id",
//!  "kdf":{"m":65536,"t":3,"p":1,"salt":"<b64 16 bytes>"},
//!  "nonce":"<b64 12 bytes>","ciphertext":"<b64 body || tag>"}
//! ```
//!
//! The associated data names the format and the KDF parameters
//! (`phivault/keyring/v2|argon2id|m|t|p|salt`), so the envelope fields cannot
//! be swapped without the tag failing. A wrong passphrase and an altered file
//! are the same error: no oracle.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Passphrase;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// The production default: 64 MiB, 3 passes, 1 lane (RFC 9106 §4's
    /// second recommended option, ~0.1–0.3 s on one core).
    pub const DEFAULT: Self = Self {
        m: 64 * 1024,
        t: 3,
        p: 1,
    };

    /// Deliberately weak parameters for tests only (argon2's minimum memory).
    pub const INSECURE_FOR_TESTS: Self = Self { m: 64, t: 1, p: 1 };
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Serialize, Deserialize)]
struct KdfField {
    m: u32,
    t: u32,
    p: u32,
    salt: String,
}

/// The on-disk JSON of a format-2 keyring.
#[derive(Serialize, Deserialize)]
pub(super) struct ProtectedFile {
    format: u32,
    protection: String,
    kdf: KdfField,
    nonce: String,
    ciphertext: String,
}

/// Why a protected keyring did not open or seal.
#[derive(Debug)]
pub(super) enum ProtectError {
    /// The JSON or a field is malformed, or the parameters are out of range.
    Malformed,
    /// Wrong passphrase or altered file.
    Integrity,
    /// The RNG or the AEAD failed.
    Crypto,
}

/// The derived sealing key, kept while the keyring is open so rotation can
/// re-seal the file without asking for the passphrase again.
pub(super) struct SealingKey {
    key: Zeroizing<[u8; 32]>,
    params: KdfParams,
    salt: [u8; 16],
}

impl SealingKey {
    /// Derives a key with a fresh random salt.
    pub(super) fn derive_new(pass: &Passphrase, params: KdfParams) -> Result<Self, ProtectError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| ProtectError::Crypto)?;
        Self::derive(pass, params, salt)
    }

    fn derive(pass: &Passphrase, params: KdfParams, salt: [u8; 16]) -> Result<Self, ProtectError> {
        let p = argon2::Params::new(params.m, params.t, params.p, Some(32))
            .map_err(|_| ProtectError::Malformed)?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
        let mut key = Zeroizing::new([0u8; 32]);
        a.hash_password_into(pass.expose_secret().as_bytes(), &salt, key.as_mut())
            .map_err(|_| ProtectError::Malformed)?;
        Ok(Self { key, params, salt })
    }

    fn aad(&self) -> Vec<u8> {
        let KdfParams { m, t, p } = self.params;
        let mut aad = format!("phivault/keyring/v2|argon2id|{m}|{t}|{p}|").into_bytes();
        aad.extend_from_slice(&self.salt);
        aad
    }

    fn aead(&self) -> Result<LessSafeKey, ProtectError> {
        let k =
            UnboundKey::new(&AES_256_GCM, self.key.as_ref()).map_err(|_| ProtectError::Crypto)?;
        Ok(LessSafeKey::new(k))
    }

    /// Seals a format-1 body into the format-2 JSON (fresh nonce each time).
    pub(super) fn seal(&self, body: &[u8]) -> Result<Vec<u8>, ProtectError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| ProtectError::Crypto)?;
        let mut buf = Zeroizing::new(body.to_vec());
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad()),
                &mut *buf,
            )
            .map_err(|_| ProtectError::Crypto)?;
        let file = ProtectedFile {
            format: 2,
            protection: "argon2id".into(),
            kdf: KdfField {
                m: self.params.m,
                t: self.params.t,
                p: self.params.p,
                salt: STANDARD.encode(self.salt),
            },
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(&*buf),
        };
        serde_json::to_vec_pretty(&file).map_err(|_| ProtectError::Malformed)
    }
}

/// Opens a format-2 file: derives the key from `pass`, returns the body and
/// the sealing key.
pub(super) fn open(
    file: &ProtectedFile,
    pass: &Passphrase,
) -> Result<(Zeroizing<Vec<u8>>, SealingKey), ProtectError> {
    if file.format != 2 || file.protection != "argon2id" {
        return Err(ProtectError::Malformed);
    }
    let b64 = |s: &str| STANDARD.decode(s).map_err(|_| ProtectError::Malformed);
    let salt: [u8; 16] = b64(&file.kdf.salt)?
        .try_into()
        .map_err(|_| ProtectError::Malformed)?;
    let nonce: [u8; NONCE_LEN] = b64(&file.nonce)?
        .try_into()
        .map_err(|_| ProtectError::Malformed)?;
    let params = KdfParams {
        m: file.kdf.m,
        t: file.kdf.t,
        p: file.kdf.p,
    };
    // INVARIANT: refuse absurd costs before deriving, so an altered file
    // cannot make open() allocate gigabytes (4 GiB, 64 passes, 16 lanes).
    if params.m > 4 * 1024 * 1024 || params.t > 64 || params.p > 16 {
        return Err(ProtectError::Malformed);
    }
    let key = SealingKey::derive(pass, params, salt)?;
    let buf = open_body(file, &key, nonce)?;
    Ok((buf, key))
}

/// Opens a format-2 file with a sealing key already held (a reload after
/// another process rotated): works while the file keeps the key's salt and
/// parameters, which every re-seal but a passphrase change does.
pub(super) fn open_held(
    file: &ProtectedFile,
    key: &SealingKey,
) -> Result<Zeroizing<Vec<u8>>, ProtectError> {
    if file.format != 2 || file.protection != "argon2id" {
        return Err(ProtectError::Malformed);
    }
    let b64 = |s: &str| STANDARD.decode(s).map_err(|_| ProtectError::Malformed);
    let salt: [u8; 16] = b64(&file.kdf.salt)?
        .try_into()
        .map_err(|_| ProtectError::Malformed)?;
    let same = KdfParams {
        m: file.kdf.m,
        t: file.kdf.t,
        p: file.kdf.p,
    } == key.params
        && salt == key.salt;
    if !same {
        return Err(ProtectError::Integrity);
    }
    let nonce: [u8; NONCE_LEN] = b64(&file.nonce)?
        .try_into()
        .map_err(|_| ProtectError::Malformed)?;
    open_body(file, key, nonce)
}

fn open_body(
    file: &ProtectedFile,
    key: &SealingKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Zeroizing<Vec<u8>>, ProtectError> {
    let b64 = |s: &str| STANDARD.decode(s).map_err(|_| ProtectError::Malformed);
    let mut buf = Zeroizing::new(b64(&file.ciphertext)?);
    let len = key
        .aead()?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(key.aad()),
            &mut buf,
        )
        .map_err(|_| ProtectError::Integrity)?
        .len();
    buf.truncate(len);
    Ok(buf)
}
