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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::{AuthPin, Date};
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

fn context(module: &Path) -> Result<Pkcs11, Pkcs11Error> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    let err = |e: CkError| Pkcs11Error::Module {
        path: module.to_owned(),
        detail: e.to_string(),
    };
    let ctx = Pkcs11::new(module).map_err(err)?;
    match ctx.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(err(e)),
    }
    map.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, Pkcs11Error> {
    for slot in ctx.get_slots_with_token().map_err(tok("slot listing"))? {
        let info = ctx.get_token_info(slot).map_err(tok("token info"))?;
        if info.label().trim_end() == label {
            return Ok(slot);
        }
    }
    Err(Pkcs11Error::TokenNotFound(label.to_owned()))
}

fn date_of(ts: jiff::Timestamp) -> Option<Date> {
    let d = jiff::tz::Offset::UTC.to_datetime(ts).date();
    Date::new_from_str_slice(
        &format!("{:04}", d.year()),
        &format!("{:02}", d.month()),
        &format!("{:02}", d.day()),
    )
    .ok()
}

impl Inner {
    fn current(&self) -> u32 {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.keys().next_back().copied().unwrap_or(0)
    }

    fn handle(&self, version: u32) -> Option<ObjectHandle> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(&version).copied()
    }

    /// A free session if there is one, else waits for the next in turn.
    fn session(&self) -> Result<MutexGuard<'_, Session>, Pkcs11Error> {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(Ok(s)) = self.sessions.get((start + i) % n).map(Mutex::try_lock) {
                return Ok(s);
            }
        }
        let m = self
            .sessions
            .get(start % n.max(1))
            .ok_or(Pkcs11Error::Token {
                op: "session",
                detail: "no session".into(),
            })?;
        Ok(m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn label(&self, version: u32) -> String {
        format!("{}-v{version}", self.key_label)
    }

    /// Reads the KEK versions in the token: `(version, handle, created)`.
    fn scan(
        &self,
        s: &Session,
    ) -> Result<Vec<(u32, ObjectHandle, Option<jiff::Timestamp>)>, Pkcs11Error> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
        ];
        let prefix = format!("{}-v", self.key_label);
        let mut out: Vec<(u32, ObjectHandle, Option<jiff::Timestamp>)> = Vec::new();
        for h in s.find_objects(&template).map_err(tok("find objects"))? {
            let attrs = match s.get_attributes(h, &[AttributeType::Label]) {
                Ok(a) => a,
                // Destroyed by another session since find_objects.
                Err(CkError::Pkcs11(RvError::ObjectHandleInvalid, _)) => continue,
                Err(e) => return Err(tok("get attributes")(e)),
            };
            // CKA_START_DATE is written at generation for operators, but not
            // read back: SoftHSM2 answers CKR_GENERAL_ERROR for it through
            // cryptoki 0.10, so `created_at` stays unknown.
            let created = None;
            let mut version = None;
            for a in attrs {
                if let Attribute::Label(l) = a {
                    version = std::str::from_utf8(&l)
                        .ok()
                        .and_then(|l| l.strip_prefix(&prefix))
                        .and_then(|v| v.parse::<u32>().ok());
                }
            }
            if let Some(v) = version {
                if out.iter().any(|(o, _, _)| *o == v) {
                    return Err(Pkcs11Error::DuplicateKek(self.label(v)));
                }
                out.push((v, h, created));
            }
        }
        out.sort_by_key(|(v, _, _)| *v);
        Ok(out)
    }

    fn refresh(&self) -> Result<(), Pkcs11Error> {
        let found = self.scan(&*self.session()?)?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        *keys = found.into_iter().map(|(v, h, _)| (v, h)).collect();
        Ok(())
    }

    fn generate(
        &self,
        s: &Session,
        version: u32,
        now: jiff::Timestamp,
    ) -> Result<ObjectHandle, Pkcs11Error> {
        let mut template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Derive(false),
            Attribute::Label(self.label(version).into_bytes()),
            Attribute::Id(version.to_be_bytes().to_vec()),
        ];
        if let Some(d) = date_of(now) {
            template.push(Attribute::StartDate(d));
        }
        s.generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(tok("key generation"))
    }

    /// Next version = highest in the token + 1 (another process may have
    /// rotated), generated in the token, then made current here.
    fn rotate(&self, now: jiff::Timestamp) -> Result<u32, Pkcs11Error> {
        let _w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let s = self.session()?;
        let found = self.scan(&s)?;
        let top = found.last().map_or(0, |(v, _, _)| *v);
        let version = top.checked_add(1).ok_or(Pkcs11Error::Token {
            op: "rotate",
            detail: "no more version numbers".into(),
        })?;
        let h = self.generate(&s, version, now)?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        *keys = found.into_iter().map(|(v, h, _)| (v, h)).collect();
        keys.insert(version, h);
        Ok(version)
    }

    fn encrypt(&self, key: ObjectHandle, dek: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, CkError> {
        let mut iv = [0u8; IV_LEN];
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| CkError::InvalidValue)?;
        let ct = {
            let params = GcmParams::new(&mut iv, aad, 128.into())?;
            let s = self.session().map_err(|_| CkError::InvalidValue)?;
            s.encrypt(&Mechanism::AesGcm(params), key, dek)?
        };
        let mut payload = Vec::with_capacity(IV_LEN + ct.len());
        payload.extend_from_slice(&iv);
        payload.extend_from_slice(&ct);
        Ok(payload)
    }

    fn decrypt(
        &self,
        key: ObjectHandle,
        payload: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        let (iv, ct) = payload
            .split_at_checked(IV_LEN)
            .ok_or(UnwrapError::Malformed)?;
        let mut iv: [u8; IV_LEN] = iv.try_into().map_err(|_| UnwrapError::Malformed)?;
        let params =
            GcmParams::new(&mut iv, aad, 128.into()).map_err(|_| UnwrapError::Malformed)?;
        let s = self.session().map_err(|_| UnwrapError::Integrity)?;
        match s.decrypt(&Mechanism::AesGcm(params), key, ct) {
            Ok(p) => Ok(Zeroizing::new(p)),
            // SoftHSM2 reports a GCM tag mismatch as CKR_GENERAL_ERROR;
            // tokens following the spec say CKR_ENCRYPTED_DATA_INVALID.
            Err(CkError::Pkcs11(
                RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::GeneralError,
                _,
            )) => Err(UnwrapError::Integrity),
            Err(e) => {
                tracing::warn!(error = %e, "pkcs#11 decrypt failed");
                // The server treats an unavailable KEK as a key failure
                // (503), not as tampering.
                Err(UnwrapError::UnknownKek(0))
            }
        }
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
