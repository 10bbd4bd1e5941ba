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

/// The indexed check agrees with a naive scan applying the documented
/// precedence (user, token, host, longest network, vault, collection; then
/// the oldest) over many pseudo-random lockdowns and requests.
#[test]
fn indexed_check_agrees_with_a_naive_scan() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let scopes = [
        "vault",
        "user:u0",
        "user:u1",
        "token:pv_00000000000000a0",
        "token:pv_00000000000000a1",
        "ip:10.0.0.0/8",
        "ip:10.1.0.0/16",
        "ip:10.1.2.3",
        "ip:2001:db8::/32",
        "collection:c0",
        "collection:c1",
    ];
    let rank = |l: &Lockdown| match &l.scope {
        Scope::User(_) => (0, 0),
        Scope::Token(_) => (1, 0),
        Scope::Ip(n) => (2, 255 - n.prefix_len()),
        Scope::Vault => (3, 0),
        Scope::Collection(_) => (4, 0),
    };
    for round in 0..200 {
        let n = next(6);
        let locks: Vec<Lockdown> = (0..n)
            .map(|k| {
                let scope = scopes[usize::try_from(next(11)).unwrap()];
                lock(
                    &format!("l{round}-{k}"),
                    scope,
                    i64::try_from(next(5)).unwrap(),
                )
            })
            .collect();
        let set = LockdownSet::new(locks.clone());
        for _ in 0..20 {
            let user = format!("u{}", next(3));
            let token = format!("pv_00000000000000a{}", next(3));
            let ip = [
                "10.1.2.3",
                "10.1.9.9",
                "10.7.7.7",
                "192.0.2.1",
                "2001:db8::5",
                "::ffff:10.1.2.3",
            ][usize::try_from(next(6)).unwrap()];
            let coll = format!("c{}", next(3));
            let req = RequestFacts {
                user: &user,
                token: Some(&token),
                ip: ip.parse().unwrap(),
                collection: Some(&coll),
                responder: next(2) == 0,
            };
            let canon = req.ip.to_canonical();
            let naive = locks
                .iter()
                .filter(|l| match &l.scope {
                    Scope::User(u) => *u == user,
                    Scope::Token(t) => *t == token,
                    Scope::Ip(n) => n.contains(&canon),
                    Scope::Vault => !req.responder,
                    Scope::Collection(c) => !req.responder && *c == coll,
                })
                .min_by_key(|l| (rank(l), l.created_at_micros, l.id.clone()))
                .map(|l| l.id.as_str());
            assert_eq!(hit(&set, &req), naive, "{locks:?} {req:?}");
        }
    }
}
