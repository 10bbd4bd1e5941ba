//! Schema helpers and the shared component schemas (the error body, a
//! record as disclosed to an allowed reader).

use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, SchemaType};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Schema, Type,
};

/// A string.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A string or `null`.
pub fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// An RFC 3339 time.
pub fn time() -> ObjectBuilder {
    string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
        utoipa::openapi::KnownFormat::DateTime,
    )))
}

/// A non-negative integer.
pub fn count() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
}

/// `true` or `false`.
pub fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

/// Any JSON value.
pub fn any() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

/// An object with any members.
pub fn open_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

/// A list.
pub fn list(items: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    ArrayBuilder::new().items(items.into()).into()
}

/// A closed object: exactly these members (`required` among them).
pub fn object(props: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> RefOr<Schema> {
    closed(props, required).into()
}

/// [`object`], still to be described.
pub fn closed(props: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> ObjectBuilder {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, schema) in props {
        b = b.property(name, schema);
    }
    for r in required {
        b = b.required(*r);
    }
    b
}

/// A reference to a component schema.
pub fn named(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// A response with a JSON body.
pub fn json(description: &str, schema: impl Into<RefOr<Schema>>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// A response with a body of another media type (text, an export, a page).
pub fn media(description: &str, types: &[&str]) -> Response {
    let mut b = ResponseBuilder::new().description(description);
    for t in types {
        b = b.content(*t, ContentBuilder::new().schema(Some(string())).build());
    }
    b.build()
}

/// A response without a body.
pub fn empty(description: &str) -> Response {
    ResponseBuilder::new().description(description).build()
}

/// The component schemas.
pub fn components() -> Vec<(&'static str, RefOr<Schema>)> {
    let error = object(
        vec![
            (
                "code",
                string()
                    .description(Some("stable machine-readable code"))
                    .into(),
            ),
            (
                "message",
                string()
                    .description(Some("names fields, never values"))
                    .into(),
            ),
            ("request_id", string().into()),
        ],
        &["code", "message", "request_id"],
    );
    let record = object(
        vec![
            ("id", string().into()),
            ("collection", string().into()),
            ("patient_id", string().into()),
            (
                "fields",
                open_object()
                    .description(Some(
                        "the fields the grant shows (masked ones in masked form)",
                    ))
                    .into(),
            ),
            ("created_at", string().into()),
            ("updated_at", string().into()),
        ],
        &["id", "collection", "fields", "created_at", "updated_at"],
    );
    let lockdown = object(
        vec![
            ("id", string().into()),
            ("scope", any().into()),
            ("reason", string().into()),
            ("incident_id", nullable_string().into()),
            ("created_by", string().into()),
            ("created_at", string().into()),
            ("lift_requested_by", nullable_string().into()),
        ],
        &["id", "scope", "reason", "created_by", "created_at"],
    );
    vec![
        ("Error", object(vec![("error", error)], &["error"])),
        ("Record", record),
        ("Lockdown", lockdown),
        (
            "Incident",
            open_object()
                .description(Some("an incident with its timeline"))
                .into(),
        ),
    ]
}
