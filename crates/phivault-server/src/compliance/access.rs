//! Access control: automatic logoff, session lifetime, named users, no
//! wildcard over PHI, break-glass roles that exist and are few, unused
//! permissions, and the built-in administrator token kept off PHI.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use phivault_audit::{Event, Outcome};
use phivault_core::policy::Role;
use phivault_core::schema::Schema;
use phivault_store::UserRow;
use phivault_store::audit::AuditStore;

use super::{Finding, Install, Pitfall, Safeguard, Status};
use crate::access::RoleBook;

/// The longest idle time §164.312(a)(2)(iii) is read to allow here.
const MAX_IDLE_MINUTES: i64 = 15;
/// Longest session lifetime without a warn (one shift).
const MAX_LIFETIME_MINUTES: i64 = 12 * 60;
/// Longest break-glass grant without a warn.
const MAX_BREAK_GLASS_MINUTES: i64 = 4 * 60;
/// Break-glass holders beyond this many (and beyond a quarter of the users)
/// warn: emergency access is for a few, not a way around roles.
const FEW_BREAK_GLASS: usize = 3;
/// Unused permissions named in a summary at most.
const NAMED: usize = 8;

/// Verbs that read or change PHI, for the wildcard check.
const PHI_VERBS: [&str; 6] = ["view", "search", "create", "modify", "delete", "export"];

pub(super) async fn check(i: &Install<'_>, audit: Option<&Arc<dyn AuditStore>>) -> Vec<Finding> {
    let mut out = vec![logoff(i), lifetime(i), abuse_limits(i)];
    let roles = match roles(i).await {
        Ok(r) => r,
        Err(e) => {
            out.push(Finding::unknown(
                "access.roles",
                Safeguard::AccessControl,
                e,
            ));
            return out;
        }
    };
    let users: Vec<UserRow> = match i.store.list_users().await {
        Ok(u) => u.into_iter().filter(|u| !u.disabled).collect(),
        Err(e) => {
            out.push(Finding::unknown("access.users", Safeguard::UniqueUser, e));
            return out;
        }
    };
    out.push(unique_users(&users));
    out.push(wildcards(i, &roles));
    out.push(break_glass(i, &roles, &users));
    if let Some(a) = audit {
        out.push(unused(i, a, &roles).await);
        out.push(admin_use(i, a).await);
    }
    out
}

fn logoff(i: &Install<'_>) -> Finding {
    const ID: &str = "access.automatic_logoff";
    let idle = i.config.session_idle.as_mins();
    if idle <= MAX_IDLE_MINUTES {
        return Finding::pass(
            ID,
            Safeguard::AutomaticLogoff,
            format!("sessions end after {idle} idle minutes"),
        );
    }
    Finding::not_met(
        ID,
        Safeguard::AutomaticLogoff,
        Status::Fail,
        format!("sessions end after {idle} idle minutes (more than {MAX_IDLE_MINUTES})"),
        "set session_idle_minutes to 15 or less",
    )
}

fn lifetime(i: &Install<'_>) -> Finding {
    const ID: &str = "auth.session_lifetime";
    let life = i.config.session_lifetime.as_mins();
    if life <= MAX_LIFETIME_MINUTES {
        return Finding::pass(
            ID,
            Safeguard::Authentication,
            format!(
                "API tokens (stored as SHA-256 hashes) only open sessions, which re-authenticate after at most {life} minutes"
            ),
        );
    }
    Finding::not_met(
        ID,
        Safeguard::Authentication,
        Status::Warn,
        format!("sessions live up to {life} minutes, longer than a 12-hour shift"),
        "set session_lifetime_minutes to 720 or less",
    )
}

fn abuse_limits(i: &Install<'_>) -> Finding {
    const ID: &str = "auth.abuse_limits";
    let l = i.config.limits;
    if l.auth_failures == 0 {
        return Finding::not_met(
            ID,
            Safeguard::Authentication,
            Status::Fail,
            "authentication failures never lock out: guessing is unlimited",
            "set auth_failure_limit (default 10)",
        );
    }
    let mut weak = Vec::new();
    if l.rate_per_second == 0 {
        weak.push("no per-address rate limit".to_owned());
    }
    if l.auth_failures > 20 {
        weak.push(format!("{} failures before a lockout", l.auth_failures));
    }
    if l.header_timeout_seconds > 60 || l.body_timeout_seconds > 120 {
        weak.push("slow-client timeouts above 60 s (headers) / 120 s (body)".to_owned());
    }
    if weak.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::Authentication,
            format!(
                "{} failed authentications in {} s lock an address or token out for {} s; \
                 {} requests/s per address",
                l.auth_failures, l.auth_window_seconds, l.lockout_seconds, l.rate_per_second
            ),
        );
    }
    Finding::not_met(
        ID,
        Safeguard::Authentication,
        Status::Warn,
        weak.join("; "),
        "keep the defaults: rate_limit_per_second 1000, auth_failure_limit 10, timeouts 10 s / 30 s",
    )
}

