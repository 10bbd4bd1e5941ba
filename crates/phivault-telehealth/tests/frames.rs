//! SFrame sender/receiver behaviour: round trips, replay window, ratchet (RFC 9605 §5.1).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use phivault_telehealth::frame::{MAX_RATCHET_STEPS, kid, split_kid};
use phivault_telehealth::replay::REPLAY_WINDOW;
use phivault_telehealth::{CipherSuite, OpenError, SframeReceiver, SframeSender};

const BASE: &[u8] = b"0123456789abcdef0123456789abcdef";

fn pair(suite: CipherSuite) -> (SframeSender, SframeReceiver) {
    let tx = SframeSender::new(suite, 7, BASE).unwrap();
    let mut rx = SframeReceiver::new(suite);
    rx.add_key(7, BASE).unwrap();
    (tx, rx)
}

fn seal(tx: &mut SframeSender, pt: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    tx.seal(b"meta", pt, &mut out).unwrap();
    out
}

fn open(rx: &mut SframeReceiver, frame: &[u8]) -> Result<Vec<u8>, OpenError> {
    let mut out = Vec::new();
    rx.open(b"meta", frame, &mut out).map(|_| out)
}

#[test]
fn round_trip_every_suite_and_overhead() {
    for suite in CipherSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        for len in [0usize, 1, 15, 16, 17, 1200, 5000] {
            let pt = vec![0xa5; len];
            let frame = seal(&mut tx, &pt);
            assert!(frame.len() <= len + 17 + suite.tag_len());
            assert_eq!(open(&mut rx, &frame).unwrap(), pt, "{suite:?} {len}");
        }
    }
}

#[test]
fn metadata_and_tampering_are_authenticated() {
    let (mut tx, mut rx) = pair(CipherSuite::AesGcm128Sha256);
    let frame = seal(&mut tx, b"hello");
    let mut out = Vec::new();
    assert_eq!(rx.open(b"other", &frame, &mut out), Err(OpenError::Decrypt));
    for i in 0..frame.len() {
        let mut bad = frame.clone();
        bad[i] ^= 0x01;
        assert!(open(&mut rx, &bad).is_err(), "byte {i}");
    }
    // Failed attempts did not consume the counter: the real frame still opens, once.
    assert_eq!(open(&mut rx, &frame).unwrap(), b"hello");
    assert_eq!(open(&mut rx, &frame), Err(OpenError::Replayed));
    assert_eq!(open(&mut rx, &frame[..3]), Err(OpenError::Decrypt));
}

#[test]
fn replayed_frames_are_refused_out_of_order_within_window_accepted() {
    let (mut tx, mut rx) = pair(CipherSuite::AesGcm128Sha256);
    let frames: Vec<Vec<u8>> = (0..300u32)
        .map(|i| seal(&mut tx, &i.to_be_bytes()))
        .collect();
    // Deliver in a shuffled order inside the window: 10, 3, 7, 0, 9, ...
    for i in [10usize, 3, 7, 0, 9, 1, 2, 8, 4, 6, 5] {
        assert_eq!(open(&mut rx, &frames[i]).unwrap(), (i as u32).to_be_bytes());
    }
    for i in [0usize, 5, 10] {
        assert_eq!(open(&mut rx, &frames[i]), Err(OpenError::Replayed));
    }
    // Jump ahead; frames more than the window behind are refused, those inside still open.
    let top = 11 + REPLAY_WINDOW as usize + 50;
    open(&mut rx, &frames[top]).unwrap();
    assert_eq!(
        open(&mut rx, &frames[top - REPLAY_WINDOW as usize]),
        Err(OpenError::TooOld)
    );
    open(&mut rx, &frames[top - REPLAY_WINDOW as usize + 1]).unwrap();
    open(&mut rx, &frames[top - 1]).unwrap();
    assert_eq!(open(&mut rx, &frames[top]), Err(OpenError::Replayed));
}

