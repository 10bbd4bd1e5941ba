//! `breach.toml` in the data directory: detection rules, where alerts go,
//! and how a lockdown is lifted. Absent file: every rule on with its
//! defaults, no webhook, one responder may restore.
//!
//! Webhook secrets never go in the file: each names an environment
//! variable or a file (`secret_env`, `secret_file`).

use std::path::{Path, PathBuf};

use phivault_breach::rules::RulesConfig;
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachFile {
    /// Detection rules.
    #[serde(default)]
    pub rules: RulesConfig,
    /// Lifting a lockdown needs a second responder.
    #[serde(default)]
    pub restore_requires_two: bool,
    /// Alert destinations.
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
}

/// One webhook as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// A short name (events and the queue name it).
    pub name: String,
    /// `https://…`.
    pub url: String,
    /// Environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// File holding the HMAC secret.
    pub secret_file: Option<PathBuf>,
    /// PEM CA bundle to trust for this endpoint (besides the system roots).
    pub ca_file: Option<PathBuf>,
}

/// A resolved webhook.
#[derive(Clone)]
pub struct Webhook {
    /// Name.
    pub name: String,
    /// URL (https).
    pub url: reqwest::Url,
    /// The HMAC key.
    pub secret: std::sync::Arc<phivault_breach::webhook::WebhookSecret>,
    /// Extra CA.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

/// The resolved breach configuration.
#[derive(Debug, Clone, Default)]
pub struct BreachConfig {
    /// Rules (validated).
    pub rules: RulesConfig,
    /// Two-person restore.
    pub restore_requires_two: bool,
    /// Webhooks with their secrets loaded.
    pub webhooks: Vec<Webhook>,
}

/// Why `breach.toml` was refused.
#[derive(Debug, thiserror::Error)]
pub enum BreachConfigError {
    /// Unreadable.
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    /// Not valid TOML or unknown keys.
    #[error("`{0}` is not valid: {1}")]
    Parse(PathBuf, String),
    /// A rule setting is out of range.
    #[error("`breach.toml`: {0}")]
    Rules(String),
    /// A webhook setting is wrong.
    #[error("`breach.toml` webhook `{0}`: {1}")]
    Webhook(String, &'static str),
}

/// The file's path in a data directory.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("breach.toml")
}

impl BreachConfig {
    /// Reads and checks `breach.toml` (defaults when it does not exist).
    pub fn load(data_dir: &Path) -> Result<Self, BreachConfigError> {
        let path = path_in(data_dir);
        let file: BreachFile = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| BreachConfigError::Parse(path.clone(), e.message().to_owned()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BreachFile::default(),
            Err(e) => return Err(BreachConfigError::Read(path, e)),
        };
        file.rules
            .validate()
            .map_err(|e| BreachConfigError::Rules(e.to_string()))?;
        let mut webhooks = Vec::new();
        for w in file.webhooks {
            webhooks.push(resolve(w)?);
        }
        Ok(Self {
            rules: file.rules,
            restore_requires_two: file.restore_requires_two,
            webhooks,
        })
    }
}

fn resolve(w: WebhookFile) -> Result<Webhook, BreachConfigError> {
    let bad = |why| BreachConfigError::Webhook(w.name.clone(), why);
    if w.name.is_empty()
        || w.name.len() > 32
        || !w
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("`name` must be 1-32 letters, digits, `-` or `_`"));
    }
    let url = reqwest::Url::parse(&w.url).map_err(|_| bad("`url` is not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("`url` must be https"));
    }
    let secret = match (&w.secret_env, &w.secret_file) {
        (Some(var), None) => std::env::var(var)
            .map(String::into_bytes)
            .map_err(|_| bad("the variable named by `secret_env` is not set"))?,
        (None, Some(file)) => std::fs::read(file)
            .map(|mut b| {
                while b.last().is_some_and(u8::is_ascii_whitespace) {
                    b.pop();
                }
                b
            })
            .map_err(|_| bad("the file named by `secret_file` cannot be read"))?,
        _ => return Err(bad("give exactly one of `secret_env` and `secret_file`")),
    };
    let secret = phivault_breach::webhook::WebhookSecret::new(secret)
        .map_err(|_| bad("the secret must be at least 32 bytes"))?;
    Ok(Webhook {
        name: w.name,
        url,
        secret: std::sync::Arc::new(secret),
        ca_file: w.ca_file,
    })
}
