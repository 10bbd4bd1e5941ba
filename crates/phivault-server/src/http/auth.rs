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

use super::{ApiError, AppState};
use crate::clock::micros;

/// Authenticates the request or answers 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let text = bearer(req.headers()).ok_or_else(ApiError::unauthorized)?;
    let presented = PresentedToken::parse(text.trim()).map_err(|_| ApiError::unauthorized())?;
    let (row, user) = state
        .vault
        .store()
        .token_and_user(presented.id())
        .await
        .map_err(|e| ApiError::from(crate::vault::VaultError::Store(e)))?
        .ok_or_else(ApiError::unauthorized)?;
    if row.disabled || !presented.matches(&row.hash) {
        let reason = if row.disabled {
            "token_disabled"
        } else {
            "bad_secret"
        };
        let e = auth_event_of(
            &state,
            &req,
            &row.principal,
            "authentication_failed",
            reason,
        );
        record_quiet(&state, e).await;
        return Err(ApiError::unauthorized());
    }
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
        let e = auth_event_of(
            &state,
            &req,
            &row.principal,
            "authentication_failed",
            "user_disabled",
        );
        record_quiet(&state, e).await;
        return Err(ApiError::unauthorized());
    };
    let now = micros(state.vault.clock().now());
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
