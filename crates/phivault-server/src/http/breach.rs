//! Containment API for incident responders (`respond:incidents`):
//! lockdowns (`/v1/lockdown`) and incidents (`/v1/incidents`), and the
//! per-request lockdown check [`enforce`] the authentication layer runs.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use phivault_breach::incident::StepKind;
use phivault_breach::lockdown::{RequestFacts, Scope};
use phivault_breach::rules::Severity;
use phivault_core::policy::{Action, Decision, Principal};
use serde_json::{Value, json};

use super::access::{bad, only, store_err};
use super::body::JsonObject;
use super::{ApiError, AppState, Target, client_ip};
use crate::breach::contain::{self, ContainError, Restored};
use crate::breach::incident::{self as inc, IncidentError};
use crate::vault::Permit;

type Peer = ConnectInfo<SocketAddr>;

/// The permission incident responders hold.
pub const RESPOND: &str = "respond";
/// Its pseudo-collection.
pub const INCIDENTS: &str = "incidents";

fn contain_err(e: ContainError) -> ApiError {
    match e {
        ContainError::Store(e) => store_err(e),
        ContainError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no active lockdown with this id",
        ),
        ContainError::Reason => bad("reason", "must be 1-200 printable characters"),
        ContainError::Refused(why) => ApiError::forbidden("restore_refused", &why.to_string()),
    }
}

fn incident_err(e: IncidentError) -> ApiError {
    match e {
        IncidentError::Store(e) => store_err(e),
        IncidentError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no incident with this id",
        ),
        IncidentError::Invalid(m) => ApiError::bad_request("invalid_request", m),
        IncidentError::Damaged => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "incident_damaged",
            "the stored incident is damaged",
        ),
    }
}

async fn responder(
    st: &AppState,
    p: &Principal,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<Permit, ApiError> {
    st.decide(
        p,
        Action::Custom(RESPOND.into()),
        Target::collection(INCIDENTS),
        peer,
        headers,
    )
    .await
}

fn text(
    body: &mut serde_json::Map<String, Value>,
    field: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match body.remove(field) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(field, "must be a string")),
        None if required => Err(ApiError::bad_request(
            "missing_field",
            format!("field `{field}` is required"),
        )),
        None => Ok(None),
    }
}

/// The collection a request path addresses, if any.
fn collection_of(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/collections/")
        .and_then(|r| r.split('/').next())
        .filter(|c| !c.is_empty())
}

/// Refuses a request that an active lockdown covers (403 `locked_down`,
/// recorded as a denial). Responders keep access under vault-wide and
/// collection lockdowns; user, token and address lockdowns bind everyone.
pub fn enforce<'a>(
    st: &'a AppState,
    req: &Request,
    p: &'a Principal,
) -> impl Future<Output = Result<(), ApiError>> + Send + 'a {
    // Only owned copies go into the future (the request's body is not
    // `Sync`), and only while some lockdown is active.
    let facts = st
        .breach
        .any_active()
        .then(|| req.extensions().get::<Peer>().cloned())
        .flatten()
        .map(|peer| (peer, req.headers().clone(), req.uri().path().to_owned()));
    async move {
        match facts {
            Some((peer, headers, path)) => enforce_at(st, &peer, &headers, &path, p).await,
            None => Ok(()),
        }
    }
}

async fn enforce_at(
    st: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
    path: &str,
    p: &Principal,
) -> Result<(), ApiError> {
    let ip = client_ip(peer, headers, &st.config.trusted_proxies);
    let now = st.vault.clock().now();
    let responder = p.admin
        || matches!(
            st.evaluate(
                p,
                &Action::Custom(RESPOND.into()),
                Target::collection(INCIDENTS),
                ip,
                now
            )
            .await,
            Ok(Decision::Allow { .. })
        );
    let token = format!("pv_{}", p.token_id);
    let facts = RequestFacts {
        user: &p.id,
        token: Some(&token),
        ip,
        collection: collection_of(path),
        responder,
    };
    let Some(l) = st.breach.check(&facts) else {
        return Ok(());
    };
    if let Ok(mut who) = st.who(&p.id, peer, headers) {
        who.token = Some(token.clone());
        let mut e = who.event(
            now,
            "request_refused",
            path.to_owned(),
            phivault_audit::Outcome::Denied,
        );
        e.reason = Some("locked_down".into());
        e.flags = vec![format!("lockdown:{}", l.id)];
        if let Err(err) = st.record(e).await {
            tracing::error!(error = %err.code, "audit: lockdown refusal not recorded");
        }
    }
    Err(ApiError::forbidden(
        "locked_down",
        "access is suspended by an incident lockdown",
    ))
}

fn lockdown_json(r: &phivault_store::LockdownRow) -> Value {
    json!({
        "id": r.id,
        "scope": r.scope,
        "reason": r.reason,
        "incident_id": r.incident_id,
        "created_by": r.created_by,
        "created_at": crate::clock::rfc3339_micros(r.created_at),
        "lift_requested_by": r.lift_requested_by,
    })
}

