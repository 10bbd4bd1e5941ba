//! The HTTP API (axum). Routes are declared once in [`ROUTES`]; the router is
//! built from that table, and a test walks it to prove every non-public
//! route demands authentication.

mod auth;
mod body;
mod error;
mod records;
mod request;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode};
use axum::routing::MethodRouter;
use phivault_core::policy::{self, Action, Decision, Grant, Principal, RequestContext, Resource};

pub use error::ApiError;
pub use request::RequestId;

use crate::config::Config;
use crate::vault::Vault;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The vault.
    pub vault: Arc<Vault>,
    /// The configuration.
    pub config: Arc<Config>,
}

impl AppState {
    /// Asks the decision point; the only way handlers obtain a [`Grant`].
    pub fn decide(
        &self,
        principal: &Principal,
        action: Action,
        resource: Resource<'_>,
        peer: &ConnectInfo<SocketAddr>,
    ) -> Result<Grant, ApiError> {
        let ctx = RequestContext {
            ip: peer_ip(peer),
            now: self.vault.clock().now(),
        };
        match policy::authorize(principal, &action, resource, &ctx) {
            Decision::Allow { grant, .. } => Ok(grant),
            Decision::Deny(reason) => Err(ApiError::forbidden(&reason.to_string())),
        }
    }
}

fn peer_ip(peer: &ConnectInfo<SocketAddr>) -> IpAddr {
    peer.0.ip()
}

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// Method.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Reachable without a token (no PHI, no metadata).
    pub public: bool,
}

/// Every route the server serves.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "GET",
        path: "/healthz",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/collections",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/collections/{collection}/records",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/collections/{collection}/records/{id}",
        public: false,
    },
    RouteSpec {
        method: "PATCH",
        path: "/v1/collections/{collection}/records/{id}",
        public: false,
    },
    RouteSpec {
        method: "DELETE",
        path: "/v1/collections/{collection}/records/{id}",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/collections/{collection}/search",
        public: false,
    },
];

fn handler(spec: &RouteSpec) -> Option<MethodRouter<AppState>> {
    use axum::routing::{delete, get, patch, post};
    Some(match (spec.method, spec.path) {
        ("GET", "/healthz") => get(records::healthz),
        ("GET", "/v1/collections") => get(records::describe),
        ("POST", "/v1/collections/{collection}/records") => post(records::create),
        ("GET", "/v1/collections/{collection}/records/{id}") => get(records::read),
        ("PATCH", "/v1/collections/{collection}/records/{id}") => patch(records::update),
        ("DELETE", "/v1/collections/{collection}/records/{id}") => delete(records::remove),
        ("POST", "/v1/collections/{collection}/search") => post(records::search),
        _ => return None,
    })
}

/// Builds the router from [`ROUTES`].
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut private = Router::new();
    for spec in ROUTES {
        let Some(h) = handler(spec) else { continue };
        if spec.public {
            public = public.route(spec.path, h);
        } else {
            private = private.route(spec.path, h);
        }
    }
    let private = private.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    public
        .merge(private)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(axum::middleware::from_fn(request::around))
        .with_state(state)
}

/// The methods used in [`ROUTES`], for tests that walk them.
pub fn method_of(spec: &RouteSpec) -> Method {
    Method::from_bytes(spec.method.as_bytes()).unwrap_or(Method::GET)
}
