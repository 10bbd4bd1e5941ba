use std::collections::BTreeMap;

use super::*;
use crate::affected::{Actor, AffectedQuery, affected};
use crate::incident::{Step, StepKind};
use crate::rules::Severity;
use crate::testing::{Build, hms, view};
use crate::util::{MINUTE, SECOND};

fn incident() -> Incident {
    let mut inc = Incident::declare(
        "inc-7",
        Severity::Critical,
        "Honey record viewed by a billing token <script>alert(1)</script> | **x**",
        hms(10, 0, 0),
        "ciso",
    )
    .unwrap();
    inc.record(Step {
        at_micros: hms(10, 0, 2),
        by: "detector".into(),
        kind: StepKind::Isolated,
        detail: "lockdown ld-1 token:pv_00000000000000aa".into(),
    })
    .unwrap();
    inc
}

fn inputs() -> RiskInputs {
    let events = vec![
        view(0, hms(9, 50, 0), "mallory", "p1").fields(&["name", "diagnosis"]),
        view(1, hms(9, 51, 0), "mallory", "p2").fields(&["ssn"]),
        view(2, hms(9, 52, 0), "mallory", "p3").denied("not_permitted"),
    ];
    let q = AffectedQuery {
        actor: Actor::User("mallory".into()),
        since_micros: hms(9, 0, 0),
        until_micros: hms(10, 0, 0),
    };
    let list = affected(&events, &q);
    RiskInputs {
        incident: incident(),
        now_micros: hms(12, 0, 0),
        nature: Nature::from_list(&list),
        person: Person {
            actor: "user:mallory".into(),
            internal: Some(false),
            role: Some("billing".into()),
            obligated_recipient: false,
        },
        acquisition: Acquisition::from_list(&list),
        mitigation: Mitigation {
            detected_at_micros: Some(hms(10, 0, 0) - SECOND),
            lockdowns: vec!["token:pv_00000000000000aa".into()],
            sessions_revoked: 2,
            ..Mitigation::default()
        },
    }
}

#[test]
fn disclosed_identifiers_and_ssn_to_an_outsider_presume_a_breach() {
    let r = inputs();
    assert_eq!(r.nature.individuals, 2);
    assert_eq!(r.nature.fields.get("ssn"), Some(&FieldKind::Financial));
    assert_eq!(
        (r.acquisition.disclosed, r.acquisition.attempted_only),
        (2, 1)
    );
    let a = r.assess();
    assert_eq!(a.nature.0, Rating::High);
    assert_eq!(a.person.0, Rating::High);
    assert_eq!(a.acquisition.0, Rating::High);
    assert_eq!(
        a.mitigation.0,
        Rating::Moderate,
        "prompt isolation, no assurance"
    );
    assert_eq!(a.time_to_isolate_micros, Some(3 * SECOND));
    assert_eq!(a.conclusion, Conclusion::BreachPresumed);
}

#[test]
fn only_attempts_or_all_low_factors_show_low_probability() {
    let mut r = inputs();
    r.acquisition = Acquisition {
        attempted_only: 3,
        ..Acquisition::default()
    };
    r.nature = Nature::default();
    assert_eq!(r.assess().acquisition.0, Rating::Low);
    assert_eq!(r.assess().conclusion, Conclusion::LowProbability);
    // Inconsistent inputs (individuals compromised, nothing acquired) do not
    // pass as low.
    r.nature.individuals = 4;
    assert_eq!(r.assess().acquisition.0, Rating::High);
    assert_eq!(r.assess().conclusion, Conclusion::BreachPresumed);
    // A workforce member viewed names only, was isolated in seconds and
    // attested destruction: still identifiers, so presumed.
    let mut r = inputs();
    r.nature.fields = BTreeMap::from([("name".into(), FieldKind::Identifier)]);
    r.person.internal = Some(true);
    r.mitigation.recipient_assurance = true;
    let a = r.assess();
    assert_eq!(
        (a.nature.0, a.person.0, a.mitigation.0),
        (Rating::Moderate, Rating::Low, Rating::Low)
    );
    assert_eq!(a.conclusion, Conclusion::BreachPresumed);
    // Nothing identifying or clinical, internal, mitigated: all low.
    r.nature.fields = BTreeMap::from([("favourite_colour".into(), FieldKind::Other)]);
    r.nature.individuals = 0;
    r.acquisition.disclosed = 0;
    r.acquisition.unattributed_records = 0;
    assert_eq!(r.assess().conclusion, Conclusion::LowProbability);
}

#[test]
fn late_or_missing_isolation_rates_mitigation_high() {
    let mut r = inputs();
    r.incident.steps.truncate(1);
    assert_eq!(r.assess().mitigation.0, Rating::High);
    assert_eq!(r.assess().time_to_isolate_micros, None);
    r.mitigation.isolated_at_micros = Some(hms(10, 0, 0) + 20 * MINUTE);
    assert_eq!(r.assess().mitigation.0, Rating::High);
}

#[test]
fn markdown_holds_every_section_and_escapes_operator_text() {
    let md = inputs().to_markdown();
    for h in [
        "# Breach risk assessment: incident inc-7",
        "## Conclusion",
        "## Factor 1: nature and extent of the PHI involved",
        "## Factor 2: the unauthorized person",
        "## Factor 3: whether the PHI was acquired or viewed",
        "## Factor 4: extent of mitigation",
        "## Timeline",
        "## Deadlines",
    ] {
        assert!(md.contains(&format!("\n{h}\n")) || md.starts_with(h), "{h}");
    }
    assert!(md.contains("**Breach presumed.** Under 45 CFR 164.402(2)"));
    assert!(md.contains("- **Financial and government identifiers:** ssn\n"));
    assert!(md.contains("- **Time to isolate:** 3.000 s\n"));
    assert!(
        md.contains("\\<script\\>alert(1)\\</script\\> \\| \\*\\*x\\*\\*"),
        "{md}"
    );
    assert!(!md.contains("<script>"));
    assert!(
        md.contains(
            "| isolate | 2026-03-02T10:15:00.000000Z | 2026-03-02T10:00:02.000000Z | met |"
        )
    );
}

#[test]
fn html_is_self_contained_escaped_and_scriptless() {
    let page = inputs().to_html();
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(page.contains("default-src 'none'"));
    assert!(!page.to_lowercase().contains("<script"));
    assert!(!page.contains("src=") && !page.contains("href="));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; | **x**"));
    assert!(page.contains("<h2>Factor 3: whether the PHI was acquired or viewed</h2>"));
    assert!(
        page.contains("<li><strong>Rating:</strong> high (PHI was disclosed to the person)</li>")
    );
    assert!(page.contains("<td>notify_hhs</td>"));
    assert!(page.ends_with("</html>\n"));
}
