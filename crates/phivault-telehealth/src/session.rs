//! The session key schedule: a pure state machine (no I/O, no clock: callers pass `now` as Unix
//! seconds and an RNG).
//!
//! Rules:
//! - every leave starts a new epoch with a fresh random secret, sealed to each remaining device;
//! - a fresh secret is due at least every [`REKEY_INTERVAL_SECS`] ([`Session::needs_rekey`]);
//! - a join ratchets the current epoch: `next = HKDF(current)`, so members derive it locally and
//!   the newcomer, who only receives `next`, cannot compute earlier epochs.
//!
//! Each epoch gives every device a sender index (its position in the roster sorted by device id)
//! and an SFrame base key `HKDF-Expand(HKDF-Extract("", epoch_secret), "phivault telehealth
//! sender" || epoch || index || suite, Nh)`. The SFrame key index is `epoch << 16 | index`, so a
//! KID names epoch, sender and (in its low bits, RFC 9605 §5.1) ratchet generation.

use std::collections::BTreeMap;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{KeyError, SessionError};
use crate::frame::{SframeReceiver, SframeSender, split_kid};
use crate::ids::{DeviceId, SessionId, UserId};
use crate::keys::{DeviceKeyPair, EPOCH_SECRET_LEN, EpochSecret, PublicKey};
use crate::package::KeyPackage;
use crate::suite::{CipherSuite, hkdf_expand};

/// A fresh random epoch secret is due after this many seconds.
pub const REKEY_INTERVAL_SECS: u64 = 600;

/// One device in the call, as published through signalling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The device.
    pub device: DeviceId,
    /// The user the device belongs to.
    pub user: UserId,
    /// The device's HPKE public key.
    pub public_key: PublicKey,
}

/// SFrame key index of `sender_index` in `epoch`.
#[must_use]
pub fn key_index(epoch: u32, sender_index: u16) -> u64 {
    (u64::from(epoch) << 16) | u64::from(sender_index)
}

/// `(epoch, sender_index)` named by a KID.
#[must_use]
pub fn kid_epoch_sender(kid: u64) -> (u64, u16) {
    let (index, _generation) = split_kid(kid);
    (index >> 16, (index & 0xffff) as u16)
}

/// One device's view of a session's keys.
pub struct Session {
    id: SessionId,
    me: DeviceId,
    suite: CipherSuite,
    epoch: u32,
    secret: EpochSecret,
    roster: BTreeMap<DeviceId, Participant>,
    /// When the current chain of epochs got its last fresh random secret.
    fresh_since: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("me", &self.me)
            .field("epoch", &self.epoch)
            .field("participants", &self.roster.len())
            .finish_non_exhaustive()
    }
}

fn roster_map(
    participants: impl IntoIterator<Item = Participant>,
) -> Result<BTreeMap<DeviceId, Participant>, SessionError> {
    let mut roster = BTreeMap::new();
    for p in participants {
        if roster.insert(p.device.clone(), p).is_some() {
            return Err(SessionError::AlreadyJoined);
        }
    }
    if roster.len() > usize::from(u16::MAX) + 1 {
        return Err(SessionError::TooManyParticipants);
    }
    Ok(roster)
}

impl Session {
    /// Starts a session on this device: epoch 0 with a fresh secret, only `me` in the roster.
    pub fn create(
        rng: &mut impl CryptoRng,
        id: SessionId,
        me: Participant,
        suite: CipherSuite,
        now: u64,
    ) -> Self {
        let device = me.device.clone();
        Self {
            id,
            me: device.clone(),
            suite,
            epoch: 0,
            secret: EpochSecret::generate(rng),
            roster: BTreeMap::from([(device, me)]),
            fresh_since: now,
        }
    }

