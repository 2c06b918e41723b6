//! The PostgreSQL schema: a list parallel to the SQLite migrations (`db.rs`), entry `i`
//! bringing the database from version `i` to `i + 1` with the same tables and columns in
//! PostgreSQL's types (unix seconds in `BIGINT`, flags in `BOOLEAN`, a `seq` column where
//! SQLite orders by `rowid`). A test keeps the two lists the same length. The version is
//! kept in `cavra_schema`; migrations run in one transaction under a transaction-scoped
//! advisory lock, so replicas starting together migrate one after the other and a failed
//! step leaves the database as it was.

use std::path::PathBuf;

use postgres::GenericClient;

use crate::error::{BackendKind, StoreError};

/// The advisory lock key of the migrations ("CAVR" "MIGR").
const MIGRATION_LOCK: i64 = 0x4341_5652_4d49_4752;

/// Never edit a released entry: append one, in step with the SQLite list.
pub(crate) const PG_MIGRATIONS: &[&str] = &[
    // v1
    r#"
    CREATE TABLE approvals (
        seq             BIGSERIAL NOT NULL UNIQUE,
        approval_id     TEXT PRIMARY KEY,
        request_hash    TEXT NOT NULL,
        decision_id     TEXT NOT NULL,
        session_id      TEXT NOT NULL,
        correlation_id  TEXT,
        agent_id        TEXT NOT NULL,
        action_type     TEXT NOT NULL,
        target          TEXT NOT NULL,
        rule_id         TEXT NOT NULL,
        severity        TEXT NOT NULL,
        approver_group  TEXT NOT NULL,
        requested_by    TEXT NOT NULL,
        repo            TEXT,
        state           TEXT NOT NULL,
        requested_at    BIGINT NOT NULL,
        expires_at      BIGINT NOT NULL,
        decided_by      TEXT,
        decided_at      BIGINT,
        decision_reason TEXT,
        break_glass     BOOLEAN NOT NULL DEFAULT FALSE,
        break_glass_reason TEXT,
        single_use      BOOLEAN NOT NULL DEFAULT TRUE,
        uses            BIGINT NOT NULL DEFAULT 0,
        max_uses        BIGINT,
        history         TEXT NOT NULL DEFAULT '[]',
        evidence_refs   TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX approvals_hash ON approvals(request_hash, state);
    CREATE INDEX approvals_state ON approvals(state, expires_at);

    CREATE TABLE agents (
        agent_id   TEXT PRIMARY KEY,
        vendor     TEXT,
        kind       TEXT,
        owner      TEXT,
        risk_tier  TEXT,
        profile    TEXT NOT NULL,
        status     TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );

    CREATE TABLE mcp_servers (
        server_id      TEXT PRIMARY KEY,
        name           TEXT,
        trust_tier     TEXT NOT NULL,
        approval_state TEXT NOT NULL,
        capabilities   TEXT NOT NULL DEFAULT '[]',
        allowed_tools  TEXT NOT NULL DEFAULT '[]',
        tool_classes   TEXT NOT NULL DEFAULT '{}',
        extra          TEXT NOT NULL DEFAULT '{}',
        position       BIGINT NOT NULL,
        updated_at     BIGINT NOT NULL
    );

    CREATE TABLE sessions (
        session_id     TEXT PRIMARY KEY,
        agent_id       TEXT NOT NULL,
        held           BOOLEAN NOT NULL DEFAULT FALSE,
        held_reason    TEXT,
        held_at        BIGINT,
        released_by    TEXT,
        released_at    BIGINT,
        release_reason TEXT,
        total_blocks   BIGINT NOT NULL DEFAULT 0,
        created_at     BIGINT NOT NULL,
        updated_at     BIGINT NOT NULL
    );
    CREATE TABLE session_blocks (
        seq        BIGSERIAL PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        at         BIGINT NOT NULL,
        severity   TEXT NOT NULL,
        agent_id   TEXT NOT NULL
    );
    CREATE INDEX session_blocks_at ON session_blocks(session_id, at);
    "#,
    // v2: records signed by the approving identity; tamper events reported once per row
    r#"
    ALTER TABLE approvals ADD COLUMN attestation TEXT;
    ALTER TABLE sessions ADD COLUMN release_attestation TEXT;
    CREATE TABLE tamper_reports (
        row_key     TEXT PRIMARY KEY,
        reported_at BIGINT NOT NULL
    );
    "#,
    // v3: API tokens of `cavra serve` (only the SHA-256 of a token is kept)
    r#"
    CREATE TABLE api_tokens (
        token_id    TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        role        TEXT NOT NULL,
        token_hash  TEXT NOT NULL UNIQUE,
        created_at  BIGINT NOT NULL,
        created_by  TEXT NOT NULL,
        expires_at  BIGINT,
        revoked_at  BIGINT,
        revoked_by  TEXT
    );
    "#,
];

/// The schema version this build writes to PostgreSQL.
pub const PG_SCHEMA_VERSION: i64 = PG_MIGRATIONS.len() as i64;

/// The version recorded in `cavra_schema` (0: none yet).
pub(crate) fn version(c: &mut impl GenericClient) -> Result<i64, StoreError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('cavra_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    Ok(
        c.query_opt("SELECT version FROM cavra_schema WHERE id = 1", &[])?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0),
    )
}

/// Bring the database to [`PG_SCHEMA_VERSION`]. A database that holds an `approvals`
/// table but no `cavra_schema` belongs to another application and is left untouched; one
/// written by a newer cavra is refused.
pub(crate) fn migrate(c: &mut postgres::Client, label: &str) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let found = version(&mut tx)?;
    if found == PG_SCHEMA_VERSION {
        return Ok(());
    }
    if found > PG_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: PathBuf::from(label),
            found,
            supported: PG_SCHEMA_VERSION,
        });
    }
    if found == 0 {
        let foreign: bool = tx
            .query_one("SELECT to_regclass('approvals') IS NOT NULL", &[])?
            .try_get(0)?;
        if foreign {
            return Err(StoreError::Corrupt {
                path: PathBuf::from(label),
                detail: "the database holds tables of another application".into(),
            });
        }
        tx.batch_execute(
            "CREATE TABLE cavra_schema (id INT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL); \
             INSERT INTO cavra_schema (id, version) VALUES (1, 0);",
        )?;
    }
    let from = usize::try_from(found)
        .map_err(|_| StoreError::backend(BackendKind::Schema, format!("schema version {found}")))?;
    for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(from) {
        tx.batch_execute(sql)?;
        let v = i64::try_from(i + 1).unwrap_or(i64::MAX);
        tx.execute("UPDATE cavra_schema SET version = $1 WHERE id = 1", &[&v])?;
    }
    tx.commit()?;
    Ok(())
}
