//! Opening the database: WAL, busy timeout, schema migrations, clear errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::approver::{ApproverTrust, Signer};
use crate::config::ApprovalConfig;
use crate::error::StoreError;
use crate::sessions::EscalationPolicy;
use crate::tamper::Unverified;

/// `PRAGMA application_id` of a cavra database ("CAVR").
pub const APPLICATION_ID: i64 = 0x4341_5652;

/// Default time a writer waits for a lock held by another process.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema migrations of the SQLite store (`migrations/sqlite/V<n>__<name>.sql`), run
/// by refinery, which records what it applied in `refinery_schema_history`. Never edit a
/// released file: add the next one (and its PostgreSQL twin). Upgrade from older files is
/// tested against frozen copies in `tests/data/`.
pub(crate) mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = crate::migrate::LATEST;

/// Options for [`Store::open_with`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long a write waits for a lock held by another process before failing.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

impl OpenOptions {
    /// The defaults, with `$CAVRA_BUSY_TIMEOUT_MS` (milliseconds) as the busy timeout when
    /// set; a value that is not a whole number is an error.
    pub fn from_env() -> Result<OpenOptions, StoreError> {
        let mut opts = OpenOptions::default();
        if let Some(ms) = std::env::var_os("CAVRA_BUSY_TIMEOUT_MS") {
            let parsed = ms.to_str().and_then(|s| s.trim().parse::<u64>().ok());
            let ms = parsed.ok_or_else(|| {
                StoreError::input(
                    "CAVRA_BUSY_TIMEOUT_MS",
                    format!("`{}` (expected milliseconds)", ms.to_string_lossy()),
                )
            })?;
            opts.busy_timeout = Duration::from_millis(ms);
        }
        Ok(opts)
    }
}

