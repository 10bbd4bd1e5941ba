//! Against a real token: SoftHSM2 via `eval "$(scripts/softhsm)"`. Without
//! the env the tests print `skipping PKCS#11` and pass, unless
//! `PHIVAULT_REQUIRE_HSM=1`.

#![allow(clippy::print_stderr, reason = "the skip notice scripts grep for")]

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType};

use super::*;

/// One test at a time on the shared token: SoftHSM2 fails key generation
/// (CKR_GENERAL_ERROR) when several sessions of one process create objects
/// at once.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test token's config with a label stem unique to this test, so tests
/// running in parallel on one token do not see each other's keys.
pub(crate) fn test_config(test: &str) -> Option<Pkcs11Config> {
    let module = std::env::var("PHIVAULT_TEST_PKCS11_MODULE").ok();
    let pin = std::env::var("PHIVAULT_TEST_PKCS11_PIN").ok();
    let (Some(module), Some(pin)) = (module, pin) else {
        assert!(
            std::env::var("PHIVAULT_REQUIRE_HSM").as_deref() != Ok("1"),
            "PHIVAULT_REQUIRE_HSM=1 but PHIVAULT_TEST_PKCS11_MODULE/PIN are not set (run scripts/softhsm)"
        );
        eprintln!(
            "skipping PKCS#11: PHIVAULT_TEST_PKCS11_MODULE/PIN not set (see scripts/softhsm)"
        );
        return None;
    };
    let token =
        std::env::var("PHIVAULT_TEST_PKCS11_TOKEN").unwrap_or_else(|_| "phivault-test".into());
    let mut c = Pkcs11Config::new(module, token, Pin::new(pin));
    let mut tag = [0u8; 4];
    aws_lc_rs::rand::fill(&mut tag).unwrap();
    c.key_label = format!("phivault-test-{test}-{}", u32::from_be_bytes(tag));
    c.create_if_missing = true;
    Some(c)
}

fn now() -> jiff::Timestamp {
    "2026-03-04T05:06:07Z".parse().unwrap()
}

async fn connect(test: &str) -> Option<Pkcs11Provider> {
    let c = test_config(test)?;
    Some(Pkcs11Provider::connect(c, now()).await.unwrap())
}

