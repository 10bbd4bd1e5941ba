//! What an attacker with the database alone sees: no plaintext PHI anywhere
//! in the data directory or the PostgreSQL tables, and sealed fields that
//! cannot be moved between rows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use reqwest::Method;
use serde_json::{Value, json};

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every table of the test's schema, as text.
async fn pg_dump(app: &common::App) -> String {
    let c = app.pg_client().await;
    let mut text = String::new();
    for table in ["records", "blind_index", "tokens", "schema_migrations"] {
        for row in c
            .query(&format!("SELECT row_to_json(t)::text FROM {table} t"), &[])
            .await
            .unwrap()
        {
            text.push_str(&row.get::<_, String>(0));
            text.push('\n');
        }
    }
    text
}

async fn canary_nowhere_at_rest(app: common::App) {
    let id = app.create_patient(common::canary_patient()).await;
    let (s, _) = app
        .send(
            Method::PATCH,
            &format!("/v1/collections/patients/records/{id}"),
            Some(json!({"fields": {"notes": "CANARYNOTE second"}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "078-05-1120"})),
        )
        .await;
    assert_eq!(s, 200);
    let mut haystacks: Vec<(String, Vec<u8>)> = files(&app.data_dir())
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(haystacks.iter().any(|(p, _)| p.ends_with("keyring.json")));
    if app.backend == common::Backend::Postgres {
        haystacks.push(("postgres tables".into(), pg_dump(&app).await.into_bytes()));
    } else {
        assert!(
            haystacks
                .iter()
                .any(|(p, b)| p.ends_with("phivault.db") && !b.is_empty())
        );
    }
    for (name, bytes) in &haystacks {
        for canary in common::CANARY_STRINGS {
            let found = bytes
                .windows(canary.len())
                .any(|w| w.eq_ignore_ascii_case(canary.as_bytes()));
            assert!(!found, "plaintext `{canary}` found in {name}");
        }
    }
}
both_backends!(canary, canary_nowhere_at_rest);

async fn copy_column(app: &common::App, from: &str, to: &str, sql_sqlite: &str, sql_pg: &str) {
    match app.backend {
        common::Backend::Sqlite => {
            let db = rusqlite::Connection::open(app.data_dir().join("phivault.db")).unwrap();
            let n = db.execute(sql_sqlite, rusqlite::params![from, to]).unwrap();
            assert_eq!(n, 1);
        }
        common::Backend::Postgres => {
            let c = app.pg_client().await;
            let n = c.execute(sql_pg, &[&from, &to]).await.unwrap();
            assert_eq!(n, 1);
        }
    }
}

/// Copies one sealed field of record `from` into record `to`, directly in the
/// database (what an attacker with write access to the tables could do).
async fn swap_sealed_field(app: &common::App, from: &str, to: &str, field: &str) {
    use phivault_store::StoredRecord;
    let read = |blob: Vec<u8>| StoredRecord::decode_sealed(&blob).unwrap();
    match app.backend {
        common::Backend::Sqlite => {
            let db = rusqlite::Connection::open(app.data_dir().join("phivault.db")).unwrap();
            let get = |id: &str| -> Vec<u8> {
                db.query_row("SELECT sealed FROM records WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .unwrap()
            };
            let (src, mut dst) = (read(get(from)), read(get(to)));
            dst.insert(field.to_owned(), src[field].clone());
            let blob = StoredRecord::encode_sealed_fields(&dst);
            let n = db
                .execute(
                    "UPDATE records SET sealed = ?1 WHERE id = ?2",
                    rusqlite::params![blob, to],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
        common::Backend::Postgres => {
            let c = app.pg_client().await;
            let sql = "SELECT sealed FROM records WHERE id = $1";
            let src = read(c.query_one(sql, &[&from]).await.unwrap().get(0));
            let mut dst = read(c.query_one(sql, &[&to]).await.unwrap().get(0));
            dst.insert(field.to_owned(), src[field].clone());
            let blob = StoredRecord::encode_sealed_fields(&dst);
            let n = c
                .execute(
                    "UPDATE records SET sealed = $1 WHERE id = $2",
                    &[&blob, &to],
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
    }
}

fn assert_integrity_error(status: u16, body: &Value, leaked: &[&str]) {
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "integrity_error");
    assert!(body.get("fields").is_none());
    let text = body.to_string();
    for s in leaked {
        assert!(!text.contains(s), "{s} leaked in {text}");
    }
}

async fn swapped_field_fails_closed(app: common::App) {
    let a = app.create_patient(common::canary_patient()).await;
    let b = app
        .create_patient(
            json!({"name": "Other Person", "birth_date": "1990-01-01", "ssn": "219-09-9999"}),
        )
        .await;
    swap_sealed_field(&app, &a, &b, "ssn").await;
    let (s, body) = app
        .send(
            Method::GET,
            &format!("/v1/collections/patients/records/{b}"),
            None,
        )
        .await;
    assert_integrity_error(
        s,
        &body,
        &["078-05-1120", "Other Person", "219-09-9999", "Canarywright"],
    );
    // The victim record itself is intact.
    let (s, _) = app
        .send(
            Method::GET,
            &format!("/v1/collections/patients/records/{a}"),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // A wrapped data key copied to another row does not unwrap either.
    let c = app
        .create_patient(json!({"name": "Third Person", "birth_date": "1980-01-01"}))
        .await;
    copy_column(
        &app,
        &a,
        &c,
        "UPDATE records SET wrapped_dek = (SELECT wrapped_dek FROM records WHERE id = ?1) WHERE id = ?2",
        "UPDATE records SET wrapped_dek = (SELECT wrapped_dek FROM records WHERE id = $1) WHERE id = $2",
    )
    .await;
    let (s, body) = app
        .send(
            Method::GET,
            &format!("/v1/collections/patients/records/{c}"),
            None,
        )
        .await;
    assert_integrity_error(s, &body, &["Third Person", "Canarywright"]);
    // And a search that hits a tampered record fails rather than returning part of it.
    let (s, body) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "219-09-9999"})),
        )
        .await;
    assert_integrity_error(s, &body, &["Other Person", "078-05-1120"]);
}
both_backends!(swap, swapped_field_fails_closed);
