//! The per-request check, indexed so that it costs a few hash lookups.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Lockdown, Scope};

/// What the server knows about a request when it checks lockdowns.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The authenticated user (`-` when unauthenticated).
    pub user: &'a str,
    /// The bearer token's public id, when a token authenticated it.
    pub token: Option<&'a str>,
    /// The client address (after trusted proxies).
    pub ip: IpAddr,
    /// The collection addressed, if any.
    pub collection: Option<&'a str>,
    /// Whether the caller holds the incident responder role.
    pub responder: bool,
}

/// The active lockdowns, indexed by scope.
#[derive(Debug, Default)]
pub struct LockdownSet {
    all: Vec<Lockdown>,
    vault: Option<usize>,
    users: HashMap<String, usize>,
    tokens: HashMap<String, usize>,
    collections: HashMap<String, usize>,
    hosts: HashMap<IpAddr, usize>,
    /// Non-host networks, longest prefix first.
    nets: Vec<(IpNet, usize)>,
}

impl LockdownSet {
    /// Indexes `lockdowns`. When several cover the same scope, the oldest
    /// (then the smallest id) is the one reported.
    pub fn new(mut lockdowns: Vec<Lockdown>) -> Self {
        lockdowns.sort_by(|a, b| (a.created_at_micros, &a.id).cmp(&(b.created_at_micros, &b.id)));
        let mut set = Self::default();
        fn first(map: &mut HashMap<String, usize>, k: &str, i: usize) {
            if let Entry::Vacant(v) = map.entry(k.to_owned()) {
                v.insert(i);
            }
        }
        for (i, l) in lockdowns.iter().enumerate() {
            match &l.scope {
                Scope::Vault => {
                    set.vault.get_or_insert(i);
                }
                Scope::User(u) => first(&mut set.users, u, i),
                Scope::Token(t) => first(&mut set.tokens, t, i),
                Scope::Collection(c) => first(&mut set.collections, c, i),
                Scope::Ip(n) if n.prefix_len() == n.max_prefix_len() => {
                    set.hosts.entry(n.addr()).or_insert(i);
                }
                Scope::Ip(n) => set.nets.push((*n, i)),
            }
        }
        // Stable: equal prefixes keep the oldest first.
        set.nets
            .sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        set.all = lockdowns;
        set
    }

    /// No lockdown is active.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The active lockdowns, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Lockdown> {
        self.all.iter()
    }

    /// The lockdown with this id.
    pub fn get(&self, id: &str) -> Option<&Lockdown> {
        self.all.iter().find(|l| l.id == id)
    }

    /// The lockdown that refuses this request, if any (`None`: proceed).
    /// The most specific applicable scope is reported: user, token, address,
    /// then vault, then collection.
    pub fn check(&self, req: &RequestFacts<'_>) -> Option<&Lockdown> {
        if self.all.is_empty() {
            return None;
        }
        let ip = req.ip.to_canonical();
        let hit = self
            .users
            .get(req.user)
            .or_else(|| req.token.and_then(|t| self.tokens.get(t)))
            .or_else(|| self.hosts.get(&ip))
            .or_else(|| {
                self.nets
                    .iter()
                    .find(|(n, _)| n.contains(&ip))
                    .map(|(_, i)| i)
            })
            .or_else(|| {
                if req.responder {
                    return None;
                }
                self.vault
                    .as_ref()
                    .or_else(|| req.collection.and_then(|c| self.collections.get(c)))
            });
        hit.and_then(|&i| self.all.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(id: &str, scope: &str, at: i64) -> Lockdown {
        Lockdown {
            id: id.into(),
            scope: scope.parse().unwrap(),
            reason: "incident response".into(),
            incident_id: Some("inc-1".into()),
            created_by: "ciso".into(),
            created_at_micros: at,
        }
    }

    fn req<'a>(user: &'a str, ip: &str, collection: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            user,
            token: Some("pv_00000000000000aa"),
            ip: ip.parse().unwrap(),
            collection,
            responder: false,
        }
    }

    fn hit<'a>(set: &'a LockdownSet, r: &RequestFacts<'_>) -> Option<&'a str> {
        set.check(r).map(|l| l.id.as_str())
    }

    #[test]
    fn each_scope_refuses_what_it_covers_and_nothing_else() {
        let set = LockdownSet::new(vec![
            lock("u", "user:mallory", 1),
            lock("t", "token:pv_00000000000000bb", 2),
            lock("h", "ip:192.0.2.7", 3),
            lock("n", "ip:198.51.100.0/24", 4),
            lock("c", "collection:notes", 5),
        ]);
        let ok = req("alice", "10.0.0.1", Some("patients"));
        assert_eq!(hit(&set, &ok), None);
        assert_eq!(hit(&set, &req("mallory", "10.0.0.1", None)), Some("u"));
        let stolen = RequestFacts {
            token: Some("pv_00000000000000bb"),
            ..ok
        };
        assert_eq!(hit(&set, &stolen), Some("t"));
        assert_eq!(hit(&set, &req("alice", "192.0.2.7", None)), Some("h"));
        assert_eq!(
            hit(&set, &req("alice", "::ffff:192.0.2.7", None)),
            Some("h")
        );
        assert_eq!(hit(&set, &req("alice", "198.51.100.200", None)), Some("n"));
        assert_eq!(hit(&set, &req("alice", "198.51.101.1", None)), None);
        assert_eq!(
            hit(&set, &req("alice", "10.0.0.1", Some("notes"))),
            Some("c")
        );
    }

    #[test]
    fn responders_pass_vault_and_collection_but_not_personal_scopes() {
        let set = LockdownSet::new(vec![
            lock("v", "vault", 1),
            lock("c", "collection:patients", 2),
            lock("u", "user:responder1", 3),
            lock("n", "ip:2001:db8::/32", 4),
        ]);
        let everyone = req("alice", "10.0.0.1", Some("patients"));
        assert_eq!(hit(&set, &everyone), Some("v"));
        let responder = RequestFacts {
            user: "responder2",
            responder: true,
            ..everyone
        };
        assert_eq!(hit(&set, &responder), None);
        let compromised = RequestFacts {
            user: "responder1",
            ..responder
        };
        assert_eq!(hit(&set, &compromised), Some("u"));
        let from_blocked = RequestFacts {
            ip: "2001:db8:5::1".parse().unwrap(),
            ..responder
        };
        assert_eq!(hit(&set, &from_blocked), Some("n"));
    }

    #[test]
    fn overlapping_lockdowns_report_the_most_specific_then_the_oldest() {
        let set = LockdownSet::new(vec![
            lock("wide-new", "ip:10.0.0.0/8", 9),
            lock("narrow", "ip:10.1.0.0/16", 8),
            lock("wide-old", "ip:10.0.0.0/8", 1),
            lock("user-new", "user:bob", 7),
            lock("user-old", "user:bob", 2),
        ]);
        assert_eq!(hit(&set, &req("alice", "10.1.2.3", None)), Some("narrow"));
        assert_eq!(hit(&set, &req("alice", "10.2.2.3", None)), Some("wide-old"));
        assert_eq!(hit(&set, &req("bob", "10.2.2.3", None)), Some("user-old"));
        assert_eq!(set.iter().next().map(|l| l.id.as_str()), Some("wide-old"));
        assert!(set.get("narrow").is_some());
        assert!(
            LockdownSet::new(vec![])
                .check(&req("a", "10.0.0.1", None))
                .is_none()
        );
    }
}
