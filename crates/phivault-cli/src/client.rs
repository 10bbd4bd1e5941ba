//! Talking to a running server: its URL, a token, the CA to trust.

use std::path::PathBuf;

/// Where the server is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The server.
    #[arg(long, env = "PHIVAULT_URL", default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// A file holding the token to use (else `PHIVAULT_TOKEN`).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// CA certificate to trust (default: the data directory's own).
    #[arg(long)]
    pub ca: Option<PathBuf>,
}

/// A client for one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

impl Client {
    /// Connects with `a`, trusting `data_dir`'s certificate unless `--ca`.
    pub fn new(a: &ServerArgs, data_dir: &std::path::Path) -> Result<Self, Error> {
        let token = match &a.token_file {
            Some(f) => std::fs::read_to_string(f)?.trim().to_owned(),
            None => std::env::var("PHIVAULT_TOKEN")
                .map_err(|_| "give --token-file or set PHIVAULT_TOKEN")?,
        };
        let ca =
            a.ca.clone()
                .unwrap_or_else(|| data_dir.join("tls/cert.pem"));
        let cert = reqwest::Certificate::from_pem(&std::fs::read(&ca)?)?;
        let http = reqwest::Client::builder().tls_certs_only([cert]).build()?;
        Ok(Self {
            http,
            base: a.url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `POST path` with a JSON body; the JSON answer, or the server's error
    /// message.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        answer(res).await
    }
}

async fn answer(res: reqwest::Response) -> Result<serde_json::Value, Error> {
    let status = res.status();
    let body = res.bytes().await?;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let msg = v
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| status.to_string());
        return Err(format!("the server refused: {msg}").into());
    }
    Ok(v)
}
