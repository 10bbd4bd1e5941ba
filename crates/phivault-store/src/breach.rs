//! Persistence for breach containment: lockdowns (with a change counter other
//! processes poll or, on PostgreSQL, listen to), session revocation,
//! incidents, patient flags and the durable alert outbox. Part of every
//! [`crate::Store`].
//!
//! The store keeps and orders these rows; what a scope, a flag or an incident
//! status means is the server's business.

mod rows;

/// How long a first restore approval stands (the domain's default).
pub const LIFT_REQUEST_TTL_MICROS: i64 = 60 * 60 * 1_000_000;

pub use rows::{AlertRow, IncidentRow, LockdownRow};

use crate::StoreError;

/// Lockdowns, session revocation, incidents, patient flags, alert outbox.
#[async_trait::async_trait]
pub trait BreachStore: Send + Sync {
    /// Stores a new lockdown and bumps the lockdown generation, in one
    /// transaction; `ErrorKind::Conflict` if the id is taken.
    async fn insert_lockdown(&self, lockdown: LockdownRow) -> Result<(), StoreError>;

    /// Lockdowns not lifted, oldest first (by `created_at`, then id).
    async fn active_lockdowns(&self) -> Result<Vec<LockdownRow>, StoreError>;

    /// One lockdown, lifted or not.
    async fn get_lockdown(&self, id: &str) -> Result<Option<LockdownRow>, StoreError>;

    /// Records a request to lift a lockdown (the first of two people). True
    /// if recorded; false if there is no such lockdown, a lift was already
    /// requested, or it is already lifted (the first request stands).
    async fn request_lift(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError>;

    /// Lifts a lockdown. True if lifted now; false if there is no such
    /// lockdown or it was already lifted (the first lift stands). Whether a
    /// request came first, and from someone else, is the caller's check.
    async fn lift_lockdown(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError>;

    /// Replaces a restore request older than [`LIFT_REQUEST_TTL_MICROS`]
    /// with `by`'s (a stale first approval must not block the restore
    /// forever); false when there is none that old, or it was lifted.
    async fn renew_lift_request(&self, id: &str, by: &str, at: i64) -> Result<bool, StoreError>;

    /// A counter bumped in the same transaction as every lockdown insert,
    /// lift request and lift that changed a row (a no-op leaves it alone).
    /// One cheap read: other processes poll it to notice a change.
    async fn lockdown_generation(&self) -> Result<u64, StoreError>;

    /// Pushed lockdown changes, where the backend can push them: on
    /// PostgreSQL a receiver marked changed on every lockdown change made by
    /// any process on the same schema, and once after the listener's
    /// connection is (re)established, since changes in between may have been
    /// missed. The value counts those wake-ups; reload on `changed()`, the
    /// number itself means nothing. The listener task is started on the
    /// first call (it needs a tokio runtime) and runs until the store is
    /// dropped; later calls subscribe to it.
    ///
    /// `None` when the backend cannot push (SQLite) or no runtime is
    /// running: poll [`Self::lockdown_generation`] instead.
    fn watch_lockdowns(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Disables every session token of `user` that is not already disabled,
    /// noting `at` as the revocation time; API tokens are left alone.
    /// Returns how many sessions it disabled.
    async fn revoke_sessions(&self, user: &str, at: i64) -> Result<u64, StoreError>;

    /// Stores a new incident; `ErrorKind::Conflict` if the id is taken.
    async fn insert_incident(&self, incident: IncidentRow) -> Result<(), StoreError>;

    /// One incident.
    async fn get_incident(&self, id: &str) -> Result<Option<IncidentRow>, StoreError>;

    /// Every incident, newest first (by `declared_at`, then id).
    async fn list_incidents(&self) -> Result<Vec<IncidentRow>, StoreError>;

    /// Sets an incident's status, document and `updated_at` if its
    /// `updated_at` is still `expected_updated_at`. `ErrorKind::NotFound` if
    /// there is no such incident, `ErrorKind::Conflict` if it changed in
    /// between.
    async fn update_incident(
        &self,
        id: &str,
        status: &str,
        data: &str,
        updated_at: i64,
        expected_updated_at: i64,
    ) -> Result<(), StoreError>;

    /// Flags a patient (`honey`, `vip`, `employee`), replacing any flag it
    /// had: one flag per patient. Idempotent.
    /// (Flag changes move the lockdown generation too, so servers reload.)
    async fn set_patient_flag(
        &self,
        patient_id: &str,
        flag: &str,
        at: i64,
    ) -> Result<(), StoreError>;

    /// Removes a patient's flag; false if it had none.
    async fn clear_patient_flag(&self, patient_id: &str) -> Result<bool, StoreError>;

    /// Every flagged patient as `(patient id, flag)`, by patient id.
    async fn patient_flags(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Queues an alert; `ErrorKind::Conflict` if the id is taken.
    async fn enqueue_alert(&self, alert: AlertRow) -> Result<(), StoreError>;

    /// Up to `limit` undelivered alerts whose `next_attempt_at` is at or
    /// before `now`, oldest first (by `created_at`, then id). Nothing is
    /// claimed: two processes delivering at once can both get an alert, so
    /// receivers should deduplicate by alert id.
    async fn due_alerts(&self, now: i64, limit: u32) -> Result<Vec<AlertRow>, StoreError>;

    /// Marks an alert delivered; false if there is no such undelivered alert.
    async fn mark_alert_delivered(&self, id: &str, at: i64) -> Result<bool, StoreError>;

    /// Records a failed attempt: the attempt count, when to try next and why
    /// it failed (keep values out of it). False if there is no such
    /// undelivered alert.
    async fn reschedule_alert(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: i64,
        last_error: &str,
    ) -> Result<bool, StoreError>;

    /// Number of undelivered alerts.
    async fn alert_backlog(&self) -> Result<u64, StoreError>;
}
