//! Key-management API: crypto-shredding a patient (`shred:patients`, held
//! by no built-in clinical role; the bootstrap administrator has it).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use phivault_core::policy::{Action, Principal};
use serde_json::{Value, json};

use super::body::JsonObject;
use super::{ApiError, AppState, Target};
use crate::vault::VaultError;

/// `POST /v1/collections/patients/records/{id}/shred` `{"confirm": ID}`:
/// destroys the keys of the patient's record and of every linked record.
/// `confirm` must repeat the id (a second, deliberate statement of intent).
/// The event is durable before anything is destroyed.
pub async fn shred(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::Custom("shred".into()),
            Target::record("patients", &id),
            &peer,
            &headers,
        )
        .await?;
    match body.remove("confirm") {
        Some(Value::String(c)) if c == id => {}
        Some(Value::String(_)) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "field `confirm` must repeat the patient id",
            ));
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "field `confirm` must be a string",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "missing_field",
                "field `confirm` is required",
            ));
        }
    }
    if !body.is_empty() {
        // The member's name is not echoed: a client may put anything there.
        return Err(ApiError::bad_request(
            "unknown_field",
            "the body has a member other than `confirm`",
        ));
    }
    super::access::patient_exists(&st, &id).await?;
    st.security_event(
        &permit,
        "patient_shredded",
        format!("/v1/collections/patients/records/{id}"),
        |e| e.patient_id = Some(id.clone()),
    )
    .await?;
    let gone = st
        .vault
        .store()
        .shred_patient(&id)
        .await
        .map_err(|e| ApiError::from(VaultError::Store(e)))?;
    let records: Vec<Value> = gone
        .iter()
        .map(|g| json!({"collection": g.collection, "id": g.id}))
        .collect();
    Ok(Json(json!({"patient_id": id, "shredded": records})).into_response())
}
