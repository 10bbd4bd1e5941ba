//! Exact-match search through blind indexes.
//!
//! The value is validated and normalized exactly as on write, hashed into a
//! tag, and looked up in the index. Each hit is opened and its value compared
//! again, so a tag collision can never return a wrong record.

use std::collections::BTreeMap;

use phivault_core::PhiValue;
use phivault_core::policy::Action;
use phivault_core::record::RecordError;
use phivault_core::schema::Collection;
use phivault_core::validate;

use super::view::{FieldOut, RecordView};
use super::{Vault, VaultError};

/// The most records one search returns.
pub const MAX_RESULTS: u32 = 1000;

/// A parsed search request body.
#[derive(Debug)]
pub enum SearchRequest {
    /// `{"field": "ssn", "value": "…"}`.
    Field {
        /// Field name.
        field: String,
        /// The value sought (PHI).
        value: serde_json::Value,
        /// At most this many results.
        limit: u32,
    },
    /// `{"fields": {"name": "…", "birth_date": "…"}}` for a compound index.
    Compound {
        /// Field names and values.
        fields: serde_json::Map<String, serde_json::Value>,
        /// At most this many results.
        limit: u32,
    },
}

impl SearchRequest {
    /// Parses a request body; errors name the member.
    pub fn parse(mut body: serde_json::Map<String, serde_json::Value>) -> Result<Self, VaultError> {
        let bad = |field, problem| VaultError::BadRequest { field, problem };
        let limit = match body.remove("limit") {
            None => 100,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=u64::from(MAX_RESULTS)).contains(n))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(bad("limit", "must be an integer from 1 to 1000"))?,
        };
        let field = body.remove("field");
        let value = body.remove("value");
        let fields = body.remove("fields");
        if let Some(k) = body.keys().next() {
            return Err(VaultError::BadRequest {
                field: "body",
                problem: if k.is_empty() {
                    "has an empty member"
                } else {
                    "has an unknown member"
                },
            });
        }
        match (field, value, fields) {
            (Some(serde_json::Value::String(field)), Some(value), None) => Ok(Self::Field {
                field,
                value,
                limit,
            }),
            (None, None, Some(serde_json::Value::Object(fields))) => {
                Ok(Self::Compound { fields, limit })
            }
            (Some(_), Some(_), None) => Err(bad("field", "must be a string")),
            (None, None, Some(_)) => Err(bad("fields", "must be an object")),
            _ => Err(bad("field", "give `field` and `value`, or `fields`")),
        }
    }
}

