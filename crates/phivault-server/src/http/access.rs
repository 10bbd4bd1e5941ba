//! Access-control API: users, roles, tokens, sessions, care teams and
//! break-glass. Every handler goes through [`AppState::decide`] like the
//! record handlers do; managing users and roles needs the custom permissions
//! `manage_users:users` / `manage_roles:roles` (or an admin role).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use phivault_core::ids::RecordId;
use phivault_core::policy::{Action, BREAK_GLASS_VERB, Principal, Role, SESSION_VERB};
use phivault_core::token;
use phivault_store::{BreakGlassRow, ErrorKind, TokenKind, TokenRow, UserRow};
use serde_json::{Value, json};

use super::auth::Auth;
use super::body::JsonObject;
use super::{ApiError, AppState, Target};
use crate::access::Alert;
use crate::clock::{micros, rfc3339_micros};
use crate::vault::VaultError;

type Peer = ConnectInfo<SocketAddr>;

fn custom(verb: &str) -> Action {
    Action::Custom(verb.to_owned())
}

pub(super) fn store_err(e: phivault_store::StoreError) -> ApiError {
    ApiError::from(VaultError::Store(e))
}

pub(super) fn bad(field: &str, problem: &str) -> ApiError {
    ApiError::bad_request("invalid_request", format!("field `{field}` {problem}"))
}

/// A user id: 1-128 characters of letters, digits and `.`, `_`, `@`, `+`, `-`.
fn valid_user_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_@+".contains(c))
}

fn string_list(
    body: &mut serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    match body.remove(field) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad(field, "must be an array of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(field, "must be an array of strings")),
    }
}

pub(super) fn only(body: &serde_json::Map<String, Value>, allowed: &str) -> Result<(), ApiError> {
    match body.keys().next() {
        Some(_) => Err(ApiError::bad_request(
            "unknown_field",
            format!("the body has a member that is not accepted here (accepted: {allowed})"),
        )),
        None => Ok(()),
    }
}

fn known_roles(st: &AppState, roles: &[String]) -> Result<(), ApiError> {
    match roles.iter().find(|r| !st.roles.contains(r)) {
        Some(r) => Err(ApiError::bad_request(
            "unknown_role",
            format!("field `roles`: role `{r}` does not exist"),
        )),
        None => Ok(()),
    }
}

/// `POST /v1/users` `{"id", "display_name", "roles"}`.
pub async fn create_user(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom("manage_users"),
            Target::collection("users"),
            &peer,
            &headers,
        )
        .await?;
    let id = match body.remove("id") {
        Some(Value::String(s)) if valid_user_id(&s) => s,
        Some(_) => return Err(bad("id", "must be 1-128 letters, digits or `.-_@+`")),
        None => {
            return Err(ApiError::bad_request(
                "missing_field",
                "field `id` is required",
            ));
        }
    };
    let display_name = match body.remove("display_name") {
        Some(Value::String(s))
            if (1..=256).contains(&s.chars().count()) && !s.chars().any(char::is_control) =>
        {
            s
        }
        None => id.clone(),
        Some(_) => return Err(bad("display_name", "must be 1-256 printable characters")),
    };
    let roles = string_list(&mut body, "roles")?.unwrap_or_default();
    only(&body, "`id`, `display_name`, `roles`")?;
    known_roles(&st, &roles)?;
    let user = UserRow {
        id: id.clone(),
        display_name,
        roles,
        disabled: false,
        created_at: micros(st.vault.clock().now()),
    };
    match st.vault.store().insert_user(user).await {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::Conflict => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "field `id`: user already exists",
            ));
        }
        Err(e) => return Err(store_err(e)),
    }
    st.security_event(&permit, "user_created", format!("/v1/users/{id}"), |_| {})
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

