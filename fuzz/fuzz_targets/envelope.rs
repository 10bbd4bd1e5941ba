//! The envelope formats (`phivault_core::envelope`): stored wrapped DEKs and
//! sealed field ciphertexts are read back from the database, so they are
//! untrusted bytes.
//!
//! Asserts:
//! - `WrappedDek::decode` accepts exactly the inputs of at least 14 bytes
//!   starting with format 1, and `encode` gives the input back byte for byte;
//! - unwrapping any decoded DEK with a fixed local KEK, and opening the input
//!   as a sealed field with a fixed DEK, fail (never panic): the inputs are
//!   not sealed under those keys (a forgery of a 128-bit GCM tag);
//! - `field_header` reads the first 10 bytes, and only those;
//! - sealing the input (as UTF-8) and opening it gives it back; the sealed
//!   bytes with one byte flipped (position chosen by the input) do not open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phivault_core::PhiValue;
use phivault_core::envelope::{
    DataKey, FIELD_HEADER_LEN, FORMAT_V1, KeyId, LocalKek, RecordCipher, WrappedDek, field_header,
};
use zeroize::Zeroizing;

fn ctx() -> phivault_core::envelope::FieldContext<'static> {
    phivault_core::envelope::FieldContext {
        collection: "patients",
        record_id: "00000000-0000-4000-8000-000000000000",
        field: "ssn",
    }
}

fuzz_target!(|data: &[u8]| {
    // Wrapped DEK: decode, re-encode, unwrap.
    match WrappedDek::decode(data) {
        Ok(w) => {
            assert!(data.len() >= 14 && data[0] == FORMAT_V1);
            assert_eq!(w.encode(), data);
            let kek = LocalKek::new(w.kek.version, &Zeroizing::new([7u8; 32]))
                .expect("a 32-byte KEK is valid");
            // Same provider and version, so the payload itself is tried.
            let w = WrappedDek {
                kek: kek.kek_ref(),
                ..w
            };
            assert!(kek.unwrap(&w, "patients", "r1").is_err());
        }
        Err(_) => assert!(data.len() < 14 || data[0] != FORMAT_V1),
    }

    // Sealed field: header and open under a fixed DEK.
    match field_header(data) {
        Some((ver, alg, kid)) => {
            assert!(data.len() >= 10);
            assert_eq!((ver, alg), (data[0], data[1]));
            assert_eq!(kid.as_bytes(), &data[2..10]);
        }
        None => assert!(data.len() < 10),
    }
    let kid = KeyId::from_slice(data.get(2..10).unwrap_or(&[0; 8])).expect("8 bytes");
    let dek = DataKey::from_parts(kid, Zeroizing::new([9u8; 32]));
    let cipher = RecordCipher::new(&dek).expect("a 32-byte DEK is valid");
    assert!(cipher.open(ctx(), data).is_err());

    // Seal and open the input as a value.
    if let Ok(text) = std::str::from_utf8(data) {
        let sealed = cipher
            .seal(ctx(), &PhiValue::new(text.to_owned()))
            .expect("sealing with a valid key succeeds");
        assert_eq!(sealed.len(), FIELD_HEADER_LEN + data.len() + 16);
        let opened = cipher.open(ctx(), &sealed).expect("own ciphertext opens");
        assert_eq!(opened.expose(), text);
        let mut tampered = sealed.clone();
        let i = data.first().map_or(0, |b| usize::from(*b)) % tampered.len();
        tampered[i] ^= 0x80;
        assert!(cipher.open(ctx(), &tampered).is_err());
        assert!(cipher.open(ctx(), &sealed[..sealed.len() - 1]).is_err());
    }
});
