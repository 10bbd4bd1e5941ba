//! (f) What the audit trail costs API reads: two HTTPS servers on one data
//! directory and one store, the real one (its trail in segment files,
//! fdatasync per group) and one whose trail forgets every event (benchmark
//! only: `phivault serve` has no way to run without its trail), read
//! alternately by the same clients.
//!
//! Both servers run on their own Tokio runtime, whose threads (workers and
//! blocking pool, where the fdatasync happens) are named, so their CPU time
//! is counted apart from the load generator's: the throughput ratio is what
//! clients see on this 2-core machine (the load generator takes its share
//! of the cores), the CPU per read is what the server spends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use phivault_server::config::{Config, FileConfig};
use phivault_server::{Clock, SystemClock, Vault, datadir};
use phivault_store::audit::AuditStore;

use crate::out;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The server runtime's thread names (as `/proc/self/task/*/comm` shows
/// them: at most 15 bytes).
const SERVER_THREADS: &str = "pv-bench-server";

/// One server: its address, and what stops it.
struct Served {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// Everything the readers need, built on the server runtime.
struct Setup {
    real: Served,
    discard: Served,
    token: String,
    cert: String,
    ids: Arc<Vec<String>>,
}

/// Runs the comparison: `records` patients, `rounds` alternations of
/// `window` per side, at each concurrency.
pub async fn run(records: usize, rounds: usize, window: Duration) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()?;
    let setup = rt.spawn(setup(data, records)).await??;
    for concurrency in [64, 256] {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            for (url, side) in [
                (&setup.discard.url, &mut without),
                (&setup.real.url, &mut with),
            ] {
                side.push(window_rate(url, &setup, concurrency, window).await?);
            }
        }
        let m = |v: &[Sample], f: fn(&Sample) -> f64| super::stats::median(v.iter().map(f));
        let (w, wo) = (m(&with, |s| s.rate), m(&without, |s| s.rate));
        let (wc, woc) = (m(&with, |s| s.cpu), m(&without, |s| s.cpu));
        out::line(format_args!(
            "HTTPS record reads, SQLite, {concurrency} clients, medians of {rounds} alternating \
             {:.0} s windows: {w:.0}/s with the audit trail, {wo:.0}/s with the discard \
             baseline: the trail costs {:.1} % of API read throughput; server CPU per read \
             {:.1} µs with it, {:.1} µs without ({:+.1} %); per window with/without: {}",
            window.as_secs_f64(),
            (1.0 - w / wo) * 100.0,
            wc * 1e6,
            woc * 1e6,
            (wc / woc - 1.0) * 100.0,
            with.iter()
                .zip(&without)
                .map(|(a, b)| format!("{:.0}/{:.0}", a.rate, b.rate))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    let _ = setup.real.stop.send(());
    let _ = setup.discard.stop.send(());
    // Dropping a runtime inside another one's task would block it.
    rt.shutdown_background();
    Ok(())
}

/// One window's figures: reads per second, server CPU seconds per read.
struct Sample {
    rate: f64,
    cpu: f64,
}

/// `concurrency` clients read `url` for a one-second warm-up, then for
/// `window`, counted.
async fn window_rate(
    url: &str,
    setup: &Setup,
    concurrency: usize,
    window: Duration,
) -> BenchResult<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let readers = super::keys::spawn_readers(
        url.to_owned(),
        setup.token.clone(),
        setup.cert.clone(),
        Arc::clone(&setup.ids),
        concurrency,
        Arc::clone(&stop),
        Arc::clone(&count),
    )?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c0, cpu0, t0) = (count.load(Ordering::Relaxed), server_cpu(), Instant::now());
    tokio::time::sleep(window).await;
    let (c1, cpu1, secs) = (
        count.load(Ordering::Relaxed),
        server_cpu(),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await??;
    }
    let reads = (c1 - c0).max(1) as f64;
    Ok(Sample {
        rate: reads / secs,
        cpu: (cpu1 - cpu0) / reads,
    })
}