    /// Joins the session `session_id` (the one this device asked to join) from the package
    /// sealed for this device.
    ///
    /// `roster` is the session's participant list after the join, from signalling; its sender
    /// must be in it. The joiner does not know when the secret was last fresh, so its rekey
    /// timer starts at `now`.
    ///
    /// # Errors
    /// [`SessionError`] if the package does not open or the roster is inconsistent.
    pub fn from_package(
        package: &KeyPackage,
        keys: &DeviceKeyPair,
        session_id: &SessionId,
        me: DeviceId,
        roster: Vec<Participant>,
        suite: CipherSuite,
        now: u64,
    ) -> Result<Self, SessionError> {
        let roster = roster_map(roster)?;
        if !roster.contains_key(&me) {
            return Err(SessionError::NotParticipant);
        }
        if !roster.contains_key(&package.sender_device) {
            return Err(crate::error::PackageOpenError::UnknownSender.into());
        }
        let sender_key = roster
            .get(&package.sender_device)
            .map(|p| p.public_key.clone())
            .ok_or(crate::error::PackageOpenError::UnknownSender)?;
        let secret = package.open(keys, session_id, &me, package.epoch, &sender_key)?;
        Ok(Self {
            id: session_id.clone(),
            me,
            suite,
            epoch: package.epoch,
            secret,
            roster,
            fresh_since: now,
        })
    }