/// `PATCH /v1/users/{id}` `{"roles"?, "disabled"?}`. Disabling revokes every
/// token and session of the user at once.
pub async fn update_user(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom("manage_users"),
            Target::collection("users"),
            &peer,
            &headers,
        )
        .await?;
    let roles = string_list(&mut body, "roles")?;
    let disabled = match body.remove("disabled") {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => return Err(bad("disabled", "must be true or false")),
    };
    only(&body, "`roles`, `disabled`")?;
    if let Some(r) = &roles {
        known_roles(&st, r)?;
    }
    let store = st.vault.store();
    if !store
        .update_user(&id, roles, disabled)
        .await
        .map_err(store_err)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "user not found",
        ));
    }
    let u = store
        .get_user(&id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "user not found"))?;
    let action = if u.disabled {
        "user_disabled"
    } else {
        "user_changed"
    };
    st.security_event(&permit, action, format!("/v1/users/{}", u.id), |_| {})
        .await?;
    Ok(Json(json!({"id": u.id, "display_name": u.display_name, "roles": u.roles, "disabled": u.disabled})).into_response())
}

/// `PUT /v1/roles/{name}`: the seed's role format plus extensions.
pub async fn put_role(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom("manage_roles"),
            Target::collection("roles"),
            &peer,
            &headers,
        )
        .await?;
    match body.get("role") {
        None => {
            body.insert("role".into(), Value::String(name.clone()));
        }
        Some(Value::String(r)) if *r == name => {}
        Some(_) => return Err(bad("role", "must match the role name in the path")),
    }
    let json = Value::Object(body).to_string();
    let role =
        Role::from_json(&json).map_err(|e| ApiError::bad_request("invalid_role", e.to_string()))?;
    let now = micros(st.vault.clock().now());
    st.vault
        .store()
        .put_role(&name, &json, now)
        .await
        .map_err(store_err)?;
    st.security_event(&permit, "role_changed", format!("/v1/roles/{name}"), |_| {})
        .await?;
    st.roles.put(role);
    let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    Ok(Json(v).into_response())
}

/// `GET /v1/roles`.
pub async fn list_roles(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    st.decide(
        &p,
        custom("manage_roles"),
        Target::collection("roles"),
        &peer,
        &headers,
    )
    .await?;
    let roles: Vec<Value> = st
        .vault
        .store()
        .list_roles()
        .await
        .map_err(store_err)?
        .into_iter()
        .filter_map(|(_, spec)| serde_json::from_str(&spec).ok())
        .collect();
    Ok(Json(json!({"roles": roles})).into_response())
}

async fn issue(
    st: &AppState,
    principal: &str,
    admin: bool,
    kind: TokenKind,
) -> Result<(zeroize::Zeroizing<String>, Option<i64>), ApiError> {
    let t = token::issue().map_err(|_| ApiError::from(VaultError::Crypto))?;
    let now = micros(st.vault.clock().now());
    let expires_at = (kind == TokenKind::Session).then(|| {
        now.saturating_add(
            i64::try_from(st.config.session_lifetime.as_micros()).unwrap_or(i64::MAX),
        )
    });
    st.vault
        .store()
        .insert_token(TokenRow {
            id: t.id,
            hash: t.hash.to_vec(),
            principal: principal.to_owned(),
            admin,
            created_at: now,
            disabled: false,
            kind,
            expires_at,
            last_used_at: Some(now),
        })
        .await
        .map_err(store_err)?;
    Ok((t.text, expires_at))
}

/// `POST /v1/users/{id}/tokens` → 201 `{"token"}`, shown once.
pub async fn create_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom("manage_users"),
            Target::collection("users"),
            &peer,
            &headers,
        )
        .await?;
    let user = st.vault.store().get_user(&id).await.map_err(store_err)?;
    if user.is_none_or(|u| u.disabled) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "user not found or disabled",
        ));
    }
    let (text, _) = issue(&st, &id, false, TokenKind::Api).await?;
    st.security_event(
        &permit,
        "token_issued",
        format!("/v1/users/{id}/tokens"),
        |_| {},
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"token": text.as_str()}))).into_response())
}

/// `POST /v1/sessions`: exchanges a token for a session token.
pub async fn open_session(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom(SESSION_VERB),
            Target::collection(""),
            &peer,
            &headers,
        )
        .await?;
    let (text, expires_at) = issue(&st, &p.id, p.admin, TokenKind::Session).await?;
    st.security_event(&permit, "session_opened", "/v1/sessions".into(), |_| {})
        .await?;
    let expires_at = expires_at.map(rfc3339_micros);
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": text.as_str(), "expires_at": expires_at})),
    )
        .into_response())
}

