//! Create, read, update and delete.

use std::collections::BTreeMap;

use phivault_core::PhiValue;
use phivault_core::envelope::{DataKey, FieldContext, RecordCipher, WrappedDek};
use phivault_core::ids::RecordId;
use phivault_core::policy::{Action, Grant};

/// The route-shaped resource name events carry (ids only).
pub(super) fn resource(collection: &str, id: &str) -> String {
    format!("/v1/collections/{collection}/records/{id}")
}
use phivault_core::record::{self, RecordError};
use phivault_core::schema::{Collection, FieldType, PATIENTS};
use phivault_core::validate;
use phivault_store::{IndexEntry, StoredRecord};

use super::view::{FieldOut, RecordView};
use super::{Permit, Vault, VaultError};
use crate::clock::{micros, rfc3339_micros};

/// A record opened in memory: its view plus the cipher to reseal with.
pub(super) struct Opened {
    pub(super) view: RecordView,
    pub(super) cipher: RecordCipher,
    pub(super) stored: StoredRecord,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("id", &self.view.id)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates a record; returns its id.
    pub async fn create(
        &self,
        permit: &Permit,
        collection: &str,
        patient_id: Option<String>,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RecordId, VaultError> {
        let grant = &permit.grant;
        let coll = self.check(grant, &Action::Create, collection)?;
        writable(grant, &fields)?;
        let written: Vec<String> = fields.keys().cloned().collect();
        let valid = record::validate_create(coll, fields, &self.validation_context())?;
        let id = RecordId::generate().map_err(|_| VaultError::Crypto)?;
        let patient_id = self.link(coll, &id, patient_id).await?;
        let dek = DataKey::generate().map_err(|_| VaultError::Crypto)?;
        let cipher = RecordCipher::new(&dek).map_err(|_| VaultError::Crypto)?;
        let mut sealed = BTreeMap::new();
        let mut normalized: BTreeMap<&str, &PhiValue> = BTreeMap::new();
        for (name, v) in &valid.phi {
            let ctx = FieldContext {
                collection,
                record_id: id.as_str(),
                field: name,
            };
            sealed.insert(
                name.clone(),
                cipher
                    .seal(ctx, &v.canonical)
                    .map_err(|_| VaultError::Crypto)?,
            );
            if let Some(n) = &v.normalized {
                normalized.insert(name, n);
            }
        }
        for (k, v) in &valid.plain_index {
            normalized.insert(k, v);
        }
        let index = self.index_entries(coll, &normalized, None);
        let wrapped = self
            .keys
            .wrap(&dek, collection, id.as_str())
            .await
            .map_err(|_| VaultError::Keys)?;
        let now = micros(self.clock.now());
        let rec = StoredRecord {
            collection: collection.to_owned(),
            id: id.as_str().to_owned(),
            patient_id,
            created_at: now,
            updated_at: now,
            kek_version: phivault_keys::router::kek_slot(wrapped.kek),
            wrapped_dek: wrapped.encode(),
            sealed,
            plain: valid.plain.into_iter().collect(),
        };
        // The event is durable before the record exists.
        let mut ev = self.event(permit, "created", resource(collection, id.as_str()));
        ev.patient_id = rec.patient_id.clone();
        ev.fields = written;
        self.record(vec![ev.clone()]).await?;
        if let Err(e) = self.store.insert_record(rec, index).await {
            self.record_failure(ev, "store_error").await;
            return Err(e.into());
        }
        Ok(id)
    }

    /// Reads one record.
    pub async fn get(
        &self,
        permit: &Permit,
        collection: &str,
        id: &str,
    ) -> Result<RecordView, VaultError> {
        let coll = self.check(&permit.grant, &Action::View, collection)?;
        let mut ev = self.event(permit, "viewed", resource(collection, id));
        let opened = match self.load(coll, id).await {
            Ok(o) => o,
            Err(e) => {
                self.record_failure(ev, failure_reason(&e)).await;
                return Err(e);
            }
        };
        ev.patient_id = opened.stored.patient_id.clone();
        let view = super::view::restrict(&permit.grant, coll, opened.view);
        ev.fields = view.fields.keys().cloned().collect();
        if permit.grant.is_break_glass() {
            ev.flags.push("break_glass".into());
        }
        // Fail closed: no event, no PHI.
        self.record(vec![ev]).await?;
        Ok(view)
    }

    /// Applies a partial update; returns the updated record.
    pub async fn patch(
        &self,
        permit: &Permit,
        collection: &str,
        id: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RecordView, VaultError> {
        let grant = &permit.grant;
        let coll = self.check(grant, &Action::Modify, collection)?;
        writable(grant, &fields)?;
        let valid = record::validate_patch(coll, fields, &self.validation_context())?;
        let mut ev = self.event(permit, "modified", resource(collection, id));
        let opened = match self.load(coll, id).await {
            Ok(o) => o,
            Err(e) => {
                self.record_failure(ev, failure_reason(&e)).await;
                return Err(e);
            }
        };
        let Opened {
            mut view,
            cipher,
            mut stored,
        } = opened;
        let mut changed: Vec<&str> = Vec::new();
        for (name, v) in &valid.phi {
            let ctx = FieldContext {
                collection,
                record_id: id,
                field: name,
            };
            stored.sealed.insert(
                name.clone(),
                cipher
                    .seal(ctx, &v.canonical)
                    .map_err(|_| VaultError::Crypto)?,
            );
            view.fields
                .insert(name.clone(), field_out(coll, name, v.canonical.clone()));
            changed.push(name);
        }
        for (name, v) in &valid.plain {
            stored.plain.insert(name.clone(), v.clone());
            view.fields.insert(name.clone(), FieldOut::Plain(v.clone()));
            changed.push(name);
        }
        for name in &valid.removed {
            stored.sealed.remove(name);
            stored.plain.remove(name);
            view.fields.remove(name);
            changed.push(name);
        }
        // Recompute the index entries that depend on a changed field, from the
        // merged record's values.
        let normalized = self.normalized_of(coll, &view)?;
        let normalized_refs: BTreeMap<&str, &PhiValue> =
            normalized.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let affected = affected_indexes(coll, &changed);
        let index = self.index_entries(coll, &normalized_refs, Some(&affected));
        let expected = stored.updated_at;
        stored.updated_at = micros(self.clock.now()).max(expected.saturating_add(1));
        view.updated_at = rfc3339_micros(stored.updated_at);
        ev.patient_id = stored.patient_id.clone();
        ev.fields = changed.iter().map(|s| (*s).to_owned()).collect();
        if grant.is_break_glass() {
            ev.flags.push("break_glass".into());
        }
        self.record(vec![ev.clone()]).await?;
        if let Err(e) = self
            .store
            .update_record(stored, expected, affected, index)
            .await
        {
            let e = VaultError::from(e);
            self.record_failure(ev, failure_reason(&e)).await;
            return Err(e);
        }
        Ok(super::view::restrict(grant, coll, view))
    }

    /// Deletes a record.
    pub async fn delete(
        &self,
        permit: &Permit,
        collection: &str,
        id: &str,
    ) -> Result<(), VaultError> {
        self.check(&permit.grant, &Action::Delete, collection)?;
        let mut ev = self.event(permit, "deleted", resource(collection, id));
        let existing = match RecordId::parse(id) {
            Ok(_) => self.store.get_record(collection, id).await?,
            Err(_) => None,
        };
        let Some(existing) = existing else {
            self.record_failure(ev, "not_found").await;
            return Err(VaultError::NotFound);
        };
        ev.patient_id = existing.patient_id;
        self.record(vec![ev.clone()]).await?;
        match self.store.delete_record(collection, id).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.record_failure(ev, "not_found").await;
                Err(VaultError::NotFound)
            }
            Err(e) => {
                self.record_failure(ev, "store_error").await;
                Err(e.into())
            }
        }
    }

