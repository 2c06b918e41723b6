//! Schema migrations of both backends through one tool, refinery: the SQL of each backend
//! in its own folder (`migrations/sqlite`, `migrations/postgres`; the column types differ),
//! the same versions and names in both, applied in one transaction, recorded in refinery's
//! history table. Databases migrated before refinery kept only a counter (SQLite's
//! `PRAGMA user_version`, PostgreSQL's `cavra_schema` table): they are adopted by
//! recording their first `n` migrations as applied without running them.

use refinery::{Runner, Target};

use crate::error::{BackendKind, StoreError};

/// refinery's history table.
pub(crate) const HISTORY_TABLE: &str = "refinery_schema_history";

/// The newest migration of both folders (a test checks each folder ends there).
pub(crate) const LATEST: i64 = 11;

/// Bring a database to [`LATEST`] with the migrations `runner` makes (called twice: a
/// runner is used up by a run). `adopt`: the counter of a database migrated before
/// refinery, whose first `adopt` migrations are recorded as applied, not run. A history
/// that names a migration this build does not have (a newer cavra's) is refused by
/// refinery, before anything runs.
pub(crate) fn run<C: refinery::Migrate>(
    runner: fn() -> Runner,
    conn: &mut C,
    adopt: Option<i64>,
) -> Result<(), refinery::Error> {
    if let Some(n) = adopt.and_then(|n| i32::try_from(n).ok()) {
        runner()
            .set_target(Target::FakeVersion(n))
            .set_grouped(true)
            .run(conn)?;
    }
    runner().set_grouped(true).run(conn)?;
    Ok(())
}

/// A refinery failure as a store error: the driver's own error where there is one
/// (`driver` classifies it: a locked SQLite file stays "locked"), else a schema error.
pub(crate) fn error(
    e: &refinery::Error,
    driver: impl Fn(&(dyn std::error::Error + 'static)) -> Option<StoreError>,
) -> StoreError {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(se) = driver(c) {
            return se;
        }
        cause = c.source();
    }
    StoreError::backend(BackendKind::Schema, format!("migration: {e}"))
}

#[cfg(test)]
mod tests {
    /// Both folders hold the same versions and names, ending at `LATEST`.
    #[cfg(all(feature = "sqlite", feature = "postgres"))]
    #[test]
    fn both_folders_hold_the_same_migrations() {
        // refinery lists embedded migrations in file-name order (`V10` before `V2`); it
        // applies them by version
        let names = |r: refinery::Runner| -> Vec<(i64, String)> {
            let mut v: Vec<(i64, String)> = r
                .get_migrations()
                .iter()
                .map(|m| (i64::from(m.version()), m.name().to_string()))
                .collect();
            v.sort();
            v
        };
        let lite = names(crate::db::embedded::migrations::runner());
        let pg = names(crate::pg::migrations::embedded::migrations::runner());
        assert_eq!(lite, pg);
        assert_eq!(lite.last().map(|m| m.0), Some(super::LATEST));
        assert_eq!(lite.len(), usize::try_from(super::LATEST).unwrap_or(0));
    }
}
