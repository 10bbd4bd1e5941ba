//! The HTTP contract, driven over TLS against a real server on both backends.
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

fn error_code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or_default()
}

async fn crud_and_search(app: common::App) {
    let id = app.create_patient(common::canary_patient()).await;
    let path = format!("/v1/collections/patients/records/{id}");

    let (s, rec) = app.send(Method::GET, &path, None).await;
    assert_eq!(s, 200);
    assert_eq!(rec["id"], id);
    assert_eq!(rec["collection"], "patients");
    assert_eq!(rec["fields"]["ssn"], "078-05-1120");
    assert_eq!(rec["fields"]["phone"], "+18315550177");
    assert_eq!(rec["fields"].as_object().unwrap().len(), 8);
    assert!(rec["created_at"].as_str().unwrap().ends_with('Z'));

    // Exact search on each indexed field, with normalization.
    for (field, value) in [
        ("ssn", "078051120"),
        ("mrn", "mrn-canary-9931"),
        ("email", "Zebulon.Canary@EXAMPLE.net"),
    ] {
        let (s, b) = app
            .send(
                Method::POST,
                "/v1/collections/patients/search",
                Some(json!({"field": field, "value": value})),
            )
            .await;
        assert_eq!(s, 200, "{field}: {b}");
        let recs = b["records"].as_array().unwrap();
        assert_eq!(recs.len(), 1, "{field}");
        assert_eq!(recs[0]["id"], id);
    }
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"fields": {"name": "zebulon  CANARYWRIGHT", "birth_date": "1961-03-14"}})),
        )
        .await;
    assert_eq!((s, b["records"].as_array().unwrap().len()), (200, 1));
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "219-09-9999"})),
        )
        .await;
    assert_eq!((s, b["records"].as_array().unwrap().len()), (200, 0));

    // Patch: change the SSN; the old one no longer finds it, the new one does.
    let (s, b) = app
        .send(
            Method::PATCH,
            &path,
            Some(json!({"fields": {"ssn": "219-09-9999", "notes": null}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["fields"]["ssn"], "219-09-9999");
    assert!(b["fields"].get("notes").is_none());
    assert_ne!(b["updated_at"], rec["updated_at"]);
    let (_, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "078-05-1120"})),
        )
        .await;
    assert_eq!(b["records"].as_array().unwrap().len(), 0);
    let (_, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "219-09-9999"})),
        )
        .await;
    assert_eq!(b["records"].as_array().unwrap().len(), 1);
    // The compound index follows a name change.
    app.send(
        Method::PATCH,
        &path,
        Some(json!({"fields": {"name": "Zeb Canarywright"}})),
    )
    .await;
    let (_, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"fields": {"name": "zeb canarywright", "birth_date": "1961-03-14"}})),
        )
        .await;
    assert_eq!(b["records"].as_array().unwrap().len(), 1);

    // Linked collection.
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/encounters/records",
            Some(json!({"patient_id": id, "fields": {"date": "2024-05-01", "reason": "checkup", "department": "cardiology"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let enc = b["id"].as_str().unwrap().to_owned();
    let (_, b) = app
        .send(
            Method::GET,
            &format!("/v1/collections/encounters/records/{enc}"),
            None,
        )
        .await;
    assert_eq!(b["patient_id"], id);
    assert_eq!(b["fields"]["department"], "cardiology");

    // Delete.
    let (s, _) = app.send(Method::DELETE, &path, None).await;
    assert_eq!(s, 204);
    let (s, b) = app.send(Method::GET, &path, None).await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
    let (s, _) = app.send(Method::DELETE, &path, None).await;
    assert_eq!(s, 404);
    let (_, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "219-09-9999"})),
        )
        .await;
    assert_eq!(b["records"].as_array().unwrap().len(), 0);
}
both_backends!(crud, crud_and_search);

