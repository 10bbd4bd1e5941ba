//! The PostgreSQL baselines: pgcrypto (what most teams do today) and plaintext.

use std::time::Instant;

use tokio_postgres::{Client, NoTls};

use super::data::Patient;
use super::stats::{Row, row};

const COLS: &str = "name, birth_date, ssn, mrn, address, phone, email, notes";

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(c)
}

fn values(p: &Patient) -> Vec<&str> {
    p.fields.iter().map(|(_, v)| v.as_str()).collect()
}

/// A fresh, empty schema `name` in the database; returns the store URL for it.
pub async fn bench_schema(url: &str, name: &str) -> Result<String, tokio_postgres::Error> {
    let c = connect(url).await?;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await?;
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}schema={name}"))
}

/// Drops a schema made by [`bench_schema`].
pub async fn drop_schema(url: &str, name: &str) -> Result<(), tokio_postgres::Error> {
    connect(url)
        .await?
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await
}

/// (a) pgcrypto.
pub async fn pgcrypto(
    url: &str,
    patients: &[Patient],
    samples: usize,
    searches: usize,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let c = connect(url).await?;
    c.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;
         DROP TABLE IF EXISTS bench_pgcrypto;
         CREATE TABLE bench_pgcrypto (id BIGSERIAL PRIMARY KEY, name BYTEA, birth_date BYTEA, ssn BYTEA, mrn BYTEA,
                                      address BYTEA, phone BYTEA, email BYTEA, notes BYTEA);",
    )
    .await?;
    // The key travels inside the SQL, as in the field guide's example.
    let key = "bench-key-not-a-secret";
    let enc: Vec<String> = (1..=8)
        .map(|i| format!("pgp_sym_encrypt(${i}, $9)"))
        .collect();
    let ins = c
        .prepare(&format!(
            "INSERT INTO bench_pgcrypto ({COLS}) VALUES ({})",
            enc.join(", ")
        ))
        .await?;
    let mut t_ins = Vec::with_capacity(patients.len());
    for p in patients {
        let v = values(p);
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = v
            .iter()
            .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync))
            .chain([&key as _])
            .collect();
        let t = Instant::now();
        c.execute(&ins, &params).await?;
        t_ins.push(t.elapsed());
    }
    let dec: Vec<String> = COLS
        .split(", ")
        .map(|c| format!("pgp_sym_decrypt({c}, $2)"))
        .collect();
    let read = c
        .prepare(&format!(
            "SELECT {} FROM bench_pgcrypto WHERE id = $1",
            dec.join(", ")
        ))
        .await?;
    let n = patients.len().max(1);
    let step = (n / samples.max(1)).max(1);
    let mut t_read = Vec::new();
    for i in (0..n).step_by(step).take(samples) {
        let id = i64::try_from(i + 1).unwrap_or(1);
        let t = Instant::now();
        c.query_one(&read, &[&id, &key]).await?;
        t_read.push(t.elapsed());
    }
    let search = c
        .prepare("SELECT id FROM bench_pgcrypto WHERE pgp_sym_decrypt(ssn, $2) = $1")
        .await?;
    let mut t_search = Vec::new();
    for p in patients
        .iter()
        .step_by((n / searches.max(1)).max(1))
        .take(searches)
    {
        let t = Instant::now();
        let rows = c.query(&search, &[&p.get("ssn"), &key]).await?;
        t_search.push(t.elapsed());
        debug_assert_eq!(rows.len(), 1);
    }
    let one = c
        .prepare("SELECT pgp_sym_decrypt(pgp_sym_encrypt('123-45-6789ABCDE', $1), $1)")
        .await?;
    let mut t_field = Vec::new();
    for _ in 0..samples.min(500) {
        let t = Instant::now();
        c.query_one(&one, &[&key]).await?;
        t_field.push(t.elapsed());
    }
    c.batch_execute("DROP TABLE bench_pgcrypto").await?;
    Ok(vec![
        row("pgcrypto", "insert", t_ins),
        row("pgcrypto", "read", t_read),
        row("pgcrypto", "search ssn", t_search),
        row("pgcrypto", "seal+open 16 B", t_field),
    ])
}

/// (b) plaintext PostgreSQL with the same indexes phivault keeps.
pub async fn plaintext(
    url: &str,
    patients: &[Patient],
    samples: usize,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let c = connect(url).await?;
    c.batch_execute(
        "DROP TABLE IF EXISTS bench_plain;
         CREATE TABLE bench_plain (id BIGSERIAL PRIMARY KEY, name TEXT, birth_date TEXT, ssn TEXT, mrn TEXT,
                                   address TEXT, phone TEXT, email TEXT, notes TEXT);
         CREATE INDEX ON bench_plain (ssn); CREATE INDEX ON bench_plain (mrn); CREATE INDEX ON bench_plain (email);
         CREATE INDEX ON bench_plain (name, birth_date);",
    )
    .await?;
    let ins = c
        .prepare(&format!(
            "INSERT INTO bench_plain ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .await?;
    let mut t_ins = Vec::with_capacity(patients.len());
    for p in patients {
        let v = values(p);
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = v
            .iter()
            .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let t = Instant::now();
        c.execute(&ins, &params).await?;
        t_ins.push(t.elapsed());
    }
    let read = c
        .prepare(&format!("SELECT {COLS} FROM bench_plain WHERE id = $1"))
        .await?;
    let search = c
        .prepare(&format!("SELECT {COLS} FROM bench_plain WHERE ssn = $1"))
        .await?;
    let n = patients.len().max(1);
    let step = (n / samples.max(1)).max(1);
    let (mut t_read, mut t_search) = (Vec::new(), Vec::new());
    for i in (0..n).step_by(step).take(samples) {
        let id = i64::try_from(i + 1).unwrap_or(1);
        let t = Instant::now();
        c.query_one(&read, &[&id]).await?;
        t_read.push(t.elapsed());
        let ssn = patients.get(i).map_or("", |p| p.get("ssn"));
        let t = Instant::now();
        c.query(&search, &[&ssn]).await?;
        t_search.push(t.elapsed());
    }
    c.batch_execute("DROP TABLE bench_plain").await?;
    Ok(vec![
        row("plaintext pg", "insert", t_ins),
        row("plaintext pg", "read", t_read),
        row("plaintext pg", "search ssn", t_search),
    ])
}
