//! The browser's call logic, natively: start, join by package, admit with the join ratchet,
//! removal with a fresh epoch, rekey, sender ratchet, and refusals (replay, unknown key).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use phivault_telehealth::{DeviceKeyPair, OpenError, Participant};
use phivault_telehealth_wasm::call::{self, CallCore};

const SID: &str = "tc_test";
const SUITE: u16 = 4;

fn device(name: &str, user: &str) -> (CallCore, Participant) {
    let keys = DeviceKeyPair::generate(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let p: Participant = serde_json::from_value(serde_json::json!({
        "device": name, "user": user, "public_key": keys.public_key(),
    }))
    .unwrap();
    (CallCore::new(keys, SID, name, SUITE).unwrap(), p)
}

fn packages(json: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(json).unwrap()
}

fn pkg(v: &serde_json::Value) -> phivault_telehealth::KeyPackage {
    call::parse_package(&v.to_string()).unwrap()
}

fn send(from: &mut CallCore, to: &mut CallCore, frame: &[u8]) -> Result<Vec<u8>, OpenError> {
    let sealed = from.seal(b"", frame).unwrap();
    assert!(!sealed.windows(frame.len()).any(|w| w == frame));
    to.open(b"", &sealed)
}

#[test]
fn call_lifecycle() {
    let (mut a, pa) = device("d_a", "dr-a");
    let (mut b, pb) = device("d_b", "pat");
    let (mut c, pc) = device("d_c", "dr-c");
    assert!(a.seal(b"", b"x").is_err(), "no keys, no frames");
    assert_eq!(packages(&a.start(vec![pa.clone()], 0).unwrap()).len(), 0);
    assert_eq!(a.epoch(), Some(0));

    // b joins: a admits (seals), b joins from the package with the roster a announces.
    let out = packages(&a.admit(vec![pb.clone()], true).unwrap());
    assert_eq!(out.len(), 1);
    let roster = call::parse_roster(&a.roster_json().unwrap()).unwrap();
    b.join(&pkg(&out[0]), roster, 0).unwrap();
    assert_eq!(b.epoch(), Some(1));
    assert_eq!(send(&mut a, &mut b, b"frame one").unwrap(), b"frame one");
    assert_eq!(send(&mut b, &mut a, b"frame two").unwrap(), b"frame two");

    // Replay is refused.
    let sealed = a.seal(b"", b"again").unwrap();
    assert!(b.open(b"", &sealed).is_ok());
    assert_eq!(b.open(b"", &sealed), Err(OpenError::Replayed));

    // c joins: a and b ratchet, only a seals.
    assert_eq!(
        packages(&b.admit(vec![pc.clone()], false).unwrap()).len(),
        0
    );
    let out = packages(&a.admit(vec![pc.clone()], true).unwrap());
    let roster = call::parse_roster(&a.roster_json().unwrap()).unwrap();
    c.join(&pkg(&out[0]), roster, 0).unwrap();
    assert_eq!(c.roster_devices(), ["d_a", "d_b", "d_c"]);
    assert_eq!(send(&mut c, &mut b, b"from c").unwrap(), b"from c");
    assert_eq!(send(&mut b, &mut c, b"from b").unwrap(), b"from b");

    // The sender ratchet: receivers follow from the KID.
    a.ratchet_sender().unwrap();
    assert_eq!(send(&mut a, &mut c, b"ratcheted").unwrap(), b"ratcheted");

    // Removing b: a starts epoch 3 for c only; b keeps epoch 2 and cannot open epoch 3.
    let out = packages(&a.remove_user("pat", 10).unwrap());
    assert_eq!(out.len(), 1);
    let roster = call::parse_roster(&a.roster_json().unwrap()).unwrap();
    c.accept(&pkg(&out[0]), Some(roster), 10).unwrap();
    assert_eq!((a.epoch(), c.epoch()), (Some(3), Some(3)));
    assert_eq!(
        send(&mut a, &mut c, b"epoch three").unwrap(),
        b"epoch three"
    );
    assert_eq!(
        send(&mut a, &mut b, b"epoch three"),
        Err(OpenError::UnknownKey)
    );
    assert_eq!(call::open_error_code(&OpenError::UnknownKey), "unknown_key");

    // The periodic rekey keeps the roster.
    assert!(!a.needs_rekey(10) && a.needs_rekey(10 + 600));
    let out = packages(&a.rekey(700).unwrap());
    c.accept(&pkg(&out[0]), None, 700).unwrap();
    assert_eq!(c.epoch(), Some(4));
    assert_eq!(send(&mut c, &mut a, b"epoch four").unwrap(), b"epoch four");

    // Safety numbers agree on both sides.
    let pk = |p: &Participant| p.public_key.to_base64url();
    assert_eq!(
        a.safety_number(&pk(&pc)).unwrap(),
        c.safety_number(&pk(&pa)).unwrap()
    );
    assert!(a.safety_number("not a key").is_err());
}

#[test]
fn roster_must_list_this_device_with_its_key() {
    let (mut a, _) = device("d_a", "dr-a");
    let (_, other) = device("d_x", "dr-x");
    assert!(a.start(vec![other.clone()], 0).is_err());
    let mut forged = other;
    forged.device = phivault_telehealth::DeviceId::new("d_a").unwrap();
    assert!(
        a.start(vec![forged], 0).is_err(),
        "another key for this device"
    );
    assert!(call::parse_roster("{}").is_err());
    assert!(CallCore::new(DeviceKeyPair::derive(&[7; 32]), SID, "d", 0x99).is_err());
}
