//! The HTTP API (axum). Routes are declared once in [`ROUTES`]; the router is
//! built from that table, and a test walks it to prove every non-public
//! route demands authentication.

mod access;
mod actions;
mod audit;
mod auth;
mod body;
mod breach;
mod error;
mod export;
mod keys;
pub mod limits;
pub mod openapi;
mod records;
mod request;
pub mod telehealth;
mod telehealth_page;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::MethodRouter;
use phivault_core::policy::{
    self, Action, Decision, Principal, Relation, RequestContext, Resource,
};

pub use error::ApiError;
pub use request::RequestId;

use crate::access::{Alert, AlertHook, RoleBook};
use crate::audit::Who;
use crate::config::Config;
use crate::vault::Permit;
use crate::vault::Vault;
use phivault_audit::Outcome;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The vault.
    pub vault: Arc<Vault>,
    /// The configuration.
    pub config: Arc<Config>,
    /// Roles by name.
    pub roles: Arc<RoleBook>,
    /// Where security alerts go.
    pub alerts: Arc<dyn AlertHook>,
    /// Live telehealth calls (in memory, apart from PHI).
    pub telehealth: Arc<crate::telehealth::Registry>,
    /// Lockdowns, patient flags, detection and alert delivery.
    pub breach: Arc<crate::breach::Breach>,
    /// Rate limit and authentication lockouts.
    pub limits: Arc<limits::Limits>,
}

/// What a request addresses, for the decision.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Collection (empty for vault-wide actions).
    pub collection: &'a str,
    /// The record, when one is addressed.
    pub record: Option<&'a str>,
    /// The patient a new record will link to (`patient_id` of a create).
    pub links_to: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// The route-shaped resource name events carry (ids only).
    pub fn resource(&self) -> String {
        match (self.collection, self.record) {
            ("", _) => "/v1".into(),
            (c, Some(r)) => format!("/v1/collections/{c}/records/{r}"),
            (c, None) => format!("/v1/collections/{c}"),
        }
    }

    /// A collection-wide or vault-wide target.
    pub fn collection(collection: &'a str) -> Self {
        Self {
            collection,
            record: None,
            links_to: None,
        }
    }

    /// One record.
    pub fn record(collection: &'a str, record: &'a str) -> Self {
        Self {
            collection,
            record: Some(record),
            links_to: None,
        }
    }
}

impl AppState {
    /// Builds the state: roles from the store, then from `policies/` in the
    /// data directory (files win and are written back to the store).
    pub async fn new(
        vault: Arc<Vault>,
        config: Arc<Config>,
        alerts: Arc<dyn AlertHook>,
    ) -> Result<Self, crate::datadir::DataDirError> {
        use crate::datadir::DataDirError;
        let roles = Arc::new(RoleBook::default());
        for (name, spec) in vault.store().list_roles().await? {
            match policy::Role::from_json(&spec) {
                Ok(r) => roles.put(r),
                Err(e) => {
                    tracing::warn!(role = %name, error = %e, "stored role is invalid; ignored")
                }
            }
        }
        let dir = config.data_dir.join("policies");
        let now = crate::clock::micros(vault.clock().now());
        let stored: std::collections::HashMap<String, String> =
            vault.store().list_roles().await?.into_iter().collect();
        for (role, json) in
            crate::access::load_dir(&dir).map_err(|e| DataDirError::Separation(e.to_string()))?
        {
            if stored.get(role.name()) != Some(&json) {
                // A policy change made on disk is recorded like one made
                // through the API (best effort here: tools that open the
                // vault read-only beside the server cannot append).
                let e = Who::operator("policies/").event(
                    vault.clock().now(),
                    "role_changed",
                    format!("/v1/roles/{}", role.name()),
                    Outcome::Success,
                );
                if let Err(err) = vault.audit().append(vec![e]).await {
                    tracing::warn!(error = %err, "policy file change not recorded in the audit trail");
                }
            }
            vault.store().put_role(role.name(), &json, now).await?;
            roles.put(role);
        }
        let breach = crate::breach::start(&vault, &config, &alerts).await?;
        let limits = Arc::new(limits::Limits::new(limits::LimitSettings::from(
            config.limits,
        )));
        Ok(Self {
            limits,
            vault,
            config,
            roles,
            alerts,
            telehealth: Arc::default(),
            breach,
        })
    }

