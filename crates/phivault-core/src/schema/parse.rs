//! `schema.toml` parsing with errors that name the collection and field.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Collection, CompoundIndex, FieldDef, FieldType, Schema};

/// Why a schema was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The text is not valid TOML of the expected shape.
    #[error("schema is not valid: {0}")]
    Syntax(String),
    /// A collection or field name is not `[a-z][a-z0-9_]*` (64 characters at most).
    #[error("schema: invalid name `{0}` (use lowercase letters, digits and `_`)")]
    Name(String),
    /// A field has an unknown type.
    #[error("schema: field `{collection}.{field}` has unknown type `{ty}`")]
    UnknownType {
        /// Collection name.
        collection: String,
        /// Field name.
        field: String,
        /// The type given.
        ty: String,
    },
    /// A search mode other than `exact`, or search on a type that cannot be indexed.
    #[error("schema: field `{collection}.{field}` cannot be searched that way")]
    BadSearch {
        /// Collection name.
        collection: String,
        /// Field name.
        field: String,
    },
    /// A compound index names a field the collection lacks, or too few fields.
    #[error("schema: compound search `{collection}.{index}` is invalid")]
    BadCompound {
        /// Collection name.
        collection: String,
        /// Index name.
        index: String,
    },
    /// The `patients` collection is missing or links to itself.
    #[error("schema: a `patients` collection is required and cannot set `patient_link`")]
    Patients,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    collections: BTreeMap<String, RawCollection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    #[serde(default)]
    patient_link: bool,
    fields: BTreeMap<String, RawField>,
    #[serde(default)]
    compound_search: Vec<RawCompound>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    phi: bool,
    search: Option<String>,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompound {
    name: String,
    fields: Vec<String>,
}

pub(super) fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn parse(text: &str) -> Result<Schema, SchemaError> {
    let raw: RawSchema =
        toml::from_str(text).map_err(|e| SchemaError::Syntax(e.message().to_owned()))?;
    let mut collections = BTreeMap::new();
    for (cname, rc) in raw.collections {
        if !valid_name(&cname) {
            return Err(SchemaError::Name(cname));
        }
        let mut fields = BTreeMap::new();
        for (fname, rf) in rc.fields {
            if !valid_name(&fname) || fname == "patient_id" || fname == "id" {
                return Err(SchemaError::Name(fname));
            }
            let ty = FieldType::from_name(&rf.ty).ok_or_else(|| SchemaError::UnknownType {
                collection: cname.clone(),
                field: fname.clone(),
                ty: rf.ty.clone(),
            })?;
            let search = match rf.search.as_deref() {
                None => false,
                Some("exact") if ty.searchable() => true,
                Some(_) => {
                    return Err(SchemaError::BadSearch {
                        collection: cname,
                        field: fname,
                    });
                }
            };
            let def = FieldDef {
                name: fname.clone(),
                ty,
                phi: rf.phi,
                search,
                required: rf.required,
            };
            fields.insert(fname, def);
        }
        let mut compound = Vec::new();
        for rcmp in rc.compound_search {
            let known = rcmp
                .fields
                .iter()
                .all(|f| fields.get(f).is_some_and(|d: &FieldDef| d.ty.searchable()));
            if !valid_name(&rcmp.name)
                || fields.contains_key(&rcmp.name)
                || rcmp.fields.len() < 2
                || !known
            {
                return Err(SchemaError::BadCompound {
                    collection: cname,
                    index: rcmp.name,
                });
            }
            compound.push(CompoundIndex {
                name: rcmp.name,
                fields: rcmp.fields,
            });
        }
        collections.insert(
            cname.clone(),
            Collection {
                name: cname,
                fields,
                compound,
                patient_link: rc.patient_link,
            },
        );
    }
    match collections.get(super::PATIENTS) {
        Some(p) if !p.patient_link => {}
        _ => return Err(SchemaError::Patients),
    }
    Ok(Schema::from_collections(collections))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_parses() {
        let s = Schema::from_toml(Schema::default_toml()).unwrap();
        let p = s.collection("patients").unwrap();
        assert_eq!(p.fields.len(), 8);
        assert!(p.fields.values().all(|f| f.phi));
        let searchable: Vec<_> = p
            .fields
            .values()
            .filter(|f| f.search)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(searchable, ["email", "mrn", "ssn"]);
        assert_eq!(
            p.compound("name_birth_date").unwrap().fields,
            ["name", "birth_date"]
        );
        assert!(s.collection("encounters").unwrap().patient_link);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = "[collections.patients.fields]\nx = { type = \"blob\" }\n";
        let e = Schema::from_toml(bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "schema: field `patients.x` has unknown type `blob`"
        );
        let bad =
            "[collections.patients.fields]\nnotes = { type = \"text\", search = \"exact\" }\n";
        assert!(matches!(
            Schema::from_toml(bad),
            Err(SchemaError::BadSearch { .. })
        ));
        let bad = "[collections.other.fields]\nx = { type = \"text\" }\n";
        assert_eq!(Schema::from_toml(bad), Err(SchemaError::Patients));
    }
}
