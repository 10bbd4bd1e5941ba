//! Telehealth calls: `/v1/telehealth/sessions…` (see [`crate::telehealth`]).
//!
//! Who may do what:
//! - creating a call needs `telehealth:patients` on the patient's record from the decision point
//!   (time windows, IP ranges, care team and break-glass apply);
//! - a clinician of the call passes the same decision, for that patient, on *every* request
//!   (so leaving the care team or a time window ends their access to the call);
//! - the call's `patient_user` is admitted by membership alone: the creator's decision on the
//!   patient's record is what lets them in (patients hold no roles);
//! - anyone else gets 403 `not_participant`, for an unknown call too (ids cannot be probed).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use phivault_audit::Outcome;
use phivault_core::policy::{Action, Principal};
use phivault_telehealth::{KeyPackage, PublicKey};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::JsonObject;
use super::{ApiError, AppState, Target};
use crate::audit::Who;
use crate::telehealth::{self as tele, CallError, Membership, NewCall, Notice, Registry};

/// The custom verb a call's creator and clinicians need on the patient's record.
pub const VERB: &str = "telehealth";
/// Longest call a creator may schedule, in seconds.
const MAX_CALL_SECS: i64 = 24 * 3600;
/// The WebSocket subprotocol a browser selects to carry its session token.
pub const BEARER_PROTOCOL: &str = "phivault.bearer";

fn call_err(e: CallError) -> ApiError {
    let msg = e.to_string();
    match e {
        CallError::NotParticipant => ApiError::forbidden("not_participant", &msg),
        CallError::Expired => ApiError::new(StatusCode::GONE, "call_expired", msg),
        CallError::Invalid(_) => ApiError::bad_request("invalid_request", msg),
        CallError::Full => ApiError::new(StatusCode::CONFLICT, "call_full", msg),
    }
}

fn now_secs(st: &AppState) -> i64 {
    st.vault.clock().now().as_second()
}

fn resource(id: &str) -> String {
    format!("/v1/telehealth/sessions/{id}")
}

fn parse<T: serde::de::DeserializeOwned>(
    body: serde_json::Map<String, Value>,
) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(body)).map_err(|_| {
        // serde's messages quote what was sent (`invalid type: string "…"`,
        // unknown keys), which may be PHI: only the shape is named.
        ApiError::bad_request(
            "invalid_request",
            "request body does not have the expected members and types",
        )
    })
}

/// A caller admitted to a call.
struct Admitted {
    who: Who,
    patient_id: String,
    membership: Membership,
}

/// Membership, then the decision point for clinicians; refusals are audited.
async fn admit(
    st: &AppState,
    p: &Principal,
    id: &str,
    peer: &ConnectInfo<SocketAddr>,
    headers: &HeaderMap,
) -> Result<Admitted, ApiError> {
    let now = now_secs(st);
    let found = st
        .telehealth
        .with_member(id, &p.id, now, |c, m| Ok((m, c.patient_id.clone())));
    let (membership, patient_id) = match found {
        Ok(v) => v,
        Err(e) => {
            let who = st.who(&p.id, peer, headers)?;
            let mut ev = who.event(
                st.vault.clock().now(),
                "telehealth_denied",
                resource(id),
                Outcome::Denied,
            );
            ev.reason = Some(
                match e {
                    CallError::Expired => "call_expired",
                    _ => "not_participant",
                }
                .into(),
            );
            st.record(ev).await?;
            return Err(call_err(e));
        }
    };
    let who = match membership {
        Membership::Clinician => {
            st.decide(
                p,
                Action::Custom(VERB.into()),
                Target::record("patients", &patient_id),
                peer,
                headers,
            )
            .await?
            .who
        }
        Membership::Patient => st.who(&p.id, peer, headers)?,
    };
    Ok(Admitted {
        who,
        patient_id,
        membership,
    })
}

async fn event(
    st: &AppState,
    a: &Admitted,
    action: &str,
    resource: String,
    device: Option<&str>,
) -> Result<(), ApiError> {
    let mut e = a
        .who
        .event(st.vault.clock().now(), action, resource, Outcome::Success);
    e.patient_id = Some(a.patient_id.clone());
    if let Some(d) = device {
        e.context.device_id = Some(d.to_owned());
    }
    st.record(e).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    patient_id: String,
    clinician_ids: Vec<String>,
    #[serde(default)]
    patient_user: Option<String>,
    expires_at: String,
}

