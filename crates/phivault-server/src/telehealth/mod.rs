//! Telehealth calls on the server side: who is in a call, their devices' public keys, the
//! sealed key packages waiting for each device, and the signalling hub.
//!
//! The server is a relay. It never holds key material: device keys are public X25519 keys,
//! key packages are HPKE ciphertexts (auth mode, see `phivault-telehealth`), and signalling
//! messages (SDP, ICE, epoch notices, demo frames) are forwarded as sent. What it enforces is
//! *membership*: only current participants register devices, send and fetch packages, or
//! signal; packages go only to devices of current participants; a removal drops the user's
//! devices and pending packages at once and tells the remaining devices to start a new epoch.
//!
//! **Storage: in memory, on purpose.** A call's state lives only as long as the call: it holds
//! public keys, ciphertexts and ids, and is worthless after the call ends (the devices hold
//! the secrets). Keeping it in memory means nothing about calls is ever written next to PHI,
//! and a restart simply ends every call (clients rejoin). The durable record of a call is the
//! audit trail (creation, joins, leaves, epochs). There is therefore no telehealth file for
//! `check_separation` to place; if calls are ever persisted, they get their own file under
//! `telehealth/` and that check must refuse a path inside the PHI database.

pub mod signal;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use phivault_telehealth::{DeviceId, KeyPackage, Participant, PublicKey, UserId};
use tokio::sync::broadcast;

pub use signal::Notice;

/// Largest number of devices per call (every device is in every other device's SFrame roster).
pub const MAX_DEVICES: usize = 32;
/// Largest number of clinicians per call.
pub const MAX_CLINICIANS: usize = 16;
/// Pending packages per device before the oldest are dropped (a device that never fetches).
const MAX_PENDING: usize = 64;

/// A refusal by the registry; the handlers map these to HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No such call, or the caller is not in it (the same answer, so ids cannot be probed).
    #[error("not a participant of this call")]
    NotParticipant,
    /// The call passed its `expires_at`.
    #[error("the call has expired")]
    Expired,
    /// A device or package names something outside the call.
    #[error("{0}")]
    Invalid(String),
    /// Too many devices.
    #[error("the call has reached {MAX_DEVICES} devices")]
    Full,
}

/// One registered device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Owner.
    pub user: String,
    /// HPKE public key.
    pub public_key: PublicKey,
}

/// One call.
#[derive(Debug)]
pub struct Call {
    /// Call id.
    pub id: String,
    /// The patient record the call is about (a record id, as in audit events).
    pub patient_id: String,
    /// The patient's own user, if they join as a user.
    pub patient_user: Option<String>,
    /// Clinician user ids; each one is re-checked by the decision point on every request.
    pub clinicians: BTreeSet<String>,
    /// Unix seconds after which the call is refused.
    pub expires_at: i64,
    /// Registered devices.
    pub devices: BTreeMap<String, Device>,
    /// Sealed packages waiting for each device.
    pending: HashMap<String, Vec<KeyPackage>>,
    /// Highest epoch announced through a key package.
    pub epoch: u32,
    announced: Option<u32>,
    /// After a removal, packages must be for an epoch at least this high.
    pub min_epoch: u32,
    hub: broadcast::Sender<Arc<Notice>>,
}

/// How the caller belongs to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Listed as a clinician: must also pass the decision point.
    Clinician,
    /// The call's patient user: admitted by the creator's decision.
    Patient,
}

impl Call {
    /// How `user` belongs to the call, if at all.
    pub fn membership(&self, user: &str) -> Option<Membership> {
        if self.clinicians.contains(user) {
            Some(Membership::Clinician)
        } else if self.patient_user.as_deref() == Some(user) {
            Some(Membership::Patient)
        } else {
            None
        }
    }

    /// The roster in `phivault-telehealth`'s form (devices of current participants).
    pub fn roster(&self) -> Vec<Participant> {
        self.devices
            .iter()
            .filter_map(|(d, dev)| {
                Some(Participant {
                    device: DeviceId::new(d.clone()).ok()?,
                    user: UserId::new(dev.user.clone()).ok()?,
                    public_key: dev.public_key.clone(),
                })
            })
            .collect()
    }

    /// The device that starts the next epoch after a removal: the smallest remaining device id
    /// (every client computes the same from the roster).
    pub fn rekey_by(&self) -> Option<String> {
        self.devices.keys().next().cloned()
    }

    /// Sends a notice to every connected device (sockets filter by `to`).
    pub fn notify(&self, n: Notice) {
        // No receivers is fine: nobody is connected yet.
        let _ = self.hub.send(Arc::new(n));
    }

    /// A receiver of this call's notices.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.hub.subscribe()
    }
}

/// Every live call, in memory (see the module documentation).
#[derive(Debug, Default)]
pub struct Registry {
    calls: Mutex<HashMap<String, Call>>,
    tap: Mutex<Option<Vec<Vec<u8>>>>,
}

