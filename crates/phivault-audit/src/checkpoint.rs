//! Signed checkpoints in the C2SP `tlog-checkpoint` format, carried in a
//! C2SP `signed-note` with an Ed25519 signature.
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64(key id ‖ signature)>
//! ```
//!
//! The key id is the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖
//! public key)`; a verifier key is written `name+hex(key id)+base64(0x01 ‖
//! public key)`.

use aws_lc_rs::digest::{Context, SHA256};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::merkle::Hash;

const ALG_ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

/// Why a checkpoint or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a signed note with a checkpoint body.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature by the given key.
    #[error("checkpoint is not signed by key `{0}`")]
    Unsigned(String),
    /// A signature by the key's name and id that does not verify.
    #[error("checkpoint signature by key `{0}` is invalid")]
    BadSignature(String),
    /// The checkpoint names another log.
    #[error("checkpoint origin `{0}` is not the expected origin")]
    WrongOrigin(String),
    /// A key could not be parsed or generated.
    #[error("invalid key: {0}")]
    Key(&'static str),
}

/// A checkpoint: the log's identity, size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (unique per log).
    pub origin: String,
    /// Number of events.
    pub size: u64,
    /// `MTH(D[size])`.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body that is signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty());
        let size = lines.next().and_then(|s| {
            // Decimal without leading zeros or signs.
            (s == "0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        });
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| <Hash>::try_from(r.as_slice()).ok());
        match (origin, size, root) {
            (Some(o), Some(size), Some(root)) => Ok(Self {
                origin: o.to_owned(),
                size,
                root,
            }),
            _ => Err(CheckpointError::Malformed(
                "body must be origin, size and root",
            )),
        }
    }

    /// Parses a signed checkpoint and checks the signature of `key`.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Self, CheckpointError> {
        Self::parse_body(&key.open_note(note)?)
    }
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ALG_ED25519]);
    ctx.update(public);
    let d = ctx.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(d.as_ref().get(..4).unwrap_or(&[0; 4]));
    id
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['+', ' ', '\n', '\t']) && name.is_ascii()
}

/// The audit signing key (Ed25519). Never printed; the PKCS#8 document is
/// zeroized when dropped.
pub struct Signer {
    name: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh key; returns the signer and its PKCS#8 v2 document to store.
    pub fn generate(name: &str) -> Result<(Self, Zeroizing<Vec<u8>>), CheckpointError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| CheckpointError::Key("cannot generate an ed25519 key"))?;
        let bytes = Zeroizing::new(doc.as_ref().to_vec());
        Ok((Self::from_pkcs8(name, &bytes)?, bytes))
    }

    /// Loads a key from its PKCS#8 document.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, CheckpointError> {
        if !valid_name(name) {
            return Err(CheckpointError::Key(
                "key name must be ascii without spaces or `+`",
            ));
        }
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| CheckpointError::Key("not an ed25519 pkcs#8 key"))?;
        Ok(Self {
            name: name.to_owned(),
            pair,
        })
    }

    /// The public half, as a verifier key.
    pub fn verifier(&self) -> VerifierKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        VerifierKey {
            name: self.name.clone(),
            id: key_id(&self.name, &public),
            public,
        }
    }

    /// Signs a checkpoint into a signed note.
    pub fn sign(&self, cp: &Checkpoint) -> String {
        self.sign_note(&cp.body())
    }

    /// Signs any note body (newline-terminated lines, no blank line) into a
    /// C2SP signed note: evidence manifests use the same key and format.
    pub fn sign_note(&self, body: &str) -> String {
        let sig = self.pair.sign(body.as_bytes());
        let mut raw = key_id(&self.name, &self.verifier().public).to_vec();
        raw.extend_from_slice(sig.as_ref());
        format!("{body}\n{DASH}{} {}\n", self.name, B64.encode(raw))
    }
}

/// A public verifier key: `name+hex(id)+base64(0x01 ‖ key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    public: [u8; 32],
}

