//! (f) The audit trail: durable append rate under concurrency (group
//! commit), whole-log verification from the stored segments, and what the
//! trail costs a read: the same vault reads with the real trail and with a
//! baseline that forgets every event (benchmark only; the server cannot run
//! without its trail).

use std::sync::Arc;
use std::time::Instant;

use phivault_audit::{Event, EventContext, Outcome, Signer};
use phivault_server::audit::{AuditLog, CheckpointPolicy};
use phivault_store::StoreError;
use phivault_store::audit::{AuditFrame, AuditQuery, AuditStore, NewFrame};

use crate::out;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A realistic event (~300 bytes encoded), as a record view writes it.
pub fn sample_event(i: u64) -> Event {
    Event {
        index: 0,
        timestamp: "2026-12-01T10:00:00.123456Z".into(),
        user: format!("nurse{}", i % 97),
        action: "viewed".into(),
        resource: format!("/v1/collections/patients/records/00000000-0000-4000-8000-{i:012}"),
        context: EventContext {
            ip: "10.20.30.40".into(),
            device_id: Some("UA-12345".into()),
            location: None,
        },
        outcome: Outcome::Success,
        reason: None,
        request_id: Some(format!("{i:016x}")),
        token: None,
        patient_id: Some(format!("00000000-0000-4000-8000-{i:012}")),
        fields: vec!["birth_date".into(), "name".into(), "ssn".into()],
        purpose: Some("TREAT".into()),
        query: vec![],
        count: None,
        flags: vec![],
        permission: Some("view:patients".into()),
    }
}

/// Opens an audit log on `store` with a fresh signing key.
pub async fn open_log(store: Arc<dyn AuditStore>) -> BenchResult<Arc<AuditLog>> {
    let (signer, _) = Signer::generate("bench.local/audit")?;
    Ok(AuditLog::open(store, signer, CheckpointPolicy::default()).await?)
}

/// `writers` tasks each append one event at a time (as requests do) until
/// `total` are durable; returns events per second.
pub async fn append_rate(log: &Arc<AuditLog>, total: u64, writers: u64) -> BenchResult<f64> {
    let per = total / writers.max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = Arc::clone(log);
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                log.append(vec![sample_event(w * per + i)]).await?;
            }
            Ok::<_, phivault_server::audit::AuditError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per * writers) as f64 / start.elapsed().as_secs_f64())
}

/// Runs (f) on the embedded segment store (and PostgreSQL when given).
pub async fn run(total: u64, database: Option<&str>) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let seg: Arc<dyn AuditStore> = Arc::new(phivault_store::audit::segment::SegmentStore::open(
        &dir.path().join("audit"),
        true,
    )?);
    let log = open_log(Arc::clone(&seg)).await?;
    for writers in [64, 512, 4096] {
        let rate = append_rate(&log, total, writers).await?;
        out::line(format_args!(
            "audit append, segments, {writers} concurrent writers: {rate:.0} events/s durable"
        ));
    }
    log.checkpoint().await?;
    let key = log.verifier().clone();
    let size = log.size();
    let start = Instant::now();
    let ok = phivault_server::audit::verify::verify_store(&seg, &key).await?;
    let secs = start.elapsed().as_secs_f64();
    out::line(format_args!(
        "audit verify from segment files: {} events in {secs:.2} s = {:.0} events/s",
        ok.events,
        size as f64 / secs
    ));
    if let Some(url) = database {
        let store =
            phivault_store::open(&super::pg::bench_schema(url, "pv_bench_audit").await?).await?;
        let pg = store.audit_store().ok_or("no PostgreSQL audit store")?;
        let log = open_log(pg).await?;
        let rate = append_rate(&log, total / 4, 512).await?;
        out::line(format_args!(
            "audit append, PostgreSQL, 512 concurrent writers: {rate:.0} events/s durable"
        ));
    }
    Ok(())
}

