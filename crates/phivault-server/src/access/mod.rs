//! Access control around the core decision: the role book (roles by name,
//! from the store and the `policies/` directory), the facts the decision
//! needs (care team, break-glass), and the alert hook.

mod alerts;
mod policies;
mod review;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use phivault_core::policy::Role;

pub use alerts::{Alert, AlertHook, AlertLog};
pub use policies::{PolicyDirError, load_dir};
pub use review::{Holding, review};

/// Roles by name; read on every request, written by `PUT /v1/roles`.
#[derive(Debug, Default)]
pub struct RoleBook {
    roles: RwLock<HashMap<String, Arc<Role>>>,
}

impl RoleBook {
    /// Adds or replaces a role.
    pub fn put(&self, role: Role) {
        if let Ok(mut m) = self.roles.write() {
            m.insert(role.name().to_owned(), Arc::new(role));
        }
    }

    /// The roles among `names` that exist (unknown names grant nothing).
    pub fn resolve(&self, names: &[String]) -> Vec<Arc<Role>> {
        let Ok(m) = self.roles.read() else {
            return Vec::new();
        };
        names.iter().filter_map(|n| m.get(n).cloned()).collect()
    }

    /// Role names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .roles
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Does a role of this name exist?
    pub fn contains(&self, name: &str) -> bool {
        self.roles.read().is_ok_and(|m| m.contains_key(name))
    }
}
