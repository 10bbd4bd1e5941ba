//! Safe Harbor de-identified exports (45 CFR 164.514(b)(2)) for research and
//! analytics: every record of a collection is opened, stripped of the 18
//! identifiers by `phivault_scan::deid` and only then leaves the vault. Needs
//! `export:<collection>`; fields the grant does not show in full are left
//! out before de-identification; one `exported` event (with the count and
//! the method) is durable before anything is returned.

use std::sync::Arc;

use phivault_core::PhiValue;
use phivault_core::policy::{Action, Visibility};
use phivault_core::schema::{Collection, FieldType};
use phivault_scan::deid::{self, DeidOptions, DeidentifiedRecord, PseudonymKey};

use super::{FieldOut, Permit, Vault, VaultError, view::RecordView};

const PAGE: u32 = 500;

/// The source record for de-identification: only fields shown in full.
fn source(permit: &Permit, coll: &Collection, view: RecordView) -> deid::Record {
    let patient = view.patient_id.unwrap_or(view.id);
    let mut fields = Vec::new();
    for (name, out) in view.fields {
        if permit.grant.visibility(&name) != Visibility::Full {
            continue;
        }
        let ty = coll.fields.get(&name).map_or(FieldType::String, |f| f.ty);
        let value = match out {
            FieldOut::Phi(v) | FieldOut::PhiJson(v) => v,
            FieldOut::Plain(serde_json::Value::String(s)) => PhiValue::new(s),
            FieldOut::Plain(other) => PhiValue::new(other.to_string()),
        };
        fields.push(deid::Field { name, ty, value });
    }
    deid::Record {
        patient_id: PhiValue::new(patient),
        fields,
    }
}

impl Vault {
    /// De-identifies every record of `collection` (Safe Harbor), with a
    /// keyed pseudonym per patient when `pseudonyms` is given.
    pub async fn export_deidentified(
        &self,
        permit: &Permit,
        collection: &str,
        pseudonyms: Option<PseudonymKey>,
    ) -> Result<Vec<DeidentifiedRecord>, VaultError> {
        let coll = self.check(&permit.grant, &Action::Export, collection)?;
        if permit.grant.care_team_only() {
            // A care-team-scoped role exports nothing wholesale.
            return Err(VaultError::Forbidden);
        }
        let year = self
            .clock
            .now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .year();
        let opts = DeidOptions {
            reference_year: i32::from(year),
            pseudonym_key: pseudonyms,
            detectors: Arc::new(phivault_scan::Detectors::new()),
        };
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_records(collection, after.as_deref(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for stored in page {
                if stored.kek_version == phivault_store::SHREDDED_KEK_VERSION {
                    // Crypto-shredded: nothing left to export.
                    continue;
                }
                let opened = self.open(coll, stored).await?;
                let rec = source(permit, coll, opened.view);
                out.push(deid::deidentify(&rec, &opts).map_err(|_| VaultError::Crypto)?);
            }
        }
        let mut ev = self.event(permit, "exported", format!("/v1/collections/{collection}"));
        ev.count = Some(out.len() as u64);
        ev.flags.push("deidentified:safe-harbor".into());
        if opts.pseudonym_key.is_some() {
            ev.flags.push("pseudonymized".into());
        }
        // Fail closed: nothing leaves before the event is durable.
        self.record(vec![ev]).await?;
        Ok(out)
    }
}
