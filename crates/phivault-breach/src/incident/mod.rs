//! Incidents: the record the server stores as a JSON document, the HIPAA
//! deadlines computed from it ([`deadlines`]) and its status rendering
//! ([`render_text`], [`render_json`]).

mod deadlines;
pub(crate) mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use deadlines::{Deadline, DeadlineState, deadlines};
pub use render::{render_json, render_text};

use crate::lockdown::Lockdown;
use crate::rules::Severity;
use crate::util::{ident, printable_line};

/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 500;
/// Longest step detail, in characters.
pub const MAX_DETAIL_CHARS: usize = 1000;
/// Most steps in one incident.
pub const MAX_STEPS: usize = 10_000;

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Its id (1-64 of `[A-Za-z0-9._:@-]`).
    pub id: String,
    /// How serious.
    pub severity: Severity,
    /// One printable line from the operator (the server also scrubs it for
    /// PHI).
    pub summary: String,
    /// When it was declared, µs since the epoch.
    pub declared_at_micros: i64,
    /// Who declared it.
    pub declared_by: String,
    /// When the breach was discovered, if earlier than the declaration
    /// (HIPAA's clock starts at discovery, §164.404(a)(2)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovered_at_micros: Option<i64>,
    /// What was done, in time order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// One step of the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When, µs since the epoch.
    pub at_micros: i64,
    /// Who (a user id, or `detector`).
    pub by: String,
    /// What.
    pub kind: StepKind,
    /// One printable line (ids, counts, codes).
    #[serde(default)]
    pub detail: String,
}

/// The kinds of response step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StepKind {
    /// The incident was declared.
    Declared,
    /// The actor was isolated (a lockdown was imposed).
    Isolated,
    /// The compliance (privacy) officer was alerted.
    ComplianceAlerted,
    /// Evidence was collected and sealed.
    EvidenceCollected,
    /// The affected individuals were computed.
    AffectedComputed {
        /// Individuals whose PHI was compromised.
        count: u64,
        /// The same, per state of residence (`unknown` when not known).
        per_state: BTreeMap<String, u64>,
    },
    /// Notices to individuals were sent (§164.404).
    IndividualsNotified,
    /// HHS was notified (§164.408).
    HhsNotified,
    /// Prominent media outlets were notified (§164.406).
    MediaNotified,
    /// Access was restored (lockdowns lifted).
    Restored,
    /// The incident was closed.
    Closed,
    /// A free note.
    Note,
}

/// An incident record is not acceptable; names the field (and the step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("incident `{field}` {reason}")]
pub struct IncidentError {
    /// The field, such as `summary` or `steps.detail`.
    pub field: &'static str,
    /// The 0-based step, for step fields.
    pub step: Option<usize>,
    /// What is expected.
    pub reason: &'static str,
}

fn err<T>(
    field: &'static str,
    step: Option<usize>,
    reason: &'static str,
) -> Result<T, IncidentError> {
    Err(IncidentError {
        field,
        step,
        reason,
    })
}

/// A user id as the server spells it, or `detector`.
fn valid_actor(s: &str) -> bool {
    crate::lockdown::valid_user_id(s)
}

impl Incident {
    /// A new incident with its `declared` step; validated.
    pub fn declare(
        id: &str,
        severity: Severity,
        summary: &str,
        at_micros: i64,
        by: &str,
    ) -> Result<Self, IncidentError> {
        let inc = Self {
            id: id.to_owned(),
            severity,
            summary: summary.to_owned(),
            declared_at_micros: at_micros,
            declared_by: by.to_owned(),
            discovered_at_micros: None,
            steps: vec![Step {
                at_micros,
                by: by.to_owned(),
                kind: StepKind::Declared,
                detail: String::new(),
            }],
        };
        inc.validate()?;
        Ok(inc)
    }

    /// When HIPAA's clock started: discovery, or the declaration.
    pub fn discovered_at(&self) -> i64 {
        self.discovered_at_micros.unwrap_or(self.declared_at_micros)
    }

    /// Appends a step after checking it against the record.
    pub fn record(&mut self, step: Step) -> Result<(), IncidentError> {
        self.steps.push(step);
        let checked = self.validate();
        if checked.is_err() {
            self.steps.pop();
        }
        checked
    }

    /// The first step of a kind (compared by variant).
    pub fn first(&self, kind: &StepKind) -> Option<&Step> {
        let d = std::mem::discriminant(kind);
        self.steps
            .iter()
            .find(|s| std::mem::discriminant(&s.kind) == d)
    }

    /// The latest affected computation: `(count, per_state)`.
    pub fn affected(&self) -> Option<(u64, &BTreeMap<String, u64>)> {
        self.steps.iter().rev().find_map(|s| match &s.kind {
            StepKind::AffectedComputed { count, per_state } => Some((*count, per_state)),
            _ => None,
        })
    }

    /// Whether a lockdown belongs to this incident.
    pub fn owns(&self, l: &Lockdown) -> bool {
        l.incident_id.as_deref() == Some(self.id.as_str())
    }

    /// Checks limits and consistency; the error names the first bad field.
    pub fn validate(&self) -> Result<(), IncidentError> {
        if !ident(&self.id, 64) {
            return err("id", None, "must be 1-64 letters, digits or `._:@-`");
        }
        let n = self.summary.chars().count();
        if self.summary.trim().is_empty() || n > MAX_SUMMARY_CHARS || !printable_line(&self.summary)
        {
            return err(
                "summary",
                None,
                "must be one printable line of 1-500 characters",
            );
        }
        if !valid_actor(&self.declared_by) {
            return err("declared_by", None, "must be a user id");
        }
        if self
            .discovered_at_micros
            .is_some_and(|d| d > self.declared_at_micros)
        {
            return err(
                "discovered_at_micros",
                None,
                "must not be after the declaration",
            );
        }
        if self.steps.len() > MAX_STEPS {
            return err("steps", None, "must hold at most 10000 steps");
        }
        let mut last = self.declared_at_micros;
        for (i, s) in self.steps.iter().enumerate() {
            let at = Some(i);
            if s.at_micros < last {
                return err(
                    "steps.at_micros",
                    at,
                    "must not go back in time or precede the declaration",
                );
            }
            last = s.at_micros;
            if !valid_actor(&s.by) {
                return err("steps.by", at, "must be a user id");
            }
            if s.detail.chars().count() > MAX_DETAIL_CHARS || !printable_line(&s.detail) {
                return err(
                    "steps.detail",
                    at,
                    "must be one printable line of at most 1000 characters",
                );
            }
            match &s.kind {
                StepKind::Declared if i != 0 => {
                    return err("steps.kind", at, "`declared` can only be the first step");
                }
                StepKind::AffectedComputed { count, per_state } => {
                    if per_state.keys().any(|k| !ident(k, 32)) {
                        return err(
                            "steps.kind.per_state",
                            at,
                            "state names must be 1-32 letters or digits",
                        );
                    }
                    let sum = per_state.values().try_fold(0u64, |a, v| a.checked_add(*v));
                    if sum != Some(*count) {
                        return err("steps.kind.per_state", at, "must add up to `count`");
                    }
                }
                _ => {}
            }
            if i > 0
                && matches!(
                    self.steps.get(i - 1).map(|p| &p.kind),
                    Some(StepKind::Closed)
                )
            {
                return err("steps.kind", at, "no step may follow `closed`");
            }
        }
        Ok(())
    }
}