impl VerifierKey {
    /// The key's name (also the log's origin in phivault).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A short fingerprint of the public key (hex of its first 8 bytes):
    /// names the log on a broker that carries several.
    pub fn fingerprint(&self) -> String {
        self.public
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Checks a signed note's signature by this key; returns its body
    /// (with the final newline).
    pub fn open_note(&self, note: &str) -> Result<String, CheckpointError> {
        let (body, sigs) = note.split_once("\n\n").ok_or(CheckpointError::Malformed(
            "no blank line before signatures",
        ))?;
        let body = format!("{body}\n");
        for line in sigs.split_terminator('\n') {
            let rest = line.strip_prefix(DASH).ok_or(CheckpointError::Malformed(
                "signature line must start with a dash",
            ))?;
            let (name, sig) = rest.split_once(' ').ok_or(CheckpointError::Malformed(
                "signature line needs a name and a signature",
            ))?;
            if name != self.name {
                continue;
            }
            let raw = B64
                .decode(sig)
                .map_err(|_| CheckpointError::Malformed("signature is not base64"))?;
            let Some((id, sig)) = raw.split_first_chunk::<4>() else {
                return Err(CheckpointError::Malformed("signature is too short"));
            };
            if *id != self.id {
                continue;
            }
            UnparsedPublicKey::new(&ED25519, self.public)
                .verify(body.as_bytes(), sig)
                .map_err(|_| CheckpointError::BadSignature(self.name.clone()))?;
            return Ok(body);
        }
        Err(CheckpointError::Unsigned(self.name.clone()))
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Result<Self, CheckpointError> {
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CheckpointError::Key("expected name+id+key"));
        };
        let raw = B64
            .decode(key_b64)
            .map_err(|_| CheckpointError::Key("key is not base64"))?;
        let Some((&ALG_ED25519, public)) = raw.split_first() else {
            return Err(CheckpointError::Key("only ed25519 keys are supported"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| CheckpointError::Key("ed25519 key must be 32 bytes"))?;
        if !valid_name(name) {
            return Err(CheckpointError::Key(
                "key name must be ascii without spaces or `+`",
            ));
        }
        let id = key_id(name, &public);
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        if hex != id_hex {
            return Err(CheckpointError::Key("key id does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            public,
        })
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: String = self.id.iter().map(|b| format!("{b:02x}")).collect();
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.public);
        write!(f, "{}+{}+{}", self.name, hex, B64.encode(raw))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint {
            origin: "phivault.example/audit".into(),
            size: 42,
            root: [7u8; 32],
        }
    }

    #[test]
    fn signed_note_round_trips_and_names_forgeries() {
        let (s, pk8) = Signer::generate("phivault.example/audit").unwrap();
        let vk = s.verifier();
        let note = s.sign(&cp());
        assert!(note.starts_with("phivault.example/audit\n42\n"));
        assert!(note.contains("\n\n\u{2014} phivault.example/audit "));
        assert_eq!(Checkpoint::open(&note, &vk).unwrap(), cp());
        // The text form of the key parses back.
        assert_eq!(VerifierKey::parse(&vk.to_string()).unwrap(), vk);
        // Reloading the stored key gives the same verifier.
        let again = Signer::from_pkcs8("phivault.example/audit", &pk8).unwrap();
        assert_eq!(again.verifier(), vk);
        // A changed size, root or signature fails.
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            Checkpoint::open(&forged, &vk),
            Err(CheckpointError::BadSignature(
                "phivault.example/audit".into()
            ))
        );
        // Signed by another key of the same name: not our key id.
        let (other, _) = Signer::generate("phivault.example/audit").unwrap();
        assert!(matches!(
            Checkpoint::open(&other.sign(&cp()), &vk),
            Err(CheckpointError::Unsigned(_))
        ));
        assert!(Checkpoint::open("garbage", &vk).is_err());
        assert!(VerifierKey::parse("a+00000000+AQ==").is_err());
        assert!(Signer::from_pkcs8("bad name", &pk8).is_err());
    }
}
