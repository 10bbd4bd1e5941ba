//! The breach notification list: which patients an actor's events touched
//! within a window, from the audit trail.
//!
//! Exact over the events given: every event of the actor that names a
//! patient counts. A patient is *compromised* (and counts towards
//! notification) when PHI was disclosed (a successful view, search hit,
//! export or custom use; the break-glass grant itself discloses nothing)
//! or the record was successfully written; denied or failed events are
//! *attempts* only. Searches and exports that return records without
//! naming their patients cannot be attributed: they are counted apart
//! ([`Unattributed`]) and the list says it is incomplete. Events whose
//! timestamp cannot be read are included (never silently dropped) and
//! counted in [`AffectedList::untimed_events`].

mod csv;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use phivault_audit::{Event, Outcome};

use crate::access::{bulk_count, discloses, writes};
use crate::incident::StepKind;
use crate::lockdown::normalize_net;
use crate::util::parse_micros;

/// Whose events are examined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user id, exactly.
    User(String),
    /// A token public id, exactly.
    Token(String),
    /// Every client address in a network.
    Ip(IpNet),
}

impl Actor {
    /// Whether the event is this actor's.
    pub fn matches(&self, e: &Event) -> bool {
        match self {
            Self::User(u) => e.user == *u,
            Self::Token(t) => e.token.as_deref() == Some(t.as_str()),
            Self::Ip(net) => e
                .context
                .ip
                .parse::<IpAddr>()
                .is_ok_and(|a| normalize_net(*net).contains(&a.to_canonical())),
        }
    }
}

/// The question: an actor's events between two instants (both inclusive,
/// µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedQuery {
    /// Whose.
    pub actor: Actor,
    /// From (inclusive).
    pub since_micros: i64,
    /// To (inclusive).
    pub until_micros: i64,
}

/// How a patient's record was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// PHI was disclosed.
    Disclosed,
    /// The record was written, not read.
    Modified,
    /// Only denied or failed attempts.
    Attempted,
    /// Other successful events naming the patient (a break-glass grant, a
    /// care-team change) that neither read nor wrote PHI.
    Other,
}

impl Access {
    /// The CSV word: `yes`, `modified`, `attempted`, `no`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disclosed => "yes",
            Self::Modified => "modified",
            Self::Attempted => "attempted",
            Self::Other => "no",
        }
    }
}

/// One patient on the list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AffectedEntry {
    /// The patient's record id (a pseudonym).
    pub patient_id: String,
    /// Field names disclosed or written (union; attempts carry none).
    pub fields: BTreeSet<String>,
    /// Earliest event, µs (none when no event's time was readable).
    pub first_access_micros: Option<i64>,
    /// Latest event, µs.
    pub last_access_micros: Option<i64>,
    /// Events naming this patient.
    pub events: u64,
    /// Successful disclosures.
    pub disclosures: u64,
    /// Successful writes.
    pub writes: u64,
    /// Denied or failed events.
    pub attempts: u64,
}

impl AffectedEntry {
    /// Whether PHI was disclosed.
    pub fn disclosed(&self) -> bool {
        self.disclosures > 0
    }

    /// Whether the patient counts for notification (disclosed or written).
    pub fn compromised(&self) -> bool {
        self.disclosures > 0 || self.writes > 0
    }

    /// The strongest kind of access.
    pub fn access(&self) -> Access {
        match (self.disclosures, self.writes, self.attempts) {
            (1.., _, _) => Access::Disclosed,
            (0, 1.., _) => Access::Modified,
            (0, 0, n) if n == self.events => Access::Attempted,
            _ => Access::Other,
        }
    }
}

/// Successful searches and exports by the actor whose results name no
/// patient in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unattributed {
    /// Such events.
    pub events: u64,
    /// Records they returned, in total (as logged in `count`).
    pub records: u64,
}

/// Who must be notified, by the thresholds of §164.406 and §164.408.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifications {
    /// Compromised individuals.
    pub individuals: u64,
    /// 500 or more: HHS is notified with the individuals (§164.408(b)).
    pub hhs_immediate: bool,
    /// States with more than 500 compromised residents (§164.406), `unknown`
    /// included as if it were one state.
    pub media_states: Vec<String>,
}

/// The list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AffectedList {
    /// Per patient, by patient id.
    pub entries: BTreeMap<String, AffectedEntry>,
    /// Bulk results not attributable to patients.
    pub unattributed: Unattributed,
    /// The actor's events examined.
    pub events: u64,
    /// Of those, events with an unreadable timestamp (included).
    pub untimed_events: u64,
}

/// Builds the list from `events` for `query`.
pub fn affected<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    query: &AffectedQuery,
) -> AffectedList {
    let mut list = AffectedList::default();
    for e in events {
        if !query.actor.matches(e) {
            continue;
        }
        let at = parse_micros(&e.timestamp);
        if at.is_some_and(|t| t < query.since_micros || t > query.until_micros) {
            continue;
        }
        list.events += 1;
        if at.is_none() {
            list.untimed_events += 1;
        }
        if let Some(n) = bulk_count(e) {
            list.unattributed.events += 1;
            list.unattributed.records = list.unattributed.records.saturating_add(n);
        }
        let Some(pid) = &e.patient_id else { continue };
        let entry = list
            .entries
            .entry(pid.clone())
            .or_insert_with(|| AffectedEntry {
                patient_id: pid.clone(),
                ..AffectedEntry::default()
            });
        entry.events += 1;
        if let Some(t) = at {
            entry.first_access_micros = Some(entry.first_access_micros.map_or(t, |f| f.min(t)));
            entry.last_access_micros = Some(entry.last_access_micros.map_or(t, |l| l.max(t)));
        }
        let (disclosed, written) = (discloses(e), writes(e));
        if disclosed {
            entry.disclosures += 1;
        }
        if written {
            entry.writes += 1;
        }
        if disclosed || written {
            entry.fields.extend(e.fields.iter().cloned());
        }
        if e.outcome != Outcome::Success {
            entry.attempts += 1;
        }
    }
    list
}

impl AffectedList {
    /// Compromised individuals.
    pub fn compromised(&self) -> impl Iterator<Item = &AffectedEntry> {
        self.entries.values().filter(|e| e.compromised())
    }

    /// Whether some results could not be attributed to patients (the list
    /// may then be incomplete).
    pub fn incomplete(&self) -> bool {
        self.unattributed.records > 0 || self.unattributed.events > 0
    }

    /// Compromised individuals per state (`unknown` when `state_of` does
    /// not know).
    pub fn per_state(&self, state_of: impl Fn(&str) -> Option<String>) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for e in self.compromised() {
            let state = state_of(&e.patient_id).unwrap_or_else(|| "unknown".to_owned());
            *out.entry(state).or_insert(0u64) += 1;
        }
        out
    }

    /// The notification thresholds.
    pub fn notifications(&self, state_of: impl Fn(&str) -> Option<String>) -> Notifications {
        let per_state = self.per_state(state_of);
        let individuals = per_state.values().sum();
        Notifications {
            individuals,
            hhs_immediate: individuals >= 500,
            media_states: per_state
                .into_iter()
                .filter(|(_, n)| *n > 500)
                .map(|(s, _)| s)
                .collect(),
        }
    }

    /// The incident step recording this computation.
    pub fn step_kind(&self, state_of: impl Fn(&str) -> Option<String>) -> StepKind {
        let per_state = self.per_state(state_of);
        StepKind::AffectedComputed {
            count: per_state.values().sum(),
            per_state,
        }
    }
}