    /// Asks the decision point; the only way handlers obtain a [`Grant`].
    /// Looks up the facts the decision needs (care team, break-glass) only
    /// for principals whose roles depend on them.
    pub async fn decide(
        &self,
        principal: &Principal,
        action: Action,
        target: Target<'_>,
        peer: &ConnectInfo<SocketAddr>,
        headers: &HeaderMap,
    ) -> Result<Permit, ApiError> {
        let now = self.vault.clock().now();
        let ip = client_ip(peer, headers, &self.config.trusted_proxies);
        let mut who = Who::from_request(&principal.id, ip, request_id(headers), headers)
            .map_err(|e| ApiError::bad_request("invalid_header", e.to_string()))?;
        who.token = Some(format!("pv_{}", principal.token_id));
        match self.evaluate(principal, &action, target, ip, now).await? {
            Decision::Allow { grant, .. } => {
                if grant.is_break_glass()
                    && action != Action::Custom(policy::BREAK_GLASS_VERB.into())
                {
                    self.alerts.raise(Alert {
                        kind: "break_glass_used",
                        user: principal.id.clone(),
                        patient_id: relation_patient(self, target).await,
                        at: now.to_string(),
                    });
                }
                Ok(Permit { grant, who })
            }
            Decision::Deny(reason) => {
                let mut e = who.event(
                    now,
                    &past_tense(&action),
                    target.resource(),
                    Outcome::Denied,
                );
                e.reason = Some(reason.code().to_owned());
                e.patient_id = relation_patient(self, target).await;
                if let Err(err) = self.vault.audit().append(vec![e]).await {
                    tracing::error!(error = %err, "audit: denial not recorded");
                }
                Err(ApiError::forbidden(reason.code(), &reason.to_string()))
            }
        }
    }

    /// Records a security event (user, role, session, care-team and
    /// break-glass changes) durably; 503 if the trail cannot take it.
    pub async fn record(&self, e: phivault_audit::Event) -> Result<(), ApiError> {
        self.vault.audit().append(vec![e]).await?;
        Ok(())
    }

    /// Records a security event by a permitted requester.
    pub async fn security_event(
        &self,
        permit: &Permit,
        action: &str,
        resource: String,
        tweak: impl FnOnce(&mut phivault_audit::Event),
    ) -> Result<(), ApiError> {
        let mut e = permit.event(self.vault.clock().now(), action, resource);
        tweak(&mut e);
        self.record(e).await
    }

    /// The requester of a request, for events outside the vault.
    pub fn who(
        &self,
        user: &str,
        peer: &ConnectInfo<SocketAddr>,
        headers: &HeaderMap,
    ) -> Result<Who, ApiError> {
        let ip = client_ip(peer, headers, &self.config.trusted_proxies);
        Who::from_request(user, ip, request_id(headers), headers)
            .map_err(|e| ApiError::bad_request("invalid_header", e.to_string()))
    }

    /// The decision for a request, with the facts looked up; no side effects
    /// (used by [`Self::decide`] and by `phivault policy explain`).
    pub async fn evaluate(
        &self,
        principal: &Principal,
        action: &Action,
        target: Target<'_>,
        ip: IpAddr,
        now: jiff::Timestamp,
    ) -> Result<Decision, ApiError> {
        let relation = self.relation(principal, target, now).await?;
        let resource = Resource {
            collection: target.collection,
            record: target.record,
            relation,
        };
        Ok(policy::authorize(
            principal,
            action,
            resource,
            &RequestContext { ip, now },
        ))
    }

