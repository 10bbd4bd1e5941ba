//! Differential test against the independent `sframe` crate (2.1.0, RustCrypto backend): frames
//! sealed here open there and the other way round, for every suite both implement.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use phivault_telehealth::frame::kid;
use phivault_telehealth::{CipherSuite, SframeReceiver, SframeSender};
use sframe::frame::{EncryptedFrameView, MediaFrameView, MonotonicCounter};
use sframe::key::{DecryptionKey, EncryptionKey};

const BASE: &[u8] = b"interop base key material";

fn theirs(suite: CipherSuite) -> sframe::CipherSuite {
    match suite {
        CipherSuite::AesCtr128HmacSha256_80 => sframe::CipherSuite::AesCtr128HmacSha256_80,
        CipherSuite::AesCtr128HmacSha256_64 => sframe::CipherSuite::AesCtr128HmacSha256_64,
        CipherSuite::AesCtr128HmacSha256_32 => sframe::CipherSuite::AesCtr128HmacSha256_32,
        CipherSuite::AesGcm128Sha256 => sframe::CipherSuite::AesGcm128Sha256,
        _ => sframe::CipherSuite::AesGcm256Sha512,
    }
}

#[test]
fn frames_interoperate_both_ways() {
    for suite in CipherSuite::ALL {
        for (index, len) in [(0u64, 0usize), (5, 1), (0x0003_0002, 1200), (1 << 40, 333)] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            // Ours -> theirs.
            let mut tx = SframeSender::new(suite, index, BASE).unwrap();
            let mut frame = Vec::new();
            for _ in 0..3 {
                tx.seal(b"", &pt, &mut frame).unwrap();
            }
            let dk = DecryptionKey::derive_from(theirs(suite), kid(index, 0), BASE).unwrap();
            let mut buf = Vec::new();
            let opened = EncryptedFrameView::try_new(&frame)
                .unwrap()
                .decrypt_into(&dk, &mut buf)
                .unwrap();
            assert_eq!(opened.payload(), pt.as_slice(), "{suite:?} ours->theirs");

            // Theirs -> ours.
            let ek = EncryptionKey::derive_from(theirs(suite), kid(index, 0), BASE).unwrap();
            let mut counter = MonotonicCounter::default();
            let mut sealed = Vec::new();
            MediaFrameView::try_new(&mut counter, &pt)
                .unwrap()
                .encrypt_into(&ek, &mut sealed)
                .unwrap();
            let mut rx = SframeReceiver::new(suite);
            rx.add_key(index, BASE).unwrap();
            let mut out = Vec::new();
            rx.open(b"", &sealed, &mut out).unwrap();
            assert_eq!(out, pt, "{suite:?} theirs->ours");
        }
    }
}
