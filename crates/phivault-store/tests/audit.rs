//! Both audit stores behave alike; each is append-only in its own way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::sync::Arc;

use phivault_store::audit::segment::SegmentStore;
use phivault_store::audit::{AuditFrame, AuditMeta, AuditQuery, AuditStore, NewFrame};

fn frame(i: u64) -> NewFrame {
    let user = format!("u{}", i % 3);
    let patient = i.is_multiple_of(2).then(|| format!("p{}", i % 4));
    let event =
        serde_json::json!({"index": i, "user": user, "action": "viewed", "patient_id": patient})
            .to_string()
            .into_bytes();
    NewFrame {
        frame: AuditFrame {
            index: i,
            leaf: phivault_audit::merkle::leaf_hash(&event),
            event,
        },
        meta: AuditMeta {
            at: 1_000 + i as i64,
            user,
            action: "viewed".into(),
            patient_id: patient,
        },
    }
}

async fn suite(s: Arc<dyn AuditStore>) {
    assert_eq!(s.count().await.unwrap(), 0);
    for chunk in (0..700u64).collect::<Vec<_>>().chunks(97) {
        s.append(chunk.iter().map(|i| frame(*i)).collect())
            .await
            .unwrap();
    }
    assert_eq!(s.count().await.unwrap(), 700);
    // Reads across the sparse-index boundaries return frames in order.
    for from in [0u64, 1, 255, 256, 257, 600, 699] {
        let got = s.read(from, 50).await.unwrap();
        let want: Vec<u64> = (from..(from + 50).min(700)).collect();
        assert_eq!(got.iter().map(|f| f.index).collect::<Vec<_>>(), want);
        assert_eq!(got[0], frame(from).frame);
    }
    assert!(s.read(700, 10).await.unwrap().is_empty());
    // Queries filter by every column and keep index order.
    let q = AuditQuery {
        patient_id: Some("p2".into()),
        user: Some("u1".into()),
        from: Some(10),
        to: Some(200),
        limit: 1000,
        ..Default::default()
    };
    let got: Vec<u64> = s.query(&q).await.unwrap().iter().map(|f| f.index).collect();
    let want: Vec<u64> = (10..200).filter(|i| i % 4 == 2 && i % 3 == 1).collect();
    assert_eq!(got, want);
    let q = AuditQuery {
        since: Some(1_500),
        until: Some(1_510),
        limit: 3,
        ..Default::default()
    };
    let got: Vec<u64> = s.query(&q).await.unwrap().iter().map(|f| f.index).collect();
    assert_eq!(got, vec![500, 501, 502]);
    // Checkpoints and outbox cursors.
    assert!(s.checkpoints().await.unwrap().is_empty());
    s.append_checkpoint(10, "note 10\n").await.unwrap();
    s.append_checkpoint(20, "note 20\n").await.unwrap();
    assert_eq!(
        s.checkpoints().await.unwrap(),
        vec!["note 10\n", "note 20\n"]
    );
    assert_eq!(s.outbox_cursor("nats").await.unwrap(), 0);
    s.set_outbox_cursor("nats", 42).await.unwrap();
    s.set_outbox_cursor("nats", 43).await.unwrap();
    assert_eq!(s.outbox_cursor("nats").await.unwrap(), 43);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_store_conformance_rollover_and_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let s = SegmentStore::open_with(dir.path(), true, 8 * 1024).unwrap();
    suite(Arc::new(s)).await;
    let segs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert!(segs > 3, "segments rolled: {segs}");
    // A torn frame at the end (a crash mid-write) is cut off on reopen and
    // the log continues after the last whole frame.
    let last = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .unwrap();
    // The segment is preallocated: zeros follow the last frame.
    let mut bytes = std::fs::read(&last).unwrap();
    let end = frames_end(&bytes);
    assert!(bytes.len() > end && bytes[end..].iter().all(|b| *b == 0));
    // A torn frame: its header reached the disk, its event only in part
    // (the leaf hash no longer matches), then stray bytes.
    let mut torn = bytes[..end].to_vec();
    let len = u32::from_le_bytes(torn[..4].try_into().unwrap()) as usize;
    let mut piece = torn[..52 + len].to_vec();
    piece[4..12].copy_from_slice(&700u64.to_le_bytes());
    let tail_at = piece.len() - 5;
    piece[tail_at..].fill(0);
    torn.extend_from_slice(&piece);
    torn.extend_from_slice(&[0; 40]);
    torn.extend_from_slice(&[9, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&last, &torn).unwrap();
    bytes = torn;
    // Read-only opens leave it alone.
    let ro = SegmentStore::open(dir.path(), false).unwrap();
    assert!(ro.count().await.unwrap() >= 700);
    assert_eq!(std::fs::read(&last).unwrap().len(), bytes.len());
    let s = SegmentStore::open_with(dir.path(), true, 8 * 1024).unwrap();
    assert_eq!(s.count().await.unwrap(), 700);
    // One writer at a time: a second writable open is refused while the
    // first lives (another process would assign the same indexes).
    let busy = SegmentStore::open(dir.path(), true).unwrap_err();
    assert!(
        busy.to_string().contains("another phivault process"),
        "{busy}"
    );
    // The file is cut after the last whole frame; the cut bytes are kept.
    assert_eq!(std::fs::read(&last).unwrap().len(), end);
    let kept = std::fs::read(dir.path().join("tail-700.bin")).unwrap();
    assert_eq!(kept, bytes[end..].to_vec());
    s.append(vec![frame(700)]).await.unwrap();
    let again = SegmentStore::open(dir.path(), false).unwrap();
    assert_eq!(again.read(699, 5).await.unwrap().len(), 2);
    // Damage in the middle of the log is reported with its position.
    let first = dir.path().join(format!("{:020}.seg", 0));
    let mut b = std::fs::read(&first).unwrap();
    b.truncate(frames_end(&b) - 3);
    std::fs::write(&first, &b).unwrap();
    let err = SegmentStore::open(dir.path(), false).unwrap_err();
    assert!(err.to_string().contains("damaged at position"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_conformance_and_append_only() {
    let Some((schema, client, pg)) = common::fresh_postgres("pv_audit").await else {
        return;
    };
    use phivault_store::Store;
    suite(pg.audit_store().unwrap()).await;

    // The owner (here the connecting role) is stopped by the trigger.
    for sql in [
        format!("UPDATE {schema}.audit_events SET action = 'x' WHERE idx = 1"),
        format!("DELETE FROM {schema}.audit_events WHERE idx = 1"),
        format!("TRUNCATE {schema}.audit_events"),
        format!("DELETE FROM {schema}.audit_checkpoints"),
    ] {
        let err = client.batch_execute(&sql).await.unwrap_err();
        assert!(
            err.as_db_error().unwrap().message().contains("append-only"),
            "{sql}: {err}"
        );
    }
    // A service role that is not the owner cannot even try: REVOKE.
    let role = format!("{schema}_svc");
    client
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} NOLOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT ON {schema}.audit_events TO {role};"
        ))
        .await
        .unwrap();
    client
        .batch_execute(&format!("SET ROLE {role}"))
        .await
        .unwrap();
    let ins = client
        .batch_execute(&format!(
            "INSERT INTO {schema}.audit_events VALUES (5000, 0, 'u', 'a', NULL, '\\x00', '\\x00')"
        ))
        .await;
    assert!(ins.is_ok(), "the service role may append");
    for sql in [
        format!("UPDATE {schema}.audit_events SET action = 'x' WHERE idx = 1"),
        format!("DELETE FROM {schema}.audit_events WHERE idx = 1"),
    ] {
        let err = client.batch_execute(&sql).await.unwrap_err();
        assert!(
            err.as_db_error()
                .unwrap()
                .message()
                .contains("permission denied"),
            "{sql}: {err}"
        );
    }
    client.batch_execute("RESET ROLE").await.unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA {schema} CASCADE; DROP OWNED BY {role}; DROP ROLE {role}"
        ))
        .await
        .unwrap();
}

/// Where the frames of a segment end (zeros or the file end follow).
fn frames_end(bytes: &[u8]) -> usize {
    let mut off = 0;
    while off + 52 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        if len == 0 || off + 52 + len > bytes.len() {
            break;
        }
        off += 52 + len;
    }
    off
}
