//! The blind-index keys a vault computes tags with: every active index root
//! version of the keyring (searches try each; new tags use the newest).
//! When the keyring file changes (`phivault keys reindex` in another
//! process), the next search or write re-reads it, so no search misses a
//! record already reindexed under a newer root.

use std::sync::{Arc, PoisonError, RwLock};

use phivault_core::blind_index::BlindIndexer;
use phivault_core::schema::Schema;
use phivault_keys::keyring::Keyring;
use zeroize::Zeroizing;

type Stamp = Option<(std::time::SystemTime, u64)>;

struct Set {
    stamp: Stamp,
    /// Oldest first; the last is current.
    all: Vec<(u32, Arc<BlindIndexer>)>,
}

/// Index roots, fixed or followed from a keyring file.
pub struct IndexKeys {
    source: Option<Arc<Keyring>>,
    schema: Schema,
    set: RwLock<Set>,
}

impl std::fmt::Debug for IndexKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexKeys")
            .field("versions", &self.versions())
            .finish_non_exhaustive()
    }
}

fn build(schema: &Schema, roots: &[(u32, Zeroizing<[u8; 32]>)]) -> Vec<(u32, Arc<BlindIndexer>)> {
    roots
        .iter()
        .map(|(v, k)| (*v, Arc::new(BlindIndexer::new(k, schema))))
        .collect()
}

fn stamp(keyring: &Keyring) -> Stamp {
    let m = std::fs::metadata(keyring.path()).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl IndexKeys {
    /// One fixed root (version 1).
    pub fn fixed(root: &Zeroizing<[u8; 32]>, schema: &Schema) -> Self {
        Self {
            source: None,
            schema: schema.clone(),
            set: RwLock::new(Set {
                stamp: None,
                all: build(schema, &[(1, root.clone())]),
            }),
        }
    }

    /// The keyring's active roots, re-read when its file changes.
    pub fn from_keyring(keyring: Arc<Keyring>, schema: &Schema) -> Self {
        let set = Set {
            stamp: stamp(&keyring),
            all: build(schema, &keyring.index_roots()),
        };
        Self {
            source: Some(keyring),
            schema: schema.clone(),
            set: RwLock::new(set),
        }
    }

    fn refresh(&self) {
        let Some(k) = &self.source else { return };
        let now = stamp(k);
        let seen = self
            .set
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .stamp;
        if now == seen {
            return;
        }
        if let Err(e) = k.reload() {
            tracing::error!(error = %e, "keyring: reload for index roots failed");
            return;
        }
        let all = build(&self.schema, &k.index_roots());
        let mut set = self.set.write().unwrap_or_else(PoisonError::into_inner);
        *set = Set { stamp: now, all };
    }

    /// The indexer new tags are computed with, and its version.
    pub fn current(&self) -> Option<(u32, Arc<BlindIndexer>)> {
        self.refresh();
        let set = self.set.read().unwrap_or_else(PoisonError::into_inner);
        set.all.last().map(|(v, i)| (*v, Arc::clone(i)))
    }

    /// Every active indexer, oldest first.
    pub fn all(&self) -> Vec<Arc<BlindIndexer>> {
        self.refresh();
        let set = self.set.read().unwrap_or_else(PoisonError::into_inner);
        set.all.iter().map(|(_, i)| Arc::clone(i)).collect()
    }

    /// The active versions, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        let set = self.set.read().unwrap_or_else(PoisonError::into_inner);
        set.all.iter().map(|(v, _)| *v).collect()
    }
}
