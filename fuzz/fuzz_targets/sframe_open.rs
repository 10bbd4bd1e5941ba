//! SFrame frame decryption (`phivault_telehealth::SframeReceiver::open`):
//! frames arrive from the network through the SFU.
//!
//! The first input byte picks the cipher suite; the rest is the frame.
//! Asserts, with fixed base keys for key indices 0 and 9:
//! - opening arbitrary bytes never panics; if it succeeds (possible only
//!   by forging a tag, which for the 32-bit-tag suite a fuzzer could do),
//!   the plaintext is the frame minus header and tag;
//! - the input sealed by a sender with the same base key opens to itself,
//!   a second open of the same frame is refused as a replay, and the frame
//!   with one byte flipped (position chosen by the input) is refused;
//! - after one ratchet, the receiver follows the sender's new generation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phivault_telehealth::{CipherSuite, Header, OpenError, SframeReceiver, SframeSender};

const BASE_KEY: &[u8] = b"phivault fuzz base key, fixed so every run reproduces";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let suite = CipherSuite::ALL[usize::from(pick) % CipherSuite::ALL.len()];
    let mut rx = SframeReceiver::new(suite);
    rx.add_key(0, BASE_KEY).expect("valid key");
    rx.add_key(9, BASE_KEY).expect("valid key");
    let mut out = Vec::new();
    if let Ok(opened) = rx.open(b"meta", frame, &mut out) {
        let (h, hl) = Header::parse(frame).expect("an opened frame has a header");
        assert_eq!((opened.kid, opened.ctr), (h.kid, h.ctr));
        assert_eq!(out.len(), frame.len() - hl - suite.tag_len());
    }

    let mut tx = SframeSender::new(suite, 9, BASE_KEY).expect("valid key");
    if pick & 0x80 != 0 {
        tx.ratchet().expect("first ratchet");
    }
    let mut rx = SframeReceiver::new(suite);
    rx.add_key(9, BASE_KEY).expect("valid key");
    let mut sealed = Vec::new();
    tx.seal(b"meta", frame, &mut sealed).expect("seal");
    assert_eq!(
        rx.open(b"meta", &sealed, &mut out).map(|o| o.kid),
        Ok(tx.kid())
    );
    assert_eq!(out, frame);
    assert_eq!(
        rx.open(b"meta", &sealed, &mut out),
        Err(OpenError::Replayed)
    );
    // A fresh counter, then a flipped byte: refused without moving the window.
    tx.seal(b"meta", frame, &mut sealed).expect("seal");
    let i = frame.first().map_or(0, |b| usize::from(*b)) % sealed.len();
    sealed[i] ^= 0x01;
    assert!(rx.open(b"meta", &sealed, &mut out).is_err());
    sealed[i] ^= 0x01;
    assert!(rx.open(b"meta", &sealed, &mut out).is_ok());
    assert!(rx.open(b"other", &sealed, &mut out).is_err());
});
