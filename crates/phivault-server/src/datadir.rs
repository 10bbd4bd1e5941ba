//! The data directory: layout, first-run initialization, and opening a vault.
//!
//! ```text
//! phivault-data/            mode 0700
//!   config.toml             optional settings
//!   schema.toml             collection definitions
//!   phivault.db             SQLite store (sealed PHI; no keys)
//!   keys/keyring.json       KEKs and the blind-index root key, mode 0600
//!   tls/cert.pem, key.pem   self-signed certificate (key mode 0600)
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use phivault_core::schema::Schema;
use phivault_core::token;
use phivault_keys::keyring::{Keyring, KeyringError};
use phivault_store::{Store, StoreError, TokenKind, TokenRow};
use zeroize::Zeroizing;

use crate::clock::{Clock, micros};
use crate::config::Config;
use crate::vault::Vault;

/// Data-directory failures. Paths and causes, never secrets.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file or directory could not be created or read.
    #[error("`{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    /// `schema.toml` is invalid.
    #[error("`{0}`: {1}")]
    Schema(PathBuf, phivault_core::schema::SchemaError),
    /// The keyring could not be opened or created.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The store could not be opened.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// TLS material could not be generated.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Key material would live inside the PHI store.
    #[error("refusing to start: {0}")]
    Separation(String),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The audit trail cannot be opened (or does not match its checkpoints).
    #[error("audit trail: {0}")]
    Audit(String),
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |e| DataDirError::Io(path.to_owned(), e)
}

/// Writes a file readable by the owner only, atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), DataDirError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    f.write_all(contents).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), DataDirError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

/// What `init` produced, to show the operator once.
#[derive(Debug)]
pub struct InitReport {
    /// TLS certificate fingerprint (SHA-256).
    pub fingerprint: String,
}

/// True when the data directory has a keyring (has been initialized).
pub fn is_initialized(data_dir: &Path) -> bool {
    data_dir
        .join("keys")
        .join(phivault_keys::keyring::FILE_NAME)
        .exists()
}

/// Creates the layout: schema, keyring, TLS certificate. Leaves existing
/// schema and certificate files alone.
pub fn init(data_dir: &Path, now_rfc3339: &str) -> Result<InitReport, DataDirError> {
    create_private_dir(data_dir)?;
    let schema = data_dir.join("schema.toml");
    if !schema.exists() {
        write_private(&schema, Schema::default_toml().as_bytes())?;
    }
    create_private_dir(&data_dir.join("keys"))?;
    match keyring_passphrase()? {
        Some(p) => {
            Keyring::create_protected(
                &data_dir.join("keys"),
                now_rfc3339,
                &p,
                phivault_keys::keyring::KdfParams::DEFAULT,
            )?;
        }
        None => {
            Keyring::create(&data_dir.join("keys"), now_rfc3339)?;
        }
    }
    let cert = data_dir.join("tls/cert.pem");
    let fingerprint = if cert.exists() {
        cert_fingerprint(&cert)?
    } else {
        let g = crate::tls::generate_self_signed()?;
        create_private_dir(&data_dir.join("tls"))?;
        write_private(&data_dir.join("tls/key.pem"), g.key_pem.as_bytes())?;
        write_private(&cert, g.cert_pem.as_bytes())?;
        g.fingerprint
    };
    Ok(InitReport { fingerprint })
}

/// The fingerprint of the first certificate in a PEM file.
pub fn cert_fingerprint(path: &Path) -> Result<String, DataDirError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(path)
        .map_err(|_| DataDirError::Tls(crate::tls::TlsError::Load(path.display().to_string())))?;
    Ok(crate::tls::fingerprint(&der))
}

/// Refuses a configuration whose key material would sit inside the PHI
/// store: the keyring or the audit signing key being (or lying under) the
/// SQLite file, or a keyring in the database's directory outside `keys/`
/// (a copy of that directory would then carry keys and PHI together).
pub fn check_separation(config: &Config, keyring: &Path) -> Result<(), DataDirError> {
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let key = canon(keyring);
    if config.database.is_none() {
        let db = canon(&config.sqlite_path());
        if key == db || key.starts_with(&db) {
            return Err(DataDirError::Separation(
                "the keyring path is the SQLite PHI database; keep keys apart from PHI".into(),
            ));
        }
        if let Some(db_dir) = db.parent()
            && key.starts_with(db_dir)
            && !key.starts_with(db_dir.join("keys"))
        {
            return Err(DataDirError::Separation(
                "the keyring lies beside the SQLite PHI database outside `keys/`".into(),
            ));
        }
        let signer = canon(&config.data_dir.join("audit-key"));
        if signer == db || signer.starts_with(&db) {
            return Err(DataDirError::Separation(
                "the audit signing key directory is the SQLite PHI database".into(),
            ));
        }
    }
    Ok(())
}

