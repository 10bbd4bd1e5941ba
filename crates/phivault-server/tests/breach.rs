//! Breach detection through the server: each rule fires on its scenario
//! and stays quiet on ordinary traffic; a critical finding isolates the
//! user on the very next request; lockdown scopes; responders keep access
//! under a vault-wide lockdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::time::{Duration, Instant};

use common::{App, Backend};
use reqwest::Method;
use serde_json::json;

const RULES: &str = r#"
[rules]
auto_isolate_at = "critical"

[rules.volume]
max_records = 5
window_minutes = 5

[rules.denials]
max = 3
window_minutes = 10
"#;

async fn app(backend: Backend) -> Option<App> {
    common::spawn_app_files(backend, Default::default(), None, &[("breach.toml", RULES)]).await
}

/// The rule names of the alerts raised so far.
fn rules(app: &App) -> Vec<String> {
    app.srv
        .alerts
        .recent()
        .iter()
        .map(|a| a.kind.to_owned())
        .filter(|k| !k.starts_with("break_glass_"))
        .collect()
}

/// Waits until an alert of `rule` about `user` is raised (or 10 s pass).
async fn alerted_for(app: &App, rule: &str, user: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if app
            .srv
            .alerts
            .recent()
            .iter()
            .any(|a| a.kind == rule && a.user == user)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Makes sure the detector has seen everything appended so far: an event
/// after them, then wait until it is analysed (the detector keeps order).
async fn settle(app: &App) {
    let (s, _) = app.send(Method::GET, "/v1/audit/checkpoint", None).await;
    assert_eq!(s, 200);
    // The checkpoint read is audited; once the detector passed it, it
    // passed everything before. Its progress is visible as the tap drains.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if app
            .srv
            .state
            .breach
            .detector_caught_up(app.srv.state.vault.audit().size())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the detector fell behind");
}

async fn clinician(app: &App, user: &str) -> String {
    app.put_role(json!({"role": "clin", "permissions": ["view:patients"]}))
        .await;
    app.add_user(user, &["clin"]).await;
    app.session(user).await
}

async fn patients(app: &App, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(
            app.create_patient(json!({"name": "Ada Lovelace", "birth_date": "1980-02-03"}))
                .await,
        );
    }
    v
}

