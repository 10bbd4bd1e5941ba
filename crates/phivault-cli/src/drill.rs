//! `phivault drill`: a breach simulation, end to end, against a throwaway
//! vault (SQLite, or PostgreSQL with `--database`).
//!
//! A compromised clinician account reads records one after another from an
//! address the vault has never seen. The drill then checks, and times, what
//! must follow: the volume rule fires (`alert_raised`), the account is
//! isolated automatically (its next request is refused), the signed alert
//! reaches a webhook, an incident is declared and its evidence sealed and
//! verified, and the affected-patient list computed from the verified audit
//! log equals exactly the records the attacker read. It prints the times
//! against the targets (detect ≤ 5 s, isolate ≤ 1 s after detection, whole
//! drill ≤ 60 s), saves the report, and fails if any check fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use phivault_breach::affected::{Actor, AffectedQuery};
use phivault_breach::drill::DrillTimes;
use phivault_server::breach::receiver::Receiver;
use phivault_server::config::FileConfig;
use serde_json::{Value, json};

use crate::out::{self, CliResult};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Drill options.
#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    /// Run on PostgreSQL (a fresh schema) instead of SQLite.
    #[arg(long, env = "PHIVAULT_DRILL_DATABASE")]
    database: Option<String>,
    /// Patients in the vault.
    #[arg(long, default_value_t = 80)]
    patients: usize,
    /// The volume rule's threshold in the drill (records in 5 minutes).
    #[arg(long, default_value_t = 25)]
    threshold: usize,
    /// Where to save the report and the evidence bundle.
    #[arg(long, default_value = "drill-report")]
    out: PathBuf,
}

const ATTACKER: &str = "drill.compromised";
const ATTACKER_IP: &str = "203.0.113.77";
const SECRET: &str = "drill-webhook-secret-0123456789abcdef";

fn breach_toml(dir: &Path, receiver: &Receiver, threshold: usize) -> Result<(), Error> {
    let secret = dir.join("webhook-secret");
    phivault_server::datadir::write_private(&secret, SECRET.as_bytes())?;
    let text = format!(
        r#"restore_requires_two = false

[rules]
auto_isolate_at = "high"

# The drill plays a clinician on every patient's care team, at any hour:
# only the volume of its reads gives it away.
[rules.off_hours]
enabled = false

[rules.volume]
max_records = {threshold}
window_minutes = 5
severity = "high"

[[webhooks]]
name = "drill"
url = "{url}"
secret_file = "{secret}"
ca_file = "{ca}"
"#,
        url = receiver.url(),
        secret = secret.display(),
        ca = receiver.ca_file.display(),
    );
    std::fs::write(
        phivault_server::breach::config::path_in(&dir.join("data")),
        text,
    )?;
    Ok(())
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        from: Option<&str>,
    ) -> Result<(u16, Value), Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(ip) = from {
            req = req.header("x-forwarded-for", ip);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let v = res.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let (s, v) = self.call(method, path, token, body, None).await?;
        if !(200..300).contains(&s) {
            return Err(format!("drill setup: {path} answered {s}").into());
        }
        Ok(v)
    }
}

fn token_of(v: &Value) -> Result<String, Error> {
    Ok(v.get("token")
        .and_then(Value::as_str)
        .ok_or("no token in the answer")?
        .to_owned())
}