/// On PostgreSQL, refuses key material inside the database server's own
/// data files: the keyring or the audit signing key under the server's
/// `data_directory` (when this role may read that setting; a remote
/// server's directory cannot hold a local path anyway).
pub async fn check_store_separation(
    config: &Config,
    store: &Arc<dyn Store>,
    keyring: &Path,
) -> Result<(), DataDirError> {
    let Some(data_dir) = store.server_data_directory().await? else {
        return Ok(());
    };
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let pg = canon(Path::new(&data_dir));
    for (what, p) in [
        ("the keyring", canon(keyring)),
        (
            "the audit signing key",
            canon(&config.data_dir.join("audit-key")),
        ),
    ] {
        if p.starts_with(&pg) {
            return Err(DataDirError::Separation(format!(
                "{what} lies inside the PostgreSQL data directory; keep keys apart from PHI"
            )));
        }
    }
    Ok(())
}

/// Opens the vault described by `config`.
pub async fn open(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<(Vault, Arc<Keyring>), DataDirError> {
    open_as(config, clock, true).await
}

/// Opens the vault for a tool that runs beside the server (`policy explain`,
/// `access review`): the audit log is opened read-only (the server stays its
/// only writer, so anything that would record an event fails closed) and
/// nothing is streamed.
pub async fn open_beside_server(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<(Vault, Arc<Keyring>), DataDirError> {
    open_as(config, clock, false).await
}

async fn open_as(
    config: &Config,
    clock: Arc<dyn Clock>,
    writable_audit: bool,
) -> Result<(Vault, Arc<Keyring>), DataDirError> {
    let schema_path = config.data_dir.join("schema.toml");
    let text = fs::read_to_string(&schema_path).map_err(io(&schema_path))?;
    let schema =
        Schema::from_toml(&text).map_err(|e| DataDirError::Schema(schema_path.clone(), e))?;
    // Opened once: a protected keyring costs an argon2id derivation.
    let keyring = Arc::new(open_keyring(&config.data_dir.join("keys"))?);
    check_separation(config, keyring.path())?;
    let store = phivault_store::open(&config.store_location()).await?;
    check_store_separation(config, &store, keyring.path()).await?;
    let provider = Arc::new(crate::providers::open(config, Arc::clone(&keyring)).await?);
    let keys: Arc<dyn phivault_keys::KeyProvider> = provider.clone();
    let audit = open_audit(config, &store, writable_audit).await?;
    if writable_audit {
        spawn_key_watch(config.data_dir.clone(), &provider, &audit).await?;
        if config.auto_rotate {
            crate::rekey::spawn_schedule(
                Arc::clone(&store),
                keys.clone(),
                Arc::clone(&audit),
                config.key_rotation_days,
            );
        }
    }
    let vault = Vault::new(schema, store, keys, keyring.index_root(), clock, audit)
        .with_index_keyring(Arc::clone(&keyring));
    Ok((vault, keyring))
}

/// Opens the keyring, with the passphrase from `PHIVAULT_KEYRING_PASSPHRASE`
/// or the file named by `PHIVAULT_KEYRING_PASSPHRASE_FILE` when set.
pub fn open_keyring(dir: &Path) -> Result<Keyring, DataDirError> {
    Ok(Keyring::open_with(dir, keyring_passphrase()?.as_ref())?)
}

/// The keyring passphrase from `PHIVAULT_KEYRING_PASSPHRASE` or the file
/// named by `PHIVAULT_KEYRING_PASSPHRASE_FILE`, when set.
pub fn keyring_passphrase() -> Result<Option<phivault_keys::Passphrase>, DataDirError> {
    secret_from("PHIVAULT_KEYRING_PASSPHRASE")
}

/// A passphrase from the variable `var` or the file named by `{var}_FILE`.
pub fn secret_from(var: &str) -> Result<Option<phivault_keys::Passphrase>, DataDirError> {
    use phivault_keys::Passphrase;
    secret(
        var,
        &format!("{var}_FILE"),
        Passphrase::from_env,
        Passphrase::from_file,
    )
}

/// A secret from the variable `env`, else from the file named by the
/// variable `file_env`; `None` when neither is set.
pub fn secret<T>(
    env: &str,
    file_env: &str,
    from_env: impl Fn(&str) -> Result<Option<T>, phivault_keys::SecretLoadError>,
    from_file: impl Fn(&Path) -> Result<T, phivault_keys::SecretLoadError>,
) -> Result<Option<T>, DataDirError> {
    let bad = |e: phivault_keys::SecretLoadError| DataDirError::Config(e.to_string());
    if let Some(v) = from_env(env).map_err(bad)? {
        return Ok(Some(v));
    }
    match std::env::var_os(file_env) {
        Some(f) => Ok(Some(from_file(Path::new(&f)).map_err(bad)?)),
        None => Ok(None),
    }
}

/// Drains the audit outbox now, then every 30 s re-reads the KEK versions
/// (so new writes use a version `phivault keys rotate` added) and drains
/// again.
async fn spawn_key_watch(
    data_dir: PathBuf,
    keyring: &Arc<phivault_keys::router::Providers>,
    audit: &Arc<crate::audit::AuditLog>,
) -> Result<(), DataDirError> {
    use crate::audit::outbox;
    outbox::drain(&data_dir, audit)
        .await
        .map_err(|e| DataDirError::Audit(e.to_string()))?;
    let (keyring, audit) = (Arc::downgrade(keyring), Arc::downgrade(audit));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(outbox::DRAIN_PERIOD);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (Some(k), Some(a)) = (keyring.upgrade(), audit.upgrade()) else {
                return;
            };
            if let Err(e) = phivault_keys::KeyProvider::refresh(k.as_ref()).await {
                tracing::error!(error = %e, "key provider: periodic refresh failed");
            }
            if let Err(e) = outbox::drain(&data_dir, &a).await {
                tracing::error!(error = %e, "audit outbox: drain failed");
            }
        }
    });
    Ok(())
}