/// `POST /v1/telehealth/sessions`.
pub async fn create(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let patient_id = body
        .get("patient_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "field `patient_id` is required"))?
        .to_owned();
    let permit = st
        .decide(
            &p,
            Action::Custom(VERB.into()),
            Target::record("patients", &patient_id),
            &peer,
            &headers,
        )
        .await?;
    let b: CreateBody = parse(body)?;
    let store_err = |e| ApiError::from(crate::vault::VaultError::Store(e));
    if st
        .vault
        .store()
        .get_record("patients", &b.patient_id)
        .await
        .map_err(store_err)?
        .is_none()
    {
        return Err(crate::vault::VaultError::NotFound.into());
    }
    let now = now_secs(&st);
    let expires_at = b
        .expires_at
        .parse::<jiff::Timestamp>()
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_request",
                "field `expires_at` must be an RFC 3339 time",
            )
        })?
        .as_second();
    if expires_at <= now || expires_at - now > MAX_CALL_SECS {
        return Err(ApiError::bad_request(
            "invalid_request",
            "field `expires_at` must be in the next 24 hours",
        ));
    }
    if b.clinician_ids.is_empty() || b.clinician_ids.len() > tele::MAX_CLINICIANS {
        return Err(ApiError::bad_request(
            "invalid_request",
            "field `clinician_ids` must list 1 to 16 users",
        ));
    }
    for u in b.clinician_ids.iter().chain(b.patient_user.iter()) {
        let ok = st
            .vault
            .store()
            .get_user(u)
            .await
            .map_err(store_err)?
            .is_some_and(|row| !row.disabled);
        if !ok {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("user `{u}` does not exist or is disabled"),
            ));
        }
    }
    let id = st.telehealth.create(NewCall {
        patient_id: b.patient_id.clone(),
        patient_user: b.patient_user,
        clinicians: b.clinician_ids.into_iter().collect(),
        expires_at,
    });
    st.security_event(&permit, "telehealth_session_created", resource(&id), |e| {
        e.patient_id = Some(b.patient_id.clone());
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "expires_at": b.expires_at})),
    )
        .into_response())
}

/// `GET /v1/telehealth/sessions/{id}`: the roster (public keys), epoch and who rekeys next.
pub async fn show(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admit(&st, &p, &id, &peer, &headers).await?;
    let v = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            Ok(json!({
                "id": c.id,
                "patient_user": c.patient_user,
                "clinicians": c.clinicians,
                "roster": c.roster(),
                "epoch": c.epoch,
                "min_epoch": c.min_epoch,
                "rekey_by": c.rekey_by(),
            }))
        })
        .map_err(call_err)?;
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    public_key: PublicKey,
}

/// `POST /v1/telehealth/sessions/{id}/devices {"public_key"}` → `{"device_id"}`.
pub async fn add_device(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let a = admit(&st, &p, &id, &peer, &headers).await?;
    let b: DeviceBody = parse(body)?;
    let key = b.public_key.clone();
    let device = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            let d = tele::register_device(c, &p.id, b.public_key)?;
            Ok(d)
        })
        .map_err(call_err)?;
    event(&st, &a, "telehealth_joined", resource(&id), Some(&device)).await?;
    let _ = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            c.notify(Notice::server(json!({
                "type": "device_joined", "device": device, "user": p.id, "public_key": key,
            })));
            Ok(())
        });
    Ok((StatusCode::CREATED, Json(json!({"device_id": device}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackagesBody {
    device: String,
    packages: Vec<KeyPackage>,
}

/// `POST /v1/telehealth/sessions/{id}/key-packages {"device", "packages"}`.
pub async fn post_packages(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let a = admit(&st, &p, &id, &peer, &headers).await?;
    st.telehealth
        .record_relayed(Value::Object(body.clone()).to_string().as_bytes());
    let b: PackagesBody = parse(body)?;
    let count = b.packages.len();
    let sender = b.device.clone();
    let (new_epoch, recipients) = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            tele::queue_packages(c, &p.id, &b.device, b.packages)
        })
        .map_err(call_err)?;
    if let Some(n) = new_epoch {
        let res = format!("{}/epochs/{n}", resource(&id));
        event(&st, &a, "telehealth_epoch", res, Some(&sender)).await?;
    }
    let _ = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            for r in recipients {
                c.notify(Notice {
                    to: Some(r),
                    from_device: Some(sender.clone()),
                    text: json!({"type": "key_packages", "from_device": sender}).to_string(),
                    close: Vec::new(),
                });
            }
            Ok(())
        });
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": count}))).into_response())
}

/// `?device=`.
#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    device: Option<String>,
}

