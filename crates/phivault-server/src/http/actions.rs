//! Custom verbs on a record: `POST /v1/collections/{c}/records/{id}/actions/{verb}`.
//!
//! Systems around the vault (a PACS annotating a study, a lab system
//! attaching a result) perform actions phivault does not implement itself.
//! They ask here: the decision point authorizes `verb:collection` for the
//! caller on that record (time window, IP range, care team, break-glass
//! apply as to any access), the action is recorded durably in the audit
//! trail, and the answer carries the event's index as a receipt. Only then
//! should the caller act. Built-in verbs have their own endpoints and are
//! refused here.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use phivault_core::policy::{Action, BREAK_GLASS_VERB, Principal, SESSION_VERB};
use serde_json::{Value, json};

use super::body::JsonObject;
use super::{ApiError, AppState, Target};

/// Verbs that belong to built-in endpoints.
const RESERVED: &[&str] = &[
    "view",
    "create",
    "modify",
    "delete",
    "search",
    "export",
    "describe",
    SESSION_VERB,
    BREAK_GLASS_VERB,
    super::audit::READ_AUDIT,
    super::audit::ACCOUNT,
];

fn valid_verb(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The field names the action concerns (names only, checked against the
/// collection's schema).
fn field_names(
    body: &serde_json::Map<String, Value>,
    coll: &phivault_core::schema::Collection,
) -> Result<Vec<String>, ApiError> {
    if body.keys().any(|k| k.as_str() != "fields") {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the body has a member that is not accepted here",
        ));
    }
    let Some(v) = body.get("fields") else {
        return Ok(Vec::new());
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_request",
            "field `fields` must be a list of field names of the collection",
        )
    };
    let list = v.as_array().ok_or_else(bad)?;
    let mut names = Vec::with_capacity(list.len());
    for n in list {
        let n = n.as_str().ok_or_else(bad)?;
        if !coll.fields.contains_key(n) {
            return Err(bad());
        }
        names.push(n.to_owned());
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// `POST /v1/collections/{collection}/records/{id}/actions/{verb}`.
pub async fn perform(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((collection, id, verb)): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    if !valid_verb(&verb) || RESERVED.contains(&verb.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_verb",
            "path segment `verb` must be a custom verb (lowercase letters, digits, `_`, `-`), not a built-in one",
        ));
    }
    let Some(coll) = st.vault.schema().collection(&collection) else {
        return Err(crate::vault::VaultError::UnknownCollection(collection).into());
    };
    let fields = field_names(&body, coll)?;
    let action = Action::Custom(verb.clone());
    let permit = st
        .decide(
            &p,
            action,
            Target::record(&collection, &id),
            &peer,
            &headers,
        )
        .await?;
    let now = st.vault.clock().now();
    let resource = Target::record(&collection, &id).resource();
    let mut e = permit.event(now, &format!("custom:{verb}"), resource);
    e.fields = fields;
    if permit.grant.is_break_glass() {
        e.flags.push("break_glass".into());
    }
    let stored = st
        .vault
        .store()
        .get_record(&collection, &id)
        .await
        .map_err(crate::vault::VaultError::from)?;
    let Some(rec) = stored else {
        e.outcome = phivault_audit::Outcome::Failure;
        e.reason = Some("not_found".into());
        e.fields.clear();
        st.record(e).await?;
        return Err(crate::vault::VaultError::NotFound.into());
    };
    e.patient_id = rec.patient_id;
    let index = st.vault.audit().append(vec![e]).await?;
    Ok(Json(json!({
        "action": verb,
        "collection": collection,
        "id": id,
        "audit_index": index,
    }))
    .into_response())
}
