//! Streaming the audit trail to Kafka (feature `kafka`). No Kafka broker can
//! run on these machines, so the peer is librdkafka's own mock cluster: real
//! brokers speaking the Kafka wire protocol in-process, with leaders, acks,
//! idempotent producers and broker failures. Stopping every broker
//! mid-stream queues the events durably in the log; once the brokers are
//! back every event is delivered, in order, byte for byte.
#![cfg(feature = "kafka")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use phivault_server::audit::stream::{self, kafka::SINK};
use phivault_server::config::FileConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::{ClientConfig, TopicPartitionList};

const BROKERS: i32 = 3;

async fn lag(app: &common::App) -> u64 {
    stream::lag(app.srv.state.vault.audit(), SINK)
        .await
        .unwrap()
}

async fn wait_delivered(app: &common::App) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while lag(app).await > 0 {
        assert!(Instant::now() < deadline, "events were not all delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the whole topic from the beginning: (index header, payload).
fn consume(brokers: &str, topic: &str, expect: usize) -> Vec<(u64, Vec<u8>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "phivault-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < expect && Instant::now() < deadline {
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        let h = m.headers().unwrap();
        let idx = h
            .iter()
            .find(|h| h.key == "phivault-index")
            .and_then(|h| h.value)
            .map(|v| std::str::from_utf8(v).unwrap().parse::<u64>().unwrap())
            .unwrap();
        out.push((idx, m.payload().unwrap().to_vec()));
    }
    out
}

async fn run(backend: common::Backend) {
    let cluster = MockCluster::new(BROKERS).unwrap();
    let brokers = cluster.bootstrap_servers();
    let over = FileConfig {
        kafka_brokers: Some(brokers.clone()),
        ..Default::default()
    };
    let Some(app) = common::spawn_app_with(backend, over).await else {
        return;
    };
    let topic = stream::subject(&app.srv.state.config.tenant);
    cluster.create_topic(&topic, 1, BROKERS).unwrap();
    for _ in 0..5 {
        app.create_patient(common::canary_patient()).await;
    }
    wait_delivered(&app).await;

    for b in 1..=BROKERS {
        cluster.broker_down(b).unwrap();
    }
    for _ in 0..20 {
        app.create_patient(common::canary_patient()).await;
    }
    assert!(
        lag(&app).await >= 20,
        "nothing can be acknowledged while down"
    );
    for b in 1..=BROKERS {
        cluster.broker_up(b).unwrap();
    }
    wait_delivered(&app).await;

    let audit = app.srv.state.vault.audit();
    let size = audit.size();
    let stored = audit.store().read(0, size as usize).await.unwrap();
    let got = tokio::task::spawn_blocking(move || consume(&brokers, &topic, size as usize))
        .await
        .unwrap();
    let mut seen = BTreeMap::new();
    let mut last = None;
    for (idx, payload) in got {
        if seen.contains_key(&idx) {
            continue;
        }
        assert!(last.is_none_or(|l| idx > l), "event {idx} out of order");
        last = Some(idx);
        seen.insert(idx, payload);
    }
    assert_eq!(seen.len() as u64, size, "every event is delivered");
    for f in stored {
        assert_eq!(seen.get(&f.index), Some(&f.event), "event {}", f.index);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_sqlite() {
    run(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_postgres() {
    run(common::Backend::Postgres).await;
}
