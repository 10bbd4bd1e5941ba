//! The audit signing key: Ed25519, in `audit-key/` of the data directory,
//! apart from the PHI store and from the keyring that holds the KEK (a
//! different directory, a different key, a different purpose). The
//! verifier key is published beside it for auditors.

use std::path::{Path, PathBuf};

use phivault_audit::{Signer, VerifierKey};

use crate::datadir::{DataDirError, write_private};

const DIR: &str = "audit-key";
const PRIVATE: &str = "ed25519.pk8";
const PUBLIC: &str = "verifier.txt";

/// Where the verifier key (public) is written.
pub fn verifier_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR).join(PUBLIC)
}

fn bad(what: &str) -> DataDirError {
    DataDirError::Separation(format!("audit signing key: {what}"))
}

/// Loads the audit signing key, creating it (named `origin`) on first use.
pub fn load_or_create_signer(data_dir: &Path, origin: &str) -> Result<Signer, DataDirError> {
    let dir = data_dir.join(DIR);
    let private = dir.join(PRIVATE);
    let public = dir.join(PUBLIC);
    match std::fs::read(&private) {
        Ok(pk8) => {
            let pk8 = zeroize::Zeroizing::new(pk8);
            let text = std::fs::read_to_string(&public)
                .map_err(|e| DataDirError::Io(public.clone(), e))?;
            let vk = VerifierKey::parse(&text).map_err(|_| bad("verifier.txt is damaged"))?;
            let signer =
                Signer::from_pkcs8(vk.name(), &pk8).map_err(|_| bad("ed25519.pk8 is damaged"))?;
            if signer.verifier() != vk {
                return Err(bad("verifier.txt does not match the private key"));
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir).map_err(|e| DataDirError::Io(dir.clone(), e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| DataDirError::Io(dir.clone(), e))?;
            }
            let (signer, pk8) = Signer::generate(origin).map_err(|_| bad("cannot generate"))?;
            write_private(&private, &pk8)?;
            write_private(&public, format!("{}\n", signer.verifier()).as_bytes())?;
            Ok(signer)
        }
        Err(e) => Err(DataDirError::Io(private, e)),
    }
}
