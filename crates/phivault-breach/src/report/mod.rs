//! The breach risk assessment of 45 CFR §164.402(2): an unauthorized
//! acquisition, access, use or disclosure of PHI is presumed a breach
//! unless a documented assessment of at least four factors shows a low
//! probability that the PHI has been compromised:
//!
//! 1. the nature and extent of the PHI involved, including the types of
//!    identifiers and the likelihood of re-identification ([`Nature`]);
//! 2. the unauthorized person who used the PHI or to whom it was disclosed
//!    ([`Person`]);
//! 3. whether the PHI was actually acquired or viewed ([`Acquisition`]);
//! 4. the extent to which the risk has been mitigated ([`Mitigation`]).
//!
//! [`RiskInputs::assess`] rates each factor and draws the conclusion;
//! [`RiskInputs::to_markdown`] and [`RiskInputs::to_html`] render the
//! report with the incident's timeline and deadlines. The conclusion is
//! conservative and advisory: it is *low probability* only when no PHI was
//! acquired or viewed, or when all four factors rate low; the privacy
//! officer signs the final determination.

mod assess;
mod doc;
mod fields;
pub(crate) mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use assess::{Assessment, Conclusion, Rating};
pub use fields::FieldKind;

use crate::affected::AffectedList;
use crate::incident::Incident;

/// Factor (i): the PHI involved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nature {
    /// Individuals whose PHI was compromised.
    pub individuals: u64,
    /// Field names involved, with their kind.
    pub fields: BTreeMap<String, FieldKind>,
    /// Records returned by searches or exports that name no patient.
    pub unattributed_records: u64,
}

impl Nature {
    /// From an affected list, classifying field names by
    /// [`FieldKind::classify`] (callers with a schema may override kinds).
    pub fn from_list(list: &AffectedList) -> Self {
        let fields = list
            .compromised()
            .flat_map(|e| e.fields.iter())
            .map(|f| (f.clone(), FieldKind::classify(f)))
            .collect();
        Self {
            individuals: u64::try_from(list.compromised().count()).unwrap_or(u64::MAX),
            fields,
            unattributed_records: list.unattributed.records,
        }
    }
}

/// Factor (ii): who used or received the PHI.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// The actor, as a scope (`user:ID`, `token:ID`, `ip:CIDR`).
    pub actor: String,
    /// Whether a workforce member (`None`: not established).
    pub internal: Option<bool>,
    /// The actor's role, when known.
    pub role: Option<String>,
    /// The recipient is itself obliged to protect PHI (a covered entity or
    /// business associate).
    pub obligated_recipient: bool,
}

/// Factor (iii): whether the PHI was actually acquired or viewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Acquisition {
    /// Individuals whose PHI was disclosed.
    pub disclosed: u64,
    /// Individuals whose record was written but not read.
    pub modified: u64,
    /// Individuals reached by denied or failed attempts only.
    pub attempted_only: u64,
    /// Bulk results that name no patient.
    pub unattributed_records: u64,
}

impl Acquisition {
    /// From an affected list.
    pub fn from_list(list: &AffectedList) -> Self {
        use crate::affected::Access;
        let count = |a: Access| {
            let n = list.entries.values().filter(|e| e.access() == a).count();
            u64::try_from(n).unwrap_or(u64::MAX)
        };
        Self {
            disclosed: count(Access::Disclosed),
            modified: count(Access::Modified),
            attempted_only: count(Access::Attempted),
            unattributed_records: list.unattributed.records,
        }
    }
}

/// Factor (iv): what was done to reduce the risk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mitigation {
    /// When the activity was detected, µs.
    pub detected_at_micros: Option<i64>,
    /// When the actor was isolated, µs (defaults to the incident's first
    /// `isolated` step).
    pub isolated_at_micros: Option<i64>,
    /// Lockdowns imposed, as scopes.
    pub lockdowns: Vec<String>,
    /// Sessions revoked.
    pub sessions_revoked: u64,
    /// Tokens revoked.
    pub tokens_revoked: u64,
    /// Keys rotated.
    pub keys_rotated: bool,
    /// Satisfactory assurance obtained that the PHI was returned or
    /// destroyed and not further used or disclosed.
    pub recipient_assurance: bool,
    /// Other measures, one line each (operator text).
    pub notes: Vec<String>,
}

/// Everything the report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskInputs {
    /// The incident (timeline and deadlines come from it).
    pub incident: Incident,
    /// When the report is produced, µs.
    pub now_micros: i64,
    /// Factor (i).
    pub nature: Nature,
    /// Factor (ii).
    pub person: Person,
    /// Factor (iii).
    pub acquisition: Acquisition,
    /// Factor (iv).
    pub mitigation: Mitigation,
}
