//! Token operations on the session pool: lookup, scan, key generation,
//! rotation, AES-GCM encrypt/decrypt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use cryptoki::types::Date;
use phivault_core::envelope::UnwrapError;
use zeroize::Zeroizing;

use super::{IV_LEN, Inner, Pkcs11Error, tok};

pub(super) fn context(module: &Path) -> Result<Pkcs11, Pkcs11Error> {
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

pub(super) fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, Pkcs11Error> {
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
    pub(super) fn current(&self) -> u32 {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.keys().next_back().copied().unwrap_or(0)
    }

    pub(super) fn handle(&self, version: u32) -> Option<ObjectHandle> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(&version).copied()
    }

    /// A free session if there is one, else waits for the next in turn.
    pub(super) fn session(&self) -> Result<MutexGuard<'_, Session>, Pkcs11Error> {
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

    pub(super) fn label(&self, version: u32) -> String {
        format!("{}-v{version}", self.key_label)
    }

    /// Reads the KEK versions in the token: `(version, handle, created)`.
    pub(super) fn scan(
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

    pub(super) fn refresh(&self) -> Result<(), Pkcs11Error> {
        let found = self.scan(&*self.session()?)?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        *keys = found.into_iter().map(|(v, h, _)| (v, h)).collect();
        Ok(())
    }

    pub(super) fn generate(
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
    pub(super) fn rotate(&self, now: jiff::Timestamp) -> Result<u32, Pkcs11Error> {
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

    pub(super) fn encrypt(
        &self,
        key: ObjectHandle,
        dek: &[u8; 32],
        aad: &[u8],
    ) -> Result<Vec<u8>, CkError> {
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

    pub(super) fn decrypt(
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
