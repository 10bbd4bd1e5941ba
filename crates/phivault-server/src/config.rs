//! Server configuration. Precedence: command-line flags, then `PHIVAULT_*`
//! environment variables (both handled by the CLI), then `config.toml` in the
//! data directory, then the defaults below.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Values that may come from `config.toml`. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// `postgres://…` for PostgreSQL; absent for the embedded SQLite file.
    pub database: Option<String>,
    /// PEM certificate chain.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (loopback only, and only with `dev`).
    pub insecure_http: Option<bool>,
    /// Development mode: allows settings that weaken protection
    /// (`insecure_http`); loopback only, and only as the `--dev` flag.
    pub dev: Option<bool>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Session idle timeout in minutes (automatic logoff).
    pub session_idle_minutes: Option<u32>,
    /// Session absolute lifetime in minutes.
    pub session_lifetime_minutes: Option<u32>,
    /// Break-glass grant lifetime in minutes.
    pub break_glass_minutes: Option<u32>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (CIDRs).
    pub trusted_proxies: Option<Vec<String>>,
    /// Tenant name: audit subject `phivault.audit.<tenant>`, checkpoint origin.
    pub tenant: Option<String>,
    /// NATS URL to stream the audit trail to (JetStream); none: no streaming.
    pub nats_url: Option<String>,
    /// Kafka bootstrap servers to stream the audit trail to (feature `kafka`).
    pub kafka_brokers: Option<String>,
    /// Address of the Prometheus metrics listener (plain HTTP); none: off.
    pub metrics_listen: Option<SocketAddr>,
    /// Sign an audit checkpoint after this many events.
    pub audit_checkpoint_events: Option<u64>,
    /// … or after this many seconds with new events.
    pub audit_checkpoint_seconds: Option<u64>,
    /// Where KEKs live: `keyring` (default), `pkcs11` or `vault-transit`.
    pub key_provider: Option<String>,
    /// PKCS#11 module path (default `/usr/lib/softhsm/libsofthsm2.so`).
    /// The user PIN comes from `PHIVAULT_PKCS11_PIN` or the file named by
    /// `PHIVAULT_PKCS11_PIN_FILE`, never from this file.
    pub pkcs11_module: Option<PathBuf>,
    /// PKCS#11 token label (default `phivault`).
    pub pkcs11_token: Option<String>,
    /// PKCS#11 key label stem (default `phivault-kek`).
    pub pkcs11_key_label: Option<String>,
    /// Vault address for `vault-transit`, e.g. `https://vault.internal:8200`.
    /// The token comes from `PHIVAULT_VAULT_TOKEN` (or `VAULT_TOKEN`) or the
    /// file named by `PHIVAULT_VAULT_TOKEN_FILE`, never from this file.
    pub vault_addr: Option<String>,
    /// Transit mount path (default `transit`).
    pub vault_transit_mount: Option<String>,
    /// Transit key name (default `phivault`).
    pub vault_transit_key: Option<String>,
    /// PEM CA certificate to trust for Vault instead of the system roots.
    pub vault_ca_cert: Option<PathBuf>,
    /// Vault Enterprise namespace.
    pub vault_namespace: Option<String>,
    /// Rotation period in days: `keys status` and the compliance check flag
    /// a current KEK older than this (default 90: quarterly).
    pub key_rotation_days: Option<u32>,
    /// Let the server rotate the KEK itself when the current one is older
    /// than `key_rotation_days` (and rewrap in the background).
    pub auto_rotate: Option<bool>,
    /// Requests per second per client address (default 1000; 0: off).
    pub rate_limit_per_second: Option<u32>,
    /// Requests a client address may send at once (default 2 × the rate).
    pub rate_limit_burst: Option<u32>,
    /// Failed authentications that lock out an address or a token id
    /// (default 10; 0: never).
    pub auth_failure_limit: Option<u32>,
    /// The window those failures are counted in (default 300 s).
    pub auth_failure_window_seconds: Option<u32>,
    /// How long a lockout lasts (default 900 s).
    pub auth_lockout_seconds: Option<u32>,
    /// Time to receive a request's headers (default 10 s; slowloris).
    pub header_timeout_seconds: Option<u32>,
    /// Time to receive a request's body (default 30 s).
    pub body_timeout_seconds: Option<u32>,
}

