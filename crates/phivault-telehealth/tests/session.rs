//! Session key schedule: joins ratchet, leaves and timeouts rekey, packages are bound to
//! device, epoch and session, and removed participants lose access.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod common;

use common::os_rng;
use phivault_telehealth::session::{REKEY_INTERVAL_SECS, kid_epoch_sender};
use phivault_telehealth::{
    CipherSuite, DeviceId, DeviceKeyPair, KeyPackage, OpenError, PackageOpenError, Participant,
    Session, SessionError, SessionId, SframeReceiver, UserId,
};

const SUITE: CipherSuite = CipherSuite::AesGcm128Sha256;
const T0: u64 = 1_800_000_000;

struct Device {
    keys: DeviceKeyPair,
    me: Participant,
}

fn device(user: &str, device: &str) -> Device {
    let keys = DeviceKeyPair::generate(&mut os_rng());
    let me = Participant {
        device: DeviceId::new(device).unwrap(),
        user: UserId::new(user).unwrap(),
        public_key: keys.public_key().clone(),
    };
    Device { keys, me }
}

fn package_for<'a>(packages: &'a [KeyPackage], d: &Device) -> &'a KeyPackage {
    packages
        .iter()
        .find(|p| p.recipient_device == d.me.device)
        .unwrap()
}

/// Clinician (one device) and patient (phone + laptop) in one call.
fn call() -> (Session, Session, Session, Device, Device, Device) {
    let doc = device("dr-a", "dr-a-laptop");
    let phone = device("patient-b", "b-phone");
    let laptop = device("patient-b", "b-laptop");
    let mut s_doc = Session::create(
        &mut os_rng(),
        SessionId::new("visit-42").unwrap(),
        doc.me.clone(),
        SUITE,
        T0,
    );
    s_doc
        .apply_join(vec![phone.me.clone(), laptop.me.clone()])
        .unwrap();
    let pk = s_doc
        .seal_for(
            &mut os_rng(),
            &doc.keys,
            &[phone.me.device.clone(), laptop.me.device.clone()],
        )
        .unwrap();
    let roster: Vec<Participant> = s_doc.participants().cloned().collect();
    let s_phone = Session::from_package(
        package_for(&pk, &phone),
        &phone.keys,
        s_doc.id(),
        phone.me.device.clone(),
        roster.clone(),
        SUITE,
        T0,
    )
    .unwrap();
    let s_laptop = Session::from_package(
        package_for(&pk, &laptop),
        &laptop.keys,
        s_doc.id(),
        laptop.me.device.clone(),
        roster,
        SUITE,
        T0,
    )
    .unwrap();
    (s_doc, s_phone, s_laptop, doc, phone, laptop)
}

fn send(from: &Session, to: &Session, pt: &[u8]) -> Result<Vec<u8>, OpenError> {
    let mut tx = from.sframe_sender().unwrap();
    let mut rx = SframeReceiver::new(SUITE);
    to.install_receiver_keys(&mut rx).unwrap();
    let mut frame = Vec::new();
    tx.seal(b"", pt, &mut frame).unwrap();
    let mut out = Vec::new();
    rx.open(b"", &frame, &mut out).map(|_| out)
}

#[test]
fn everyone_in_the_call_reads_everyone() {
    let (doc, phone, laptop, ..) = call();
    assert_eq!(doc.epoch(), 1);
    assert_eq!((phone.epoch(), laptop.epoch()), (1, 1));
    for (a, b) in [
        (&doc, &phone),
        (&phone, &doc),
        (&laptop, &doc),
        (&doc, &laptop),
    ] {
        assert_eq!(send(a, b, b"vitals").unwrap(), b"vitals");
    }
    let kid = doc.sframe_sender().unwrap().kid();
    let index = doc
        .sender_index(&DeviceId::new("dr-a-laptop").unwrap())
        .unwrap();
    assert_eq!(kid_epoch_sender(kid), (1, index));
}

