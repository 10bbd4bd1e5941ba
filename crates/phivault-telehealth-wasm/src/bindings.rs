//! The JavaScript API (wasm-bindgen). Thin wrappers: every method converts its arguments and
//! calls [`crate::call`] or `phivault-telehealth`; errors become `Error` objects whose message
//! names a field or a failure code, never a value.

use phivault_telehealth::{
    CipherSuite, DeviceKeyPair, Header, SframeReceiver, SframeSender, frame::split_kid,
    session::kid_epoch_sender,
};
use wasm_bindgen::prelude::*;

use crate::call::{self, CallCore, open_error_code};

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn suite(id: u16) -> Result<CipherSuite, JsError> {
    CipherSuite::from_id(id).ok_or_else(|| JsError::new("`suite` is not a supported SFrame suite"))
}

/// A device's X25519 key pair for HPKE, generated from `crypto.getRandomValues`.
#[wasm_bindgen]
pub struct DeviceKeys {
    keys: DeviceKeyPair,
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKeys").finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl DeviceKeys {
    /// A fresh key pair (RFC 9180 §7.1.3 from 32 random bytes).
    #[wasm_bindgen(constructor)]
    pub fn generate() -> DeviceKeys {
        DeviceKeys {
            keys: DeviceKeyPair::generate(&mut call::rng()),
        }
    }

    /// The public key, unpadded base64url (what `POST …/devices` takes).
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> String {
        self.keys.public_key().to_base64url()
    }

    /// Four groups of five digits identifying the public key.
    pub fn fingerprint(&self) -> String {
        self.keys.public_key().fingerprint()
    }

    /// The safety number of this key and another device's base64url public key.
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, other: &str) -> Result<String, JsError> {
        call::safety_number_with(&self.keys, other).map_err(js)
    }
}

/// One device's keys for one call: the epoch state machine (HPKE key packages in and out) and
/// the SFrame sender and receiver of the current epoch. Secrets stay inside.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Call {
    core: CallCore,
}

#[wasm_bindgen]
impl Call {
    /// A call on device `device_id` with `keys` (consumed: the private key moves into the call).
    #[wasm_bindgen(constructor)]
    pub fn new(
        keys: DeviceKeys,
        session_id: &str,
        device_id: &str,
        suite: u16,
    ) -> Result<Call, JsError> {
        Ok(Call {
            core: CallCore::new(keys.keys, session_id, device_id, suite).map_err(js)?,
        })
    }

    /// The current epoch, or `undefined` before the call is keyed.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> Option<u32> {
        self.core.epoch()
    }

    /// The KID this device seals under, or `undefined` before the call is keyed.
    #[wasm_bindgen(getter, js_name = senderKid)]
    pub fn sender_kid(&self) -> Option<u64> {
        self.core.sender_kid()
    }

    /// Device ids of the current roster in sender-index order.
    #[wasm_bindgen(js_name = rosterDevices)]
    pub fn roster_devices(&self) -> Vec<String> {
        self.core.roster_devices()
    }

    /// The current roster as JSON participants.
    #[wasm_bindgen(js_name = rosterJson)]
    pub fn roster_json(&self) -> Result<String, JsError> {
        self.core.roster_json().map_err(js)
    }

    /// First device in: epoch 0, then a join ratchet with the others of `roster_json`; returns
    /// their key packages as JSON.
    pub fn start(&mut self, roster_json: &str, now: u64) -> Result<String, JsError> {
        let roster = call::parse_roster(roster_json).map_err(js)?;
        self.core.start(roster, now).map_err(js)
    }

    /// Joins from the key package sealed for this device and the epoch's roster.
    pub fn join(&mut self, package_json: &str, roster_json: &str, now: u64) -> Result<(), JsError> {
        let p = call::parse_package(package_json).map_err(js)?;
        let roster = call::parse_roster(roster_json).map_err(js)?;
        self.core.join(&p, roster, now).map_err(js)
    }

    /// Admits newcomers (join ratchet); with `seal`, returns their key packages as JSON.
    pub fn admit(&mut self, joining_json: &str, seal: bool) -> Result<String, JsError> {
        let joining = call::parse_roster(joining_json).map_err(js)?;
        self.core.admit(joining, seal).map_err(js)
    }

    /// Installs a fresh epoch from another member's package; `roster_json` is the new roster
    /// (after a removal) or `undefined` (a rekey).
    pub fn accept(
        &mut self,
        package_json: &str,
        roster_json: Option<String>,
        now: u64,
    ) -> Result<(), JsError> {
        let p = call::parse_package(package_json).map_err(js)?;
        let roster = roster_json
            .as_deref()
            .map(call::parse_roster)
            .transpose()
            .map_err(js)?;
        self.core.accept(&p, roster, now).map_err(js)
    }

    /// Removes `user`'s devices and starts a fresh epoch; returns the packages as JSON.
    #[wasm_bindgen(js_name = removeUser)]
    pub fn remove_user(&mut self, user: &str, now: u64) -> Result<String, JsError> {
        self.core.remove_user(user, now).map_err(js)
    }

    /// Whether the periodic fresh epoch is due at `now` (Unix seconds).
    #[wasm_bindgen(js_name = needsRekey)]
    pub fn needs_rekey(&self, now: u64) -> bool {
        self.core.needs_rekey(now)
    }

    /// A fresh epoch with the same participants; returns the packages as JSON.
    pub fn rekey(&mut self, now: u64) -> Result<String, JsError> {
        self.core.rekey(now).map_err(js)
    }

    /// Ratchets this device's sender key one generation (RFC 9605 §5.1).
    #[wasm_bindgen(js_name = ratchetSender)]
    pub fn ratchet_sender(&mut self) -> Result<(), JsError> {
        self.core.ratchet_sender().map_err(js)
    }

    /// Seals an encoded frame; returns `header || ciphertext || tag`.
    pub fn seal(&mut self, metadata: &[u8], frame: &[u8]) -> Result<Vec<u8>, JsError> {
        self.core.seal(metadata, frame).map_err(js)
    }

    /// Opens an SFrame frame; a refusal's message is one code (`unknown_key`, `decrypt`,
    /// `replayed`, `too_old`, `stale_generation`, `generation_too_far_ahead`, `malformed`).
    pub fn open(&mut self, metadata: &[u8], frame: &[u8]) -> Result<Vec<u8>, JsError> {
        self.core
            .open(metadata, frame)
            .map_err(|e| JsError::new(open_error_code(&e)))
    }

    /// The safety number of this device and another device's base64url public key.
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, other: &str) -> Result<String, JsError> {
        self.core.safety_number(other).map_err(js)
    }
}

