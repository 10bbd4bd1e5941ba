//! The local keyring: `keys/keyring.json`, mode 0600.
//!
//! It holds the versioned KEKs and the blind-index root key. The file is
//! written atomically (temporary file, fsync, rename) so a crash never leaves
//! a half-written keyring; rotation and retirement write the new file first
//! and change the in-memory keyring only once it is on disk.
//!
//! Two file formats open:
//! - format 1, `"protection": "none"`: the key material in base64. Kept for
//!   zero-config starts; [`Keyring::is_protected`] lets the caller warn.
//! - format 2, `"protection": "argon2id"`: the format-1 body sealed under a
//!   passphrase (see [`protect`]). [`Keyring::protect`] converts a format-1
//!   file (or changes the passphrase of a format-2 one); rotation keeps it
//!   protected.

mod index;
mod protect;
mod reload;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use phivault_core::envelope::{DataKey, KekRef, LocalKek, UnwrapError, WrapError, WrappedDek};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use crate::KekInfo;
use crate::{KeyProvider, Passphrase, ProviderError, ProviderErrorKind, RetireError, RotateError};
pub use protect::KdfParams;
use protect::{ProtectError, ProtectedFile, SealingKey};

/// The keyring file name inside the keys directory.
pub const FILE_NAME: &str = "keyring.json";

/// Errors opening or writing a keyring. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// Reading or writing the file failed.
    #[error("keyring file `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a keyring this build understands.
    #[error("keyring file `{0}` is malformed")]
    Malformed(PathBuf),
    /// The file already exists (on create).
    #[error("keyring file `{0}` already exists")]
    Exists(PathBuf),
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The file is passphrase-protected and no passphrase was given.
    #[error("keyring file `{0}` is protected: a passphrase is required")]
    PassphraseRequired(PathBuf),
    /// The passphrase does not open the file (or the file was altered).
    #[error("keyring passphrase is wrong or the file was altered")]
    WrongPassphrase,
    /// A version number would overflow.
    #[error("keyring has no more version numbers")]
    VersionsExhausted,
    /// Retiring would remove the current blind-index root.
    #[error("cannot retire index root versions below {0}: it is above the current version")]
    IndexRetireAboveCurrent(u32),
}

#[derive(Serialize, Deserialize)]
struct KekEntry {
    version: u32,
    created_at: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    protection: String,
    current: u32,
    keks: Vec<KekEntry>,
    index_root: String,
    /// Blind-index root versions 2 and up (`phivault keys reindex`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    index_roots: Vec<KekEntry>,
    /// Index root versions below this are retired (1: none).
    #[serde(default = "index::one", skip_serializing_if = "index::is_one")]
    index_retired_below: u32,
}

#[derive(Deserialize)]
struct FormatProbe {
    format: u32,
}

struct Kek {
    material: Zeroizing<[u8; 32]>,
    local: LocalKek,
    created_at: String,
}

struct State {
    keks: BTreeMap<u32, Kek>,
    sealing: Option<SealingKey>,
    index: index::IndexRoots,
}

impl State {
    fn current(&self) -> u32 {
        // INVARIANT: `keks` is never empty (open checks, retire keeps current).
        self.keks.keys().next_back().copied().unwrap_or(0)
    }
}

/// The opened keyring: a key provider plus the blind-index root key.
pub struct Keyring {
    path: PathBuf,
    index_root: Zeroizing<[u8; 32]>,
    state: RwLock<State>,
    // Serializes writers (rotate, retire, protect) so each writes a file that
    // contains the other's change.
    writer: Mutex<()>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("current", &self.read().current())
            .field("protected", &self.is_protected())
            .finish_non_exhaustive()
    }
}

fn random32() -> Result<Zeroizing<[u8; 32]>, KeyringError> {
    let mut k = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(k.as_mut()).map_err(|_| KeyringError::Random)?;
    Ok(k)
}

