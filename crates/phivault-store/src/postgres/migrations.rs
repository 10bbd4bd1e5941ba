//! Versioned schema migrations for PostgreSQL, applied under an advisory
//! lock so several server processes can start at once. Append only.

use deadpool_postgres::Object;

use crate::StoreError;

const STEPS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE records (
        id          TEXT PRIMARY KEY,
        collection  TEXT NOT NULL,
        patient_id  TEXT,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL,
        kek_version BIGINT NOT NULL,
        wrapped_dek BYTEA NOT NULL,
        sealed      BYTEA NOT NULL,
        plain       JSONB NOT NULL
    );
    CREATE INDEX records_collection ON records (collection, created_at);
    CREATE INDEX records_patient ON records (patient_id) WHERE patient_id IS NOT NULL;
    CREATE INDEX records_kek ON records (kek_version);
    CREATE TABLE blind_index (
        collection TEXT NOT NULL,
        idx        TEXT NOT NULL,
        tag        BYTEA NOT NULL,
        record_id  TEXT NOT NULL,
        PRIMARY KEY (collection, idx, tag, record_id)
    );
    CREATE INDEX blind_index_record ON blind_index (record_id);
    CREATE TABLE tokens (
        id         TEXT PRIMARY KEY,
        hash       BYTEA NOT NULL,
        principal  TEXT NOT NULL,
        admin      BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        disabled   BOOLEAN NOT NULL DEFAULT false
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
        // The audit trail: rows can be added, never changed. The trigger
        // binds every role including the owner; the REVOKE keeps a service
        // role that is not the owner from even trying.
        "CREATE TABLE audit_events (
            idx        BIGINT PRIMARY KEY,
            at         BIGINT NOT NULL,
            user_id    TEXT NOT NULL,
            action     TEXT NOT NULL,
            patient_id TEXT,
            leaf       BYTEA NOT NULL,
            event      BYTEA NOT NULL
        );
        CREATE INDEX audit_events_patient ON audit_events (patient_id, idx) WHERE patient_id IS NOT NULL;
        CREATE INDEX audit_events_user ON audit_events (user_id, idx);
        CREATE INDEX audit_events_at ON audit_events (at);
        CREATE TABLE audit_checkpoints (
            size BIGINT PRIMARY KEY,
            note TEXT NOT NULL
        );
        CREATE TABLE audit_outbox (
            sink TEXT PRIMARY KEY,
            upto BIGINT NOT NULL
        );
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
        CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM PUBLIC;",
    ),
    (
        5,
        // Breach containment. `lockdown_generation` is one row, bumped with
        // every lockdown change, so other processes notice with one read; the
        // same transaction also runs pg_notify (see `postgres::listen`).
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
            id         SMALLINT PRIMARY KEY CHECK (id = 1),
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

pub(super) async fn apply(client: &mut Object, schema: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7243001)", &[])
        .await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}"
    ))
    .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .await?;
    let current: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    for (version, sql) in STEPS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