/// Roles as the server would load them: the store's, then `policies/`
/// (files win). Read only: nothing is written back here.
async fn roles(i: &Install<'_>) -> Result<RoleBook, String> {
    let book = RoleBook::default();
    for (_, spec) in i.store.list_roles().await.map_err(|e| e.to_string())? {
        if let Ok(r) = Role::from_json(&spec) {
            book.put(r);
        }
    }
    let dir = i.config.data_dir.join("policies");
    for (role, _) in crate::access::load_dir(&dir).map_err(|e| e.to_string())? {
        book.put(role);
    }
    Ok(book)
}

fn unique_users(users: &[UserRow]) -> Finding {
    const ID: &str = "access.unique_users";
    if users.is_empty() {
        return Finding::not_met(
            ID,
            Safeguard::UniqueUser,
            Status::Warn,
            "no named users: all access is by the built-in administrator token, so the trail cannot tell people apart",
            "create a user per person (`POST /v1/users`) with a role, and keep the admin token for administration",
        )
        .pitfall(Pitfall::TemporaryBackdoor);
    }
    Finding::pass(
        ID,
        Safeguard::UniqueUser,
        format!(
            "{} enabled named users; every event records the user",
            users.len()
        ),
    )
}

fn phi_collections(i: &Install<'_>) -> Vec<String> {
    let path = i.config.data_dir.join("schema.toml");
    let schema = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| Schema::from_toml(&t).ok());
    schema
        .map(|s| {
            s.collections()
                .filter(|c| c.fields.values().any(|f| f.phi))
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn wildcards(i: &Install<'_>, roles: &RoleBook) -> Finding {
    const ID: &str = "access.wildcard_phi";
    let phi = phi_collections(i);
    let mut found = Vec::new();
    for r in roles.resolve(&roles.names()) {
        for p in r.permissions() {
            let text = p.to_string();
            let covers: Vec<&str> = phi
                .iter()
                .filter(|c| PHI_VERBS.iter().any(|v| p.matches(v, c)))
                .map(String::as_str)
                .collect();
            if text.contains('*') && !covers.is_empty() {
                found.push(format!(
                    "role `{}` grants `{text}` (covers {})",
                    r.name(),
                    covers.join(", ")
                ));
            }
        }
    }
    if found.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::AccessControl,
            format!(
                "no role grants a wildcard over a PHI collection ({} roles checked)",
                roles.names().len()
            ),
        )
        .pitfall(Pitfall::OverpermissionedAccounts);
    }
    Finding::not_met(
        ID,
        Safeguard::AccessControl,
        Status::Fail,
        format!("wildcard PHI permissions: {}", found.join("; ")),
        "list the verbs and collections each role needs instead of `*`",
    )
    .pitfall(Pitfall::OverpermissionedAccounts)
}

