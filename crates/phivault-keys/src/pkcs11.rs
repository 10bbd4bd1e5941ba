//! PKCS#11 key provider (kind 2): the KEK is an AES-256 secret key inside a
//! token — `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` true, `CKA_EXTRACTABLE`
//! false, usable only for `C_Encrypt`/`C_Decrypt` — labelled
//! `{key_label}-v{N}` per version (default `phivault-kek-v1`, `-v2`, …).
//!
//! Wrap is `C_Encrypt` with `CKM_AES_GCM` (12-byte IV from aws-lc-rs's RNG,
//! 128-bit tag, AAD = [`WrappedDek::aad`]) inside the token; the payload is
//! `IV || ciphertext || tag`, the same layout as the local keyring. If a
//! token replaces the IV (some FIPS-mode HSMs generate it), the IV it wrote
//! back is stored.
//!
//! PKCS#11 sessions are not thread-safe, so the provider keeps a small pool
//! of mutex'd sessions (logged in once: login state is per application and
//! token). Calls run on `tokio::task::spawn_blocking` when
//! [`Pkcs11Config::offload`] is set (the default: a network HSM takes
//! milliseconds per call); SoftHSM2 answers in microseconds, where inline
//! calls are faster (see `benches/rewrap.rs`).
//!
//! One `Pkcs11` context is kept per module path for the whole process:
//! `C_Initialize` may run once per process, and finalizing one provider's
//! context would close every other provider's sessions.

#[cfg(test)]
mod tests;
mod token;

use token::{context, find_slot};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use phivault_core::envelope::{DataKey, KekRef, UnwrapError, WrapError, WrappedDek};
use zeroize::Zeroizing;

use crate::{
    KekInfo, KeyProvider, Pin, ProviderError, ProviderErrorKind, RetireError, RotateError,
};

const KIND: u8 = 2;
const IV_LEN: usize = 12;

/// Where the token is and how to log in.
pub struct Pkcs11Config {
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The token label (`CKA_LABEL` of the token, e.g. `phivault`).
    pub token_label: String,
    /// The user PIN.
    pub pin: Pin,
    /// Key label stem; version N is `{key_label}-v{N}`.
    pub key_label: String,
    /// Sessions in the pool (at least 1).
    pub sessions: usize,
    /// Run token calls on the blocking thread pool.
    pub offload: bool,
    /// Generate version 1 when the token holds no KEK yet.
    pub create_if_missing: bool,
}

impl Pkcs11Config {
    /// Defaults: key label `phivault-kek`, 4 sessions, offloaded calls, no
    /// key generation on connect.
    pub fn new(module: impl Into<PathBuf>, token_label: impl Into<String>, pin: Pin) -> Self {
        Self {
            module: module.into(),
            token_label: token_label.into(),
            pin,
            key_label: "phivault-kek".into(),
            sessions: 4,
            offload: true,
            create_if_missing: false,
        }
    }
}

impl fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .field("sessions", &self.sessions)
            .field("offload", &self.offload)
            .finish_non_exhaustive()
    }
}

/// Connecting to the token failed. Never contains the PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The module did not load or initialize.
    #[error("pkcs#11 module `{path}` failed to load: {detail}")]
    Module {
        /// The module path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// No slot holds a token with that label.
    #[error("no pkcs#11 token labelled `{0}`")]
    TokenNotFound(String),
    /// The token refused the user PIN.
    #[error("pkcs#11 login refused: {0}")]
    Login(String),
    /// The token holds no KEK with that label stem.
    #[error("pkcs#11 token holds no key labelled `{0}-v<N>`")]
    NoKek(String),
    /// Two keys carry the same version label.
    #[error("pkcs#11 token holds two keys labelled `{0}`")]
    DuplicateKek(String),
    /// Another token call failed.
    #[error("pkcs#11 {op} failed: {detail}")]
    Token {
        /// The operation.
        op: &'static str,
        /// The return value.
        detail: String,
    },
}

fn tok(op: &'static str) -> impl Fn(CkError) -> Pkcs11Error {
    move |e| Pkcs11Error::Token {
        op,
        detail: e.to_string(),
    }
}

fn provider_err(e: &Pkcs11Error) -> ProviderError {
    let kind = match e {
        Pkcs11Error::Login(_) => ProviderErrorKind::Denied,
        Pkcs11Error::DuplicateKek(_) => ProviderErrorKind::Protocol,
        _ => ProviderErrorKind::Unavailable,
    };
    ProviderError::new(kind, e.to_string())
}

/// The PKCS#11 key provider. Cheap to clone (shared pool).
#[derive(Clone)]
pub struct Pkcs11Provider {
    inner: Arc<Inner>,
}

struct Inner {
    module: PathBuf,
    token_label: String,
    key_label: String,
    offload: bool,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    keys: RwLock<BTreeMap<u32, ObjectHandle>>,
    writer: Mutex<()>,
}

impl fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Provider")
            .field("module", &self.inner.module)
            .field("token_label", &self.inner.token_label)
            .field("current", &self.inner.current())
            .finish_non_exhaustive()
    }
}

impl Pkcs11Provider {
    /// Loads the module, finds the token, opens and logs in the session
    /// pool and reads the KEK versions (generating version 1 if
    /// `create_if_missing` and none exists).
    pub async fn connect(config: Pkcs11Config, now: jiff::Timestamp) -> Result<Self, Pkcs11Error> {
        tokio::task::spawn_blocking(move || Self::connect_blocking(config, now))
            .await
            .map_err(|e| Pkcs11Error::Token {
                op: "connect",
                detail: e.to_string(),
            })?
    }

