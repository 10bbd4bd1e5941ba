//! HashiCorp Vault Transit key provider (kind 3).
//!
//! The KEK is a Transit key of an AEAD type (`aes256-gcm96`); it never
//! leaves Vault. Wrap is `POST /v1/{mount}/encrypt/{key}` with the DEK as
//! `plaintext`, [`WrappedDek::aad`] as `associated_data` (both base64) and an
//! explicit `key_version` — the version is part of the AAD, so it must be
//! fixed before Vault encrypts. Unwrap is `POST /v1/{mount}/decrypt/{key}`.
//! The payload stored in the wrapped DEK is the base64-decoded body of the
//! `vault:vN:` ciphertext; N is the KEK version in the DEK header, and the
//! ciphertext string is rebuilt from both on unwrap.
//!
//! Rotation is `POST /v1/{mount}/keys/{key}/rotate`; retiring versions sets
//! `min_decryption_version` (`POST /v1/{mount}/keys/{key}/config`), after
//! which Vault refuses to decrypt with older versions.
//!
//! Why `reqwest` and not `vaultrs`: vaultrs' transit `encrypt`/`decrypt`
//! requests have no `associated_data` field, which this provider requires;
//! the five endpoints are small, and the workspace's reqwest (rustls) avoids
//! a second HTTP/TLS stack.
//!
//! # Pointing it at a real Vault
//!
//! ```text
//! vault secrets enable transit
//! vault write -f transit/keys/phivault type=aes256-gcm96
//! vault policy write phivault - <<'HCL'
//! path "transit/encrypt/phivault" { capabilities = ["update"] }
//! path "transit/decrypt/phivault" { capabilities = ["update"] }
//! path "transit/keys/phivault"    { capabilities = ["read"] }
//! # only for the operator running `phivault keys rotate` / `retire`:
//! path "transit/keys/phivault/rotate" { capabilities = ["update"] }
//! path "transit/keys/phivault/config" { capabilities = ["update"] }
//! HCL
//! vault token create -policy=phivault
//! ```
//!
//! Then configure `addr` (e.g. `https://vault.internal:8200`), the token,
//! `mount` (`transit`), `key` (`phivault`) and, for a private CA, `ca_pem`.
//! The in-process stand-in used by the tests is [`standin`] (feature
//! `standin`).

mod api;
#[cfg(feature = "standin")]
pub mod standin;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use phivault_core::envelope::{DataKey, KekRef, UnwrapError, WrapError, WrappedDek};
use zeroize::Zeroizing;

pub use api::TransitError;
use api::{Call, KeyData};

use crate::{KekInfo, KeyProvider, ProviderError, RetireError, RotateError, VaultToken};

const KIND: u8 = 3;

/// Where Vault is and how to authenticate.
pub struct TransitConfig {
    /// Base address, e.g. `https://vault.internal:8200`.
    pub addr: String,
    /// The Vault token.
    pub token: VaultToken,
    /// The Transit mount path (default `transit`).
    pub mount: String,
    /// The Transit key name (default `phivault`).
    pub key: String,
    /// PEM CA certificate(s) to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Vault Enterprise namespace (`X-Vault-Namespace`).
    pub namespace: Option<String>,
    /// Per-request timeout (default 10 s).
    pub timeout: Duration,
}