    /// Loads and opens a record, verifying every sealed field.
    pub(super) async fn load(&self, coll: &Collection, id: &str) -> Result<Opened, VaultError> {
        if RecordId::parse(id).is_err() {
            return Err(VaultError::NotFound);
        }
        let stored = self
            .store
            .get_record(&coll.name, id)
            .await?
            .ok_or(VaultError::NotFound)?;
        self.open(coll, stored).await
    }

    pub(super) async fn open(
        &self,
        coll: &Collection,
        stored: StoredRecord,
    ) -> Result<Opened, VaultError> {
        if stored.kek_version == phivault_store::SHREDDED_KEK_VERSION {
            return Err(VaultError::Shredded);
        }
        let wrapped = WrappedDek::decode(&stored.wrapped_dek).map_err(|_| VaultError::Integrity)?;
        let dek = self
            .keys
            .unwrap(&wrapped, &stored.collection, &stored.id)
            .await
            .map_err(|e| match e {
                phivault_core::envelope::UnwrapError::UnknownKek(_) => VaultError::Keys,
                _ => VaultError::Integrity,
            })?;
        let cipher = RecordCipher::new(&dek).map_err(|_| VaultError::Crypto)?;
        let mut fields = BTreeMap::new();
        for (name, ct) in &stored.sealed {
            let ctx = FieldContext {
                collection: &stored.collection,
                record_id: &stored.id,
                field: name,
            };
            let value = cipher.open(ctx, ct).map_err(|_| VaultError::Integrity)?;
            fields.insert(name.clone(), field_out(coll, name, value));
        }
        for (name, v) in &stored.plain {
            fields.insert(name.clone(), FieldOut::Plain(v.clone()));
        }
        let view = RecordView {
            id: stored.id.clone(),
            collection: stored.collection.clone(),
            patient_id: stored.patient_id.clone().filter(|_| !coll.is_patients()),
            fields,
            created_at: rfc3339_micros(stored.created_at),
            updated_at: rfc3339_micros(stored.updated_at),
        };
        Ok(Opened {
            view,
            cipher,
            stored,
        })
    }

