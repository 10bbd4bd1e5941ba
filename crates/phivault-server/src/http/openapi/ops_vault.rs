//! Records, users, roles, sessions, care teams, break-glass.

use std::collections::{BTreeMap, BTreeSet};

use phivault_core::schema::Schema as PhiSchema;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{KnownFormat, RefOr, Schema, SchemaFormat};

use super::Op;
use super::ops::op;
use super::schemas::{
    any, boolean, closed, count, empty, json, list, media, named, nullable_string, object,
    open_object, string,
};

const RECORD: &str = "/v1/collections/{collection}/records/{id}";

/// A field's value as its type accepts it (the validator decides the rest).
fn field_value(ty: &str) -> RefOr<Schema> {
    match ty {
        "date" => string()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .into(),
        "email" => string()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .into(),
        "json" => any().into(),
        _ => string().into(),
    }
}

/// `fields`: the fields of every collection (the path's collection accepts
/// its own and answers 400 `unknown_field` for the others).
fn fields_schema(schema: &PhiSchema) -> RefOr<Schema> {
    let mut types: BTreeMap<&str, &str> = BTreeMap::new();
    for c in schema.collections() {
        for f in c.fields.values() {
            let ty = types.entry(f.name.as_str()).or_insert(f.ty.name());
            if *ty != f.ty.name() {
                *ty = "json";
            }
        }
    }
    let props = types
        .into_iter()
        .map(|(n, t)| (n, field_value(t)))
        .collect();
    closed(props, &[])
        .description(Some(
            "field name to value, of the collection in the path (PHI)",
        ))
        .into()
}

fn fields_body(schema: &PhiSchema, also_patient: bool) -> RefOr<Schema> {
    let mut props = vec![("fields", fields_schema(schema))];
    if also_patient {
        props.push(("patient_id", nullable_string().into()));
    }
    object(props, &["fields"])
}

fn search_body(schema: &PhiSchema) -> RefOr<Schema> {
    let searchable: BTreeSet<&str> = schema
        .collections()
        .flat_map(|c| c.fields.values())
        .filter(|f| f.search)
        .map(|f| f.name.as_str())
        .collect();
    let limit = || count().minimum(Some(1)).maximum(Some(1000));
    let by_field = object(
        vec![
            ("field", string().enum_values(Some(searchable)).into()),
            (
                "value",
                any().description(Some("the value sought (PHI)")).into(),
            ),
            ("limit", limit().into()),
        ],
        &["field", "value"],
    );
    let compound = object(
        vec![
            (
                "fields",
                open_object()
                    .description(Some("a compound index's fields and values (PHI)"))
                    .into(),
            ),
            ("limit", limit().into()),
        ],
        &["fields"],
    );
    OneOfBuilder::new().item(by_field).item(compound).into()
}

pub(super) fn records(schema: &PhiSchema) -> Vec<Op> {
    vec![
        op("GET", "/healthz", "liveness").public().ok(
            200,
            json("ok", object(vec![("status", string().into())], &["status"])),
        ),
        op("GET", "/v1/collections", "the schema (no PHI)").ok(
            200,
            json(
                "collections",
                object(vec![("collections", list(open_object()))], &["collections"]),
            ),
        ),
        op(
            "POST",
            "/v1/collections/{collection}/records",
            "create a record",
        )
        .body(fields_body(schema, true))
        .ok(
            201,
            json("created", object(vec![("id", string().into())], &["id"])),
        )
        .links(
            201,
            &[
                ("GET", RECORD),
                ("PATCH", RECORD),
                ("DELETE", RECORD),
                (
                    "POST",
                    "/v1/collections/{collection}/records/{id}/actions/{verb}",
                ),
            ],
            &[
                ("collection", "$request.path.collection"),
                ("id", "$response.body#/id"),
            ],
        )
        .errors(&[404, 409]),
        op(
            "GET",
            "/v1/collections/{collection}/records/{id}",
            "read a record",
        )
        .ok(
            200,
            json("the record as the grant shows it", named("Record")),
        )
        .errors(&[404, 410]),
        op(
            "PATCH",
            "/v1/collections/{collection}/records/{id}",
            "change fields",
        )
        .body(fields_body(schema, false))
        .ok(200, json("the changed record", named("Record")))
        .errors(&[404, 409, 410]),
        op(
            "DELETE",
            "/v1/collections/{collection}/records/{id}",
            "delete a record",
        )
        .ok(204, empty("deleted"))
        .errors(&[404, 409, 410]),
        op(
            "POST",
            "/v1/collections/{collection}/search",
            "exact search by blind index",
        )
        .body(search_body(schema))
        .ok(
            200,
            json(
                "matches",
                object(vec![("records", list(named("Record")))], &["records"]),
            ),
        )
        .errors(&[404]),
        op(
            "POST",
            "/v1/collections/{collection}/records/{id}/actions/{verb}",
            "authorize and record a custom action",
        )
        .body(object(vec![("fields", list(string()))], &[]))
        .ok(
            200,
            json(
                "recorded",
                object(
                    vec![
                        ("action", string().into()),
                        ("collection", string().into()),
                        ("id", string().into()),
                        ("audit_index", count().into()),
                    ],
                    &["action", "collection", "id", "audit_index"],
                ),
            ),
        )
        .errors(&[404]),
        op(
            "POST",
            "/v1/collections/{collection}/export",
            "Safe Harbor de-identified export",
        )
        .body(object(
            vec![
                (
                    "deidentify",
                    string().enum_values(Some(["safe-harbor"])).into(),
                ),
                ("pseudonymize", boolean().into()),
                (
                    "format",
                    string().enum_values(Some(["jsonl", "csv"])).into(),
                ),
            ],
            &["deidentify"],
        ))
        .ok(
            200,
            media(
                "de-identified records",
                &["application/x-ndjson", "text/csv"],
            ),
        )
        .errors(&[404]),
    ]
}

