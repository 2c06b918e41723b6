//! The PostgreSQL schema: `migrations/postgres`, the twin of the SQLite folder (the same
//! versions, names, tables and columns, in PostgreSQL's types: unix seconds in `BIGINT`,
//! flags in `BOOLEAN`, a `seq` column where SQLite orders by `rowid`), run by refinery
//! ([`crate::migrate`]) at start. Replicas starting together migrate one after the other:
//! the run holds a session advisory lock; the migrations run in one transaction, so a
//! failed step leaves the database as it was. A database migrated by cavra's earlier
//! runner (version in `cavra_schema`) is adopted: those versions are recorded as applied
//! and `cavra_schema` is dropped.

use std::path::PathBuf;

use postgres::GenericClient;

use crate::error::StoreError;
use crate::migrate::HISTORY_TABLE;

/// The advisory lock key of the migrations ("CAVR" "MIGR").
const MIGRATION_LOCK: i64 = 0x4341_5652_4d49_4752;

/// The table in which cavra's runner before refinery kept the version.
const LEGACY_TABLE: &str = "cavra_schema";

/// The migrations (`migrations/postgres/V<n>__<name>.sql`). Never edit a released file:
/// add the next one, in step with the SQLite folder.
pub(crate) mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// The schema version this build writes to PostgreSQL.
pub const PG_SCHEMA_VERSION: i64 = crate::migrate::LATEST;

fn table_exists(c: &mut impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])?
        .try_get(0)?)
}

/// The version of the database (0: none yet): the newest migration in refinery's history,
/// else the counter of the earlier runner.
pub(crate) fn version(c: &mut impl GenericClient) -> Result<i64, StoreError> {
    let sql = if table_exists(c, HISTORY_TABLE)? {
        format!("SELECT MAX(version)::BIGINT FROM {HISTORY_TABLE}")
    } else if table_exists(c, LEGACY_TABLE)? {
        format!("SELECT MAX(version) FROM {LEGACY_TABLE}")
    } else {
        return Ok(0);
    };
    let v: Option<i64> = c.query_one(sql.as_str(), &[])?.try_get(0)?;
    Ok(v.unwrap_or(0))
}

/// Bring the database to [`PG_SCHEMA_VERSION`], holding the migration lock. A database
/// that holds an `approvals` table but no schema history belongs to another application
/// and is left untouched; one written by a newer cavra is refused.
pub(crate) fn migrate(c: &mut postgres::Client, label: &str) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let r = migrate_locked(c, label);
    let unlocked = c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    r?;
    unlocked?;
    Ok(())
}

fn migrate_locked(c: &mut postgres::Client, label: &str) -> Result<(), StoreError> {
    let history = table_exists(c, HISTORY_TABLE)?;
    let legacy = table_exists(c, LEGACY_TABLE)?;
    let found = version(c)?;
    if found > PG_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: PathBuf::from(label),
            found,
            supported: PG_SCHEMA_VERSION,
        });
    }
    if history && found == PG_SCHEMA_VERSION {
        return Ok(());
    }
    if !history && !legacy && table_exists(c, "approvals")? {
        return Err(StoreError::Corrupt {
            path: PathBuf::from(label),
            detail: "the database holds tables of another application".into(),
        });
    }
    let adopt = (!history && found > 0).then_some(found);
    crate::migrate::run(embedded::migrations::runner, c, adopt).map_err(|e| {
        crate::migrate::error(&e, |cause| {
            cause.downcast_ref::<postgres::Error>().map(super::classify)
        })
    })?;
    if legacy {
        c.batch_execute(&format!("DROP TABLE {LEGACY_TABLE}"))?;
    }
    Ok(())
}
