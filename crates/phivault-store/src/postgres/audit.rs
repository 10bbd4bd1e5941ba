//! The audit trail in PostgreSQL: `audit_events`, append-only by trigger and
//! REVOKE (migration 4). A batch is one multi-row INSERT, committed before
//! `append` returns.

use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::audit::{AuditFrame, AuditQuery, AuditStore, NewFrame};
use crate::{ErrorKind, StoreError};

fn frame(row: &tokio_postgres::Row) -> Result<AuditFrame, StoreError> {
    let idx: i64 = row.try_get(0)?;
    let leaf: Vec<u8> = row.try_get(1)?;
    Ok(AuditFrame {
        index: u64::try_from(idx)
            .map_err(|_| StoreError::new(ErrorKind::Corrupt, "audit index out of range"))?,
        leaf: leaf
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::new(ErrorKind::Corrupt, "audit leaf hash damaged"))?,
        event: row.try_get(2)?,
    })
}

fn signed(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::new(ErrorKind::Conflict, "audit index out of range"))
}

#[async_trait::async_trait]
impl AuditStore for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn append(&self, frames: Vec<NewFrame>) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        insert(&c, frames).await
    }

    async fn append_shared(
        &self,
        known: u64,
        build: Box<dyn FnOnce(u64) -> Vec<NewFrame> + Send>,
    ) -> Result<Vec<AuditFrame>, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // One writer at a time per log (per schema), across processes: the
        // lock is held until this transaction commits.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("phivault.audit.{}", self.schema)],
        )
        .await?;
        let st = tx
            .prepare_cached(
                "SELECT idx, leaf, ''::bytea FROM audit_events WHERE idx >= $1 ORDER BY idx",
            )
            .await?;
        let tail: Vec<AuditFrame> = tx
            .query(&st, &[&signed(known)?])
            .await?
            .iter()
            .map(frame)
            .collect::<Result<_, _>>()?;
        let first = known + tail.len() as u64;
        if tail.last().is_some_and(|f| f.index + 1 != first) {
            return Err(StoreError::new(
                ErrorKind::Corrupt,
                "audit events are missing between other writers' appends",
            ));
        }
        insert(&tx, build(first)).await?;
        tx.commit().await?;
        Ok(tail)
    }
    async fn count(&self) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let n: i64 = c
            .query_one("SELECT coalesce(max(idx) + 1, 0) FROM audit_events", &[])
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn read(&self, from: u64, max: usize) -> Result<Vec<AuditFrame>, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "SELECT idx, leaf, event FROM audit_events WHERE idx >= $1 ORDER BY idx LIMIT $2",
            )
            .await?;
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        c.query(&st, &[&signed(from)?, &max])
            .await?
            .iter()
            .map(frame)
            .collect()
    }

    async fn query(&self, q: &AuditQuery) -> Result<Vec<AuditFrame>, StoreError> {
        let c = self.pool.get().await?;
        let mut sql = String::from("SELECT idx, leaf, event FROM audit_events WHERE true");
        let from = q.from.map(signed).transpose()?;
        let to = q.to.map(signed).transpose()?;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let mut add = |sql: &mut String, clause: &str, p: &'static str, v| {
            params.push(v);
            sql.push_str(&format!(" AND {clause} {p} ${}", params.len()));
        };
        if let Some(v) = &from {
            add(&mut sql, "idx", ">=", v);
        }
        if let Some(v) = &to {
            add(&mut sql, "idx", "<", v);
        }
        if let Some(v) = &q.since {
            add(&mut sql, "at", ">=", v);
        }
        if let Some(v) = &q.until {
            add(&mut sql, "at", "<", v);
        }
        if let Some(v) = &q.user {
            add(&mut sql, "user_id", "=", v);
        }
        if let Some(v) = &q.patient_id {
            add(&mut sql, "patient_id", "=", v);
        }
        if let Some(v) = &q.action {
            add(&mut sql, "action", "=", v);
        }
        params.push(&limit);
        sql.push_str(&format!(" ORDER BY idx LIMIT ${}", params.len()));
        c.query(&sql, &params).await?.iter().map(frame).collect()
    }

    async fn append_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO audit_checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING",
            &[&signed(size)?, &note],
        )
        .await?;
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<String>, StoreError> {
        let c = self.pool.get().await?;
        c.query("SELECT note FROM audit_checkpoints ORDER BY size", &[])
            .await?
            .iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }

    async fn outbox_cursor(&self, sink: &str) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let row = c
            .query_opt("SELECT upto FROM audit_outbox WHERE sink = $1", &[&sink])
            .await?;
        Ok(match row {
            Some(r) => u64::try_from(r.try_get::<_, i64>(0)?).unwrap_or(0),
            None => 0,
        })
    }

    async fn set_outbox_cursor(&self, sink: &str, upto: u64) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO audit_outbox (sink, upto) VALUES ($1, $2)
             ON CONFLICT (sink) DO UPDATE SET upto = excluded.upto",
            &[&sink, &signed(upto)?],
        )
        .await?;
        Ok(())
    }
}

async fn insert(
    c: &impl deadpool_postgres::GenericClient,
    frames: Vec<NewFrame>,
) -> Result<(), StoreError> {
    let st = c
        .prepare_cached(
            "INSERT INTO audit_events (idx, at, user_id, action, patient_id, leaf, event)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bytea[])",
        )
        .await?;
    let mut idx = Vec::with_capacity(frames.len());
    let mut at = Vec::with_capacity(frames.len());
    let mut user = Vec::with_capacity(frames.len());
    let mut action = Vec::with_capacity(frames.len());
    let mut patient = Vec::with_capacity(frames.len());
    let mut leaf = Vec::with_capacity(frames.len());
    let mut event = Vec::with_capacity(frames.len());
    for f in frames {
        idx.push(signed(f.frame.index)?);
        at.push(f.meta.at);
        user.push(f.meta.user);
        action.push(f.meta.action);
        patient.push(f.meta.patient_id);
        leaf.push(f.frame.leaf.to_vec());
        event.push(f.frame.event);
    }
    c.execute(&st, &[&idx, &at, &user, &action, &patient, &leaf, &event])
        .await?;
    Ok(())
}
