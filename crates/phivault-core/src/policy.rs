//! The single authorization decision point.
//!
//! Every request is decided by [`authorize`]. A successful decision carries a
//! [`Grant`], which only this module can construct; the vault service takes a
//! `&Grant` for every operation on records and checks that it covers the
//! operation, so a handler that skips `authorize` cannot reach PHI.

use std::fmt;
use std::net::IpAddr;

/// What a request wants to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read a record.
    View,
    /// Create a record.
    Create,
    /// Change a record.
    Modify,
    /// Delete a record.
    Delete,
    /// Search a collection.
    Search,
    /// Export a collection.
    Export,
    /// Read the schema and other vault metadata (no PHI).
    Describe,
    /// A custom verb such as `annotate`.
    Custom(String),
}

impl Action {
    /// The verb as written in permissions (`view:patients`).
    pub fn verb(&self) -> &str {
        match self {
            Self::View => "view",
            Self::Create => "create",
            Self::Modify => "modify",
            Self::Delete => "delete",
            Self::Search => "search",
            Self::Export => "export",
            Self::Describe => "describe",
            Self::Custom(v) => v,
        }
    }
}

/// Who is asking: an authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user (or service) id.
    pub id: String,
    /// The token id that authenticated this request.
    pub token_id: String,
    /// Holds the built-in administrator role.
    pub admin: bool,
}

/// What the request touches.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    /// Collection name (empty for vault-wide actions).
    pub collection: &'a str,
    /// Record id, when one record is addressed.
    pub record: Option<&'a str>,
}

/// Facts about the request that policies may use.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext {
    /// The real peer address (after trusted-proxy handling).
    pub ip: IpAddr,
    /// When the decision is made.
    pub now: jiff::Timestamp,
}

/// Proof that [`authorize`] allowed an action on a collection. Cannot be
/// constructed outside this module.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    action: Action,
    collection: String,
    principal: String,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("action", &self.action)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

impl Grant {
    /// True when this grant covers `action` on `collection`.
    pub fn covers(&self, action: &Action, collection: &str) -> bool {
        &self.action == action && self.collection == collection
    }

    /// The principal the grant was issued to.
    pub fn principal(&self) -> &str {
        &self.principal
    }
}

/// Why a request was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// No rule allows it (deny by default).
    NoPermission,
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPermission => f.write_str("no permission allows this action"),
        }
    }
}

/// The outcome of [`authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, with the grant to present to the vault and the rule that decided.
    Allow {
        /// The grant.
        grant: Grant,
        /// The rule that allowed it.
        reason: &'static str,
    },
    /// Denied.
    Deny(DenyReason),
}

/// Decides one request. Deny by default; today the built-in administrator
/// role is the only rule (roles, constraints and care teams build on this).
pub fn authorize(
    principal: &Principal,
    action: &Action,
    resource: Resource<'_>,
    _ctx: &RequestContext,
) -> Decision {
    if principal.admin {
        return Decision::Allow {
            grant: Grant {
                action: action.clone(),
                collection: resource.collection.to_owned(),
                principal: principal.id.clone(),
            },
            reason: "built-in admin role",
        };
    }
    Decision::Deny(DenyReason::NoPermission)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext {
            ip: IpAddr::from([127, 0, 0, 1]),
            now: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn deny_by_default_and_grants_are_scoped() {
        let user = Principal {
            id: "u".into(),
            token_id: "t".into(),
            admin: false,
        };
        let res = Resource {
            collection: "patients",
            record: None,
        };
        assert_eq!(
            authorize(&user, &Action::View, res, &ctx()),
            Decision::Deny(DenyReason::NoPermission)
        );
        let admin = Principal {
            admin: true,
            ..user
        };
        let Decision::Allow { grant, .. } = authorize(&admin, &Action::View, res, &ctx()) else {
            panic!("admin denied");
        };
        assert!(grant.covers(&Action::View, "patients"));
        assert!(!grant.covers(&Action::Delete, "patients"));
        assert!(!grant.covers(&Action::View, "encounters"));
    }
}