/// `DELETE /v1/sessions/current`: logs off.
pub async fn close_session(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(auth): Extension<Auth>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom(SESSION_VERB),
            Target::collection(""),
            &peer,
            &headers,
        )
        .await?;
    if auth.kind != TokenKind::Session {
        return Err(ApiError::bad_request(
            "not_a_session",
            "this token is not a session",
        ));
    }
    st.vault
        .store()
        .disable_token(&p.token_id)
        .await
        .map_err(store_err)?;
    st.security_event(
        &permit,
        "session_closed",
        "/v1/sessions/current".into(),
        |_| {},
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn patient_exists(st: &AppState, id: &str) -> Result<(), ApiError> {
    let found = RecordId::parse(id).is_ok()
        && st
            .vault
            .store()
            .get_record("patients", id)
            .await
            .map_err(store_err)?
            .is_some();
    if found {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "patient not found",
        ))
    }
}

/// `PUT /v1/collections/patients/records/{id}/care-team` `{"users": [...]}`.
pub async fn put_care_team(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let permit = st
        .decide(
            &p,
            custom("assign_care_team"),
            Target::record("patients", &id),
            &peer,
            &headers,
        )
        .await?;
    let users = string_list(&mut body, "users")?
        .ok_or_else(|| ApiError::bad_request("missing_field", "field `users` is required"))?;
    only(&body, "`users`")?;
    if users.iter().any(|u| !valid_user_id(u)) {
        return Err(bad("users", "must hold user ids"));
    }
    patient_exists(&st, &id).await?;
    st.vault
        .store()
        .set_care_team(&id, users.clone())
        .await
        .map_err(store_err)?;
    st.security_event(
        &permit,
        "care_team_changed",
        format!("/v1/collections/patients/records/{id}/care-team"),
        |e| e.patient_id = Some(id.clone()),
    )
    .await?;
    Ok(Json(json!({"patient_id": id, "users": users})).into_response())
}

/// Shortest accepted break-glass justification, in characters.
const MIN_REASON: usize = 20;

/// `POST /v1/break-glass` `{"patient_id", "reason"}`.
pub async fn break_glass(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: Peer,
    headers: HeaderMap,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let patient_id = match body.remove("patient_id") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("patient_id", "must be a string")),
        None => {
            return Err(ApiError::bad_request(
                "missing_field",
                "field `patient_id` is required",
            ));
        }
    };
    let reason = match body.remove("reason") {
        Some(Value::String(s)) if s.trim().chars().count() >= MIN_REASON => s,
        Some(Value::String(_)) => {
            return Err(bad(
                "reason",
                "must give a justification of at least 20 characters",
            ));
        }
        Some(_) => return Err(bad("reason", "must be a string")),
        None => {
            return Err(ApiError::bad_request(
                "missing_field",
                "field `reason` is required",
            ));
        }
    };
    only(&body, "`patient_id`, `reason`")?;
    let permit = st
        .decide(
            &p,
            custom(BREAK_GLASS_VERB),
            Target::record("patients", &patient_id),
            &peer,
            &headers,
        )
        .await?;
    patient_exists(&st, &patient_id).await?;
    let now = st.vault.clock().now();
    let expires = now.checked_add(st.config.break_glass).unwrap_or(now);
    let id = RecordId::generate().map_err(|_| ApiError::from(VaultError::Crypto))?;
    st.vault
        .store()
        .insert_break_glass(BreakGlassRow {
            id: id.as_str().to_owned(),
            user_id: p.id.clone(),
            patient_id: patient_id.clone(),
            reason,
            granted_at: micros(now),
            expires_at: micros(expires),
        })
        .await
        .map_err(store_err)?;
    st.security_event(
        &permit,
        "break_glass_granted",
        "/v1/break-glass".into(),
        |e| {
            e.patient_id = Some(patient_id.clone());
            e.flags.push("break_glass".into());
        },
    )
    .await?;
    st.alerts.raise(Alert {
        kind: "break_glass_granted",
        user: p.id.clone(),
        patient_id: Some(patient_id.clone()),
        at: now.to_string(),
    });
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id.as_str(), "patient_id": patient_id, "expires_at": rfc3339_micros(micros(expires))})),
    )
        .into_response())
}
