use phivault_audit::Signer;

use super::*;
use crate::util::parse_micros;

fn signer() -> Signer {
    Signer::generate("phivault.example/audit").unwrap().0
}

fn meta() -> SealMeta {
    SealMeta {
        incident_id: "inc-2026-001".into(),
        created_at_micros: parse_micros("2026-03-03T09:00:00Z").unwrap(),
        since_micros: parse_micros("2026-03-02T00:00:00Z").unwrap(),
        until_micros: parse_micros("2026-03-03T00:00:00Z").unwrap(),
    }
}

fn files() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "audit/events.jsonl".into(),
            b"{\"index\":0}\n{\"index\":1}\n".to_vec(),
        ),
        (
            "audit/checkpoint.txt".into(),
            b"phivault.example/audit\n2\nAAAA\n".to_vec(),
        ),
        ("lockdowns.json".into(), b"[]".to_vec()),
    ]
}

fn sealed(s: &Signer) -> SealedManifest {
    seal(&files(), &meta(), s).unwrap()
}

#[test]
fn a_sealed_bundle_verifies_with_its_reserved_files_listed() {
    let s = signer();
    let m = sealed(&s);
    assert!(m.manifest_json.starts_with(r#"{"format":"phivault-evidence/1","incident_id":"inc-2026-001","created_at":"2026-03-03T09:00:00.000000Z","window":{"since":"#));
    assert!(m.manifest_json.ends_with("]}\n"));
    assert!(m.signature_note.starts_with(&format!(
        "phivault-evidence/1\ninc-2026-001\n{}\n\n",
        m.manifest_digest
    )));
    let mut listing = files();
    listing.push((MANIFEST_FILE.into(), m.manifest_json.clone().into_bytes()));
    listing.push((SIGNATURE_FILE.into(), m.signature_note.clone().into_bytes()));
    listing.push((
        CUSTODY_FILE.into(),
        b"anything: custody is verified on its own".to_vec(),
    ));
    let v = verify(&listing, &m.manifest_json, &m.signature_note, &s.verifier()).unwrap();
    assert_eq!(v.manifest_digest, m.manifest_digest);
    assert_eq!(v.bytes, 24 + 30 + 2);
    let paths: Vec<_> = v.manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "audit/checkpoint.txt",
            "audit/events.jsonl",
            "lockdowns.json"
        ]
    );
    assert_eq!(
        v.manifest.files[2].sha256,
        crate::util::hex(&crate::util::sha256(b"[]"))
    );
}

#[test]
fn every_file_alteration_is_caught_and_named() {
    let s = signer();
    let m = sealed(&s);
    let vk = s.verifier();
    let check =
        |listing: &[(String, Vec<u8>)]| verify(listing, &m.manifest_json, &m.signature_note, &vk);
    let mut same_size = files();
    same_size[0].1[2] ^= 1;
    assert_eq!(
        check(&same_size),
        Err(EvidenceError::Modified("audit/events.jsonl".into()))
    );
    let mut truncated = files();
    truncated[2].1.pop();
    assert_eq!(
        check(&truncated),
        Err(EvidenceError::Modified("lockdowns.json".into()))
    );
    let mut both = files();
    both[0].1.push(b'x');
    both[1].1.push(b'x');
    assert_eq!(
        check(&both),
        Err(EvidenceError::Modified("audit/checkpoint.txt".into())),
        "the first in manifest order"
    );
    let mut missing = files();
    missing.remove(1);
    assert_eq!(
        check(&missing),
        Err(EvidenceError::Missing("audit/checkpoint.txt".into()))
    );
    let mut extra = files();
    extra.push(("notes/planted.txt".into(), b"x".to_vec()));
    assert_eq!(
        check(&extra),
        Err(EvidenceError::Extra("notes/planted.txt".into()))
    );
    let mut disguised = files();
    disguised.push(("Custody.jsonl".into(), b"x".to_vec()));
    assert_eq!(
        check(&disguised),
        Err(EvidenceError::Extra("Custody.jsonl".into()))
    );
    let mut twice = files();
    twice.push(twice[0].clone());
    assert_eq!(
        check(&twice),
        Err(EvidenceError::Duplicate("audit/events.jsonl".into()))
    );
    let mut escape = files();
    escape.push(("../../etc/passwd".into(), vec![]));
    assert!(
        matches!(check(&escape), Err(EvidenceError::InvalidPath { reason, .. }) if reason.contains(".."))
    );
    let mut abs = files();
    abs.push(("/etc/passwd".into(), vec![]));
    assert!(matches!(
        check(&abs),
        Err(EvidenceError::InvalidPath { .. })
    ));
    let mut windows = files();
    windows.push(("audit\\x".into(), vec![]));
    assert!(matches!(
        check(&windows),
        Err(EvidenceError::InvalidPath { .. })
    ));
}

