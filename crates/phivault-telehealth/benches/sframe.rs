//! SFrame seal+open of 1,200-byte frames versus raw AES-GCM seal+open of the same payload, with
//! the same AEAD implementation (RustCrypto `aes-gcm`) and key size, in one criterion run.
//!
//! Both sides copy the plaintext into a reused output buffer, encrypt in place, then decrypt in
//! place; SFrame adds the header, the AAD assembly, the KID lookup and the replay window.
//!
//! The machine is shared, so criterion's sequential groups can land in different load phases.
//! After them, a paired run alternates raw and SFrame batches (order swapped every round) and
//! prints medians: frames/s, bytes/s, per-frame overhead in ns and bytes, and the ratio.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "benchmark harness and its report on stderr"
)]

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use criterion::{Criterion, Throughput};
use phivault_telehealth::{CipherSuite, SframeReceiver, SframeSender};

const FRAME: usize = 1200;

fn raw<A: AeadInOut + KeyInit>(c: &mut Criterion, name: &str, key_len: usize) {
    let key = vec![7u8; key_len];
    let aead = A::new_from_slice(&key).unwrap();
    let pt = vec![0x5au8; FRAME];
    let mut buf = Vec::with_capacity(FRAME);
    let mut ctr: u64 = 0;
    let mut group = c.benchmark_group("seal_open_1200B");
    group.throughput(Throughput::Bytes(FRAME as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            ctr += 1;
            let mut n = [0u8; 12];
            n[4..].copy_from_slice(&ctr.to_be_bytes());
            let nonce = aes_gcm::aead::Nonce::<A>::try_from(&n[..]).unwrap();
            buf.clear();
            buf.extend_from_slice(black_box(&pt));
            let tag = aead
                .encrypt_inout_detached(&nonce, b"", buf.as_mut_slice().into())
                .unwrap();
            aead.decrypt_inout_detached(&nonce, b"", buf.as_mut_slice().into(), &tag)
                .unwrap();
            black_box(&buf);
        });
    });
    group.finish();
}

