//! A record opened for an authorized reader, and its JSON rendering.
//!
//! This is the one place PHI is serialized: into the HTTP response for a
//! caller the decision point allowed.

use std::collections::BTreeMap;

use phivault_core::PhiValue;
use serde::ser::{SerializeMap, Serializer};

/// One field value as returned.
#[derive(Debug, Clone)]
pub enum FieldOut {
    /// A PHI text value.
    Phi(PhiValue),
    /// A PHI JSON value (its serialized text).
    PhiJson(PhiValue),
    /// A non-PHI value.
    Plain(serde_json::Value),
}

/// An opened record.
#[derive(Debug, Clone)]
pub struct RecordView {
    /// Record id.
    pub id: String,
    /// Collection name.
    pub collection: String,
    /// Linked patient (absent for patients themselves).
    pub patient_id: Option<String>,
    /// Fields by name.
    pub fields: BTreeMap<String, FieldOut>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

struct Fields<'a>(&'a BTreeMap<String, FieldOut>);

impl serde::Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            match v {
                // Why exposing is fine: this is the response to an allowed read.
                FieldOut::Phi(p) => m.serialize_entry(k, p.expose())?,
                FieldOut::PhiJson(p) => {
                    let raw = serde_json::from_str::<serde_json::Value>(p.expose())
                        .unwrap_or(serde_json::Value::Null);
                    m.serialize_entry(k, &raw)?
                }
                FieldOut::Plain(v) => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

/// A record being disclosed to an allowed reader. `RecordView` itself has no
/// `Serialize`, so PHI cannot reach a log or event by accident; wrapping it in
/// `Disclosed` is the explicit, greppable act of disclosure.
#[derive(Debug)]
pub struct Disclosed<'a>(pub &'a RecordView);

impl serde::Serialize for Disclosed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &r.id)?;
        m.serialize_entry("collection", &r.collection)?;
        if let Some(p) = &r.patient_id {
            m.serialize_entry("patient_id", p)?;
        }
        m.serialize_entry("fields", &Fields(&r.fields))?;
        m.serialize_entry("created_at", &r.created_at)?;
        m.serialize_entry("updated_at", &r.updated_at)?;
        m.end()
    }
}

/// Applies the grant's field visibility (minimum necessary): hidden fields
/// are dropped, masked ones replaced by their masked form.
pub fn restrict(
    grant: &phivault_core::policy::Grant,
    coll: &phivault_core::schema::Collection,
    mut view: RecordView,
) -> RecordView {
    use phivault_core::policy::{Visibility, mask};
    view.fields
        .retain(|name, _| grant.visibility(name) != Visibility::Hidden);
    for (name, out) in &mut view.fields {
        if grant.visibility(name) != Visibility::Masked {
            continue;
        }
        let ty = coll
            .field(name)
            .map_or(phivault_core::schema::FieldType::Text, |d| d.ty);
        *out = match out {
            FieldOut::Phi(v) | FieldOut::PhiJson(v) => FieldOut::Phi(mask(ty, v)),
            FieldOut::Plain(_) => FieldOut::Plain(serde_json::Value::String("***".into())),
        };
    }
    view
}
