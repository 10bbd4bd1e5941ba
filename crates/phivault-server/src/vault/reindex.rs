//! Rewriting blind-index tags under the current index root (`phivault keys
//! reindex`): each record is opened, its index values normalized as on
//! write, and all its entries replaced in one compare-and-swap on
//! `updated_at` (a concurrent update wins and wrote current-root tags
//! itself).

use std::collections::BTreeMap;

use phivault_core::PhiValue;
use phivault_store::{IndexReplace, SHREDDED_KEK_VERSION, StoredRecord};

use super::{Vault, VaultError};

/// One page's new entries, computed but not yet written (the caller makes
/// its audit events durable first, then calls [`Vault::apply_reindex`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReindexPage {
    /// The last record id of the page (`None`: the collection is done).
    pub last: Option<String>,
    /// The replacements.
    pub replaces: Vec<IndexReplace>,
    /// The `(record id, patient_id, index names)` of each, for events.
    pub touched: Vec<(String, Option<String>, Vec<String>)>,
}

impl Vault {
    /// Whether a collection has any blind index.
    pub fn has_indexes(&self, collection: &str) -> bool {
        self.schema
            .collection(collection)
            .is_some_and(|c| c.fields.values().any(|d| d.search) || !c.compound.is_empty())
    }

    /// Reindexes the page of `collection` after `after` (at most `limit`
    /// records).
    pub async fn reindex_page(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ReindexPage, VaultError> {
        let page = self.store.list_records(collection, after, limit).await?;
        let last = page.last().map(|r| r.id.clone());
        let mut out = self.reindex_records(collection, page).await?;
        out.last = last;
        Ok(out)
    }

    /// Reindexes the named records again (after they changed meanwhile).
    pub async fn reindex_ids(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<ReindexPage, VaultError> {
        let mut recs = Vec::new();
        for id in ids {
            if let Some(r) = self.store.get_record(collection, id).await? {
                recs.push(r);
            }
        }
        self.reindex_records(collection, recs).await
    }

    async fn reindex_records(
        &self,
        collection: &str,
        records: Vec<StoredRecord>,
    ) -> Result<ReindexPage, VaultError> {
        let coll = self
            .schema
            .collection(collection)
            .ok_or_else(|| VaultError::UnknownCollection(collection.to_owned()))?;
        let mut replaces = Vec::new();
        let mut touched = Vec::new();
        for stored in records {
            if stored.kek_version == SHREDDED_KEK_VERSION {
                continue;
            }
            let (id, expected, patient) = (
                stored.id.clone(),
                stored.updated_at,
                stored.patient_id.clone(),
            );
            let opened = self.open(coll, stored).await?;
            let normalized = self.normalized_of(coll, &opened.view)?;
            let refs: BTreeMap<&str, &PhiValue> =
                normalized.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let entries = self.index_entries(coll, &refs, None);
            touched.push((
                id.clone(),
                patient,
                entries.iter().map(|e| e.index.clone()).collect(),
            ));
            replaces.push(IndexReplace {
                collection: collection.to_owned(),
                id,
                expected_updated_at: expected,
                entries,
            });
        }
        Ok(ReindexPage {
            last: None,
            replaces,
            touched,
        })
    }

    /// Writes a page's replacements; returns the ids that changed meanwhile
    /// (to reindex again).
    pub async fn apply_reindex(
        &self,
        replaces: Vec<IndexReplace>,
    ) -> Result<Vec<String>, VaultError> {
        Ok(self.store.replace_index(replaces).await?)
    }
}
