//! Record handlers: each authenticates (route layer), asks the decision point
//! for a grant, then calls the vault with it.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use phivault_core::policy::{Action, Principal};
use serde_json::json;

use super::body::JsonObject;
use super::{ApiError, AppState, Target};
use crate::vault::{Disclosed, SearchRequest};

type Peer = ConnectInfo<SocketAddr>;

/// `GET /healthz`.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /v1/collections`: the schema, no PHI.
pub async fn describe(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    st.decide(
        &p,
        Action::Describe,
        Target::collection(""),
        &peer,
        &headers,
    )
    .await?;
    let collections: Vec<_> = st
        .vault
        .schema()
        .collections()
        .map(|c| {
            let fields: serde_json::Map<_, _> = c
                .fields
                .values()
                .map(|f| {
                    let search = f.search.then_some("exact");
                    let d = json!({"type": f.ty.name(), "phi": f.phi, "required": f.required, "search": search});
                    (f.name.clone(), d)
                })
                .collect();
            let compound: Vec<_> = c.compound.iter().map(|x| json!({"name": x.name, "fields": x.fields})).collect();
            json!({"name": c.name, "patient_link": c.patient_link, "fields": fields, "compound_search": compound})
        })
        .collect();
    Ok(Json(json!({ "collections": collections })).into_response())
}

/// `POST /v1/collections/{collection}/records`.
pub async fn create(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(collection): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let fields = match body.remove("fields") {
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "field `fields` must be an object",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "missing_field",
                "field `fields` is required",
            ));
        }
    };
    let patient_id = match body.remove("patient_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "field `patient_id` must be a string",
            ));
        }
    };
    if !body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "request body may contain only `fields` and `patient_id`",
        ));
    }
    let target = Target {
        collection: &collection,
        record: None,
        links_to: patient_id.as_deref(),
    };
    let permit = st
        .decide(&p, Action::Create, target, &peer, &headers)
        .await?;
    let id = st
        .vault
        .create(&permit, &collection, patient_id, fields)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id.as_str()}))).into_response())
}

/// `GET /v1/collections/{collection}/records/{id}`.
pub async fn read(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::View,
            Target::record(&collection, &id),
            &peer,
            &headers,
        )
        .await?;
    let view = st.vault.get(&permit, &collection, &id).await?;
    Ok(Json(Disclosed(&view)).into_response())
}

/// `PATCH /v1/collections/{collection}/records/{id}`.
pub async fn update(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::Modify,
            Target::record(&collection, &id),
            &peer,
            &headers,
        )
        .await?;
    let fields = match body.remove("fields") {
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "field `fields` must be an object",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "missing_field",
                "field `fields` is required",
            ));
        }
    };
    if !body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "request body may contain only `fields`",
        ));
    }
    let view = st.vault.patch(&permit, &collection, &id, fields).await?;
    Ok(Json(Disclosed(&view)).into_response())
}

/// `DELETE /v1/collections/{collection}/records/{id}`.
pub async fn remove(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::Delete,
            Target::record(&collection, &id),
            &peer,
            &headers,
        )
        .await?;
    st.vault.delete(&permit, &collection, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/collections/{collection}/search`.
pub async fn search(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(collection): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            Action::Search,
            Target::collection(&collection),
            &peer,
            &headers,
        )
        .await?;
    let req = SearchRequest::parse(body)?;
    let records = st.vault.search(&permit, &collection, req).await?;
    let out: Vec<Disclosed<'_>> = records.iter().map(Disclosed).collect();
    Ok(Json(json!({ "records": out })).into_response())
}
