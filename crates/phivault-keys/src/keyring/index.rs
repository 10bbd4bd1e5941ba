//! Blind-index root versions. Version 1 is the keyring's `index_root` (it
//! also names the keyring and seeds the export pseudonym key, so it stays in
//! the file); `phivault keys reindex` adds version N+1, rewrites every tag
//! under it, then retires the older versions (version 1 is then marked
//! retired: no tag in the database uses it and nothing derives tags from it).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::{KekEntry, Keyring, KeyringError, KeyringFile, decode32, random32};

pub(super) fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's signature")]
pub(super) fn is_one(v: &u32) -> bool {
    *v == 1
}

/// Index roots beyond version 1, and which versions are retired.
pub(super) struct IndexRoots {
    extra: BTreeMap<u32, (Zeroizing<[u8; 32]>, String)>,
    pub(super) retired_below: u32,
}

impl Default for IndexRoots {
    fn default() -> Self {
        Self {
            extra: BTreeMap::new(),
            retired_below: 1,
        }
    }
}

impl IndexRoots {
    pub(super) fn parse(file: &KeyringFile, path: &Path) -> Result<Self, KeyringError> {
        let mut extra = BTreeMap::new();
        for e in &file.index_roots {
            if e.version < 2
                || extra
                    .insert(e.version, (decode32(&e.key, path)?, e.created_at.clone()))
                    .is_some()
            {
                return Err(KeyringError::Malformed(path.to_owned()));
            }
        }
        let r = Self {
            extra,
            retired_below: file.index_retired_below.max(1),
        };
        if r.retired_below > r.current() {
            return Err(KeyringError::Malformed(path.to_owned()));
        }
        Ok(r)
    }

    pub(super) fn entries(&self) -> Vec<KekEntry> {
        self.extra
            .iter()
            .map(|(v, (k, t))| KekEntry {
                version: *v,
                created_at: t.clone(),
                key: STANDARD.encode(k.as_ref()),
            })
            .collect()
    }

    fn current(&self) -> u32 {
        self.extra.keys().next_back().copied().unwrap_or(1)
    }
}

impl Keyring {
    /// The active blind-index roots, oldest first; the last is current (new
    /// tags are computed with it; searches try every active one).
    pub fn index_roots(&self) -> Vec<(u32, Zeroizing<[u8; 32]>)> {
        let state = self.read();
        let mut out = Vec::new();
        if state.index.retired_below <= 1 {
            out.push((1, self.index_root.clone()));
        }
        for (v, (k, _)) in state.index.extra.range(state.index.retired_below.max(2)..) {
            out.push((*v, k.clone()));
        }
        out
    }

    /// The current blind-index root version.
    pub fn current_index_version(&self) -> u32 {
        self.read().index.current()
    }

    /// Adds blind-index root version current + 1 (file first); returns it.
    pub fn rotate_index_root(&self, now_rfc3339: &str) -> Result<u32, KeyringError> {
        let _w = self.lock_for_change()?;
        let key = random32()?;
        let version = {
            let state = self.read();
            let version = state
                .index
                .current()
                .checked_add(1)
                .ok_or(KeyringError::VersionsExhausted)?;
            let mut index = IndexRoots {
                extra: state.index.extra.clone(),
                retired_below: state.index.retired_below,
            };
            index
                .extra
                .insert(version, (key.clone(), now_rfc3339.to_owned()));
            self.persist_state_with_index(&state, &index)?;
            version
        };
        self.write()
            .index
            .extra
            .insert(version, (key, now_rfc3339.to_owned()));
        Ok(version)
    }

    /// Retires blind-index root versions below `version` (at most the
    /// current one): versions 2 and up are removed from the file, version 1
    /// is marked retired. Returns the versions retired.
    pub fn retire_index_roots_below(&self, version: u32) -> Result<Vec<u32>, KeyringError> {
        let _w = self.lock_for_change()?;
        let (index, retired) = {
            let state = self.read();
            if version > state.index.current() {
                return Err(KeyringError::IndexRetireAboveCurrent(version));
            }
            let mut retired: Vec<u32> = (state.index.retired_below..version).collect();
            retired.retain(|v| *v == 1 || state.index.extra.contains_key(v));
            let index = IndexRoots {
                extra: state
                    .index
                    .extra
                    .range(version..)
                    .map(|(v, e)| (*v, e.clone()))
                    .collect(),
                retired_below: version.max(state.index.retired_below),
            };
            self.persist_state_with_index(&state, &index)?;
            (index, retired)
        };
        self.write().index = index;
        Ok(retired)
    }

    fn persist_state_with_index(
        &self,
        state: &super::State,
        index: &IndexRoots,
    ) -> Result<(), KeyringError> {
        let mut it = state
            .keks
            .iter()
            .map(|(v, k)| (*v, &*k.material, k.created_at.as_str()));
        self.persist_with(&mut it, state.sealing.as_ref(), index)
    }
}