    /// Current epoch number.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The session id.
    #[must_use]
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Participants in sender-index order.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.roster.values()
    }

    /// Whether the last fresh epoch secret is [`REKEY_INTERVAL_SECS`] old or older.
    #[must_use]
    pub fn needs_rekey(&self, now: u64) -> bool {
        now.saturating_sub(self.fresh_since) >= REKEY_INTERVAL_SECS
    }

    /// Sender index of `device` in the current epoch.
    #[must_use]
    pub fn sender_index(&self, device: &DeviceId) -> Option<u16> {
        let pos = self.roster.keys().position(|d| d == device)?;
        u16::try_from(pos).ok()
    }

    fn next_epoch(&self) -> Result<u32, SessionError> {
        self.epoch
            .checked_add(1)
            .ok_or(SessionError::EpochExhausted)
    }

    /// Adds `joining` devices and ratchets to the next epoch (every member calls this when
    /// signalling announces the join). The member that admits them then calls
    /// [`Self::seal_for`] so the newcomers get the ratcheted secret.
    ///
    /// # Errors
    /// [`SessionError::AlreadyJoined`], [`SessionError::TooManyParticipants`],
    /// [`SessionError::EpochExhausted`].
    pub fn apply_join(&mut self, joining: Vec<Participant>) -> Result<(), SessionError> {
        let mut roster = self.roster.clone();
        for p in joining {
            if roster.insert(p.device.clone(), p).is_some() {
                return Err(SessionError::AlreadyJoined);
            }
        }
        let roster = roster_map(roster.into_values())?;
        let next = self.next_epoch()?;
        let mut secret = Zeroizing::new([0u8; EPOCH_SECRET_LEN]);
        // Expand only fails for outputs over 255 * 32 bytes.
        let _infallible = Hkdf::<Sha256>::new(Some(&[]), self.secret.expose()).expand_multi_info(
            &[b"phivault telehealth join ratchet", &next.to_be_bytes()],
            secret.as_mut_slice(),
        );
        self.secret = EpochSecret(secret);
        self.epoch = next;
        self.roster = roster;
        Ok(())
    }

    /// Seals the current epoch secret for each listed device (e.g. the newcomers of a join).
    ///
    /// # Errors
    /// [`SessionError::NotParticipant`] for an unknown device, [`SessionError::Seal`].
    pub fn seal_for(
        &self,
        rng: &mut impl CryptoRng,
        keys: &DeviceKeyPair,
        devices: &[DeviceId],
    ) -> Result<Vec<KeyPackage>, SessionError> {
        devices
            .iter()
            .map(|d| {
                let p = self.roster.get(d).ok_or(SessionError::NotParticipant)?;
                Ok(KeyPackage::seal(
                    rng,
                    &self.id,
                    self.epoch,
                    &self.me,
                    keys,
                    &p.device,
                    &p.public_key,
                    &self.secret,
                )?)
            })
            .collect()
    }

    fn fresh_epoch(
        &mut self,
        rng: &mut impl CryptoRng,
        keys: &DeviceKeyPair,
        roster: BTreeMap<DeviceId, Participant>,
        now: u64,
    ) -> Result<Vec<KeyPackage>, SessionError> {
        self.epoch = self.next_epoch()?;
        self.secret = EpochSecret::generate(rng);
        self.roster = roster;
        self.fresh_since = now;
        let others: Vec<DeviceId> = self
            .roster
            .keys()
            .filter(|d| **d != self.me)
            .cloned()
            .collect();
        self.seal_for(rng, keys, &others)
    }

    /// Removes every device of `user`, then starts a fresh random epoch and returns its packages
    /// for the remaining devices. Removed devices get nothing.
    ///
    /// # Errors
    /// [`SessionError::NotParticipant`], [`SessionError::RemovesSelf`], sealing errors.
    pub fn remove_user(
        &mut self,
        rng: &mut impl CryptoRng,
        keys: &DeviceKeyPair,
        user: &UserId,
        now: u64,
    ) -> Result<Vec<KeyPackage>, SessionError> {
        let mut roster = self.roster.clone();
        roster.retain(|_, p| &p.user != user);
        if roster.len() == self.roster.len() {
            return Err(SessionError::NotParticipant);
        }
        if !roster.contains_key(&self.me) {
            return Err(SessionError::RemovesSelf);
        }
        self.fresh_epoch(rng, keys, roster, now)
    }

    /// Starts a fresh random epoch with the same participants (the periodic rekey).
    ///
    /// # Errors
    /// Sealing errors, [`SessionError::EpochExhausted`].
    pub fn rekey(
        &mut self,
        rng: &mut impl CryptoRng,
        keys: &DeviceKeyPair,
        now: u64,
    ) -> Result<Vec<KeyPackage>, SessionError> {
        let roster = self.roster.clone();
        self.fresh_epoch(rng, keys, roster, now)
    }

    /// Installs a fresh epoch announced by another member (after a leave or a rekey).
    ///
    /// `roster` is the participant list of the new epoch; the package's sender must be a current
    /// participant and the epoch must move forward.
    ///
    /// # Errors
    /// [`SessionError`] if the package does not open or does not fit this session.
    pub fn accept(
        &mut self,
        package: &KeyPackage,
        keys: &DeviceKeyPair,
        roster: Vec<Participant>,
        now: u64,
    ) -> Result<(), SessionError> {
        use crate::error::PackageOpenError;
        if package.epoch <= self.epoch {
            return Err(PackageOpenError::WrongEpoch.into());
        }
        let Some(sender) = self.roster.get(&package.sender_device) else {
            return Err(PackageOpenError::UnknownSender.into());
        };
        let sender_key = sender.public_key.clone();
        let roster = roster_map(roster)?;
        if !roster.contains_key(&self.me) {
            return Err(SessionError::NotParticipant);
        }
        let secret = package.open(keys, &self.id, &self.me, package.epoch, &sender_key)?;
        self.epoch = package.epoch;
        self.secret = secret;
        self.roster = roster;
        self.fresh_since = now;
        Ok(())
    }

    /// SFrame base key of `sender_index` in the current epoch.
    fn sender_base_key(&self, sender_index: u16) -> Zeroizing<Vec<u8>> {
        let mut key = Zeroizing::new(vec![0u8; self.suite.hash_len()]);
        hkdf_expand(
            self.suite,
            self.secret.expose(),
            &[
                b"phivault telehealth sender",
                &self.epoch.to_be_bytes(),
                &sender_index.to_be_bytes(),
                &self.suite.id().to_be_bytes(),
            ],
            &mut key,
        );
        key
    }

    /// This device's SFrame sender for the current epoch.
    ///
    /// # Errors
    /// [`SessionError::NotParticipant`] if this device left the roster, key setup errors.
    pub fn sframe_sender(&self) -> Result<SframeSender, SessionError> {
        let index = self
            .sender_index(&self.me)
            .ok_or(SessionError::NotParticipant)?;
        let key = self.sender_base_key(index);
        Ok(SframeSender::new(
            self.suite,
            key_index(self.epoch, index),
            &key,
        )?)
    }

    /// Installs the current epoch's keys of every other device into `receiver` and erases all
    /// keys of other epochs (frames still in flight under the old epoch are then refused).
    ///
    /// # Errors
    /// [`KeyError`] from key setup.
    pub fn install_receiver_keys(&self, receiver: &mut SframeReceiver) -> Result<(), KeyError> {
        let epoch = u64::from(self.epoch);
        receiver.retain_keys(|index| index >> 16 == epoch);
        for (pos, device) in self.roster.keys().enumerate() {
            let Ok(index) = u16::try_from(pos) else { break };
            if *device == self.me {
                continue;
            }
            let ki = key_index(self.epoch, index);
            // Re-installing would reset the replay window and the ratchet generation.
            if !receiver.has_key(ki) {
                receiver.add_key(ki, &self.sender_base_key(index))?;
            }
        }
        Ok(())
    }
}
