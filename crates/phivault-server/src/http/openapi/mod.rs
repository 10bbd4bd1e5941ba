//! The OpenAPI 3.1 document of the whole API, served at `GET /v1/openapi.json`.
//!
//! Built with utoipa's builder API from [`ops::all`], a table written apart
//! from [`super::ROUTES`]; a test compares the two both ways, so a route
//! added without documentation (or documentation without a route) fails.
//! Handlers stay as they are: the document describes them, it does not
//! drive them. It holds no PHI (names of collections and fields only), so
//! the route is public.

mod ops;
mod ops_other;
mod ops_vault;
mod schemas;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, Ref,
    RefOr, Required, Response as OaResponse, Schema, Type,
};

use super::AppState;

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

/// One documented operation.
pub(super) struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Reachable without a token (must agree with `ROUTES`).
    pub public: bool,
    pub query: Vec<Parameter>,
    /// The JSON request body, when the handler reads one.
    pub body: Option<RefOr<Schema>>,
    /// Success responses.
    pub ok: Vec<(u16, OaResponse)>,
    /// Error statuses beyond the ones every route of its kind can answer.
    pub errors: &'static [u16],
}

/// Errors any route can answer: the rate limit and address lockout.
const PUBLIC_ERRORS: &[u16] = &[429];
/// Errors any authenticated route can answer: a malformed header or path
/// (400), no or a bad token (401), a denial or lockdown (403), an
/// unavailable store or audit trail (503).
const PRIVATE_ERRORS: &[u16] = &[400, 401, 403, 429, 503];
/// Errors of reading a body: too slow (408), too large (413).
const BODY_ERRORS: &[u16] = &[400, 408, 413];

fn method(m: &str) -> HttpMethod {
    match m {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "invalid request (the message names the member or parameter)",
        401 => "a valid bearer token is required, or the session expired",
        403 => "denied by policy or an incident lockdown",
        404 => "not found",
        408 => "request body not received in time",
        409 => "conflict",
        410 => "gone (shredded record or expired call)",
        413 => "request body too large",
        429 => "rate limit or authentication lockout (see Retry-After)",
        503 => "store or audit trail unavailable; nothing was disclosed",
        _ => "error",
    }
}

/// `{collection}` takes one of the configured collections; every other
/// path segment is a string.
fn path_params(path: &str, collections: &[String]) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let mut schema = ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1));
            if name == "collection" && !collections.is_empty() {
                schema = schema.enum_values(Some(collections.iter().cloned()));
            }
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

fn error_response(status: u16) -> OaResponse {
    schemas::json(reason(status), Ref::from_schema_name("Error"))
}

fn operation(op: Op, collections: &[String]) -> Operation {
    let mut b = OperationBuilder::new()
        .summary(Some(op.summary))
        .operation_id(Some(format!("{} {}", op.method, op.path)))
        .parameters(Some(path_params(op.path, collections)))
        .parameters(Some(op.query));
    if let Some(body) = &op.body {
        let content = ContentBuilder::new().schema(Some(body.clone())).build();
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", content)
                .required(Some(Required::True))
                .build(),
        ));
    }
    let mut statuses: Vec<u16> = op.errors.to_vec();
    statuses.extend_from_slice(if op.public {
        PUBLIC_ERRORS
    } else {
        PRIVATE_ERRORS
    });
    if op.body.is_some() {
        statuses.extend_from_slice(BODY_ERRORS);
    }
    statuses.sort_unstable();
    statuses.dedup();
    for (status, r) in op.ok {
        b = b.response(status.to_string(), r);
    }
    for s in statuses {
        b = b.response(s.to_string(), error_response(s));
    }
    if !op.public {
        b = b.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    }
    b.build()
}

/// The document, for a server with this schema (collection and field names).
pub fn document(schema: &phivault_core::schema::Schema) -> OpenApi {
    let collections: Vec<String> = schema.collections().map(|c| c.name.clone()).collect();
    let collections = collections.as_slice();
    let mut paths = Paths::new();
    for op in ops::all(schema) {
        let (path, m) = (op.path, method(op.method));
        paths.add_path_operation(path, vec![m], operation(op, collections));
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas::components())
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pv_<id>_<secret>")
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("phivault")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "HIPAA PHI vault. Errors are `{\"error\": {\"code\", \"message\", \"request_id\"}}`; \
                     messages name fields, never values.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// `GET /v1/openapi.json` (public: names of routes, collections and fields only).
pub async fn serve(State(st): State<AppState>) -> Response {
    Json(document(st.vault.schema())).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn schema() -> phivault_core::schema::Schema {
        phivault_core::schema::Schema::from_toml(phivault_core::schema::Schema::default_toml())
            .unwrap()
    }

    fn documented() -> BTreeSet<(String, String, bool)> {
        let doc = serde_json::to_value(document(&schema())).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (m, op) in item.as_object().unwrap() {
                let secured = op.get("security").is_some();
                out.insert((m.to_uppercase(), path.clone(), !secured));
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routes: BTreeSet<_> = super::super::ROUTES
            .iter()
            .map(|r| (r.method.to_owned(), r.path.to_owned(), r.public))
            .collect();
        let docs = documented();
        let undocumented: Vec<_> = routes.difference(&docs).collect();
        let unrouted: Vec<_> = docs.difference(&routes).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes without documentation (or with the wrong security): {undocumented:?}; \
             documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn links_name_existing_operations_and_their_parameters() {
        let doc = serde_json::to_value(document(&schema())).unwrap();
        let mut ids = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for op in item.as_object().unwrap().values() {
                ids.insert(op["operationId"].as_str().unwrap().to_owned(), path.clone());
            }
        }
        let mut links = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for r in op["responses"].as_object().unwrap().values() {
                    for link in r["links"].as_object().into_iter().flat_map(|l| l.values()) {
                        let target = link["operationId"].as_str().unwrap();
                        let path = ids.get(target).unwrap_or_else(|| panic!("{target}"));
                        for p in link["parameters"].as_object().unwrap().keys() {
                            assert!(path.contains(&format!("{{{p}}}")), "{target} {p}");
                        }
                        links += 1;
                    }
                }
            }
        }
        assert!(links >= 10, "{links} links");
    }

    #[test]
    fn every_operation_documents_its_errors_with_the_error_body() {
        let doc = serde_json::to_value(document(&schema())).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (m, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("429"), "{m} {path}");
                if op.get("security").is_some() {
                    for s in ["400", "401", "403", "503"] {
                        assert!(responses.contains_key(s), "{m} {path} lacks {s}");
                    }
                }
                for (s, r) in responses {
                    if s.starts_with('4') || s.starts_with('5') {
                        assert_eq!(
                            r["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Error",
                            "{m} {path} {s}"
                        );
                    }
                }
            }
        }
    }
}
