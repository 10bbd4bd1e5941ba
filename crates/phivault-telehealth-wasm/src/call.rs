//! One device's side of a call, as the browser's worker holds it: the device key pair, the
//! [`Session`] key schedule, and the SFrame sender and receiver of the current epoch.
//!
//! Plain Rust (no `JsValue`), so it is tested natively; [`crate::bindings`] wraps it for
//! JavaScript. Everything crossing the boundary is public: participants and key packages as the
//! server's JSON, frames as bytes. Epoch secrets, SFrame keys and the device's private key never
//! leave this struct (and so never leave the worker's WebAssembly memory).

use phivault_telehealth::{
    CipherSuite, DeviceId, DeviceKeyPair, KeyPackage, OpenError, Participant, Session, SessionId,
    SframeReceiver, SframeSender, UserId,
};
use rand_core::UnwrapErr;

/// The platform RNG: `crypto.getRandomValues` in the browser (getrandom's `wasm_js` backend),
/// the OS elsewhere. A failing RNG panics inside `UnwrapErr`, which in wasm traps: there is no
/// safe way to go on without randomness.
pub(crate) fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// Why a call operation was refused; the text names fields, never values or key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallError {}

fn err(e: impl std::fmt::Display) -> CallError {
    CallError(e.to_string())
}

fn not_keyed() -> CallError {
    CallError("the call has no epoch keys yet".into())
}

/// Parses a participant list in the server's JSON form (`GET /v1/telehealth/sessions/{id}`
/// `roster`, or the `roster` of a `participant_removed` notice).
///
/// # Errors
/// [`CallError`] if the text is not a list of `{device, user, public_key}`.
pub fn parse_roster(json: &str) -> Result<Vec<Participant>, CallError> {
    serde_json::from_str(json)
        .map_err(|_| CallError("roster must be a list of {device, user, public_key}".into()))
}

/// Parses one key package in the server's JSON form.
///
/// # Errors
/// [`CallError`] if the text is not a key package.
pub fn parse_package(json: &str) -> Result<KeyPackage, CallError> {
    serde_json::from_str(json).map_err(|_| CallError("text is not a key package".into()))
}

fn packages_json(packages: &[KeyPackage]) -> Result<String, CallError> {
    serde_json::to_string(packages).map_err(err)
}

/// A short, stable code for an open failure (for counters; no detail an attacker could use
/// beyond what the header already shows).
#[must_use]
pub fn open_error_code(e: &OpenError) -> &'static str {
    match e {
        OpenError::Header(_) => "malformed",
        OpenError::UnknownKey => "unknown_key",
        OpenError::StaleGeneration => "stale_generation",
        OpenError::GenerationTooFarAhead => "generation_too_far_ahead",
        OpenError::Replayed => "replayed",
        OpenError::TooOld => "too_old",
        _ => "decrypt",
    }
}

/// One device's keys and SFrame contexts for one call.
pub struct CallCore {
    keys: DeviceKeyPair,
    id: SessionId,
    me: DeviceId,
    suite: CipherSuite,
    session: Option<Session>,
    sender: Option<SframeSender>,
    receiver: SframeReceiver,
    out: Vec<u8>,
}

impl std::fmt::Debug for CallCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCore")
            .field("id", &self.id)
            .field("me", &self.me)
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

impl CallCore {
    /// A call on device `device_id` (the id the server gave the key pair's registration).
    ///
    /// # Errors
    /// [`CallError`] for an invalid id or an unknown suite.
    pub fn new(
        keys: DeviceKeyPair,
        session_id: &str,
        device_id: &str,
        suite: u16,
    ) -> Result<Self, CallError> {
        let suite = CipherSuite::from_id(suite)
            .ok_or_else(|| CallError("field `suite` is not a supported SFrame suite".into()))?;
        Ok(Self {
            keys,
            id: SessionId::new(session_id).map_err(err)?,
            me: DeviceId::new(device_id).map_err(err)?,
            suite,
            session: None,
            sender: None,
            receiver: SframeReceiver::new(suite),
            out: Vec::new(),
        })
    }

    /// The current epoch, once keyed.
    #[must_use]
    pub fn epoch(&self) -> Option<u32> {
        self.session.as_ref().map(Session::epoch)
    }

