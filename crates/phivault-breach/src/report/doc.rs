//! The report's content as neutral blocks, rendered by [`super::render`]
//! to Markdown or HTML so that both say the same thing.

use super::assess::{Conclusion, Rating};
use super::{FieldKind, RiskInputs};
use crate::incident::{deadlines, render::kind_name};
use crate::util::{SECOND, rfc3339};

/// One block of the report. All text is plain and escaped by the renderer.
#[derive(Debug)]
pub(crate) enum Block {
    /// A heading of level 1 or 2.
    Heading(u8, String),
    /// A paragraph with a bold lead.
    Lead(String, String),
    /// A bullet list of `label: value` pairs.
    Facts(Vec<(&'static str, String)>),
    /// A table.
    Table(Vec<&'static str>, Vec<Vec<String>>),
}

fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_owned(), rfc3339)
}

fn duration(us: Option<i64>) -> String {
    us.map_or_else(
        || "not isolated".to_owned(),
        |u| format!("{}.{:03} s", u / SECOND, (u % SECOND) / 1000),
    )
}

fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "not established".into(),
    }
}

fn rating(r: (Rating, &'static str)) -> (&'static str, String) {
    ("Rating", format!("{} ({})", r.0.as_str(), r.1))
}

fn fields_of(inputs: &RiskInputs, kinds: &[FieldKind]) -> String {
    let names: Vec<&str> = inputs
        .nature
        .fields
        .iter()
        .filter(|(_, k)| kinds.contains(k))
        .map(|(n, _)| n.as_str())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Builds the report.
pub(crate) fn build(r: &RiskInputs) -> Vec<Block> {
    let a = r.assess();
    let inc = &r.incident;
    let mut b = vec![
        Block::Heading(1, format!("Breach risk assessment: incident {}", inc.id)),
        Block::Facts(vec![
            ("Summary", inc.summary.clone()),
            ("Severity", inc.severity.to_string()),
            (
                "Declared",
                format!("{} by {}", rfc3339(inc.declared_at_micros), inc.declared_by),
            ),
            ("Discovered", rfc3339(inc.discovered_at())),
            ("Report produced", rfc3339(r.now_micros)),
        ]),
        Block::Heading(2, "Conclusion".into()),
    ];
    b.push(match a.conclusion {
        Conclusion::BreachPresumed => Block::Lead(
            "Breach presumed.".into(),
            "Under 45 CFR 164.402(2) this incident is presumed a breach of unsecured PHI and notification is required, because the factors below do not show a low probability that the PHI has been compromised.".into(),
        ),
        Conclusion::LowProbability => Block::Lead(
            "Low probability of compromise.".into(),
            "The factors below indicate a low probability that the PHI has been compromised (45 CFR 164.402(2)). The privacy officer must confirm this determination and retain this assessment for six years (45 CFR 164.530(j)).".into(),
        ),
    });
    let n = &r.nature;
    b.push(Block::Heading(
        2,
        "Factor 1: nature and extent of the PHI involved".into(),
    ));
    b.push(Block::Facts(vec![
        rating(a.nature),
        ("Individuals", n.individuals.to_string()),
        (
            "Unattributed bulk records",
            n.unattributed_records.to_string(),
        ),
        ("Identifiers", fields_of(r, &[FieldKind::Identifier])),
        ("Clinical", fields_of(r, &[FieldKind::Clinical])),
        (
            "Financial and government identifiers",
            fields_of(r, &[FieldKind::Financial]),
        ),
        (
            "Specially protected",
            fields_of(r, &[FieldKind::SensitiveClinical]),
        ),
        ("Other fields", fields_of(r, &[FieldKind::Other])),
    ]));
    let p = &r.person;
    b.push(Block::Heading(
        2,
        "Factor 2: the unauthorized person".into(),
    ));
    b.push(Block::Facts(vec![
        rating(a.person),
        ("Actor", p.actor.clone()),
        ("Workforce member", yes_no(p.internal)),
        (
            "Role",
            p.role.clone().unwrap_or_else(|| "not established".into()),
        ),
        (
            "Recipient obliged to protect PHI",
            yes_no(Some(p.obligated_recipient)),
        ),
    ]));
    let q = &r.acquisition;
    b.push(Block::Heading(
        2,
        "Factor 3: whether the PHI was acquired or viewed".into(),
    ));
    b.push(Block::Facts(vec![
        rating(a.acquisition),
        (
            "Individuals whose PHI was disclosed",
            q.disclosed.to_string(),
        ),
        (
            "Individuals whose records were written",
            q.modified.to_string(),
        ),
        (
            "Individuals reached by attempts only",
            q.attempted_only.to_string(),
        ),
        (
            "Bulk records returned without patient ids",
            q.unattributed_records.to_string(),
        ),
    ]));
    let m = &r.mitigation;
    b.push(Block::Heading(2, "Factor 4: extent of mitigation".into()));
    let lockdowns = if m.lockdowns.is_empty() {
        "none".into()
    } else {
        m.lockdowns.join(", ")
    };
    let mut facts = vec![
        rating(a.mitigation),
        ("Detected", time(m.detected_at_micros)),
        ("Isolated", time(r.isolated_at())),
        ("Time to isolate", duration(a.time_to_isolate_micros)),
        ("Lockdowns", lockdowns),
        ("Sessions revoked", m.sessions_revoked.to_string()),
        ("Tokens revoked", m.tokens_revoked.to_string()),
        ("Keys rotated", yes_no(Some(m.keys_rotated))),
        (
            "Assurance of return or destruction",
            yes_no(Some(m.recipient_assurance)),
        ),
    ];
    facts.extend(m.notes.iter().map(|note| ("Measure", note.clone())));
    b.push(Block::Facts(facts));
    b.push(Block::Heading(2, "Timeline".into()));
    let steps = inc
        .steps
        .iter()
        .map(|s| {
            vec![
                rfc3339(s.at_micros),
                kind_name(&s.kind).to_owned(),
                s.by.clone(),
                s.detail.clone(),
            ]
        })
        .collect();
    b.push(Block::Table(vec!["At", "Step", "By", "Detail"], steps));
    b.push(Block::Heading(2, "Deadlines".into()));
    let rows = deadlines(inc, r.now_micros)
        .into_iter()
        .map(|d| {
            vec![
                d.name.to_owned(),
                time(d.due_at_micros),
                time(d.met_at_micros),
                d.state.as_str().to_owned(),
                d.basis.to_owned(),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec!["Deadline", "Due", "Met", "State", "Basis"],
        rows,
    ));
    b
}
