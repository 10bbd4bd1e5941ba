//! Roles in the format users already write (the seed's), plus extensions:
//!
//! ```json
//! { "role": "radiologist",
//!   "permissions": ["view:medical_images", "annotate:studies"],
//!   "constraints": { "temporal": "08:00-18:00 Mon-Fri", "ip_range": ["192.168.1.0/24"] },
//!   "timezone": "America/New_York",
//!   "fields": { "patients": { "masked": ["ssn"], "hidden": ["notes"] } },
//!   "care_team_only": true, "break_glass": false, "deny": ["delete:patients"] }
//! ```
//!
//! Permissions are `verb:collection`. A `*` (any verb or any collection) is
//! accepted only in a role marked `"admin": true`: no accidental wildcards.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::temporal::{Schedule, ScheduleError};

/// A role as written (JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Role name.
    pub role: String,
    /// `verb:collection` permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// `verb:collection` denials; they override any permission.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Time and network constraints.
    #[serde(default)]
    pub constraints: ConstraintsSpec,
    /// IANA time zone for `temporal` (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Per collection: fields shown masked or not at all.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRulesSpec>,
    /// Only patients whose care team includes the user.
    #[serde(default)]
    pub care_team_only: bool,
    /// May request emergency (break-glass) access.
    #[serde(default)]
    pub break_glass: bool,
    /// An explicit administrator role (the only place wildcards are allowed).
    #[serde(default)]
    pub admin: bool,
}

/// The seed's `constraints` object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintsSpec {
    /// `HH:MM-HH:MM Day-Day`, comma-separated.
    pub temporal: Option<String>,
    /// IPv4 / IPv6 CIDRs.
    pub ip_range: Option<Vec<String>>,
}

/// Field rules for one collection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRulesSpec {
    /// Shown masked.
    #[serde(default)]
    pub masked: Vec<String>,
    /// Not shown, not searchable.
    #[serde(default)]
    pub hidden: Vec<String>,
}

/// How much of a field a role shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// Not at all.
    Hidden,
    /// In masked form.
    Masked,
    /// In full.
    Full,
}

/// One `verb:collection` rule; `None` is the admin-only wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    verb: Option<String>,
    collection: Option<String>,
}

impl Permission {
    /// True when the rule covers this verb on this collection.
    pub fn matches(&self, verb: &str, collection: &str) -> bool {
        self.verb.as_deref().is_none_or(|v| v == verb)
            && self.collection.as_deref().is_none_or(|c| c == collection)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.verb.as_deref().unwrap_or("*");
        let c = self.collection.as_deref().unwrap_or("*");
        write!(f, "{v}:{c}")
    }
}

/// A validated role.
#[derive(Debug, Clone)]
pub struct Role {
    pub(super) name: String,
    pub(super) permissions: Vec<Permission>,
    pub(super) deny: Vec<Permission>,
    pub(super) schedule: Option<Schedule>,
    pub(super) timezone: TimeZone,
    pub(super) ip_range: Vec<IpNet>,
    pub(super) fields: BTreeMap<String, BTreeMap<String, Visibility>>,
    pub(super) care_team_only: bool,
    pub(super) break_glass: bool,
    pub(super) admin: bool,
}

/// Why a role was rejected: the role's name and the bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role `{role}`: {problem}")]
pub struct RoleError {
    /// The role's name as given.
    pub role: String,
    /// What is wrong.
    pub problem: RoleProblem,
}

/// What is wrong with a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleProblem {
    /// The JSON does not have the role format.
    #[error("not a role definition: {0}")]
    Format(String),
    /// The name is not 1-64 of `a-z 0-9 _ -`.
    #[error("the name must be 1-64 characters of a-z, 0-9, `_` and `-`")]
    Name,
    /// A permission is not `verb:collection`.
    #[error("permission `{0}` is not `verb:collection`")]
    Permission(String),
    /// A wildcard outside an admin role.
    #[error("permission `{0}` uses a wildcard, allowed only in a role with `\"admin\": true`")]
    Wildcard(String),
    /// The temporal constraint does not parse.
    #[error("constraints.temporal: {0}")]
    Temporal(ScheduleError),
    /// A CIDR does not parse.
    #[error("constraints.ip_range: `{0}` is not a CIDR (e.g. 192.168.1.0/24 or 2001:db8::/32)")]
    IpRange(String),
    /// Unknown time zone.
    #[error("timezone `{0}` is not an IANA time zone")]
    TimeZone(String),
    /// A field is both masked and hidden.
    #[error("fields.{0}.{1} is both masked and hidden")]
    FieldTwice(String, String),
}

fn ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn permission(p: &str, admin: bool) -> Result<Permission, RoleProblem> {
    let (verb, coll) = p
        .split_once(':')
        .ok_or_else(|| RoleProblem::Permission(p.to_owned()))?;
    let part = |s: &str| -> Result<Option<String>, RoleProblem> {
        match s {
            "*" if admin => Ok(None),
            "*" => Err(RoleProblem::Wildcard(p.to_owned())),
            s if ident(s) => Ok(Some(s.to_owned())),
            _ => Err(RoleProblem::Permission(p.to_owned())),
        }
    };
    Ok(Permission {
        verb: part(verb)?,
        collection: part(coll)?,
    })
}