    /// The device ids of the current epoch's roster, in sender-index order.
    #[must_use]
    pub fn roster_devices(&self) -> Vec<String> {
        self.session
            .iter()
            .flat_map(Session::participants)
            .map(|p| p.device.as_str().to_owned())
            .collect()
    }

    /// The current epoch's participants as JSON (to hand a newcomer the roster it joins).
    ///
    /// # Errors
    /// [`CallError`] before the call is keyed.
    pub fn roster_json(&self) -> Result<String, CallError> {
        let s = self.session.as_ref().ok_or_else(not_keyed)?;
        let list: Vec<&Participant> = s.participants().collect();
        serde_json::to_string(&list).map_err(err)
    }

    /// The KID this device seals under now.
    #[must_use]
    pub fn sender_kid(&self) -> Option<u64> {
        self.sender.as_ref().map(SframeSender::kid)
    }

    /// Rebuilds the SFrame sender and the receiver keys from the session (after every epoch
    /// change); keys of other epochs are erased from the receiver.
    fn refresh(&mut self) -> Result<(), CallError> {
        let s = self.session.as_ref().ok_or_else(not_keyed)?;
        self.sender = Some(s.sframe_sender().map_err(err)?);
        s.install_receiver_keys(&mut self.receiver).map_err(err)?;
        Ok(())
    }

    fn find_me(&self, roster: &[Participant]) -> Result<Participant, CallError> {
        let me = roster
            .iter()
            .find(|p| p.device == self.me)
            .cloned()
            .ok_or_else(|| CallError("roster does not list this device".into()))?;
        if &me.public_key != self.keys.public_key() {
            return Err(CallError(
                "roster lists another `public_key` for this device".into(),
            ));
        }
        Ok(me)
    }

    /// Starts the call's keys on this device (the first device in): a fresh epoch 0, then, if
    /// `roster` already lists others, a join ratchet with them; returns their key packages.
    ///
    /// # Errors
    /// [`CallError`] if already keyed, the roster does not list this device, or sealing fails.
    pub fn start(&mut self, roster: Vec<Participant>, now: u64) -> Result<String, CallError> {
        if self.session.is_some() {
            return Err(CallError("the call is already keyed".into()));
        }
        let me = self.find_me(&roster)?;
        let mut s = Session::create(&mut rng(), self.id.clone(), me, self.suite, now);
        let others: Vec<Participant> = roster.into_iter().filter(|p| p.device != self.me).collect();
        let ids: Vec<DeviceId> = others.iter().map(|p| p.device.clone()).collect();
        let packages = if others.is_empty() {
            Vec::new()
        } else {
            s.apply_join(others).map_err(err)?;
            s.seal_for(&mut rng(), &self.keys, &ids).map_err(err)?
        };
        self.session = Some(s);
        self.refresh()?;
        packages_json(&packages)
    }

    /// Joins from the package sealed for this device; `roster` is the epoch's roster as the
    /// admitting device announced it.
    ///
    /// # Errors
    /// [`CallError`] if the package does not open for this device and session.
    pub fn join(
        &mut self,
        package: &KeyPackage,
        roster: Vec<Participant>,
        now: u64,
    ) -> Result<(), CallError> {
        self.find_me(&roster)?;
        let s = Session::from_package(
            package,
            &self.keys,
            &self.id,
            self.me.clone(),
            roster,
            self.suite,
            now,
        )
        .map_err(err)?;
        self.session = Some(s);
        self.refresh()
    }

    /// Admits newcomers: ratchets to the next epoch with them in the roster (every member does
    /// this on `device_joined`); with `seal`, also returns their key packages (the admitting
    /// member only).
    ///
    /// # Errors
    /// [`CallError`] before the call is keyed or for a device already in it.
    pub fn admit(&mut self, joining: Vec<Participant>, seal: bool) -> Result<String, CallError> {
        let s = self.session.as_mut().ok_or_else(not_keyed)?;
        let ids: Vec<DeviceId> = joining.iter().map(|p| p.device.clone()).collect();
        s.apply_join(joining).map_err(err)?;
        let packages = if seal {
            s.seal_for(&mut rng(), &self.keys, &ids).map_err(err)?
        } else {
            Vec::new()
        };
        self.refresh()?;
        packages_json(&packages)
    }

