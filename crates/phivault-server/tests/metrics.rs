//! The Prometheus exposition after a real API flow: requests by route
//! template, denials, authentication failures, audit append latency; no
//! record id and no PHI value in any label; every metric the shipped
//! Grafana dashboard and alert rules use is exported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::collections::BTreeSet;

use reqwest::Method;

/// `phivault_…` names in a text (rules, dashboard queries).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("phivault_") {
        let start = i + at;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_lowercase() || b[end] == b'_') {
            end += 1;
        }
        let before_ok =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'-');
        if before_ok {
            out.insert(text[start..end].to_owned());
        }
        i = end;
    }
    out
}

fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exposition_counts_the_api_flow_without_ids_or_phi() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let canary = common::canary_patient();
    let id = app.create_patient(canary.clone()).await;
    let (s, _) = app
        .send(
            Method::GET,
            &format!("/v1/collections/patients/records/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    // A denial: a user without any role reads the record.
    app.add_user("nobody", &[]).await;
    let session = app.session("nobody").await;
    let (s, _) = app
        .send_as(
            &session,
            Method::GET,
            &format!("/v1/collections/patients/records/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .send_as(
            "pv_0000000000000000_nope",
            Method::GET,
            "/v1/collections",
            None,
        )
        .await;
    assert_eq!(s, 401);

    // Through the metrics listener, as Prometheus scrapes it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let audit = std::sync::Arc::clone(app.srv.state.vault.audit());
    tokio::spawn(phivault_server::metrics::serve(
        listener,
        audit,
        vec![],
        std::future::pending(),
    ));
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let read = "phivault_http_requests_total{route=\"/v1/collections/{collection}/records/{id}\",method=\"GET\",status=\"200\"}";
    assert!(text.contains(read), "{text}");
    assert!(
        text.contains("phivault_authz_denials_total{code=\""),
        "{text}"
    );
    assert!(
        text.contains("phivault_auth_failures_total{reason=\"malformed_token\"}")
            || text.contains("phivault_auth_failures_total{reason=\"unknown_token\"}"),
        "{text}"
    );
    let appends = text
        .lines()
        .find_map(|l| l.strip_prefix("phivault_audit_append_seconds_count "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(appends >= 3, "{appends}");
    // Labels are templates and codes: no record id, no PHI value.
    assert!(!text.contains(&id), "a record id in the metrics");
    for (field, v) in canary.as_object().unwrap() {
        let v = v.as_str().unwrap();
        for part in v.split([' ', ',']).filter(|p| p.len() >= 5) {
            assert!(!text.contains(part), "`{field}` value in the metrics");
        }
    }

    // Every metric the shipped dashboard and alert rules query exists.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rules =
        std::fs::read_to_string(root.join("deploy/prometheus/phivault-alerts.yml")).unwrap();
    let dash =
        std::fs::read_to_string(root.join("deploy/grafana/phivault-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dash).unwrap();
    assert!(!parsed["panels"].as_array().unwrap().is_empty());
    let used: BTreeSet<String> = metric_names(&rules)
        .into_iter()
        .chain(metric_names(&dash))
        .collect();
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        let fam = family(name);
        assert!(
            text.contains(&format!("# TYPE {fam} ")),
            "`{name}` is queried by deploy/ but not exported"
        );
    }
}
