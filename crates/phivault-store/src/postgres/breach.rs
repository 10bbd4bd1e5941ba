//! [`BreachStore`] on PostgreSQL. A lockdown change, the generation bump and
//! its `pg_notify` are one transaction (see [`super::listen`]).

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::PgStore;
use crate::{AlertRow, BreachStore, ErrorKind, IncidentRow, LockdownRow, StoreError};

const LOCKDOWN_COLUMNS: &str = "id, scope, reason, incident_id, created_by, created_at, \
     lift_requested_by, lift_requested_at, lifted_by, lifted_at";

fn lockdown(r: &Row) -> Result<LockdownRow, StoreError> {
    Ok(LockdownRow {
        id: r.try_get(0)?,
        scope: r.try_get(1)?,
        reason: r.try_get(2)?,
        incident_id: r.try_get(3)?,
        created_by: r.try_get(4)?,
        created_at: r.try_get(5)?,
        lift_requested_by: r.try_get(6)?,
        lift_requested_at: r.try_get(7)?,
        lifted_by: r.try_get(8)?,
        lifted_at: r.try_get(9)?,
    })
}

pub(super) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::new(ErrorKind::Corrupt, "negative counter"))
}

impl PgStore {
    /// The channel this store's lockdown changes are notified on (derived
    /// from the schema), for operators and tests.
    pub fn lockdown_channel(&self) -> &str {
        self.listener.channel()
    }

    /// Bumps the generation and notifies, inside the changing transaction
    /// (the notification is sent on commit, not at all on rollback).
    async fn bump(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let st = tx
            .prepare_cached(
                "WITH g AS (UPDATE lockdown_generation SET generation = generation + 1
                            WHERE id = 1 RETURNING generation)
                 SELECT pg_notify($1, generation::text) FROM g",
            )
            .await?;
        match tx.query_opt(&st, &[&self.listener.channel()]).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::new(
                ErrorKind::Corrupt,
                "lockdown generation row is missing",
            )),
        }
    }

    /// Runs one lockdown `UPDATE`; bumps and notifies if it changed a row.
    async fn change_lockdown(
        &self,
        sql: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let changed = tx.execute(sql, &[&id, &by, &at]).await? > 0;
        if changed {
            self.bump(&tx).await?;
            tx.commit().await?;
        }
        Ok(changed)
    }
}

#[async_trait::async_trait]
impl BreachStore for PgStore {
    async fn insert_lockdown(&self, l: LockdownRow) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute(
            &format!(
                "INSERT INTO lockdowns ({LOCKDOWN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &l.id,
                &l.scope,
                &l.reason,
                &l.incident_id,
                &l.created_by,
                &l.created_at,
                &l.lift_requested_by,
                &l.lift_requested_at,
                &l.lifted_by,
                &l.lifted_at,
            ],
        )
        .await?;
        self.bump(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn active_lockdowns(&self) -> Result<Vec<LockdownRow>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {LOCKDOWN_COLUMNS} FROM lockdowns WHERE lifted_at IS NULL ORDER BY created_at, id"
        );
        c.query(&sql, &[]).await?.iter().map(lockdown).collect()
    }

    async fn get_lockdown(&self, id: &str) -> Result<Option<LockdownRow>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("SELECT {LOCKDOWN_COLUMNS} FROM lockdowns WHERE id = $1");
        c.query_opt(&sql, &[&id])
            .await?
            .as_ref()
            .map(lockdown)
            .transpose()
    }

    async fn request_lift(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError> {
        self.change_lockdown(
            "UPDATE lockdowns SET lift_requested_by = $2, lift_requested_at = $3
             WHERE id = $1 AND lift_requested_at IS NULL AND lifted_at IS NULL",
            id,
            by,
            at,
        )
        .await
    }

    async fn renew_lift_request(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError> {
        self.change_lockdown(
            "UPDATE lockdowns SET lift_requested_by = $2, lift_requested_at = $3
             WHERE id = $1 AND lifted_at IS NULL AND lift_requested_at < $3 - 3600000000",
            id,
            by,
            at,
        )
        .await
    }

    async fn lift_lockdown(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError> {
        self.change_lockdown(
            "UPDATE lockdowns SET lifted_by = $2, lifted_at = $3 WHERE id = $1 AND lifted_at IS NULL",
            id,
            by,
            at,
        )
        .await
    }

    async fn lockdown_generation(&self) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached("SELECT generation FROM lockdown_generation WHERE id = 1")
            .await?;
        count(c.query_one(&st, &[]).await?.try_get(0)?)
    }

    fn watch_lockdowns(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.listener.watch()
    }

    async fn revoke_sessions(&self, user: &str, at: i64) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.execute(
            "UPDATE tokens SET disabled = true, revoked_at = $2
             WHERE principal = $1 AND kind = 'session' AND NOT disabled",
            &[&user, &at],
        )
        .await?)
    }

    async fn insert_incident(&self, i: IncidentRow) -> Result<(), StoreError> {
        self.insert_incident_impl(i).await
    }

    async fn get_incident(&self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        self.get_incident_impl(id).await
    }

    async fn list_incidents(&self) -> Result<Vec<IncidentRow>, StoreError> {
        self.list_incidents_impl().await
    }

    async fn update_incident(
        &self,
        id: &str,
        status: &str,
        data: &str,
        updated_at: i64,
        expected_updated_at: i64,
    ) -> Result<(), StoreError> {
        self.update_incident_impl(id, status, data, updated_at, expected_updated_at)
            .await
    }

    async fn set_patient_flag(
        &self,
        patient_id: &str,
        flag: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "INSERT INTO patient_flags (patient_id, flag, set_at) VALUES ($1, $2, $3)
             ON CONFLICT (patient_id) DO UPDATE SET flag = excluded.flag, set_at = excluded.set_at",
            &[&patient_id, &flag, &at],
        )
        .await?;
        // Servers reload flags when the generation moves.
        self.bump(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn clear_patient_flag(&self, patient_id: &str) -> Result<bool, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM patient_flags WHERE patient_id = $1",
                &[&patient_id],
            )
            .await?;
        if n > 0 {
            self.bump(&tx).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn patient_flags(&self) -> Result<Vec<(String, String)>, StoreError> {
        let c = self.pool.get().await?;
        c.query(
            "SELECT patient_id, flag FROM patient_flags ORDER BY patient_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    async fn enqueue_alert(&self, a: AlertRow) -> Result<(), StoreError> {
        self.enqueue_alert_impl(a).await
    }

    async fn due_alerts(&self, now: i64, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        self.due_alerts_impl(now, limit).await
    }

    async fn mark_alert_delivered(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        self.mark_alert_delivered_impl(id, at).await
    }

    async fn reschedule_alert(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: i64,
        last_error: &str,
    ) -> Result<bool, StoreError> {
        self.reschedule_alert_impl(id, attempts, next_attempt_at, last_error)
            .await
    }

    async fn alert_backlog(&self) -> Result<u64, StoreError> {
        self.alert_backlog_impl().await
    }
}
