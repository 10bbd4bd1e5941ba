//! The single authorization decision point.
//!
//! Every request is decided by [`authorize`]. A successful decision carries a
//! [`Grant`], which only this module can construct; the vault service takes a
//! `&Grant` for every operation on records and checks that it covers the
//! operation, so a handler that skips `authorize` cannot reach PHI.
//!
//! The evaluator is our own, small and total (no I/O, no allocation beyond
//! the grant): roles ([`Role`]) carry `verb:collection` permissions, denials
//! that override them, a time-window schedule in the role's time zone, IP
//! ranges, field visibility (minimum necessary), care-team scoping and the
//! right to request break-glass access.

mod mask;
mod role;
mod temporal;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub use mask::mask;
pub use role::{Permission, Role, RoleError, RoleProblem, RoleSpec, Visibility};
pub use temporal::{Schedule, ScheduleError};

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

/// The custom verb for opening or closing one's own session.
pub const SESSION_VERB: &str = "session";
/// The custom verb for requesting break-glass access.
pub const BREAK_GLASS_VERB: &str = "break_glass";

/// Who is asking: an authenticated identity.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user (or service) id.
    pub id: String,
    /// The token id that authenticated this request.
    pub token_id: String,
    /// Holds the built-in administrator role.
    pub admin: bool,
    /// The user's roles, resolved by the caller.
    pub roles: Vec<Arc<Role>>,
}

/// What the request touches.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    /// Collection name (empty for vault-wide actions).
    pub collection: &'a str,
    /// Record id, when one record is addressed.
    pub record: Option<&'a str>,
    /// How the principal relates to the patient the record belongs to.
    pub relation: Relation,
}

/// Facts about the principal and the addressed patient, looked up by the
/// caller (the core does no I/O).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// A patient is addressed (the record is a patient or links to one).
    pub patient: bool,
    /// The principal is on that patient's care team.
    pub on_care_team: bool,
    /// The principal holds an unexpired break-glass grant for that patient.
    pub break_glass: bool,
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
    /// Field visibility, where not full; `None`: every field in full.
    fields: Option<BTreeMap<String, Visibility>>,
    /// Results must be limited to patients on the principal's care team.
    care_team_only: bool,
    /// Granted through break-glass (flag every use).
    break_glass: bool,
    /// The role permission that allowed it (`view:patients`), if one did.
    rule: Option<String>,
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

    /// How a field may be shown under this grant.
    pub fn visibility(&self, field: &str) -> Visibility {
        self.fields
            .as_ref()
            .and_then(|m| m.get(field))
            .copied()
            .unwrap_or(Visibility::Full)
    }

    /// A field may be searched only by those who may see it in full (a
    /// search on a masked field would be an oracle for its value).
    pub fn may_search(&self, field: &str) -> bool {
        self.visibility(field) == Visibility::Full
    }

    /// Results must be filtered to the principal's care-team patients.
    pub fn care_team_only(&self) -> bool {
        self.care_team_only
    }

    /// The role permission that allowed this (for permission-usage review).
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// The grant comes from break-glass access.
    pub fn is_break_glass(&self) -> bool {
        self.break_glass
    }
}

/// Why a request was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// No rule allows it (deny by default).
    NoPermission,
    /// A role's `deny` rule matched (denials override permissions).
    Denied {
        /// The role.
        role: String,
        /// The rule.
        rule: String,
    },
    /// Allowed only inside a time window, and outside it now.
    OutsideTimeWindow {
        /// The role.
        role: String,
    },
    /// Allowed only from an IP range the request is not from.
    IpNotAllowed {
        /// The role.
        role: String,
    },
    /// Allowed only for the principal's care-team patients.
    NotOnCareTeam {
        /// The role.
        role: String,
    },
}

impl DenyReason {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoPermission => "no_permission",
            Self::Denied { .. } => "denied_by_rule",
            Self::OutsideTimeWindow { .. } => "outside_time_window",
            Self::IpNotAllowed { .. } => "ip_not_allowed",
            Self::NotOnCareTeam { .. } => "not_on_care_team",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPermission => f.write_str("no permission allows this action"),
            Self::Denied { role, rule } => write!(f, "role `{role}` denies `{rule}`"),
            Self::OutsideTimeWindow { role } => {
                write!(f, "role `{role}` allows this only inside its time window")
            }
            Self::IpNotAllowed { role } => {
                write!(f, "role `{role}` allows this only from its ip ranges")
            }
            Self::NotOnCareTeam { role } => {
                write!(
                    f,
                    "role `{role}` allows this only for the user's care-team patients"
                )
            }
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
        /// The rule that allowed it (for `policy explain` and the audit trail).
        reason: String,
    },
    /// Denied.
    Deny(DenyReason),
}

