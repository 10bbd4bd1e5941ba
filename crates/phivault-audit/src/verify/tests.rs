#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use super::*;
use crate::checkpoint::Signer;
use crate::event::{Event, EventContext, Outcome};
use crate::merkle::TiledTree;

const ORIGIN: &str = "test.example/audit";

struct Log {
    frames: Vec<(u64, Hash, Vec<u8>)>,
    notes: Vec<String>,
    signer: Signer,
}

fn event(i: u64) -> Vec<u8> {
    Event {
        index: i,
        timestamp: format!("2026-11-24T10:00:{:02}.000000Z", i % 60),
        user: format!("user{}", i % 3),
        action: "viewed".into(),
        resource: format!("/v1/collections/patients/records/p{i}"),
        context: EventContext {
            ip: "10.0.0.1".into(),
            ..Default::default()
        },
        outcome: Outcome::Success,
        reason: None,
        request_id: None,
        token: None,
        patient_id: Some(format!("p{i}")),
        fields: vec!["name".into()],
        purpose: None,
        query: vec![],
        count: None,
        flags: vec![],
        permission: None,
    }
    .encode()
}

/// 100 events, checkpoints every 10.
fn log() -> Log {
    let (signer, _) = Signer::generate(ORIGIN).unwrap();
    let mut tree = TiledTree::new();
    let mut frames = vec![];
    let mut notes = vec![];
    for i in 0..100u64 {
        let e = event(i);
        let h = crate::merkle::leaf_hash(&e);
        tree.push(h);
        frames.push((i, h, e));
        if (i + 1) % 10 == 0 {
            notes.push(signer.sign(&Checkpoint {
                origin: ORIGIN.into(),
                size: i + 1,
                root: tree.root(),
            }));
        }
    }
    Log {
        frames,
        notes,
        signer,
    }
}

fn run(l: &Log) -> Result<Verified, VerifyError> {
    let mut v = LogVerifier::new(&l.notes, &l.signer.verifier())?;
    for (i, h, e) in &l.frames {
        v.push(*i, h, e)?;
    }
    v.finish()
}

#[test]
fn an_intact_log_verifies() {
    let l = log();
    let ok = run(&l).unwrap();
    assert_eq!(ok.events, 100);
    assert_eq!(ok.checkpoints, 10);
    assert_eq!(ok.signed_size, 100);
}

#[test]
fn each_kind_of_tampering_names_the_first_bad_index() {
    // Modified payload, stored hash left alone.
    let mut l = log();
    l.frames[37].2 = l.frames[37]
        .2
        .clone()
        .into_iter()
        .map(|b| if b == b'0' { b'1' } else { b })
        .collect();
    assert_eq!(run(&l), Err(VerifyError::Modified { index: 37 }));

    // Modified payload with its stored hash recomputed: caught by the
    // checkpoint after it.
    let mut l = log();
    let forged = String::from_utf8(l.frames[37].2.clone())
        .unwrap()
        .replace("user1", "user2");
    l.frames[37].1 = crate::merkle::leaf_hash(forged.as_bytes());
    l.frames[37].2 = forged.into_bytes();
    assert_eq!(run(&l), Err(VerifyError::RootMismatch { from: 30, to: 40 }));

    // Deleted.
    let mut l = log();
    l.frames.remove(52);
    assert_eq!(
        run(&l),
        Err(VerifyError::Sequence {
            expected: 52,
            found: 53
        })
    );

    // Inserted (a copy of another event).
    let mut l = log();
    let copy = l.frames[10].clone();
    l.frames.insert(61, copy);
    assert_eq!(
        run(&l),
        Err(VerifyError::Sequence {
            expected: 61,
            found: 10
        })
    );

    // Reordered.
    let mut l = log();
    l.frames.swap(70, 71);
    assert_eq!(
        run(&l),
        Err(VerifyError::Sequence {
            expected: 70,
            found: 71
        })
    );

    // Reordered with the frame indexes rewritten: the event's own index
    // gives it away.
    let mut l = log();
    l.frames.swap(70, 71);
    l.frames[70].0 = 70;
    l.frames[71].0 = 71;
    assert_eq!(run(&l), Err(VerifyError::Modified { index: 70 }));

    // Truncated.
    let mut l = log();
    l.frames.truncate(95);
    assert_eq!(
        run(&l),
        Err(VerifyError::Truncated {
            have: 95,
            size: 100
        })
    );

    // A forged checkpoint (size changed after signing).
    let mut l = log();
    l.notes[4] = l.notes[4].replacen("\n50\n", "\n49\n", 1);
    assert!(matches!(
        run(&l),
        Err(VerifyError::Checkpoint { position: 4, .. })
    ));

    // A checkpoint signed by another key.
    let mut l = log();
    let (other, _) = Signer::generate(ORIGIN).unwrap();
    l.notes[2] = other.sign(&Checkpoint {
        origin: ORIGIN.into(),
        size: 30,
        root: [0; 32],
    });
    assert!(matches!(
        run(&l),
        Err(VerifyError::Checkpoint { position: 2, .. })
    ));
}