impl Vault {
    /// Runs a search.
    pub async fn search(
        &self,
        permit: &super::Permit,
        collection: &str,
        req: SearchRequest,
    ) -> Result<Vec<RecordView>, VaultError> {
        let grant = &permit.grant;
        let coll = self.check(grant, &Action::Search, collection)?;
        let ctx = self.validation_context();
        let (index, wanted, limit) = match req {
            SearchRequest::Field {
                field,
                value,
                limit,
            } => {
                let def = coll
                    .field(&field)
                    .ok_or(VaultError::Invalid(RecordError::UnknownField))?;
                let def = Some(def)
                    .filter(|d| d.search)
                    .ok_or_else(|| VaultError::NotSearchable(field.clone()))?;
                let n = validate::validate(def, value, &ctx)?
                    .normalized
                    .ok_or_else(|| VaultError::NotSearchable(field.clone()))?;
                (field.clone(), vec![(field, n)], limit)
            }
            SearchRequest::Compound { mut fields, limit } => {
                let names: Vec<&String> = fields.keys().collect();
                if names.iter().any(|n| coll.field(n).is_none()) {
                    return Err(VaultError::Invalid(RecordError::UnknownField));
                }
                let c = coll
                    .compound
                    .iter()
                    .find(|c| {
                        c.fields.len() == names.len() && c.fields.iter().all(|f| names.contains(&f))
                    })
                    .ok_or_else(|| {
                        VaultError::NotSearchable(
                            names
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join("+"),
                        )
                    })?;
                let mut wanted = Vec::new();
                for f in &c.fields {
                    let def = coll
                        .field(f)
                        .ok_or_else(|| VaultError::NotSearchable(f.clone()))?;
                    let value = fields.remove(f).unwrap_or(serde_json::Value::Null);
                    let n = validate::validate(def, value, &ctx)?
                        .normalized
                        .ok_or_else(|| VaultError::NotSearchable(f.clone()))?;
                    wanted.push((f.clone(), n));
                }
                (c.name.clone(), wanted, limit)
            }
        };
        // Minimum necessary: only fields the grant shows in full may be searched.
        if let Some((f, _)) = wanted.iter().find(|(f, _)| !grant.may_search(f)) {
            return Err(VaultError::FieldNotPermitted(f.clone()));
        }
        let parts: Vec<&PhiValue> = wanted.iter().map(|(_, v)| v).collect();
        // Every active index root (two during a reindex): a record is
        // found whichever root its tags were written under.
        let mut hits: Vec<phivault_store::StoredRecord> = Vec::new();
        // The event names the term by its tag under the current root.
        let mut term_hex = String::new();
        for indexer in self.index.all() {
            let tag = indexer
                .tag(collection, &index, &parts)
                .ok_or_else(|| VaultError::NotSearchable(index.clone()))?;
            term_hex = tag.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            for h in self
                .store
                .search(collection, &index, tag.as_bytes(), limit)
                .await?
            {
                if !hits.iter().any(|x| x.id == h.id) {
                    hits.push(h);
                }
            }
        }
        hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut out = Vec::with_capacity(hits.len());
        let mut patients = Vec::with_capacity(hits.len());
        for stored in hits {
            if stored.kek_version == phivault_store::SHREDDED_KEK_VERSION {
                continue;
            }
            let patient = stored.patient_id.clone();
            if grant.care_team_only() {
                // Only the user's care-team patients (a record of a linked
                // collection counts through its patient).
                let p = patient.clone().unwrap_or_else(|| stored.id.clone());
                if !self.store.on_care_team(&p, &permit.who.user).await? {
                    continue;
                }
            }
            let opened = self.open(coll, stored).await?;
            if self.matches(coll, &opened.view, &wanted)? {
                out.push(super::view::restrict(grant, coll, opened.view));
                patients.push(patient);
            }
        }
        // One event per disclosed record (the accounting of disclosures is
        // per patient), or one for a search that found nothing; the search
        // term only as its blind-index tag.
        let term = format!("{index}:{term_hex}");
        let base = {
            let mut e = self.event(
                permit,
                "searched",
                format!("/v1/collections/{collection}/search"),
            );
            e.query = vec![term];
            e.count = Some(out.len() as u64);
            e
        };
        let events = if out.is_empty() {
            vec![base]
        } else {
            out.iter()
                .zip(patients)
                .map(|(view, patient)| {
                    let mut e = base.clone();
                    e.resource = super::ops::resource(collection, &view.id);
                    e.patient_id = patient;
                    e.fields = view.fields.keys().cloned().collect();
                    e
                })
                .collect()
        };
        // Fail closed: no events, no PHI.
        self.record(events).await?;
        Ok(out)
    }

    fn matches(
        &self,
        coll: &Collection,
        view: &RecordView,
        wanted: &[(String, PhiValue)],
    ) -> Result<bool, VaultError> {
        let ctx = self.validation_context();
        let mut have = BTreeMap::new();
        for (name, _) in wanted {
            let def = coll
                .field(name)
                .ok_or_else(|| VaultError::NotSearchable(name.clone()))?;
            let text = match view.fields.get(name) {
                Some(FieldOut::Phi(p)) => p.expose().to_owned(),
                Some(FieldOut::Plain(serde_json::Value::String(s))) => s.clone(),
                _ => return Ok(false),
            };
            have.insert(
                name,
                validate::validate(def, serde_json::Value::String(text), &ctx)?.normalized,
            );
        }
        Ok(wanted
            .iter()
            .all(|(name, want)| have.get(name).and_then(|h| h.as_ref()) == Some(want)))
    }
}