fn decode32(s: &str, path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyringError> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(s)
            .map_err(|_| KeyringError::Malformed(path.to_owned()))?,
    );
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyringError::Malformed(path.to_owned()))?;
    Ok(Zeroizing::new(arr))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyringError> {
    let io = |source| KeyringError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(contents).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

fn protect_err(e: ProtectError, path: &Path) -> KeyringError {
    match e {
        ProtectError::Malformed => KeyringError::Malformed(path.to_owned()),
        ProtectError::Integrity => KeyringError::WrongPassphrase,
        ProtectError::Crypto => KeyringError::Random,
    }
}

impl Keyring {
    /// Creates a new unprotected (format 1) keyring with KEK version 1 and a
    /// fresh index root key.
    pub fn create(dir: &Path, now_rfc3339: &str) -> Result<Self, KeyringError> {
        Self::create_inner(dir, now_rfc3339, None)
    }

    /// Creates a new keyring sealed under `passphrase` (format 2).
    pub fn create_protected(
        dir: &Path,
        now_rfc3339: &str,
        passphrase: &Passphrase,
        params: KdfParams,
    ) -> Result<Self, KeyringError> {
        Self::create_inner(dir, now_rfc3339, Some((passphrase, params)))
    }

    fn create_inner(
        dir: &Path,
        now: &str,
        protect: Option<(&Passphrase, KdfParams)>,
    ) -> Result<Self, KeyringError> {
        let path = dir.join(FILE_NAME);
        if path.exists() {
            return Err(KeyringError::Exists(path));
        }
        let material = random32()?;
        let local = LocalKek::new(1, &material).map_err(|_| KeyringError::Random)?;
        let sealing = match protect {
            Some((pass, params)) => {
                Some(SealingKey::derive_new(pass, params).map_err(|e| protect_err(e, &path))?)
            }
            None => None,
        };
        let kek = Kek {
            material,
            local,
            created_at: now.to_owned(),
        };
        let state = State {
            keks: BTreeMap::from([(1, kek)]),
            sealing,
            index: index::IndexRoots::default(),
        };
        let keyring = Self {
            index_root: random32()?,
            path,
            state: RwLock::new(state),
            writer: Mutex::new(()),
        };
        keyring.persist(&keyring.read())?;
        Ok(keyring)
    }

    /// Opens an existing keyring; a protected one needs [`Self::open_with`].
    pub fn open(dir: &Path) -> Result<Self, KeyringError> {
        Self::open_with(dir, None)
    }

    /// Opens an existing keyring of either format. The passphrase is needed
    /// only for a protected (format 2) file and ignored for format 1.
    pub fn open_with(dir: &Path, passphrase: Option<&Passphrase>) -> Result<Self, KeyringError> {
        let path = dir.join(FILE_NAME);
        let malformed = || KeyringError::Malformed(path.clone());
        let text = Zeroizing::new(fs::read(&path).map_err(|source| KeyringError::Io {
            path: path.clone(),
            source,
        })?);
        let probe: FormatProbe = serde_json::from_slice(&text).map_err(|_| malformed())?;
        let (body, sealing) = match probe.format {
            1 => (text, None),
            2 => {
                let pass =
                    passphrase.ok_or_else(|| KeyringError::PassphraseRequired(path.clone()))?;
                let file: ProtectedFile = serde_json::from_slice(&text).map_err(|_| malformed())?;
                let (body, key) = protect::open(&file, pass).map_err(|e| protect_err(e, &path))?;
                (body, Some(key))
            }
            _ => return Err(malformed()),
        };
        let (keks, index_root, index) = reload::parse_body(&body, &path)?;
        Ok(Self {
            path,
            index_root,
            state: RwLock::new(State {
                keks,
                sealing,
                index,
            }),
            writer: Mutex::new(()),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated:
        // every write replaces whole entries after the file is on disk.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serializes `keks` (plus the sealing of `state`) and writes the file.
    fn persist_with(
        &self,
        keks: &mut dyn Iterator<Item = (u32, &[u8; 32], &str)>,
        sealing: Option<&SealingKey>,
        index: &index::IndexRoots,
    ) -> Result<(), KeyringError> {
        let mut entries = Vec::new();
        let mut current = 0;
        for (version, material, created_at) in keks {
            current = current.max(version);
            entries.push(KekEntry {
                version,
                created_at: created_at.to_owned(),
                key: STANDARD.encode(material),
            });
        }
        let file = KeyringFile {
            format: 1,
            protection: "none".into(),
            current,
            keks: entries,
            index_root: STANDARD.encode(self.index_root.as_ref()),
            index_roots: index.entries(),
            index_retired_below: index.retired_below,
        };
        let body = Zeroizing::new(
            serde_json::to_vec_pretty(&file)
                .map_err(|_| KeyringError::Malformed(self.path.clone()))?,
        );
        // The entries held base64 key material: zeroize it before dropping.
        for mut e in file.keks.into_iter().chain(file.index_roots) {
            zeroize::Zeroize::zeroize(&mut e.key);
        }
        let out = match sealing {
            Some(s) => Zeroizing::new(s.seal(&body).map_err(|e| protect_err(e, &self.path))?),
            None => body,
        };
        write_private(&self.path, &out)
    }

    fn persist(&self, state: &State) -> Result<(), KeyringError> {
        let mut it = state
            .keks
            .iter()
            .map(|(v, k)| (*v, &*k.material, k.created_at.as_str()));
        self.persist_with(&mut it, state.sealing.as_ref(), &state.index)
    }

    /// Whether the file is sealed under a passphrase (format 2). The caller
    /// warns when it is not.
    pub fn is_protected(&self) -> bool {
        self.read().sealing.is_some()
    }

    /// Seals the keyring under `passphrase` (format 1 → 2), or re-seals a
    /// protected one under a new passphrase. Written atomically.
    pub fn protect(&self, passphrase: &Passphrase, params: KdfParams) -> Result<(), KeyringError> {
        let _w = self.lock_for_change()?;
        let sealing =
            SealingKey::derive_new(passphrase, params).map_err(|e| protect_err(e, &self.path))?;
        {
            let state = self.read();
            let mut it = state
                .keks
                .iter()
                .map(|(v, k)| (*v, &*k.material, k.created_at.as_str()));
            self.persist_with(&mut it, Some(&sealing), &state.index)?;
        }
        self.write().sealing = Some(sealing);
        Ok(())
    }

    /// Adds KEK version `current + 1` (file first, then memory) and returns it.
    pub fn rotate_now(&self, now_rfc3339: &str) -> Result<u32, KeyringError> {
        let _w = self.lock_for_change()?;
        let (version, material) = {
            let state = self.read();
            let version = state
                .current()
                .checked_add(1)
                .ok_or(KeyringError::VersionsExhausted)?;
            let material = random32()?;
            let mut it = state
                .keks
                .iter()
                .map(|(v, k)| (*v, &*k.material, k.created_at.as_str()))
                .chain(std::iter::once((version, &*material, now_rfc3339)));
            self.persist_with(&mut it, state.sealing.as_ref(), &state.index)?;
            (version, material)
        };
        let local = LocalKek::new(version, &material).map_err(|_| KeyringError::Random)?;
        let kek = Kek {
            material,
            local,
            created_at: now_rfc3339.to_owned(),
        };
        self.write().keks.insert(version, kek);
        Ok(version)
    }

    /// Removes versions below `version` (file first); returns them.
    pub fn retire_versions_below(&self, version: u32) -> Result<Vec<u32>, RetireError> {
        let _w = self
            .lock_for_change()
            .map_err(|e| ProviderError::new(ProviderErrorKind::Unavailable, e.to_string()))?;
        let removed: Vec<u32> = {
            let state = self.read();
            let current = state.current();
            if version > current {
                return Err(RetireError::WouldRemoveCurrent {
                    requested: version,
                    current,
                });
            }
            let mut it = state
                .keks
                .range(version..)
                .map(|(v, k)| (*v, &*k.material, k.created_at.as_str()));
            self.persist_with(&mut it, state.sealing.as_ref(), &state.index)
                .map_err(|e| ProviderError::new(ProviderErrorKind::Unavailable, e.to_string()))?;
            state.keks.range(..version).map(|(v, _)| *v).collect()
        };
        let mut state = self.write();
        for v in &removed {
            state.keks.remove(v);
        }
        Ok(removed)
    }

    /// The blind-index root key.
    pub fn index_root(&self) -> &Zeroizing<[u8; 32]> {
        &self.index_root
    }

    /// KEK versions and their creation times, oldest first.
    pub fn keks(&self) -> Vec<KekInfo> {
        self.read()
            .keks
            .iter()
            .map(|(v, k)| KekInfo {
                version: *v,
                created_at: k.created_at.parse().ok(),
            })
            .collect()
    }

    /// The keyring file path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait::async_trait]
impl KeyProvider for Keyring {
    fn current(&self) -> KekRef {
        KekRef {
            provider: 1,
            version: self.read().current(),
        }
    }

    async fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError> {
        let state = self.read();
        state
            .keks
            .get(&state.current())
            .ok_or(WrapError)?
            .local
            .wrap(dek, collection, record_id)
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedDek,
        collection: &str,
        record_id: &str,
    ) -> Result<DataKey, UnwrapError> {
        if wrapped.kek.provider != 1 {
            return Err(UnwrapError::UnknownKek(wrapped.kek.version));
        }
        // A version newer than ours was added by a rotation in another
        // process (`phivault keys rotate`): re-read the file once.
        let current = self.read().current();
        if wrapped.kek.version > current && self.reload().is_err() {
            tracing::warn!("keyring: reload after an unknown kek version failed");
        }
        self.read()
            .keks
            .get(&wrapped.kek.version)
            .ok_or(UnwrapError::UnknownKek(wrapped.kek.version))?
            .local
            .unwrap(wrapped, collection, record_id)
    }

    async fn versions(&self) -> Result<Vec<KekInfo>, crate::VersionsError> {
        Ok(self.keks())
    }

    async fn rotate(&self, now: jiff::Timestamp) -> Result<KekRef, RotateError> {
        let version = self
            .rotate_now(&now.to_string())
            .map_err(|e| ProviderError::new(ProviderErrorKind::Unavailable, e.to_string()))?;
        Ok(KekRef {
            provider: 1,
            version,
        })
    }

    async fn retire_below(&self, version: u32) -> Result<Vec<u32>, RetireError> {
        self.retire_versions_below(version)
    }

    async fn refresh(&self) -> Result<u32, ProviderError> {
        self.reload()
            .map_err(|e| ProviderError::new(ProviderErrorKind::Unavailable, e.to_string()))
    }
}