async fn read(app: &App, token: &str, id: &str) -> u16 {
    app.send_as(
        token,
        Method::GET,
        &format!("/v1/collections/patients/records/{id}"),
        None,
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_traffic_raises_nothing() {
    let app = app(Backend::Sqlite).await.unwrap();
    app.clock.set("2026-12-02T10:00:00Z".parse().unwrap());
    let tok = clinician(&app, "nurse").await;
    let ps = patients(&app, 4).await;
    for p in &ps {
        app.srv
            .state
            .vault
            .store()
            .set_care_team(p, vec!["nurse".into()])
            .await
            .unwrap();
    }
    app.srv.state.breach.refresh_flags().await.unwrap();
    for p in &ps {
        assert_eq!(read(&app, &tok, p).await, 200);
        assert_eq!(read(&app, &tok, p).await, 200);
    }
    settle(&app).await;
    assert_eq!(rules(&app), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_fires_once_past_the_threshold() {
    let app = app(Backend::Sqlite).await.unwrap();
    app.clock.set("2026-12-02T10:00:00Z".parse().unwrap());
    let tok = clinician(&app, "mallory").await;
    let ps = patients(&app, 8).await;
    for p in &ps[..5] {
        assert_eq!(read(&app, &tok, p).await, 200);
    }
    settle(&app).await;
    assert!(
        !rules(&app).contains(&"volume".to_owned()),
        "fired at the threshold"
    );
    for p in &ps[5..] {
        assert_eq!(read(&app, &tok, p).await, 200);
    }
    assert!(alerted_for(&app, "volume", "mallory").await);
    settle(&app).await;
    assert_eq!(
        rules(&app).iter().filter(|r| *r == "volume").count(),
        1,
        "one alert per burst"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_hours_access_is_flagged() {
    let app = app(Backend::Sqlite).await.unwrap();
    app.clock.set("2026-12-02T03:10:00Z".parse().unwrap());
    let tok = clinician(&app, "night").await;
    let ps = patients(&app, 1).await;
    assert_eq!(read(&app, &tok, &ps[0]).await, 200);
    assert!(alerted_for(&app, "off_hours", "night").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_outside_the_care_team_and_to_flagged_records() {
    let app = app(Backend::Sqlite).await.unwrap();
    app.clock.set("2026-12-02T10:00:00Z".parse().unwrap());
    let tok = clinician(&app, "curious").await;
    let ps = patients(&app, 2).await;
    let store = app.srv.state.vault.store();
    store
        .set_care_team(&ps[0], vec!["someone-else".into()])
        .await
        .unwrap();
    assert_eq!(read(&app, &tok, &ps[0]).await, 200);
    assert!(alerted_for(&app, "care_team", "curious").await);
    store.set_patient_flag(&ps[1], "vip", 1).await.unwrap();
    app.srv.state.breach.refresh_flags().await.unwrap();
    assert_eq!(read(&app, &tok, &ps[1]).await, 200);
    assert!(alerted_for(&app, "flagged", "curious").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_denials_are_flagged() {
    let app = app(Backend::Sqlite).await.unwrap();
    app.clock.set("2026-12-02T10:00:00Z".parse().unwrap());
    let tok = clinician(&app, "prober").await;
    let ps = patients(&app, 1).await;
    for _ in 0..4 {
        let (s, _) = app
            .send_as(
                &tok,
                Method::DELETE,
                &format!("/v1/collections/patients/records/{}", ps[0]),
                None,
            )
            .await;
        assert_eq!(s, 403);
    }
    assert!(alerted_for(&app, "denials", "prober").await);
}

async fn honey_isolates(app: App) {
    let tok = {
        app.clock.set("2026-12-02T10:00:00Z".parse().unwrap());
        clinician(&app, "intruder").await
    };
    let ps = patients(&app, 2).await;
    app.srv
        .state
        .vault
        .store()
        .set_patient_flag(&ps[0], "honey", 1)
        .await
        .unwrap();
    app.srv.state.breach.refresh_flags().await.unwrap();
    // Through the API a honey record reads like any other record.
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let normal = app
        .send_as(
            &tok,
            Method::GET,
            &format!("/v1/collections/patients/records/{}", ps[1]),
            None,
        )
        .await;
    let decoy = app
        .send_as(
            &tok,
            Method::GET,
            &format!("/v1/collections/patients/records/{}", ps[0]),
            None,
        )
        .await;
    assert_eq!((normal.0, decoy.0), (200, 200));
    assert_eq!(keys(&normal.1), keys(&decoy.1));
    assert!(!decoy.1.to_string().contains("honey"), "{}", decoy.1);
    assert!(alerted_for(&app, "honey", "intruder").await);
    let start = Instant::now();
    loop {
        let s = read(&app, &tok, &ps[1]).await;
        if s == 401 || s == 403 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the intruder was never isolated"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_, l) = app.send(Method::GET, "/v1/lockdown", None).await;
    let scopes: Vec<&str> = l["lockdowns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["scope"].as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"user:intruder"), "{l}");
}

both_backends_with_files!(
    honey_records_raise_a_critical_alert_and_isolate,
    honey_isolates,
    RULES
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockdown_scopes_and_responders() {
    let app = app(Backend::Sqlite).await.unwrap();
    app.clock.set("2026-12-02T10:00:00Z".parse().unwrap());
    let tok = clinician(&app, "staff").await;
    app.put_role(
        json!({"role": "responder", "permissions": ["respond:incidents", "view:patients"]}),
    )
    .await;
    app.add_user("ir", &["responder"]).await;
    let ir = app.session("ir").await;
    let ps = patients(&app, 1).await;
    // A collection lockdown refuses the collection, not the rest.
    let (s, b) = app
        .send_as(
            &ir,
            Method::POST,
            "/v1/lockdown",
            Some(json!({"scope": "collection:patients", "reason": "suspected exfiltration"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["lockdown"]["id"].as_str().unwrap().to_owned();
    assert_eq!(read(&app, &tok, &ps[0]).await, 403);
    assert_eq!(
        read(&app, &ir, &ps[0]).await,
        200,
        "a responder keeps access"
    );
    // A non-responder cannot lift it.
    let (s, _) = app
        .send_as(&tok, Method::POST, &format!("/v1/lockdown/{id}/lift"), None)
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .send_as(&ir, Method::POST, &format!("/v1/lockdown/{id}/lift"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(read(&app, &tok, &ps[0]).await, 200);
    // A vault-wide lockdown: only responders.
    let (s, _) = app
        .send_as(
            &ir,
            Method::POST,
            "/v1/lockdown",
            Some(json!({"scope": "vault", "reason": "ransomware suspected"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .send_as(&tok, Method::GET, "/v1/collections", None)
        .await;
    assert_eq!(s, 403);
    assert_eq!(read(&app, &ir, &ps[0]).await, 200);
    // Bad input names the field and echoes nothing.
    let (s, b) = app
        .send_as(
            &ir,
            Method::POST,
            "/v1/lockdown",
            Some(json!({"scope": "patient:123-45-6789", "reason": "x"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        b.to_string().contains("`scope`") && !b.to_string().contains("123-45-6789"),
        "{b}"
    );
    // The refusals are audited.
    let (_, ev) = app
        .send(Method::GET, "/v1/audit/events?action=request_refused", None)
        .await;
    assert!(ev["events"].as_array().unwrap().len() >= 2, "{ev}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_first_approval_is_replaced_not_stuck() {
    let app = common::spawn_app_files(
        Backend::Sqlite,
        Default::default(),
        None,
        &[("breach.toml", "restore_requires_two = true\n")],
    )
    .await
    .unwrap();
    app.put_role(json!({"role": "responder", "permissions": ["respond:incidents"]}))
        .await;
    app.add_user("ir", &["responder"]).await;
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/lockdown",
            Some(json!({"scope": "collection:encounters", "reason": "drill"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let lift = format!(
        "/v1/lockdown/{}/lift",
        b["lockdown"]["id"].as_str().unwrap()
    );
    assert_eq!(
        app.send(Method::POST, &lift, None).await.0,
        202,
        "first approval"
    );
    assert_eq!(
        app.send(Method::POST, &lift, None).await.0,
        403,
        "same responder twice"
    );
    // The admin's approval expires; the next responder's replaces it.
    app.clock.advance(jiff::SignedDuration::from_mins(61));
    let ir = app.session("ir").await;
    assert_eq!(app.send_as(&ir, Method::POST, &lift, None).await.0, 202);
    assert_eq!(
        app.send(Method::POST, &lift, None).await.0,
        200,
        "a second responder lifts it"
    );
}