#[test]
fn join_ratchets_newcomer_cannot_read_earlier_epoch() {
    let (mut doc, mut phone, _laptop, doc_dev, _, _) = call();
    let mut tx_old = doc.sframe_sender().unwrap();
    let mut old_frame = Vec::new();
    tx_old
        .seal(b"", b"before the interpreter joined", &mut old_frame)
        .unwrap();

    let interp = device("interp-c", "c-tablet");
    doc.apply_join(vec![interp.me.clone()]).unwrap();
    phone.apply_join(vec![interp.me.clone()]).unwrap();
    let pk = doc
        .seal_for(
            &mut os_rng(),
            &doc_dev.keys,
            std::slice::from_ref(&interp.me.device),
        )
        .unwrap();
    let roster: Vec<Participant> = doc.participants().cloned().collect();
    let s_interp = Session::from_package(
        &pk[0],
        &interp.keys,
        doc.id(),
        interp.me.device.clone(),
        roster,
        SUITE,
        T0 + 5,
    )
    .unwrap();
    assert_eq!(s_interp.epoch(), 2);
    // A package for this session does not admit the joiner into another one.
    let elsewhere = SessionId::new("visit-43").unwrap();
    let roster: Vec<Participant> = doc.participants().cloned().collect();
    assert!(
        Session::from_package(
            &pk[0],
            &interp.keys,
            &elsewhere,
            interp.me.device.clone(),
            roster,
            SUITE,
            T0
        )
        .is_err()
    );
    // Existing members derived the same epoch locally.
    assert_eq!(send(&phone, &s_interp, b"hi").unwrap(), b"hi");
    assert_eq!(send(&s_interp, &doc, b"hello").unwrap(), b"hello");
    // The newcomer has no key for epoch 1 frames.
    let mut rx = SframeReceiver::new(SUITE);
    s_interp.install_receiver_keys(&mut rx).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        rx.open(b"", &old_frame, &mut out),
        Err(OpenError::UnknownKey)
    );
    // A join does not reset the fresh-secret timer.
    assert!(doc.needs_rekey(T0 + REKEY_INTERVAL_SECS));
}

#[test]
fn removed_participant_cannot_open_next_epoch() {
    let (mut doc, removed_phone, _laptop, doc_dev, phone_dev, _) = call();
    let packages = doc
        .remove_user(
            &mut os_rng(),
            &doc_dev.keys,
            &UserId::new("patient-b").unwrap(),
            T0 + 60,
        )
        .unwrap();
    assert_eq!(doc.epoch(), 2);
    assert!(
        packages.is_empty(),
        "only the clinician remains, nobody to seal for"
    );
    // The removed devices cannot get epoch 2 from anything they hold.
    let stray = doc.seal_for(
        &mut os_rng(),
        &doc_dev.keys,
        std::slice::from_ref(&phone_dev.me.device),
    );
    assert_eq!(stray.unwrap_err(), SessionError::NotParticipant);
    let mut rx_phone = SframeReceiver::new(SUITE);
    removed_phone.install_receiver_keys(&mut rx_phone).unwrap();
    let mut tx = doc.sframe_sender().unwrap();
    let mut frame = Vec::new();
    tx.seal(b"", b"after the patient left", &mut frame).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        rx_phone.open(b"", &frame, &mut out),
        Err(OpenError::UnknownKey)
    );
}

