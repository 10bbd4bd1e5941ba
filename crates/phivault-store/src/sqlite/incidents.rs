//! Incidents and the alert outbox on SQLite, for [`crate::BreachStore`]:
//! reads on the reader pool, writes as jobs of the group-commit writer.

use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use super::breach::count;
use crate::{AlertRow, ErrorKind, IncidentRow, StoreError};

const INCIDENT_COLUMNS: &str =
    "id, severity, summary, status, declared_by, declared_at, updated_at, data";
const ALERT_COLUMNS: &str =
    "id, destination, payload, created_at, attempts, next_attempt_at, delivered_at, last_error";

fn incident(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        severity: r.get(1)?,
        summary: r.get(2)?,
        status: r.get(3)?,
        declared_by: r.get(4)?,
        declared_at: r.get(5)?,
        updated_at: r.get(6)?,
        data: r.get(7)?,
    })
}

fn alert(r: &Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        destination: r.get(1)?,
        payload: r.get(2)?,
        created_at: r.get(3)?,
        attempts: r.get(4)?,
        next_attempt_at: r.get(5)?,
        delivered_at: r.get(6)?,
        last_error: r.get(7)?,
    })
}

impl SqliteStore {
    pub(super) async fn insert_incident_impl(&self, i: IncidentRow) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                i.id,
                i.severity,
                i.summary,
                i.status,
                i.declared_by,
                i.declared_at,
                i.updated_at,
                i.data
            ])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn get_incident_impl(
        &self,
        id: &str,
    ) -> Result<Option<IncidentRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
            Ok(c.prepare_cached(&sql)?
                .query_row(params![id], incident)
                .optional()?)
        })
        .await
    }

    pub(super) async fn list_incidents_impl(&self) -> Result<Vec<IncidentRow>, StoreError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY declared_at DESC, id DESC"
            );
            let mut st = c.prepare_cached(&sql)?;
            Ok(st.query_map([], incident)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn update_incident_impl(
        &self,
        id: &str,
        status: &str,
        data: &str,
        updated_at: i64,
        expected_updated_at: i64,
    ) -> Result<(), StoreError> {
        let (id, status, data) = (id.to_owned(), status.to_owned(), data.to_owned());
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE incidents SET status = ?2, data = ?3, updated_at = ?4
                     WHERE id = ?1 AND updated_at = ?5",
                )?
                .execute(params![id, status, data, updated_at, expected_updated_at])?;
            if n > 0 {
                return Ok(());
            }
            let exists = c
                .prepare_cached("SELECT 1 FROM incidents WHERE id = ?1")?
                .query_row(params![id], |_| Ok(()))
                .optional()?
                .is_some();
            Err(if exists {
                StoreError::new(ErrorKind::Conflict, "incident changed concurrently")
            } else {
                StoreError::new(ErrorKind::NotFound, "no such incident")
            })
        })
        .await
    }

    pub(super) async fn enqueue_alert_impl(&self, a: AlertRow) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO alert_queue ({ALERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                a.id,
                a.destination,
                a.payload,
                a.created_at,
                a.attempts,
                a.next_attempt_at,
                a.delivered_at,
                a.last_error
            ])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn due_alerts_impl(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {ALERT_COLUMNS} FROM alert_queue
                 WHERE delivered_at IS NULL AND next_attempt_at <= ?1
                 ORDER BY created_at, id LIMIT ?2"
            );
            let mut st = c.prepare_cached(&sql)?;
            Ok(st
                .query_map(params![now, limit], alert)?
                .collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn mark_alert_delivered_impl(
        &self,
        id: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            Ok(c.prepare_cached(
                "UPDATE alert_queue SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
            )?
            .execute(params![id, at])?
                > 0)
        })
        .await
    }

    pub(super) async fn reschedule_alert_impl(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: i64,
        last_error: &str,
    ) -> Result<bool, StoreError> {
        let (id, e) = (id.to_owned(), last_error.to_owned());
        self.write(move |c| {
            Ok(c.prepare_cached(
                "UPDATE alert_queue SET attempts = ?2, next_attempt_at = ?3, last_error = ?4
                 WHERE id = ?1 AND delivered_at IS NULL",
            )?
            .execute(params![id, attempts, next_attempt_at, e])?
                > 0)
        })
        .await
    }

    pub(super) async fn alert_backlog_impl(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT count(*) FROM alert_queue WHERE delivered_at IS NULL")?
                .query_row([], |r| r.get(0))?;
            count(n)
        })
        .await
    }
}
