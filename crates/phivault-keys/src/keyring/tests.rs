use super::*;

const FAST: KdfParams = KdfParams::INSECURE_FOR_TESTS;

#[tokio::test]
async fn create_open_wrap_unwrap() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let k = Keyring::create(&keys, "2026-01-01T00:00:00Z").unwrap();
    assert!(Keyring::create(&keys, "x").is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(keys.join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let dek = DataKey::generate().unwrap();
    let w = k.wrap(&dek, "patients", "r").await.unwrap();
    let again = Keyring::open(&keys).unwrap();
    assert!(!again.is_protected());
    assert_eq!(again.index_root().as_ref(), k.index_root().as_ref());
    let back = again.unwrap(&w, "patients", "r").await.unwrap();
    assert_eq!(back.expose(), dek.expose());
    assert!(!format!("{again:?}").contains("key:"));
}

/// A format-1 file as written by earlier builds keeps opening, and its
/// wrapped DEKs keep unwrapping.
#[tokio::test]
async fn format1_file_from_earlier_builds_opens() {
    let dir = tempfile::tempdir().unwrap();
    let kek = [7u8; 32];
    let text = format!(
        r#"{{"format":1,"protection":"none","current":1,"keks":[{{"version":1,"created_at":"2026-01-01T00:00:00Z","key":"{}"}}],"index_root":"{}"}}"#,
        STANDARD.encode(kek),
        STANDARD.encode([9u8; 32])
    );
    fs::write(dir.path().join(FILE_NAME), text).unwrap();
    let k = Keyring::open(dir.path()).unwrap();
    let dek = DataKey::generate().unwrap();
    let w = LocalKek::new(1, &Zeroizing::new(kek))
        .unwrap()
        .wrap(&dek, "c", "r")
        .unwrap();
    assert_eq!(k.unwrap(&w, "c", "r").await.unwrap().expose(), dek.expose());
    assert_eq!(k.index_root().as_ref(), &[9u8; 32]);
}

#[tokio::test]
async fn protect_then_open_needs_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let k = Keyring::create(dir.path(), "2026-01-01T00:00:00Z").unwrap();
    let dek = DataKey::generate().unwrap();
    let w = k.wrap(&dek, "c", "r").await.unwrap();
    let pass = Passphrase::new("correct horse battery staple".into());
    k.protect(&pass, FAST).unwrap();
    assert!(k.is_protected());

    let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format"], 2);
    assert_eq!(json["protection"], "argon2id");
    assert_eq!(json["kdf"]["m"], 64);
    assert!(
        json.get("keks").is_none(),
        "key material must not be in clear"
    );

    let e = Keyring::open(dir.path()).unwrap_err();
    assert!(matches!(e, KeyringError::PassphraseRequired(_)), "{e}");
    let wrong = Passphrase::new("wrong".into());
    let e = Keyring::open_with(dir.path(), Some(&wrong)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "keyring passphrase is wrong or the file was altered"
    );

    let again = Keyring::open_with(dir.path(), Some(&pass)).unwrap();
    assert!(again.is_protected());
    assert_eq!(
        again.unwrap(&w, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
    assert_eq!(again.index_root().as_ref(), k.index_root().as_ref());
}

#[test]
fn altered_protected_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let pass = Passphrase::new("p".into());
    Keyring::create_protected(dir.path(), "2026-01-01T00:00:00Z", &pass, FAST).unwrap();
    let path = dir.path().join(FILE_NAME);
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // Change the KDF cost: the AAD binds it, so the tag fails.
    json["kdf"]["t"] = 2.into();
    fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = Keyring::open_with(dir.path(), Some(&pass)).unwrap_err();
    assert!(matches!(e, KeyringError::WrongPassphrase), "{e}");
}

#[tokio::test]
async fn rotate_rewrap_retire() {
    let dir = tempfile::tempdir().unwrap();
    let pass = Passphrase::new("p".into());
    let k = Keyring::create_protected(dir.path(), "2026-01-01T00:00:00Z", &pass, FAST).unwrap();
    let dek = DataKey::generate().unwrap();
    let w1 = k.wrap(&dek, "c", "r").await.unwrap();
    assert_eq!(w1.kek.version, 1);

    let now: jiff::Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
    let v2 = k.rotate(now).await.unwrap();
    assert_eq!(
        v2,
        KekRef {
            provider: 1,
            version: 2
        }
    );
    assert_eq!(k.current(), v2);
    let w2 = k.wrap(&dek, "c", "r").await.unwrap();
    assert_eq!(w2.kek.version, 2);
    assert_eq!(
        k.unwrap(&w1, "c", "r").await.unwrap().expose(),
        dek.expose()
    );

    let re = k.rewrap(&w1, "c", "r").await.unwrap();
    assert_eq!(re.kek, v2);
    assert_eq!(
        k.unwrap(&re, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
    assert!(k.rewrap(&w1, "c", "other").await.is_err());

    let infos = k.versions().await.unwrap();
    assert_eq!(infos.iter().map(|i| i.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(infos[1].created_at, Some(now));

    // The rotated file stays protected and holds both versions.
    let again = Keyring::open_with(dir.path(), Some(&pass)).unwrap();
    assert!(again.is_protected());
    assert_eq!(again.current().version, 2);
    assert_eq!(
        again.unwrap(&w1, "c", "r").await.unwrap().expose(),
        dek.expose()
    );

    assert!(matches!(
        k.retire_below(3).await,
        Err(RetireError::WouldRemoveCurrent {
            requested: 3,
            current: 2
        })
    ));
    assert_eq!(k.retire_below(2).await.unwrap(), [1]);
    assert_eq!(
        k.unwrap(&w1, "c", "r").await.unwrap_err(),
        UnwrapError::UnknownKek(1)
    );
    let again = Keyring::open_with(dir.path(), Some(&pass)).unwrap();
    assert_eq!(again.keks().len(), 1);
    assert_eq!(
        again.unwrap(&re, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
}

#[tokio::test]
async fn reload_sees_a_rotation_by_another_process_protected_or_not() {
    for protected in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("correct horse battery".into());
        let now = "2026-01-01T00:00:00Z";
        let a = if protected {
            Keyring::create_protected(dir.path(), now, &pass, KdfParams::INSECURE_FOR_TESTS)
                .unwrap()
        } else {
            Keyring::create(dir.path(), now).unwrap()
        };
        // `b` is the server's copy; `a` the CLI's.
        let b = Keyring::open_with(dir.path(), Some(&pass)).unwrap();
        let dek = DataKey::generate().unwrap();
        a.rotate_now(now).unwrap();
        let w2 = a.wrap(&dek, "patients", "r1").await.unwrap();
        assert_eq!(w2.kek.version, 2);
        assert_eq!(b.current().version, 1);
        // An unknown newer version on unwrap reloads once.
        let got = b.unwrap(&w2, "patients", "r1").await.unwrap();
        assert_eq!(got.id(), dek.id());
        assert_eq!(b.current().version, 2, "new writes use the new version");
        // Retirement elsewhere is seen on the next reload.
        a.retire_versions_below(2).unwrap();
        assert_eq!(b.reload().unwrap(), 2);
        assert_eq!(b.keks().len(), 1);
        assert_eq!(b.is_protected(), protected);
    }
}

/// Two processes (two handles on one directory) rotating one after the
/// other, each with a stale view: no version is lost, none is reused, and a
/// DEK wrapped by the first rotation keeps unwrapping after the second.
#[tokio::test]
async fn concurrent_rotations_from_stale_handles_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let a = Keyring::create(&keys, "2026-01-01T00:00:00Z").unwrap();
    let b = Keyring::open(&keys).unwrap();
    assert_eq!(a.rotate_now("2026-02-01T00:00:00Z").unwrap(), 2);
    let dek = DataKey::generate().unwrap();
    let w2 = a.wrap(&dek, "patients", "r").await.unwrap();
    assert_eq!(w2.kek.version, 2);
    // `b` still believes version 1 is current.
    assert_eq!(b.current().version, 1);
    assert_eq!(b.rotate_now("2026-03-01T00:00:00Z").unwrap(), 3);
    let fresh = Keyring::open(&keys).unwrap();
    let versions: Vec<u32> = fresh.keks().iter().map(|k| k.version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(
        fresh.unwrap(&w2, "patients", "r").await.unwrap().expose(),
        dek.expose()
    );
    // Threads racing on two more handles: every rotation gets its own version.
    let (c, d) = (Keyring::open(&keys).unwrap(), Keyring::open(&keys).unwrap());
    let got = std::thread::scope(|s| {
        let hc = s.spawn(|| {
            (0..5)
                .map(|_| c.rotate_now("t").unwrap())
                .collect::<Vec<_>>()
        });
        let hd = s.spawn(|| {
            (0..5)
                .map(|_| d.rotate_now("t").unwrap())
                .collect::<Vec<_>>()
        });
        let mut all = hc.join().unwrap();
        all.extend(hd.join().unwrap());
        all.sort_unstable();
        all
    });
    assert_eq!(got, (4..=13).collect::<Vec<u32>>());
    assert_eq!(Keyring::open(&keys).unwrap().current().version, 13);
}

#[test]
fn index_roots_rotate_persist_and_retire() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let k = Keyring::create(&keys, "2026-01-01T00:00:00Z").unwrap();
    let other = Keyring::open(&keys).unwrap();
    let versions = |k: &Keyring| k.index_roots().iter().map(|(v, _)| *v).collect::<Vec<_>>();
    assert_eq!(versions(&k), vec![1]);
    assert_eq!(k.index_roots()[0].1.as_ref(), k.index_root().as_ref());
    assert_eq!(k.rotate_index_root("2026-02-01T00:00:00Z").unwrap(), 2);
    assert_eq!(versions(&k), vec![1, 2]);
    assert_ne!(k.index_roots()[1].1.as_ref(), k.index_root().as_ref());
    // Another process sees it after a reload; a fresh open too.
    other.reload().unwrap();
    assert_eq!(versions(&other), vec![1, 2]);
    let again = Keyring::open(&keys).unwrap();
    assert_eq!(
        again.index_roots()[1].1.as_ref(),
        k.index_roots()[1].1.as_ref()
    );
    assert!(matches!(
        k.retire_index_roots_below(3),
        Err(KeyringError::IndexRetireAboveCurrent(3))
    ));
    assert_eq!(k.retire_index_roots_below(2).unwrap(), vec![1]);
    assert_eq!(versions(&k), vec![2]);
    let again = Keyring::open(&keys).unwrap();
    assert_eq!(versions(&again), vec![2]);
    assert_eq!(again.current_index_version(), 2);
    // The keyring keeps its identity (version 1 stays in the file).
    assert_eq!(again.index_root().as_ref(), k.index_root().as_ref());
    // KEK rotation keeps the index roots.
    again.rotate_now("2026-03-01T00:00:00Z").unwrap();
    assert_eq!(versions(&Keyring::open(&keys).unwrap()), vec![2]);
    assert_eq!(k.rotate_index_root("2026-04-01T00:00:00Z").unwrap(), 3);
    assert_eq!(versions(&k), vec![2, 3]);
}