fn sframe(c: &mut Criterion, name: &str, suite: CipherSuite) {
    let base = [9u8; 32];
    // A realistic KID: epoch 3, sender 2 (session layout), generation 0.
    let index = phivault_telehealth::session::key_index(3, 2);
    let mut tx = SframeSender::new(suite, index, &base).unwrap();
    let mut rx = SframeReceiver::new(suite);
    rx.add_key(index, &base).unwrap();
    for other in 0..8 {
        rx.add_key(
            phivault_telehealth::session::key_index(3, 10 + other),
            &base,
        )
        .unwrap();
    }
    let pt = vec![0x5au8; FRAME];
    let mut frame = Vec::with_capacity(FRAME + 64);
    let mut out = Vec::with_capacity(FRAME + 64);
    tx.seal(b"", &pt, &mut frame).unwrap();
    eprintln!(
        "{name}: {} bytes on the wire for a {FRAME}-byte payload (+{} header and tag)",
        frame.len(),
        frame.len() - FRAME
    );
    let mut group = c.benchmark_group("seal_open_1200B");
    group.throughput(Throughput::Bytes(FRAME as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            tx.seal(b"", black_box(&pt), &mut frame).unwrap();
            rx.open(b"", &frame, &mut out).unwrap();
            black_box(&out);
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    raw::<Aes128Gcm>(c, "raw_aes128gcm", 16);
    sframe(c, "sframe_aes128gcm", CipherSuite::AesGcm128Sha256);
    raw::<Aes256Gcm>(c, "raw_aes256gcm", 32);
    sframe(c, "sframe_aes256gcm", CipherSuite::AesGcm256Sha512);
}

/// One batch of `n` raw seal+open; returns ns per frame.
struct Raw<A> {
    aead: A,
    pt: Vec<u8>,
    buf: Vec<u8>,
    ctr: u64,
}

impl<A: AeadInOut> Raw<A> {
    fn batch(&mut self, n: u32) -> f64 {
        let start = std::time::Instant::now();
        for _ in 0..n {
            self.ctr += 1;
            let mut nb = [0u8; 12];
            nb[4..].copy_from_slice(&self.ctr.to_be_bytes());
            let nonce = aes_gcm::aead::Nonce::<A>::try_from(&nb[..]).unwrap();
            self.buf.clear();
            self.buf.extend_from_slice(black_box(&self.pt));
            let tag = self
                .aead
                .encrypt_inout_detached(&nonce, b"", self.buf.as_mut_slice().into())
                .unwrap();
            self.aead
                .decrypt_inout_detached(&nonce, b"", self.buf.as_mut_slice().into(), &tag)
                .unwrap();
            black_box(&self.buf);
        }
        start.elapsed().as_nanos() as f64 / f64::from(n)
    }
}

struct Sf {
    tx: SframeSender,
    rx: SframeReceiver,
    pt: Vec<u8>,
    frame: Vec<u8>,
    out: Vec<u8>,
}

impl Sf {
    fn new(suite: CipherSuite) -> Self {
        let index = phivault_telehealth::session::key_index(3, 2);
        let base = [9u8; 32];
        let tx = SframeSender::new(suite, index, &base).unwrap();
        let mut rx = SframeReceiver::new(suite);
        rx.add_key(index, &base).unwrap();
        Self {
            tx,
            rx,
            pt: vec![0x5a; FRAME],
            frame: Vec::with_capacity(FRAME + 64),
            out: Vec::with_capacity(FRAME + 64),
        }
    }

    fn batch(&mut self, n: u32) -> f64 {
        let start = std::time::Instant::now();
        for _ in 0..n {
            self.tx
                .seal(b"", black_box(&self.pt), &mut self.frame)
                .unwrap();
            self.rx.open(b"", &self.frame, &mut self.out).unwrap();
            black_box(&self.out);
        }
        start.elapsed().as_nanos() as f64 / f64::from(n)
    }
}

/// The `sframe` crate 2.1.0 (RustCrypto backend) through its buffer-reusing view API, for
/// comparison: it keys the AEAD again for every frame.
struct Theirs {
    ek: sframe::key::EncryptionKey,
    dk: sframe::key::DecryptionKey,
    counter: sframe::frame::MonotonicCounter,
    pt: Vec<u8>,
    enc: Vec<u8>,
    dec: Vec<u8>,
}

impl Theirs {
    fn new(suite: sframe::CipherSuite) -> Self {
        let kid = phivault_telehealth::frame::kid(phivault_telehealth::session::key_index(3, 2), 0);
        Self {
            ek: sframe::key::EncryptionKey::derive_from(suite, kid, [9u8; 32]).unwrap(),
            dk: sframe::key::DecryptionKey::derive_from(suite, kid, [9u8; 32]).unwrap(),
            counter: sframe::frame::MonotonicCounter::default(),
            pt: vec![0x5a; FRAME],
            enc: Vec::with_capacity(FRAME + 64),
            dec: Vec::with_capacity(FRAME + 64),
        }
    }

    fn one(&mut self) {
        let media =
            sframe::frame::MediaFrameView::try_new(&mut self.counter, black_box(&self.pt)).unwrap();
        media.encrypt_into(&self.ek, &mut self.enc).unwrap();
        let frame = sframe::frame::EncryptedFrameView::try_new(&self.enc).unwrap();
        black_box(frame.decrypt_into(&self.dk, &mut self.dec).unwrap());
    }

    fn batch(&mut self, n: u32) -> f64 {
        let start = std::time::Instant::now();
        for _ in 0..n {
            self.one();
        }
        start.elapsed().as_nanos() as f64 / f64::from(n)
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn paired<A: AeadInOut + KeyInit>(
    label: &str,
    key_len: usize,
    suite: CipherSuite,
    their_suite: sframe::CipherSuite,
) {
    const ROUNDS: usize = 200;
    const N: u32 = 500;
    let mut raw = Raw {
        aead: A::new_from_slice(&vec![7u8; key_len]).unwrap(),
        pt: vec![0x5a; FRAME],
        buf: Vec::with_capacity(FRAME),
        ctr: 0,
    };
    let mut sf = Sf::new(suite);
    let mut th = Theirs::new(their_suite);
    raw.batch(N);
    sf.batch(N);
    th.batch(N);
    let (mut r, mut s, mut t, mut ratio, mut tratio) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (a, b, c) = if round % 2 == 0 {
            let a = raw.batch(N);
            let b = sf.batch(N);
            (a, b, th.batch(N))
        } else {
            let c = th.batch(N);
            let b = sf.batch(N);
            (raw.batch(N), b, c)
        };
        r.push(a);
        s.push(b);
        t.push(c);
        ratio.push(a / b);
        tratio.push(a / c);
    }
    let (r, s, ratio) = (median(&mut r), median(&mut s), median(&mut ratio));
    let (t, tratio) = (median(&mut t), median(&mut tratio));
    let wire = sf.frame.len() - FRAME;
    let mib = |ns: f64| FRAME as f64 / ns * 1e9 / (1024.0 * 1024.0);
    eprintln!(
        "paired {label} (seal+open of one {FRAME}-byte frame, median of {ROUNDS} rounds x {N}):"
    );
    eprintln!(
        "  raw AES-GCM : {r:8.0} ns/frame {:9.0} frames/s {:8.1} MiB/s",
        1e9 / r,
        mib(r)
    );
    eprintln!(
        "  SFrame      : {s:8.0} ns/frame {:9.0} frames/s {:8.1} MiB/s",
        1e9 / s,
        mib(s)
    );
    eprintln!(
        "  overhead    : {:+8.0} ns/frame, +{wire} bytes/frame; SFrame/raw throughput {:.1}%",
        s - r,
        ratio * 100.0
    );
    eprintln!(
        "  sframe 2.1  : {t:8.0} ns/frame {:9.0} frames/s {:8.1} MiB/s; its/raw throughput {:.1}%",
        1e9 / t,
        mib(t),
        tratio * 100.0
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    paired::<Aes128Gcm>(
        "AES-128-GCM",
        16,
        CipherSuite::AesGcm128Sha256,
        sframe::CipherSuite::AesGcm128Sha256,
    );
    paired::<Aes256Gcm>(
        "AES-256-GCM",
        32,
        CipherSuite::AesGcm256Sha512,
        sframe::CipherSuite::AesGcm256Sha512,
    );
}
