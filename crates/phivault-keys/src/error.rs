//! Errors of the rotation operations, one enum per operation. None of them
//! carries key material, PINs, passphrases or tokens.

use phivault_core::envelope::{UnwrapError, WrapError};

/// What kind of failure a provider reported, for callers that classify
/// (retry on `Unavailable`, alert on `Denied`) without matching strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// The HSM, Vault or file system could not be reached or failed.
    Unavailable,
    /// Authentication or authorization was refused.
    Denied,
    /// The provider refused the request as invalid.
    Rejected,
    /// The provider answered something this build does not understand.
    Protocol,
}

impl std::fmt::Display for ProviderErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unavailable => "key provider unavailable",
            Self::Denied => "key provider denied access",
            Self::Rejected => "key provider rejected the request",
            Self::Protocol => "key provider answered unexpectedly",
        })
    }
}

/// A provider failure: a kind plus a scrubbed detail (never a secret).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct ProviderError {
    kind: ProviderErrorKind,
    detail: String,
}

impl ProviderError {
    pub(crate) fn new(kind: ProviderErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// The failure kind.
    pub fn kind(&self) -> ProviderErrorKind {
        self.kind
    }
}

/// Listing KEK versions failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VersionsError {
    /// The provider failed.
    #[error("listing key-encryption key versions failed: {0}")]
    Provider(#[from] ProviderError),
}

/// Rotating the KEK failed; the current version is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// This provider cannot rotate.
    #[error("this key provider does not support rotation")]
    Unsupported,
    /// The provider failed.
    #[error("rotating the key-encryption key failed: {0}")]
    Provider(#[from] ProviderError),
}

/// Re-wrapping a data key failed; the stored wrapped DEK is still valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewrapError {
    /// The old wrapping did not unwrap.
    #[error("rewrap: {0}")]
    Unwrap(#[from] UnwrapError),
    /// Wrapping under the current version failed.
    #[error("rewrap: {0}")]
    Wrap(#[from] WrapError),
}

/// Retiring KEK versions failed; nothing was removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetireError {
    /// This provider cannot retire versions.
    #[error("this key provider does not support retiring key versions")]
    Unsupported,
    /// The request would remove the current version.
    #[error("cannot retire versions below {requested}: the current version is {current}")]
    WouldRemoveCurrent {
        /// The version asked for.
        requested: u32,
        /// The current version.
        current: u32,
    },
    /// The provider failed.
    #[error("retiring key-encryption key versions failed: {0}")]
    Provider(#[from] ProviderError),
}
