//! Rating the four factors and drawing the conclusion.

use super::{FieldKind, RiskInputs};
use crate::incident::StepKind;
use crate::util::MINUTE;

/// A factor's contribution to the probability of compromise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rating {
    /// Points to a low probability of compromise.
    Low,
    /// Neither low nor high.
    Moderate,
    /// Points to compromise.
    High,
}

impl Rating {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Moderate => "moderate",
            Self::High => "high",
        }
    }
}

/// The determination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// §164.402(2): the incident is presumed a breach; notify.
    BreachPresumed,
    /// The factors show a low probability that the PHI was compromised.
    LowProbability,
}

/// The rated factors, each with its reason, and the conclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// (i) nature and extent.
    pub nature: (Rating, &'static str),
    /// (ii) the unauthorized person.
    pub person: (Rating, &'static str),
    /// (iii) acquired or viewed.
    pub acquisition: (Rating, &'static str),
    /// (iv) mitigation.
    pub mitigation: (Rating, &'static str),
    /// The conclusion.
    pub conclusion: Conclusion,
    /// Time from detection (or declaration) to isolation, µs.
    pub time_to_isolate_micros: Option<i64>,
}

/// Isolation within this of detection counts as prompt (the plan's 15 min).
const PROMPT: i64 = 15 * MINUTE;

impl RiskInputs {
    /// When the actor was isolated: the given time, or the incident's first
    /// `isolated` step.
    pub fn isolated_at(&self) -> Option<i64> {
        self.mitigation.isolated_at_micros.or_else(|| {
            self.incident
                .first(&StepKind::Isolated)
                .map(|s| s.at_micros)
        })
    }

    /// Rates the factors.
    pub fn assess(&self) -> Assessment {
        let kinds: Vec<FieldKind> = self.nature.fields.values().copied().collect();
        let worst = kinds.iter().max().copied().unwrap_or(FieldKind::Other);
        let identifiers = kinds.contains(&FieldKind::Identifier);
        let n = &self.nature;
        let nature = if worst >= FieldKind::Financial {
            (
                Rating::High,
                "financial, government or specially protected clinical information",
            )
        } else if identifiers && kinds.contains(&FieldKind::Clinical) {
            (
                Rating::High,
                "clinical information together with identifiers",
            )
        } else if n.unattributed_records > 0 {
            (
                Rating::High,
                "bulk results of unknown content that name no patient",
            )
        } else if worst > FieldKind::Other {
            (
                Rating::Moderate,
                "identifiers or clinical information, not both",
            )
        } else if n.individuals == 0 {
            (Rating::Low, "no individual's PHI was involved")
        } else {
            (Rating::Moderate, "field kinds not established")
        };
        let p = &self.person;
        let person = if p.obligated_recipient {
            (
                Rating::Low,
                "the recipient is itself obliged to protect PHI",
            )
        } else if p.internal == Some(true) {
            (
                Rating::Low,
                "a workforce member bound by the entity's privacy obligations",
            )
        } else if p.internal == Some(false) {
            (
                Rating::High,
                "an external party with no obligation to protect PHI",
            )
        } else {
            (
                Rating::High,
                "the person is not identified; treated as external",
            )
        };
        let a = &self.acquisition;
        let acquisition = if n.individuals > a.disclosed.saturating_add(a.modified) {
            // Inconsistent inputs never argue for a low probability.
            (
                Rating::High,
                "more individuals compromised than disclosures and writes recorded",
            )
        } else if a.disclosed > 0 || a.unattributed_records > 0 {
            (Rating::High, "PHI was disclosed to the person")
        } else if a.modified > 0 {
            (Rating::Moderate, "records were written but not read")
        } else {
            (
                Rating::Low,
                "only denied or failed attempts; no PHI was returned",
            )
        };
        let start = self
            .mitigation
            .detected_at_micros
            .unwrap_or(self.incident.declared_at_micros);
        let time_to_isolate = self.isolated_at().map(|t| t.saturating_sub(start).max(0));
        let prompt = time_to_isolate.is_some_and(|t| t <= PROMPT);
        let mitigation = match (prompt, self.mitigation.recipient_assurance) {
            (true, true) => (
                Rating::Low,
                "isolated promptly and assurance of return or destruction obtained",
            ),
            (true, false) => (
                Rating::Moderate,
                "isolated promptly; no assurance from the recipient",
            ),
            (false, true) => (
                Rating::Moderate,
                "assurance obtained, but isolation was late or is missing",
            ),
            (false, false) => (
                Rating::High,
                "isolation was late or is missing, and no assurance obtained",
            ),
        };
        let all_low = [nature.0, person.0, acquisition.0, mitigation.0]
            .iter()
            .all(|r| *r == Rating::Low);
        let conclusion = if acquisition.0 == Rating::Low || all_low {
            Conclusion::LowProbability
        } else {
            Conclusion::BreachPresumed
        };
        Assessment {
            nature,
            person,
            acquisition,
            mitigation,
            conclusion,
            time_to_isolate_micros: time_to_isolate,
        }
    }
}