/// The CAVRA store: approvals, break-glass, registries and sessions in one SQLite file.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    pub(crate) busy_timeout: Duration,
    pub(crate) config: ApprovalConfig,
    pub(crate) escalation: EscalationPolicy,
    /// Signs the approval, break-glass and release records this store writes.
    pub(crate) signer: Option<Signer>,
    /// Where the approver public key lives (loaded on first use).
    pub(crate) trust_dir: Option<PathBuf>,
    pub(crate) trust: std::cell::OnceCell<ApproverTrust>,
    /// Rows that claimed authority but did not verify, since the last
    /// [`Store::take_unverified`].
    pub(crate) unverified: std::cell::RefCell<Vec<Unverified>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    crate::settings::store_settings!();

    /// Open (or create) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, OpenOptions::default())
    }

    /// Open (or create) the database at `path`. An existing file is never deleted or
    /// recreated: a corrupt or foreign file gives [`StoreError::Corrupt`] and stays as is.
    pub fn open_with(path: impl AsRef<Path>, opts: OpenOptions) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Config {
                    path: parent.to_path_buf(),
                    detail: format!("cannot create directory: {e}"),
                })?;
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let mut store = Store {
            conn,
            path,
            busy_timeout: opts.busy_timeout,
            config: ApprovalConfig::default(),
            escalation: EscalationPolicy::default(),
            signer: None,
            trust_dir: None,
            trust: std::cell::OnceCell::new(),
            unverified: std::cell::RefCell::new(Vec::new()),
        };
        store
            .conn
            .busy_timeout(opts.busy_timeout)
            .map_err(|e| store.classify(e))?;
        store.init()?;
        Ok(store)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The routing / RBAC configuration in use.
    pub fn config(&self) -> &ApprovalConfig {
        &self.config
    }

    /// Check the file and bring it to the current schema in WAL mode. A database that
    /// is already there and current is only read; otherwise the work is done under an
    /// exclusive lock on `<db>.init-lock`, so that processes opening a new database at
    /// the same moment do it one after the other (interleaved, SQLite's journal-mode
    /// switch and the schema migration could wait on each other until the busy timeout).
    fn init(&mut self) -> Result<(), StoreError> {
        if self.is_current()? {
            return Ok(());
        }
        let lock_path = {
            let mut p = self.path.clone().into_os_string();
            p.push(".init-lock");
            PathBuf::from(p)
        };
        let lock_err = |detail: String| StoreError::Config {
            path: lock_path.clone(),
            detail,
        };
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| lock_err(format!("cannot open the initialisation lock: {e}")))?;
        fs4::fs_std::FileExt::lock_exclusive(&lock)
            .map_err(|e| lock_err(format!("cannot take the initialisation lock: {e}")))?;
        let r = self.init_locked();
        let _ = fs4::fs_std::FileExt::unlock(&lock);
        r
    }

    /// Whether the file is a cavra database of the current schema in WAL mode (read only;
    /// anything else, including a file that is not a database, is left to `init_locked`).
    fn is_current(&self) -> Result<bool, StoreError> {
        let read = || -> rusqlite::Result<(i64, i64, String)> {
            let a = self
                .conn
                .query_row("PRAGMA application_id", [], |r| r.get(0))?;
            let v = self
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let m = self
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            Ok((a, v, m))
        };
        Ok(match read() {
            Ok((a, v, m)) => {
                a == APPLICATION_ID && v == SCHEMA_VERSION && m.eq_ignore_ascii_case("wal")
            }
            Err(_) => false,
        })
    }

    fn init_locked(&mut self) -> Result<(), StoreError> {
        // One read snapshot for the three checks, so that a concurrent first-time
        // migration by another process cannot be half-seen. The first read touches the
        // header: a non-database file fails here, untouched.
        let (app_id, version, tables): (i64, i64, i64) = {
            let tx = self
                .conn
                .unchecked_transaction()
                .map_err(|e| self.classify(e))?;
            let read = tx
                .query_row("PRAGMA application_id", [], |r| r.get(0))
                .and_then(|a| {
                    let v = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                    let t = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
                    Ok((a, v, t))
                })
                .map_err(|e| self.classify(e))?;
            tx.commit().map_err(|e| self.classify(e))?;
            read
        };
        if app_id != 0 && app_id != APPLICATION_ID {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("application_id {app_id:#x} is not cavra's"),
            });
        }
        if app_id == 0 && version == 0 && tables > 0 {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: "the file holds tables of another application".into(),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| self.classify(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            self.conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map_err(|e| self.classify(e))?;
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
            .map_err(|e| self.classify(e))?;
        if version < SCHEMA_VERSION {
            self.migrate(version)?;
        }
        if app_id != APPLICATION_ID {
            self.conn
                .execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                .map_err(|e| self.classify(e))?;
        }
        Ok(())
    }

    /// Bring the file from `version` (its `user_version`) to [`SCHEMA_VERSION`] with
    /// refinery. A file migrated before refinery (by `rusqlite_migration`, which kept only
    /// `user_version`) has no history table: its first `version` migrations are recorded
    /// as applied without running them, then the rest run. `user_version` is kept in step:
    /// it is the quick "already current" check of every open, and what an older cavra
    /// reads to refuse a newer file.
    fn migrate(&mut self, version: i64) -> Result<(), StoreError> {
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let history: bool = self
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [crate::migrate::HISTORY_TABLE],
                |r| r.get(0),
            )
            .map_err(|e| self.classify(e))?;
        let adopt = (!history && version > 0).then_some(version);
        crate::migrate::run(embedded::migrations::runner, &mut self.conn, adopt).map_err(|e| {
            crate::migrate::error(&e, |c| match c.downcast_ref::<rusqlite::Error>() {
                Some(rusqlite::Error::SqliteFailure(f, m)) => Some(classify(
                    &path,
                    busy,
                    rusqlite::Error::SqliteFailure(*f, m.clone()),
                )),
                _ => None,
            })
        })?;
        self.conn
            .execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(|e| self.classify(e))
    }

    /// Current schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.classify(e))
    }

    pub(crate) fn classify(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path, self.busy_timeout, e)
    }

    /// Start a write transaction (takes the write lock up front, waiting up to the busy
    /// timeout).
    pub(crate) fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        let path = self.path.clone();
        let busy = self.busy_timeout;
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, busy, e))
    }
}

/// Tells whether any other connection, of this process or another, committed to an
/// SQLite database since the last look: `PRAGMA data_version` on a connection of its own
/// that never writes (so every change it sees is someone else's: a `cavra tokens revoke
/// --database` in another process included). `cavra serve` checks its cached server
/// tokens against it on every request.
pub struct DataVersion {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for DataVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataVersion")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DataVersion {
    /// A connection to the existing database `path` (created by [`Store::open`] first).
    pub fn open(path: impl AsRef<Path>) -> Result<DataVersion, StoreError> {
        let path = path.as_ref().to_path_buf();
        // read-write (a read-only connection to a WAL database needs the -shm file to be
        // there already), never CREATE; nothing is written through it
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let v = DataVersion { conn, path };
        v.get()?;
        Ok(v)
    }

    /// The current value: a different value from the last one means another connection
    /// committed in between.
    pub fn get(&self) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(|e| classify(&self.path, Duration::ZERO, e))
    }
}

/// Map a SQLite error to a store error, recognising lock and corruption.
pub(crate) fn classify(path: &Path, busy: Duration, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(ref f, ref msg) = e {
        match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::Locked {
                    path: path.to_path_buf(),
                    waited_ms: u64::try_from(busy.as_millis()).unwrap_or(u64::MAX),
                }
            }
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: msg.clone().unwrap_or_else(|| f.to_string()),
                }
            }
            _ => {}
        }
    }
    StoreError::from(e)
}
