//! The audit trail end to end: every PHI access and refusal recorded with
//! no PHI in any event or export, proofs that verify offline with only the
//! public key, tampering named by `verify`, and fail-closed reads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use phivault_audit::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use phivault_audit::verify::VerifyError;
use phivault_audit::{Checkpoint, Event, VerifierKey, export};
use reqwest::Method;
use serde_json::{Value, json};

async fn events(app: &common::App, query: &str) -> Vec<Event> {
    let (s, b) = app
        .send(Method::GET, &format!("/v1/audit/events?{query}"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    serde_json::from_value(b["events"].clone()).unwrap()
}

async fn add_user(app: &common::App, id: &str) -> String {
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/users",
            Some(json!({"id": id, "roles": []})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, b) = app
        .send(Method::POST, &format!("/v1/users/{id}/tokens"), None)
        .await;
    let api = b["token"].as_str().unwrap().to_owned();
    let (s, b) = app.send_as(&api, Method::POST, "/v1/sessions", None).await;
    assert_eq!(s, 201, "{b}");
    b["token"].as_str().unwrap().to_owned()
}

async fn every_access_is_recorded(app: common::App) {
    let id = app.create_patient(common::canary_patient()).await;
    let rec = format!("/v1/collections/patients/records/{id}");
    let (s, _) = app
        .http
        .get(app.url(&rec))
        .header("authorization", app.auth())
        .header("x-device-id", "UA-12345")
        .header("x-device-location", "40.7128,-74.0060")
        .header("x-purpose-of-use", "TREAT")
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 200);
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "078-05-1120"})),
        )
        .await;
    assert_eq!((s, b["records"].as_array().unwrap().len()), (200, 1));
    let (s, _) = app
        .send(
            Method::PATCH,
            &rec,
            Some(json!({"fields": {"phone": "(831) 555-0199"}})),
        )
        .await;
    assert_eq!(s, 200);
    // A user without roles is refused; the refusal is recorded with its reason.
    let tok = add_user(&app, "nobody1").await;
    assert_eq!(app.send_as(&tok, Method::GET, &rec, None).await.0, 403);
    let (s, _) = app.send(Method::DELETE, &rec, None).await;
    assert_eq!(s, 204);

    // The detector's alerts name the patient too (an off-hours run of this
    // test raises some); they are not accesses.
    let mine: Vec<Event> = events(&app, &format!("patient_id={id}"))
        .await
        .into_iter()
        .filter(|e| e.action != "alert_raised")
        .collect();
    let actions: Vec<(&str, &str)> = mine
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("created", "success"),
            ("viewed", "success"),
            ("searched", "success"),
            ("modified", "success"),
            ("viewed", "denied"),
            ("deleted", "success"),
        ]
    );
    let viewed = &mine[1];
    assert_eq!(viewed.user, "admin");
    assert_eq!(viewed.context.device_id.as_deref(), Some("UA-12345"));
    assert_eq!(viewed.context.location.as_deref(), Some("40.7128,-74.0060"));
    assert_eq!(viewed.purpose.as_deref(), Some("TREAT"));
    assert!(viewed.fields.contains(&"ssn".to_owned()));
    assert!(viewed.request_id.as_ref().is_some_and(|r| r.len() == 16));
    assert!(viewed.timestamp.ends_with('Z') && viewed.timestamp.len() == 27);
    assert_eq!(mine[3].fields, vec!["phone"]);
    assert!(mine[2].query[0].starts_with("ssn:"));
    assert_eq!(
        (mine[4].user.as_str(), mine[4].reason.as_deref()),
        ("nobody1", Some("no_permission"))
    );
    // Sessions and user changes are in the trail too.
    let all = events(&app, "limit=1000").await;
    for a in ["user_created", "token_issued", "session_opened"] {
        assert!(all.iter().any(|e| e.action == a), "{a} missing");
    }
    // Indexes are the positions.
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.index, i as u64);
    }
    // Canary: no PHI value in any event or export.
    let mut text = String::new();
    for e in &all {
        text.push_str(&String::from_utf8(e.encode()).unwrap());
        text.push_str(&export::splunk_hec(e).to_string());
        text.push_str(&export::cef(e));
        text.push_str(&export::fhir_audit_event(e).to_string());
    }
    for c in common::CANARY_STRINGS {
        assert!(!text.contains(c), "PHI `{c}` in the audit trail");
    }
    // The accounting of disclosures lists the view and the search hit.
    let (s, b) = app
        .send(Method::GET, &format!("{rec}/disclosures"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let d: Vec<&str> = b["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        d,
        vec!["created", "viewed", "searched", "modified", "deleted"]
    );
    assert_eq!(b["disclosures"][1]["purpose"], "TREAT");
}
both_backends!(records, every_access_is_recorded);

fn hashes(v: &Value) -> Vec<Hash> {
    v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

async fn checkpoint(app: &common::App, key: &VerifierKey) -> Checkpoint {
    let (s, b) = app.send(Method::GET, "/v1/audit/checkpoint", None).await;
    assert_eq!(s, 200);
    Checkpoint::open(b.as_str().unwrap(), key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_with_only_the_public_key() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let key = app
        .http
        .get(app.url("/v1/audit/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = VerifierKey::parse(&key).unwrap();
    for i in 0..5 {
        app.create_patient(json!({"name": format!("A B{i}"), "birth_date": "1990-01-01"}))
            .await;
    }
    let old = checkpoint(&app, &key).await;
    for i in 0..300 {
        app.create_patient(json!({"name": format!("C D{i}"), "birth_date": "1990-01-01"}))
            .await;
    }
    let new = checkpoint(&app, &key).await;
    assert!(new.size > old.size + 300);
    let evs = events(&app, "from=3&to=4").await;
    let leaf = leaf_hash(&evs[0].encode());
    let (s, p) = app
        .send(
            Method::GET,
            &format!("/v1/audit/proofs/inclusion?index=3&tree_size={}", new.size),
            None,
        )
        .await;
    assert_eq!(s, 200, "{p}");
    verify_inclusion(3, new.size, &leaf, &hashes(&p), &new.root).unwrap();
    // Another event's leaf does not verify.
    let other = leaf_hash(&events(&app, "from=4&to=5").await[0].encode());
    assert!(verify_inclusion(3, new.size, &other, &hashes(&p), &new.root).is_err());
    let (s, c) = app
        .send(
            Method::GET,
            &format!(
                "/v1/audit/proofs/consistency?from={}&to={}",
                old.size, new.size
            ),
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    verify_consistency(old.size, new.size, &old.root, &new.root, &hashes(&c)).unwrap();
    // Out of range is a clear 400.
    let (s, b) = app
        .send(
            Method::GET,
            "/v1/audit/proofs/inclusion?index=9999999&tree_size=10",
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_range"))
    );
}

/// Frames of a segment file: (offset, length) of each.
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut off = 0;
    while off + 52 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break; // preallocated zeros follow the frames
        }
        out.push((off, 52 + len));
        off += 52 + len;
    }
    out
}

async fn verify(app: &common::App) -> Result<u64, VerifyError> {
    let config = &app.srv.state.config;
    let store = phivault_store::open(&config.store_location())
        .await
        .unwrap();
    let audit = phivault_server::datadir::audit_store(config, &store, false).unwrap();
    let key = app.srv.state.vault.audit().verifier().clone();
    match phivault_server::audit::verify::verify_store(&audit, &key).await {
        Ok(v) => Ok(v.events),
        Err(phivault_server::audit::verify::VerifyStoreError::Bad(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_segment_files_is_named() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    for i in 0..20 {
        app.create_patient(json!({"name": format!("A B{i}"), "birth_date": "1990-01-01"}))
            .await;
    }
    app.send(Method::GET, "/v1/audit/checkpoint", None).await;
    let n = verify(&app).await.unwrap();
    assert!(n > 20);
    let seg = app.data_dir().join("audit").join(format!("{:020}.seg", 0));
    let original = std::fs::read(&seg).unwrap();
    let f = frames(&original);
    let rewrite = |parts: Vec<&[u8]>| std::fs::write(&seg, parts.concat()).unwrap();

    // Modified: one byte of event 7's JSON.
    let mut b = original.clone();
    let (off, len) = f[7];
    let pos = off + 52 + (len - 52) / 2;
    b[pos] = if b[pos] == b'a' { b'b' } else { b'a' };
    std::fs::write(&seg, &b).unwrap();
    assert_eq!(verify(&app).await, Err(VerifyError::Modified { index: 7 }));

    // Deleted: event 9 cut out.
    let (o9, l9) = f[9];
    rewrite(vec![&original[..o9], &original[o9 + l9..]]);
    assert_eq!(
        verify(&app).await,
        Err(VerifyError::Sequence {
            expected: 9,
            found: 10
        })
    );

    // Inserted: a copy of event 2 placed before event 5.
    let (o2, l2) = f[2];
    let (o5, _) = f[5];
    rewrite(vec![
        &original[..o5],
        &original[o2..o2 + l2],
        &original[o5..],
    ]);
    assert_eq!(
        verify(&app).await,
        Err(VerifyError::Sequence {
            expected: 5,
            found: 2
        })
    );

    // Reordered: events 11 and 12 swapped.
    let (o11, l11) = f[11];
    let (o12, l12) = f[12];
    rewrite(vec![
        &original[..o11],
        &original[o12..o12 + l12],
        &original[o11..o11 + l11],
        &original[o12 + l12..],
    ]);
    assert_eq!(
        verify(&app).await,
        Err(VerifyError::Sequence {
            expected: 11,
            found: 12
        })
    );

    // Truncated: the last three events gone (whole frames, so no torn tail).
    let (ot, _) = f[f.len() - 3];
    rewrite(vec![&original[..ot]]);
    assert!(matches!(
        verify(&app).await,
        Err(VerifyError::Truncated { have, .. }) if have == n - 3
    ));

    // A forged checkpoint (size changed after signing).
    std::fs::write(&seg, &original).unwrap();
    assert_eq!(verify(&app).await, Ok(n));
    let cps = app.data_dir().join("audit").join("checkpoints.log");
    let c = std::fs::read(&cps).unwrap();
    let text = String::from_utf8_lossy(&c[4..]).into_owned();
    let size_line = text.lines().nth(1).unwrap().to_owned();
    let forged = text.replacen(&format!("\n{size_line}\n"), "\n3\n", 1);
    let mut out = (forged.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(forged.as_bytes());
    out.extend_from_slice(&c[4 + text.len()..]);
    std::fs::write(&cps, &out).unwrap();
    assert!(matches!(
        verify(&app).await,
        Err(VerifyError::Checkpoint { position: 0, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_postgres_table_is_named_and_reads_fail_closed() {
    let Some(app) = common::spawn_app(common::Backend::Postgres).await else {
        return;
    };
    let id = app.create_patient(common::canary_patient()).await;
    for i in 0..10 {
        app.create_patient(json!({"name": format!("A B{i}"), "birth_date": "1990-01-01"}))
            .await;
    }
    app.send(Method::GET, "/v1/audit/checkpoint", None).await;
    assert!(verify(&app).await.unwrap() > 10);
    let c = app.pg_client().await;
    // The trigger stops even the owner; a DBA who disables it is caught.
    assert!(
        c.batch_execute("UPDATE audit_events SET action = 'x' WHERE idx = 4")
            .await
            .is_err()
    );
    c.batch_execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        .await
        .unwrap();
    c.batch_execute(
        "UPDATE audit_events SET event = convert_to(replace(convert_from(event, 'UTF8'), 'admin', 'nurse'), 'UTF8') WHERE idx = 4",
    )
    .await
    .unwrap();
    assert_eq!(verify(&app).await, Err(VerifyError::Modified { index: 4 }));
    c.batch_execute("DELETE FROM audit_events WHERE idx = 6")
        .await
        .unwrap();
    assert_eq!(verify(&app).await, Err(VerifyError::Modified { index: 4 }));
    c.batch_execute(
        "UPDATE audit_events SET event = convert_to(replace(convert_from(event, 'UTF8'), 'nurse', 'admin'), 'UTF8') WHERE idx = 4",
    )
    .await
    .unwrap();
    assert_eq!(
        verify(&app).await,
        Err(VerifyError::Sequence {
            expected: 6,
            found: 7
        })
    );
    // Fail closed: when events cannot be written, a read discloses nothing.
    c.batch_execute("ALTER TABLE audit_events ADD CONSTRAINT refuse CHECK (false) NOT VALID")
        .await
        .unwrap();
    let (s, b) = app
        .send(
            Method::GET,
            &format!("/v1/collections/patients/records/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (503, Some("audit_unavailable"))
    );
    for canary in common::CANARY_STRINGS {
        assert!(!b.to_string().contains(canary));
    }
    // Searches too.
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/collections/patients/search",
            Some(json!({"field": "ssn", "value": "078-05-1120"})),
        )
        .await;
    assert_eq!(s, 503);
    assert!(!b.to_string().contains("Canarywright"));
}

/// Two server processes on one PostgreSQL database append to one log: each
/// writer takes the log's lock and learns the other's events first, so the
/// indexes never collide and the shared log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_postgres_log_interleave_without_collisions() {
    use phivault_server::audit::{AuditLog, CheckpointPolicy};
    use std::sync::Arc;
    let Some((location, _, _)) = common::fresh_schema().await else {
        return;
    };
    let (signer, pk8) = phivault_audit::Signer::generate("test.local/audit").unwrap();
    let key = signer.verifier();
    let open = || async {
        let store = phivault_store::open(&location).await.unwrap();
        let audit = store.audit_store().unwrap();
        let s = phivault_audit::Signer::from_pkcs8("test.local/audit", &pk8).unwrap();
        AuditLog::open(
            audit,
            s,
            CheckpointPolicy {
                every_events: 50,
                every: std::time::Duration::from_secs(1),
            },
        )
        .await
        .unwrap()
    };
    let a = open().await;
    let b = open().await;
    let event = |who: &str, i: u64| {
        phivault_server::audit::Who::operator(who).event(
            jiff::Timestamp::now(),
            "viewed",
            format!("/v1/collections/patients/records/p{i}"),
            phivault_audit::Outcome::Success,
        )
    };
    let mut tasks = Vec::new();
    for (name, log) in [("a", Arc::clone(&a)), ("b", Arc::clone(&b))] {
        tasks.push(tokio::spawn(async move {
            let mut firsts = Vec::new();
            for i in 0..200 {
                firsts.push(
                    log.append(vec![event(name, i), event(name, i)])
                        .await
                        .unwrap(),
                );
            }
            firsts
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    let expected: Vec<u64> = (0..400).map(|i| i * 2).collect();
    assert_eq!(all, expected, "every batch got its own indexes");
    a.checkpoint().await.unwrap();
    b.append(vec![event("b", 999)]).await.unwrap();
    b.checkpoint().await.unwrap();
    let store = a.store();
    assert_eq!(store.count().await.unwrap(), 801);
    let ok = phivault_server::audit::verify::verify_store(store, &key)
        .await
        .unwrap();
    assert_eq!(ok.events, 801);
    // Each writer's tree knows the other's events: proofs from either agree.
    let proof_b = b.inclusion_proof(3, 801).await.unwrap();
    let root = b.root_at(801).await.unwrap();
    let leaf = store.read(3, 1).await.unwrap()[0].leaf;
    verify_inclusion(3, 801, &leaf, &proof_b, &root).unwrap();
}
