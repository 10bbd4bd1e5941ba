//! One error enum per operation (STYLE.md). Messages are lowercase, name the field, never the
//! value. Authentication failures are a single opaque variant (no decryption oracle).

use thiserror::Error;

/// The AEAD refused; carries nothing on purpose.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CryptoError;

/// Parsing an SFrame header.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The input ends inside the header.
    #[error("frame header is truncated")]
    Truncated,
}

/// Installing SFrame base key material.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A base key must not be empty.
    #[error("base key is empty")]
    EmptyBaseKey,
    /// The key index does not fit in the KID next to the generation bits.
    #[error("key index is too large for the kid layout")]
    KeyIndexTooLarge,
    /// Should not happen: a derived length did not match the cipher.
    #[error("internal key setup error")]
    Internal,
}

/// Advancing the sender-key ratchet (RFC 9605 §5.1).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RatchetError {
    /// All generations of this key index are used; start a new epoch.
    #[error("ratchet generation is exhausted")]
    GenerationExhausted,
    /// Deriving the next key failed.
    #[error("ratchet key setup failed: {0}")]
    Key(#[from] KeyError),
}

/// Sealing one frame.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The 64-bit frame counter would repeat; rekey before sending more.
    #[error("frame counter is exhausted")]
    CounterExhausted,
    /// The AEAD refused the input (too long).
    #[error("frame encryption failed")]
    Encrypt,
}

/// Opening one frame.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The header could not be parsed.
    #[error("malformed frame: {0}")]
    Header(#[from] HeaderError),
    /// No key is installed for the frame's key index (other epoch, removed sender, unknown).
    #[error("no key for the frame's `kid`")]
    UnknownKey,
    /// The frame uses a generation older than the installed one; that key was erased (§5.1).
    #[error("frame uses an erased ratchet generation")]
    StaleGeneration,
    /// The frame's generation is further ahead than the receiver will ratchet in one step.
    #[error("frame generation is too far ahead")]
    GenerationTooFarAhead,
    /// This counter was already accepted for this KID.
    #[error("frame counter was already seen")]
    Replayed,
    /// The counter is behind the replay window.
    #[error("frame counter is outside the replay window")]
    TooOld,
    /// Authentication failed (wrong key, tampered frame or metadata, truncated tag).
    #[error("frame authentication failed")]
    Decrypt,
}

/// Sealing an epoch secret into a key package.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackageSealError {
    /// HPKE encapsulation or sealing failed (for example, a low-order public key).
    #[error("key package sealing failed")]
    Hpke,
}

/// Opening a key package.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackageOpenError {
    /// The package names another session.
    #[error("key package is for another `session_id`")]
    WrongSession,
    /// The package names another recipient device.
    #[error("key package is for another `recipient_device`")]
    WrongRecipient,
    /// The package is for another epoch than the one expected.
    #[error("key package is for another `epoch`")]
    WrongEpoch,
    /// The sender is not a participant of the session.
    #[error("key package `sender_device` is not a participant")]
    UnknownSender,
    /// HPKE decapsulation or authentication failed; one variant, no oracle.
    #[error("key package authentication failed")]
    Decrypt,
}

/// Changing the session's participants or epoch.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// Identifier empty or longer than 255 bytes.
    #[error("identifier `{0}` must be 1 to 255 bytes")]
    InvalidId(&'static str),
    /// The device is already a participant.
    #[error("device is already a participant")]
    AlreadyJoined,
    /// The user or device is not a participant.
    #[error("not a participant")]
    NotParticipant,
    /// This device would no longer be in the session.
    #[error("the local device cannot be removed from its own session")]
    RemovesSelf,
    /// More participants than sender indices (65,536).
    #[error("too many participants")]
    TooManyParticipants,
    /// The epoch counter would wrap.
    #[error("epoch counter is exhausted")]
    EpochExhausted,
    /// Sealing a package for a participant failed.
    #[error("sealing a key package failed: {0}")]
    Seal(#[from] PackageSealError),
    /// Opening the package failed.
    #[error("opening a key package failed: {0}")]
    Open(#[from] PackageOpenError),
    /// Setting up SFrame keys failed.
    #[error("sframe key setup failed: {0}")]
    Key(#[from] KeyError),
}