/// Abuse limits: rate limit, authentication lockout, slow clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Requests per second per client address (0: off).
    pub rate_per_second: u32,
    /// Burst above the rate.
    pub burst: u32,
    /// Failures that lock out (0: never).
    pub auth_failures: u32,
    /// Window for counting failures, seconds.
    pub auth_window_seconds: u32,
    /// Lockout length, seconds.
    pub lockout_seconds: u32,
    /// Header read timeout, seconds.
    pub header_timeout_seconds: u32,
    /// Body read timeout, seconds.
    pub body_timeout_seconds: u32,
}

/// Where the key-encryption keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProviderConfig {
    /// `keys/keyring.json` in the data directory.
    Keyring,
    /// A PKCS#11 token.
    Pkcs11 {
        /// Module path.
        module: PathBuf,
        /// Token label.
        token: String,
        /// Key label stem.
        key_label: String,
    },
    /// HashiCorp Vault Transit.
    VaultTransit {
        /// Vault address.
        addr: String,
        /// Mount path.
        mount: String,
        /// Key name.
        key: String,
        /// CA certificate file.
        ca_cert: Option<PathBuf>,
        /// Namespace.
        namespace: Option<String>,
    },
}

/// The default PKCS#11 module (Debian's SoftHSM2).
pub const DEFAULT_PKCS11_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Why configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `config.toml` could not be read.
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    /// `config.toml` is not valid.
    #[error("`{0}` is not valid: {1}")]
    Parse(PathBuf, String),
    /// Plain HTTP was asked for on an address other than loopback.
    #[error("`insecure_http` is refused on non-loopback address `{0}`: use TLS")]
    InsecureNonLoopback(SocketAddr),
    /// A setting that weakens protection was asked for without `--dev`.
    #[error("`{0}` weakens protection and is refused without `--dev`")]
    NeedsDev(&'static str),
    /// `--dev` on an address other than loopback.
    #[error("`--dev` is refused on non-loopback address `{0}`")]
    DevNonLoopback(SocketAddr),
    /// `dev` written into `config.toml`.
    #[error("`dev` can only be given as the `--dev` flag, not in `config.toml`")]
    DevInFile,
    /// A trusted proxy is not a CIDR.
    #[error("`trusted_proxies` entry `{0}` is not a CIDR")]
    TrustedProxy(String),
    /// The tenant name is not usable in a subject.
    #[error("`tenant` must be 1-32 lowercase letters, digits or `-`")]
    Tenant,
    /// A duration is zero.
    #[error("`{0}` must be at least one minute")]
    ZeroMinutes(&'static str),
    /// Only one of the certificate and key was given.
    #[error("`tls_cert` and `tls_key` must be given together")]
    TlsPair,
    /// `key_provider` names no provider.
    #[error("`key_provider` must be `keyring`, `pkcs11` or `vault-transit`")]
    KeyProvider,
    /// A provider setting is missing or given for another provider.
    #[error("`{0}` {1}")]
    ProviderSetting(&'static str, &'static str),
    /// A setting is out of range.
    #[error("`{0}` {1}")]
    OutOfRange(&'static str, &'static str),
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// PostgreSQL URL, or `None` for SQLite in the data directory.
    pub database: Option<String>,
    /// Certificate and key paths.
    pub tls_cert: PathBuf,
    /// Private key path.
    pub tls_key: PathBuf,
    /// Serve plain HTTP (loopback only).
    pub insecure_http: bool,
    /// Development mode (loopback only).
    pub dev: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Session idle timeout.
    pub session_idle: jiff::SignedDuration,
    /// Session absolute lifetime.
    pub session_lifetime: jiff::SignedDuration,
    /// Break-glass grant lifetime.
    pub break_glass: jiff::SignedDuration,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Tenant name.
    pub tenant: String,
    /// NATS URL for audit streaming.
    pub nats_url: Option<String>,
    /// Kafka bootstrap servers for audit streaming.
    pub kafka_brokers: Option<String>,
    /// Prometheus metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// When audit checkpoints are signed.
    pub checkpoints: crate::audit::CheckpointPolicy,
    /// Where the KEKs live.
    pub key_provider: KeyProviderConfig,
    /// KEK rotation period.
    pub key_rotation_days: u32,
    /// Rotate automatically when the current KEK is older than the period.
    pub auto_rotate: bool,
    /// Rate limit, lockout and timeouts.
    pub limits: AbuseLimits,
}

fn abuse_limits(over: &FileConfig, file: &FileConfig) -> Result<AbuseLimits, ConfigError> {
    let pick = |a: Option<u32>, b: Option<u32>, d: u32| a.or(b).unwrap_or(d);
    let rate = pick(over.rate_limit_per_second, file.rate_limit_per_second, 1000);
    let at_least_one = |name: &'static str, v: u32| {
        if v == 0 {
            Err(ConfigError::OutOfRange(name, "must be at least 1"))
        } else {
            Ok(v)
        }
    };
    Ok(AbuseLimits {
        rate_per_second: rate,
        burst: at_least_one(
            "rate_limit_burst",
            pick(
                over.rate_limit_burst,
                file.rate_limit_burst,
                rate.saturating_mul(2).max(1),
            ),
        )?,
        auth_failures: pick(over.auth_failure_limit, file.auth_failure_limit, 10),
        auth_window_seconds: at_least_one(
            "auth_failure_window_seconds",
            pick(
                over.auth_failure_window_seconds,
                file.auth_failure_window_seconds,
                300,
            ),
        )?,
        lockout_seconds: at_least_one(
            "auth_lockout_seconds",
            pick(over.auth_lockout_seconds, file.auth_lockout_seconds, 900),
        )?,
        header_timeout_seconds: at_least_one(
            "header_timeout_seconds",
            pick(over.header_timeout_seconds, file.header_timeout_seconds, 10),
        )?,
        body_timeout_seconds: at_least_one(
            "body_timeout_seconds",
            pick(over.body_timeout_seconds, file.body_timeout_seconds, 30),
        )?,
    })
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

impl FileConfig {
    /// Reads `config.toml` from the data directory if it exists.
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = data_dir.join("config.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|e| ConfigError::Parse(path, e.message().to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ConfigError::Read(path, e)),
        }
    }
}

