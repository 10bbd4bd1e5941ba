//! An in-process stand-in for the Vault Transit endpoints this provider uses,
//! following Vault's published API: `X-Vault-Token` auth, `{"data": …}`
//! answers, `{"errors": […]}` failures, versioned keys with
//! `min_decryption_version`, `vault:vN:` ciphertexts of `nonce || ct || tag`
//! under real AES-256-GCM (aws-lc-rs) with `associated_data`.
//!
//! For tests, benches and demos only: keys live in memory.
//!
//! Endpoints: `POST /v1/{mount}/keys/{name}` (create), `GET …/keys/{name}`,
//! `POST …/keys/{name}/rotate`, `POST …/keys/{name}/config`,
//! `POST /v1/{mount}/encrypt/{name}`, `POST /v1/{mount}/decrypt/{name}`.

#![allow(
    clippy::result_large_err,
    reason = "handlers return axum responses as errors; test support, not a hot path"
)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

struct Key {
    versions: BTreeMap<u32, (Zeroizing<[u8; 32]>, i64)>,
    min_decryption_version: u32,
}

struct Inner {
    token: String,
    keys: Mutex<HashMap<String, Key>>,
}

/// A running stand-in on `127.0.0.1`.
pub struct Standin {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Standin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standin")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Reply = Result<Response, Response>;

fn err(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "errors": [msg] }))).into_response()
}

fn ok(data: Value) -> Reply {
    Ok(Json(
        json!({ "request_id": "standin", "lease_id": "", "renewable": false,
        "lease_duration": 0, "data": data, "wrap_info": null, "warnings": null, "auth": null }),
    )
    .into_response())
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn new_key() -> Result<Zeroizing<[u8; 32]>, Response> {
    let mut k = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(k.as_mut())
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "rng failed"))?;
    Ok(k)
}

impl Inner {
    fn auth(&self, h: &HeaderMap) -> Result<(), Response> {
        match h.get("x-vault-token").map(|v| v.as_bytes()) {
            Some(t) if t == self.token.as_bytes() => Ok(()),
            _ => Err(err(StatusCode::FORBIDDEN, "permission denied")),
        }
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, Key>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key_json(name: &str, k: &Key) -> Value {
    let keys: serde_json::Map<String, Value> = k
        .versions
        .iter()
        .map(|(v, (_, t))| (v.to_string(), json!(t)))
        .collect();
    json!({ "name": name, "type": "aes256-gcm96", "keys": keys, "derived": false,
        "exportable": false, "deletion_allowed": false, "supports_encryption": true,
        "supports_decryption": true, "min_encryption_version": 0,
        "min_decryption_version": k.min_decryption_version,
        "latest_version": k.versions.keys().next_back().copied().unwrap_or(0) })
}

fn b64(body: &Value, field: &str) -> Result<Vec<u8>, Response> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => STANDARD.decode(s).map_err(|_| {
            err(
                StatusCode::BAD_REQUEST,
                &format!("failed to base64-decode {field}"),
            )
        }),
        Some(_) => Err(err(StatusCode::BAD_REQUEST, &format!("invalid {field}"))),
    }
}

fn aead(k: &[u8; 32]) -> Result<LessSafeKey, Response> {
    UnboundKey::new(&AES_256_GCM, k)
        .map(LessSafeKey::new)
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "bad key"))
}

async fn create(
    State(s): State<Arc<Inner>>,
    h: HeaderMap,
    Path((_m, name)): Path<(String, String)>,
) -> Reply {
    s.auth(&h)?;
    let mut keys = s.keys();
    if !keys.contains_key(&name) {
        let k = Key {
            versions: BTreeMap::from([(1, (new_key()?, now()))]),
            min_decryption_version: 1,
        };
        keys.insert(name.clone(), k);
    }
    ok(key_json(
        &name,
        keys.get(&name)
            .ok_or_else(|| err(StatusCode::INTERNAL_SERVER_ERROR, "gone"))?,
    ))
}

async fn read(
    State(s): State<Arc<Inner>>,
    h: HeaderMap,
    Path((_m, name)): Path<(String, String)>,
) -> Reply {
    s.auth(&h)?;
    let keys = s.keys();
    let k = keys
        .get(&name)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "key not found"))?;
    ok(key_json(&name, k))
}