/// What a new call needs.
#[derive(Debug)]
pub struct NewCall {
    /// The patient record.
    pub patient_id: String,
    /// The patient's user, if any.
    pub patient_user: Option<String>,
    /// Clinician user ids.
    pub clinicians: BTreeSet<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Call>> {
        // A poisoned lock only means a panic elsewhere; the map itself is consistent.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a call and returns its id.
    pub fn create(&self, new: NewCall) -> String {
        let id = format!("tc_{}", uuid::Uuid::new_v4().simple());
        let (hub, _) = broadcast::channel(256);
        let call = Call {
            id: id.clone(),
            patient_id: new.patient_id,
            patient_user: new.patient_user,
            clinicians: new.clinicians,
            expires_at: new.expires_at,
            devices: BTreeMap::new(),
            pending: HashMap::new(),
            epoch: 0,
            announced: None,
            min_epoch: 0,
            hub,
        };
        self.lock().insert(id.clone(), call);
        id
    }

    /// Runs `f` on the call if `user` is in it and it has not expired.
    pub fn with_member<T>(
        &self,
        call: &str,
        user: &str,
        now: i64,
        f: impl FnOnce(&mut Call, Membership) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let mut calls = self.lock();
        let c = calls.get_mut(call).ok_or(CallError::NotParticipant)?;
        let m = c.membership(user).ok_or(CallError::NotParticipant)?;
        if now >= c.expires_at {
            return Err(CallError::Expired);
        }
        f(c, m)
    }

    /// The patient record of a call (to ask the decision point about it), if the call exists.
    pub fn patient_of(&self, call: &str) -> Option<String> {
        self.lock().get(call).map(|c| c.patient_id.clone())
    }

    /// Sends a notice to the devices of a call (no-op for an unknown call).
    pub fn notify_call(&self, call: &str, n: Notice) {
        if let Some(c) = self.lock().get(call) {
            c.notify(n);
        }
    }

    /// Turns on the relay tap: from now on every byte string the server relays (key packages,
    /// signalling messages) is kept, so a demo or test can show it only ever saw ciphertext.
    pub fn enable_tap(&self) {
        *self.tap.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
    }

    /// What the tap saw.
    pub fn tapped(&self) -> Vec<Vec<u8>> {
        self.tap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    pub(crate) fn record_relayed(&self, bytes: &[u8]) {
        if let Some(t) = self.tap.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            t.push(bytes.to_vec());
        }
    }
}

/// Registers a device for `user`; returns its id.
pub fn register_device(
    c: &mut Call,
    user: &str,
    public_key: PublicKey,
) -> Result<String, CallError> {
    if c.devices.len() >= MAX_DEVICES {
        return Err(CallError::Full);
    }
    if c.devices.values().any(|d| d.public_key == public_key) {
        return Err(CallError::Invalid(
            "field `public_key` is already registered in this call".into(),
        ));
    }
    let id = format!("d_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    c.devices.insert(
        id.clone(),
        Device {
            user: user.to_owned(),
            public_key,
        },
    );
    Ok(id)
}

/// Checks and queues packages from `sender` (a device of `user`); returns the epochs that are
/// new for the call (to audit) and the recipients (to notify).
pub fn queue_packages(
    c: &mut Call,
    user: &str,
    sender: &str,
    packages: Vec<KeyPackage>,
) -> Result<(Option<u32>, BTreeSet<String>), CallError> {
    let bad = |m: &str| CallError::Invalid(m.to_owned());
    match c.devices.get(sender) {
        Some(d) if d.user == user => {}
        _ => {
            return Err(bad(
                "field `device` is not one of your devices in this call",
            ));
        }
    }
    if packages.is_empty() || packages.len() > MAX_DEVICES {
        return Err(bad("field `packages` must hold 1 to 32 packages"));
    }
    let mut recipients = BTreeSet::new();
    for p in &packages {
        if p.session_id.as_str() != c.id {
            return Err(bad("field `session_id` does not name this call"));
        }
        if p.sender_device.as_str() != sender {
            return Err(bad("field `sender_device` must be the sending device"));
        }
        if p.epoch < c.min_epoch {
            return Err(bad(
                "field `epoch` is older than the epoch required after a removal",
            ));
        }
        if !c.devices.contains_key(p.recipient_device.as_str()) {
            return Err(bad(
                "field `recipient_device` is not a device of a current participant",
            ));
        }
        recipients.insert(p.recipient_device.as_str().to_owned());
    }
    let top = packages.iter().map(|p| p.epoch).max().unwrap_or(0);
    let new_epoch = match c.announced {
        Some(e) if top <= e => None,
        _ => {
            c.announced = Some(top);
            c.epoch = top;
            Some(top)
        }
    };
    for p in packages {
        let q = c
            .pending
            .entry(p.recipient_device.as_str().to_owned())
            .or_default();
        q.push(p);
        if q.len() > MAX_PENDING {
            q.remove(0);
        }
    }
    Ok((new_epoch, recipients))
}

/// Takes the packages waiting for `device` (a device of `user`).
pub fn take_packages(c: &mut Call, user: &str, device: &str) -> Result<Vec<KeyPackage>, CallError> {
    match c.devices.get(device) {
        Some(d) if d.user == user => Ok(c.pending.remove(device).unwrap_or_default()),
        _ => Err(CallError::Invalid(
            "query parameter `device` is not one of your devices in this call".into(),
        )),
    }
}

/// Removes `user` and their devices; returns the removed device ids.
pub fn remove_user(c: &mut Call, user: &str) -> Result<Vec<String>, CallError> {
    if c.membership(user).is_none() {
        return Err(CallError::Invalid(
            "path segment `user` is not a participant of this call".into(),
        ));
    }
    c.clinicians.remove(user);
    if c.patient_user.as_deref() == Some(user) {
        c.patient_user = None;
    }
    let gone: Vec<String> = c
        .devices
        .iter()
        .filter(|(_, d)| d.user == user)
        .map(|(id, _)| id.clone())
        .collect();
    for d in &gone {
        c.devices.remove(d);
        c.pending.remove(d);
    }
    // Packages still queued were sealed by the removed devices or for an epoch they know.
    c.pending
        .values_mut()
        .for_each(|q| q.retain(|p| !gone.iter().any(|g| g == p.sender_device.as_str())));
    c.min_epoch = c.epoch.saturating_add(1);
    Ok(gone)
}
