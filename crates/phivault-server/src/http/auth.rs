//! Authentication: `Authorization: Bearer <token>` to a [`Principal`].
//!
//! Runs on every `/v1` route as a route layer; handlers read the principal
//! from request extensions. The stored hash is compared in constant time.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use phivault_core::policy::Principal;
use phivault_core::token::PresentedToken;

use phivault_store::TokenKind;

use super::limits::FailKey;
use super::{ApiError, AppState};
use crate::clock::micros;

/// Authenticates the request or answers 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let text = bearer(req.headers()).ok_or_else(ApiError::unauthorized)?;
    let parsed = PresentedToken::parse(text.trim());
    let keys = fail_keys(&state, &req, parsed.as_ref().ok().map(|p| p.id()));
    let now = micros(state.vault.clock().now());
    if let Some((_, wait)) = state.limits.locked(&keys, now) {
        return Err(Locked(wait).into());
    }
    let Ok(presented) = parsed else {
        let events = failure_events(&state, &req, &keys, None, "malformed_token");
        return Err(refuse(&state, events).await);
    };
    let found = state
        .vault
        .store()
        .token_and_user(presented.id())
        .await
        .map_err(|e| ApiError::from(crate::vault::VaultError::Store(e)))?;
    let Some((row, user)) = found else {
        let events = failure_events(&state, &req, &keys, None, "unknown_token");
        return Err(refuse(&state, events).await);
    };
    if row.disabled || !presented.matches(&row.hash) {
        let reason = if row.disabled {
            "token_disabled"
        } else {
            "bad_secret"
        };
        let events = failure_events(&state, &req, &keys, Some(&row.principal), reason);
        return Err(refuse(&state, events).await);
    }
    state.limits.succeeded(&keys, now);
    let store_err = |e| ApiError::from(crate::vault::VaultError::Store(e));
    let kind = row.kind;
    if row.admin {
        // The bootstrap administrator token from `init`.
        let p = Principal {
            id: row.principal,
            token_id: row.id,
            admin: true,
            roles: Vec::new(),
        };
        super::breach::enforce(&state, &req, &p).await?;
        req.extensions_mut().insert(Auth { kind });
        req.extensions_mut().insert(p);
        return Ok(next.run(req).await);
    }
    let Some(user) = user.filter(|u| !u.disabled) else {
        let events = failure_events(&state, &req, &keys, Some(&row.principal), "user_disabled");
        return Err(refuse(&state, events).await);
    };
    match kind {
        TokenKind::Session => {
            let idle = state.config.session_idle.as_micros();
            let last = row.last_used_at.unwrap_or(row.created_at);
            let expired = row.expires_at.is_some_and(|e| now >= e)
                || i128::from(now) - i128::from(last) >= idle;
            if expired {
                let e = auth_event_of(&state, &req, &user.id, "session_expired", "session_expired");
                record_quiet(&state, e).await;
                return Err(ApiError::session_expired());
            }
            // Record use for the idle timeout, at most every 30 s per session.
            if now - last >= TOUCH_EVERY_MICROS {
                state
                    .vault
                    .store()
                    .touch_token(&row.id, now)
                    .await
                    .map_err(store_err)?;
            }
        }
        // A user's API token only opens sessions: every human access runs in a
        // session with automatic logoff.
        TokenKind::Api if !is_session_open(&req) => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "session_required",
                "exchange this token for a session at POST /v1/sessions",
            ));
        }
        TokenKind::Api => {}
    }
    let p = Principal {
        roles: state.roles.resolve(&user.roles),
        id: user.id,
        token_id: row.id,
        admin: false,
    };
    super::breach::enforce(&state, &req, &p).await?;
    req.extensions_mut().insert(Auth { kind });
    req.extensions_mut().insert(p);
    Ok(next.run(req).await)
}

/// The presented token: `Authorization: Bearer T`, or, for a browser WebSocket (which cannot
/// set headers), the subprotocol list `phivault.bearer, phivault.bearer.T` (the server
/// selects `phivault.bearer`; the token never goes into a URL or an access log).
fn bearer(h: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = h.get(AUTHORIZATION) {
        return v.to_str().ok()?.strip_prefix("Bearer ").map(str::to_owned);
    }
    let prefix = format!("{}.", super::telehealth::BEARER_PROTOCOL);
    h.get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(prefix.as_str()).map(str::to_owned))
}

const TOUCH_EVERY_MICROS: i64 = 30_000_000;

/// 429 while a lockout lasts; the seconds left go in `Retry-After`.
struct Locked(u64);

impl From<Locked> for ApiError {
    fn from(l: Locked) -> Self {
        let mut e = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "auth_locked_out",
            "too many failed authentications; retry later",
        );
        e.retry_after = Some(l.0);
        e
    }
}

/// What failures are counted against: the client address and, when the
/// token parses, its id.
fn fail_keys(state: &AppState, req: &Request, token_id: Option<&str>) -> Vec<FailKey> {
    let mut keys = Vec::with_capacity(2);
    if let Some(peer) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        let ip = super::client_ip(peer, req.headers(), &state.config.trusted_proxies);
        keys.push(FailKey::Addr(ip));
    }
    if let Some(id) = token_id {
        keys.push(FailKey::Token(id.to_owned()));
    }
    keys
}

/// Counts a failed authentication and starts a lockout when one is due;
/// returns the events to record (the failure, for a known principal, and
/// each lockout started). Synchronous: the request is not held across an
/// await.
fn failure_events(
    state: &AppState,
    req: &Request,
    keys: &[FailKey],
    principal: Option<&str>,
    reason: &'static str,
) -> Vec<phivault_audit::Event> {
    crate::metrics::count_auth_failure(reason);
    let mut events = Vec::new();
    if let Some(p) = principal {
        events.extend(auth_event_of(
            state,
            req,
            p,
            "authentication_failed",
            reason,
        ));
    }
    let now = micros(state.vault.clock().now());
    for k in state.limits.failed(keys, now) {
        crate::metrics::count_lockout(k.kind());
        tracing::warn!(locked = k.kind(), "authentication lockout started");
        events.extend(auth_event_of(
            state,
            req,
            principal.unwrap_or("anonymous"),
            "authentication_locked_out",
            k.kind(),
        ));
    }
    events
}

/// Records the events of a refused authentication and answers 401.
async fn refuse(state: &AppState, events: Vec<phivault_audit::Event>) -> ApiError {
    for e in events {
        record_quiet(state, Some(e)).await;
    }
    ApiError::unauthorized()
}

/// Records a refused authentication of a known token's user (best effort:
/// the request is refused either way).
async fn record_quiet(state: &AppState, e: Option<phivault_audit::Event>) {
    if let Some(e) = e
        && let Err(err) = state.record(e).await
    {
        tracing::error!(error = %err.code, "audit: authentication event not recorded");
    }
}

fn auth_event_of(
    state: &AppState,
    req: &Request,
    user: &str,
    action: &str,
    reason: &str,
) -> Option<phivault_audit::Event> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?;
    let who = state.who(user, peer, req.headers()).ok()?;
    let path = req.uri().path().to_owned();
    let mut e = who.event(
        state.vault.clock().now(),
        action,
        path,
        phivault_audit::Outcome::Denied,
    );
    e.reason = Some(reason.to_owned());
    Some(e)
}

/// How the request authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    /// API token or session.
    pub kind: TokenKind,
}

fn is_session_open(req: &Request) -> bool {
    req.method() == axum::http::Method::POST && req.uri().path() == "/v1/sessions"
}