impl Decision {
    /// True when allowed.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// Decides one request. Order: an explicit administrator is allowed; any
/// matching `deny` rule denies; otherwise the roles whose permission matches
/// are tried against their constraints (time window in the role's zone, IP
/// range, care team), and those that pass allow, showing each field at the
/// widest visibility any of them gives. A break-glass grant for the addressed
/// patient allows viewing its records in full when no role does. Anything
/// else is denied.
pub fn authorize(
    principal: &Principal,
    action: &Action,
    resource: Resource<'_>,
    ctx: &RequestContext,
) -> Decision {
    let grant = |fields, care_team_only, break_glass| Grant {
        action: action.clone(),
        collection: resource.collection.to_owned(),
        principal: principal.id.clone(),
        fields,
        care_team_only,
        break_glass,
        rule: None,
    };
    if principal.admin {
        return Decision::Allow {
            grant: grant(None, false, false),
            reason: "built-in admin role".to_owned(),
        };
    }
    let verb = action.verb();
    // Opening and closing one's own session needs no permission.
    if verb == SESSION_VERB {
        return Decision::Allow {
            grant: grant(None, false, false),
            reason: "every user manages their own session".to_owned(),
        };
    }
    if verb == BREAK_GLASS_VERB {
        return match principal.roles.iter().find(|r| r.break_glass) {
            Some(r) => Decision::Allow {
                grant: grant(None, false, true),
                reason: format!("role `{}` may request break-glass access", r.name),
            },
            None => Decision::Deny(DenyReason::NoPermission),
        };
    }
    for r in &principal.roles {
        if let Some(rule) = r.deny.iter().find(|p| p.matches(verb, resource.collection)) {
            return Decision::Deny(DenyReason::Denied {
                role: r.name.clone(),
                rule: rule.to_string(),
            });
        }
    }
    let mut first_refusal: Option<DenyReason> = None;
    let mut allowing: Vec<(&Role, &Permission)> = Vec::new();
    for r in &principal.roles {
        let Some(p) = r
            .permissions
            .iter()
            .find(|p| p.matches(verb, resource.collection))
        else {
            continue;
        };
        let refusal = if r
            .schedule
            .as_ref()
            .is_some_and(|s| !s.contains(ctx.now, &r.timezone))
        {
            Some(DenyReason::OutsideTimeWindow {
                role: r.name.clone(),
            })
        } else if !r.ip_range.is_empty() && !r.ip_range.iter().any(|n| n.contains(&ctx.ip)) {
            Some(DenyReason::IpNotAllowed {
                role: r.name.clone(),
            })
        } else if r.care_team_only && resource.relation.patient && !resource.relation.on_care_team {
            Some(DenyReason::NotOnCareTeam {
                role: r.name.clone(),
            })
        } else {
            None
        };
        match refusal {
            Some(why) => {
                first_refusal.get_or_insert(why);
            }
            None => allowing.push((r, p)),
        }
    }
    if let Some(&(role, perm)) = allowing.first() {
        let fields = widest_fields(&allowing, resource.collection);
        // Scoped to the care team only when every allowing role is.
        let care_team_only = allowing.iter().all(|(r, _)| r.care_team_only);
        let mut g = grant(fields, care_team_only, false);
        g.rule = Some(perm.to_string());
        return Decision::Allow {
            grant: g,
            reason: format!("role `{}` permission `{perm}`", role.name),
        };
    }
    let may_break_glass = principal.roles.iter().any(|r| r.break_glass);
    if resource.relation.break_glass && may_break_glass && *action == Action::View {
        return Decision::Allow {
            grant: grant(None, false, true),
            reason: "break-glass emergency access".to_owned(),
        };
    }
    Decision::Deny(first_refusal.unwrap_or(DenyReason::NoPermission))
}

/// Per field, the widest visibility among the allowing roles (a field a role
/// does not list is shown in full by it).
fn widest_fields(
    allowing: &[(&Role, &Permission)],
    collection: &str,
) -> Option<BTreeMap<String, Visibility>> {
    let mut names: Vec<&String> = allowing
        .iter()
        .filter_map(|(r, _)| r.fields.get(collection))
        .flat_map(|m| m.keys())
        .collect();
    names.sort();
    names.dedup();
    let out: BTreeMap<String, Visibility> = names
        .into_iter()
        .map(|f| {
            let v = allowing
                .iter()
                .map(|(r, _)| r.visibility(collection, f))
                .max()
                .unwrap_or(Visibility::Hidden);
            (f.clone(), v)
        })
        .filter(|(_, v)| *v != Visibility::Full)
        .collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod admin_tests {
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
            roles: Vec::new(),
        };
        let res = Resource {
            collection: "patients",
            record: None,
            relation: Relation::default(),
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
