//! `phivault compliance check`: the technical safeguards this install can
//! show, each mapped to its HIPAA Security Rule paragraph (45 CFR §164.312)
//! and, where one applies, to the pitfall of the brief it guards against,
//! with pass / warn / fail and a remediation.
//!
//! Every check reads the live install (configuration, keyring, store, audit
//! trail, certificate, log files) and can fail on some install: nothing here
//! passes by construction. Findings carry ids, counts, role and permission
//! names and file names, never a field value.

mod access;
mod audit;
pub mod html;
mod keys;
mod logs;
mod transmission;

use std::sync::Arc;

use phivault_keys::KeyProvider;
use phivault_keys::keyring::Keyring;
use phivault_store::Store;
use serde::Serialize;

use crate::config::{Config, KeyProviderConfig};

/// A finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In place.
    Pass,
    /// In place with a weakness.
    Warn,
    /// Not in place.
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// The §164.312 technical safeguards, (a)(1) through (e)(2)(ii).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Safeguard {
    /// (a)(1) access control.
    AccessControl,
    /// (a)(2)(i) unique user identification.
    UniqueUser,
    /// (a)(2)(ii) emergency access procedure.
    EmergencyAccess,
    /// (a)(2)(iii) automatic logoff.
    AutomaticLogoff,
    /// (a)(2)(iv) encryption and decryption.
    Encryption,
    /// (b) audit controls.
    AuditControls,
    /// (c)(1) integrity.
    Integrity,
    /// (c)(2) mechanism to authenticate electronic PHI.
    AuthenticateEphi,
    /// (d) person or entity authentication.
    Authentication,
    /// (e)(1) transmission security.
    Transmission,
    /// (e)(2)(i) integrity controls (in transmission).
    TransmissionIntegrity,
    /// (e)(2)(ii) encryption (in transmission).
    TransmissionEncryption,
}

impl Safeguard {
    /// Every safeguard, in the rule's order.
    pub const ALL: [Self; 12] = [
        Self::AccessControl,
        Self::UniqueUser,
        Self::EmergencyAccess,
        Self::AutomaticLogoff,
        Self::Encryption,
        Self::AuditControls,
        Self::Integrity,
        Self::AuthenticateEphi,
        Self::Authentication,
        Self::Transmission,
        Self::TransmissionIntegrity,
        Self::TransmissionEncryption,
    ];

    /// The paragraph, e.g. `164.312(a)(2)(iv)`.
    pub fn paragraph(self) -> &'static str {
        match self {
            Self::AccessControl => "164.312(a)(1)",
            Self::UniqueUser => "164.312(a)(2)(i)",
            Self::EmergencyAccess => "164.312(a)(2)(ii)",
            Self::AutomaticLogoff => "164.312(a)(2)(iii)",
            Self::Encryption => "164.312(a)(2)(iv)",
            Self::AuditControls => "164.312(b)",
            Self::Integrity => "164.312(c)(1)",
            Self::AuthenticateEphi => "164.312(c)(2)",
            Self::Authentication => "164.312(d)",
            Self::Transmission => "164.312(e)(1)",
            Self::TransmissionIntegrity => "164.312(e)(2)(i)",
            Self::TransmissionEncryption => "164.312(e)(2)(ii)",
        }
    }

    /// The standard's or specification's name.
    pub fn title(self) -> &'static str {
        match self {
            Self::AccessControl => "access control",
            Self::UniqueUser => "unique user identification",
            Self::EmergencyAccess => "emergency access procedure",
            Self::AutomaticLogoff => "automatic logoff",
            Self::Encryption => "encryption and decryption",
            Self::AuditControls => "audit controls",
            Self::Integrity => "integrity",
            Self::AuthenticateEphi => "mechanism to authenticate electronic PHI",
            Self::Authentication => "person or entity authentication",
            Self::Transmission => "transmission security",
            Self::TransmissionIntegrity => "transmission integrity controls",
            Self::TransmissionEncryption => "transmission encryption",
        }
    }
}

impl Serialize for Safeguard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.paragraph())
    }
}

/// The brief's pitfalls (its "3 Compliance Pitfalls That Haunt HealthTech
/// Teams", named as it names them) and the two lessons it tells as stories:
/// PHI in log files "just for debugging", and keys kept with patient data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pitfall {
    /// The "Temporary" Backdoor: developer shortcuts in access controls
    /// become permanent security gaps.
    TemporaryBackdoor,
    /// Outdated Encryption Practices: weak algorithms.
    OutdatedEncryption,
    /// Overpermissioned Accounts: broad access rights.
    OverpermissionedAccounts,
    /// Unencrypted patient data in log files, "just for debugging".
    DebugLogs,
    /// Keys and patient data in the same store.
    KeysWithPhi,
}

impl Pitfall {
    /// Every pitfall: the brief's three, then its two stories.
    pub const ALL: [Self; 5] = [
        Self::TemporaryBackdoor,
        Self::OutdatedEncryption,
        Self::OverpermissionedAccounts,
        Self::DebugLogs,
        Self::KeysWithPhi,
    ];

    /// As the brief names it.
    pub fn title(self) -> &'static str {
        match self {
            Self::TemporaryBackdoor => "The \"Temporary\" Backdoor",
            Self::OutdatedEncryption => "Outdated Encryption Practices",
            Self::OverpermissionedAccounts => "Overpermissioned Accounts",
            Self::DebugLogs => "PHI in log files \"just for debugging\"",
            Self::KeysWithPhi => "Keys stored with PHI",
        }
    }
}

