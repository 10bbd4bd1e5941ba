//! Known-answer tests: RFC 9605 Appendix C (SFrame) and RFC 9180 Appendix A.1.1 (HPKE), from
//! the data files in `tests/vectors/` (their `source` field names the RFC section).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod common;

use common::{FixedRng, hex};
use phivault_telehealth::header::Header;
use phivault_telehealth::kat;
use phivault_telehealth::package::{open_base, seal_base};
use phivault_telehealth::{CipherSuite, DeviceKeyPair};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn h(v: &Value, field: &str) -> Vec<u8> {
    hex(v[field].as_str().unwrap())
}

fn suite(v: &Value) -> CipherSuite {
    CipherSuite::from_id(u16::try_from(v["cipher_suite"].as_u64().unwrap()).unwrap()).unwrap()
}

#[test]
fn rfc9605_c1_header_encoding() {
    let vectors = load("rfc9605-appendix-c.json");
    let list = vectors["header"].as_array().unwrap();
    assert_eq!(list.len(), 289);
    for v in list {
        let header = Header {
            kid: v["kid"].as_u64().unwrap(),
            ctr: v["ctr"].as_u64().unwrap(),
        };
        let encoded = h(v, "encoded");
        let mut out = Vec::new();
        header.encode(&mut out);
        assert_eq!(out, encoded, "encode {header:?}");
        assert_eq!(header.len(), encoded.len());
        let mut with_payload = encoded.clone();
        with_payload.extend_from_slice(b"payload");
        assert_eq!(
            Header::parse(&with_payload).unwrap(),
            (header, encoded.len())
        );
    }
}

#[test]
fn rfc9605_c2_aes_ctr_hmac() {
    let vectors = load("rfc9605-appendix-c.json");
    let list = vectors["aes_ctr_hmac"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for v in list {
        let s = suite(v);
        let nonce: [u8; 12] = h(v, "nonce").try_into().unwrap();
        let ct = kat::aead_seal(s, &h(v, "key"), nonce, &h(v, "aad"), &h(v, "pt")).unwrap();
        assert_eq!(ct, h(v, "ct"), "{s:?}");
    }
}

#[test]
fn rfc9605_c3_sframe_encryption_every_suite() {
    let vectors = load("rfc9605-appendix-c.json");
    let list = vectors["sframe"].as_array().unwrap();
    let mut seen = Vec::new();
    for v in list {
        let s = suite(v);
        seen.push(s);
        let base_key = h(v, "base_key");
        let kid = v["kid"].as_u64().unwrap();
        let ctr = v["ctr"].as_u64().unwrap();
        let (key, salt) = kat::derive_key_salt(s, kid, &base_key);
        assert_eq!(key.as_slice(), h(v, "sframe_key").as_slice(), "{s:?} key");
        assert_eq!(salt.to_vec(), h(v, "sframe_salt"), "{s:?} salt");
        let frame = kat::seal(
            s,
            &base_key,
            Header { kid, ctr },
            &h(v, "metadata"),
            &h(v, "pt"),
        );
        assert_eq!(frame.unwrap(), h(v, "ct"), "{s:?} seal");
        let pt = kat::open(s, &base_key, &h(v, "metadata"), &h(v, "ct")).unwrap();
        assert_eq!(pt, h(v, "pt"), "{s:?} open");
        // Any flipped bit in the frame, or other metadata, must fail.
        let mut bad = h(v, "ct");
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(kat::open(s, &base_key, &h(v, "metadata"), &bad).is_err());
        assert!(kat::open(s, &base_key, b"other", &h(v, "ct")).is_err());
    }
    assert_eq!(
        seen,
        CipherSuite::ALL.to_vec(),
        "a vector for every supported suite"
    );
}

#[test]
fn rfc9180_a11_base_mode_through_the_wrapper() {
    let v = load("rfc9180-a1-1-base.json");
    let recipient = DeviceKeyPair::derive(&h(&v, "ikmR"));
    assert_eq!(recipient.public_key().to_bytes().to_vec(), h(&v, "pkRm"));
    let ephemeral = DeviceKeyPair::derive(&h(&v, "ikmE"));
    assert_eq!(ephemeral.public_key().to_bytes().to_vec(), h(&v, "pkEm"));

    let e = &v["encryptions"][0];
    assert_eq!(e["sequence_number"], 0);
    // HPKE's ephemeral key is DeriveKeyPair(random(32)); replaying ikmE gives the RFC's enc.
    let mut rng = FixedRng(h(&v, "ikmE"));
    let (enc, ct) = seal_base(
        &mut rng,
        recipient.public_key(),
        &h(&v, "info"),
        &h(e, "aad"),
        &h(e, "pt"),
    )
    .unwrap();
    assert_eq!(enc, h(&v, "enc"));
    assert_eq!(ct, h(e, "ct"));
    let pt = open_base(
        &recipient,
        &h(&v, "enc"),
        &h(&v, "info"),
        &h(e, "aad"),
        &h(e, "ct"),
    );
    assert_eq!(pt.unwrap().as_slice(), h(e, "pt").as_slice());
    // Wrong info (the binding) or wrong aad must not open.
    assert!(open_base(&recipient, &enc, b"other info", &h(e, "aad"), &ct).is_err());
    assert!(open_base(&recipient, &enc, &h(&v, "info"), b"other aad", &ct).is_err());
}