impl Role {
    /// Parses and validates a role from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, RoleError> {
        let spec: RoleSpec = serde_json::from_str(text).map_err(|e| RoleError {
            role: role_name_hint(text),
            problem: RoleProblem::Format(format!("line {} column {}", e.line(), e.column())),
        })?;
        Self::from_spec(spec)
    }

    /// Validates a parsed role.
    pub fn from_spec(spec: RoleSpec) -> Result<Self, RoleError> {
        let err = |problem| RoleError {
            role: spec.role.clone(),
            problem,
        };
        if !ident(&spec.role) {
            return Err(err(RoleProblem::Name));
        }
        let perms = |list: &[String]| -> Result<Vec<Permission>, RoleError> {
            list.iter()
                .map(|p| permission(p, spec.admin).map_err(err))
                .collect()
        };
        let permissions = perms(&spec.permissions)?;
        let deny = perms(&spec.deny)?;
        let schedule = spec
            .constraints
            .temporal
            .as_deref()
            .map(Schedule::parse)
            .transpose()
            .map_err(|e| err(RoleProblem::Temporal(e)))?;
        let timezone = match spec.timezone.as_deref() {
            None => TimeZone::UTC,
            Some(name) => {
                TimeZone::get(name).map_err(|_| err(RoleProblem::TimeZone(name.into())))?
            }
        };
        let ip_range = spec
            .constraints
            .ip_range
            .iter()
            .flatten()
            .map(|c| {
                c.parse::<IpNet>()
                    .map_err(|_| err(RoleProblem::IpRange(c.clone())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut fields = BTreeMap::new();
        for (coll, rules) in &spec.fields {
            let masked: BTreeSet<&String> = rules.masked.iter().collect();
            if let Some(f) = rules.hidden.iter().find(|f| masked.contains(f)) {
                return Err(err(RoleProblem::FieldTwice(coll.clone(), f.clone())));
            }
            let mut m = BTreeMap::new();
            for f in &rules.masked {
                m.insert(f.clone(), Visibility::Masked);
            }
            for f in &rules.hidden {
                m.insert(f.clone(), Visibility::Hidden);
            }
            fields.insert(coll.clone(), m);
        }
        Ok(Self {
            name: spec.role,
            permissions,
            deny,
            schedule,
            timezone,
            ip_range,
            fields,
            care_team_only: spec.care_team_only,
            break_glass: spec.break_glass,
            admin: spec.admin,
        })
    }

    /// The role's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Is this an explicit administrator role?
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// Does a decision for this role depend on the care team or break-glass?
    pub fn care_team_only_or_break_glass(&self) -> bool {
        self.care_team_only || self.break_glass
    }

    /// May this role request break-glass access?
    pub fn break_glass(&self) -> bool {
        self.break_glass
    }

    /// How this role shows `field` of `collection`.
    pub fn visibility(&self, collection: &str, field: &str) -> Visibility {
        self.fields
            .get(collection)
            .and_then(|m| m.get(field))
            .copied()
            .unwrap_or(Visibility::Full)
    }

    /// The permissions, as written.
    pub fn permissions(&self) -> impl Iterator<Item = &Permission> {
        self.permissions.iter()
    }
}

/// The `role` value of a JSON text that failed to parse, for the error.
fn role_name_hint(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("role").and_then(|r| r.as_str()).map(str::to_owned))
        .filter(|n| ident(n))
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_format_parses() {
        let r = Role::from_json(
            r#"{"role": "radiologist", "permissions": ["view:medical_images", "annotate:studies"],
                "constraints": {"temporal": "08:00-18:00 Mon-Fri", "ip_range": ["192.168.1.0/24"]}}"#,
        )
        .unwrap();
        assert_eq!(r.name(), "radiologist");
        assert_eq!(r.permissions.len(), 2);
        assert!(
            r.permissions
                .iter()
                .any(|p| p.matches("annotate", "studies"))
        );
        assert_eq!(r.ip_range.len(), 1);
    }

    #[test]
    fn invalid_roles_name_the_role_and_the_part() {
        let e = |t: &str| Role::from_json(t).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"role": "nurse", "permissions": ["view:*"]}"#),
            "role `nurse`: permission `view:*` uses a wildcard, allowed only in a role with `\"admin\": true`"
        );
        assert!(e(r#"{"role": "nurse", "permissions": ["view"]}"#).contains("`view`"));
        assert!(
            e(r#"{"role": "n", "constraints": {"ip_range": ["10.0.0.0/33"]}}"#)
                .contains("10.0.0.0/33")
        );
        assert!(e(r#"{"role": "n", "constraints": {"temporal": "8-18"}}"#).contains("temporal"));
        assert!(e(r#"{"role": "n", "timezone": "Mars/Olympus"}"#).contains("Mars/Olympus"));
        assert!(
            e(r#"{"role": "n", "fields": {"patients": {"masked": ["ssn"], "hidden": ["ssn"]}}}"#)
                .contains("patients.ssn")
        );
        assert!(e(r#"{"role": "n", "permision": []}"#).starts_with("role `n`: not a role"));
        assert!(e(r#"{"role": "Bad Name"}"#).contains("name"));
        assert!(
            Role::from_json(r#"{"role": "root", "admin": true, "permissions": ["*:*"]}"#).is_ok()
        );
    }
}
