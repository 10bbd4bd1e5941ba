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

use super::{ApiError, AppState};

/// Authenticates the request or answers 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let text = header
        .strip_prefix("Bearer ")
        .ok_or_else(ApiError::unauthorized)?;
    let presented = PresentedToken::parse(text.trim()).map_err(|_| ApiError::unauthorized())?;
    let row = state
        .vault
        .store()
        .get_token(presented.id())
        .await
        .map_err(|e| ApiError::from(crate::vault::VaultError::Store(e)))?
        .ok_or_else(ApiError::unauthorized)?;
    if row.disabled || !presented.matches(&row.hash) {
        return Err(ApiError::unauthorized());
    }
    req.extensions_mut().insert(Principal {
        id: row.principal,
        token_id: row.id,
        admin: row.admin,
        roles: Vec::new(),
    });
    Ok(next.run(req).await)
}
