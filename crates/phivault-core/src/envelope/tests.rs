use super::*;
use zeroize::Zeroizing;

fn ctx<'a>(record_id: &'a str, field: &'a str) -> FieldContext<'a> {
    FieldContext {
        collection: "patients",
        record_id,
        field,
    }
}

fn v(s: &str) -> PhiValue {
    PhiValue::new(s.to_owned())
}

#[test]
fn round_trip() {
    let dek = DataKey::generate().unwrap();
    let c = RecordCipher::new(&dek).unwrap();
    let sealed = c.seal(ctx("r1", "ssn"), &v("123-45-6789")).unwrap();
    assert_eq!(sealed.len(), FIELD_HEADER_LEN + 11 + 16);
    assert!(!sealed.windows(11).any(|w| w == b"123-45-6789"));
    assert_eq!(
        c.open(ctx("r1", "ssn"), &sealed).unwrap().expose(),
        "123-45-6789"
    );
    let (ver, alg, kid) = field_header(&sealed).unwrap();
    assert_eq!((ver, alg, kid), (FORMAT_V1, 1, dek.id()));
}

#[test]
fn two_seals_differ() {
    let c = RecordCipher::new(&DataKey::generate().unwrap()).unwrap();
    let a = c.seal(ctx("r1", "ssn"), &v("x")).unwrap();
    let b = c.seal(ctx("r1", "ssn"), &v("x")).unwrap();
    assert_ne!(a, b);
}

#[test]
fn every_tampered_byte_fails() {
    let c = RecordCipher::new(&DataKey::generate().unwrap()).unwrap();
    let sealed = c.seal(ctx("r1", "ssn"), &v("123-45-6789")).unwrap();
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x01;
        let err = c.open(ctx("r1", "ssn"), &t).unwrap_err();
        let expected = match i {
            0 => OpenError::Malformed,
            1 => OpenError::UnsupportedAlgorithm,
            _ => OpenError::Integrity,
        };
        assert_eq!(err, expected, "byte {i}");
    }
    assert_eq!(
        c.open(ctx("r1", "ssn"), &sealed[..20]),
        Err(OpenError::Malformed)
    );
}

#[test]
fn moved_to_another_field_or_record_fails() {
    let c = RecordCipher::new(&DataKey::generate().unwrap()).unwrap();
    let sealed = c.seal(ctx("r1", "ssn"), &v("123-45-6789")).unwrap();
    assert_eq!(c.open(ctx("r1", "mrn"), &sealed), Err(OpenError::Integrity));
    assert_eq!(c.open(ctx("r2", "ssn"), &sealed), Err(OpenError::Integrity));
    let other = FieldContext {
        collection: "encounters",
        record_id: "r1",
        field: "ssn",
    };
    assert_eq!(c.open(other, &sealed), Err(OpenError::Integrity));
}

#[test]
fn wrong_key_fails() {
    let c1 = RecordCipher::new(&DataKey::generate().unwrap()).unwrap();
    let c2 = RecordCipher::new(&DataKey::generate().unwrap()).unwrap();
    let sealed = c1.seal(ctx("r1", "ssn"), &v("123-45-6789")).unwrap();
    assert_eq!(
        c2.open(ctx("r1", "ssn"), &sealed),
        Err(OpenError::Integrity)
    );
}

#[test]
fn dek_wrap_round_trip_and_binding() {
    let kek = LocalKek::new(3, &Zeroizing::new([7u8; 32])).unwrap();
    let dek = DataKey::generate().unwrap();
    let w = kek.wrap(&dek, "patients", "r1").unwrap();
    let decoded = WrappedDek::decode(&w.encode()).unwrap();
    assert_eq!(decoded, w);
    assert_eq!(decoded.kek.version, 3);
    let back = kek.unwrap(&decoded, "patients", "r1").unwrap();
    assert_eq!(back.expose(), dek.expose());
    assert_eq!(
        kek.unwrap(&decoded, "patients", "r2").unwrap_err(),
        UnwrapError::Integrity
    );
    let other = LocalKek::new(3, &Zeroizing::new([8u8; 32])).unwrap();
    assert_eq!(
        other.unwrap(&decoded, "patients", "r1").unwrap_err(),
        UnwrapError::Integrity
    );
    let newer = LocalKek::new(4, &Zeroizing::new([7u8; 32])).unwrap();
    assert_eq!(
        newer.unwrap(&decoded, "patients", "r1").unwrap_err(),
        UnwrapError::UnknownKek(3)
    );
    let mut bytes = w.encode();
    bytes[8] ^= 1;
    let tampered = WrappedDek::decode(&bytes).unwrap();
    assert_eq!(
        kek.unwrap(&tampered, "patients", "r1").unwrap_err(),
        UnwrapError::Integrity
    );
    assert_eq!(
        WrappedDek::decode(&bytes[..10]),
        Err(UnwrapError::Malformed)
    );
}

#[test]
fn secrets_do_not_print() {
    let dek = DataKey::generate().unwrap();
    let s = format!("{dek:?}");
    assert!(s.starts_with("DataKey { id: KeyId("), "{s}");
    assert!(s.ends_with(".. }"), "{s}");
}
