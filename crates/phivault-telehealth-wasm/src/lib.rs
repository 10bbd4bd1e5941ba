//! # phivault-telehealth-wasm
//!
//! `phivault-telehealth` for the browser: the same SFrame (RFC 9605), HPKE key packages
//! (RFC 9180) and epoch state machine, compiled to `wasm32-unknown-unknown` and exposed to
//! JavaScript with wasm-bindgen. The telehealth page (`/telehealth/` of `phivault serve`) runs it
//! in the worker that holds its `RTCRtpScriptTransform`s, so epoch secrets, SFrame keys and the
//! device's private key live only in that worker's WebAssembly memory.
//!
//! - [`call`]: the device's side of a call (plain Rust, tested natively);
//! - [`bindings`]: the JavaScript classes `DeviceKeys`, `Call`, `Sender`, `Receiver` and the
//!   function `frameInfo`.
//!
//! Randomness comes from `crypto.getRandomValues` through getrandom 0.4's `wasm_js` backend.
//! `scripts/build-wasm` builds the module and its glue into
//! `crates/phivault-server/assets/telehealth/pkg/` (committed; `--check` rebuilds and compares).
//! No cryptography is written here: every operation is a `phivault-telehealth` call.

pub mod bindings;
pub mod call;
