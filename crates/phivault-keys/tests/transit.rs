//! The Vault Transit provider against the in-process stand-in.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use phivault_core::envelope::{DataKey, KekRef, UnwrapError};
use phivault_keys::transit::standin::Standin;
use phivault_keys::transit::{TransitConfig, TransitError, TransitProvider};
use phivault_keys::{KeyProvider, VaultToken};

const TOKEN: &str = "hvs.test-token-0123456789";

async fn setup() -> (Standin, TransitProvider) {
    let s = Standin::start(TOKEN).await.unwrap();
    reqwest::Client::new()
        .post(format!("{}/v1/transit/keys/phivault", s.addr()))
        .header("X-Vault-Token", TOKEN)
        .json(&serde_json::json!({"type": "aes256-gcm96"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let p = TransitProvider::connect(TransitConfig::new(s.addr(), VaultToken::new(TOKEN.into())))
        .await
        .unwrap();
    (s, p)
}

#[tokio::test]
async fn roundtrip_and_aad_mismatch() {
    let (_s, p) = setup().await;
    assert_eq!(
        p.current(),
        KekRef {
            provider: 3,
            version: 1
        }
    );
    let dek = DataKey::generate().unwrap();
    let w = p.wrap(&dek, "patients", "r1").await.unwrap();
    assert_eq!(w.kek.version, 1);
    assert_eq!(w.payload.len(), 12 + 32 + 16);
    assert_eq!(
        p.unwrap(&w, "patients", "r1").await.unwrap().expose(),
        dek.expose()
    );
    assert_eq!(
        p.unwrap(&w, "patients", "r2").await.unwrap_err(),
        UnwrapError::Integrity
    );
    let mut bad = w.clone();
    bad.payload[20] ^= 1;
    assert_eq!(
        p.unwrap(&bad, "patients", "r1").await.unwrap_err(),
        UnwrapError::Integrity
    );
    assert!(!format!("{p:?}").contains(TOKEN));
}

#[tokio::test]
async fn rotate_rewrap_retire() {
    let (_s, p) = setup().await;
    let dek = DataKey::generate().unwrap();
    let w1 = p.wrap(&dek, "c", "r").await.unwrap();
    let v2 = p.rotate(jiff::Timestamp::now()).await.unwrap();
    assert_eq!(
        v2,
        KekRef {
            provider: 3,
            version: 2
        }
    );
    let w2 = p.wrap(&dek, "c", "r").await.unwrap();
    assert_eq!(w2.kek, v2);
    assert_eq!(
        p.unwrap(&w1, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
    let re = p.rewrap(&w1, "c", "r").await.unwrap();
    assert_eq!(re.kek, v2);
    let vs = p.versions().await.unwrap();
    assert_eq!(vs.iter().map(|i| i.version).collect::<Vec<_>>(), [1, 2]);
    assert!(vs[0].created_at.is_some());
    assert!(p.retire_below(3).await.is_err());
    assert_eq!(p.retire_below(2).await.unwrap(), [1]);
    // Vault now refuses version 1 (min_decryption_version = 2).
    assert_eq!(
        p.unwrap(&w1, "c", "r").await.unwrap_err(),
        UnwrapError::UnknownKek(1)
    );
    assert_eq!(
        p.unwrap(&re, "c", "r").await.unwrap().expose(),
        dek.expose()
    );
    assert_eq!(p.versions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_token_is_a_clear_error_without_the_token() {
    let (s, _p) = setup().await;
    let bad = "hvs.wrong-token-secret-value";
    let e = TransitProvider::connect(TransitConfig::new(s.addr(), VaultToken::new(bad.into())))
        .await
        .unwrap_err();
    assert!(matches!(e, TransitError::Denied { status: 403, .. }), "{e}");
    let msg = e.to_string();
    assert_eq!(
        msg,
        "vault transit denied access (HTTP 403): permission denied"
    );
    assert!(!msg.contains(bad) && !format!("{e:?}").contains(bad));

    let mut c = TransitConfig::new(s.addr(), VaultToken::new(TOKEN.into()));
    c.key = "missing".into();
    let e = TransitProvider::connect(c).await.unwrap_err();
    assert!(
        matches!(e, TransitError::Rejected { status: 404, .. }),
        "{e}"
    );
}

/// A vault that moved from the keyring to Vault Transit: old DEKs unwrap
/// under the keyring, new ones are wrapped by Transit, and a rewrap
/// migrates an old DEK (what `keys rotate --resume` does after the switch).
#[tokio::test]
async fn providers_route_unwrap_by_kind_and_migrate_on_rewrap() {
    use phivault_keys::keyring::Keyring;
    use phivault_keys::router::{Providers, kek_slot};
    use std::sync::Arc;
    let d = tempfile::tempdir().unwrap();
    let ring = Arc::new(Keyring::create(d.path(), "2026-01-01T00:00:00Z").unwrap());
    let dek = DataKey::generate().unwrap();
    let old = ring.wrap(&dek, "patients", "r1").await.unwrap();
    let (_s, transit) = setup().await;
    let p = Providers::new(Arc::new(transit), ring.clone());
    assert_eq!(p.current().provider, 3);
    assert_eq!(
        p.unwrap(&old, "patients", "r1").await.unwrap().expose(),
        dek.expose()
    );
    let moved = p.rewrap(&old, "patients", "r1").await.unwrap();
    assert_eq!(moved.kek.provider, 3);
    assert_ne!(kek_slot(moved.kek), kek_slot(old.kek));
    assert_eq!(
        p.unwrap(&moved, "patients", "r1").await.unwrap().expose(),
        dek.expose()
    );
    // A kind neither provider is refuses cleanly.
    let mut alien = moved.clone();
    alien.kek.provider = 2;
    assert!(matches!(
        p.unwrap(&alien, "patients", "r1").await,
        Err(UnwrapError::UnknownKek(_))
    ));
}
