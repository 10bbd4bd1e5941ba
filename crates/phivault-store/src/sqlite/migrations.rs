//! Versioned schema migrations for SQLite. Append only: never edit a shipped step.

use rusqlite::{Connection, params};

use crate::StoreError;

const STEPS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE records (
        id          TEXT PRIMARY KEY,
        collection  TEXT NOT NULL,
        patient_id  TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        kek_version INTEGER NOT NULL,
        wrapped_dek BLOB NOT NULL,
        sealed      BLOB NOT NULL,
        plain       TEXT NOT NULL
    );
    CREATE INDEX records_collection ON records (collection, created_at);
    CREATE INDEX records_patient ON records (patient_id) WHERE patient_id IS NOT NULL;
    CREATE INDEX records_kek ON records (kek_version);
    CREATE TABLE blind_index (
        collection TEXT NOT NULL,
        idx        TEXT NOT NULL,
        tag        BLOB NOT NULL,
        record_id  TEXT NOT NULL,
        PRIMARY KEY (collection, idx, tag, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX blind_index_record ON blind_index (record_id);
    CREATE TABLE tokens (
        id         TEXT PRIMARY KEY,
        hash       BLOB NOT NULL,
        principal  TEXT NOT NULL,
        admin      INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        disabled   INTEGER NOT NULL DEFAULT 0
    );",
    ),
    (
        2,
        "CREATE TABLE users (
            id           TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            roles        TEXT NOT NULL,
            disabled     BOOLEAN NOT NULL DEFAULT false,
            created_at   BIGINT NOT NULL
        );
        CREATE TABLE roles (
            name       TEXT PRIMARY KEY,
            spec       TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
        ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
        ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
        CREATE INDEX tokens_principal ON tokens (principal);
        CREATE TABLE care_team (
            patient_id TEXT NOT NULL,
            user_id    TEXT NOT NULL,
            PRIMARY KEY (patient_id, user_id)
        );
        CREATE TABLE break_glass (
            id         TEXT PRIMARY KEY,
            user_id    TEXT NOT NULL,
            patient_id TEXT NOT NULL,
            reason     TEXT NOT NULL,
            granted_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX break_glass_lookup ON break_glass (user_id, patient_id, expires_at);",
    ),
    (
        3,
        "CREATE TABLE permission_usage (
            user_id    TEXT NOT NULL,
            permission TEXT NOT NULL,
            last_used  BIGINT NOT NULL,
            PRIMARY KEY (user_id, permission)
        );",
    ),
    (
        4,
        // Breach containment. `lockdown_generation` is one row, bumped with
        // every lockdown change, so other processes notice with one read.
        "CREATE TABLE lockdowns (
            id                TEXT PRIMARY KEY,
            scope             TEXT NOT NULL,
            reason            TEXT NOT NULL,
            incident_id       TEXT,
            created_by        TEXT NOT NULL,
            created_at        BIGINT NOT NULL,
            lift_requested_by TEXT,
            lift_requested_at BIGINT,
            lifted_by         TEXT,
            lifted_at         BIGINT
        );
        CREATE INDEX lockdowns_active ON lockdowns (created_at) WHERE lifted_at IS NULL;
        CREATE TABLE lockdown_generation (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            generation BIGINT NOT NULL
        );
        INSERT INTO lockdown_generation (id, generation) VALUES (1, 0);
        ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
        CREATE TABLE incidents (
            id          TEXT PRIMARY KEY,
            severity    TEXT NOT NULL,
            summary     TEXT NOT NULL,
            status      TEXT NOT NULL,
            declared_by TEXT NOT NULL,
            declared_at BIGINT NOT NULL,
            updated_at  BIGINT NOT NULL,
            data        TEXT NOT NULL
        );
        CREATE INDEX incidents_declared ON incidents (declared_at);
        CREATE TABLE patient_flags (
            patient_id TEXT PRIMARY KEY,
            flag       TEXT NOT NULL,
            set_at     BIGINT NOT NULL
        );
        CREATE TABLE alert_queue (
            id              TEXT PRIMARY KEY,
            destination     TEXT NOT NULL,
            payload         TEXT NOT NULL,
            created_at      BIGINT NOT NULL,
            attempts        BIGINT NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            delivered_at    BIGINT,
            last_error      TEXT
        );
        CREATE INDEX alert_queue_due ON alert_queue (next_attempt_at) WHERE delivered_at IS NULL;",
    ),
];

pub(super) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (version, sql) in STEPS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            params![version],
        )?;
    }
    tx.commit()?;
    Ok(())
}
