//! Safe Harbor de-identified exports on both backends: no source identifier
//! survives, ZIPs are cut (to `000` in small areas), dates become years,
//! ages over 89 become `90+`, pseudonyms are keyed and consistent, the export
//! needs `export:<collection>` and is audited.
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
use serde_json::{Value, json};

async fn export(app: &common::App, token: &str, body: Value) -> (u16, String) {
    let res = app
        .http
        .post(app.url("/v1/collections/patients/export"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Every identifying string put into the vault below.
const SOURCE: &[&str] = &[
    "Zebulon",
    "Canarywright",
    "1961-03-14",
    "078-05-1120",
    "078051120",
    "MRN-CANARY-9931",
    "4417 Canary Row",
    "Monterey",
    "93940",
    "8315550177",
    "555-0177",
    "zebulon.canary",
    "Agatha",
    "Oldenburg",
    "1931-05-02",
    "219-09-9999",
    "MRN-OLD-1",
    "03601",
    "Lebanon",
    "agatha@example.org",
    "6175550134",
];

async fn safe_harbor(app: common::App) {
    let a = app.create_patient(common::canary_patient()).await;
    let b = app
        .create_patient(json!({
            "name": "Agatha Oldenburg", "birth_date": "1931-05-02", "ssn": "219-09-9999",
            "mrn": "MRN-OLD-1", "address": "12 Main St, Lebanon, NH 03601",
            "email": "agatha@example.org", "phone": "617-555-0134",
            "notes": "Agatha Oldenburg called from 617-555-0134 about her MRN-OLD-1 results"
        }))
        .await;
    let admin = app.srv.admin_token.as_str().to_owned();
    for format in ["jsonl", "csv"] {
        let (s, out) = export(
            &app,
            &admin,
            json!({"deidentify": "safe-harbor", "format": format}),
        )
        .await;
        assert_eq!(s, 200, "{out}");
        for id in SOURCE.iter().chain([&a.as_str(), &b.as_str()]) {
            assert!(
                !out.contains(id),
                "`{id}` survived the {format} export:\n{out}"
            );
        }
        assert_eq!(
            out.lines().count(),
            if format == "csv" { 3 } else { 2 },
            "{out}"
        );
    }
    let (_, out) = export(&app, &admin, json!({"deidentify": "safe-harbor"})).await;
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = out.clone();
    // Monterey 939xx keeps its 3 digits; Lebanon 036xx is a small area: 000.
    assert!(text.contains("\"939\""), "{text}");
    assert!(text.contains("\"000\""), "{text}");
    assert!(text.contains("1961"), "{text}");
    assert!(text.contains("90+"), "born 1931: {text}");
    assert!(rows.iter().all(|r| r.get("pseudonym").is_none()));

    // Pseudonyms: keyed, stable across exports, one per patient.
    let p = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["pseudonym"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let (_, one) = export(
        &app,
        &admin,
        json!({"deidentify": "safe-harbor", "pseudonymize": true}),
    )
    .await;
    let (_, two) = export(
        &app,
        &admin,
        json!({"deidentify": "safe-harbor", "pseudonymize": true}),
    )
    .await;
    let (p1, p2) = (p(&one), p(&two));
    assert_eq!(p1, p2);
    assert_eq!(p1.len(), 2);
    assert_ne!(p1[0], p1[1]);

    // Audited: one event per export with the count and the method.
    let (_, evs) = app
        .send(Method::GET, "/v1/audit/events?action=exported", None)
        .await;
    let evs = evs["events"].as_array().unwrap().clone();
    assert_eq!(evs.len(), 5);
    assert_eq!(evs[0]["count"], 2);
    assert!(
        evs[0]["flags"]
            .to_string()
            .contains("deidentified:safe-harbor")
    );
    assert!(evs[4]["flags"].to_string().contains("pseudonymized"));

    // Authorization: `export:patients` is needed, care-team roles get nothing.
    app.put_role(json!({"role": "viewer", "permissions": ["view:patients"]}))
        .await;
    app.put_role(
        json!({"role": "team-export", "permissions": ["export:patients"], "care_team_only": true}),
    )
    .await;
    app.put_role(json!({"role": "research", "permissions": ["export:patients"]}))
        .await;
    for (u, r) in [("v1", "viewer"), ("t1", "team-export"), ("r1", "research")] {
        app.add_user(u, &[r]).await;
    }
    let body = json!({"deidentify": "safe-harbor"});
    assert_eq!(
        export(&app, &app.session("v1").await, body.clone()).await.0,
        403
    );
    assert_eq!(
        export(&app, &app.session("t1").await, body.clone()).await.0,
        403
    );
    let (s, out) = export(&app, &app.session("r1").await, body).await;
    assert_eq!((s, out.lines().count()), (200, 2));
    // Only Safe Harbor is offered; bad members are named.
    let (s, out) = export(&app, &admin, json!({"deidentify": "none"})).await;
    assert_eq!(s, 400);
    assert!(out.contains("`deidentify`"), "{out}");
    let (s, out) = export(
        &app,
        &admin,
        json!({"deidentify": "safe-harbor", "format": "xml"}),
    )
    .await;
    assert!(s == 400 && out.contains("`format`"), "{out}");
}
both_backends!(deidentified_export, safe_harbor);
