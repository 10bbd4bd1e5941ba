//! Secret strings: passphrases, PINs, tokens. Zeroized on drop, never printed
//! (`Debug` shows only the type name), exposed by one method.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

/// Loading a secret from the environment or a file failed. Names the source,
/// never the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretLoadError {
    /// The environment variable is set but not valid UTF-8.
    #[error("environment variable `{0}` is not valid UTF-8")]
    NotUnicode(String),
    /// The file could not be read.
    #[error("secret file `{path}`: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("{0} is empty")]
    Empty(String),
}

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: String) -> Self {
                Self(Zeroizing::new(value))
            }

            /// The secret value. Call it only where the value is handed to
            /// the KDF, the token or the HTTP header.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Reads the secret from environment variable `var`: `Ok(None)`
            /// when unset; an empty value is an error.
            pub fn from_env(var: &str) -> Result<Option<Self>, SecretLoadError> {
                match std::env::var(var) {
                    Ok(v) if v.is_empty() => Err(SecretLoadError::Empty(format!("`{var}`"))),
                    Ok(v) => Ok(Some(Self::new(v))),
                    Err(std::env::VarError::NotPresent) => Ok(None),
                    Err(std::env::VarError::NotUnicode(_)) => {
                        Err(SecretLoadError::NotUnicode(var.to_owned()))
                    }
                }
            }

            /// Reads the secret from a file (e.g. a container secret); one
            /// trailing newline is removed.
            pub fn from_file(path: &Path) -> Result<Self, SecretLoadError> {
                let io = |source| SecretLoadError::Io { path: path.to_owned(), source };
                let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    io(std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"))
                })?;
                let text = text.strip_suffix('\n').unwrap_or(text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                if text.is_empty() {
                    return Err(SecretLoadError::Empty(format!("`{}`", path.display())));
                }
                Ok(Self::new(text.to_owned()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

secret_string!(
    /// The keyring passphrase (`PHIVAULT_KEYRING_PASSPHRASE` or a file).
    Passphrase
);
secret_string!(
    /// A PKCS#11 user PIN.
    Pin
);
secret_string!(
    /// A HashiCorp Vault token (sent as `X-Vault-Token`).
    VaultToken
);

impl Passphrase {
    /// The environment variable the CLI reads the passphrase from.
    pub const ENV: &'static str = "PHIVAULT_KEYRING_PASSPHRASE";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value_and_file_loader_trims() {
        let p = Passphrase::new("hunter2-correct-horse".into());
        assert_eq!(format!("{p:?}"), "Passphrase { .. }");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pass");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(Passphrase::from_file(&f).unwrap().expose_secret(), "s3cret");
        std::fs::write(&f, "\n").unwrap();
        let e = Passphrase::from_file(&f).unwrap_err().to_string();
        assert!(e.contains("is empty"), "{e}");
        assert!(
            Pin::from_env("PHIVAULT_TEST_UNSET_VARIABLE_X")
                .unwrap()
                .is_none()
        );
    }
}