/// `POST /v1/lockdown` `{"scope": "user:ID" | "token:ID" | "ip:CIDR" |
/// "collection:NAME" | "vault", "reason": TEXT, "incident_id"?: ID}`.
pub async fn isolate(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = responder(&st, &p, &peer, &headers).await?;
    let scope: Scope = text(&mut body, "scope", true)?
        .unwrap_or_default()
        .parse()
        .map_err(|_| {
            bad(
                "scope",
                "must be `vault`, `user:ID`, `token:ID`, `ip:CIDR` or `collection:NAME`",
            )
        })?;
    let reason = inc::scrub(&text(&mut body, "reason", true)?.unwrap_or_default());
    let incident_id = text(&mut body, "incident_id", false)?;
    only(&body, "scope, reason, incident_id")?;
    let now = st.vault.clock().now();
    if let Some(id) = &incident_id {
        // The incident must exist before anything is locked in its name.
        inc::load(st.vault.store().as_ref(), id)
            .await
            .map_err(incident_err)?;
    }
    let done = contain::isolate(
        st.vault.store().as_ref(),
        &scope,
        &reason,
        incident_id.clone(),
        &permit.who,
        now,
    )
    .await
    .map_err(contain_err)?;
    st.breach.refresh().await.map_err(store_err)?;
    st.record(done.event).await?;
    if let Some(id) = &incident_id {
        let (_, e) = inc::add_step(
            st.vault.store().as_ref(),
            id,
            StepKind::Isolated,
            &done.row.id,
            &permit.who,
            now,
        )
        .await
        .map_err(incident_err)?;
        st.record(e).await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "lockdown": lockdown_json(&done.row),
            "sessions_revoked": done.sessions_revoked,
        })),
    )
        .into_response())
}

/// `GET /v1/lockdown`: the active lockdowns.
pub async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    responder(&st, &p, &peer, &headers).await?;
    let rows = st
        .vault
        .store()
        .active_lockdowns()
        .await
        .map_err(store_err)?;
    let items: Vec<Value> = rows.iter().map(lockdown_json).collect();
    Ok(Json(json!({ "lockdowns": items })).into_response())
}

/// `POST /v1/lockdown/{id}/lift`: lifts it (200), or, when two responders
/// are required, records the first (202 `pending_second_responder`).
pub async fn lift(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let permit = responder(&st, &p, &peer, &headers).await?;
    let now = st.vault.clock().now();
    let two = st.breach.config().restore_requires_two;
    let outcome = contain::restore(st.vault.store().as_ref(), &id, &permit.who, now, two)
        .await
        .map_err(contain_err)?;
    match outcome {
        Restored::Lifted(e) => {
            st.breach.refresh().await.map_err(store_err)?;
            st.record(e).await?;
            Ok(Json(json!({"id": id, "lifted": true})).into_response())
        }
        Restored::Pending(e) => {
            st.record(e).await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"id": id, "lifted": false, "status": "pending_second_responder"})),
            )
                .into_response())
        }
    }
}

/// `POST /v1/incidents` `{"severity": low|medium|high|critical, "summary": TEXT}`.
pub async fn declare(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = responder(&st, &p, &peer, &headers).await?;
    let severity: Severity = crate::breach::incident::parse_name(
        &text(&mut body, "severity", true)?.unwrap_or_default(),
    )
    .ok_or_else(|| bad("severity", "must be low, medium, high or critical"))?;
    let summary = text(&mut body, "summary", true)?.unwrap_or_default();
    only(&body, "severity, summary")?;
    let now = st.vault.clock().now();
    let (incident, e) = inc::declare(
        st.vault.store().as_ref(),
        severity,
        &summary,
        &permit.who,
        now,
    )
    .await
    .map_err(incident_err)?;
    st.record(e).await?;
    Ok((StatusCode::CREATED, Json(json!({"incident": incident}))).into_response())
}

/// `GET /v1/incidents/{id}`: the incident, its timeline and deadlines.
pub async fn show(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    responder(&st, &p, &peer, &headers).await?;
    let (incident, row) = inc::load(st.vault.store().as_ref(), &id)
        .await
        .map_err(incident_err)?;
    let now = crate::clock::micros(st.vault.clock().now());
    let deadlines = phivault_breach::incident::deadlines(&incident, now);
    Ok(
        Json(json!({"incident": incident, "status": row.status, "deadlines": deadlines}))
            .into_response(),
    )
}

/// `POST /v1/incidents/{id}/steps` `{"kind": STEP, "detail"?: TEXT}`.
pub async fn step(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = responder(&st, &p, &peer, &headers).await?;
    let kind: StepKind =
        crate::breach::incident::parse_name(&text(&mut body, "kind", true)?.unwrap_or_default())
            .ok_or_else(|| bad("kind", "is not a step kind"))?;
    let detail = text(&mut body, "detail", false)?.unwrap_or_default();
    only(&body, "kind, detail")?;
    let now = st.vault.clock().now();
    let (incident, e) = inc::add_step(
        st.vault.store().as_ref(),
        &id,
        kind,
        &detail,
        &permit.who,
        now,
    )
    .await
    .map_err(incident_err)?;
    st.record(e).await?;
    Ok(Json(json!({"incident": incident})).into_response())
}
