//! Identifiers bound into key packages and KIDs. They are not secret (the signalling server
//! knows who is in a call), so they derive `Debug` and `Serialize`.

use serde::{Deserialize, Serialize};

use crate::error::SessionError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks that the identifier is 1 to 255 bytes.
            ///
            /// # Errors
            /// [`SessionError::InvalidId`] otherwise.
            pub fn new(id: impl Into<String>) -> Result<Self, SessionError> {
                let id = id.into();
                if id.is_empty() || id.len() > 255 {
                    return Err(SessionError::InvalidId($field));
                }
                Ok(Self(id))
            }

            /// The identifier text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = SessionError;
            fn try_from(id: String) -> Result<Self, SessionError> {
                Self::new(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A telehealth session (one call).
    SessionId,
    "session_id"
);
id_type!(
    /// A participant device; one user may join from several.
    DeviceId,
    "device_id"
);
id_type!(
    /// A participant (clinician, patient, interpreter).
    UserId,
    "user_id"
);

/// Appends `id` with a one-byte length prefix (ids are at most 255 bytes), so concatenated
/// fields cannot be re-split differently.
pub(crate) fn put_id(out: &mut Vec<u8>, id: &str) {
    // INVARIANT: ids are validated to 1..=255 bytes at construction.
    out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(id.as_bytes());
}
