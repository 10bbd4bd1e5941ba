//! Checkpoints and signed notes (`phivault_audit::checkpoint`): notes come
//! from witnesses, auditors and exported evidence; verifier keys are pasted
//! by operators.
//!
//! Asserts, with a fixed Ed25519 key:
//! - `Checkpoint::open` and `VerifierKey::parse` on the input never panic;
//!   a parsed verifier key prints back to a key that parses equal;
//! - the input taken as a note body (newline-terminated, no blank line)
//!   and signed opens back to exactly that body;
//! - when such a body holds a checkpoint, `open` returns it and its
//!   canonical `body()` is a prefix of the signed body (lines after the
//!   root are ignored); signing `body()` again opens to the same checkpoint;
//! - the signed note with one byte changed (position chosen by the input)
//!   never opens to a different checkpoint.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phivault_audit::{Checkpoint, Signer, VerifierKey};

const NAME: &str = "phivault.example/audit";

/// PKCS#8 v1 (RFC 8410) of the Ed25519 seed 0x01 0x02 .. 0x20: a fixed key,
/// so that every run reproduces.
fn signer() -> &'static (Signer, VerifierKey) {
    static KEY: OnceLock<(Signer, VerifierKey)> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut doc = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        doc.extend(1u8..=32);
        let s = Signer::from_pkcs8(NAME, &doc).expect("fixed key loads");
        let v = s.verifier();
        (s, v)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (signer, vk) = signer();

    let _ = Checkpoint::open(text, vk);
    if let Ok(k) = VerifierKey::parse(text) {
        assert_eq!(VerifierKey::parse(&k.to_string()).as_ref(), Ok(&k));
    }

    if !text.ends_with('\n') || text.contains("\n\n") {
        return;
    }
    let note = signer.sign_note(text);
    assert_eq!(vk.open_note(&note).as_deref(), Ok(text));
    let opened = Checkpoint::open(&note, vk);
    if let Ok(cp) = &opened {
        assert!(text.starts_with(&cp.body()));
        assert_eq!(Checkpoint::open(&signer.sign(cp), vk).as_ref(), Ok(cp));
    }
    let i = data.last().map_or(0, |b| usize::from(*b)) * 7 % note.len();
    let mut bytes = note.into_bytes();
    bytes[i] ^= 0x01;
    if let Ok(t) = String::from_utf8(bytes) {
        if let Ok(cp2) = Checkpoint::open(&t, vk) {
            assert_eq!(Some(&cp2), opened.as_ref().ok(), "a changed note opened");
        }
    }
});