async fn cleanup(p: &Pkcs11Provider) {
    let top = p.current().version + 1;
    // Destroy the test keys: first make a throwaway current version so all
    // real ones are below it, then remove them.
    p.rotate(now()).await.unwrap();
    p.retire_below(top).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrap_unwrap_roundtrip_and_wrong_aad() {
    let _serial = SERIAL.lock().await;
    let Some(p) = connect("roundtrip").await else {
        return;
    };
    assert_eq!(
        p.current(),
        KekRef {
            provider: 2,
            version: 1
        }
    );
    let dek = DataKey::generate().unwrap();
    let w = p.wrap(&dek, "patients", "r1").await.unwrap();
    assert_eq!(w.kek, p.current());
    assert_eq!(w.payload.len(), 12 + 32 + 16);
    let decoded = WrappedDek::decode(&w.encode()).unwrap();
    assert_eq!(
        p.unwrap(&decoded, "patients", "r1").await.unwrap().expose(),
        dek.expose()
    );
    assert_eq!(
        p.unwrap(&w, "patients", "r2").await.unwrap_err(),
        UnwrapError::Integrity
    );
    assert_eq!(
        p.unwrap(&w, "notes", "r1").await.unwrap_err(),
        UnwrapError::Integrity
    );
    let mut bad = w.clone();
    if let Some(b) = bad.payload.last_mut() {
        *b ^= 1;
    }
    assert_eq!(
        p.unwrap(&bad, "patients", "r1").await.unwrap_err(),
        UnwrapError::Integrity
    );
    cleanup(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_old_versions() {
    let _serial = SERIAL.lock().await;
    let Some(c) = test_config("rotate") else {
        return;
    };
    let mut c2 = Pkcs11Config::new(c.module.clone(), c.token_label.clone(), c.pin.clone());
    c2.key_label = c.key_label.clone();
    c2.offload = false;
    let p = Pkcs11Provider::connect(c, now()).await.unwrap();
    let dek = DataKey::generate().unwrap();
    let w1 = p.wrap(&dek, "c", "r").await.unwrap();
    let v2 = p.rotate(now()).await.unwrap();
    assert_eq!(v2.version, 2);
    let w2 = p.wrap(&dek, "c", "r").await.unwrap();
    assert_eq!(w2.kek, v2);
    assert_eq!(
        p.unwrap(&w1, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
    let re = p.rewrap(&w1, "c", "r").await.unwrap();
    assert_eq!(re.kek, v2);
    assert_eq!(
        p.unwrap(&re, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
    let infos = p.versions().await.unwrap();
    assert_eq!(infos.iter().map(|i| i.version).collect::<Vec<_>>(), [1, 2]);

    // A second instance (inline calls, no create) sees both versions.
    let other = Pkcs11Provider::connect(c2, now()).await.unwrap();
    assert_eq!(other.current(), v2);
    assert_eq!(
        other.unwrap(&w1, "c", "r").await.unwrap().expose(),
        dek.expose()
    );

    assert_eq!(p.retire_below(2).await.unwrap(), [1]);
    assert_eq!(
        p.unwrap(&w1, "c", "r").await.unwrap_err(),
        UnwrapError::UnknownKek(1)
    );
    cleanup(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kek_is_not_extractable() {
    let _serial = SERIAL.lock().await;
    let Some(p) = connect("extract").await else {
        return;
    };
    p.with_session(|s, h| {
        let h = h.unwrap();
        let info = s.get_attribute_info(h, &[AttributeType::Value]).unwrap();
        assert!(
            matches!(info.as_slice(), [AttributeInfo::Sensitive]),
            "{info:?}"
        );
        let attrs = s.get_attributes(h, &[AttributeType::Value]).unwrap();
        assert!(attrs.is_empty(), "CKA_VALUE was returned");
        let flags = s
            .get_attributes(
                h,
                &[
                    AttributeType::Extractable,
                    AttributeType::Sensitive,
                    AttributeType::Token,
                ],
            )
            .unwrap();
        assert!(flags.contains(&Attribute::Extractable(false)));
        assert!(flags.contains(&Attribute::Sensitive(true)));
        assert!(flags.contains(&Attribute::Token(true)));

        // C_WrapKey with a session key made for wrapping must be refused.
        let wrapping = s
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(false),
                    Attribute::Wrap(true),
                ],
            )
            .unwrap();
        let e = s
            .wrap_key(&Mechanism::AesKeyWrapPad, wrapping, h)
            .unwrap_err();
        assert!(
            matches!(
                e,
                CkError::Pkcs11(RvError::KeyUnextractable | RvError::KeyNotWrappable, _)
            ),
            "{e}"
        );
        s.destroy_object(wrapping).unwrap();
    });
    cleanup(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_and_errors_never_show_the_pin() {
    let _serial = SERIAL.lock().await;
    let Some(mut c) = test_config("debug") else {
        return;
    };
    let pin = c.pin.expose_secret().to_owned();
    assert!(!format!("{c:?}").contains(&pin));
    c.create_if_missing = false;
    let e = Pkcs11Provider::connect(c, now()).await.unwrap_err();
    assert!(matches!(e, Pkcs11Error::NoKek(_)), "{e}");

    let Some(mut c) = test_config("debug") else {
        return;
    };
    c.pin = Pin::new("00000000".into());
    // A wrong PIN: refused, and the PIN is not in the message. (SoftHSM
    // counts failures; one wrong attempt per run does not lock the token.)
    let e = Pkcs11Provider::connect(c, now()).await;
    if let Err(e) = e {
        assert!(!e.to_string().contains("00000000"), "{e}");
    }

    let p = connect("debug").await.unwrap();
    let shown = format!("{p:?}");
    assert!(
        shown.contains("Pkcs11Provider") && !shown.contains(&pin),
        "{shown}"
    );
    cleanup(&p).await;
}
