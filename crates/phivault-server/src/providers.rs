//! Opening the configured key provider (`key_provider` in `config.toml`),
//! with its secret from the environment or a file, never from the
//! configuration itself, and the KEK rotation schedule.

use std::path::Path;
use std::sync::Arc;

use phivault_keys::keyring::Keyring;
use phivault_keys::pkcs11::{Pkcs11Config, Pkcs11Provider};
use phivault_keys::router::Providers;
use phivault_keys::transit::{TransitConfig, TransitProvider};
use phivault_keys::{KeyProvider, Pin, SecretLoadError, VaultToken};

use crate::config::{Config, KeyProviderConfig};
use crate::datadir::DataDirError;

/// The PIN of the PKCS#11 token.
pub const PKCS11_PIN_ENV: &str = "PHIVAULT_PKCS11_PIN";
/// A file holding the PKCS#11 PIN.
pub const PKCS11_PIN_FILE_ENV: &str = "PHIVAULT_PKCS11_PIN_FILE";
/// The Vault token.
pub const VAULT_TOKEN_ENV: &str = "PHIVAULT_VAULT_TOKEN";
/// A file holding the Vault token.
pub const VAULT_TOKEN_FILE_ENV: &str = "PHIVAULT_VAULT_TOKEN_FILE";

/// The provider's secret from `env` or the file named by `file_env`, then
/// `fallback_env`; an error naming both when none is set.
fn secret<T>(
    env: &str,
    file_env: &str,
    fallback_env: Option<&str>,
    from_env: impl Fn(&str) -> Result<Option<T>, SecretLoadError> + Copy,
    from_file: impl Fn(&Path) -> Result<T, SecretLoadError>,
) -> Result<T, DataDirError> {
    if let Some(v) = crate::datadir::secret(env, file_env, from_env, from_file)? {
        return Ok(v);
    }
    if let Some(fb) = fallback_env
        && let Some(v) = from_env(fb).map_err(|e| DataDirError::Config(e.to_string()))?
    {
        return Ok(v);
    }
    Err(DataDirError::Config(format!(
        "the key provider needs a secret: set `{env}` or `{file_env}`"
    )))
}

/// Opens the provider `config` names, beside the local keyring (which
/// keeps the blind-index root and unwraps DEKs written before a switch).
pub async fn open(config: &Config, keyring: Arc<Keyring>) -> Result<Providers, DataDirError> {
    let provider = |e: String| DataDirError::Config(format!("key provider: {e}"));
    let primary: Arc<dyn KeyProvider> = match &config.key_provider {
        KeyProviderConfig::Keyring => return Ok(Providers::keyring_only(keyring)),
        KeyProviderConfig::Pkcs11 {
            module,
            token,
            key_label,
        } => {
            let pin = secret(
                PKCS11_PIN_ENV,
                PKCS11_PIN_FILE_ENV,
                None,
                Pin::from_env,
                Pin::from_file,
            )?;
            let mut c = Pkcs11Config::new(module.clone(), token.clone(), pin);
            c.key_label = key_label.clone();
            c.create_if_missing = true;
            Arc::new(
                Pkcs11Provider::connect(c, jiff::Timestamp::now())
                    .await
                    .map_err(|e| provider(e.to_string()))?,
            )
        }
        KeyProviderConfig::VaultTransit {
            addr,
            mount,
            key,
            ca_cert,
            namespace,
        } => {
            let token = secret(
                VAULT_TOKEN_ENV,
                VAULT_TOKEN_FILE_ENV,
                Some("VAULT_TOKEN"),
                VaultToken::from_env,
                VaultToken::from_file,
            )?;
            let mut c = TransitConfig::new(addr.clone(), token);
            c.mount = mount.clone();
            c.key = key.clone();
            c.namespace = namespace.clone();
            if let Some(ca) = ca_cert {
                c.ca_pem = Some(std::fs::read(ca).map_err(|e| DataDirError::Io(ca.clone(), e))?);
            }
            Arc::new(
                TransitProvider::connect(c)
                    .await
                    .map_err(|e| provider(e.to_string()))?,
            )
        }
    };
    Ok(Providers::new(primary, keyring))
}

/// The age in whole days of the current KEK, when the provider records
/// when it was created.
pub async fn current_age_days(keys: &dyn KeyProvider, now: jiff::Timestamp) -> Option<i64> {
    let current = keys.current().version;
    let versions = keys.versions().await.ok()?;
    let created = versions.iter().find(|v| v.version == current)?.created_at?;
    Some(now.duration_since(created).as_secs() / 86_400)
}