/// The audit store beside `store`: the same PostgreSQL database, or segment
/// files under `audit/` for the embedded default.
pub fn audit_store(
    config: &Config,
    store: &Arc<dyn Store>,
    writable: bool,
) -> Result<Arc<dyn phivault_store::audit::AuditStore>, DataDirError> {
    match store.audit_store() {
        Some(a) => Ok(a),
        None => Ok(Arc::new(
            phivault_store::audit::segment::SegmentStore::open(&config.audit_dir(), writable)
                .map_err(|e| DataDirError::Audit(e.to_string()))?,
        )),
    }
}

/// Opens the audit log (refusing one that does not match its checkpoints)
/// and starts streaming it when a broker is configured.
pub async fn open_audit(
    config: &Config,
    store: &Arc<dyn Store>,
    writable: bool,
) -> Result<Arc<crate::audit::AuditLog>, DataDirError> {
    let signer = crate::audit::load_or_create_signer(&config.data_dir, &config.audit_origin())?;
    let audit = audit_store(config, store, writable)?;
    let log = if writable {
        crate::audit::AuditLog::open(audit, signer, config.checkpoints).await
    } else {
        crate::audit::AuditLog::open_read_only(audit, signer).await
    }
    .map_err(|e| DataDirError::Audit(e.to_string()))?;
    use crate::audit::stream;
    if !writable {
        return Ok(log);
    }
    if let Some(url) = &config.nats_url {
        stream::spawn(
            &log,
            stream::nats::NatsSink::new(url.clone(), &config.tenant, log.verifier().fingerprint()),
        );
    }
    if let Some(brokers) = &config.kafka_brokers {
        #[cfg(feature = "kafka")]
        stream::spawn(
            &log,
            stream::kafka::KafkaSink::new(
                brokers.clone(),
                &config.tenant,
                log.verifier().fingerprint(),
            ),
        );
        #[cfg(not(feature = "kafka"))]
        {
            let _ = brokers;
            return Err(DataDirError::Audit(
                "`kafka_brokers` is set but this build has no Kafka support (build with `--features kafka`)".into(),
            ));
        }
    }
    Ok(log)
}

/// Issues an administrator token and stores its hash; returns the token text
/// (to be shown once).
pub async fn issue_admin_token(
    store: &Arc<dyn Store>,
    clock: &dyn Clock,
) -> Result<Zeroizing<String>, DataDirError> {
    let t = token::issue().map_err(|_| DataDirError::Random)?;
    store
        .insert_token(TokenRow {
            id: t.id.clone(),
            hash: t.hash.to_vec(),
            principal: "admin".into(),
            admin: true,
            created_at: micros(clock.now()),
            disabled: false,
            kind: TokenKind::Api,
            expires_at: None,
            last_used_at: None,
        })
        .await?;
    Ok(t.text)
}

#[cfg(test)]
mod separation_tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn config(dir: &Path) -> Config {
        let file = crate::config::FileConfig::default();
        Config::resolve(dir.to_owned(), file, crate::config::FileConfig::default()).unwrap()
    }

    #[test]
    fn refuses_keys_inside_or_beside_the_database() {
        let d = tempfile::tempdir().unwrap();
        let c = config(d.path());
        assert!(check_separation(&c, &d.path().join("keys/keyring.json")).is_ok());
        assert!(
            check_separation(&c, &c.sqlite_path()).is_err(),
            "keyring is the db"
        );
        assert!(
            check_separation(&c, &d.path().join("keyring.json")).is_err(),
            "beside the db outside keys/"
        );
        let mut pg = config(d.path());
        pg.database = Some("postgres://x/y".into());
        assert!(check_separation(&pg, &d.path().join("keyring.json")).is_ok());
    }

    #[test]
    fn refuses_the_signing_key_as_the_database() {
        let d = tempfile::tempdir().unwrap();
        let c = config(d.path());
        fs::create_dir_all(d.path().join("audit-key")).unwrap();
        // A symlinked layout: `phivault.db` resolving to the signing key dir.
        std::os::unix::fs::symlink(d.path().join("audit-key"), c.sqlite_path()).unwrap();
        assert!(check_separation(&c, &d.path().join("keys/keyring.json")).is_err());
    }
}
