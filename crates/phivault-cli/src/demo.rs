//! `phivault demo`: a throwaway vault, driven over HTTPS like a client would.

use std::sync::Arc;

use phivault_server::SystemClock;
use serde_json::{Value, json};

use crate::out::{self, CliResult};

/// An HTTPS client that trusts exactly the given certificate.
pub fn client(cert_pem: &str) -> Result<reqwest::Client, reqwest::Error> {
    let cert = reqwest::Certificate::from_pem(cert_pem.as_bytes())?;
    reqwest::Client::builder().tls_certs_only([cert]).build()
}

fn show(label: &str, v: &Value) {
    out::line(format_args!("{label}"));
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    for l in pretty.lines() {
        out::line(format_args!("    {l}"));
    }
}

/// Runs the demo.
pub async fn run() -> CliResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let srv = phivault_server::embedded::start(&data, None, Arc::new(SystemClock)).await?;
    let http = client(&srv.cert_pem)?;
    let base = srv.url();
    let auth = format!("Bearer {}", srv.admin_token.as_str());
    out::line(format_args!(
        "phivault demo: an embedded vault at {base}, data in {}",
        data.display()
    ));
    out::line("");

    let patient = json!({"fields": {
        "name": "Maria Demo-Garcia", "birth_date": "1984-07-19", "ssn": "219-09-9999",
        "mrn": "MRN-77120", "address": "12 Harbor Lane, Springfield, IL 62704",
        "phone": "(217) 555-0142", "email": "maria.demo@example.org",
        "notes": "Penicillin allergy; follow-up on asthma plan."
    }});
    show(
        "1. create a patient: POST /v1/collections/patients/records",
        &patient,
    );
    let r = http
        .post(format!("{base}/v1/collections/patients/records"))
        .header("authorization", &auth)
        .json(&patient)
        .send()
        .await?;
    let created: Value = r.json().await?;
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    out::line(format_args!(
        "   -> 201, id {id} (a random pseudonym; 8 fields sealed with a fresh data key)"
    ));
    out::line("");

    let r = http
        .get(format!("{base}/v1/collections/patients/records/{id}"))
        .header("authorization", &auth)
        .send()
        .await?;
    show(
        &format!(
            "2. read it back: GET /v1/collections/patients/records/{id} -> {}",
            r.status()
        ),
        &r.json().await?,
    );
    out::line("");

    let q = json!({"field": "ssn", "value": "219099999"});
    let r = http
        .post(format!("{base}/v1/collections/patients/search"))
        .header("authorization", &auth)
        .json(&q)
        .send()
        .await?;
    let found: Value = r.json().await?;
    out::line(format_args!(
        "3. search by SSN (POST, so the SSN is never in a URL), written without dashes: {} match(es) via the blind index",
        found
            .get("records")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    ));
    let q = json!({"fields": {"name": "  maria demo-garcia ", "birth_date": "1984-07-19"}});
    let r = http
        .post(format!("{base}/v1/collections/patients/search"))
        .header("authorization", &auth)
        .json(&q)
        .send()
        .await?;
    let found: Value = r.json().await?;
    out::line(format_args!(
        "   search by name + birth date (case and spacing folded): {} match(es)",
        found
            .get("records")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    ));
    out::line("");

    let patch = json!({"fields": {"phone": "+1 217 555 0199", "notes": null}});
    let r = http
        .patch(format!("{base}/v1/collections/patients/records/{id}"))
        .header("authorization", &auth)
        .json(&patch)
        .send()
        .await?;
    show(
        &format!("4. update phone, remove notes: PATCH -> {}", r.status()),
        &r.json().await?,
    );
    out::line("");

    let bad = json!({"fields": {"name": "X", "birth_date": "1984-07-19", "ssn": "666-12-3456"}});
    let r = http
        .post(format!("{base}/v1/collections/patients/records"))
        .header("authorization", &auth)
        .json(&bad)
        .send()
        .await?;
    show(
        &format!(
            "5. an invalid SSN is refused, and the error does not echo it: {}",
            r.status()
        ),
        &r.json().await?,
    );
    out::line("");

    let r = http
        .get(format!("{base}/v1/collections/patients/records/{id}"))
        .send()
        .await?;
    out::line(format_args!("6. no token: {}", r.status()));
    out::line("");

    out::line(
        "7. proof at rest: searching every file of the data directory for the plaintext values",
    );
    let secrets = [
        "Maria Demo-Garcia",
        "219-09-9999",
        "MRN-77120",
        "Harbor Lane",
        "maria.demo@example.org",
        "Penicillin",
        "+12175550142",
    ];
    let mut leaks = 0;
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for s in secrets {
            if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                leaks += 1;
                out::line(format_args!(
                    "   FOUND a plaintext value in {}",
                    entry.display()
                ));
            }
        }
    }
    let files = walk(&data).len();
    if leaks == 0 {
        out::line(format_args!(
            "   none of {} values appears in any of {files} files (database, WAL, keyring, config)",
            secrets.len()
        ));
    }
    out::line("");

    let r = http
        .delete(format!("{base}/v1/collections/patients/records/{id}"))
        .header("authorization", &auth)
        .send()
        .await?;
    out::line(format_args!("8. delete: DELETE -> {}", r.status()));
    let r = http
        .get(format!("{base}/v1/collections/patients/records/{id}"))
        .header("authorization", &auth)
        .send()
        .await?;
    out::line(format_args!("   read after delete -> {}", r.status()));
    srv.stop().await;
    if leaks > 0 {
        return Err("plaintext PHI found at rest".into());
    }
    Ok(())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
