//! Streaming the audit trail to a real NATS JetStream server: everything
//! arrives in order with its index as the message id, and when the broker
//! is stopped mid-stream the events queue durably in the log and are all
//! delivered once it is back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use phivault_server::audit::stream::{self, nats::STREAM};
use phivault_server::config::FileConfig;

/// The nats-server binary, or `None` to skip (failing instead when CI
/// requires NATS with `PHIVAULT_REQUIRE_NATS=1`).
fn nats_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("PHIVAULT_REQUIRE_NATS").as_deref() != Ok("1"),
            "PHIVAULT_REQUIRE_NATS=1 but nats-server is not installed"
        );
        eprintln!("skipping NATS test: nats-server is not installed");
    }
    found
}

/// A nats-server of this test's own, so it can be stopped and restarted.
struct Broker {
    bin: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    fn start(bin: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = Self {
            bin,
            port,
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        b.up();
        b
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let child = Command::new(&self.bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("nats-server to accept connections", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.down();
    }
}

/// Polls a condition every 20 ms for at most 60 s.
fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn lag(app: &common::App) -> u64 {
    stream::lag(app.srv.state.vault.audit(), "nats")
        .await
        .unwrap()
}

async fn wait_delivered(app: &common::App) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while lag(app).await > 0 {
        assert!(Instant::now() < deadline, "events were not all delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every message of the tenant's subject, as (index header, payload).
async fn consume(url: &str, tenant: &str, expect: usize) -> Vec<(u64, Vec<u8>)> {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
    let s = js.get_stream(STREAM).await.unwrap();
    let consumer = s
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: stream::subject(tenant),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    while out.len() < expect {
        let batch = consumer
            .fetch()
            .max_messages(expect - out.len())
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        use futures_util::StreamExt;
        let msgs: Vec<_> = batch.collect().await;
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            let m = m.unwrap();
            let h = m.headers.as_ref().unwrap();
            let idx: u64 = h.get("Phivault-Index").unwrap().as_str().parse().unwrap();
            let log = h.get("Phivault-Log").unwrap().as_str();
            assert_eq!(
                h.get("Nats-Msg-Id").unwrap().as_str(),
                format!("{log}:{idx}")
            );
            out.push((idx, m.payload.to_vec()));
        }
    }
    out
}

fn tenant(app: &common::App) -> String {
    app.srv.state.config.tenant.clone()
}

fn over(url: String, dir: &Path) -> FileConfig {
    // A tenant per test keeps subjects apart on a shared broker.
    let name = dir.file_name().unwrap().to_string_lossy().to_lowercase();
    let t: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(24)
        .collect();
    FileConfig {
        nats_url: Some(url),
        tenant: Some(format!("t-{t}")),
        ..Default::default()
    }
}

async fn check_all_delivered(app: &common::App, url: &str) {
    let size = app.srv.state.vault.audit().size();
    let got = consume(url, &tenant(app), size as usize).await;
    let stored = app
        .srv
        .state
        .vault
        .audit()
        .store()
        .read(0, size as usize)
        .await
        .unwrap();
    // Duplicates are allowed (at least once) and detectable by index; after
    // dropping them the stream is the log, in order, byte for byte.
    let mut seen = std::collections::BTreeMap::new();
    let mut last = None;
    for (idx, payload) in got {
        if seen.contains_key(&idx) {
            continue;
        }
        assert!(
            last.is_none_or(|l| idx > l),
            "event {idx} arrived out of order"
        );
        last = Some(idx);
        seen.insert(idx, payload);
    }
    assert_eq!(seen.len() as u64, size, "every event is delivered");
    for f in stored {
        assert_eq!(seen.get(&f.index), Some(&f.event), "event {}", f.index);
    }
}

async fn run(backend: common::Backend) {
    let Some(bin) = nats_binary() else { return };
    let mut broker = Broker::start(bin);
    let parent = tempfile::tempdir().unwrap();
    let Some(app) = common::spawn_app_with(backend, over(broker.url(), parent.path())).await else {
        return;
    };
    for _ in 0..5 {
        app.create_patient(common::canary_patient()).await;
    }
    wait_delivered(&app).await;

    // The broker goes away: PHI requests still succeed (the log is the
    // queue), and the events wait.
    broker.down();
    let before = app.srv.state.vault.audit().size();
    for _ in 0..20 {
        app.create_patient(common::canary_patient()).await;
    }
    assert!(app.srv.state.vault.audit().size() >= before + 20);
    assert!(
        lag(&app).await >= 20,
        "nothing can be acknowledged while down"
    );

    broker.up();
    wait_delivered(&app).await;
    check_all_delivered(&app, &broker.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_sqlite() {
    run(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_postgres() {
    run(common::Backend::Postgres).await;
}

/// The machine's own JetStream server (started by `scripts/services`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_broker() {
    let url =
        std::env::var("PHIVAULT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    if async_nats::connect(&url).await.is_err() {
        assert!(
            std::env::var("PHIVAULT_REQUIRE_NATS").as_deref() != Ok("1"),
            "PHIVAULT_REQUIRE_NATS=1 but no NATS server answers at {url}"
        );
        eprintln!("skipping NATS test: no server at {url}");
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let app = common::spawn_app_with(common::Backend::Sqlite, over(url.clone(), parent.path()))
        .await
        .unwrap();
    let id = app.create_patient(common::canary_patient()).await;
    let (s, _) = app
        .send(
            reqwest::Method::GET,
            &format!("/v1/collections/patients/records/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    wait_delivered(&app).await;
    check_all_delivered(&app, &url).await;
    // No PHI went to the broker.
    let size = app.srv.state.vault.audit().size();
    for (_, payload) in consume(&url, &tenant(&app), size as usize).await {
        let text = String::from_utf8(payload).unwrap();
        for canary in common::CANARY_STRINGS {
            assert!(!text.contains(canary), "PHI `{canary}` streamed");
        }
    }
}
