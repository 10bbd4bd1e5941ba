//! Criterion: sealing and opening one PHI field, wrapping a data key, and
//! computing a blind-index tag.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use phivault_core::PhiValue;
use phivault_core::blind_index::BlindIndexer;
use phivault_core::envelope::{DataKey, FieldContext, LocalKek, RecordCipher};
use phivault_core::schema::Schema;
use zeroize::Zeroizing;

const CTX: FieldContext<'static> = FieldContext {
    collection: "patients",
    record_id: "00000000-0000-4000-8000-000000000000",
    field: "ssn",
};

fn envelope(c: &mut Criterion) {
    let dek = DataKey::generate().unwrap();
    let cipher = RecordCipher::new(&dek).unwrap();
    let value = PhiValue::new("123-45-6789ABCDE".to_owned());
    let sealed = cipher.seal(CTX, &value).unwrap();
    c.bench_function("seal 16 B", |b| {
        b.iter(|| cipher.seal(black_box(CTX), black_box(&value)).unwrap())
    });
    c.bench_function("open 16 B", |b| {
        b.iter(|| cipher.open(black_box(CTX), black_box(&sealed)).unwrap())
    });
    c.bench_function("seal+open 16 B", |b| {
        b.iter(|| {
            let s = cipher.seal(black_box(CTX), black_box(&value)).unwrap();
            cipher.open(CTX, &s).unwrap()
        })
    });
    c.bench_function("new record cipher (fresh DEK)", |b| {
        b.iter(|| RecordCipher::new(&DataKey::generate().unwrap()).unwrap())
    });
}

fn key_wrap(c: &mut Criterion) {
    let kek = LocalKek::new(1, &Zeroizing::new([7u8; 32])).unwrap();
    let dek = DataKey::generate().unwrap();
    let wrapped = kek.wrap(&dek, "patients", CTX.record_id).unwrap();
    c.bench_function("wrap DEK", |b| {
        b.iter(|| {
            kek.wrap(black_box(&dek), "patients", CTX.record_id)
                .unwrap()
        })
    });
    c.bench_function("unwrap DEK", |b| {
        b.iter(|| {
            kek.unwrap(black_box(&wrapped), "patients", CTX.record_id)
                .unwrap()
        })
    });
}

fn blind_index(c: &mut Criterion) {
    let schema = Schema::from_toml(Schema::default_toml()).unwrap();
    let indexer = BlindIndexer::new(&Zeroizing::new([9u8; 32]), &schema);
    let value = PhiValue::new("123-45-6789".to_owned());
    c.bench_function("blind index tag", |b| {
        b.iter(|| indexer.tag("patients", "ssn", &[black_box(&value)]))
    });
}

criterion_group!(benches, envelope, key_wrap, blind_index);
criterion_main!(benches);
