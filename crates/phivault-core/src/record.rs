//! The record model: validating the `fields` of a create or patch request
//! against a collection, and the errors that name the field at fault.

use std::collections::BTreeMap;

use crate::schema::Collection;
use crate::validate::{self, Validated, ValidationContext, ValueError};

/// Validated fields of a request, split into sealed (PHI) and plain.
#[derive(Debug, Default)]
pub struct ValidatedFields {
    /// PHI fields: canonical value to seal, normalized value to index.
    pub phi: BTreeMap<String, Validated>,
    /// Non-PHI fields, stored as given (canonical form).
    pub plain: BTreeMap<String, serde_json::Value>,
    /// Index forms of searchable non-PHI fields.
    pub plain_index: BTreeMap<String, crate::PhiValue>,
    /// Fields a patch removes (given as `null`).
    pub removed: Vec<String>,
}

/// Why a record's fields were rejected. Names the field, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The collection has no such field. The name the client sent is not
    /// repeated: an unexpected key may itself be PHI.
    #[error(
        "`fields` has a member this collection does not define (its name is not repeated, in case it holds PHI)"
    )]
    UnknownField,
    /// A required field is missing (or a patch would remove it).
    #[error("field `{0}` is required")]
    MissingRequired(String),
    /// A value failed validation.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// `fields` has no entries.
    #[error("field `fields` must name at least one field")]
    Empty,
}

fn validate_one(
    coll: &Collection,
    name: String,
    value: serde_json::Value,
    ctx: &ValidationContext,
    out: &mut ValidatedFields,
) -> Result<(), RecordError> {
    let Some(def) = coll.field(&name) else {
        return Err(RecordError::UnknownField);
    };
    if value.is_null() {
        if def.required {
            return Err(RecordError::MissingRequired(name));
        }
        out.removed.push(name);
        return Ok(());
    }
    let v = validate::validate(def, value, ctx)?;
    if def.phi {
        out.phi.insert(name, v);
    } else {
        // Why exposing is fine: the schema says this field is not PHI.
        let plain = match def.ty {
            crate::schema::FieldType::Json => {
                serde_json::from_str(v.canonical.expose()).unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::String(v.canonical.expose().to_owned()),
        };
        if let Some(n) = v.normalized.filter(|_| def.search) {
            out.plain_index.insert(name.clone(), n);
        }
        out.plain.insert(name, plain);
    }
    Ok(())
}

/// Validates the fields of a new record: every required field present, no
/// unknown field, every value valid. `null` is treated as absent.
pub fn validate_create(
    coll: &Collection,
    fields: serde_json::Map<String, serde_json::Value>,
    ctx: &ValidationContext,
) -> Result<ValidatedFields, RecordError> {
    let mut out = ValidatedFields::default();
    for (name, value) in fields {
        validate_one(coll, name, value, ctx, &mut out)?;
    }
    out.removed.clear();
    for def in coll.fields.values().filter(|d| d.required) {
        if !out.phi.contains_key(&def.name) && !out.plain.contains_key(&def.name) {
            return Err(RecordError::MissingRequired(def.name.clone()));
        }
    }
    Ok(out)
}

/// Validates a partial update: only the given fields; `null` removes an
/// optional field.
pub fn validate_patch(
    coll: &Collection,
    fields: serde_json::Map<String, serde_json::Value>,
    ctx: &ValidationContext,
) -> Result<ValidatedFields, RecordError> {
    if fields.is_empty() {
        return Err(RecordError::Empty);
    }
    let mut out = ValidatedFields::default();
    for (name, value) in fields {
        validate_one(coll, name, value, ctx, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use serde_json::json;

    fn ctx() -> ValidationContext {
        ValidationContext {
            today: jiff::civil::date(2026, 1, 1),
        }
    }

    fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn create_checks_required_and_unknown() {
        let s = Schema::from_toml(Schema::default_toml()).unwrap();
        let p = s.collection("patients").unwrap();
        let ok = validate_create(
            p,
            obj(json!({"name": "Ann Lee", "birth_date": "1970-01-02"})),
            &ctx(),
        )
        .unwrap();
        assert_eq!(ok.phi.len(), 2);
        let e = validate_create(p, obj(json!({"name": "Ann Lee"})), &ctx()).unwrap_err();
        assert_eq!(e, RecordError::MissingRequired("birth_date".into()));
        let e = validate_create(
            p,
            obj(json!({"name": "A", "birth_date": "1970-01-02", "x": 1})),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(e, RecordError::UnknownField);
        assert!(
            !e.to_string().contains("`x`"),
            "the unknown key is not echoed"
        );
        let enc = s.collection("encounters").unwrap();
        let ok = validate_create(
            enc,
            obj(json!({"date": "2020-01-01", "department": "cardiology"})),
            &ctx(),
        )
        .unwrap();
        assert_eq!(ok.plain.get("department"), Some(&json!("cardiology")));
    }

    #[test]
    fn patch_removes_optional_only() {
        let s = Schema::from_toml(Schema::default_toml()).unwrap();
        let p = s.collection("patients").unwrap();
        let ok = validate_patch(p, obj(json!({"notes": null})), &ctx()).unwrap();
        assert_eq!(ok.removed, ["notes"]);
        let e = validate_patch(p, obj(json!({"name": null})), &ctx()).unwrap_err();
        assert_eq!(e, RecordError::MissingRequired("name".into()));
        assert_eq!(
            validate_patch(p, obj(json!({})), &ctx()).unwrap_err(),
            RecordError::Empty
        );
    }
}
