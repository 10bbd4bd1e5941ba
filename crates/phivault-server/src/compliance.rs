//! `phivault compliance check`: the technical safeguards this install can
//! show, each mapped to its HIPAA Security Rule paragraph (45 CFR §164.312)
//! with pass / warn / fail and a remediation. This first set covers keys,
//! transmission and automatic logoff; issue 9 extends it.

use phivault_keys::KeyProvider;
use phivault_keys::keyring::Keyring;
use phivault_keys::router::kek_slot;
use phivault_store::Store;
use serde::Serialize;

use crate::config::{Config, KeyProviderConfig};

/// A finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In place.
    Pass,
    /// In place with a weakness.
    Warn,
    /// Not in place.
    Fail,
}

/// One checked safeguard.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `keys.keyring_protected`.
    pub id: &'static str,
    /// The §164.312 paragraph.
    pub safeguard: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found (no PHI, no key material).
    pub summary: String,
    /// What to do when it is not a pass.
    pub remediation: &'static str,
}

const ENCRYPTION: &str = "164.312(a)(2)(iv) encryption and decryption";

fn finding(
    id: &'static str,
    safeguard: &'static str,
    status: Status,
    summary: String,
    remediation: &'static str,
) -> Finding {
    Finding {
        id,
        safeguard,
        status,
        summary,
        remediation,
    }
}

/// Runs every check against an opened configuration, keyring, provider and
/// store.
pub async fn check(
    config: &Config,
    keyring: &Keyring,
    keys: &dyn KeyProvider,
    store: &std::sync::Arc<dyn Store>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let external = !matches!(config.key_provider, KeyProviderConfig::Keyring);
    out.push(match (keyring.is_protected(), external) {
        (true, _) => finding(
            "keys.keyring_protected",
            ENCRYPTION,
            Status::Pass,
            "the keyring is sealed under an argon2id passphrase".into(),
            "",
        ),
        (false, true) => finding(
            "keys.keyring_protected",
            ENCRYPTION,
            Status::Warn,
            "KEKs are in the HSM/KMS, but the keyring holding the blind-index root is not passphrase-protected".into(),
            "set PHIVAULT_KEYRING_NEW_PASSPHRASE and run `phivault keys protect`",
        ),
        (false, false) => finding(
            "keys.keyring_protected",
            ENCRYPTION,
            Status::Fail,
            "the keyring is not passphrase-protected: a copy of keys/ decrypts every record".into(),
            "set PHIVAULT_KEYRING_NEW_PASSPHRASE and run `phivault keys protect`, or use key_provider = pkcs11 | vault-transit",
        ),
    });
    let age = crate::providers::current_age_days(keys, jiff::Timestamp::now()).await;
    let period = i64::from(config.key_rotation_days);
    out.push(match age {
        Some(d) if d > period => finding(
            "keys.kek_age",
            ENCRYPTION,
            Status::Fail,
            format!("the current KEK is {d} days old; the rotation period is {period} days"),
            "run `phivault keys rotate` (or set auto_rotate = true)",
        ),
        Some(d) => finding(
            "keys.kek_age",
            ENCRYPTION,
            if d * 10 > period * 8 {
                Status::Warn
            } else {
                Status::Pass
            },
            format!("the current KEK is {d} days old (period {period} days)"),
            "rotate before the period ends: `phivault keys rotate`",
        ),
        None => finding(
            "keys.kek_age",
            ENCRYPTION,
            Status::Warn,
            "the provider does not record when the current KEK was created".into(),
            "track rotation dates in the HSM/KMS",
        ),
    });
    let sep = match crate::datadir::check_separation(config, keyring.path()) {
        Ok(()) => crate::datadir::check_store_separation(config, store, keyring.path()).await,
        Err(e) => Err(e),
    };
    out.push(match sep {
        Ok(()) => finding(
            "keys.separation",
            ENCRYPTION,
            Status::Pass,
            "key material is stored apart from the PHI store".into(),
            "",
        ),
        Err(e) => finding(
            "keys.separation",
            ENCRYPTION,
            Status::Fail,
            e.to_string(),
            "move keys/ off the database's storage",
        ),
    });
    let slot = kek_slot(keys.current());
    let behind = crate::rekey::outstanding(store.as_ref(), slot)
        .await
        .unwrap_or(0);
    out.push(finding(
        "keys.deks_current",
        ENCRYPTION,
        if behind == 0 {
            Status::Pass
        } else {
            Status::Warn
        },
        format!("{behind} data keys are not under the current KEK"),
        "finish the rotation: `phivault keys rotate --resume`",
    ));
    let idle = config.session_idle.as_mins();
    out.push(finding(
        "access.automatic_logoff",
        "164.312(a)(2)(iii) automatic logoff",
        if idle <= 15 {
            Status::Pass
        } else {
            Status::Fail
        },
        format!("sessions end after {idle} idle minutes"),
        "set session_idle_minutes to 15 or less",
    ));
    out.push(if config.insecure_http {
        finding(
            "transmission.tls",
            "164.312(e)(1) transmission security",
            Status::Fail,
            "the server is configured for plain HTTP".into(),
            "remove insecure_http; serve TLS",
        )
    } else {
        finding(
            "transmission.tls",
            "164.312(e)(1) transmission security",
            Status::Pass,
            "TLS 1.2+ only (rustls)".into(),
            "",
        )
    });
    out
}