#[test]
fn manifest_and_signature_alterations_are_caught() {
    let s = signer();
    let m = sealed(&s);
    let vk = s.verifier();
    let edited = m.manifest_json.replacen("\"size\":2", "\"size\":3", 1);
    assert_ne!(edited, m.manifest_json);
    assert_eq!(
        verify(&files(), &edited, &m.signature_note, &vk).unwrap_err(),
        EvidenceError::ManifestMismatch
    );
    // Signed by another key with the same name: not this key.
    let other = signer();
    let forged = other.sign_note(&format!(
        "phivault-evidence/1\ninc-2026-001\n{}\n",
        m.manifest_digest
    ));
    assert_eq!(
        verify(&files(), &m.manifest_json, &forged, &vk),
        Err(EvidenceError::BadSignature)
    );
    // The body changed under the signature.
    let retargeted = m.signature_note.replacen("inc-2026-001", "inc-2026-002", 1);
    assert_eq!(
        verify(&files(), &m.manifest_json, &retargeted, &vk),
        Err(EvidenceError::BadSignature)
    );
    assert!(matches!(
        verify(&files(), &m.manifest_json, "garbage", &vk),
        Err(EvidenceError::MalformedNote(_))
    ));
    // A note for another incident over this manifest's digest.
    let wrong = s.sign_note(&format!(
        "phivault-evidence/1\ninc-other\n{}\n",
        m.manifest_digest
    ));
    assert_eq!(
        verify(&files(), &m.manifest_json, &wrong, &vk),
        Err(EvidenceError::ManifestMismatch)
    );
    // A checkpoint note is not an evidence note.
    let cp = s.sign_note("phivault.example/audit\n2\nAAAA\n");
    assert!(matches!(
        verify(&files(), &m.manifest_json, &cp, &vk),
        Err(EvidenceError::MalformedNote(_))
    ));
}

#[test]
fn signed_but_non_canonical_or_unsorted_manifests_are_refused() {
    let s = signer();
    let m = sealed(&s);
    let sign = |json: &str| {
        let d = crate::util::hex(&crate::util::sha256(json.as_bytes()));
        s.sign_note(&format!("phivault-evidence/1\ninc-2026-001\n{d}\n"))
    };
    let vk = s.verifier();
    let mut doc: Manifest = serde_json::from_str(&m.manifest_json).unwrap();
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    assert_eq!(
        verify(&files(), &pretty, &sign(&pretty), &vk),
        Err(EvidenceError::MalformedManifest("not in canonical form"))
    );
    doc.files.swap(0, 1);
    let unsorted = serde_json::to_string(&doc).unwrap() + "\n";
    assert!(matches!(
        verify(&files(), &unsorted, &sign(&unsorted), &vk),
        Err(EvidenceError::MalformedManifest(r)) if r.contains("sorted")
    ));
    let odd = m
        .manifest_json
        .replacen("phivault-evidence/1", "phivault-evidence/9", 1);
    assert_eq!(
        verify(&files(), &odd, &sign(&odd), &vk),
        Err(EvidenceError::MalformedManifest("unknown format"))
    );
}

#[test]
fn sealing_refuses_bad_paths_reserved_names_and_case_twins() {
    let s = signer();
    let one = |p: &str| seal(&[(p, b"x".as_slice())], &meta(), &s);
    assert!(matches!(one("../x"), Err(SealError::InvalidPath { .. })));
    assert!(matches!(one("/x"), Err(SealError::InvalidPath { .. })));
    assert!(matches!(one("a\\b"), Err(SealError::InvalidPath { .. })));
    assert_eq!(
        one("custody.jsonl").unwrap_err(),
        SealError::Reserved("custody.jsonl".into())
    );
    assert_eq!(
        one("manifest.JSON").unwrap_err(),
        SealError::Reserved("manifest.JSON".into())
    );
    let twins = [
        ("Report.csv", b"a".as_slice()),
        ("report.csv", b"b".as_slice()),
    ];
    assert_eq!(
        seal(&twins, &meta(), &s).unwrap_err(),
        SealError::Duplicate("report.csv".into())
    );
    let mut bad = meta();
    bad.incident_id = "inc 1".into();
    assert_eq!(
        seal(&files(), &bad, &s).unwrap_err(),
        SealError::Meta("incident_id")
    );
    let mut bad = meta();
    bad.since_micros = bad.until_micros + 1;
    assert_eq!(
        seal(&files(), &bad, &s).unwrap_err(),
        SealError::Meta("since_micros")
    );
    let shown = one("a\nb").unwrap_err().to_string();
    assert!(shown.contains("a\\nb") && !shown.contains('\n'), "{shown}");
}
