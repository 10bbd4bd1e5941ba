//! Keys and encryption at rest: keyring protection, KEK age, keys apart
//! from PHI, DEKs under the current KEK, and a sample of sealed records
//! checked for the current algorithm and an intact AEAD envelope.

use phivault_core::envelope::{Algorithm, FORMAT_V1, WrappedDek, field_header};
use phivault_keys::router::{kek_slot, kind_name, slot_kek};
use phivault_store::DekFilter;

use super::{Finding, Install, Pitfall, Safeguard, Status};
use crate::config::KeyProviderConfig;

/// Records whose envelope is sampled (wrapped DEK unwrapped, field headers
/// read): enough to catch a swapped keyring or a legacy format, bounded so
/// the check stays quick on millions of records.
const SAMPLE: u32 = 256;

pub(super) async fn check(i: &Install<'_>) -> Vec<Finding> {
    let mut out = vec![keyring_protected(i), kek_age(i).await, separation(i).await];
    out.push(deks_current(i).await);
    out.push(envelope(i).await);
    out
}

fn keyring_protected(i: &Install<'_>) -> Finding {
    const ID: &str = "keys.keyring_protected";
    let external = !matches!(i.config.key_provider, KeyProviderConfig::Keyring);
    match (i.keyring.is_protected(), external) {
        (true, _) => Finding::pass(
            ID,
            Safeguard::Encryption,
            "the keyring is sealed under an argon2id passphrase",
        ),
        (false, true) => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Warn,
            "KEKs are in the HSM/KMS, but the keyring holding the blind-index root is not passphrase-protected",
            "set PHIVAULT_KEYRING_NEW_PASSPHRASE and run `phivault keys protect`",
        ),
        (false, false) => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Fail,
            "the keyring is not passphrase-protected: a copy of keys/ decrypts every record",
            "set PHIVAULT_KEYRING_NEW_PASSPHRASE and run `phivault keys protect`, or use key_provider = pkcs11 | vault-transit",
        ),
    }
    .pitfall(Pitfall::KeysWithPhi)
}

async fn kek_age(i: &Install<'_>) -> Finding {
    const ID: &str = "keys.kek_age";
    let age = crate::providers::current_age_days(i.keys, i.now).await;
    let period = i64::from(i.config.key_rotation_days);
    match age {
        Some(d) if d > period => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Fail,
            format!("the current KEK is {d} days old; the rotation period is {period} days"),
            "run `phivault keys rotate` (or set auto_rotate = true)",
        ),
        Some(d) if d * 10 > period * 8 => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Warn,
            format!("the current KEK is {d} days old, near the rotation period of {period} days"),
            "rotate before the period ends: `phivault keys rotate`",
        ),
        Some(d) => Finding::pass(
            ID,
            Safeguard::Encryption,
            format!("the current KEK is {d} days old (rotation period {period} days)"),
        ),
        None => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Warn,
            "the provider does not record when the current KEK was created",
            "track rotation dates in the HSM/KMS",
        ),
    }
    .pitfall(Pitfall::OutdatedEncryption)
}

async fn separation(i: &Install<'_>) -> Finding {
    const ID: &str = "keys.separation";
    let sep = match crate::datadir::check_separation(i.config, i.keyring.path()) {
        Ok(()) => crate::datadir::check_store_separation(i.config, i.store, i.keyring.path()).await,
        Err(e) => Err(e),
    };
    match sep {
        Ok(()) => Finding::pass(
            ID,
            Safeguard::Encryption,
            "key material (keyring, audit signing key) is stored apart from the PHI store",
        ),
        Err(e) => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Fail,
            e.to_string(),
            "move keys/ and audit-key/ off the database's storage",
        ),
    }
    .pitfall(Pitfall::KeysWithPhi)
}

async fn deks_current(i: &Install<'_>) -> Finding {
    const ID: &str = "keys.deks_current";
    let slot = kek_slot(i.keys.current());
    match crate::rekey::outstanding(i.store.as_ref(), slot).await {
        Ok(0) => Finding::pass(
            ID,
            Safeguard::Encryption,
            "every data key is wrapped under the current KEK",
        ),
        Ok(n) => Finding::not_met(
            ID,
            Safeguard::Encryption,
            Status::Warn,
            format!("{n} data keys are not under the current KEK (a rotation is unfinished)"),
            "finish the rotation: `phivault keys rotate --resume`",
        ),
        Err(e) => Finding::unknown(ID, Safeguard::Encryption, e),
    }
    .pitfall(Pitfall::OutdatedEncryption)
}

/// Unwraps a sample of data keys (the AES-256-GCM tag and the AAD binding
/// collection and record are verified; the key is dropped at once) and
/// reads the header of every sealed field of those records. No field is
/// decrypted.
async fn envelope(i: &Install<'_>) -> Finding {
    const ID: &str = "keys.envelope";
    let rows = match i.store.list_deks(DekFilter::All, None, SAMPLE).await {
        Ok(r) => r,
        Err(e) => return Finding::unknown(ID, Safeguard::AuthenticateEphi, e),
    };
    let current = i.keys.current();
    let (mut bad_wrap, mut legacy, mut fields) = (0u64, 0u64, 0u64);
    for r in &rows {
        let opened = match WrappedDek::decode(&r.wrapped_dek) {
            Ok(w) => i.keys.unwrap(&w, &r.collection, &r.id).await.is_ok(),
            Err(_) => false,
        };
        if !opened {
            bad_wrap += 1;
        }
        if slot_kek(r.kek_version).provider != current.provider {
            legacy += 1;
        }
        if let Ok(Some(rec)) = i.store.get_record(&r.collection, &r.id).await {
            for s in rec.sealed.values() {
                fields += 1;
                let ok = field_header(s).is_some_and(|(ver, alg, _)| {
                    ver == FORMAT_V1 && Algorithm::from_id(alg) == Some(Algorithm::Aes256Gcm)
                });
                if !ok {
                    legacy += 1;
                }
            }
        }
    }
    let n = rows.len();
    if bad_wrap > 0 {
        return Finding::not_met(
            ID,
            Safeguard::AuthenticateEphi,
            Status::Fail,
            format!(
                "{bad_wrap} of {n} sampled data keys do not open under the configured provider (AEAD tag or record binding rejected): those records cannot be authenticated or read"
            ),
            "restore the keyring (or HSM/Vault key) these records were sealed with; `phivault keys scan` lists them",
        )
        .pitfall(Pitfall::OutdatedEncryption);
    }
    if legacy > 0 {
        return Finding::not_met(
            ID,
            Safeguard::AuthenticateEphi,
            Status::Warn,
            format!(
                "{legacy} sampled data keys or fields use another provider ({}) or a field format other than v1 AES-256-GCM",
                kind_name(current.provider)
            ),
            "run `phivault keys rotate` and `phivault keys reencrypt`",
        )
        .pitfall(Pitfall::OutdatedEncryption);
    }
    Finding::pass(
        ID,
        Safeguard::AuthenticateEphi,
        if n == 0 {
            "no records yet; every PHI field is sealed with AES-256-GCM under a per-record key".to_owned()
        } else {
            format!(
                "{n} sampled data keys open under the configured provider and their {fields} fields are v1 AES-256-GCM (tag and record binding verified; nothing decrypted)"
            )
        },
    )
    .pitfall(Pitfall::OutdatedEncryption)
}