    /// [`Self::connect`] on the calling thread.
    pub fn connect_blocking(
        config: Pkcs11Config,
        now: jiff::Timestamp,
    ) -> Result<Self, Pkcs11Error> {
        let ctx = context(&config.module)?;
        let slot = find_slot(&ctx, &config.token_label)?;
        let pin = AuthPin::new(config.pin.expose_secret().to_owned());
        let mut sessions = Vec::new();
        for _ in 0..config.sessions.max(1) {
            let s = ctx.open_rw_session(slot).map_err(tok("open session"))?;
            match s.login(UserType::User, Some(&pin)) {
                Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => return Err(Pkcs11Error::Login(e.to_string())),
            }
            sessions.push(Mutex::new(s));
        }
        let inner = Inner {
            module: config.module,
            token_label: config.token_label,
            key_label: config.key_label,
            offload: config.offload,
            sessions,
            next: AtomicUsize::new(0),
            keys: RwLock::new(BTreeMap::new()),
            writer: Mutex::new(()),
        };
        inner.refresh()?;
        if inner.current() == 0 {
            if !config.create_if_missing {
                return Err(Pkcs11Error::NoKek(inner.key_label));
            }
            inner.rotate(now)?;
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Re-reads the KEK versions from the token (after another process
    /// rotated or retired).
    pub async fn refresh(&self) -> Result<(), Pkcs11Error> {
        self.blocking(|i| i.refresh()).await?
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, Pkcs11Error> {
        let inner = self.inner.clone();
        if !self.inner.offload {
            return Ok(f(&inner));
        }
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Pkcs11Error::Token {
                op: "blocking call",
                detail: e.to_string(),
            })
    }

    #[cfg(test)]
    fn with_session<T>(&self, f: impl FnOnce(&Session, Option<ObjectHandle>) -> T) -> T {
        let h = self.inner.handle(self.inner.current());
        let s = self.inner.session().unwrap();
        f(&s, h)
    }
}

#[async_trait::async_trait]
impl KeyProvider for Pkcs11Provider {
    fn current(&self) -> KekRef {
        KekRef {
            provider: KIND,
            version: self.inner.current(),
        }
    }

    async fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError> {
        let kek = self.current();
        let key = self.inner.handle(kek.version).ok_or(WrapError)?;
        let aad = WrappedDek::aad(kek, dek.id(), collection, record_id);
        let material = Zeroizing::new(*dek.expose());
        let payload = self
            .blocking(move |i| i.encrypt(key, &material, &aad))
            .await
            .map_err(|_| WrapError)?
            .map_err(|e| {
                tracing::warn!(error = %e, "pkcs#11 encrypt failed");
                WrapError
            })?;
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
        let key = match self.inner.handle(kek.version) {
            Some(h) => h,
            None => {
                // Maybe rotated by another process since we connected.
                self.refresh()
                    .await
                    .map_err(|_| UnwrapError::UnknownKek(kek.version))?;
                self.inner
                    .handle(kek.version)
                    .ok_or(UnwrapError::UnknownKek(kek.version))?
            }
        };
        let aad = WrappedDek::aad(kek, wrapped.dek_id, collection, record_id);
        let payload = wrapped.payload.clone();
        let plain = self
            .blocking(move |i| i.decrypt(key, &payload, &aad))
            .await
            .map_err(|_| UnwrapError::UnknownKek(kek.version))?
            .map_err(|e| match e {
                UnwrapError::UnknownKek(_) => UnwrapError::UnknownKek(kek.version),
                e => e,
            })?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| UnwrapError::Integrity)?;
        Ok(DataKey::from_parts(wrapped.dek_id, Zeroizing::new(bytes)))
    }

    async fn versions(&self) -> Result<Vec<KekInfo>, crate::VersionsError> {
        let found = self
            .blocking(|i| -> Result<_, Pkcs11Error> { i.scan(&*i.session()?) })
            .await
            .and_then(|r| r)
            .map_err(|e| provider_err(&e))?;
        Ok(found
            .into_iter()
            .map(|(version, _, created_at)| KekInfo {
                version,
                created_at,
            })
            .collect())
    }

    async fn rotate(&self, now: jiff::Timestamp) -> Result<KekRef, RotateError> {
        let inner = self.inner.clone();
        let version = tokio::task::spawn_blocking(move || inner.rotate(now))
            .await
            .map_err(|e| ProviderError::new(ProviderErrorKind::Unavailable, e.to_string()))?
            .map_err(|e| provider_err(&e))?;
        Ok(KekRef {
            provider: KIND,
            version,
        })
    }

    /// Destroys the token objects of versions below `version`: irreversible.
    async fn refresh(&self) -> Result<u32, ProviderError> {
        Pkcs11Provider::refresh(self)
            .await
            .map_err(|e| provider_err(&e))?;
        Ok(self.inner.current())
    }

    async fn retire_below(&self, version: u32) -> Result<Vec<u32>, RetireError> {
        let current = self.inner.current();
        if version > current {
            return Err(RetireError::WouldRemoveCurrent {
                requested: version,
                current,
            });
        }
        let removed = self
            .blocking(move |i| -> Result<Vec<u32>, Pkcs11Error> {
                let _w = i.writer.lock().unwrap_or_else(PoisonError::into_inner);
                let s = i.session()?;
                let mut removed = Vec::new();
                for (v, h, _) in i.scan(&s)? {
                    if v < version {
                        s.destroy_object(h).map_err(tok("destroy object"))?;
                        i.keys
                            .write()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&v);
                        removed.push(v);
                    }
                }
                Ok(removed)
            })
            .await
            .and_then(|r| r)
            .map_err(|e| provider_err(&e))?;
        Ok(removed)
    }
}