#[test]
fn unknown_and_removed_keys() {
    let (mut tx, mut rx) = pair(CipherSuite::AesGcm256Sha512);
    let frame = seal(&mut tx, b"x");
    let mut other = SframeSender::new(CipherSuite::AesGcm256Sha512, 8, BASE).unwrap();
    assert_eq!(
        open(&mut rx, &seal(&mut other, b"x")),
        Err(OpenError::UnknownKey)
    );
    assert!(rx.remove_key(7));
    assert_eq!(open(&mut rx, &frame), Err(OpenError::UnknownKey));
}

#[test]
fn ratchet_kid_split_and_forward_following() {
    let (mut tx, mut rx) = pair(CipherSuite::AesGcm128Sha256);
    assert_eq!(split_kid(tx.kid()), (7, 0));
    let old = seal(&mut tx, b"gen0");
    open(&mut rx, &old).unwrap();
    let late_old = seal(&mut tx, b"gen0 late");
    tx.ratchet().unwrap();
    tx.ratchet().unwrap();
    assert_eq!(tx.kid(), kid(7, 2));
    let new = seal(&mut tx, b"gen2");
    // The receiver derives generation 2 itself and erases generation 0 (forward secrecy).
    assert_eq!(open(&mut rx, &new).unwrap(), b"gen2");
    assert_eq!(open(&mut rx, &late_old), Err(OpenError::StaleGeneration));
    assert_eq!(open(&mut rx, &new), Err(OpenError::Replayed));

    for _ in 0..=MAX_RATCHET_STEPS {
        tx.ratchet().unwrap();
    }
    assert_eq!(
        open(&mut rx, &seal(&mut tx, b"far")),
        Err(OpenError::GenerationTooFarAhead)
    );
}

#[test]
fn forged_future_generation_does_not_erase_the_key() {
    let (mut tx, mut rx) = pair(CipherSuite::AesGcm128Sha256);
    let good = seal(&mut tx, b"good");
    // Rewrite the KID to generation 1 (config byte 0x00..: kid 7<<8|1 needs 2 bytes).
    let mut forged = Vec::new();
    phivault_telehealth::Header {
        kid: kid(7, 1),
        ctr: 0,
    }
    .encode(&mut forged);
    forged.extend_from_slice(&good[1..]);
    assert_eq!(open(&mut rx, &forged), Err(OpenError::Decrypt));
    assert_eq!(open(&mut rx, &good).unwrap(), b"good");
}

#[test]
fn ratchet_generation_exhausts() {
    let mut tx = SframeSender::new(CipherSuite::AesGcm128Sha256, 1, BASE).unwrap();
    for _ in 0..255 {
        tx.ratchet().unwrap();
    }
    assert!(tx.ratchet().is_err());
    assert!(SframeSender::new(CipherSuite::AesGcm128Sha256, u64::MAX, BASE).is_err());
    assert!(SframeSender::new(CipherSuite::AesGcm128Sha256, 1, b"").is_err());
}

#[test]
fn debug_never_prints_keys() {
    let (tx, rx) = pair(CipherSuite::AesGcm128Sha256);
    let text = format!("{tx:?} {rx:?}");
    assert!(text.ends_with(".. }"), "{text}");
    assert!(!text.contains("0123456789abcdef"));
}

#[test]
fn ratchet_follows_rfc9605_section_5_1_label_exactly() {
    // base_key[1] = HKDF-Expand(HKDF-Extract("", base_key[0]), "SFrame 1.0 Ratchet", Nh),
    // computed here independently of the crate (note the capital F: the sframe 2.1.0 crate
    // uses "Sframe 1.0 Ratchet", which does not match the RFC text).
    let mut next = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&[]), BASE)
        .expand(b"SFrame 1.0 Ratchet", &mut next)
        .unwrap();
    let mut tx = SframeSender::new(CipherSuite::AesGcm128Sha256, 7, BASE).unwrap();
    tx.ratchet().unwrap();
    let frame = seal(&mut tx, b"after one ratchet");
    let pt = phivault_telehealth::kat::open(CipherSuite::AesGcm128Sha256, &next, b"meta", &frame);
    assert_eq!(pt.unwrap(), b"after one ratchet");
}
