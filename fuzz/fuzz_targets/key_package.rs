//! HPKE key packages (`phivault_telehealth::KeyPackage`), relayed as JSON by
//! the untrusted signalling server.
//!
//! Asserts:
//! - a package that deserializes serializes to JSON that deserializes to
//!   the same package (ids validated on the way in, base64url canonical);
//! - opening it on a fixed device key, for its own session, recipient and
//!   epoch, with a fixed sender key, fails: it was not sealed by that
//!   sender for that device (HPKE auth mode), and never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phivault_telehealth::{DeviceKeyPair, KeyPackage};

fn keys() -> &'static (DeviceKeyPair, DeviceKeyPair) {
    static KEYS: OnceLock<(DeviceKeyPair, DeviceKeyPair)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            DeviceKeyPair::derive(b"phivault fuzz recipient device"),
            DeviceKeyPair::derive(b"phivault fuzz sender device"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(p) = serde_json::from_slice::<KeyPackage>(data) else {
        return;
    };
    let json = serde_json::to_vec(&p).expect("a package serializes");
    let again: KeyPackage = serde_json::from_slice(&json).expect("own JSON deserializes");
    assert_eq!(again, p);
    let (me, sender) = keys();
    assert!(
        p.open(
            me,
            &p.session_id,
            &p.recipient_device,
            p.epoch,
            sender.public_key()
        )
        .is_err()
    );
});
