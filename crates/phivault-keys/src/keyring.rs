//! The local keyring: `keys/keyring.json`, mode 0600.
//!
//! It holds the versioned KEKs and the blind-index root key. The file is
//! written atomically (temporary file, fsync, rename) so a crash never leaves
//! a half-written keyring.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use phivault_core::envelope::{DataKey, KekRef, LocalKek, UnwrapError, WrapError, WrappedDek};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::KeyProvider;

/// The keyring file name inside the keys directory.
pub const FILE_NAME: &str = "keyring.json";

/// Errors opening or writing a keyring. Never contains key material.
#[derive(Debug, thiserror::Error)]
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
}

/// Metadata of one KEK version (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekInfo {
    /// Version number.
    pub version: u32,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// The opened keyring: a key provider plus the blind-index root key.
pub struct Keyring {
    path: PathBuf,
    current: u32,
    keks: BTreeMap<u32, LocalKek>,
    info: Vec<KekInfo>,
    index_root: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("current", &self.current)
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

impl Keyring {
    /// Creates a new keyring with KEK version 1 and a fresh index root key.
    pub fn create(dir: &Path, now_rfc3339: &str) -> Result<Self, KeyringError> {
        let path = dir.join(FILE_NAME);
        if path.exists() {
            return Err(KeyringError::Exists(path));
        }
        let kek = random32()?;
        let root = random32()?;
        let file = KeyringFile {
            format: 1,
            protection: "none".into(),
            current: 1,
            keks: vec![KekEntry {
                version: 1,
                created_at: now_rfc3339.to_owned(),
                key: STANDARD.encode(kek.as_ref()),
            }],
            index_root: STANDARD.encode(root.as_ref()),
        };
        let text = Zeroizing::new(
            serde_json::to_vec_pretty(&file).map_err(|_| KeyringError::Malformed(path.clone()))?,
        );
        write_private(&path, &text)?;
        Self::open(dir)
    }

    /// Opens an existing keyring.
    pub fn open(dir: &Path) -> Result<Self, KeyringError> {
        let path = dir.join(FILE_NAME);
        let text = Zeroizing::new(fs::read(&path).map_err(|source| KeyringError::Io {
            path: path.clone(),
            source,
        })?);
        let file: KeyringFile =
            serde_json::from_slice(&text).map_err(|_| KeyringError::Malformed(path.clone()))?;
        if file.format != 1 || file.protection != "none" {
            return Err(KeyringError::Malformed(path));
        }
        let mut keks = BTreeMap::new();
        let mut info = Vec::new();
        for e in &file.keks {
            let material = decode32(&e.key, &path)?;
            let kek = LocalKek::new(e.version, &material)
                .map_err(|_| KeyringError::Malformed(path.clone()))?;
            keks.insert(e.version, kek);
            info.push(KekInfo {
                version: e.version,
                created_at: e.created_at.clone(),
            });
        }
        if !keks.contains_key(&file.current) {
            return Err(KeyringError::Malformed(path));
        }
        let index_root = decode32(&file.index_root, &path)?;
        drop(file);
        Ok(Self {
            path,
            current: file_current(&info, &keks)?,
            keks,
            info,
            index_root,
        })
    }

    /// The blind-index root key.
    pub fn index_root(&self) -> &Zeroizing<[u8; 32]> {
        &self.index_root
    }

    /// KEK versions and their creation times.
    pub fn keks(&self) -> &[KekInfo] {
        &self.info
    }

    /// The keyring file path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn file_current(info: &[KekInfo], keks: &BTreeMap<u32, LocalKek>) -> Result<u32, KeyringError> {
    info.iter()
        .map(|i| i.version)
        .filter(|v| keks.contains_key(v))
        .max()
        .ok_or(KeyringError::Random)
}

#[async_trait::async_trait]
impl KeyProvider for Keyring {
    fn current(&self) -> KekRef {
        KekRef {
            provider: 1,
            version: self.current,
        }
    }

    async fn wrap(
        &self,
        dek: &DataKey,
        collection: &str,
        record_id: &str,
    ) -> Result<WrappedDek, WrapError> {
        self.keks
            .get(&self.current)
            .ok_or(WrapError)?
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
        self.keks
            .get(&wrapped.kek.version)
            .ok_or(UnwrapError::UnknownKek(wrapped.kek.version))?
            .unwrap(wrapped, collection, record_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_open_wrap_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let k = Keyring::create(&keys, "2026-01-01T00:00:00Z").unwrap();
        assert!(Keyring::create(&keys, "x").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(keys.join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let dek = DataKey::generate().unwrap();
        let w = k.wrap(&dek, "patients", "r").await.unwrap();
        let again = Keyring::open(&keys).unwrap();
        assert_eq!(again.index_root().as_ref(), k.index_root().as_ref());
        let back = again.unwrap(&w, "patients", "r").await.unwrap();
        assert_eq!(back.expose(), dek.expose());
        assert!(!format!("{again:?}").contains("key:"));
    }
}