async fn bad_input(app: common::App) {
    let create = "/v1/collections/patients/records";
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"fields": {"name": "A B", "birth_date": "1970-01-01", "ssn": "666-45-6789"}}),
            400,
            "invalid_value",
            "`ssn`",
        ),
        (
            json!({"fields": {"name": "A B", "birth_date": "2999-01-01"}}),
            400,
            "invalid_value",
            "`birth_date`",
        ),
        (
            json!({"fields": {"name": "A B"}}),
            400,
            "missing_field",
            "`birth_date`",
        ),
        (
            json!({"fields": {"name": "A B", "birth_date": "1970-01-01", "favourite": "x"}}),
            400,
            "unknown_field",
            "does not define",
        ),
        (
            json!({"fields": {"name": 42, "birth_date": "1970-01-01"}}),
            400,
            "invalid_value",
            "`name`",
        ),
        (
            json!({"fields": {"name": "A B", "birth_date": "1970-01-01", "email": "zed.secret@"}}),
            400,
            "invalid_value",
            "`email`",
        ),
        (
            json!({"fields": "nope"}),
            400,
            "invalid_request",
            "`fields`",
        ),
        (json!({}), 400, "missing_field", "`fields`"),
        (
            json!({"fields": {"name": "A B", "birth_date": "1970-01-01"}, "extra": 1}),
            400,
            "invalid_request",
            "only",
        ),
    ];
    for (body, status, code, names) in cases {
        let (s, b) = app.send(Method::POST, create, Some(body.clone())).await;
        assert_eq!((s, error_code(&b)), (status, code), "{body}: {b}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(names), "{msg}");
        assert!(
            !msg.contains("favourite"),
            "unknown keys are not echoed: {msg}"
        );
        assert!(
            !b.to_string().contains("666-45-6789") && !b.to_string().contains("zed.secret"),
            "{b}"
        );
        assert_eq!(b["error"]["request_id"].as_str().unwrap().len(), 16);
    }
    // Nothing was written by any of them.
    assert_eq!(
        app.srv
            .state
            .vault
            .store()
            .count_records("patients")
            .await
            .unwrap(),
        0
    );

    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/nope/records",
            Some(json!({"fields": {}})),
        )
        .await;
    assert_eq!((s, error_code(&b)), (404, "unknown_collection"));
    let (s, b) = app
        .send(
            Method::GET,
            "/v1/collections/patients/records/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
    let (s, _) = app
        .send(
            Method::GET,
            "/v1/collections/patients/records/..%2F..%2Fetc",
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "notes", "value": "x"})),
        )
        .await;
    assert_eq!((s, error_code(&b)), (400, "not_searchable"));
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "999-99-9999"})),
        )
        .await;
    assert_eq!((s, error_code(&b)), (400, "invalid_value"));
    assert!(!b.to_string().contains("999-99"));
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/encounters/records",
            Some(json!({"patient_id": "00000000-0000-4000-8000-000000000000", "fields": {"date": "2020-01-01"}})),
        )
        .await;
    assert_eq!((s, error_code(&b)), (400, "invalid_request"), "{b}");

    // Malformed JSON and oversized bodies.
    let res = app
        .http
        .post(app.url(create))
        .header("authorization", app.auth())
        .body("{\"fields\": {\"ssn\": \"078-05-1120\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let b: Value = res.json().await.unwrap();
    assert_eq!(error_code(&b), "invalid_json");
    assert!(!b.to_string().contains("078-05"));
    let big = json!({"fields": {"notes": "x".repeat(2 * 1024 * 1024)}});
    let sent = app
        .http
        .post(app.url(create))
        .header("authorization", app.auth())
        .json(&big)
        .send()
        .await;
    match sent {
        Ok(res) => {
            assert_eq!(res.status(), 413);
            let b: Value = res.json().await.unwrap();
            assert_eq!(error_code(&b), "body_too_large");
        }
        // The server answered 413 and closed before the client finished
        // writing the body (a race on a loaded machine): it read no more
        // than its limit, which is the refusal this checks.
        Err(e) => assert!(
            format!("{e:?}").contains("BodyWrite"),
            "the only acceptable failure is the server closing mid-body: {e:?}"
        ),
    }
}
both_backends!(errors, bad_input);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_health_requires_a_valid_token() {
    // Every refusal here comes from one address: no lockout for this test
    // (tests/abuse.rs covers it).
    let over = phivault_server::config::FileConfig {
        auth_failure_limit: Some(0),
        ..Default::default()
    };
    let app = common::spawn_app_with(common::Backend::Sqlite, over)
        .await
        .unwrap();
    let wrong = phivault_core::token::issue().unwrap();
    let mut checked = 0;
    for spec in phivault_server::http::ROUTES {
        let path = spec
            .path
            .replace("{collection}", "patients")
            .replace("{id}", "00000000-0000-4000-8000-000000000000");
        let method = phivault_server::http::method_of(spec);
        for auth in [
            None,
            Some("Bearer nonsense".to_owned()),
            Some(format!("Bearer {}", wrong.text.as_str())),
        ] {
            let mut r = app
                .http
                .request(method.clone(), app.url(&path))
                .json(&json!({}));
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            let res = r.send().await.unwrap();
            let status = res.status().as_u16();
            assert_eq!(res.headers()["cache-control"], "no-store");
            assert!(res.headers().contains_key("strict-transport-security"));
            if spec.public {
                assert_eq!(status, 200, "{} {}", spec.method, spec.path);
            } else {
                assert_eq!(
                    status,
                    401,
                    "{} {} with {:?}",
                    spec.method,
                    spec.path,
                    auth.is_some()
                );
                let b: Value = res.json().await.unwrap();
                assert_eq!(error_code(&b), "unauthorized");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, phivault_server::http::ROUTES.len() * 3);
    let (s, b) = app.send(Method::GET, "/v1/nowhere", None).await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
    let (s, b) = app.send(Method::GET, "/v1/collections", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["collections"][1]["name"], "patients");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_gets_nothing() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let plain = reqwest::Client::new();
    let r = plain
        .get(format!("http://{}/healthz", app.srv.addr))
        .send()
        .await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
}
