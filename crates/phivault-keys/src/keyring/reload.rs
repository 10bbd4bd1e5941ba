//! Parsing the keyring body, and re-reading the file another process (the
//! `phivault keys` CLI) rewrote: rotation beside a running server.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use phivault_core::envelope::LocalKek;
use zeroize::Zeroizing;

use super::protect::{self, ProtectedFile};
use super::{FormatProbe, Kek, Keyring, KeyringError, KeyringFile, decode32, protect_err};

type Parsed = (
    BTreeMap<u32, Kek>,
    Zeroizing<[u8; 32]>,
    super::index::IndexRoots,
);

/// Parses a format-1 body: the KEKs by version and the index root.
pub(super) fn parse_body(body: &[u8], path: &Path) -> Result<Parsed, KeyringError> {
    let malformed = || KeyringError::Malformed(path.to_owned());
    let file: KeyringFile = serde_json::from_slice(body).map_err(|_| malformed())?;
    if file.format != 1 || file.protection != "none" {
        return Err(malformed());
    }
    let mut keks = BTreeMap::new();
    for e in &file.keks {
        let material = decode32(&e.key, path)?;
        let local = LocalKek::new(e.version, &material).map_err(|_| malformed())?;
        let kek = Kek {
            material,
            local,
            created_at: e.created_at.clone(),
        };
        if keks.insert(e.version, kek).is_some() {
            return Err(malformed());
        }
    }
    if !keks.contains_key(&file.current) {
        return Err(malformed());
    }
    let index_root = decode32(&file.index_root, path)?;
    let index = super::index::IndexRoots::parse(&file, path)?;
    Ok((keks, index_root, index))
}

impl Keyring {
    /// Re-reads the file and replaces the KEK versions held in memory with
    /// the file's (versions added by a rotation elsewhere appear, retired
    /// ones go). A protected file is opened with the sealing key already
    /// held, so no passphrase is needed unless it was changed. Refuses a
    /// file whose index root differs (another vault's keyring) or whose
    /// current version went backwards. Returns the current version.
    pub fn reload(&self) -> Result<u32, KeyringError> {
        let _w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.reload_held()
    }

    /// [`Self::reload`] for a caller that holds the writer mutex.
    pub(super) fn reload_held(&self) -> Result<u32, KeyringError> {
        let path = &self.path;
        let malformed = || KeyringError::Malformed(path.clone());
        let text = Zeroizing::new(fs::read(path).map_err(|source| KeyringError::Io {
            path: path.clone(),
            source,
        })?);
        let probe: FormatProbe = serde_json::from_slice(&text).map_err(|_| malformed())?;
        let body = match probe.format {
            1 => text,
            2 => {
                let file: ProtectedFile = serde_json::from_slice(&text).map_err(|_| malformed())?;
                let state = self.read();
                let key = state
                    .sealing
                    .as_ref()
                    .ok_or_else(|| KeyringError::PassphraseRequired(path.clone()))?;
                protect::open_held(&file, key).map_err(|e| protect_err(e, path))?
            }
            _ => return Err(malformed()),
        };
        let (keks, index_root, index) = parse_body(&body, path)?;
        if *index_root != *self.index_root {
            return Err(malformed());
        }
        let mut state = self.write();
        let next = keks.keys().next_back().copied().unwrap_or(0);
        if next < state.current() {
            return Err(malformed());
        }
        if probe.format == 1 {
            // The file was written unprotected: do not re-seal it later.
            state.sealing = None;
        }
        state.keks = keks;
        state.index = index;
        Ok(next)
    }

    /// Takes the writer mutex and the exclusive lock on `keys/LOCK` (held
    /// by one writer at a time across processes: the server's schedule and
    /// any `phivault keys` command), then re-reads the file so the change
    /// is made on top of whatever another process wrote last.
    pub(super) fn lock_for_change(&self) -> Result<ChangeGuard<'_>, KeyringError> {
        let mutex = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = path_dir(&self.path);
        let lock_path = dir.join(LOCK_FILE);
        let io = |source| KeyringError::Io {
            path: lock_path.clone(),
            source,
        };
        let mut opts = fs::OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&lock_path).map_err(io)?;
        // Blocks while another process changes the keyring (milliseconds).
        file.lock().map_err(io)?;
        self.reload_held()?;
        Ok(ChangeGuard {
            _file: file,
            _mutex: mutex,
        })
    }
}

/// The lock file beside `keyring.json` that serializes keyring changes
/// across processes.
pub const LOCK_FILE: &str = "LOCK";

fn path_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Held while a keyring change is made; dropping it releases both locks.
pub(super) struct ChangeGuard<'a> {
    // Closing the file releases the flock.
    _file: fs::File,
    _mutex: std::sync::MutexGuard<'a, ()>,
}