/// `GET /v1/telehealth/sessions/{id}/key-packages?device=D`: takes the packages for D.
pub async fn get_packages(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DeviceQuery>,
) -> Result<Response, ApiError> {
    admit(&st, &p, &id, &peer, &headers).await?;
    let device = q.device.unwrap_or_default();
    let packages = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            tele::take_packages(c, &p.id, &device)
        })
        .map_err(call_err)?;
    Ok(Json(json!({"packages": packages})).into_response())
}

/// `DELETE /v1/telehealth/sessions/{id}/participants/{user}`: clinicians remove anyone, a
/// patient only themselves. The remaining devices are told to start a new epoch.
pub async fn remove_participant(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let a = admit(&st, &p, &id, &peer, &headers).await?;
    if a.membership == Membership::Patient && user != p.id {
        return Err(ApiError::forbidden(
            "not_permitted",
            "a patient may only leave the call themselves",
        ));
    }
    let (gone, min_epoch, rekey_by, roster) = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            let gone = tele::remove_user(c, &user)?;
            Ok((gone, c.min_epoch, c.rekey_by(), c.roster()))
        })
        .map_err(call_err)?;
    let res = format!("{}/participants/{user}", resource(&id));
    if gone.is_empty() {
        event(&st, &a, "telehealth_left", res.clone(), None).await?;
    }
    for d in &gone {
        event(&st, &a, "telehealth_left", res.clone(), Some(d)).await?;
    }
    let notice = json!({
        "type": "participant_removed", "user": user, "devices": gone,
        "min_epoch": min_epoch, "rekey_by": rekey_by, "roster": roster,
    });
    // The caller may have removed themselves; notify through the registry directly.
    st.telehealth.notify_call(
        &id,
        Notice {
            close: gone.clone(),
            ..Notice::server(notice)
        },
    );
    Ok(Json(json!({
        "removed_devices": gone, "min_epoch": min_epoch, "rekey_by": rekey_by,
    }))
    .into_response())
}

/// `GET /v1/telehealth/sessions/{id}/signal?device=D` (WebSocket).
pub async fn signal(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DeviceQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    admit(&st, &p, &id, &peer, &headers).await?;
    let device = q.device.unwrap_or_default();
    let rx = st
        .telehealth
        .with_member(&id, &p.id, now_secs(&st), |c, _| {
            match c.devices.get(&device) {
                Some(d) if d.user == p.id => Ok(c.subscribe()),
                _ => Err(CallError::Invalid(
                    "query parameter `device` is not one of your devices in this call".into(),
                )),
            }
        })
        .map_err(call_err)?;
    let ws = ws.map_err(|_| {
        ApiError::bad_request("websocket_required", "this route takes a WebSocket upgrade")
    })?;
    let registry = Arc::clone(&st.telehealth);
    let clock = Arc::clone(st.vault.clock());
    Ok(ws
        .protocols([BEARER_PROTOCOL])
        .max_message_size(tele::signal::MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let link = Link {
                registry,
                call: id,
                user: p.id,
                device,
                clock,
            };
            link.run(socket, rx).await;
        }))
}

struct Link {
    registry: Arc<Registry>,
    call: String,
    user: String,
    device: String,
    clock: Arc<dyn crate::clock::Clock>,
}

impl Link {
    /// Still a device of a current participant of a live call.
    fn current(&self) -> bool {
        let now = self.clock.now().as_second();
        self.registry
            .with_member(&self.call, &self.user, now, |c, _| {
                Ok(c.devices.contains_key(&self.device))
            })
            .unwrap_or(false)
    }

    async fn run(
        self,
        mut socket: WebSocket,
        mut rx: tokio::sync::broadcast::Receiver<Arc<Notice>>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            tokio::select! {
                m = socket.recv() => match m {
                    Some(Ok(Message::Text(t))) => {
                        if !self.current() {
                            break;
                        }
                        match tele::signal::from_client(t.as_str(), &self.user, &self.device) {
                            Ok(n) => {
                                self.registry.record_relayed(t.as_bytes());
                                self.registry.notify_call(&self.call, n);
                            }
                            Err(e) => {
                                let err = json!({"type": "error", "message": e.to_string()});
                                if socket.send(Message::Text(err.to_string().into())).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                n = rx.recv() => match n {
                    Ok(n) => {
                        let closing = n.close.contains(&self.device);
                        if (closing || n.is_for(&self.device))
                            && socket.send(Message::Text(n.text.clone().into())).await.is_err()
                        {
                            break;
                        }
                        if closing {
                            let _ = socket.send(Message::Close(None)).await;
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let m = json!({"type": "lagged"}).to_string();
                        if socket.send(Message::Text(m.into())).await.is_err() {
                            break;
                        }
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
    }
}
