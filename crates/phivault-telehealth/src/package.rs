//! Key packages: an epoch secret sealed to one device with HPKE (RFC 9180) in **auth mode**
//! (§5.1.3, `mode_auth`), suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM (§7: KEM
//! 0x0020, KDF 0x0001, AEAD 0x0001). The server relays packages but cannot open them, and, since
//! auth mode mixes the sender device's static X25519 key into the KEM, it cannot forge one either:
//! only the holder of the sender's (or the recipient's) private key can produce a package that
//! opens. That holds only for public keys the users verified out of band
//! ([`crate::keys::safety_number`]), because the same server relays the public keys.
//!
//! `info` (key schedule, §5.1) and `aad` (§5.2) both carry the session id, epoch, sender device
//! and recipient device, so a package opens only for the device, epoch and session it was
//! sealed for.

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{PackageOpenError, PackageSealError};
use crate::ids::{DeviceId, SessionId, put_id};
use crate::keys::{DeviceKeyPair, EpochSecret, PublicKey};

const INFO_LABEL: &[u8] = b"phivault telehealth key package v2 auth";

/// RFC 9180 `SealBase(pkR, info, aad, pt)` with this crate's suite; returns `(enc, ct)`.
///
/// # Errors
/// [`PackageSealError::Hpke`] if encapsulation fails.
pub fn seal_base(
    rng: &mut impl CryptoRng,
    recipient: &PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), PackageSealError> {
    let (enc, ct) = hpke::single_shot_seal_with_rng::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &recipient.0,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| PackageSealError::Hpke)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// RFC 9180 `SealAuth(pkR, info, aad, pt, skS)` with this crate's suite; returns `(enc, ct)`.
///
/// # Errors
/// [`PackageSealError::Hpke`] if encapsulation fails.
pub fn seal_auth(
    rng: &mut impl CryptoRng,
    sender: &DeviceKeyPair,
    recipient: &PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), PackageSealError> {
    let mode = OpModeS::Auth((sender.secret().clone(), sender.public_key().0.clone()));
    let (enc, ct) = hpke::single_shot_seal_with_rng::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &mode,
        &recipient.0,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| PackageSealError::Hpke)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// RFC 9180 `OpenAuth(enc, skR, info, aad, ct, pkS)` with this crate's suite.
///
/// # Errors
/// [`PackageOpenError::Decrypt`] for a malformed `enc`, a failed authentication, or a package
/// not sealed by the holder of `sender`'s private key.
pub fn open_auth(
    keys: &DeviceKeyPair,
    sender: &PublicKey,
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PackageOpenError> {
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| PackageOpenError::Decrypt)?;
    hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Auth(sender.0.clone()),
        keys.secret(),
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| PackageOpenError::Decrypt)
}

/// RFC 9180 `OpenBase(enc, skR, info, aad, ct)` with this crate's suite (known-answer tests).
///
/// # Errors
/// [`PackageOpenError::Decrypt`] for a malformed `enc` or a failed authentication.
pub fn open_base(
    keys: &DeviceKeyPair,
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PackageOpenError> {
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| PackageOpenError::Decrypt)?;
    hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        keys.secret(),
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| PackageOpenError::Decrypt)
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("field is not unpadded base64url"))
    }
}

/// An epoch secret sealed for one device. Everything in it is public; only the recipient's
/// private key opens `ciphertext`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPackage {
    /// Session the epoch belongs to.
    pub session_id: SessionId,
    /// Epoch number the secret is for.
    pub epoch: u32,
    /// Device that created and sealed the secret.
    pub sender_device: DeviceId,
    /// The only device that can open the package.
    pub recipient_device: DeviceId,
    /// HPKE encapsulated key (32 bytes), base64url in JSON.
    #[serde(with = "b64")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the 32-byte epoch secret plus tag, base64url in JSON.
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
}

/// `(info, aad)` binding the four fields; both start with a length-prefixed encoding of them.
fn binding(
    session: &SessionId,
    epoch: u32,
    sender: &DeviceId,
    recipient: &DeviceId,
) -> (Vec<u8>, Vec<u8>) {
    let mut aad = Vec::with_capacity(4 + 3 * 64);
    put_id(&mut aad, session.as_str());
    aad.extend_from_slice(&epoch.to_be_bytes());
    put_id(&mut aad, sender.as_str());
    put_id(&mut aad, recipient.as_str());
    let mut info = INFO_LABEL.to_vec();
    info.extend_from_slice(&aad);
    (info, aad)
}

impl KeyPackage {
    /// Seals `secret` for `recipient_device` (whose public key is `recipient_key`),
    /// authenticated by `sender_keys`, the key pair of `sender_device`.
    ///
    /// # Errors
    /// [`PackageSealError::Hpke`] if encapsulation to `recipient_key` fails.
    #[allow(
        clippy::too_many_arguments,
        reason = "each field is bound into the package"
    )]
    pub fn seal(
        rng: &mut impl CryptoRng,
        session_id: &SessionId,
        epoch: u32,
        sender_device: &DeviceId,
        sender_keys: &DeviceKeyPair,
        recipient_device: &DeviceId,
        recipient_key: &PublicKey,
        secret: &EpochSecret,
    ) -> Result<Self, PackageSealError> {
        let (info, aad) = binding(session_id, epoch, sender_device, recipient_device);
        let (enc, ciphertext) = seal_auth(
            rng,
            sender_keys,
            recipient_key,
            &info,
            &aad,
            secret.expose(),
        )?;
        Ok(Self {
            session_id: session_id.clone(),
            epoch,
            sender_device: sender_device.clone(),
            recipient_device: recipient_device.clone(),
            enc,
            ciphertext,
        })
    }

    /// Opens the package on device `me` for `session_id` at `epoch`; `sender_key` is the
    /// public key of `self.sender_device` as this device knows it (from the roster, verified
    /// out of band), so a package sealed by anyone else fails to open.
    ///
    /// The plain fields are checked first for clear errors, but the binding is cryptographic:
    /// `info`/`aad` are rebuilt from the caller's expectations, so an edited field fails HPKE.
    ///
    /// # Errors
    /// See [`PackageOpenError`].
    pub fn open(
        &self,
        keys: &DeviceKeyPair,
        session_id: &SessionId,
        me: &DeviceId,
        epoch: u32,
        sender_key: &PublicKey,
    ) -> Result<EpochSecret, PackageOpenError> {
        if &self.session_id != session_id {
            return Err(PackageOpenError::WrongSession);
        }
        if &self.recipient_device != me {
            return Err(PackageOpenError::WrongRecipient);
        }
        if self.epoch != epoch {
            return Err(PackageOpenError::WrongEpoch);
        }
        let (info, aad) = binding(session_id, epoch, &self.sender_device, me);
        let plain = open_auth(keys, sender_key, &self.enc, &info, &aad, &self.ciphertext)?;
        EpochSecret::from_slice(&plain).ok_or(PackageOpenError::Decrypt)
    }
}