impl TransitConfig {
    /// Defaults: mount `transit`, key `phivault`, system roots, 10 s.
    pub fn new(addr: impl Into<String>, token: VaultToken) -> Self {
        Self {
            addr: addr.into(),
            token,
            mount: "transit".into(),
            key: "phivault".into(),
            ca_pem: None,
            namespace: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for TransitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitConfig")
            .field("addr", &self.addr)
            .field("mount", &self.mount)
            .field("key", &self.key)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// The Vault Transit key provider.
pub struct TransitProvider {
    call: Call,
    current: AtomicU32,
}

impl fmt::Debug for TransitProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitProvider")
            .field("call", &self.call)
            .field("current", &self.current.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn pe(e: TransitError) -> ProviderError {
    ProviderError::new(e.kind(), e.to_string())
}

impl TransitProvider {
    /// Builds the client and reads the key (type, latest version). Fails
    /// early on a wrong token, a missing key or a non-AEAD key type.
    pub async fn connect(config: TransitConfig) -> Result<Self, TransitError> {
        let call = Call::new(config)?;
        let key = call.read_key().await?;
        if !matches!(
            key.key_type.as_str(),
            "aes256-gcm96" | "aes128-gcm96" | "chacha20-poly1305"
        ) {
            return Err(TransitError::NotAead(key.key_type));
        }
        Ok(Self {
            call,
            current: AtomicU32::new(key.latest_version),
        })
    }

    /// Re-reads the latest version (after a rotation elsewhere).
    pub async fn refresh(&self) -> Result<u32, TransitError> {
        let key = self.call.read_key().await?;
        self.current.store(key.latest_version, Ordering::Relaxed);
        Ok(key.latest_version)
    }
}

fn infos(key: &KeyData) -> Vec<KekInfo> {
    let mut out: Vec<KekInfo> = key
        .keys
        .iter()
        .filter_map(|(v, t)| {
            let version = v.parse::<u32>().ok()?;
            (version >= key.min_decryption_version).then(|| KekInfo {
                version,
                created_at: t.timestamp(),
            })
        })
        .collect();
    out.sort_by_key(|i| i.version);
    out
}

#[async_trait::async_trait]
impl KeyProvider for TransitProvider {
    fn current(&self) -> KekRef {
        KekRef {
            provider: KIND,
            version: self.current.load(Ordering::Relaxed),
        }
    }

    async fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError> {
        let kek = self.current();
        let aad = WrappedDek::aad(kek, dek.id(), collection, record_id);
        let plaintext = Zeroizing::new(STANDARD.encode(dek.expose()));
        let ct = self
            .call
            .encrypt(&plaintext, &STANDARD.encode(aad), kek.version)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "vault transit encrypt failed");
                WrapError
            })?;
        let prefix = format!("vault:v{}:", kek.version);
        let body = ct.strip_prefix(&prefix).ok_or_else(|| {
            tracing::warn!("vault transit encrypted under another version than requested");
            WrapError
        })?;
        let payload = STANDARD.decode(body).map_err(|_| WrapError)?;
        Ok(WrappedDek {
            kek,
            dek_id: dek.id(),
            payload,
        })
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedDek,
        collection: &str,
        record_id: &str,
    ) -> Result<DataKey, UnwrapError> {
        let kek = wrapped.kek;
        if kek.provider != KIND {
            return Err(UnwrapError::UnknownKek(kek.version));
        }
        let aad = WrappedDek::aad(kek, wrapped.dek_id, collection, record_id);
        let ct = format!(
            "vault:v{}:{}",
            kek.version,
            STANDARD.encode(&wrapped.payload)
        );
        let plain = self
            .call
            .decrypt(&ct, &STANDARD.encode(aad))
            .await
            .map_err(|e| {
                if e.is_integrity() {
                    UnwrapError::Integrity
                } else {
                    tracing::warn!(error = %e, "vault transit decrypt failed");
                    UnwrapError::UnknownKek(kek.version)
                }
            })?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(plain.as_bytes())
                .map_err(|_| UnwrapError::Integrity)?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| UnwrapError::Integrity)?;
        Ok(DataKey::from_parts(wrapped.dek_id, Zeroizing::new(key)))
    }

    async fn versions(&self) -> Result<Vec<KekInfo>, crate::VersionsError> {
        Ok(infos(&self.call.read_key().await.map_err(pe)?))
    }

    async fn rotate(&self, _now: jiff::Timestamp) -> Result<KekRef, RotateError> {
        self.call.rotate().await.map_err(pe)?;
        let version = self.refresh().await.map_err(pe)?;
        Ok(KekRef {
            provider: KIND,
            version,
        })
    }

    async fn refresh(&self) -> Result<u32, ProviderError> {
        TransitProvider::refresh(self).await.map_err(pe)
    }

    async fn retire_below(&self, version: u32) -> Result<Vec<u32>, RetireError> {
        let key = self.call.read_key().await.map_err(pe)?;
        if version > key.latest_version {
            return Err(RetireError::WouldRemoveCurrent {
                requested: version,
                current: key.latest_version,
            });
        }
        let removed: Vec<u32> = infos(&key)
            .into_iter()
            .map(|i| i.version)
            .filter(|v| *v < version)
            .collect();
        if !removed.is_empty() {
            self.call
                .set_min_decryption_version(version)
                .await
                .map_err(pe)?;
        }
        Ok(removed)
    }
}
