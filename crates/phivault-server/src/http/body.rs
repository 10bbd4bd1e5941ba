//! Request body extraction with our own errors (size, JSON syntax, shape).
//! `serde_json`'s messages can quote input, so only line and column are kept.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use super::{ApiError, AppState};

/// A request body that is a JSON object.
#[derive(Debug)]
pub struct JsonObject(pub serde_json::Map<String, serde_json::Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_body_bytes;
        let within =
            std::time::Duration::from_secs(u64::from(state.config.limits.body_timeout_seconds));
        let read = tokio::time::timeout(within, axum::body::to_bytes(req.into_body(), limit));
        let bytes = read
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!("request body not received within {} s", within.as_secs()),
                )
            })?
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request body is larger than {limit} bytes"),
                )
            })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(
                "invalid_json",
                format!(
                    "request body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        match value {
            serde_json::Value::Object(m) => Ok(Self(m)),
            _ => Err(ApiError::bad_request(
                "invalid_json",
                "request body must be a JSON object",
            )),
        }
    }
}
