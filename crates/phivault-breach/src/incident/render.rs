//! `phivault incident status`: a text table and a JSON document.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Incident, deadlines};
use crate::util::rfc3339;

fn time_or_dash(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_owned(), rfc3339)
}

/// The status as a text table (the summary was validated as one printable
/// line, so nothing here can move the terminal's cursor).
pub fn render_text(inc: &Incident, now_micros: i64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "incident  {}", inc.id);
    let _ = writeln!(s, "severity  {}", inc.severity);
    let _ = writeln!(s, "summary   {}", inc.summary);
    let _ = writeln!(
        s,
        "declared  {} by {}",
        rfc3339(inc.declared_at_micros),
        inc.declared_by
    );
    if let Some(d) = inc.discovered_at_micros {
        let _ = writeln!(s, "discovered {}", rfc3339(d));
    }
    if let Some((count, _)) = inc.affected() {
        let _ = writeln!(s, "affected  {count}");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{:<20} {:<28} {:<28} STATE", "DEADLINE", "DUE", "MET");
    for d in deadlines(inc, now_micros) {
        let _ = writeln!(
            s,
            "{:<20} {:<28} {:<28} {}",
            d.name,
            time_or_dash(d.due_at_micros),
            time_or_dash(d.met_at_micros),
            d.state.as_str()
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{:<28} {:<20} {:<24} DETAIL", "STEP AT", "KIND", "BY");
    for step in &inc.steps {
        let _ = writeln!(
            s,
            "{:<28} {:<20} {:<24} {}",
            rfc3339(step.at_micros),
            kind_name(&step.kind),
            step.by,
            step.detail
        );
    }
    s
}

/// The wire name of a step kind.
pub(crate) fn kind_name(k: &super::StepKind) -> &'static str {
    use super::StepKind as K;
    match k {
        K::Declared => "declared",
        K::Isolated => "isolated",
        K::ComplianceAlerted => "compliance_alerted",
        K::EvidenceCollected => "evidence_collected",
        K::AffectedComputed { .. } => "affected_computed",
        K::IndividualsNotified => "individuals_notified",
        K::HhsNotified => "hhs_notified",
        K::MediaNotified => "media_notified",
        K::Restored => "restored",
        K::Closed => "closed",
        K::Note => "note",
    }
}

/// The status as JSON: `{"incident": {...}, "now", "deadlines": [...]}`,
/// times both as µs and as RFC 3339 text.
pub fn render_json(inc: &Incident, now_micros: i64) -> Value {
    let deadlines: Vec<Value> = deadlines(inc, now_micros)
        .into_iter()
        .map(|d| {
            json!({
                "name": d.name,
                "due_at_micros": d.due_at_micros,
                "due_at": d.due_at_micros.map(rfc3339),
                "met_at_micros": d.met_at_micros,
                "met_at": d.met_at_micros.map(rfc3339),
                "state": d.state,
                "basis": d.basis,
            })
        })
        .collect();
    json!({
        "incident": inc,
        "now": rfc3339(now_micros),
        "deadlines": deadlines,
    })
}
