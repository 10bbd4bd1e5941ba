//! Device key pairs (X25519, for HPKE), public key encoding, and epoch secrets.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, Serializable};
use rand_core::CryptoRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

type Kem = X25519HkdfSha256;

/// Length of an [`EpochSecret`] in bytes.
pub const EPOCH_SECRET_LEN: usize = 32;

/// A device's X25519 public key; JSON form is unpadded base64url (RFC 4648 §5).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(pub(crate) <Kem as hpke::Kem>::PublicKey);

impl PublicKey {
    /// The 32-byte X25519 encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    /// Parses a 32-byte X25519 public key.
    ///
    /// # Errors
    /// [`InvalidPublicKey`] if `bytes` is not 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidPublicKey> {
        <Kem as hpke::Kem>::PublicKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| InvalidPublicKey)
    }

    /// Unpadded base64url of the 32 bytes.
    #[must_use]
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_bytes())
    }
}

/// A public key that is not 32 bytes of base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("public key must be 32 bytes of unpadded base64url")]
pub struct InvalidPublicKey;

/// A stored device secret key that is not 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("device secret key must be 32 bytes")]
pub struct InvalidSecretKey;

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PublicKey")
            .field(&self.to_base64url())
            .finish()
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom(InvalidPublicKey))?;
        Self::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// A participant device's long-term HPKE key pair. The private half stays on the device,
/// zeroizes on drop (x25519-dalek `StaticSecret`) and is never printed or serialized.
pub struct DeviceKeyPair {
    secret: <Kem as hpke::Kem>::PrivateKey,
    public: PublicKey,
}

impl std::fmt::Debug for DeviceKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl DeviceKeyPair {
    /// A fresh key pair from `rng` (RFC 9180 §7.1.3 `DeriveKeyPair(random(32))`).
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let (secret, public) = Kem::gen_keypair_with_rng(rng);
        Self {
            secret,
            public: PublicKey(public),
        }
    }

    /// `DeriveKeyPair(ikm)` of RFC 9180 §7.1.3; `ikm` should hold 32 random bytes.
    #[must_use]
    pub fn derive(ikm: &[u8]) -> Self {
        let (secret, public) = Kem::derive_keypair(ikm);
        Self {
            secret,
            public: PublicKey(public),
        }
    }

    /// The 32-byte private key, for the device's own key store only (never send it).
    #[must_use]
    pub fn export_secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes().into())
    }

    /// Restores a key pair from [`Self::export_secret`] output.
    ///
    /// # Errors
    /// [`InvalidSecretKey`] if `secret` is not 32 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<Self, InvalidSecretKey> {
        let secret =
            <Kem as hpke::Kem>::PrivateKey::from_bytes(secret).map_err(|_| InvalidSecretKey)?;
        let public = PublicKey(<Kem as hpke::Kem>::sk_to_pk(&secret));
        Ok(Self { secret, public })
    }

    /// The public half, to publish through the (untrusted) signalling server.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn secret(&self) -> &<Kem as hpke::Kem>::PrivateKey {
        &self.secret
    }
}

/// The secret of one session epoch, from which every sender's SFrame base key is derived.
pub struct EpochSecret(pub(crate) Zeroizing<[u8; EPOCH_SECRET_LEN]>);

impl std::fmt::Debug for EpochSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochSecret").finish_non_exhaustive()
    }
}

impl EpochSecret {
    /// A fresh random secret.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = Zeroizing::new([0u8; EPOCH_SECRET_LEN]);
        rng.fill_bytes(bytes.as_mut_slice());
        Self(bytes)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; EPOCH_SECRET_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }

    pub(crate) fn expose(&self) -> &[u8; EPOCH_SECRET_LEN] {
        &self.0
    }
}

/// Digits of a fingerprint: groups of five decimal digits, each from 3 hash bytes (mod 10^5).
fn digit_groups(hash: &[u8], groups: usize) -> String {
    hash.chunks_exact(3)
        .take(groups)
        .map(|c| {
            let n = c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl PublicKey {
    /// A short fingerprint of this key (four groups of five digits, 66 bits of SHA-256), for a
    /// user to compare with what the other device shows.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"phivault telehealth device key v1");
        h.update(self.to_bytes());
        digit_groups(&h.finalize(), 4)
    }
}

/// The safety number of two devices: the same on both sides (the keys are sorted), six groups
/// of five digits (about 99 bits of SHA-256). Two users read it to each other over the call (or
/// compare it on screen); if it matches, the server did not substitute either public key, and
/// the key packages they exchange (HPKE auth mode) come from the devices they think.
#[must_use]
pub fn safety_number(a: &PublicKey, b: &PublicKey) -> String {
    use sha2::Digest as _;
    let (a, b) = (a.to_bytes(), b.to_bytes());
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = sha2::Sha256::new();
    h.update(b"phivault telehealth safety number v1");
    h.update(lo);
    h.update(hi);
    digit_groups(&h.finalize(), 6)
}
