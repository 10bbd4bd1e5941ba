//! API errors: `{"error": {"code", "message", "request_id"}}`.
//!
//! Handlers return [`ApiError`]; its response carries the error in an
//! extension and the request middleware renders the body (adding the request
//! id) and logs a 5xx's internal detail once. Messages name fields, never
//! values; 5xx messages are generic.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use phivault_core::record::RecordError;

use crate::vault::VaultError;

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message (no PHI).
    pub message: String,
    /// Internal detail for the server log (no PHI), for 5xx only.
    pub detail: Option<String>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    /// 401: the session passed its idle timeout or absolute lifetime.
    pub fn session_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "the session has expired; sign in again",
        )
    }

    /// 401: no valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 403 with the decision's reason.
    pub fn forbidden(code: &'static str, reason: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            code,
            format!("access denied: {reason}"),
        )
    }

    /// 500 with a generic message; `detail` goes to the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }

    /// 400 for a request member.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        let msg = e.to_string();
        match e {
            VaultError::Forbidden => {
                Self::forbidden("forbidden", "the grant does not cover this operation")
            }
            VaultError::FieldNotPermitted(_) => {
                Self::new(StatusCode::FORBIDDEN, "field_not_permitted", msg)
            }
            VaultError::UnknownCollection(_) => {
                Self::new(StatusCode::NOT_FOUND, "unknown_collection", msg)
            }
            VaultError::NotFound => Self::new(StatusCode::NOT_FOUND, "not_found", msg),
            VaultError::Shredded => Self::new(StatusCode::GONE, "shredded", msg),
            VaultError::Invalid(RecordError::UnknownField) => {
                Self::bad_request("unknown_field", msg)
            }
            VaultError::Invalid(RecordError::MissingRequired(_)) => {
                Self::bad_request("missing_field", msg)
            }
            VaultError::Invalid(RecordError::Value(_)) => Self::bad_request("invalid_value", msg),
            VaultError::Invalid(RecordError::Empty) | VaultError::BadRequest { .. } => {
                Self::bad_request("invalid_request", msg)
            }
            VaultError::NotSearchable(_) => Self::bad_request("not_searchable", msg),
            VaultError::Conflict => Self::new(StatusCode::CONFLICT, "conflict", msg),
            VaultError::Integrity => Self {
                detail: Some("sealed field or wrapped key failed authentication".into()),
                ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "integrity_error", msg)
            },
            VaultError::Store(s) if s.kind() == phivault_store::ErrorKind::Unavailable => Self {
                detail: Some(s.to_string()),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "service unavailable",
                )
            },
            VaultError::Audit(a) => Self::from(a),
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<crate::audit::AuditError> for ApiError {
    fn from(a: crate::audit::AuditError) -> Self {
        match a {
            crate::audit::AuditError::Range(m) => Self::bad_request("invalid_range", m),
            other => Self {
                detail: Some(other.to_string()),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit_unavailable",
                    "the audit trail cannot record this request; nothing was disclosed",
                )
            },
        }
    }
}
