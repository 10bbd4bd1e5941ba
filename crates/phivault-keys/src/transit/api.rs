//! The Transit HTTP calls this provider makes, and their JSON shapes
//! (Vault API docs, "Transit secrets engine (API)").

use std::collections::BTreeMap;
use std::fmt;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::TransitConfig;
use crate::{ProviderErrorKind, VaultToken};

/// A Transit call failed. Never contains the token or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransitError {
    /// The configuration is unusable (address, CA).
    #[error("vault transit configuration: {0}")]
    Config(String),
    /// Vault could not be reached.
    #[error("vault transit unreachable: {0}")]
    Unreachable(String),
    /// Vault refused the token (HTTP 403 or 401).
    #[error("vault transit denied access (HTTP {status}): {errors}")]
    Denied {
        /// HTTP status.
        status: u16,
        /// Vault's `errors`, joined.
        errors: String,
    },
    /// Vault rejected the request.
    #[error("vault transit rejected the request (HTTP {status}): {errors}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Vault's `errors`, joined.
        errors: String,
    },
    /// The key is not of an AEAD type.
    #[error("vault transit key type `{0}` does not support associated data")]
    NotAead(String),
    /// The answer was not what the API documents.
    #[error("vault transit answered unexpectedly: {0}")]
    Protocol(String),
}

impl TransitError {
    pub(super) fn kind(&self) -> ProviderErrorKind {
        match self {
            Self::Unreachable(_) => ProviderErrorKind::Unavailable,
            Self::Denied { .. } => ProviderErrorKind::Denied,
            Self::Config(_) | Self::Rejected { .. } | Self::NotAead(_) => {
                ProviderErrorKind::Rejected
            }
            Self::Protocol(_) => ProviderErrorKind::Protocol,
        }
    }

    /// Vault's answer to a ciphertext that fails authentication.
    pub(super) fn is_integrity(&self) -> bool {
        matches!(self, Self::Rejected { status: 400, errors } if errors.contains("message authentication failed"))
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<String>,
}

/// A key version's creation time: Unix seconds for symmetric keys.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Created {
    Unix(i64),
    Other(serde::de::IgnoredAny),
}

impl Created {
    pub(super) fn timestamp(&self) -> Option<jiff::Timestamp> {
        match self {
            Self::Unix(s) => jiff::Timestamp::from_second(*s).ok(),
            Self::Other(_) => None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct KeyData {
    #[serde(rename = "type")]
    pub(super) key_type: String,
    pub(super) latest_version: u32,
    #[serde(default)]
    pub(super) min_decryption_version: u32,
    pub(super) keys: BTreeMap<String, Created>,
}

#[derive(Deserialize)]
struct Ciphertext {
    ciphertext: String,
}

#[derive(Deserialize)]
struct Plaintext {
    plaintext: String,
}

pub(super) struct Call {
    client: reqwest::Client,
    base: String,
    mount: String,
    key: String,
    token: VaultToken,
    namespace: Option<String>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("base", &self.base)
            .field("mount", &self.mount)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Call {
    pub(super) fn new(c: TransitConfig) -> Result<Self, TransitError> {
        let mut b = reqwest::Client::builder().timeout(c.timeout);
        if let Some(pem) = &c.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| TransitError::Config(format!("`ca_pem`: {e}")))?;
            b = b.tls_certs_only(certs);
        }
        let client = b.build().map_err(|e| TransitError::Config(e.to_string()))?;
        Ok(Self {
            client,
            base: c.addr.trim_end_matches('/').to_owned(),
            mount: c.mount.trim_matches('/').to_owned(),
            key: c.key,
            token: c.token,
            namespace: c.namespace,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Option<bytes_text::Body>, TransitError> {
        let url = format!("{}/v1/{}/{path}", self.base, self.mount);
        let mut req = self
            .client
            .request(method, &url)
            .header("X-Vault-Token", self.token.expose_secret());
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| TransitError::Unreachable(e.without_url().to_string()))?;
        let status = resp.status();
        let text = Zeroizing::new(
            resp.text()
                .await
                .map_err(|e| TransitError::Unreachable(e.without_url().to_string()))?,
        );
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            let errors = serde_json::from_str::<Errors>(&text)
                .map(|e| e.errors.join("; "))
                .unwrap_or_default();
            let status = status.as_u16();
            return Err(if status == 401 || status == 403 {
                TransitError::Denied { status, errors }
            } else {
                TransitError::Rejected { status, errors }
            });
        }
        Ok(Some(bytes_text::Body(text)))
    }

    async fn data<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, TransitError> {
        let text = self
            .send(method, path, body)
            .await?
            .ok_or_else(|| TransitError::Protocol("empty answer".into()))?;
        serde_json::from_str::<Envelope<T>>(&text.0)
            .map(|e| e.data)
            .map_err(|e| TransitError::Protocol(e.to_string()))
    }

    pub(super) async fn read_key(&self) -> Result<KeyData, TransitError> {
        self.data(reqwest::Method::GET, &format!("keys/{}", self.key), None)
            .await
    }

    pub(super) async fn encrypt(
        &self,
        plaintext_b64: &str,
        aad_b64: &str,
        version: u32,
    ) -> Result<String, TransitError> {
        let body =
            json!({"plaintext": plaintext_b64, "associated_data": aad_b64, "key_version": version});
        let c: Ciphertext = self
            .data(
                reqwest::Method::POST,
                &format!("encrypt/{}", self.key),
                Some(body),
            )
            .await?;
        Ok(c.ciphertext)
    }

    pub(super) async fn decrypt(
        &self,
        ciphertext: &str,
        aad_b64: &str,
    ) -> Result<Zeroizing<String>, TransitError> {
        let body = json!({"ciphertext": ciphertext, "associated_data": aad_b64});
        let p: Plaintext = self
            .data(
                reqwest::Method::POST,
                &format!("decrypt/{}", self.key),
                Some(body),
            )
            .await?;
        Ok(Zeroizing::new(p.plaintext))
    }

    pub(super) async fn rotate(&self) -> Result<(), TransitError> {
        self.send(
            reqwest::Method::POST,
            &format!("keys/{}/rotate", self.key),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    pub(super) async fn set_min_decryption_version(&self, v: u32) -> Result<(), TransitError> {
        let body = json!({"min_decryption_version": v});
        self.send(
            reqwest::Method::POST,
            &format!("keys/{}/config", self.key),
            Some(body),
        )
        .await
        .map(|_| ())
    }
}

mod bytes_text {
    /// A response body; may hold base64 key material, so zeroized.
    pub(super) struct Body(pub(super) zeroize::Zeroizing<String>);
}
