//! The accounting of disclosures (HIPAA §164.528) and the patient access
//! report: from the events naming a patient, who saw what, when and why.

use phivault_audit::Event;
use serde::Serialize;

/// One disclosure or access.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Disclosure {
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub user: String,
    /// What was done (`viewed`, `searched`, `exported`, `modified`, …).
    pub action: String,
    /// Which fields.
    pub fields: Vec<String>,
    /// Purpose of use, when the request gave one.
    pub purpose: Option<String>,
    /// Emergency access.
    pub break_glass: bool,
    /// Audit index (to fetch the event and its inclusion proof).
    pub index: u64,
}

/// The successful accesses among `events` that disclosed or changed the
/// patient's PHI, oldest first.
pub fn disclosures(patient: &str, events: &[Event]) -> Vec<Disclosure> {
    events
        .iter()
        .filter(|e| e.patient_id.as_deref() == Some(patient))
        .filter(|e| {
            e.is_disclosure() || matches!(e.action.as_str(), "modified" | "created" | "deleted")
        })
        .filter(|e| e.outcome == phivault_audit::Outcome::Success)
        .map(|e| Disclosure {
            at: e.timestamp.clone(),
            user: e.user.clone(),
            action: e.action.clone(),
            fields: e.fields.clone(),
            purpose: e.purpose.clone(),
            break_glass: e.flags.iter().any(|f| f == "break_glass"),
            index: e.index,
        })
        .collect()
}

/// A readable report.
pub fn render(patient: &str, list: &[Disclosure]) -> String {
    let mut out = format!(
        "Accounting of disclosures for patient {patient}\n{} entries\n\n",
        list.len()
    );
    for d in list {
        out.push_str(&format!(
            "{}  {:<24} {:<10} fields: {}  purpose: {}{}  [audit #{}]\n",
            d.at,
            d.user,
            d.action,
            if d.fields.is_empty() {
                "-".to_owned()
            } else {
                d.fields.join(", ")
            },
            d.purpose.as_deref().unwrap_or("not stated"),
            if d.break_glass { "  BREAK-GLASS" } else { "" },
            d.index
        ));
    }
    out
}
