//! Incidents and the alert outbox on PostgreSQL, for [`crate::BreachStore`].

use tokio_postgres::Row;

use super::PgStore;
use super::breach::count;
use crate::{AlertRow, ErrorKind, IncidentRow, StoreError};

const INCIDENT_COLUMNS: &str =
    "id, severity, summary, status, declared_by, declared_at, updated_at, data";
const ALERT_COLUMNS: &str =
    "id, destination, payload, created_at, attempts, next_attempt_at, delivered_at, last_error";

fn incident(r: &Row) -> Result<IncidentRow, StoreError> {
    Ok(IncidentRow {
        id: r.try_get(0)?,
        severity: r.try_get(1)?,
        summary: r.try_get(2)?,
        status: r.try_get(3)?,
        declared_by: r.try_get(4)?,
        declared_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
        data: r.try_get(7)?,
    })
}

fn alert(r: &Row) -> Result<AlertRow, StoreError> {
    let attempts: i64 = r.try_get(4)?;
    Ok(AlertRow {
        id: r.try_get(0)?,
        destination: r.try_get(1)?,
        payload: r.try_get(2)?,
        created_at: r.try_get(3)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::new(ErrorKind::Corrupt, "alert attempts out of range"))?,
        next_attempt_at: r.try_get(5)?,
        delivered_at: r.try_get(6)?,
        last_error: r.try_get(7)?,
    })
}

impl PgStore {
    pub(super) async fn insert_incident_impl(&self, i: IncidentRow) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            &format!(
                "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &i.id,
                &i.severity,
                &i.summary,
                &i.status,
                &i.declared_by,
                &i.declared_at,
                &i.updated_at,
                &i.data,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn get_incident_impl(
        &self,
        id: &str,
    ) -> Result<Option<IncidentRow>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        c.query_opt(&sql, &[&id])
            .await?
            .as_ref()
            .map(incident)
            .transpose()
    }

    pub(super) async fn list_incidents_impl(&self) -> Result<Vec<IncidentRow>, StoreError> {
        let c = self.pool.get().await?;
        let sql =
            format!("SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY declared_at DESC, id DESC");
        c.query(&sql, &[]).await?.iter().map(incident).collect()
    }

    pub(super) async fn update_incident_impl(
        &self,
        id: &str,
        status: &str,
        data: &str,
        updated_at: i64,
        expected_updated_at: i64,
    ) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        // One statement: the compare-and-swap, and whether the row exists.
        let row = c
            .query_one(
                "WITH u AS (UPDATE incidents SET status = $2, data = $3, updated_at = $4
                            WHERE id = $1 AND updated_at = $5 RETURNING 1)
                 SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM incidents WHERE id = $1)",
                &[&id, &status, &data, &updated_at, &expected_updated_at],
            )
            .await?;
        let (updated, exists): (i64, bool) = (row.try_get(0)?, row.try_get(1)?);
        match (updated, exists) {
            (0, false) => Err(StoreError::new(ErrorKind::NotFound, "no such incident")),
            (0, true) => Err(StoreError::new(
                ErrorKind::Conflict,
                "incident changed concurrently",
            )),
            _ => Ok(()),
        }
    }

    pub(super) async fn enqueue_alert_impl(&self, a: AlertRow) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            &format!(
                "INSERT INTO alert_queue ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &a.id,
                &a.destination,
                &a.payload,
                &a.created_at,
                &i64::from(a.attempts),
                &a.next_attempt_at,
                &a.delivered_at,
                &a.last_error,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn due_alerts_impl(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alert_queue
             WHERE delivered_at IS NULL AND next_attempt_at <= $1
             ORDER BY created_at, id LIMIT $2"
        );
        let st = c.prepare_cached(&sql).await?;
        c.query(&st, &[&now, &i64::from(limit)])
            .await?
            .iter()
            .map(alert)
            .collect()
    }

    pub(super) async fn mark_alert_delivered_impl(
        &self,
        id: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "UPDATE alert_queue SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
                &[&id, &at],
            )
            .await?;
        Ok(n > 0)
    }

    pub(super) async fn reschedule_alert_impl(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: i64,
        last_error: &str,
    ) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "UPDATE alert_queue SET attempts = $2, next_attempt_at = $3, last_error = $4
                 WHERE id = $1 AND delivered_at IS NULL",
                &[&id, &i64::from(attempts), &next_attempt_at, &last_error],
            )
            .await?;
        Ok(n > 0)
    }

    pub(super) async fn alert_backlog_impl(&self) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached("SELECT count(*) FROM alert_queue WHERE delivered_at IS NULL")
            .await?;
        count(c.query_one(&st, &[]).await?.try_get(0)?)
    }
}