/// What an SFrame header says (RFC 9605 §4.3), with the KID split as phivault lays it out.
#[wasm_bindgen]
#[derive(Debug, Clone, Copy)]
pub struct FrameInfo {
    /// The epoch the frame's key belongs to.
    pub epoch: u32,
    /// The sender's index in that epoch's roster.
    #[wasm_bindgen(js_name = senderIndex)]
    pub sender_index: u16,
    /// The sender's ratchet generation.
    pub generation: u32,
    /// Header length in bytes.
    #[wasm_bindgen(js_name = headerLen)]
    pub header_len: u32,
    /// The frame counter (a `Number`: exact up to 2^53 frames).
    pub ctr: f64,
}

/// Parses the SFrame header at the start of `frame` (no key needed: the header is public);
/// `undefined` if the bytes cannot be a header or the KID is not phivault-shaped.
#[wasm_bindgen(js_name = frameInfo)]
pub fn frame_info(frame: &[u8]) -> Option<FrameInfo> {
    let (h, len) = Header::parse(frame).ok()?;
    let (epoch, sender_index) = kid_epoch_sender(h.kid);
    let (_, generation) = split_kid(h.kid);
    Some(FrameInfo {
        epoch: u32::try_from(epoch).ok()?,
        sender_index,
        generation: u32::try_from(generation).ok()?,
        header_len: u32::try_from(len).ok()?,
        #[allow(clippy::cast_precision_loss, reason = "documented: exact below 2^53")]
        ctr: h.ctr as f64,
    })
}

/// An SFrame sender with an explicit base key (RFC 9605 §4.4), for interoperability tests;
/// the page uses [`Call`], whose keys never reach JavaScript.
#[wasm_bindgen]
pub struct Sender {
    inner: SframeSender,
    out: Vec<u8>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("kid", &self.inner.kid())
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl Sender {
    /// A sender for `key_index` at generation 0.
    #[wasm_bindgen(constructor)]
    pub fn new(suite_id: u16, key_index: u64, base_key: &[u8]) -> Result<Sender, JsError> {
        Ok(Sender {
            inner: SframeSender::new(suite(suite_id)?, key_index, base_key).map_err(js)?,
            out: Vec::new(),
        })
    }

    /// The current KID (`key_index << 8 | generation`).
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> u64 {
        self.inner.kid()
    }

    /// One ratchet step (§5.1).
    pub fn ratchet(&mut self) -> Result<(), JsError> {
        self.inner.ratchet().map_err(js)
    }

    /// Seals a frame.
    pub fn seal(&mut self, metadata: &[u8], frame: &[u8]) -> Result<Vec<u8>, JsError> {
        self.inner
            .seal(metadata, frame, &mut self.out)
            .map_err(js)?;
        Ok(std::mem::take(&mut self.out))
    }
}

/// An SFrame receiver with explicit base keys per key index, each with its replay window.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Receiver {
    inner: SframeReceiver,
    out: Vec<u8>,
}

#[wasm_bindgen]
impl Receiver {
    /// An empty receiver.
    #[wasm_bindgen(constructor)]
    pub fn new(suite_id: u16) -> Result<Receiver, JsError> {
        Ok(Receiver {
            inner: SframeReceiver::new(suite(suite_id)?),
            out: Vec::new(),
        })
    }

    /// Installs the generation-0 base key of `key_index`.
    #[wasm_bindgen(js_name = addKey)]
    pub fn add_key(&mut self, key_index: u64, base_key: &[u8]) -> Result<(), JsError> {
        self.inner.add_key(key_index, base_key).map_err(js)
    }

    /// Erases the key of `key_index`.
    #[wasm_bindgen(js_name = removeKey)]
    pub fn remove_key(&mut self, key_index: u64) -> bool {
        self.inner.remove_key(key_index)
    }

    /// Opens a frame; errors carry the failure code as in [`Call::open`].
    pub fn open(&mut self, metadata: &[u8], frame: &[u8]) -> Result<Vec<u8>, JsError> {
        self.inner
            .open(metadata, frame, &mut self.out)
            .map_err(|e| JsError::new(open_error_code(&e)))?;
        Ok(std::mem::take(&mut self.out))
    }
}
