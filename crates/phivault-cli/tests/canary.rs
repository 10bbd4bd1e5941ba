//! The canary test: the whole API flow with every log at TRACE (no
//! scrubber: PHI must stay out by construction), capturing every log line,
//! every panic message and every HTTP error body, then `phivault scan-logs
//! --known-values` over all of it must find none of the canary's values.
//! A positive control proves the same scan finds them when they are there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Flow {
    srv: phivault_server::embedded::Running,
    http: reqwest::Client,
    errors: Vec<String>,
}

impl Flow {
    async fn call(&mut self, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.srv.url()))
            .bearer_auth(self.srv.admin_token.as_str())
            .header("x-purpose-of-use", "TREAT");
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        if status >= 400 {
            self.errors.push(text.clone());
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

const CANARY: &[&str] = &[
    "Zebulon Canarywright",
    "Canarywright",
    "1961-03-14",
    "078-05-1120",
    "078051120",
    "MRN-CANARY-9931",
    "4417 Canary Row",
    "(831) 555-0177",
    "+18315550177",
    "zebulon.canary@example.net",
    "CANARYNOTE",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_value_in_logs_panics_or_errors() {
    let logs = Capture::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let p = Arc::clone(&panics);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut v) = p.lock() {
            v.push(info.to_string());
        }
        default(info);
    }));

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(phivault_server::SystemClock);
    let srv = phivault_server::embedded::start(&dir.path().join("data"), None, clock)
        .await
        .unwrap();
    let http = common::client(&srv.cert_pem);
    let mut f = Flow {
        srv,
        http,
        errors: Vec::new(),
    };
    let recs = "/v1/collections/patients/records";
    let (s, b) = f
        .call(
            Method::POST,
            recs,
            Some(json!({"fields": common::canary_patient()})),
        )
        .await;
    assert_eq!(s, 201);
    let id = b["id"].as_str().unwrap().to_owned();
    let rec = format!("{recs}/{id}");
    assert_eq!(f.call(Method::GET, &rec, None).await.0, 200);
    let search = "/v1/collections/patients/search";
    for body in [
        json!({"field": "ssn", "value": "078-05-1120"}),
        json!({"field": "email", "value": "zebulon.canary@example.net"}),
        json!({"fields": {"name": "Zebulon Canarywright", "birth_date": "1961-03-14"}}),
    ] {
        assert_eq!(f.call(Method::POST, search, Some(body)).await.0, 200);
    }
    // Bad input carrying canary values: errors name fields, never values.
    for bad in [
        json!({"fields": {"name": "Zebulon Canarywright", "ssn": "078-05-11200"}}),
        json!({"fields": {"name": "Zebulon Canarywright", "birth_date": "1961-03-14T99"}}),
        json!({"fields": {"name": "Zebulon Canarywright", "email": "zebulon.canary@example"}}),
        json!({"fields": {"name": "Zebulon Canarywright", "CANARYNOTE": "x"}}),
    ] {
        assert_eq!(f.call(Method::POST, recs, Some(bad)).await.0, 400);
    }
    assert_eq!(
        f.call(
            Method::POST,
            search,
            Some(json!({"field": "notes", "value": "CANARYNOTE"}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        f.call(
            Method::PATCH,
            &rec,
            Some(json!({"fields": {"phone": "(831) 555-0177x"}}))
        )
        .await
        .0,
        400
    );
    let (s, _) = f
        .call(
            Method::PATCH,
            &rec,
            Some(json!({"fields": {"notes": "CANARYNOTE follow-up"}})),
        )
        .await;
    assert_eq!(s, 200);
    f.call(
        Method::POST,
        "/v1/collections/patients/export",
        Some(json!({"deidentify": "safe-harbor", "pseudonymize": true})),
    )
    .await;
    f.call(Method::GET, &format!("{rec}/disclosures"), None)
        .await;
    f.call(Method::GET, "/v1/audit/events?limit=100", None)
        .await;
    // Malformed JSON that contains a canary value.
    let res = f
        .http
        .post(format!("{}{recs}", f.srv.url()))
        .bearer_auth(f.srv.admin_token.as_str())
        .header("content-type", "application/json")
        .body(r#"{"fields": {"ssn": "078-05-1120""#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    f.errors.push(res.text().await.unwrap());
    assert_eq!(f.call(Method::DELETE, &rec, None).await.0, 204);
    f.srv.stop().await;

    let mut all = logs.0.lock().unwrap().clone();
    assert!(all.len() > 1000, "TRACE logging captured too little");
    for e in f.errors.iter().chain(panics.lock().unwrap().iter()) {
        all.extend_from_slice(e.as_bytes());
        all.push(b'\n');
    }
    let d = tempfile::tempdir().unwrap();
    let captured = common::write(d.path(), "captured.log", &all);
    let mut known = CANARY.join("\n");
    known.push('\n');
    let known = common::write(d.path(), "canary.txt", known.as_bytes());
    let scan = |file: &std::path::Path| {
        std::process::Command::new(common::BIN)
            .args(["scan-logs", "--known-values"])
            .arg(&known)
            .arg(file)
            .output()
            .unwrap()
    };
    let o = scan(&captured);
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    // Positive control: the same scan finds a canary value when it is there.
    let leak = common::write(d.path(), "leak.log", b"DEBUG body ssn=078-05-1120\n");
    assert_eq!(scan(&leak).status.code(), Some(1));
}