#[test]
fn leave_rekeys_for_remaining_devices_only() {
    let doc = device("dr-a", "dr-a-laptop");
    let nurse = device("nurse-n", "n-desk");
    let patient = device("patient-b", "b-phone");
    let mut s_doc = Session::create(
        &mut os_rng(),
        SessionId::new("visit-7").unwrap(),
        doc.me.clone(),
        SUITE,
        T0,
    );
    s_doc
        .apply_join(vec![nurse.me.clone(), patient.me.clone()])
        .unwrap();
    let pk = s_doc
        .seal_for(
            &mut os_rng(),
            &doc.keys,
            &[nurse.me.device.clone(), patient.me.device.clone()],
        )
        .unwrap();
    let roster: Vec<Participant> = s_doc.participants().cloned().collect();
    let mut s_nurse = Session::from_package(
        package_for(&pk, &nurse),
        &nurse.keys,
        s_doc.id(),
        nurse.me.device.clone(),
        roster.clone(),
        SUITE,
        T0,
    )
    .unwrap();
    let mut s_patient = Session::from_package(
        package_for(&pk, &patient),
        &patient.keys,
        s_doc.id(),
        patient.me.device.clone(),
        roster,
        SUITE,
        T0,
    )
    .unwrap();

    let packages = s_doc
        .remove_user(&mut os_rng(), &doc.keys, &patient.me.user, T0 + 30)
        .unwrap();
    assert_eq!(packages.len(), 1);
    let to_nurse = &packages[0];
    assert_eq!(to_nurse.recipient_device, nurse.me.device);
    let new_roster: Vec<Participant> = s_doc.participants().cloned().collect();
    // The removed patient is not in the new roster...
    assert_eq!(
        s_patient.accept(to_nurse, &patient.keys, new_roster.clone(), T0 + 31),
        Err(SessionError::NotParticipant)
    );
    // ...and with a forged roster that lists them, the nurse's package still does not open,
    // even relabelled as theirs.
    let mut forged_roster = new_roster.clone();
    forged_roster.push(patient.me.clone());
    assert_eq!(
        s_patient.accept(to_nurse, &patient.keys, forged_roster.clone(), T0 + 31),
        Err(SessionError::Open(PackageOpenError::WrongRecipient))
    );
    let mut relabelled = to_nurse.clone();
    relabelled.recipient_device = patient.me.device.clone();
    assert_eq!(
        s_patient.accept(&relabelled, &patient.keys, forged_roster, T0 + 31),
        Err(SessionError::Open(PackageOpenError::Decrypt))
    );
    s_nurse
        .accept(to_nurse, &nurse.keys, new_roster, T0 + 31)
        .unwrap();
    assert_eq!(s_nurse.epoch(), 2);
    assert_eq!(send(&s_doc, &s_nurse, b"labs").unwrap(), b"labs");
    assert_eq!(
        send(&s_doc, &s_patient, b"labs"),
        Err(OpenError::UnknownKey)
    );
    // The same package cannot be replayed to move the nurse again.
    let roster: Vec<Participant> = s_doc.participants().cloned().collect();
    assert!(
        s_nurse
            .accept(to_nurse, &nurse.keys, roster, T0 + 32)
            .is_err()
    );
}

#[test]
fn package_opens_only_for_its_device_epoch_and_session() {
    let a = device("u", "device-a");
    let b = device("u", "device-b");
    let sid = SessionId::new("s1").unwrap();
    let s = device("u", "device-s");
    let sender = s.me.device.clone();
    let spk = s.keys.public_key();
    let secret = phivault_telehealth::EpochSecret::generate(&mut os_rng());
    let pkg = KeyPackage::seal(
        &mut os_rng(),
        &sid,
        3,
        &sender,
        &s.keys,
        &a.me.device,
        a.keys.public_key(),
        &secret,
    )
    .unwrap();
    assert!(pkg.open(&a.keys, &sid, &a.me.device, 3, spk).is_ok());
    assert_eq!(
        pkg.open(&b.keys, &sid, &b.me.device, 3, spk).unwrap_err(),
        PackageOpenError::WrongRecipient
    );
    assert_eq!(
        pkg.open(&a.keys, &sid, &a.me.device, 4, spk).unwrap_err(),
        PackageOpenError::WrongEpoch
    );
    let other = SessionId::new("s2").unwrap();
    assert_eq!(
        pkg.open(&a.keys, &other, &a.me.device, 3, spk).unwrap_err(),
        PackageOpenError::WrongSession
    );
    // Edited plain fields fail cryptographically (info/aad binding), not just by comparison.
    let mut p = pkg.clone();
    p.recipient_device = b.me.device.clone();
    assert_eq!(
        p.open(&b.keys, &sid, &b.me.device, 3, spk).unwrap_err(),
        PackageOpenError::Decrypt
    );
    let mut p = pkg.clone();
    p.epoch = 4;
    assert_eq!(
        p.open(&a.keys, &sid, &a.me.device, 4, spk).unwrap_err(),
        PackageOpenError::Decrypt
    );
    let mut p = pkg.clone();
    p.session_id = other.clone();
    assert_eq!(
        p.open(&a.keys, &other, &a.me.device, 3, spk).unwrap_err(),
        PackageOpenError::Decrypt
    );
    let mut p = pkg.clone();
    p.sender_device = DeviceId::new("mallory").unwrap();
    assert_eq!(
        p.open(&a.keys, &sid, &a.me.device, 3, spk).unwrap_err(),
        PackageOpenError::Decrypt
    );
    // HPKE auth mode: a package sealed by anyone but the sender device (e.g. the relay, which
    // knows every public key) does not open, whatever sender it names.
    let relay = DeviceKeyPair::generate(&mut os_rng());
    let forged = KeyPackage::seal(
        &mut os_rng(),
        &sid,
        3,
        &sender,
        &relay,
        &a.me.device,
        a.keys.public_key(),
        &secret,
    )
    .unwrap();
    assert_eq!(
        forged
            .open(&a.keys, &sid, &a.me.device, 3, spk)
            .unwrap_err(),
        PackageOpenError::Decrypt
    );
    // JSON round trip with base64url fields.
    let json = serde_json::to_string(&pkg).unwrap();
    assert!(json.contains("\"recipient_device\":\"device-a\""));
    let back: KeyPackage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pkg);
    assert!(back.open(&a.keys, &sid, &a.me.device, 3, spk).is_ok());
}

