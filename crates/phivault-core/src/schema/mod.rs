//! Collection schemas: which fields a collection has, their types, which are
//! PHI, which are searchable. Parsed from `schema.toml` in the data directory.

mod parse;

use std::collections::BTreeMap;

pub use parse::SchemaError;

/// The collection whose records are patients. Other collections may link
/// their records to one of its records with `patient_id`.
pub const PATIENTS: &str = "patients";

/// The value type of a field; each has a validator in [`crate::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A short single-line string (256 characters at most).
    String,
    /// Free text (64 KiB at most).
    Text,
    /// An ISO 8601 calendar date, not in the future.
    Date,
    /// A US social security number, `NNN-NN-NNNN`.
    Ssn,
    /// A medical record number: letters, digits and dashes.
    Mrn,
    /// An email address.
    Email,
    /// A phone number, stored in E.164 form.
    Phone,
    /// A postal address, one string.
    Address,
    /// Any JSON value (16 KiB at most once serialized).
    Json,
}

impl FieldType {
    /// Parses the `type` name used in `schema.toml`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "text" => Self::Text,
            "date" => Self::Date,
            "ssn" => Self::Ssn,
            "mrn" => Self::Mrn,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "address" => Self::Address,
            "json" => Self::Json,
            _ => return None,
        })
    }

    /// The name used in `schema.toml` and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Text => "text",
            Self::Date => "date",
            Self::Ssn => "ssn",
            Self::Mrn => "mrn",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Address => "address",
            Self::Json => "json",
        }
    }

    /// Whether an exact-match blind index makes sense for this type.
    pub fn searchable(self) -> bool {
        !matches!(self, Self::Text | Self::Json)
    }
}

/// One field of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// Field name (`[a-z][a-z0-9_]*`).
    pub name: String,
    /// Value type.
    pub ty: FieldType,
    /// Whether values are PHI (sealed) or plain (stored as given).
    pub phi: bool,
    /// Whether the field has an exact-match blind index.
    pub search: bool,
    /// Whether a record must carry the field.
    pub required: bool,
}

/// A search over several fields at once (for example name + birth date),
/// indexed as one blind-index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompoundIndex {
    /// The index name, used as the `field` of a search request.
    pub name: String,
    /// The fields, in hashing order.
    pub fields: Vec<String>,
}

/// A collection definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Collection name.
    pub name: String,
    /// Field definitions by name.
    pub fields: BTreeMap<String, FieldDef>,
    /// Multi-field exact-match indexes.
    pub compound: Vec<CompoundIndex>,
    /// Records must carry a `patient_id` naming a record of `patients`.
    pub patient_link: bool,
}

impl Collection {
    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.get(name)
    }

    /// A compound index by name.
    pub fn compound(&self, name: &str) -> Option<&CompoundIndex> {
        self.compound.iter().find(|c| c.name == name)
    }

    /// True for the patients collection itself.
    pub fn is_patients(&self) -> bool {
        self.name == PATIENTS
    }
}

/// All collections of a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    collections: BTreeMap<String, Collection>,
}

impl Schema {
    /// Parses `schema.toml` text, checking every definition.
    pub fn from_toml(text: &str) -> Result<Self, SchemaError> {
        parse::parse(text)
    }

    /// The schema `phivault init` writes.
    pub fn default_toml() -> &'static str {
        DEFAULT_SCHEMA
    }

    /// A collection by name.
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        self.collections.get(name)
    }

    /// All collections, by name.
    pub fn collections(&self) -> impl Iterator<Item = &Collection> {
        self.collections.values()
    }

    pub(crate) fn from_collections(collections: BTreeMap<String, Collection>) -> Self {
        Self { collections }
    }
}

const DEFAULT_SCHEMA: &str = r#"# phivault collection schema.
#
# Each field has a `type` (string, text, date, ssn, mrn, email, phone, address,
# json), `phi` (sealed with the record's data key when true), `search = "exact"`
# (blind-indexed for exact-match search) and `required`.

[collections.patients.fields]
name       = { type = "string",  phi = true, required = true }
birth_date = { type = "date",    phi = true, required = true }
ssn        = { type = "ssn",     phi = true, search = "exact" }
mrn        = { type = "mrn",     phi = true, search = "exact" }
address    = { type = "address", phi = true }
phone      = { type = "phone",   phi = true }
email      = { type = "email",   phi = true, search = "exact" }
notes      = { type = "text",    phi = true }

# Search by name and birth date together: {"fields": {"name": …, "birth_date": …}}
[[collections.patients.compound_search]]
name = "name_birth_date"
fields = ["name", "birth_date"]

# A collection linked to patients: each record names its patient in `patient_id`.
[collections.encounters]
patient_link = true

[collections.encounters.fields]
date       = { type = "date",   phi = true, required = true }
reason     = { type = "text",   phi = true }
department = { type = "string", phi = false }
"#;