fn break_glass(i: &Install<'_>, roles: &RoleBook, users: &[UserRow]) -> Finding {
    const ID: &str = "access.break_glass";
    const S: Safeguard = Safeguard::EmergencyAccess;
    let bg: BTreeSet<String> = roles
        .resolve(&roles.names())
        .iter()
        .filter(|r| r.break_glass())
        .map(|r| r.name().to_owned())
        .collect();
    let minutes = i.config.break_glass.as_mins();
    if bg.is_empty() {
        return Finding::not_met(
            ID,
            S,
            Status::Warn,
            "no role may request break-glass access: there is no emergency access procedure",
            "mark an emergency role `\"break_glass\": true` and give it to a few on-call clinicians",
        );
    }
    let names = bg
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let holders = users
        .iter()
        .filter(|u| u.roles.iter().any(|r| bg.contains(r)))
        .count();
    if holders > FEW_BREAK_GLASS && holders * 4 > users.len() {
        return Finding::not_met(
            ID,
            S,
            Status::Warn,
            format!(
                "{holders} of {} users hold a break-glass role ({names}): emergency access has become a way around roles",
                users.len()
            ),
            "keep break-glass roles to a few on-call users",
        )
        .pitfall(Pitfall::OverpermissionedAccounts);
    }
    if minutes > MAX_BREAK_GLASS_MINUTES {
        return Finding::not_met(
            ID,
            S,
            Status::Warn,
            format!("break-glass grants last {minutes} minutes"),
            "set break_glass_minutes to 240 or less",
        );
    }
    Finding::pass(
        ID,
        S,
        format!(
            "break-glass roles {names} held by {}; grants last {minutes} minutes and every grant and use is alerted",
            n_users(holders)
        ),
    )
}

fn n_users(n: usize) -> String {
    if n == 1 {
        "1 user".to_owned()
    } else {
        format!("{n} users")
    }
}

fn since(i: &Install<'_>) -> i64 {
    i.now
        .checked_sub(jiff::SignedDuration::from_hours(
            24 * i64::from(i.review_days),
        ))
        .map_or(0, |t| t.as_microsecond())
}

async fn unused(i: &Install<'_>, audit: &Arc<dyn AuditStore>, roles: &RoleBook) -> Finding {
    const ID: &str = "access.unused_permissions";
    let days = i.review_days;
    let held = match crate::access::review(i.store.as_ref(), audit.as_ref(), roles, since(i)).await
    {
        Ok(h) => h,
        Err(e) => return Finding::unknown(ID, Safeguard::AccessControl, e),
    };
    if held.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::AccessControl,
            format!("every permission held by an enabled user was used in the last {days} days"),
        )
        .pitfall(Pitfall::OverpermissionedAccounts);
    }
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for h in &held {
        *per.entry((h.role.clone(), h.permission.clone()))
            .or_default() += 1;
    }
    let mut named: Vec<String> = per
        .iter()
        .take(NAMED)
        .map(|((role, perm), n)| format!("role `{role}`: `{perm}` ({})", n_users(*n)))
        .collect();
    if per.len() > NAMED {
        named.push(format!("and {} more", per.len() - NAMED));
    }
    Finding::not_met(
        ID,
        Safeguard::AccessControl,
        Status::Warn,
        format!(
            "{} permission grants not used in the last {days} days: {}",
            held.len(),
            named.join("; ")
        ),
        "review with `phivault access review` and remove what is not needed",
    )
    .pitfall(Pitfall::OverpermissionedAccounts)
}

/// The built-in administrator passes every decision; its token is for
/// setting up users and roles, not for reading records.
async fn admin_use(i: &Install<'_>, audit: &Arc<dyn AuditStore>) -> Finding {
    const ID: &str = "auth.admin_token";
    let from = since(i);
    let mut n = 0u64;
    let mut pos = 0;
    loop {
        let page = match audit.read(pos, 16_384).await {
            Ok(p) => p,
            Err(e) => return Finding::unknown(ID, Safeguard::Authentication, e),
        };
        let Some(last) = page.last() else { break };
        pos = last.index + 1;
        for f in &page {
            let Ok(e) = Event::decode(&f.event) else {
                continue;
            };
            let at = e
                .timestamp
                .parse::<jiff::Timestamp>()
                .map_or(0, |t| t.as_microsecond());
            let phi = e.is_disclosure()
                || (e.outcome == Outcome::Success
                    && matches!(e.action.as_str(), "created" | "modified" | "deleted"));
            if e.user == "admin" && phi && at >= from {
                n += 1;
            }
        }
    }
    let days = i.review_days;
    if n > 0 {
        return Finding::not_met(
            ID,
            Safeguard::Authentication,
            Status::Warn,
            format!(
                "the built-in administrator token, which passes every decision, was used for {n} PHI accesses in the last {days} days"
            ),
            "give people named users with roles; keep the admin token for users and roles, stored offline",
        )
        .pitfall(Pitfall::TemporaryBackdoor);
    }
    Finding::pass(
        ID,
        Safeguard::Authentication,
        format!("the built-in administrator token was not used for PHI in the last {days} days"),
    )
    .pitfall(Pitfall::TemporaryBackdoor)
}
