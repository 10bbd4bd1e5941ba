//! # phivault-telehealth
//!
//! The cryptographic core of phivault's telehealth end-to-end encryption: media frames are
//! encrypted on the sending device and decrypted on the receiving devices; the media server (SFU)
//! and the signalling server only ever relay ciphertext. No I/O, no clock, no async runtime: the
//! crate builds for wasm32 as far as its dependencies go (all pure Rust, see the README).
//!
//! - [`frame`]: SFrame, RFC 9605. Header encoding (§4.3, [`header`]), key derivation (§4.4.2),
//!   encryption and decryption (§4.4.3, §4.4.4), the AES-GCM and AES-CTR-HMAC suites (§4.5,
//!   [`suite`]), the sender-key ratchet with the KID split into key index and generation (§5.1),
//!   and a replay window per KID ([`replay`]; §9.3 leaves replay protection to the application).
//! - [`package`]: epoch secrets sealed per device with HPKE, RFC 9180 base mode (§5.1.1),
//!   DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, with `info` and `aad` binding session
//!   id, epoch, sender device and recipient device.
//! - [`session`]: the epoch state machine: fresh secret on every leave and every
//!   [`session::REKEY_INTERVAL_SECS`], ratchet on join, per-sender SFrame base keys and KIDs.
//!
//! Known-answer tests run the RFC 9605 Appendix C vectors and RFC 9180 Appendix A.1.1 vectors
//! (checked in under `tests/vectors/`). Why this crate composes RustCrypto primitives itself
//! rather than using the `sframe` crate or aws-lc-rs is explained in the crate's `README.md`.

pub mod error;
pub mod frame;
pub mod header;
pub mod ids;
#[doc(hidden)]
pub mod kat;
pub mod keys;
pub mod package;
pub mod replay;
pub mod session;
pub mod suite;

pub use error::{
    HeaderError, KeyError, OpenError, PackageOpenError, PackageSealError, RatchetError, SealError,
    SessionError,
};
pub use frame::{OpenedFrame, SframeReceiver, SframeSender};
pub use header::Header;
pub use ids::{DeviceId, SessionId, UserId};
pub use keys::{DeviceKeyPair, EpochSecret, PublicKey, safety_number};
pub use package::KeyPackage;
pub use session::{Participant, Session};
pub use suite::CipherSuite;