/// Initializes the data directory, loads the patients and starts both
/// servers (run on the server runtime, so that every background task of
/// the vaults counts as server CPU). The reader is a physician whose role
/// is limited to their care team, on the care team of every patient, with
/// a session token: the common clinical read. (An admin reading random
/// patients would raise an access-outside-care-team alert on every read.)
async fn setup(data: std::path::PathBuf, records: usize) -> BenchResult<Setup> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    datadir::init(&data, &clock.now().to_string())?;
    // One load generator stands for many clients: no per-address limit.
    let over = FileConfig {
        rate_limit_per_second: Some(0),
        listen: "127.0.0.1:0".parse().ok(),
        ..Default::default()
    };
    let file = FileConfig::load(&data).map_err(|e| e.to_string())?;
    let config = Arc::new(Config::resolve(data.clone(), over, file).map_err(|e| e.to_string())?);
    let (vault, keyring) = datadir::open(&config, Arc::clone(&clock)).await?;
    let ids = super::keys::load(vault.store(), vault.keys(), records).await?;
    for id in &ids {
        vault
            .store()
            .set_care_team(id, vec![READER.to_owned()])
            .await?;
    }
    let admin = datadir::issue_admin_token(vault.store(), clock.as_ref()).await?;
    let cert = std::fs::read_to_string(&config.tls_cert)?;
    let (store, keys, schema) = (
        Arc::clone(vault.store()),
        Arc::clone(vault.keys()),
        vault.schema().clone(),
    );
    let real = serve(vault, &config).await?;
    let token = physician_session(&real.url, &cert, admin.as_str()).await?;
    // Started after the role exists: a server loads the roles when it starts.
    let discard_store: Arc<dyn AuditStore> = Arc::new(super::audit::DiscardAudit::default());
    let discard = Vault::new(
        schema,
        store,
        keys,
        keyring.index_root(),
        Arc::clone(&clock),
        super::audit::open_log(discard_store).await?,
    )
    .with_index_keyring(Arc::clone(&keyring));
    Ok(Setup {
        real,
        discard: serve(discard, &config).await?,
        token,
        cert,
        ids: Arc::new(ids),
    })
}

/// The reader's user id.
pub(super) const READER: &str = "dr.bench";

/// Creates the care-team-limited role and the reader through the API;
/// returns a session token for them.
pub(super) async fn physician_session(url: &str, cert: &str, admin: &str) -> BenchResult<String> {
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes())?])
        .build()?;
    let call = |method: reqwest::Method, path: &str, token: &str, body: serde_json::Value| {
        let req = http
            .request(method, format!("{url}{path}"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let res = req.send().await?;
            if !res.status().is_success() {
                return Err(format!("setup: HTTP {}", res.status()).into());
            }
            BenchResult::Ok(res.json::<serde_json::Value>().await?)
        }
    };
    use reqwest::Method;
    let role = serde_json::json!({"role": "physician", "permissions": ["view:patients"],
                                  "care_team_only": true});
    call(Method::PUT, "/v1/roles/physician", admin, role).await?;
    let user = serde_json::json!({"id": READER, "display_name": "Bench Physician",
                                  "roles": ["physician"]});
    call(Method::POST, "/v1/users", admin, user).await?;
    let api = call(
        Method::POST,
        &format!("/v1/users/{READER}/tokens"),
        admin,
        serde_json::json!({}),
    )
    .await?;
    let api = api
        .get("token")
        .and_then(|t| t.as_str())
        .ok_or("setup: no token")?
        .to_owned();
    let session = call(Method::POST, "/v1/sessions", &api, serde_json::json!({})).await?;
    Ok(session
        .get("token")
        .and_then(|t| t.as_str())
        .ok_or("setup: no session token")?
        .to_owned())
}

/// Serves `vault` over TLS on a fresh loopback port, as `phivault serve`
/// does.
async fn serve(vault: Vault, config: &Arc<Config>) -> BenchResult<Served> {
    let state = phivault_server::http::AppState::new(
        Arc::new(vault),
        Arc::clone(config),
        Arc::new(phivault_server::access::AlertLog::default()),
    )
    .await?;
    let tls = phivault_server::tls::server_config(&config.tls_cert, &config.tls_key)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let header_timeout = Duration::from_secs(u64::from(config.limits.header_timeout_seconds));
    tokio::spawn(phivault_server::tls::serve(
        listener,
        phivault_server::http::router(state),
        Some(tls),
        header_timeout,
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Served { url, stop })
}

/// User + system CPU seconds of this process's server runtime threads
/// (Linux `/proc/self/task/*/stat`); 0 elsewhere.
fn server_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .map(|stat| match super::audit::stat_cpu(&stat) {
            (SERVER_THREADS, secs) => secs,
            _ => 0.0,
        })
        .sum()
}