#[test]
fn rekey_due_every_ten_minutes_and_resets() {
    let (mut doc, mut phone, _laptop, doc_dev, phone_dev, _) = call();
    assert!(!doc.needs_rekey(T0 + REKEY_INTERVAL_SECS - 1));
    assert!(doc.needs_rekey(T0 + REKEY_INTERVAL_SECS));
    let now = T0 + REKEY_INTERVAL_SECS;
    let packages = doc.rekey(&mut os_rng(), &doc_dev.keys, now).unwrap();
    assert_eq!(packages.len(), 2);
    assert!(!doc.needs_rekey(now + 1));
    let roster: Vec<Participant> = doc.participants().cloned().collect();
    phone
        .accept(
            package_for(&packages, &phone_dev),
            &phone_dev.keys,
            roster,
            now,
        )
        .unwrap();
    assert_eq!(send(&doc, &phone, b"ok").unwrap(), b"ok");
}

#[test]
fn public_key_json_and_secrets_do_not_print() {
    let d = device("u", "d");
    let json = serde_json::to_string(&d.me).unwrap();
    let back: Participant = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d.me);
    assert_eq!(d.me.public_key.to_base64url().len(), 43);
    assert!(
        serde_json::from_str::<Participant>(
            &json.replace("\"public_key\":\"", "\"public_key\":\"A")
        )
        .is_err()
    );
    let secret = phivault_telehealth::EpochSecret::generate(&mut os_rng());
    assert_eq!(format!("{secret:?}"), "EpochSecret { .. }");
    let text = format!("{:?}", d.keys);
    assert!(
        text.starts_with("DeviceKeyPair { public: PublicKey(") && text.ends_with(", .. }"),
        "{text}"
    );
    assert!(SessionId::new("").is_err());
    let restored = DeviceKeyPair::from_secret(d.keys.export_secret().as_slice()).unwrap();
    assert_eq!(restored.public_key(), d.keys.public_key());
    assert!(DeviceKeyPair::from_secret(&[1, 2, 3]).is_err());
}

#[test]
fn safety_numbers_match_on_both_sides_and_differ_per_key() {
    let a = device("u", "a");
    let b = device("v", "b");
    let c = device("w", "c");
    let ab = phivault_telehealth::safety_number(a.keys.public_key(), b.keys.public_key());
    let ba = phivault_telehealth::safety_number(b.keys.public_key(), a.keys.public_key());
    assert_eq!(ab, ba);
    assert_eq!(ab.len(), 6 * 5 + 5);
    assert_ne!(
        ab,
        phivault_telehealth::safety_number(a.keys.public_key(), c.keys.public_key())
    );
    let fp = a.keys.public_key().fingerprint();
    assert_eq!(fp.len(), 4 * 5 + 3);
    assert!(fp.bytes().all(|c| c.is_ascii_digit() || c == b' '));
}
