//! Per-request middleware: a request id, security headers, rendering of
//! [`ApiError`] bodies, and one log line per request (method, route
//! template, status, latency — never the URL, query, headers or body).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The request's id, in request extensions and the `x-request-id` header.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn new_id() -> String {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return "0000000000000000".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Wraps every request.
pub async fn around(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = new_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    // Handlers read the id from the headers (a client-sent one is replaced).
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let mut res = next.run(req).await;
    if let Some(err) = res.extensions_mut().remove::<ApiError>() {
        if err.status == axum::http::StatusCode::FORBIDDEN {
            crate::metrics::count_denial(err.code);
        }
        if err.status.is_server_error() {
            tracing::error!(request_id = %id, code = err.code, detail = err.detail.as_deref().unwrap_or(""), "request failed");
        }
        let body = serde_json::json!({
            "error": { "code": err.code, "message": err.message, "request_id": id }
        });
        res = (err.status, axum::Json(body)).into_response();
        if let Some(secs) = err.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    } else if res.status().is_client_error()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"))
    {
        // A framework rejection (for example a malformed path segment): its
        // text may quote input, so replace it.
        let body = serde_json::json!({
            "error": { "code": "invalid_request", "message": "request is malformed", "request_id": id }
        });
        res = (res.status(), axum::Json(body)).into_response();
    }
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // OWASP's advice: turn the legacy XSS auditors off (they could be
    // abused); the CSP does the work.
    h.insert(header::X_XSS_PROTECTION, HeaderValue::from_static("0"));
    // The telehealth page sets its own (script-src 'self'); everything else gets none.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let took = started.elapsed();
    crate::metrics::observe_request(&route, method.as_str(), res.status().as_u16(), took);
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    res
}
