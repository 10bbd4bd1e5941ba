//! (c), (d), (e): phivault's storage path in-process (validation, sealing,
//! DEK wrapping, blind index, store), without HTTP.

use std::sync::Arc;
use std::time::Instant;

use phivault_core::envelope::{DataKey, FieldContext, RecordCipher};
use phivault_core::policy::{self, Action, Decision, Principal, RequestContext, Resource};
use phivault_core::{PhiValue, schema::Schema};
use phivault_keys::keyring::Keyring;
use phivault_server::vault::Permit;
use phivault_server::vault::SearchRequest;
use phivault_server::{SystemClock, Vault};

use super::data::Patient;
use super::stats::{Row, row};

/// Where phivault stores.
#[derive(Debug, Clone)]
pub enum Target {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh `pv_bench` schema in this database.
    Postgres(String),
}

fn grant(action: Action) -> Result<policy::Grant, Box<dyn std::error::Error + Send + Sync>> {
    let admin = Principal {
        id: "bench".into(),
        token_id: "bench".into(),
        admin: true,
        roles: Vec::new(),
    };
    let ctx = RequestContext {
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
        now: jiff::Timestamp::now(),
    };
    let res = Resource {
        collection: "patients",
        record: None,
        relation: policy::Relation::default(),
    };
    match policy::authorize(&admin, &action, res, &ctx) {
        Decision::Allow { grant, .. } => Ok(grant),
        Decision::Deny(_) => Err("bench principal denied".into()),
    }
}

/// A vault on `store` with a keyring in `dir`, whose audit trail goes to
/// `audit_store` (the store's own on PostgreSQL, segment files otherwise).
pub async fn make_vault(
    dir: &std::path::Path,
    store: Arc<dyn phivault_store::Store>,
    audit_store: Option<Arc<dyn phivault_store::audit::AuditStore>>,
) -> Result<Vault, Box<dyn std::error::Error + Send + Sync>> {
    let keys = dir.join("keys");
    let keyring = match Keyring::open(&keys) {
        Ok(k) => k,
        Err(_) => Keyring::create(&keys, "2026-01-01T00:00:00Z")?,
    };
    let schema = Schema::from_toml(Schema::default_toml())?;
    let root = keyring.index_root().clone();
    // Every operation records its audit event durably, as in the server.
    let audit_store: Arc<dyn phivault_store::audit::AuditStore> =
        match audit_store.or_else(|| store.audit_store()) {
            Some(a) => a,
            None => Arc::new(phivault_store::audit::segment::SegmentStore::open(
                &dir.join("audit"),
                true,
            )?),
        };
    let audit = super::audit::open_log(audit_store).await?;
    Ok(Vault::new(
        schema,
        store,
        Arc::new(keyring),
        &root,
        Arc::new(SystemClock),
        audit,
    ))
}

/// An administrator's permit for `action` on patients.
pub fn permit(action: Action) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Permit {
        grant: grant(action)?,
        who: phivault_server::audit::Who::operator("bench"),
    })
}

/// Inserts every patient, then samples reads and SSN searches.
pub async fn backend(
    target: Target,
    patients: &[Patient],
    samples: usize,
) -> Result<Vec<Row>, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let (system, location) = match &target {
        Target::Sqlite => (
            "phivault sqlite",
            dir.path().join("bench.db").to_string_lossy().into_owned(),
        ),
        Target::Postgres(url) => (
            "phivault postgres",
            super::pg::bench_schema(url, "pv_bench").await?,
        ),
    };
    let store = phivault_store::open(&location).await?;
    let vault = make_vault(dir.path(), store.clone(), None).await?;
    let (g_create, g_view, g_search) = (
        permit(Action::Create)?,
        permit(Action::View)?,
        permit(Action::Search)?,
    );
    let mut ids = Vec::with_capacity(patients.len());
    let mut t_ins = Vec::with_capacity(patients.len());
    for p in patients {
        let fields = p.json();
        let t = Instant::now();
        let id = vault.create(&g_create, "patients", None, fields).await?;
        t_ins.push(t.elapsed());
        ids.push(id);
    }
    let n = patients.len().max(1);
    let step = (n / samples.max(1)).max(1);
    let (mut t_read, mut t_search, mut t_raw) = (Vec::new(), Vec::new(), Vec::new());
    for i in (0..n).step_by(step).take(samples) {
        let (Some(id), Some(p)) = (ids.get(i), patients.get(i)) else {
            continue;
        };
        let t = Instant::now();
        vault.get(&g_view, "patients", id.as_str()).await?;
        t_read.push(t.elapsed());
        let t = Instant::now();
        store.get_record("patients", id.as_str()).await?;
        t_raw.push(t.elapsed());
        let req = SearchRequest::Field {
            field: "ssn".into(),
            value: serde_json::Value::String(p.get("ssn").to_owned()),
            limit: 10,
        };
        let t = Instant::now();
        let found = vault.search(&g_search, "patients", req).await?;
        t_search.push(t.elapsed());
        if found.len() != 1 {
            return Err("search returned the wrong number of records".into());
        }
    }
    if let Target::Postgres(url) = &target {
        super::pg::drop_schema(url, "pv_bench").await?;
    }
    Ok(vec![
        row(system, "insert", t_ins),
        row(system, "read", t_read),
        row(system, "  of which store fetch", t_raw),
        row(system, "search ssn", t_search),
    ])
}

/// (e) seal + open of one 16-byte field, in process.
pub fn seal_open() -> Vec<Row> {
    let run = || -> Result<Vec<Row>, Box<dyn std::error::Error + Send + Sync>> {
        let dek = DataKey::generate().map_err(|_| "rng")?;
        let cipher = RecordCipher::new(&dek)?;
        let v = PhiValue::new("123-45-6789ABCDE".to_owned());
        let ctx = FieldContext {
            collection: "patients",
            record_id: "00000000-0000-4000-8000-000000000000",
            field: "ssn",
        };
        const BATCH: u32 = 1000;
        let mut per_op = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            for _ in 0..BATCH {
                let sealed = cipher.seal(ctx, &v)?;
                let back = cipher.open(ctx, &sealed)?;
                std::hint::black_box(back);
            }
            per_op.push(t.elapsed() / BATCH);
        }
        Ok(vec![row("phivault in-process", "seal+open 16 B", per_op)])
    };
    run().unwrap_or_default()
}
