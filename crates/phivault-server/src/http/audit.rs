//! Audit endpoints: signed checkpoints, inclusion and consistency proofs,
//! event queries (auditor permission `read_audit:audit`) and the accounting
//! of disclosures for one patient (`account_disclosures:patients`).
//! Reading the trail is itself recorded.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use phivault_audit::Event;
use phivault_core::policy::{Action, Principal};
use phivault_store::audit::AuditQuery;
use serde_json::{Value, json};

use super::{ApiError, AppState, Target};

type Peer = ConnectInfo<SocketAddr>;
type Params = Query<HashMap<String, String>>;

/// The verb an auditor role holds (`read_audit:audit`).
pub const READ_AUDIT: &str = "read_audit";
/// The verb for the accounting of disclosures (`account_disclosures:patients`).
pub const ACCOUNT: &str = "account_disclosures";
const MAX_EVENTS: usize = 10_000;

fn num(p: &HashMap<String, String>, name: &'static str) -> Result<Option<u64>, ApiError> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("parameter `{name}` must be a non-negative integer"),
                )
            })
        })
        .transpose()
}

fn required(p: &HashMap<String, String>, name: &'static str) -> Result<u64, ApiError> {
    num(p, name)?.ok_or_else(|| {
        ApiError::bad_request(
            "missing_parameter",
            format!("parameter `{name}` is required"),
        )
    })
}

fn time(p: &HashMap<String, String>, name: &'static str) -> Result<Option<i64>, ApiError> {
    p.get(name)
        .map(|v| {
            v.parse::<jiff::Timestamp>()
                .map(|t| t.as_microsecond())
                .map_err(|_| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("parameter `{name}` must be an RFC 3339 time"),
                    )
                })
        })
        .transpose()
}

fn text(p: &HashMap<String, String>, name: &'static str) -> Result<Option<String>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) if (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(v.clone()))
        }
        Some(_) => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("parameter `{name}` is malformed"),
        )),
    }
}

fn hashes(h: &[[u8; 32]]) -> Vec<String> {
    h.iter().map(|x| B64.encode(x)).collect()
}

async fn audit_read(
    st: &AppState,
    p: &Principal,
    peer: &Peer,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), ApiError> {
    let permit = st
        .decide(
            p,
            Action::Custom(READ_AUDIT.into()),
            Target::collection("audit"),
            peer,
            headers,
        )
        .await?;
    st.security_event(&permit, "audit_read", format!("/v1/audit/{what}"), |_| {})
        .await
}

/// `GET /v1/audit/checkpoint`: the newest signed checkpoint (signing one
/// now if events arrived since), as a C2SP signed note.
pub async fn checkpoint(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    audit_read(&st, &p, &peer, &headers, "checkpoint").await?;
    let note = st.vault.audit().checkpoint().await?;
    let mut r = note.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

/// `GET /v1/audit/public-key`: the verifier key (public; no token needed).
pub async fn public_key(State(st): State<AppState>) -> Response {
    format!("{}\n", st.vault.audit().verifier()).into_response()
}

/// `GET /v1/audit/proofs/inclusion?index=I&tree_size=N`.
pub async fn inclusion(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Response, ApiError> {
    audit_read(&st, &p, &peer, &headers, "proofs/inclusion").await?;
    let index = required(&q, "index")?;
    let size = required(&q, "tree_size")?;
    let proof = st.vault.audit().inclusion_proof(index, size).await?;
    Ok(Json(json!({"index": index, "tree_size": size, "proof": hashes(&proof)})).into_response())
}

/// `GET /v1/audit/proofs/consistency?from=M&to=N`.
pub async fn consistency(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Response, ApiError> {
    audit_read(&st, &p, &peer, &headers, "proofs/consistency").await?;
    let from = required(&q, "from")?;
    let to = required(&q, "to")?;
    let proof = st.vault.audit().consistency_proof(from, to).await?;
    Ok(Json(json!({"from": from, "to": to, "proof": hashes(&proof)})).into_response())
}

fn decode(frames: Vec<phivault_store::audit::AuditFrame>) -> Result<Vec<Event>, ApiError> {
    frames
        .iter()
        .map(|f| Event::decode(&f.event))
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::internal("stored audit event is unreadable"))
}

/// `GET /v1/audit/events?from=&to=&since=&until=&user=&patient_id=&action=&limit=`.
pub async fn events(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Response, ApiError> {
    audit_read(&st, &p, &peer, &headers, "events").await?;
    let query = AuditQuery {
        from: num(&q, "from")?,
        to: num(&q, "to")?,
        since: time(&q, "since")?,
        until: time(&q, "until")?,
        user: text(&q, "user")?,
        patient_id: text(&q, "patient_id")?,
        action: text(&q, "action")?,
        limit: num(&q, "limit")?
            .map(|l| l as usize)
            .unwrap_or(1000)
            .min(MAX_EVENTS),
    };
    let events = decode(
        st.vault
            .audit()
            .store()
            .query(&query)
            .await
            .map_err(|e| ApiError::from(crate::audit::AuditError::from(e)))?,
    )?;
    Ok(Json(json!({ "events": events })).into_response())
}

/// `GET /v1/collections/patients/records/{id}/disclosures?since=`: who
/// accessed or received the patient's PHI, when, which fields, and why.
/// Six years back by default (§164.528 asks for six).
pub async fn disclosures(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::Custom(ACCOUNT.into()),
            Target::record("patients", &id),
            &peer,
            &headers,
        )
        .await?;
    let now = st.vault.clock().now();
    let six_years = now.as_microsecond() - 6 * 366 * 24 * 3600 * 1_000_000;
    let since = time(&q, "since")?.unwrap_or(six_years);
    let events = decode(
        st.vault
            .audit()
            .store()
            .query(&AuditQuery {
                patient_id: Some(id.clone()),
                since: Some(since),
                limit: 100_000,
                ..Default::default()
            })
            .await
            .map_err(|e| ApiError::from(crate::audit::AuditError::from(e)))?,
    )?;
    let report = crate::audit::report::disclosures(&id, &events);
    st.security_event(
        &permit,
        "disclosures_reported",
        format!("/v1/collections/patients/records/{id}/disclosures"),
        |e| e.patient_id = Some(id.clone()),
    )
    .await?;
    if headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/plain"))
    {
        return Ok((StatusCode::OK, crate::audit::report::render(&id, &report)).into_response());
    }
    let v: Value = serde_json::to_value(&report).unwrap_or(Value::Null);
    Ok(Json(
        json!({"patient_id": id, "since": crate::clock::rfc3339_micros(since), "disclosures": v}),
    )
    .into_response())
}
