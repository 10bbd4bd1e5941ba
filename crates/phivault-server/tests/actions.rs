//! Custom verbs (`annotate:patients`) through
//! `POST /v1/collections/{c}/records/{id}/actions/{verb}`: authorized by the
//! decision point like any access, recorded in the audit trail with the
//! permission that allowed them, counted as disclosures, refused for
//! built-in verbs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use reqwest::Method;
use serde_json::json;

async fn custom_verbs(app: common::App) {
    app.put_role(
        json!({"role": "annotator", "permissions": ["annotate:patients"],
                        "care_team_only": true}),
    )
    .await;
    app.put_role(json!({"role": "reader", "permissions": ["view:patients"]}))
        .await;
    app.add_user("ann1", &["annotator"]).await;
    app.add_user("reader1", &["reader"]).await;
    let on_team = app.create_patient(common::canary_patient()).await;
    let off_team = app
        .create_patient(json!({"name": "Other Person", "birth_date": "1990-01-01"}))
        .await;
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/v1/collections/patients/records/{on_team}/care-team"),
            Some(json!({"users": ["ann1"]})),
        )
        .await;
    assert_eq!(s, 200);
    let ann = app.session("ann1").await;
    let reader = app.session("reader1").await;
    let act =
        |id: &str, verb: &str| format!("/v1/collections/patients/records/{id}/actions/{verb}");

    // Allowed: answered with the audit receipt, after the event is durable.
    let (s, b) = app
        .send_as(
            &ann,
            Method::POST,
            &act(&on_team, "annotate"),
            Some(json!({"fields": ["notes"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let index = b["audit_index"].as_u64().unwrap();
    let (_, evs) = app
        .send(
            Method::GET,
            &format!("/v1/audit/events?from={index}&to={}", index + 1),
            None,
        )
        .await;
    let e = &evs["events"][0];
    assert_eq!(e["action"], "custom:annotate");
    assert_eq!(e["user"], "ann1");
    assert_eq!(e["outcome"], "success");
    assert_eq!(e["permission"], "annotate:patients");
    assert_eq!(e["patient_id"], on_team.as_str());
    assert_eq!(e["fields"], json!(["notes"]));

    // Outside the care team, without the permission, or for another verb: 403,
    // and the refusal is recorded.
    for (tok, id, verb) in [
        (&ann, &off_team, "annotate"),
        (&reader, &on_team, "annotate"),
        (&ann, &on_team, "sign"),
    ] {
        let (s, b) = app
            .send_as(tok, Method::POST, &act(id, verb), Some(json!({})))
            .await;
        assert_eq!(s, 403, "{verb}: {b}");
    }
    let (_, evs) = app
        .send(Method::GET, "/v1/audit/events?action=custom:annotate", None)
        .await;
    let outcomes: Vec<_> = evs["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, vec!["success", "denied", "denied"]);

    // Built-in verbs have their own endpoints; unknown fields and records.
    for verb in [
        "view",
        "delete",
        "break_glass",
        "read_audit",
        "Annotate",
        "a%20b",
    ] {
        let (s, b) = app
            .send_as(&ann, Method::POST, &act(&on_team, verb), Some(json!({})))
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("invalid_verb")),
            "{verb}"
        );
    }
    let (s, b) = app
        .send_as(
            &ann,
            Method::POST,
            &act(&on_team, "annotate"),
            Some(json!({"fields": ["shoe_size"]})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("`fields`"));
    let (s, _) = app
        .send(
            Method::POST,
            &act("00000000-0000-4000-8000-000000000000", "annotate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 404);

    // The custom use is part of the patient's accounting of disclosures.
    let (s, b) = app
        .send(
            Method::GET,
            &format!("/v1/collections/patients/records/{on_team}/disclosures"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.to_string().contains("custom:annotate"), "{b}");
}
both_backends!(annotate, custom_verbs);
