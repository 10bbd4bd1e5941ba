//! Access control against the real server over TLS, on both backends: the
//! authorization matrix, sessions (idle and absolute expiry, logoff), the
//! break-glass flow, disabling a user, and every route going through the
//! decision point.
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

const IN_WINDOW: &str = "2026-11-23T15:00:00Z"; // Monday 10:00 in New York
const OUT_OF_WINDOW: &str = "2026-11-23T23:30:00Z"; // Monday 18:30 in New York

fn assert_no_phi(body: &Value) {
    let text = body.to_string();
    for c in common::CANARY_STRINGS {
        assert!(!text.contains(c), "`{c}` leaked in {text}");
    }
}

fn set_clock(app: &common::App, t: &str) {
    app.clock.set(t.parse().unwrap());
}

async fn roles_and_patients(app: &common::App) -> (String, String) {
    set_clock(app, IN_WINDOW);
    app.put_role(json!({"role": "nurse", "permissions": ["view:patients", "search:patients", "view:encounters"],
               "constraints": {"temporal": "08:00-18:00 Mon-Fri", "ip_range": ["127.0.0.0/8", "::1/128"]},
               "timezone": "America/New_York", "care_team_only": true,
               "fields": {"patients": {"masked": ["ssn"], "hidden": ["notes"]}}}),
    )
    .await;
    app.put_role(
        json!({"role": "offsite", "permissions": ["view:patients", "search:patients"],
               "constraints": {"ip_range": ["10.0.0.0/8"]}}),
    )
    .await;
    app.put_role(json!({"role": "clerk", "permissions": ["create:patients", "view:patients", "create:encounters"],
               "fields": {"patients": {"hidden": ["notes"], "masked": ["birth_date"]}}}),
    )
    .await;
    for (u, r) in [
        ("nurse1", "nurse"),
        ("remote1", "offsite"),
        ("clerk1", "clerk"),
    ] {
        app.add_user(u, &[r]).await;
    }
    app.add_user("nobody1", &[]).await;
    let a = app.create_patient(common::canary_patient()).await;
    let b = app
        .create_patient(
            json!({"name": "Other Person", "birth_date": "1990-01-01", "mrn": "MRN-OTHER-1"}),
        )
        .await;
    let (s, body) = app
        .send(
            Method::PUT,
            &format!("/v1/collections/patients/records/{a}/care-team"),
            Some(json!({"users": ["nurse1"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    (a, b)
}

/// The independent oracle for the matrix: what each user may do.
fn expected(user: &str, verb: &str, coll: &str, in_window: bool, on_team: bool) -> bool {
    match user {
        "nurse1" => {
            in_window
                && match (verb, coll) {
                    ("view", "patients") | ("view", "encounters") => on_team,
                    ("search", "patients") => true,
                    _ => false,
                }
        }
        "clerk1" => matches!(
            (verb, coll),
            ("create", "patients") | ("view", "patients") | ("create", "encounters")
        ),
        _ => false,
    }
}

async fn matrix(app: common::App) {
    let (a, b) = roles_and_patients(&app).await;
    // One encounter linked to each patient (created by the admin).
    let mut enc = Vec::new();
    for p in [&a, &b] {
        let (s, body) = app
            .send(
                Method::POST,
                "/v1/collections/encounters/records",
                Some(json!({"patient_id": p, "fields": {"date": "2026-01-05", "reason": "check-up", "department": "cardiology"}})),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        enc.push(body["id"].as_str().unwrap().to_owned());
    }
    let mut checked = 0;
    for (window, at) in [(true, IN_WINDOW), (false, OUT_OF_WINDOW)] {
        set_clock(&app, at);
        for user in ["nurse1", "remote1", "clerk1", "nobody1"] {
            let tok = app.session(user).await;
            for (coll, on_team, id) in [
                ("patients", true, a.as_str()),
                ("patients", false, b.as_str()),
                ("encounters", true, enc[0].as_str()),
                ("encounters", false, enc[1].as_str()),
            ] {
                for verb in ["view", "modify", "delete", "search", "create"] {
                    let (method, path, body) = match verb {
                        "view" => (
                            Method::GET,
                            format!("/v1/collections/{coll}/records/{id}"),
                            None,
                        ),
                        "modify" => (
                            Method::PATCH,
                            format!("/v1/collections/{coll}/records/{id}"),
                            Some(if coll == "patients" {
                                json!({"fields": {"phone": "(617) 555-0100"}})
                            } else {
                                json!({"fields": {"department": "oncology"}})
                            }),
                        ),
                        // Deletes are tried on a throwaway record so allowed ones do not
                        // change the matrix; nobody here may delete.
                        "delete" => (
                            Method::DELETE,
                            format!("/v1/collections/{coll}/records/{id}"),
                            None,
                        ),
                        "search" => (
                            Method::POST,
                            format!("/v1/collections/{coll}/search"),
                            Some(if coll == "patients" {
                                json!({"field": "mrn", "value": "MRN-CANARY-9931"})
                            } else {
                                json!({"field": "ssn", "value": "078-05-1120"})
                            }),
                        ),
                        _ => (
                            Method::POST,
                            format!("/v1/collections/{coll}/records"),
                            Some(if coll == "patients" {
                                json!({"fields": {"name": "New Person", "birth_date": "2000-02-02"}})
                            } else {
                                json!({"patient_id": id_patient(on_team, &a, &b), "fields": {"date": "2026-01-06"}})
                            }),
                        ),
                    };
                    let (s, body) = app.send_as(&tok, method, &path, body).await;
                    let want = expected(user, verb, coll, window, on_team);
                    let case =
                        format!("{user} {verb} {coll} window={window} team={on_team}: {s} {body}");
                    if want {
                        assert!((200..300).contains(&s), "expected success: {case}");
                    } else {
                        assert_eq!(s, 403, "expected 403: {case}");
                        assert_no_phi(&body);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 4 * 5);
}
both_backends!(authorization_matrix, matrix);

fn id_patient<'a>(on_team: bool, a: &'a str, b: &'a str) -> &'a str {
    if on_team { a } else { b }
}

async fn minimum_necessary(app: common::App) {
    let (a, b) = roles_and_patients(&app).await;
    let nurse = app.session("nurse1").await;
    let (s, body) = app
        .send_as(
            &nurse,
            Method::GET,
            &format!("/v1/collections/patients/records/{a}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["fields"]["ssn"], "***-**-1120");
    assert!(body["fields"].get("notes").is_none());
    assert_eq!(body["fields"]["name"], "Zebulon Canarywright");
    // A masked field may not be searched (it would confirm values).
    let (s, body) = app
        .send_as(
            &nurse,
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "078-05-1120"})),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("field_not_permitted"))
    );
    assert_no_phi(&body);
    // Search results are limited to the care team.
    let (s, body) = app
        .send_as(
            &nurse,
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "mrn", "value": "MRN-OTHER-1"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        body["records"].as_array().unwrap().len(),
        0,
        "{b} is not on the team"
    );
    let clerk = app.session("clerk1").await;
    let (s, body) = app
        .send_as(
            &clerk,
            Method::GET,
            &format!("/v1/collections/patients/records/{a}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["fields"]["birth_date"], "1961");
    assert_eq!(body["fields"]["ssn"], "078-05-1120");
    // Hidden fields may not be written either.
    let (s, body) = app
        .send_as(
            &clerk,
            Method::POST,
            "/v1/collections/patients/records",
            Some(json!({"fields": {"name": "X Y", "notes": "CANARYNOTE"}})),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("field_not_permitted"))
    );
    assert_no_phi(&body);
    // An invalid role is refused with the role and the bad part named.
    let (s, body) = app
        .send(
            Method::PUT,
            "/v1/roles/sloppy",
            Some(json!({"permissions": ["view:*"]})),
        )
        .await;
    assert_eq!(s, 400);
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("role `sloppy`") && msg.contains("view:*"),
        "{msg}"
    );
    let (s, body) = app.send(Method::GET, "/v1/roles", None).await;
    assert_eq!(s, 200);
    assert_eq!(body["roles"].as_array().unwrap().len(), 3);
}
both_backends!(field_level, minimum_necessary);

async fn sessions(app: common::App) {
    roles_and_patients(&app).await;
    let mins = |m: i64| jiff::SignedDuration::from_mins(m);
    let path = "/v1/collections/patients/search";
    let q = json!({"field": "mrn", "value": "MRN-OTHER-1"});
    let tok = app.session("nurse1").await;
    // Idle timeout 15 minutes, measured from the last use.
    app.clock.advance(mins(14));
    assert_eq!(
        app.send_as(&tok, Method::POST, path, Some(q.clone()))
            .await
            .0,
        200
    );
    app.clock.advance(mins(14));
    assert_eq!(
        app.send_as(&tok, Method::POST, path, Some(q.clone()))
            .await
            .0,
        200
    );
    app.clock.advance(mins(15));
    let (s, body) = app.send_as(&tok, Method::POST, path, Some(q.clone())).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );

    // Absolute lifetime 12 hours, however active the session is.
    app.put_role(json!({"role": "always", "permissions": ["search:patients"]}))
        .await;
    app.add_user("night1", &["always"]).await;
    let tok = app.session("night1").await;
    for _ in 0..(12 * 6 - 1) {
        app.clock.advance(mins(10));
        assert_eq!(
            app.send_as(&tok, Method::POST, path, Some(q.clone()))
                .await
                .0,
            200
        );
    }
    app.clock.advance(mins(10));
    let (s, body) = app.send_as(&tok, Method::POST, path, Some(q.clone())).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );

    // Logoff ends the session; an API token alone does not reach PHI.
    let (s, b) = app
        .send(Method::POST, "/v1/users/night1/tokens", None)
        .await;
    assert_eq!(s, 201);
    let api = b["token"].as_str().unwrap().to_owned();
    let (s, body) = app.send_as(&api, Method::POST, path, Some(q.clone())).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("session_required"))
    );
    let (_, b) = app.send_as(&api, Method::POST, "/v1/sessions", None).await;
    let tok = b["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.send_as(&tok, Method::POST, path, Some(q.clone()))
            .await
            .0,
        200
    );
    assert_eq!(
        app.send_as(&tok, Method::DELETE, "/v1/sessions/current", None)
            .await
            .0,
        204
    );
    assert_eq!(
        app.send_as(&tok, Method::POST, path, Some(q.clone()))
            .await
            .0,
        401
    );

    // Disabling a user cuts an open session on its next request.
    let tok = app.session("night1").await;
    assert_eq!(
        app.send_as(&tok, Method::POST, path, Some(q.clone()))
            .await
            .0,
        200
    );
    let (s, _) = app
        .send(
            Method::PATCH,
            "/v1/users/night1",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        app.send_as(&tok, Method::POST, path, Some(q.clone()))
            .await
            .0,
        401
    );
    assert_eq!(
        app.send_as(&api, Method::POST, "/v1/sessions", None)
            .await
            .0,
        401
    );
}
both_backends!(session_lifecycle, sessions);

async fn break_glass(app: common::App) {
    let (_, b) = roles_and_patients(&app).await;
    app.put_role(json!({"role": "er-physician", "permissions": ["view:patients"], "care_team_only": true, "break_glass": true}),
    )
    .await;
    app.add_user("er1", &["er-physician"]).await;
    let tok = app.session("er1").await;
    let rec = format!("/v1/collections/patients/records/{b}");
    let (s, body) = app.send_as(&tok, Method::GET, &rec, None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("not_on_care_team"))
    );
    let (s, body) = app
        .send_as(
            &tok,
            Method::POST,
            "/v1/break-glass",
            Some(json!({"patient_id": b, "reason": "urgent"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`reason`")
    );
    let reason = "unconscious patient in the emergency department, no team on site";
    let (s, body) = app
        .send_as(
            &tok,
            Method::POST,
            "/v1/break-glass",
            Some(json!({"patient_id": b, "reason": reason})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    // The break-glass hook's own alerts (the detector's rules raise theirs
    // through the same hook, asynchronously; tests/breach.rs covers them).
    let kinds = |app: &common::App| -> Vec<&'static str> {
        app.srv
            .alerts
            .recent()
            .iter()
            .map(|a| a.kind)
            .filter(|k| k.starts_with("break_glass_"))
            .collect()
    };
    assert_eq!(kinds(&app), vec!["break_glass_granted"]);
    let (s, body) = app.send_as(&tok, Method::GET, &rec, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(kinds(&app), vec!["break_glass_granted", "break_glass_used"]);
    let alert = app
        .srv
        .alerts
        .recent()
        .into_iter()
        .rfind(|a| a.kind == "break_glass_used")
        .unwrap();
    assert_eq!(
        (alert.user.as_str(), alert.patient_id.as_deref()),
        ("er1", Some(b.as_str()))
    );
    // The grant lapses after 60 minutes.
    app.clock.advance(jiff::SignedDuration::from_mins(61));
    let tok = app.session("er1").await;
    assert_eq!(app.send_as(&tok, Method::GET, &rec, None).await.0, 403);
    // Only roles with `break_glass` may ask.
    let clerk = app.session("clerk1").await;
    let (s, body) = app
        .send_as(
            &clerk,
            Method::POST,
            "/v1/break-glass",
            Some(json!({"patient_id": b, "reason": reason})),
        )
        .await;
    assert_eq!(s, 403, "{body}");
}
both_backends!(break_glass_flow, break_glass);

/// A user with no roles gets 403 from every route but health and their own
/// session: a route added without the decision point fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_goes_through_the_decision_point() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let p = app
        .create_patient(json!({"name": "A B", "birth_date": "1990-01-01"}))
        .await;
    app.add_user("nobody1", &[]).await;
    let tok = app.session("nobody1").await;
    let mut seen = 0;
    for r in phivault_server::http::ROUTES {
        if r.public || r.path == "/v1/sessions" || r.path == "/v1/sessions/current" {
            continue;
        }
        let path = r
            .path
            .replace("{collection}", "patients")
            .replace("{id}", &p)
            .replace("{name}", "nurse")
            .replace("{verb}", "annotate")
            .replace("{user}", "nobody1");
        let body = match (r.method, r.path) {
            ("POST", "/v1/collections/{collection}/records") => json!({"fields": {"name": "C D"}}),
            ("POST", "/v1/collections/{collection}/search") => {
                json!({"field": "mrn", "value": "MRN-1"})
            }
            ("PATCH", "/v1/collections/{collection}/records/{id}") => {
                json!({"fields": {"name": "E F"}})
            }
            ("POST", "/v1/break-glass") => {
                json!({"patient_id": p, "reason": "a reason that is long enough"})
            }
            ("POST", "/v1/users") => json!({"id": "x1"}),
            ("POST", "/v1/telehealth/sessions") => json!({
                "patient_id": p, "clinician_ids": ["nobody1"],
                "expires_at": "2999-01-01T00:00:00Z",
            }),
            ("PUT", "/v1/collections/patients/records/{id}/care-team") => json!({"users": ["x"]}),
            _ => json!({}),
        };
        let method = Method::from_bytes(r.method.as_bytes()).unwrap();
        let (s, b) = app.send_as(&tok, method, &path, Some(body)).await;
        assert_eq!(s, 403, "{} {} answered {s} {b}", r.method, r.path);
        seen += 1;
    }
    assert_eq!(
        seen,
        phivault_server::http::ROUTES
            .iter()
            .filter(|r| !r.public)
            .count()
            - 2,
        "routes checked"
    );
    assert_eq!(
        app.send_as(&tok, Method::DELETE, "/v1/sessions/current", None)
            .await
            .0,
        204
    );
}

async fn access_review(app: common::App) {
    let (a, _) = roles_and_patients(&app).await;
    let nurse = app.session("nurse1").await;
    let (s, _) = app
        .send_as(
            &nurse,
            Method::GET,
            &format!("/v1/collections/patients/records/{a}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let clerk = app.session("clerk1").await;
    let (s, _) = app
        .send_as(
            &clerk,
            Method::POST,
            "/v1/collections/patients/records",
            Some(json!({"fields": {"name": "New Person", "birth_date": "2000-02-02"}})),
        )
        .await;
    assert_eq!(s, 201);
    let state = &app.srv.state;
    let unused = |since: jiff::Timestamp| async move {
        let mut v: Vec<(String, String, bool)> = phivault_server::access::review(
            state.vault.store().as_ref(),
            state.vault.audit().store().as_ref(),
            &state.roles,
            since.as_microsecond(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.user, h.permission, h.last_used.is_some()))
        .collect();
        v.sort();
        v
    };
    let days = |d: i64| jiff::SignedDuration::from_hours(24 * d);
    let now: jiff::Timestamp = IN_WINDOW.parse().unwrap();
    let s = |u: &str, p: &str, used: bool| (u.to_owned(), p.to_owned(), used);
    assert_eq!(
        unused(now.checked_sub(days(90)).unwrap()).await,
        vec![
            s("clerk1", "create:encounters", false),
            s("clerk1", "view:patients", false),
            s("nurse1", "search:patients", false),
            s("nurse1", "view:encounters", false),
            s("remote1", "search:patients", false),
            s("remote1", "view:patients", false),
        ]
    );
    // 100 days later, the permissions used once are stale too.
    let later = now.checked_add(days(100)).unwrap();
    let stale = unused(later.checked_sub(days(90)).unwrap()).await;
    assert!(stale.contains(&s("nurse1", "view:patients", true)));
    assert!(stale.contains(&s("clerk1", "create:patients", true)));
    assert_eq!(stale.len(), 8);
}
both_backends!(permission_review, access_review);

/// Roles in `policies/` are loaded when the server starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_directory_is_loaded_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("policies")).unwrap();
    std::fs::write(
        data.join("policies/radiology.json"),
        r#"{"role": "radiologist", "permissions": ["view:medical_images", "annotate:studies"],
            "constraints": {"temporal": "08:00-18:00 Mon-Fri", "ip_range": ["192.168.1.0/24"]}}"#,
    )
    .unwrap();
    let clock = std::sync::Arc::new(phivault_server::SystemClock);
    let srv = phivault_server::embedded::start(&data, None, clock)
        .await
        .unwrap();
    let http = common::client(&srv.cert_pem);
    let body: Value = http
        .get(format!("{}/v1/roles", srv.url()))
        .header(
            "authorization",
            format!("Bearer {}", srv.admin_token.as_str()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["roles"][0]["role"], "radiologist");
    assert_eq!(body["roles"][0]["permissions"][1], "annotate:studies");
    // Loading a changed policy file is a recorded policy change.
    let changes = srv
        .state
        .vault
        .audit()
        .store()
        .query(&phivault_store::audit::AuditQuery {
            action: Some("role_changed".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert!(String::from_utf8_lossy(&changes[0].event).contains("/v1/roles/radiologist"));
    // An invalid file stops the server from starting, naming the file.
    std::fs::write(
        data.join("policies/bad.json"),
        r#"{"role": "bad", "permissions": ["view:*"]}"#,
    )
    .unwrap();
    srv.stop().await;
    let e = phivault_server::embedded::start(
        &data,
        None,
        std::sync::Arc::new(phivault_server::SystemClock),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("bad.json") && e.contains("view:*"), "{e}");
}
