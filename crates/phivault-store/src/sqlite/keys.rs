//! Key management on SQLite: DEK pages on the reader pool, swaps and
//! shredding as one job each on the group-commit writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::params;

use super::SqliteStore;
use super::writer::Job;
use crate::{
    DekFilter, DekRow, DekSwap, IndexReplace, Reseal, SHREDDED_KEK_VERSION, Shredded, StoreError,
    StoredRecord,
};

impl SqliteStore {
    pub(super) async fn list_deks_impl(
        &self,
        filter: DekFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DekRow>, StoreError> {
        let after = after.unwrap_or("").to_owned();
        // `NotAt(v)` lists every version other than `v` except shredded ones.
        let not_at = match filter {
            DekFilter::All => None,
            DekFilter::NotAt(v) => Some(v),
        };
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT collection, id, kek_version, wrapped_dek FROM records
                 WHERE id > ?1 AND kek_version <> ?2 AND (?3 IS NULL OR kek_version <> ?3)
                 ORDER BY id LIMIT ?4",
            )?;
            let rows = st.query_map(params![after, SHREDDED_KEK_VERSION, not_at, limit], |r| {
                Ok(DekRow {
                    collection: r.get(0)?,
                    id: r.get(1)?,
                    kek_version: r.get(2)?,
                    wrapped_dek: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(super) async fn count_deks_by_kek_impl(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT kek_version, count(*) FROM records GROUP BY kek_version ORDER BY kek_version",
            )?;
            let rows = st.query_map([], |r| {
                Ok((r.get::<_, u32>(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Runs `sql` once per item in one writer job; returns the rows changed
    /// (a compare-and-swap that found the row changed counts 0).
    async fn count_changed<T: Send + 'static>(
        &self,
        sql: &'static str,
        items: Vec<T>,
        run: fn(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
    ) -> Result<u64, StoreError> {
        let applied = Arc::new(AtomicU64::new(0));
        let out = Arc::clone(&applied);
        self.writer
            .submit(Job::Exec(Box::new(move |c| {
                let mut st = c.prepare_cached(sql)?;
                let mut n = 0u64;
                for item in &items {
                    n += u64::try_from(run(&mut st, item)?).unwrap_or(0);
                }
                out.store(n, Ordering::Release);
                Ok(true)
            })))
            .await?;
        Ok(applied.load(Ordering::Acquire))
    }

    pub(super) async fn swap_deks_impl(&self, swaps: Vec<DekSwap>) -> Result<u64, StoreError> {
        self.count_changed(
            "UPDATE records SET wrapped_dek = ?1, kek_version = ?2
             WHERE id = ?3 AND collection = ?4 AND wrapped_dek = ?5",
            swaps,
            |st, s| st.execute(params![s.new, s.kek_version, s.id, s.collection, s.old]),
        )
        .await
    }

    pub(super) async fn reseal_records_impl(
        &self,
        reseals: Vec<Reseal>,
    ) -> Result<u64, StoreError> {
        self.count_changed(
            "UPDATE records SET wrapped_dek = ?1, kek_version = ?2, sealed = ?3
             WHERE id = ?4 AND collection = ?5 AND wrapped_dek = ?6 AND updated_at = ?7",
            reseals,
            |st, r| {
                st.execute(params![
                    r.new_wrapped,
                    r.kek_version,
                    r.sealed,
                    r.id,
                    r.collection,
                    r.old_wrapped,
                    r.expected_updated_at
                ])
            },
        )
        .await
    }

    pub(super) async fn replace_index_impl(
        &self,
        replaces: Vec<IndexReplace>,
    ) -> Result<Vec<String>, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .submit(Job::Exec(Box::new(move |c| {
                let mut check = c.prepare_cached(
                    "UPDATE records SET updated_at = updated_at
                     WHERE id = ?1 AND collection = ?2 AND updated_at = ?3",
                )?;
                let mut del = c.prepare_cached("DELETE FROM blind_index WHERE record_id = ?1")?;
                let mut conflicts = Vec::new();
                for r in &replaces {
                    if check.execute(params![r.id, r.collection, r.expected_updated_at])? == 0 {
                        conflicts.push(r.id.clone());
                        continue;
                    }
                    del.execute(params![r.id])?;
                    super::writer::insert_index(c, &r.collection, &r.id, &r.entries)?;
                }
                let _ = tx.send(conflicts);
                Ok(true)
            })))
            .await?;
        Ok(rx.try_recv().unwrap_or_default())
    }

    pub(super) async fn shred_patient_impl(
        &self,
        patient_id: &str,
    ) -> Result<Vec<Shredded>, StoreError> {
        let pid = patient_id.to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .submit(Job::Exec(Box::new(move |c| {
                let ids: Vec<Shredded> = c
                    .prepare_cached(
                        "SELECT collection, id FROM records WHERE id = ?1 OR patient_id = ?1 ORDER BY id",
                    )?
                    .query_map(params![pid], |r| {
                        Ok(Shredded {
                            collection: r.get(0)?,
                            id: r.get(1)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?;
                let empty = StoredRecord::encode_sealed_fields(&Default::default());
                let mut upd = c.prepare_cached(
                    "UPDATE records SET wrapped_dek = x'', sealed = ?1, kek_version = ?2 WHERE id = ?3",
                )?;
                let mut del = c.prepare_cached("DELETE FROM blind_index WHERE record_id = ?1")?;
                for s in &ids {
                    upd.execute(params![empty, SHREDDED_KEK_VERSION, s.id])?;
                    del.execute(params![s.id])?;
                }
                let _ = tx.send(ids);
                Ok(true)
            })))
            .await?;
        Ok(rx.try_recv().unwrap_or_default())
    }
}