/// Benchmark baseline only: accepts every event and forgets it at once.
#[derive(Debug, Default)]
pub struct DiscardAudit {
    count: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl AuditStore for DiscardAudit {
    fn kind(&self) -> &'static str {
        "discard (benchmark baseline)"
    }
    async fn append(&self, frames: Vec<NewFrame>) -> Result<(), StoreError> {
        self.count
            .fetch_add(frames.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
    async fn count(&self) -> Result<u64, StoreError> {
        Ok(self.count.load(std::sync::atomic::Ordering::Relaxed))
    }
    async fn read(&self, _: u64, _: usize) -> Result<Vec<AuditFrame>, StoreError> {
        Ok(Vec::new())
    }
    async fn query(&self, _: &AuditQuery) -> Result<Vec<AuditFrame>, StoreError> {
        Ok(Vec::new())
    }
    async fn append_checkpoint(&self, _: u64, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn checkpoints(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    async fn outbox_cursor(&self, _: &str) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn set_outbox_cursor(&self, _: &str, _: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Concurrent reads of random records for `reads` operations; reads/s.
async fn read_rate(
    vault: &Arc<phivault_server::Vault>,
    ids: &Arc<Vec<String>>,
    reads: usize,
    concurrency: usize,
) -> BenchResult<f64> {
    let per = reads / concurrency.max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (vault, ids) = (Arc::clone(vault), Arc::clone(ids));
        tasks.push(tokio::spawn(async move {
            let g = super::vault::permit(phivault_core::policy::Action::View)?;
            for i in 0..per {
                let Some(id) = ids.get((c * 7919 + i * 104_729) % ids.len().max(1)) else {
                    continue;
                };
                vault.get(&g, "patients", id).await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per * concurrency) as f64 / start.elapsed().as_secs_f64())
}

/// The trail's cost on reads: the same SQLite records read with the real
/// trail (segment files, fdatasync per group) and with the discard
/// baseline, alternately, twice each.
pub async fn read_cost(patients: &[super::data::Patient], reads: usize) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let location = dir.path().join("bench.db").to_string_lossy().into_owned();
    let store = phivault_store::open(&location).await?;
    let real = Arc::new(super::vault::make_vault(dir.path(), store.clone(), None).await?);
    let discard: Arc<dyn AuditStore> = Arc::new(DiscardAudit::default());
    let base = Arc::new(super::vault::make_vault(dir.path(), store.clone(), Some(discard)).await?);
    let g = super::vault::permit(phivault_core::policy::Action::Create)?;
    let mut ids = Vec::with_capacity(patients.len());
    for p in patients {
        ids.push(
            real.create(&g, "patients", None, p.json())
                .await?
                .as_str()
                .to_owned(),
        );
    }
    let ids = Arc::new(ids);
    for concurrency in [64, 256, 1024] {
        let (mut with, mut without) = (0.0f64, 0.0f64);
        let (mut base_cpu, mut real_cpu) = (f64::MAX, f64::MAX);
        for _ in 0..2 {
            let cpu = cpu_seconds();
            let rate = read_rate(&base, &ids, reads, concurrency).await?;
            base_cpu = base_cpu.min((cpu_seconds() - cpu) / reads as f64);
            without = without.max(rate);
            let cpu = cpu_seconds();
            let rate = read_rate(&real, &ids, reads, concurrency).await?;
            real_cpu = real_cpu.min((cpu_seconds() - cpu) / reads as f64);
            with = with.max(rate);
        }
        out::line(format_args!(
            "vault reads, SQLite, {concurrency} concurrent: {with:.0}/s with the audit trail, \
             {without:.0}/s with the discard baseline: storing the trail costs {:.1} % of \
             throughput; CPU per read {:.1} µs with it, {:.1} µs without ({:+.1} %)",
            (1.0 - with / without) * 100.0,
            real_cpu * 1e6,
            base_cpu * 1e6,
            (real_cpu / base_cpu - 1.0) * 100.0
        ));
    }
    let per_event = trail_cpu_per_event(200_000);
    out::line(format_args!(
        "in-memory trail work per event (build, encode, leaf hash, tree), also in the \
         baseline above: {:.2} µs on one core",
        per_event * 1e6
    ));
    Ok(())
}

/// The work both sides of the read-cost comparison do, timed alone: an
/// event built as a read builds it, encoded, hashed and pushed into the
/// tree (seconds per event, one thread).
fn trail_cpu_per_event(n: u64) -> f64 {
    let mut tree = phivault_audit::merkle::TiledTree::new();
    let start = Instant::now();
    for i in 0..n {
        let mut e = sample_event(i);
        e.index = i;
        let bytes = e.encode();
        let _ = std::hint::black_box(e.timestamp.parse::<jiff::Timestamp>());
        tree.push(phivault_audit::merkle::leaf_hash(&bytes));
    }
    std::hint::black_box(tree.size());
    start.elapsed().as_secs_f64() / n as f64
}

/// This process's user + system CPU time in seconds (Linux
/// `/proc/self/stat`); 0 elsewhere.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| stat_cpu(&s).1)
}

/// The command name and user + system CPU seconds of one `stat` line of
/// `/proc` (clock ticks of 1/100 s).
pub fn stat_cpu(stat: &str) -> (&str, f64) {
    // `pid (comm) state ...`: utime and stime are the 12th and 13th fields
    // after the parenthesized name.
    let (head, rest) = stat.rsplit_once(')').unwrap_or(("", ""));
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    let mut f = rest.split_whitespace().skip(11);
    let ticks = |s: Option<&str>| s.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (comm, (ticks(f.next()) + ticks(f.next())) / 100.0)
}
