//! Running the real `phivault` binary: init, serve on a random port, and the
//! offline tools, against SQLite or a fresh PostgreSQL schema.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_phivault");

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A data directory (and, on PostgreSQL, a schema of its own).
pub struct Vault {
    pub dir: tempfile::TempDir,
    pub database: Option<String>,
    pub token: String,
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The PostgreSQL URL for tests; `None` skips (failing when CI requires it).
pub fn postgres_url() -> Option<String> {
    match std::env::var("PHIVAULT_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("PHIVAULT_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PHIVAULT_REQUIRE_POSTGRES=1 but PHIVAULT_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping PostgreSQL half: PHIVAULT_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

impl Vault {
    /// `phivault init` into a fresh directory; `None` if the backend is off.
    pub async fn init(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let url = postgres_url()?;
                let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let schema = format!("pv_cli{}_{n}", std::process::id());
                let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .unwrap();
                let sep = if url.contains('?') { '&' } else { '?' };
                Some(format!("{url}{sep}schema={schema}"))
            }
        };
        let token_file = dir.path().join("admin-token");
        let mut v = Self {
            dir,
            database,
            token: String::new(),
        };
        let out = v.run(&["init", "--admin-token-file", &token_file.to_string_lossy()]);
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        v.token = std::fs::read_to_string(token_file).unwrap();
        Some(v)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The location arguments every command takes.
    pub fn location(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_owned(),
            self.data_dir().to_string_lossy().into_owned(),
        ];
        if let Some(d) = &self.database {
            a.push("--database".into());
            a.push(d.clone());
        }
        a
    }

    /// Runs `phivault <args> <location>` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// [`Self::run`] with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(self.location())
            .env_remove("PHIVAULT_DATABASE")
            .env_remove("PHIVAULT_DATA_DIR")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Starts `phivault serve` on a random loopback port.
    pub fn serve(&self) -> Server {
        self.serve_env(&[])
    }

    /// [`Self::serve`] with extra environment variables.
    pub fn serve_env(&self, env: &[(&str, &str)]) -> Server {
        let cert = std::fs::read_to_string(self.data_dir().join("tls/cert.pem")).unwrap();
        self.serve_trusting(env, &cert)
    }

    /// [`Self::serve_env`] with a client that trusts `root_pem` (a CA's
    /// certificate, when the server presents one it issued).
    pub fn serve_trusting(&self, env: &[(&str, &str)], root_pem: &str) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(self.location())
            .env_remove("PHIVAULT_DATABASE")
            .env_remove("PHIVAULT_DATA_DIR")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(rest) = line.strip_prefix("phivault listening on ") {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the server did not start");
        Server {
            child,
            url,
            http: client(root_pem),
        }
    }
}

pub fn client(cert_pem: &str) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A running `phivault serve` process.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub http: reqwest::Client,
}

impl Server {
    /// SIGKILL: no shutdown path runs.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

/// A full synthetic patient whose values must never leak.
pub fn canary_patient() -> serde_json::Value {
    serde_json::json!({
        "name": "Zebulon Canarywright",
        "birth_date": "1961-03-14",
        "ssn": "078-05-1120",
        "mrn": "MRN-CANARY-9931",
        "address": "4417 Canary Row, Monterey, CA 93940",
        "phone": "(831) 555-0177",
        "email": "zebulon.canary@example.net",
        "notes": "CANARYNOTE chronic canary lung"
    })
}

pub const CANARY_STRINGS: &[&str] = &[
    "Canarywright",
    "1961-03-14",
    "078-05-1120",
    "078051120",
    "MRN-CANARY-9931",
    "Canary Row",
    "8315550177",
    "zebulon.canary",
    "CANARYNOTE",
];

/// The SoftHSM2 token for PKCS#11 tests, as `config.toml` lines naming
/// `label` as the key label, and its PIN; `None` to skip (failing instead
/// when CI requires the HSM with `PHIVAULT_REQUIRE_HSM=1`).
pub fn softhsm_config(label: &str) -> Option<(String, String)> {
    let (Ok(module), Ok(pin)) = (
        std::env::var("PHIVAULT_TEST_PKCS11_MODULE"),
        std::env::var("PHIVAULT_TEST_PKCS11_PIN"),
    ) else {
        assert!(
            std::env::var("PHIVAULT_REQUIRE_HSM").as_deref() != Ok("1"),
            "PHIVAULT_REQUIRE_HSM=1 but the SoftHSM2 token is not configured"
        );
        eprintln!("skipping a PKCS#11 test: run `eval \"$(scripts/softhsm)\"`");
        return None;
    };
    let token =
        std::env::var("PHIVAULT_TEST_PKCS11_TOKEN").unwrap_or_else(|_| "phivault-test".into());
    Some((
        format!(
            "key_provider = \"pkcs11\"\npkcs11_module = \"{module}\"\npkcs11_token = \"{token}\"\npkcs11_key_label = \"{label}\"\n"
        ),
        pin,
    ))
}

/// Alters one byte of the first `created` event in the audit segment files
/// of `data_dir`; returns that event's index.
pub fn tamper_created_event(data_dir: &Path) -> String {
    let seg = std::fs::read_dir(data_dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.windows(9).position(|w| w == b"\"created\"").unwrap();
    bytes[at + 1] = b'C';
    // The index of the event altered: the `{"index":N` before it.
    let start = bytes[..at]
        .windows(9)
        .rposition(|w| w == b"{\"index\":")
        .unwrap();
    let index: String = bytes[start + 9..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    std::fs::write(&seg, bytes).unwrap();
    index
}
