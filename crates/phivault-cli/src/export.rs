//! `phivault export`: a de-identified export through the running server, so
//! the decision point authorizes it and the audit trail records it.

use std::path::PathBuf;

use crate::out::{self, CliResult};

/// Export options.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The collection.
    #[arg(long, default_value = "patients")]
    collection: String,
    /// The de-identification method (only `safe-harbor`).
    #[arg(long)]
    deidentify: String,
    /// Add a keyed, consistent pseudonym per patient (for longitudinal research).
    #[arg(long)]
    pseudonymize: bool,
    /// `jsonl` or `csv`.
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// Output file (written with mode 0600).
    #[arg(long)]
    out: PathBuf,
    /// The server.
    #[arg(long, env = "PHIVAULT_URL", default_value = "https://127.0.0.1:8443")]
    url: String,
    /// A file holding a session or API token with `export:<collection>`
    /// (else `PHIVAULT_TOKEN`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// CA certificate to trust (default: the data directory's own).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Data directory (for the default CA certificate).
    #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
    data_dir: PathBuf,
}

/// Runs the export.
pub async fn run(a: ExportArgs) -> CliResult {
    let token = match &a.token_file {
        Some(f) => std::fs::read_to_string(f)?.trim().to_owned(),
        None => std::env::var("PHIVAULT_TOKEN")
            .map_err(|_| "give --token-file or set PHIVAULT_TOKEN")?,
    };
    let ca = a.ca.unwrap_or_else(|| a.data_dir.join("tls/cert.pem"));
    let cert = reqwest::Certificate::from_pem(&std::fs::read(&ca)?)?;
    let http = reqwest::Client::builder().tls_certs_only([cert]).build()?;
    let res = http
        .post(format!(
            "{}/v1/collections/{}/export",
            a.url.trim_end_matches('/'),
            a.collection
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "deidentify": a.deidentify,
            "pseudonymize": a.pseudonymize,
            "format": a.format,
        }))
        .send()
        .await?;
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        let msg = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        return Err(format!("export refused: {msg}").into());
    }
    phivault_server::datadir::write_private(&a.out, &body)?;
    out::line(format_args!(
        "wrote {} ({} bytes, de-identified: {})",
        a.out.display(),
        body.len(),
        a.deidentify
    ));
    Ok(())
}