    async fn relation(
        &self,
        principal: &Principal,
        target: Target<'_>,
        now: jiff::Timestamp,
    ) -> Result<Relation, ApiError> {
        let relevant = principal
            .roles
            .iter()
            .any(|r| r.care_team_only_or_break_glass());
        if principal.admin || !relevant {
            return Ok(Relation::default());
        }
        let Some(patient) = relation_patient(self, target).await else {
            return Ok(Relation::default());
        };
        let store = self.vault.store();
        let on_care_team = store
            .on_care_team(&patient, &principal.id)
            .await
            .map_err(|e| ApiError::from(crate::vault::VaultError::Store(e)))?;
        let break_glass = store
            .break_glass_active(&principal.id, &patient, crate::clock::micros(now))
            .await
            .map_err(|e| ApiError::from(crate::vault::VaultError::Store(e)))?;
        Ok(Relation {
            patient: true,
            on_care_team,
            break_glass,
        })
    }
}

/// The request id the request middleware put in the headers.
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The audit action for an attempted action.
pub fn past_tense(a: &Action) -> String {
    match a {
        Action::View => "viewed".into(),
        Action::Create => "created".into(),
        Action::Modify => "modified".into(),
        Action::Delete => "deleted".into(),
        Action::Search => "searched".into(),
        Action::Export => "exported".into(),
        Action::Describe => "described".into(),
        Action::Custom(v) => format!("custom:{v}"),
    }
}

/// The patient a target belongs to: the record itself for patients, the
/// linked patient for other records, the `patient_id` of a create.
async fn relation_patient(state: &AppState, target: Target<'_>) -> Option<String> {
    if let Some(p) = target.links_to {
        return Some(p.to_owned());
    }
    let record = target.record?;
    let coll = state.vault.schema().collection(target.collection)?;
    if coll.is_patients() {
        return Some(record.to_owned());
    }
    state
        .vault
        .store()
        .get_record(target.collection, record)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.patient_id)
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// nearest `X-Forwarded-For` hop that is not itself a trusted proxy.
pub fn client_ip(
    peer: &ConnectInfo<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let peer_ip = peer.0.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer_ip) {
        return peer_ip;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer_ip)
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
        path: "/v1/openapi.json",
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
    RouteSpec {
        method: "POST",
        path: "/v1/collections/{collection}/records/{id}/actions/{verb}",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/collections/{collection}/export",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/users",
        public: false,
    },
    RouteSpec {
        method: "PATCH",
        path: "/v1/users/{id}",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/users/{id}/tokens",
        public: false,
    },
    RouteSpec {
        method: "PUT",
        path: "/v1/roles/{name}",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/roles",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/sessions",
        public: false,
    },
    RouteSpec {
        method: "DELETE",
        path: "/v1/sessions/current",
        public: false,
    },
    RouteSpec {
        method: "PUT",
        path: "/v1/collections/patients/records/{id}/care-team",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/break-glass",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/audit/public-key",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/audit/checkpoint",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/audit/proofs/inclusion",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/audit/proofs/consistency",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/audit/events",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/collections/patients/records/{id}/disclosures",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/collections/patients/records/{id}/shred",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/lockdown",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/lockdown",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/lockdown/{id}/lift",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/incidents",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/incidents/{id}",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/incidents/{id}/steps",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/telehealth/sessions",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/telehealth/sessions/{id}",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/telehealth/sessions/{id}/devices",
        public: false,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/telehealth/sessions/{id}/key-packages",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/telehealth/sessions/{id}/key-packages",
        public: false,
    },
    RouteSpec {
        method: "DELETE",
        path: "/v1/telehealth/sessions/{id}/participants/{user}",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/telehealth/sessions/{id}/signal",
        public: false,
    },
    RouteSpec {
        method: "GET",
        path: "/telehealth/",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/telehealth/app.js",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/telehealth/worker.js",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/telehealth/style.css",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/telehealth/pkg/phivault_telehealth_wasm.js",
        public: true,
    },
    RouteSpec {
        method: "GET",
        path: "/telehealth/pkg/phivault_telehealth_wasm_bg.wasm",
        public: true,
    },
];

