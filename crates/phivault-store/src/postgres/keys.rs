//! Key management on PostgreSQL: every write is one statement (atomic).

use super::PgStore;
use crate::{
    DekFilter, DekRow, DekSwap, ErrorKind, IndexReplace, Reseal, SHREDDED_KEK_VERSION, Shredded,
    StoreError, StoredRecord,
};

fn version(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::new(ErrorKind::Corrupt, "kek version out of range"))
}

impl PgStore {
    pub(super) async fn list_deks_impl(
        &self,
        filter: DekFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DekRow>, StoreError> {
        let c = self.pool.get().await?;
        let not_at: Option<i64> = match filter {
            DekFilter::All => None,
            DekFilter::NotAt(v) => Some(i64::from(v)),
        };
        let st = c
            .prepare_cached(
                "SELECT collection, id, kek_version, wrapped_dek FROM records
                 WHERE id > $1 AND kek_version <> $2 AND ($3::int8 IS NULL OR kek_version <> $3)
                 ORDER BY id LIMIT $4",
            )
            .await?;
        let rows = c
            .query(
                &st,
                &[
                    &after.unwrap_or(""),
                    &i64::from(SHREDDED_KEK_VERSION),
                    &not_at,
                    &i64::from(limit),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DekRow {
                    collection: r.try_get(0)?,
                    id: r.try_get(1)?,
                    kek_version: version(r.try_get(2)?)?,
                    wrapped_dek: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub(super) async fn count_deks_by_kek_impl(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT kek_version, count(*) FROM records GROUP BY kek_version ORDER BY kek_version",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get(1)?;
                Ok((version(r.try_get(0)?)?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    pub(super) async fn swap_deks_impl(&self, swaps: Vec<DekSwap>) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "UPDATE records r SET wrapped_dek = u.new, kek_version = u.v
                 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::int8[])
                      AS u(collection, id, old, new, v)
                 WHERE r.id = u.id AND r.collection = u.collection AND r.wrapped_dek = u.old",
            )
            .await?;
        let colls: Vec<&str> = swaps.iter().map(|s| s.collection.as_str()).collect();
        let ids: Vec<&str> = swaps.iter().map(|s| s.id.as_str()).collect();
        let old: Vec<&[u8]> = swaps.iter().map(|s| s.old.as_slice()).collect();
        let new: Vec<&[u8]> = swaps.iter().map(|s| s.new.as_slice()).collect();
        let v: Vec<i64> = swaps.iter().map(|s| i64::from(s.kek_version)).collect();
        Ok(c.execute(&st, &[&colls, &ids, &old, &new, &v]).await?)
    }

    pub(super) async fn reseal_records_impl(
        &self,
        reseals: Vec<Reseal>,
    ) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "UPDATE records r SET wrapped_dek = u.new, kek_version = u.v, sealed = u.sealed
                 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::int8[], $6::bytea[], $7::int8[])
                      AS u(collection, id, old, new, v, sealed, expected)
                 WHERE r.id = u.id AND r.collection = u.collection AND r.wrapped_dek = u.old
                   AND r.updated_at = u.expected",
            )
            .await?;
        let colls: Vec<&str> = reseals.iter().map(|s| s.collection.as_str()).collect();
        let ids: Vec<&str> = reseals.iter().map(|s| s.id.as_str()).collect();
        let old: Vec<&[u8]> = reseals.iter().map(|s| s.old_wrapped.as_slice()).collect();
        let new: Vec<&[u8]> = reseals.iter().map(|s| s.new_wrapped.as_slice()).collect();
        let v: Vec<i64> = reseals.iter().map(|s| i64::from(s.kek_version)).collect();
        let sealed: Vec<&[u8]> = reseals.iter().map(|s| s.sealed.as_slice()).collect();
        let expected: Vec<i64> = reseals.iter().map(|s| s.expected_updated_at).collect();
        Ok(
            c.execute(&st, &[&colls, &ids, &old, &new, &v, &sealed, &expected])
                .await?,
        )
    }

    pub(super) async fn replace_index_impl(
        &self,
        replaces: Vec<IndexReplace>,
    ) -> Result<Vec<String>, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let mut conflicts = Vec::new();
        for r in &replaces {
            let held = tx
                .query_opt(
                    "SELECT 1 FROM records WHERE id = $1 AND collection = $2 AND updated_at = $3 FOR UPDATE",
                    &[&r.id, &r.collection, &r.expected_updated_at],
                )
                .await?
                .is_some();
            if !held {
                conflicts.push(r.id.clone());
                continue;
            }
            tx.execute("DELETE FROM blind_index WHERE record_id = $1", &[&r.id])
                .await?;
            let idx: Vec<&str> = r.entries.iter().map(|e| e.index.as_str()).collect();
            let tags: Vec<&[u8]> = r.entries.iter().map(|e| e.tag.as_slice()).collect();
            tx.execute(
                "INSERT INTO blind_index (collection, idx, tag, record_id)
                 SELECT $1, i, t, $2 FROM unnest($3::text[], $4::bytea[]) AS u(i, t)",
                &[&r.collection, &r.id, &idx, &tags],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(conflicts)
    }

    pub(super) async fn shred_patient_impl(
        &self,
        patient_id: &str,
    ) -> Result<Vec<Shredded>, StoreError> {
        let c = self.pool.get().await?;
        let empty = StoredRecord::encode_sealed_fields(&Default::default());
        let st = c
            .prepare_cached(
                "WITH r AS (UPDATE records SET wrapped_dek = ''::bytea, sealed = $2, kek_version = $3
                            WHERE id = $1 OR patient_id = $1 RETURNING collection, id),
                      b AS (DELETE FROM blind_index WHERE record_id IN (SELECT id FROM r))
                 SELECT collection, id FROM r ORDER BY id",
            )
            .await?;
        let rows = c
            .query(
                &st,
                &[&patient_id, &empty, &i64::from(SHREDDED_KEK_VERSION)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Shredded {
                    collection: r.try_get(0)?,
                    id: r.try_get(1)?,
                })
            })
            .collect()
    }
}