    /// Installs a fresh epoch another member started (after a removal or a rekey). `roster`
    /// defaults to the current one (a rekey keeps the participants).
    ///
    /// # Errors
    /// [`CallError`] if the package does not open or is not for a newer epoch.
    pub fn accept(
        &mut self,
        package: &KeyPackage,
        roster: Option<Vec<Participant>>,
        now: u64,
    ) -> Result<(), CallError> {
        let s = self.session.as_mut().ok_or_else(not_keyed)?;
        let roster = roster.unwrap_or_else(|| s.participants().cloned().collect());
        s.accept(package, &self.keys, roster, now).map_err(err)?;
        self.refresh()
    }

    /// Removes every device of `user` and starts a fresh random epoch (the device the server's
    /// `rekey_by` names does this); returns the packages for the remaining devices.
    ///
    /// # Errors
    /// [`CallError`] before the call is keyed, for a user not in it, or for this device's user.
    pub fn remove_user(&mut self, user: &str, now: u64) -> Result<String, CallError> {
        let s = self.session.as_mut().ok_or_else(not_keyed)?;
        let user = UserId::new(user).map_err(err)?;
        let packages = s
            .remove_user(&mut rng(), &self.keys, &user, now)
            .map_err(err)?;
        self.refresh()?;
        packages_json(&packages)
    }

    /// Whether the periodic fresh epoch is due.
    #[must_use]
    pub fn needs_rekey(&self, now: u64) -> bool {
        self.session.as_ref().is_some_and(|s| s.needs_rekey(now))
    }

    /// Starts a fresh random epoch with the same participants; returns their packages.
    ///
    /// # Errors
    /// [`CallError`] before the call is keyed or if sealing fails.
    pub fn rekey(&mut self, now: u64) -> Result<String, CallError> {
        let s = self.session.as_mut().ok_or_else(not_keyed)?;
        let packages = s.rekey(&mut rng(), &self.keys, now).map_err(err)?;
        self.refresh()?;
        packages_json(&packages)
    }

    /// Ratchets this device's sender key one generation (RFC 9605 §5.1); receivers follow from
    /// the KID.
    ///
    /// # Errors
    /// [`CallError`] before the call is keyed or once the generations are used up.
    pub fn ratchet_sender(&mut self) -> Result<(), CallError> {
        self.sender
            .as_mut()
            .ok_or_else(not_keyed)?
            .ratchet()
            .map_err(err)
    }

    /// Seals one encoded media frame (`metadata` is authenticated, not sent).
    ///
    /// # Errors
    /// [`CallError`] before the call is keyed or when the counter is exhausted.
    pub fn seal(&mut self, metadata: &[u8], frame: &[u8]) -> Result<Vec<u8>, CallError> {
        let sender = self.sender.as_mut().ok_or_else(not_keyed)?;
        sender.seal(metadata, frame, &mut self.out).map_err(err)?;
        Ok(std::mem::take(&mut self.out))
    }

    /// Opens one SFrame frame from another device of the call.
    ///
    /// # Errors
    /// The [`OpenError`] (see [`open_error_code`]); the replay window only moves for frames
    /// that authenticate.
    pub fn open(&mut self, metadata: &[u8], frame: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.receiver.open(metadata, frame, &mut self.out)?;
        Ok(std::mem::take(&mut self.out))
    }

    /// The safety number of this device and `other` (a base64url public key).
    ///
    /// # Errors
    /// [`CallError`] if `other` is not a public key.
    pub fn safety_number(&self, other: &str) -> Result<String, CallError> {
        safety_number_with(&self.keys, other)
    }
}

/// The safety number of `keys` and `other` (a base64url public key).
///
/// # Errors
/// [`CallError`] if `other` is not a public key.
pub fn safety_number_with(keys: &DeviceKeyPair, other: &str) -> Result<String, CallError> {
    let other: phivault_telehealth::PublicKey =
        serde_json::from_value(serde_json::Value::String(other.to_owned()))
            .map_err(|_| CallError("field `public_key` is not an X25519 public key".into()))?;
    Ok(phivault_telehealth::safety_number(
        keys.public_key(),
        &other,
    ))
}