    /// Resolves `patient_id` for a new record: its own id for patients, a
    /// required existing patient for linked collections, absent otherwise.
    async fn link(
        &self,
        coll: &Collection,
        id: &RecordId,
        patient_id: Option<String>,
    ) -> Result<Option<String>, VaultError> {
        let bad = |problem| VaultError::BadRequest {
            field: "patient_id",
            problem,
        };
        if coll.is_patients() {
            return match patient_id {
                None => Ok(Some(id.as_str().to_owned())),
                Some(_) => Err(bad("is not allowed on patients")),
            };
        }
        match (coll.patient_link, patient_id) {
            (false, None) => Ok(None),
            (false, Some(_)) => Err(bad("is not defined for this collection")),
            (true, None) => Err(RecordError::MissingRequired("patient_id".into()).into()),
            (true, Some(p)) => {
                let pid = RecordId::parse(&p).map_err(|_| bad("is not a patient record id"))?;
                match self.store.get_record(PATIENTS, pid.as_str()).await? {
                    Some(_) => Ok(Some(p)),
                    None => Err(bad("names no existing patient")),
                }
            }
        }
    }

    /// Normalized (index-form) values of every searchable field of a view.
    pub(super) fn normalized_of(
        &self,
        coll: &Collection,
        view: &RecordView,
    ) -> Result<BTreeMap<String, PhiValue>, VaultError> {
        let ctx = self.validation_context();
        let mut out = BTreeMap::new();
        for def in coll.fields.values().filter(|d| d.ty.searchable()) {
            let text = match view.fields.get(&def.name) {
                Some(FieldOut::Phi(p)) => p.expose().to_owned(),
                Some(FieldOut::Plain(serde_json::Value::String(s))) => s.clone(),
                _ => continue,
            };
            // Re-validating a stored canonical value yields its index form.
            let v = validate::validate(def, serde_json::Value::String(text), &ctx)?;
            if let Some(n) = v.normalized {
                out.insert(def.name.clone(), n);
            }
        }
        Ok(out)
    }

    /// Index entries from normalized values; with `only`, just those indexes.
    pub(super) fn index_entries(
        &self,
        coll: &Collection,
        normalized: &BTreeMap<&str, &PhiValue>,
        only: Option<&[String]>,
    ) -> Vec<IndexEntry> {
        let wanted = |name: &str| only.is_none_or(|o| o.iter().any(|x| x == name));
        let mut out = Vec::new();
        let Some((_, indexer)) = self.index.current() else {
            return out;
        };
        for def in coll.fields.values().filter(|d| d.search && wanted(&d.name)) {
            if let Some(v) = normalized.get(def.name.as_str())
                && let Some(tag) = indexer.tag(&coll.name, &def.name, &[v])
            {
                out.push(IndexEntry {
                    index: def.name.clone(),
                    tag: tag.as_bytes().to_vec(),
                });
            }
        }
        for c in coll.compound.iter().filter(|c| wanted(&c.name)) {
            let parts: Option<Vec<&PhiValue>> = c
                .fields
                .iter()
                .map(|f| normalized.get(f.as_str()).copied())
                .collect();
            if let Some(parts) = parts
                && let Some(tag) = indexer.tag(&coll.name, &c.name, &parts)
            {
                out.push(IndexEntry {
                    index: c.name.clone(),
                    tag: tag.as_bytes().to_vec(),
                });
            }
        }
        out
    }
}

/// Fields a grant hides may not be written either.
fn writable(
    grant: &Grant,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), VaultError> {
    use phivault_core::policy::Visibility;
    match fields
        .keys()
        .find(|f| grant.visibility(f) == Visibility::Hidden)
    {
        Some(f) => Err(VaultError::FieldNotPermitted(f.clone())),
        None => Ok(()),
    }
}

fn field_out(coll: &Collection, name: &str, v: PhiValue) -> FieldOut {
    match coll.field(name).map(|d| d.ty) {
        Some(FieldType::Json) => FieldOut::PhiJson(v),
        _ => FieldOut::Phi(v),
    }
}

/// The indexes (fields and compounds) that depend on any changed field.
fn affected_indexes(coll: &Collection, changed: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = changed
        .iter()
        .filter(|c| coll.field(c).is_some_and(|d| d.search))
        .map(|c| (*c).to_owned())
        .collect();
    for c in &coll.compound {
        if c.fields.iter().any(|f| changed.contains(&f.as_str())) {
            out.push(c.name.clone());
        }
    }
    out
}

/// The reason code an audit event gives for a failed operation.
pub(super) fn failure_reason(e: &VaultError) -> &'static str {
    match e {
        VaultError::NotFound => "not_found",
        VaultError::Conflict => "conflict",
        VaultError::Integrity => "integrity",
        VaultError::Keys => "keys",
        VaultError::Shredded => "shredded",
        _ => "error",
    }
}
