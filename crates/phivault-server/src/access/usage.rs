//! Permission usage, for access reviews: which user used which role
//! permission, and when last. Allowed decisions are noted in memory and
//! flushed to the store in batches (every 30 s and on demand), so the request
//! path never waits for this bookkeeping. At most one flush period of usage
//! is lost in a crash, which only makes a review more conservative.

use std::collections::HashMap;
use std::sync::Mutex;

use phivault_store::{Store, StoreError};

use super::RoleBook;

/// Pending usage, newest time per (user, permission).
#[derive(Debug, Default)]
pub struct Usage {
    pending: Mutex<HashMap<(String, String), i64>>,
}

impl Usage {
    /// Notes that `user` used `permission` at `at` (microseconds).
    pub fn note(&self, user: &str, permission: &str, at: i64) {
        if let Ok(mut m) = self.pending.lock() {
            let e = m
                .entry((user.to_owned(), permission.to_owned()))
                .or_insert(at);
            *e = (*e).max(at);
        }
    }

    /// Writes pending usage to the store.
    pub async fn flush(&self, store: &dyn Store) -> Result<(), StoreError> {
        let batch: Vec<(String, String, i64)> = match self.pending.lock() {
            Ok(mut m) => m.drain().map(|((u, p), at)| (u, p, at)).collect(),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        store.record_usage(batch).await
    }
}

/// One permission a user holds, and when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The user.
    pub user: String,
    /// The role granting it.
    pub role: String,
    /// The permission (`verb:collection`).
    pub permission: String,
    /// Last use, microseconds; `None` if never used.
    pub last_used: Option<i64>,
}

/// Permissions held by enabled users and not used since `since`
/// (microseconds): the over-permissioned accounts an access review looks for.
pub async fn review(
    store: &dyn Store,
    roles: &RoleBook,
    since: i64,
) -> Result<Vec<Holding>, StoreError> {
    let used: HashMap<(String, String), i64> = store
        .usage()
        .await?
        .into_iter()
        .map(|(u, p, at)| ((u, p), at))
        .collect();
    let mut out = Vec::new();
    for user in store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
    {
        for role in roles.resolve(&user.roles) {
            for perm in role.permissions() {
                let permission = perm.to_string();
                let last_used = used.get(&(user.id.clone(), permission.clone())).copied();
                if last_used.is_none_or(|t| t < since) {
                    out.push(Holding {
                        user: user.id.clone(),
                        role: role.name().to_owned(),
                        permission,
                        last_used,
                    });
                }
            }
        }
    }
    Ok(out)
}