impl Config {
    /// Merges flags/environment (`over`) over the file, over defaults, and
    /// checks the result.
    pub fn resolve(
        data_dir: PathBuf,
        over: FileConfig,
        file: FileConfig,
    ) -> Result<Self, ConfigError> {
        let key_provider = key_provider(&over, &file)?;
        let limits = abuse_limits(&over, &file)?;
        let default_listen: SocketAddr =
            DEFAULT_LISTEN.parse().map_err(|_| ConfigError::TlsPair)?;
        let listen = over.listen.or(file.listen).unwrap_or(default_listen);
        let cert = over.tls_cert.or(file.tls_cert);
        let key = over.tls_key.or(file.tls_key);
        let (tls_cert, tls_key) = match (cert, key) {
            (Some(c), Some(k)) => (c, k),
            (None, None) => (data_dir.join("tls/cert.pem"), data_dir.join("tls/key.pem")),
            _ => return Err(ConfigError::TlsPair),
        };
        if file.dev.is_some() {
            return Err(ConfigError::DevInFile);
        }
        let dev = over.dev.unwrap_or(false);
        if dev && !listen.ip().is_loopback() {
            return Err(ConfigError::DevNonLoopback(listen));
        }
        let insecure_http = over.insecure_http.or(file.insecure_http).unwrap_or(false);
        if insecure_http && !listen.ip().is_loopback() {
            return Err(ConfigError::InsecureNonLoopback(listen));
        }
        if insecure_http && !dev {
            return Err(ConfigError::NeedsDev("insecure_http"));
        }
        let minutes = |name: &'static str, v: Option<u32>, default: u32| match v.unwrap_or(default)
        {
            0 => Err(ConfigError::ZeroMinutes(name)),
            m => Ok(jiff::SignedDuration::from_mins(i64::from(m))),
        };
        let session_idle = minutes(
            "session_idle_minutes",
            over.session_idle_minutes.or(file.session_idle_minutes),
            15,
        )?;
        let session_lifetime = minutes(
            "session_lifetime_minutes",
            over.session_lifetime_minutes
                .or(file.session_lifetime_minutes),
            12 * 60,
        )?;
        let break_glass = minutes(
            "break_glass_minutes",
            over.break_glass_minutes.or(file.break_glass_minutes),
            60,
        )?;
        let trusted_proxies = over
            .trusted_proxies
            .or(file.trusted_proxies)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                c.parse::<ipnet::IpNet>()
                    .map_err(|_| ConfigError::TrustedProxy(c.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tenant = over
            .tenant
            .or(file.tenant)
            .unwrap_or_else(|| "default".into());
        if tenant.is_empty()
            || tenant.len() > 32
            || !tenant
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ConfigError::Tenant);
        }
        let defaults = crate::audit::CheckpointPolicy::default();
        let checkpoints = crate::audit::CheckpointPolicy {
            every_events: over
                .audit_checkpoint_events
                .or(file.audit_checkpoint_events)
                .unwrap_or(defaults.every_events)
                .max(1),
            every: over
                .audit_checkpoint_seconds
                .or(file.audit_checkpoint_seconds)
                .map(std::time::Duration::from_secs)
                .unwrap_or(defaults.every)
                .max(std::time::Duration::from_secs(1)),
        };
        let key_rotation_days = over
            .key_rotation_days
            .or(file.key_rotation_days)
            .unwrap_or(90);
        if key_rotation_days == 0 {
            return Err(ConfigError::ProviderSetting(
                "key_rotation_days",
                "must be at least 1",
            ));
        }
        Ok(Self {
            limits,
            key_provider,
            key_rotation_days,
            auto_rotate: over.auto_rotate.or(file.auto_rotate).unwrap_or(false),
            tenant,
            nats_url: over.nats_url.or(file.nats_url),
            kafka_brokers: over.kafka_brokers.or(file.kafka_brokers),
            metrics_listen: over.metrics_listen.or(file.metrics_listen),
            checkpoints,
            session_idle,
            session_lifetime,
            break_glass,
            trusted_proxies,
            listen,
            database: over.database.or(file.database),
            tls_cert,
            tls_key,
            insecure_http,
            dev,
            max_body_bytes: over
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(1024 * 1024),
            data_dir,
        })
    }