fn handler(spec: &RouteSpec) -> Option<MethodRouter<AppState>> {
    use axum::routing::{delete, get, patch, post, put};
    Some(match (spec.method, spec.path) {
        ("GET", "/healthz") => get(records::healthz),
        ("GET", "/v1/openapi.json") => get(openapi::serve),
        ("GET", "/v1/collections") => get(records::describe),
        ("POST", "/v1/collections/{collection}/records") => post(records::create),
        ("GET", "/v1/collections/{collection}/records/{id}") => get(records::read),
        ("PATCH", "/v1/collections/{collection}/records/{id}") => patch(records::update),
        ("DELETE", "/v1/collections/{collection}/records/{id}") => delete(records::remove),
        ("POST", "/v1/collections/{collection}/search") => post(records::search),
        ("POST", "/v1/collections/{collection}/records/{id}/actions/{verb}") => {
            post(actions::perform)
        }
        ("POST", "/v1/collections/{collection}/export") => post(export::export),
        ("POST", "/v1/users") => post(access::create_user),
        ("PATCH", "/v1/users/{id}") => patch(access::update_user),
        ("POST", "/v1/users/{id}/tokens") => post(access::create_token),
        ("PUT", "/v1/roles/{name}") => put(access::put_role),
        ("GET", "/v1/roles") => get(access::list_roles),
        ("POST", "/v1/sessions") => post(access::open_session),
        ("DELETE", "/v1/sessions/current") => delete(access::close_session),
        ("PUT", "/v1/collections/patients/records/{id}/care-team") => put(access::put_care_team),
        ("POST", "/v1/break-glass") => post(access::break_glass),
        ("GET", "/v1/audit/public-key") => get(audit::public_key),
        ("GET", "/v1/audit/checkpoint") => get(audit::checkpoint),
        ("GET", "/v1/audit/proofs/inclusion") => get(audit::inclusion),
        ("GET", "/v1/audit/proofs/consistency") => get(audit::consistency),
        ("GET", "/v1/audit/events") => get(audit::events),
        ("GET", "/v1/collections/patients/records/{id}/disclosures") => get(audit::disclosures),
        ("POST", "/v1/collections/patients/records/{id}/shred") => post(keys::shred),
        ("POST", "/v1/lockdown") => post(breach::isolate),
        ("GET", "/v1/lockdown") => get(breach::list),
        ("POST", "/v1/lockdown/{id}/lift") => post(breach::lift),
        ("POST", "/v1/incidents") => post(breach::declare),
        ("GET", "/v1/incidents/{id}") => get(breach::show),
        ("POST", "/v1/incidents/{id}/steps") => post(breach::step),
        ("POST", "/v1/telehealth/sessions") => post(telehealth::create),
        ("GET", "/v1/telehealth/sessions/{id}") => get(telehealth::show),
        ("POST", "/v1/telehealth/sessions/{id}/devices") => post(telehealth::add_device),
        ("POST", "/v1/telehealth/sessions/{id}/key-packages") => post(telehealth::post_packages),
        ("GET", "/v1/telehealth/sessions/{id}/key-packages") => get(telehealth::get_packages),
        ("DELETE", "/v1/telehealth/sessions/{id}/participants/{user}") => {
            delete(telehealth::remove_participant)
        }
        ("GET", "/v1/telehealth/sessions/{id}/signal") => get(telehealth::signal),
        ("GET", p) if p.starts_with("/telehealth/") => get(telehealth_page::serve),
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::guard,
        ))
        .layer(axum::middleware::from_fn(request::around))
        .with_state(state)
}

/// The methods used in [`ROUTES`], for tests that walk them.
pub fn method_of(spec: &RouteSpec) -> Method {
    Method::from_bytes(spec.method.as_bytes()).unwrap_or(Method::GET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.7, 10.1.1.1".parse().unwrap());
        let via_proxy = ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 443)));
        let direct = ConnectInfo(SocketAddr::from(([198, 51, 100, 9], 443)));
        assert_eq!(
            client_ip(&via_proxy, &h, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&direct, &h, &trusted),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&via_proxy, &h, &[]),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
        h.insert("x-forwarded-for", "not an ip".parse().unwrap());
        assert_eq!(
            client_ip(&via_proxy, &h, &trusted),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
    }
}