async fn rotate(
    State(s): State<Arc<Inner>>,
    h: HeaderMap,
    Path((_m, name)): Path<(String, String)>,
) -> Reply {
    s.auth(&h)?;
    let mut keys = s.keys();
    let k = keys
        .get_mut(&name)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "key not found"))?;
    let next = k
        .versions
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0)
        .saturating_add(1);
    k.versions.insert(next, (new_key()?, now()));
    ok(key_json(&name, k))
}

async fn config(
    State(s): State<Arc<Inner>>,
    h: HeaderMap,
    Path((_m, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Reply {
    s.auth(&h)?;
    let mut keys = s.keys();
    let k = keys
        .get_mut(&name)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "key not found"))?;
    if let Some(v) = body.get("min_decryption_version").and_then(Value::as_u64) {
        let latest = k.versions.keys().next_back().copied().unwrap_or(0);
        let v = u32::try_from(v).unwrap_or(u32::MAX);
        if v > latest {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "cannot set min decryption version of 2 greater than the latest version",
            ));
        }
        k.min_decryption_version = v.max(1);
    }
    ok(key_json(&name, k))
}

async fn encrypt(
    State(s): State<Arc<Inner>>,
    h: HeaderMap,
    Path((_m, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Reply {
    s.auth(&h)?;
    let plain = Zeroizing::new(b64(&body, "plaintext")?);
    let aad = b64(&body, "associated_data")?;
    let keys = s.keys();
    let k = keys
        .get(&name)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "encryption key not found"))?;
    let latest = k.versions.keys().next_back().copied().unwrap_or(0);
    let version = match body.get("key_version").and_then(Value::as_u64) {
        None | Some(0) => latest,
        Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
    };
    if version > latest {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "requested version for encryption is higher than the latest key version",
        ));
    }
    let (key, _) = k
        .versions
        .get(&version)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "invalid key version"))?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "rng failed"))?;
    let mut buf = plain.to_vec();
    aead(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "encryption failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    ok(
        json!({ "ciphertext": format!("vault:v{version}:{}", STANDARD.encode(out)), "key_version": version }),
    )
}

async fn decrypt(
    State(s): State<Arc<Inner>>,
    h: HeaderMap,
    Path((_m, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Reply {
    s.auth(&h)?;
    let aad = b64(&body, "associated_data")?;
    let ct = body
        .get("ciphertext")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bad = || err(StatusCode::BAD_REQUEST, "invalid ciphertext: no prefix");
    let rest = ct.strip_prefix("vault:v").ok_or_else(bad)?;
    let (v, data) = rest.split_once(':').ok_or_else(bad)?;
    let version: u32 = v.parse().map_err(|_| {
        err(
            StatusCode::BAD_REQUEST,
            "invalid ciphertext: version number could not be decoded",
        )
    })?;
    let keys = s.keys();
    let k = keys
        .get(&name)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "encryption key not found"))?;
    if version < k.min_decryption_version {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "ciphertext or signature version is disallowed by policy (too old)",
        ));
    }
    let (key, _) = k
        .versions
        .get(&version)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "invalid key version"))?;
    let raw = STANDARD.decode(data).map_err(|_| {
        err(
            StatusCode::BAD_REQUEST,
            "invalid ciphertext: could not decode base64",
        )
    })?;
    let (nonce, sealed) = raw
        .split_at_checked(NONCE_LEN)
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "invalid ciphertext: too short"))?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain = aead(key)?
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| {
            err(
                StatusCode::BAD_REQUEST,
                "cipher: message authentication failed",
            )
        })?;
    ok(json!({ "plaintext": STANDARD.encode(&*plain) }))
}

impl Standin {
    /// Starts the stand-in on a free loopback port, accepting `token`.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Inner {
            token: token.to_owned(),
            keys: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/v1/{mount}/keys/{name}", post(create).get(read))
            .route("/v1/{mount}/keys/{name}/rotate", post(rotate))
            .route("/v1/{mount}/keys/{name}/config", post(config))
            .route("/v1/{mount}/encrypt/{name}", post(encrypt))
            .route("/v1/{mount}/decrypt/{name}", post(decrypt))
            .with_state(inner);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("http://{}", self.addr)
    }
}
