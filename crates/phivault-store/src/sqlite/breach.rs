//! [`BreachStore`] on SQLite: reads on the reader pool, writes as jobs of the
//! group-commit writer. Another process (the CLI) may write the same file;
//! WAL and the busy timeout make that safe, and the lockdown generation is
//! how the server notices (no push on SQLite).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::writer::Job;
use crate::{AlertRow, BreachStore, ErrorKind, IncidentRow, LockdownRow, StoreError};

const LOCKDOWN_COLUMNS: &str = "id, scope, reason, incident_id, created_by, created_at, \
     lift_requested_by, lift_requested_at, lifted_by, lifted_at";

fn lockdown(r: &Row<'_>) -> rusqlite::Result<LockdownRow> {
    Ok(LockdownRow {
        id: r.get(0)?,
        scope: r.get(1)?,
        reason: r.get(2)?,
        incident_id: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        lift_requested_by: r.get(6)?,
        lift_requested_at: r.get(7)?,
        lifted_by: r.get(8)?,
        lifted_at: r.get(9)?,
    })
}

pub(super) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::new(ErrorKind::Corrupt, "negative counter"))
}

/// Bumps the lockdown generation; runs inside the job that changed a lockdown.
fn bump(c: &Connection) -> Result<(), StoreError> {
    let n = c
        .prepare_cached("UPDATE lockdown_generation SET generation = generation + 1 WHERE id = 1")?
        .execute([])?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::new(
            ErrorKind::Corrupt,
            "lockdown generation row is missing",
        ))
    }
}

impl SqliteStore {
    /// Runs `f` as one writer job (its own savepoint of a group commit) and
    /// returns its value once the batch has committed.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.writer
            .submit(Job::Exec(Box::new(move |c| {
                let _ = tx.send(f(c)?);
                Ok(true)
            })))
            .await?;
        rx.try_recv()
            .map_err(|_| StoreError::new(ErrorKind::Unavailable, "sqlite writer lost a result"))
    }

    /// Runs one lockdown `UPDATE` and bumps the generation if it changed a row.
    async fn change_lockdown(
        &self,
        sql: &'static str,
        id: &str,
        by: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let (id, by) = (id.to_owned(), by.to_owned());
        self.write(move |c| {
            let changed = c.prepare_cached(sql)?.execute(params![id, by, at])? > 0;
            if changed {
                bump(c)?;
            }
            Ok(changed)
        })
        .await
    }
}

#[async_trait::async_trait]
impl BreachStore for SqliteStore {
    async fn insert_lockdown(&self, l: LockdownRow) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO lockdowns ({LOCKDOWN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?
            .execute(params![
                l.id,
                l.scope,
                l.reason,
                l.incident_id,
                l.created_by,
                l.created_at,
                l.lift_requested_by,
                l.lift_requested_at,
                l.lifted_by,
                l.lifted_at
            ])?;
            bump(c)
        })
        .await
    }

    async fn active_lockdowns(&self) -> Result<Vec<LockdownRow>, StoreError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {LOCKDOWN_COLUMNS} FROM lockdowns WHERE lifted_at IS NULL ORDER BY created_at, id"
            );
            let mut st = c.prepare_cached(&sql)?;
            Ok(st.query_map([], lockdown)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn get_lockdown(&self, id: &str) -> Result<Option<LockdownRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            let sql = format!("SELECT {LOCKDOWN_COLUMNS} FROM lockdowns WHERE id = ?1");
            Ok(c.prepare_cached(&sql)?
                .query_row(params![id], lockdown)
                .optional()?)
        })
        .await
    }

    async fn request_lift(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError> {
        self.change_lockdown(
            "UPDATE lockdowns SET lift_requested_by = ?2, lift_requested_at = ?3
             WHERE id = ?1 AND lift_requested_at IS NULL AND lifted_at IS NULL",
            id,
            by,
            at,
        )
        .await
    }

    async fn renew_lift_request(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError> {
        self.change_lockdown(
            "UPDATE lockdowns SET lift_requested_by = ?2, lift_requested_at = ?3
             WHERE id = ?1 AND lifted_at IS NULL AND lift_requested_at < ?3 - 3600000000",
            id,
            by,
            at,
        )
        .await
    }

    async fn lift_lockdown(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError> {
        self.change_lockdown(
            "UPDATE lockdowns SET lifted_by = ?2, lifted_at = ?3 WHERE id = ?1 AND lifted_at IS NULL",
            id,
            by,
            at,
        )
        .await
    }

    async fn lockdown_generation(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT generation FROM lockdown_generation WHERE id = 1")?
                .query_row([], |r| r.get(0))?;
            count(n)
        })
        .await
    }

    async fn revoke_sessions(&self, user: &str, at: i64) -> Result<u64, StoreError> {
        let user = user.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE tokens SET disabled = 1, revoked_at = ?2
                     WHERE principal = ?1 AND kind = 'session' AND disabled = 0",
                )?
                .execute(params![user, at])?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
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
        let (p, f) = (patient_id.to_owned(), flag.to_owned());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO patient_flags (patient_id, flag, set_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (patient_id) DO UPDATE SET flag = excluded.flag, set_at = excluded.set_at",
            )?
            .execute(params![p, f, at])?;
            // Servers reload flags when the generation moves.
            bump(c)
        })
        .await
    }

    async fn clear_patient_flag(&self, patient_id: &str) -> Result<bool, StoreError> {
        let p = patient_id.to_owned();
        self.write(move |c| {
            let gone = c
                .prepare_cached("DELETE FROM patient_flags WHERE patient_id = ?1")?
                .execute(params![p])?
                > 0;
            if gone {
                bump(c)?;
            }
            Ok(gone)
        })
        .await
    }

    async fn patient_flags(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT patient_id, flag FROM patient_flags ORDER BY patient_id")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
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