    /// The audit log's origin (also the checkpoint key's name).
    pub fn audit_origin(&self) -> String {
        format!("phivault.local/audit/{}", self.tenant)
    }

    /// The streaming sinks configured (their cursor names).
    pub fn sinks(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.nats_url.is_some() {
            v.push(crate::audit::stream::nats::SINK);
        }
        if self.kafka_brokers.is_some() {
            v.push("kafka");
        }
        v
    }

    /// Where the embedded audit segments live.
    pub fn audit_dir(&self) -> PathBuf {
        self.data_dir.join("audit")
    }

    /// Where the embedded database lives.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("phivault.db")
    }

    /// The database the store opens: the URL, or the SQLite file path.
    pub fn store_location(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| self.sqlite_path().to_string_lossy().into_owned())
    }
}

fn key_provider(over: &FileConfig, file: &FileConfig) -> Result<KeyProviderConfig, ConfigError> {
    macro_rules! pick {
        ($f:ident) => {
            over.$f.clone().or_else(|| file.$f.clone())
        };
    }
    let kind = pick!(key_provider).unwrap_or_else(|| "keyring".into());
    let (module, token, label) = (
        pick!(pkcs11_module),
        pick!(pkcs11_token),
        pick!(pkcs11_key_label),
    );
    let (addr, mount, key) = (
        pick!(vault_addr),
        pick!(vault_transit_mount),
        pick!(vault_transit_key),
    );
    let (ca, ns) = (pick!(vault_ca_cert), pick!(vault_namespace));
    let pkcs11_given = module.is_some() || token.is_some() || label.is_some();
    let vault_given =
        addr.is_some() || mount.is_some() || key.is_some() || ca.is_some() || ns.is_some();
    let unused = |name| {
        Err(ConfigError::ProviderSetting(
            name,
            "is set but `key_provider` is not the provider it configures",
        ))
    };
    match kind.as_str() {
        "keyring" => {
            if pkcs11_given {
                return unused("pkcs11_*");
            }
            if vault_given {
                return unused("vault_*");
            }
            Ok(KeyProviderConfig::Keyring)
        }
        "pkcs11" => {
            if vault_given {
                return unused("vault_*");
            }
            Ok(KeyProviderConfig::Pkcs11 {
                module: module.unwrap_or_else(|| DEFAULT_PKCS11_MODULE.into()),
                token: token.unwrap_or_else(|| "phivault".into()),
                key_label: label.unwrap_or_else(|| "phivault-kek".into()),
            })
        }
        "vault-transit" => {
            if pkcs11_given {
                return unused("pkcs11_*");
            }
            let addr = addr.ok_or(ConfigError::ProviderSetting(
                "vault_addr",
                "is required with `key_provider = \"vault-transit\"`",
            ))?;
            if !(addr.starts_with("https://") || addr.starts_with("http://")) {
                return Err(ConfigError::ProviderSetting(
                    "vault_addr",
                    "must be an http(s) URL",
                ));
            }
            Ok(KeyProviderConfig::VaultTransit {
                addr,
                mount: mount.unwrap_or_else(|| "transit".into()),
                key: key.unwrap_or_else(|| "phivault".into()),
                ca_cert: ca,
                namespace: ns,
            })
        }
        _ => Err(ConfigError::KeyProvider),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_refusals() {
        let file = FileConfig {
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            max_body_bytes: Some(10),
            ..Default::default()
        };
        let over = FileConfig {
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::resolve("d".into(), over, file.clone()).unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.max_body_bytes, 10);
        assert_eq!(c.tls_cert, PathBuf::from("d/tls/cert.pem"));
        let insecure = FileConfig {
            listen: Some("0.0.0.0:80".parse().unwrap()),
            insecure_http: Some(true),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve("d".into(), insecure, FileConfig::default()),
            Err(ConfigError::InsecureNonLoopback(_))
        ));
        let plain = |dev| FileConfig {
            insecure_http: Some(true),
            dev,
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve("d".into(), plain(None), FileConfig::default()),
            Err(ConfigError::NeedsDev("insecure_http"))
        ));
        assert!(Config::resolve("d".into(), plain(Some(true)), FileConfig::default()).is_ok());
        let wide_dev = FileConfig {
            listen: Some("0.0.0.0:8443".parse().unwrap()),
            dev: Some(true),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve("d".into(), wide_dev, FileConfig::default()),
            Err(ConfigError::DevNonLoopback(_))
        ));
        let dev_in_file = FileConfig {
            dev: Some(true),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve("d".into(), FileConfig::default(), dev_in_file),
            Err(ConfigError::DevInFile)
        ));
        let hsm = FileConfig {
            key_provider: Some("pkcs11".into()),
            pkcs11_token: Some("t".into()),
            ..Default::default()
        };
        let c = Config::resolve("d".into(), hsm, FileConfig::default()).unwrap();
        assert_eq!(
            c.key_provider,
            KeyProviderConfig::Pkcs11 {
                module: DEFAULT_PKCS11_MODULE.into(),
                token: "t".into(),
                key_label: "phivault-kek".into()
            }
        );
        let bad = |f: FileConfig| {
            Config::resolve("d".into(), f, FileConfig::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad(FileConfig {
                key_provider: Some("kms".into()),
                ..Default::default()
            }),
            "`key_provider` must be `keyring`, `pkcs11` or `vault-transit`"
        );
        assert!(
            bad(FileConfig {
                key_provider: Some("vault-transit".into()),
                ..Default::default()
            })
            .starts_with("`vault_addr` is required")
        );
        assert!(
            bad(FileConfig {
                vault_addr: Some("https://v:8200".into()),
                ..Default::default()
            })
            .starts_with("`vault_*` is set")
        );
        let half = FileConfig {
            tls_cert: Some("c.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve("d".into(), half, file),
            Err(ConfigError::TlsPair)
        ));
    }
}