/// One checked safeguard.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `keys.keyring_protected`.
    pub id: &'static str,
    /// The §164.312 paragraph.
    pub safeguard: Safeguard,
    /// The brief's pitfall this guards against, if one.
    pub pitfall: Option<Pitfall>,
    /// The verdict.
    pub status: Status,
    /// What was found (no PHI, no key material).
    pub summary: String,
    /// What to do when it is not a pass (empty on a pass).
    pub remediation: String,
}

impl Finding {
    /// A pass.
    pub(crate) fn pass(id: &'static str, safeguard: Safeguard, summary: impl Into<String>) -> Self {
        Self {
            id,
            safeguard,
            pitfall: None,
            status: Status::Pass,
            summary: summary.into(),
            remediation: String::new(),
        }
    }

    /// A warn or fail with its remediation.
    pub(crate) fn not_met(
        id: &'static str,
        safeguard: Safeguard,
        status: Status,
        summary: impl Into<String>,
        remediation: impl Into<String>,
    ) -> Self {
        Self {
            id,
            safeguard,
            pitfall: None,
            status,
            summary: summary.into(),
            remediation: remediation.into(),
        }
    }

    /// Tags the pitfall.
    pub(crate) fn pitfall(mut self, p: Pitfall) -> Self {
        self.pitfall = Some(p);
        self
    }

    /// A finding for a check that could not run: a warn (an auditor would
    /// ask why it could not be shown), naming the cause.
    pub(crate) fn unknown(
        id: &'static str,
        safeguard: Safeguard,
        why: impl std::fmt::Display,
    ) -> Self {
        Self::not_met(
            id,
            safeguard,
            Status::Warn,
            format!("could not be checked: {why}"),
            "fix the cause and run the check again",
        )
    }
}

/// What the check runs against: the resolved configuration and the opened
/// keyring, provider and store, as of `now`.
#[derive(Debug)]
pub struct Install<'a> {
    /// The configuration the server would run with.
    pub config: &'a Config,
    /// The opened keyring.
    pub keyring: &'a Keyring,
    /// The key provider (keyring, HSM or Vault).
    pub keys: &'a dyn KeyProvider,
    /// The PHI store.
    pub store: &'a Arc<dyn Store>,
    /// When the time-based checks are evaluated (normally now; a scheduled
    /// audit's date shows what will have lapsed by then).
    pub now: jiff::Timestamp,
    /// The access-review period in days (unused permissions, admin use).
    pub review_days: u32,
}

/// What the report says about the install it ran on (no secrets: the
/// database URL is reduced to its kind).
#[derive(Debug, Clone, Serialize)]
pub struct InstallInfo {
    /// The data directory.
    pub data_dir: String,
    /// `sqlite` or `postgresql`.
    pub store: &'static str,
    /// The tenant name.
    pub tenant: String,
    /// `keyring`, `pkcs11` or `vault-transit`.
    pub key_provider: &'static str,
    /// The phivault version.
    pub version: &'static str,
}

/// Counts per verdict.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    /// Passes.
    pub pass: usize,
    /// Warns.
    pub warn: usize,
    /// Fails.
    pub fail: usize,
}

/// A whole run: when, on what, and the findings.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the check ran (RFC 3339).
    pub generated_at: String,
    /// The time the time-based checks were evaluated at.
    pub evaluated_at: String,
    /// The install.
    pub install: InstallInfo,
    /// Counts per verdict.
    pub summary: Counts,
    /// The findings, in safeguard order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Builds the report from the findings of a run on `install`.
    pub fn new(install: &Install<'_>, mut findings: Vec<Finding>) -> Self {
        findings.sort_by_key(|f| f.safeguard);
        let mut summary = Counts::default();
        for f in &findings {
            match f.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        let c = install.config;
        Self {
            generated_at: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .map_or_else(|_| String::new(), |t| t.to_string()),
            evaluated_at: install
                .now
                .round(jiff::Unit::Second)
                .map_or_else(|_| String::new(), |t| t.to_string()),
            install: InstallInfo {
                data_dir: c.data_dir.display().to_string(),
                store: if c.database.is_some() {
                    "postgresql"
                } else {
                    "sqlite"
                },
                tenant: c.tenant.clone(),
                key_provider: match c.key_provider {
                    KeyProviderConfig::Keyring => "keyring",
                    KeyProviderConfig::Pkcs11 { .. } => "pkcs11",
                    KeyProviderConfig::VaultTransit { .. } => "vault-transit",
                },
                version: env!("CARGO_PKG_VERSION"),
            },
            summary,
            findings,
        }
    }
}

/// Runs every check against the install.
pub async fn check(install: &Install<'_>) -> Vec<Finding> {
    let audit = open_audit(install.config, install.store);
    let mut out = Vec::new();
    out.extend(keys::check(install).await);
    out.extend(transmission::check(install));
    out.extend(access::check(install, audit.as_ref().ok().and_then(Option::as_ref)).await);
    out.extend(
        audit::check(
            install,
            audit.as_ref().map(Option::as_ref).map_err(Clone::clone),
        )
        .await,
    );
    out.push(logs::check(install));
    out
}

/// The audit store, opened read-only (the server stays its one writer);
/// `None` when the embedded trail was never created (the server never ran).
fn open_audit(
    config: &Config,
    store: &Arc<dyn Store>,
) -> Result<Option<Arc<dyn phivault_store::audit::AuditStore>>, String> {
    if store.audit_store().is_none() && !config.audit_dir().exists() {
        return Ok(None);
    }
    crate::datadir::audit_store(config, store, false)
        .map(Some)
        .map_err(|e| e.to_string())
}
