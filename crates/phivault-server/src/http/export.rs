//! `POST /v1/collections/{collection}/export`: a Safe Harbor de-identified
//! export (JSON lines or CSV). Identified exports are not offered.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use phivault_core::policy::{Action, Principal};

use super::body::JsonObject;
use super::{ApiError, AppState, Target};

fn bad(message: &'static str) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

/// `{"deidentify": "safe-harbor", "pseudonymize"?: bool, "format"?: "jsonl" | "csv"}`.
pub async fn export(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(collection): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::Export,
            Target::collection(&collection),
            &peer,
            &headers,
        )
        .await?;
    if body
        .keys()
        .any(|k| !matches!(k.as_str(), "deidentify" | "pseudonymize" | "format"))
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the body has a member that is not accepted here",
        ));
    }
    match body.get("deidentify").and_then(|v| v.as_str()) {
        Some("safe-harbor") => {}
        _ => return Err(bad("field `deidentify` must be \"safe-harbor\"")),
    }
    let pseudonymize = match body.get("pseudonymize") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad("field `pseudonymize` must be true or false"))?,
    };
    let csv = match body.get("format").map(|v| v.as_str()) {
        None | Some(Some("jsonl")) => false,
        Some(Some("csv")) => true,
        Some(_) => return Err(bad("field `format` must be \"jsonl\" or \"csv\"")),
    };
    let key = pseudonymize.then(|| st.vault.pseudonym_key());
    let records = st
        .vault
        .export_deidentified(&permit, &collection, key)
        .await?;
    let mut out = Vec::new();
    let written = if csv {
        phivault_scan::deid::write_csv(&records, &mut out)
    } else {
        phivault_scan::deid::write_jsonl(&records, &mut out)
    };
    written.map_err(|_| ApiError::internal("export could not be serialized"))?;
    let mut r = out.into_response();
    let ty = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    Ok(r)
}