pub(super) fn access() -> Vec<Op> {
    let user_id = || string().pattern(Some("^[A-Za-z0-9._@+-]{1,128}$"));
    let roles = || list(string());
    let token = || object(vec![("token", string().into())], &["token"]);
    vec![
        op("POST", "/v1/users", "create a user")
            .body(object(
                vec![
                    ("id", user_id().into()),
                    (
                        "display_name",
                        string().min_length(Some(1)).max_length(Some(256)).into(),
                    ),
                    ("roles", roles()),
                ],
                &["id"],
            ))
            .ok(
                201,
                json("created", object(vec![("id", string().into())], &["id"])),
            )
            .links(
                201,
                &[
                    ("PATCH", "/v1/users/{id}"),
                    ("POST", "/v1/users/{id}/tokens"),
                ],
                &[("id", "$response.body#/id")],
            )
            .errors(&[409]),
        op("PATCH", "/v1/users/{id}", "change roles, disable")
            .body(object(
                vec![("roles", roles()), ("disabled", boolean().into())],
                &[],
            ))
            .ok(
                200,
                json(
                    "the user",
                    object(
                        vec![
                            ("id", string().into()),
                            ("display_name", string().into()),
                            ("roles", roles()),
                            ("disabled", boolean().into()),
                        ],
                        &["id", "display_name", "roles", "disabled"],
                    ),
                ),
            )
            .errors(&[404]),
        op(
            "POST",
            "/v1/users/{id}/tokens",
            "issue an API token (shown once)",
        )
        .ok(201, json("issued", token()))
        .errors(&[404]),
        op("PUT", "/v1/roles/{name}", "create or replace a role")
            .body(open_object().description(Some("the role; `role` must match the path if given")))
            .ok(200, json("the stored role", open_object())),
        op("GET", "/v1/roles", "the roles").ok(
            200,
            json(
                "roles",
                object(vec![("roles", list(open_object()))], &["roles"]),
            ),
        ),
        op("POST", "/v1/sessions", "exchange the token for a session").ok(
            201,
            json(
                "session",
                object(
                    vec![
                        ("token", string().into()),
                        ("expires_at", nullable_string().into()),
                    ],
                    &["token", "expires_at"],
                ),
            ),
        ),
        op("DELETE", "/v1/sessions/current", "log off").ok(204, empty("closed")),
        op(
            "PUT",
            "/v1/collections/patients/records/{id}/care-team",
            "set a patient's care team",
        )
        .body(object(vec![("users", list(user_id()))], &["users"]))
        .ok(
            200,
            json(
                "the care team",
                object(
                    vec![("patient_id", string().into()), ("users", list(string()))],
                    &["patient_id", "users"],
                ),
            ),
        )
        .errors(&[404]),
        op("POST", "/v1/break-glass", "emergency access to a patient")
            .body(object(
                vec![
                    ("patient_id", string().into()),
                    ("reason", string().min_length(Some(20)).into()),
                ],
                &["patient_id", "reason"],
            ))
            .ok(
                201,
                json(
                    "granted",
                    object(
                        vec![
                            ("id", string().into()),
                            ("patient_id", string().into()),
                            ("expires_at", string().into()),
                        ],
                        &["id", "patient_id", "expires_at"],
                    ),
                ),
            )
            .errors(&[404]),
    ]
}
