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
mod tests;
