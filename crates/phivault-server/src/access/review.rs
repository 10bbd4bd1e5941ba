//! Access reviews from the audit trail: which permissions enabled users hold
//! and have not used in a period. Every allowed PHI access and security
//! action records the role permission that allowed it (`permission` in the
//! event), so the trail itself is the usage record: nothing to keep in step,
//! and a review is as trustworthy as the log it reads (verify it first).

use std::collections::HashMap;

use phivault_audit::{Event, Outcome};
use phivault_store::audit::AuditStore;
use phivault_store::{Store, StoreError};

use super::RoleBook;

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

const PAGE: usize = 65_536;

/// Last use per (user, permission), from every successful event.
async fn last_uses(audit: &dyn AuditStore) -> Result<HashMap<(String, String), i64>, StoreError> {
    let mut used = HashMap::new();
    let mut from = 0;
    loop {
        let frames = audit.read(from, PAGE).await?;
        let Some(last) = frames.last() else { break };
        from = last.index + 1;
        for f in &frames {
            // Unreadable events are `audit verify`'s business; skip them here.
            let Ok(e) = Event::decode(&f.event) else {
                continue;
            };
            let (Outcome::Success, Some(p)) = (e.outcome, e.permission) else {
                continue;
            };
            let at = e
                .timestamp
                .parse::<jiff::Timestamp>()
                .map_or(0, |t| t.as_microsecond());
            let slot = used.entry((e.user, p)).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
    Ok(used)
}

/// Permissions held by enabled users and not used since `since`
/// (microseconds): the over-permissioned accounts an access review looks for.
pub async fn review(
    store: &dyn Store,
    audit: &dyn AuditStore,
    roles: &RoleBook,
    since: i64,
) -> Result<Vec<Holding>, StoreError> {
    let used = last_uses(audit).await?;
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