/// Waits for `check` to give a value, polling, until `deadline`.
async fn until<T, F, Fut>(deadline: Instant, mut check: F) -> Result<Option<T>, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, Error>>,
{
    loop {
        if let Some(v) = check().await? {
            return Ok(Some(v));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn micros_of(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_microsecond())
}

/// Runs the drill.
pub async fn run(a: DrillArgs) -> CliResult {
    let started_wall = jiff::Timestamp::now();
    let t0 = Instant::now();
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    phivault_server::datadir::init(&data, &started_wall.to_string())?;
    let receiver = Receiver::start(tmp.path(), SECRET.as_bytes()).await?;
    breach_toml(tmp.path(), &receiver, a.threshold)?;
    let schema = format!("pv_drill_{}", std::process::id());
    let database = match &a.database {
        Some(url) => Some(crate::bench::pg::bench_schema(url, &schema).await?),
        None => None,
    };
    let over = FileConfig {
        database: database.clone(),
        trusted_proxies: Some(vec!["127.0.0.1/32".into()]),
        ..FileConfig::default()
    };
    let server =
        phivault_server::embedded::start_with(&data, over, Arc::new(phivault_server::SystemClock))
            .await?;
    let cert = reqwest::Certificate::from_pem(server.cert_pem.as_bytes())?;
    let api = Api {
        http: reqwest::Client::builder().tls_certs_only([cert]).build()?,
        base: server.url(),
    };
    let admin = server.admin_token.as_str().to_owned();
    use reqwest::Method as M;
    // Setup: a clinician role, the account to compromise, the patients.
    api.ok(
        M::PUT,
        "/v1/roles/drill-clinician",
        &admin,
        Some(json!({"role": "drill-clinician", "permissions": ["view:patients"]})),
    )
    .await?;
    api.ok(
        M::POST,
        "/v1/users",
        &admin,
        Some(json!({"id": ATTACKER, "roles": ["drill-clinician"]})),
    )
    .await?;
    let api_token = token_of(
        &api.ok(
            M::POST,
            &format!("/v1/users/{ATTACKER}/tokens"),
            &admin,
            None,
        )
        .await?,
    )?;
    let session = token_of(&api.ok(M::POST, "/v1/sessions", &api_token, None).await?)?;
    let mut ids = Vec::new();
    for _ in 0..a.patients {
        let body = json!({"fields": Value::Object(phivault_server::breach::honey::decoy())});
        let v = api
            .ok(
                M::POST,
                "/v1/collections/patients/records",
                &admin,
                Some(body),
            )
            .await?;
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or("no id")?
            .to_owned();
        api.ok(
            M::PUT,
            &format!("/v1/collections/patients/records/{id}/care-team"),
            &admin,
            Some(json!({"users": [ATTACKER]})),
        )
        .await?;
        ids.push(id);
    }
    // The attack.
    let attack_start = jiff::Timestamp::now();
    let mut read = BTreeSet::new();
    let mut refused_at = None;
    for id in &ids {
        let (s, v) = api
            .call(
                M::GET,
                &format!("/v1/collections/patients/records/{id}"),
                &session,
                None,
                Some(ATTACKER_IP),
            )
            .await?;
        match s {
            200 => {
                read.insert(id.clone());
            }
            // Isolated: the lockdown refuses (403), or the session it
            // revoked no longer authenticates (401).
            401 | 403
                if matches!(
                    v.pointer("/error/code").and_then(Value::as_str),
                    Some("locked_down" | "unauthorized" | "session_revoked" | "token_disabled")
                ) || s == 401 =>
            {
                refused_at = Some(jiff::Timestamp::now());
                break;
            }
            other => return Err(format!("drill: an attacker read answered {other}").into()),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let alert = until(deadline, || async {
        let (_, v) = api
            .call(
                M::GET,
                &format!("/v1/audit/events?action=alert_raised&user={ATTACKER}"),
                &admin,
                None,
                None,
            )
            .await?;
        Ok(v.pointer("/events/0").cloned())
    })
    .await?
    .ok_or("the volume rule did not fire")?;
    let detected = alert
        .get("timestamp")
        .and_then(micros_of)
        .ok_or("alert without a time")?;
    let lockdown = until(deadline, || async {
        let v = api.ok(M::GET, "/v1/lockdown", &admin, None).await?;
        Ok(v.get("lockdowns").and_then(Value::as_array).and_then(|l| {
            l.iter()
                .find(|x| x["scope"] == format!("user:{ATTACKER}"))
                .cloned()
        }))
    })
    .await?
    .ok_or("the account was not isolated")?;
    let locked_at = lockdown
        .get("created_at")
        .and_then(micros_of)
        .ok_or("lockdown without a time")?;
    let delivered = receiver.wait_for(1, deadline).await;
    let alerted = delivered.first().map(|r| r.at_wall.as_microsecond());
    // The account stays refused.
    let (after, _) = api
        .call(
            M::GET,
            &format!(
                "/v1/collections/patients/records/{}",
                ids.last().map_or("", String::as_str)
            ),
            &session,
            None,
            Some(ATTACKER_IP),
        )
        .await?;
    // Incident, evidence, affected list.
    let v = api
        .ok(M::POST, "/v1/incidents", &admin, Some(json!({"severity": "high", "summary": "breach drill: compromised clinician account"})))
        .await?;
    let incident = v
        .pointer("/incident/id")
        .and_then(Value::as_str)
        .ok_or("no incident id")?
        .to_owned();
    for kind in ["isolated", "compliance_alerted"] {
        api.ok(
            M::POST,
            &format!("/v1/incidents/{incident}/steps"),
            &admin,
            Some(json!({"kind": kind})),
        )
        .await?;
    }
    let at = crate::keys::At {
        data_dir: data.clone(),
        database: database.clone(),
    };
    let ctx = crate::keys::open(&at).await?;
    let bundle = a.out.join("evidence");
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle)?;
    }
    let until_micros = jiff::Timestamp::now().as_microsecond() + 1;
    let written = crate::incident::evidence::collect(
        crate::incident::evidence::Collect {
            config: &ctx.config,
            incident_id: &incident,
            since: started_wall.as_microsecond(),
            until: until_micros,
            out: &bundle,
            actor: "phivault:drill",
        },
        crate::keys::metadata(&ctx).await?,
    )
    .await?;
    let key = server.state.vault.audit().verifier().clone();
    let checked = crate::incident::evidence::verify(&bundle, &key, "phivault:drill")?;
    let q = AffectedQuery {
        actor: Actor::User(ATTACKER.into()),
        since_micros: attack_start.as_microsecond(),
        until_micros,
    };
    let computed = crate::incident::affected::compute(&ctx.config, &ctx.store, &q, true).await?;
    let listed: BTreeSet<String> = computed
        .list
        .compromised()
        .map(|p| p.patient_id.clone())
        .collect();
    let finished = jiff::Timestamp::now();
    let times = DrillTimes {
        started: attack_start.as_microsecond(),
        detected: Some(detected),
        // Isolated when the attacker was first refused, not when the
        // lockdown row was written: what counts is that access stopped.
        isolated: refused_at.map(|t| t.as_microsecond()),
        alerted,
        finished: finished.as_microsecond(),
    };
    let score = phivault_breach::drill::score(&times, &read, &listed).map_err(|e| e.0)?;
    std::fs::create_dir_all(&a.out)?;
    let report = score.to_markdown();
    std::fs::write(a.out.join("drill-report.md"), &report)?;
    std::fs::write(
        a.out.join("drill-report.json"),
        serde_json::to_vec_pretty(&score.to_json())?,
    )?;
    out::line(report.trim_end());
    out::line(format_args!(
        "backend {}; {} records read before the lockdown; lockdown stored {:.3} s after detection, first refusal {}; after isolation the account gets {after}; {} alert(s) delivered (signature checked), {} rejected",
        server.state.vault.store().backend(),
        read.len(),
        (locked_at - detected) as f64 / 1e6,
        refused_at.map_or("never".into(), |t| t.to_string()),
        delivered.len(),
        receiver.rejected()
    ));
    out::line(format_args!(
        "evidence: {} files, {} events proven, custody {} entries (manifest sha256 {})",
        checked.files, checked.events, checked.custody, written.manifest_digest
    ));
    out::line(format_args!(
        "report saved in {} (whole drill {:.1} s)",
        a.out.display(),
        t0.elapsed().as_secs_f64()
    ));
    server.stop().await;
    if let Some(url) = &a.database {
        crate::bench::pg::drop_schema(url, &schema).await?;
    }
    if !score.passed || !matches!(after, 401 | 403) || refused_at.is_none() {
        return Err("the drill failed: see the report".into());
    }
    Ok(())
}
