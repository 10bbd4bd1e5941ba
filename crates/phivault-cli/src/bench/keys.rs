//! (g) Key rotation: `phivault keys rotate` (this binary, a separate
//! process, as an operator runs it) rewrapping every DEK, on SQLite and
//! PostgreSQL; then a rotation of many DEKs beside a running server under
//! HTTP read load, reads/s before and during.
//!
//! Records are loaded straight into the store (real DEKs, wrapped under
//! the real keyring, two fields really sealed) because loading a million
//! records through the API would take longer than everything measured; the
//! rotation and the reads go through the real paths.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use phivault_core::PhiValue;
use phivault_core::envelope::{DataKey, FieldContext, RecordCipher};
use phivault_core::ids::RecordId;
use phivault_keys::KeyProvider;
use phivault_keys::router::kek_slot;
use phivault_store::{Store, StoredRecord};

use crate::out;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Inserts `n` patients with real sealed fields; returns their ids.
pub(super) async fn load(
    store: &Arc<dyn Store>,
    keys: &Arc<dyn KeyProvider>,
    n: usize,
) -> BenchResult<Vec<String>> {
    let start = Instant::now();
    let workers = 32;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (store, keys) = (Arc::clone(store), Arc::clone(keys));
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (w..n).step_by(workers) {
                let id = RecordId::generate().map_err(|_| "random")?;
                let id = id.as_str().to_owned();
                let dek = DataKey::generate().map_err(|_| "random")?;
                let cipher = RecordCipher::new(&dek).map_err(|_| "cipher")?;
                let mut sealed = std::collections::BTreeMap::new();
                for (field, value) in [
                    ("name", format!("Bench Patient {i}")),
                    (
                        "ssn",
                        format!("{:03}-45-{:04}", 100 + i % 500, 1 + i % 9_999),
                    ),
                ] {
                    let ctx = FieldContext {
                        collection: "patients",
                        record_id: &id,
                        field,
                    };
                    let ct = cipher
                        .seal(ctx, &PhiValue::new(value))
                        .map_err(|_| "seal")?;
                    sealed.insert(field.to_owned(), ct);
                }
                let wrapped = keys.wrap(&dek, "patients", &id).await.map_err(|_| "wrap")?;
                let now = phivault_server::clock::micros(jiff::Timestamp::now());
                let rec = StoredRecord {
                    collection: "patients".into(),
                    id: id.clone(),
                    patient_id: Some(id.clone()),
                    created_at: now,
                    updated_at: now,
                    kek_version: kek_slot(wrapped.kek),
                    wrapped_dek: wrapped.encode(),
                    sealed,
                    plain: serde_json::Map::new(),
                };
                store.insert_record(rec, Vec::new()).await?;
                ids.push(id);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(ids)
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await??);
    }
    out::line(format_args!(
        "  loaded {n} records in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
    Ok(ids)
}

/// Runs `phivault keys rotate` on `data_dir` and returns (DEKs, seconds,
/// the rate it printed).
fn rotate_cli(
    data_dir: &Path,
    database: Option<&str>,
    max_rate: Option<u32>,
) -> BenchResult<(u64, f64, String)> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["keys", "rotate", "--page", "1000", "--data-dir"])
        .arg(data_dir)
        .env_remove("PHIVAULT_DATABASE");
    if let Some(d) = database {
        cmd.args(["--database", d]);
    }
    if let Some(r) = max_rate {
        cmd.args(["--max-rate", &r.to_string()]);
    }
    let start = Instant::now();
    let o = cmd.output()?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    if !o.status.success() {
        return Err(format!(
            "keys rotate failed: {stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("rewrapped "))
        .unwrap_or_default()
        .to_owned();
    let n = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((n, secs, line))
}

/// `phivault keys rotate` rewrap rate on `n` DEKs, SQLite and (with a URL)
/// PostgreSQL.
pub async fn rewrap_rate(n: usize, database: Option<&str>) -> BenchResult<()> {
    let mut targets: Vec<(&str, Option<String>)> = vec![("SQLite", None)];
    if let Some(url) = database {
        let sep = if url.contains('?') { '&' } else { '?' };
        let schema = format!("pv_bench_keys{}", std::process::id());
        targets.push(("PostgreSQL", Some(format!("{url}{sep}schema={schema}"))));
    }
    for (name, db) in targets {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        phivault_server::datadir::init(&data, &jiff::Timestamp::now().to_string())?;
        let store = phivault_store::open(
            &db.clone()
                .unwrap_or_else(|| data.join("phivault.db").to_string_lossy().into_owned()),
        )
        .await?;
        let ring: Arc<dyn KeyProvider> =
            Arc::new(phivault_server::datadir::open_keyring(&data.join("keys"))?);
        out::line(format_args!("  {name}:"));
        load(&store, &ring, n).await?;
        let (done, secs, line) = rotate_cli(&data, db.as_deref(), None)?;
        out::line(format_args!(
            "keys rotate, {name}, {done} DEKs: {:.0} DEKs/s end to end ({secs:.1} s with process start); it reported: {line}",
            done as f64 / secs
        ));
        if let Some(url) = &db {
            drop_schema(url).await;
        }
    }
    Ok(())
}

async fn drop_schema(url: &str) {
    let Some((base, schema)) = url.rsplit_once("schema=") else {
        return;
    };
    let base = base.trim_end_matches(['?', '&']);
    if let Ok((c, conn)) = tokio_postgres::connect(base, tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = c
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
    }
}

/// Reads random records over HTTPS with `concurrency` clients until `stop`;
/// returns the count.
pub(super) fn spawn_readers(
    url: String,
    token: String,
    cert: String,
    ids: Arc<Vec<String>>,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
) -> BenchResult<Vec<tokio::task::JoinHandle<BenchResult<()>>>> {
    let cert = reqwest::Certificate::from_pem(cert.as_bytes())?;
    let http = reqwest::Client::builder()
        .tls_certs_only([cert])
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (http, url, token, ids, stop, count) = (
            http.clone(),
            url.clone(),
            token.clone(),
            Arc::clone(&ids),
            Arc::clone(&stop),
            Arc::clone(&count),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = c * 7_919;
            while !stop.load(Ordering::Relaxed) {
                i = i.wrapping_add(104_729);
                let Some(id) = ids.get(i % ids.len().max(1)) else {
                    continue;
                };
                let res = http
                    .get(format!("{url}/v1/collections/patients/records/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                if res.status() != 200 {
                    return Err(format!("read: HTTP {}", res.status()).into());
                }
                let _ = res.bytes().await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    Ok(tasks)
}

/// A rotation of `n` DEKs (a separate `phivault keys rotate` process)
/// beside the embedded server on SQLite under HTTP read load (64 clients
/// reading 5,000 of the patients as their care-team physician).
pub async fn rotation_under_load(n: usize, max_rate: Option<u32>) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let clock: Arc<dyn phivault_server::Clock> = Arc::new(phivault_server::SystemClock);
    // One load generator stands for many clients: no per-address limit.
    let over = phivault_server::config::FileConfig {
        rate_limit_per_second: Some(0),
        ..Default::default()
    };
    let srv = phivault_server::embedded::start_with(&data, over, clock).await?;
    let ids = load(srv.state.vault.store(), srv.state.vault.keys(), n).await?;
    // The readers are a care-team physician (as in the API cost bench) on
    // the care teams of the first 5,000 patients, which they read: an
    // admin would raise an access-outside-care-team alert on every read.
    let sample: Vec<String> = ids.into_iter().take(5_000).collect();
    for id in &sample {
        srv.state
            .vault
            .store()
            .set_care_team(id, vec![super::api_cost::READER.to_owned()])
            .await?;
    }
    let token =
        super::api_cost::physician_session(&srv.url(), &srv.cert_pem, srv.admin_token.as_str())
            .await?;
    let ids = Arc::new(sample);
    let (stop, count) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let readers = spawn_readers(
        srv.url(),
        token,
        srv.cert_pem.clone(),
        Arc::clone(&ids),
        64,
        Arc::clone(&stop),
        Arc::clone(&count),
    )?;
    // Warm up, then the baseline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let window = Duration::from_secs(15);
    let (c0, t0) = (count.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(window).await;
    let base = (count.load(Ordering::Relaxed) - c0) as f64 / t0.elapsed().as_secs_f64();
    let (c1, t1) = (count.load(Ordering::Relaxed), Instant::now());
    let data_dir = data.clone();
    let rot = tokio::task::spawn_blocking(move || rotate_cli(&data_dir, None, max_rate)).await??;
    let during = (count.load(Ordering::Relaxed) - c1) as f64 / t1.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await??;
    }
    let by_kek = srv.state.vault.store().count_deks_by_kek().await?;
    let pace = max_rate.map_or("unthrottled".to_owned(), |r| format!("--max-rate {r}"));
    out::line(format_args!(
        "rotation of {} DEKs ({pace}) beside the server: {:.1} s ({:.0} DEKs/s); HTTPS reads (64 clients) {base:.0}/s before, {during:.0}/s during: {:.0} % kept; DEKs per kek after: {by_kek:?}; security alerts raised: {}",
        rot.0,
        rot.1,
        rot.0 as f64 / rot.1,
        during / base * 100.0,
        srv.alerts.recent().len(),
    ));
    srv.stop().await;
    Ok(())
}
