//! The PostgreSQL store (feature `postgres`): the same tables, rules and signatures as the
//! SQLite [`crate::Store`], for `cavra serve` replicas that share one database.
//!
//! Every rule is [`crate::rules`]'s and every signed field list is the one the SQLite store
//! signs, so a record approved through one replica verifies on every other. What differs
//! is how rows are locked: several processes write at once, so each change reads the rows
//! it decides on `FOR UPDATE` (or under a transaction-scoped advisory lock where the row
//! does not exist yet), and a use of an approval is an update that only succeeds while
//! the use count it read is still the stored one. Rows are read as one JSON array of the
//! columns the SQLite store reads ([`json_rows`]), decoded by the same functions.
//!
//! The connection is plain TCP (`NoTls`): run it on loopback or a private network, or
//! terminate TLS in front of PostgreSQL (docs/server.md).

mod approvals;
mod deliveries;
pub mod evidence;
mod inventory;
pub(crate) mod migrations;
mod registry;
mod rollouts;
mod sessions;
#[cfg(test)]
mod tests;
mod tokens;
mod websessions;

use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{GenericClient, NoTls};
use r2d2_postgres::{r2d2, PostgresConnectionManager};
use time::OffsetDateTime;

use crate::approver::{ApproverTrust, Signer};
use crate::backend::{DecisionStore, StoreOpener, TeamOpener, TeamStore};
use crate::config::ApprovalConfig;
use crate::error::{BackendKind, StoreError};
use crate::sessions::EscalationPolicy;
use crate::tamper::Unverified;

pub use migrations::PG_SCHEMA_VERSION;
pub use tokens::LOOKUPS_CHANNEL;

/// A pool of connections to one PostgreSQL database.
pub type PgPool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

type Conn = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// Default number of connections a pool opens at most.
pub const DEFAULT_POOL_SIZE: u32 = 8;
/// Default time to wait for a connection (from the pool, or a new one).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// At most this many connections.
    pub pool_size: u32,
    /// How long getting a connection may take.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// `postgres://user:secret@host/db` without the password, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth.map(|a| a.split_once(':').map_or(a, |(user, _)| user)) {
        Some(user) => format!("{scheme}://{user}@{host}"),
        None => format!("{scheme}://{host}"),
    }
}

/// Connect a pool to `url` (a `postgres://` URL or a `key=value` connection string) and
/// bring the schema up to date (under an advisory lock: replicas starting together migrate
/// one after the other).
pub fn connect_pool(url: &str, opts: &PgOptions) -> Result<PgPool, StoreError> {
    let label = redact_url(url);
    let open_err = |detail: String| StoreError::Open {
        path: PathBuf::from(&label),
        detail,
    };
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| open_err(format!("invalid connection string: {e}")))?;
    config.connect_timeout(opts.connect_timeout);
    let pool = r2d2::Pool::builder()
        .max_size(opts.pool_size.max(1))
        // connections are opened when needed, not `max_size` of them up front
        .min_idle(Some(0))
        // no round trip to test each connection handed out (a store call is often one
        // query): a connection the server closed fails its query, which fails that call
        // (a decision fails closed), and the pool drops it as broken
        .test_on_check_out(false)
        .connection_timeout(opts.connect_timeout)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(PostgresConnectionManager::new(config, NoTls))
        .map_err(|e| open_err(e.to_string()))?;
    let mut c = pool.get().map_err(|e| open_err(e.to_string()))?;
    migrations::migrate(&mut c, &label)?;
    Ok(pool)
}

/// Driver failures become backend-neutral errors: a refused constraint (SQLSTATE class
/// 23), a resource or I/O failure (53, 58, a closed connection), anything else.
impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        classify(&e)
    }
}

/// [`StoreError::from`] a driver error by reference.
pub(crate) fn classify(e: &postgres::Error) -> StoreError {
    let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
    let kind = if code.starts_with("23") {
        BackendKind::Constraint
    } else if code.starts_with("53") || code.starts_with("58") || e.is_closed() {
        BackendKind::Io
    } else if code.starts_with("42") {
        BackendKind::Schema
    } else {
        BackendKind::Other
    };
    let detail = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    StoreError::backend(kind, detail)
}

/// The rows `sql` selects, each as one column holding a JSON array (text) of its fields
/// in the order of the target type: `SELECT json_build_array(<cols>)::text FROM …`.
pub(crate) fn json_rows<T: serde::de::DeserializeOwned>(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<T>, StoreError> {
    c.query(sql, params)?
        .iter()
        .map(|row| {
            let text: String = row.try_get(0)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Decode {
                field: "row".into(),
                detail: e.to_string(),
            })
        })
        .collect()
}

/// The first row of [`json_rows`], if any.
pub(crate) fn json_row<T: serde::de::DeserializeOwned>(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<T>, StoreError> {
    Ok(json_rows(c, sql, params)?.into_iter().next())
}

/// `SELECT json_build_array(<cols>)::text` for a column list.
pub(crate) fn select_json(cols: &str) -> String {
    format!("SELECT json_build_array({cols})::text")
}

/// The CAVRA store in PostgreSQL. One value per request or per thread: it takes a
/// connection from the shared pool for each call, so many stores (and many processes)
/// work on the same database at once.
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) label: String,
    pub(crate) config: ApprovalConfig,
    pub(crate) escalation: EscalationPolicy,
    pub(crate) signer: Option<Signer>,
    pub(crate) trust_dir: Option<PathBuf>,
    pub(crate) trust: OnceCell<ApproverTrust>,
    pub(crate) unverified: RefCell<Vec<Unverified>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.label)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    crate::settings::store_settings!();

    /// Connect to `url` with default options (migrating the schema).
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = connect_pool(url, &PgOptions::default())?;
        Ok(PgStore::from_pool(pool, redact_url(url)))
    }

    /// A store on a pool made by [`connect_pool`]; `label` names the database in messages.
    pub fn from_pool(pool: PgPool, label: impl Into<String>) -> PgStore {
        PgStore {
            pool,
            label: label.into(),
            config: ApprovalConfig::default(),
            escalation: EscalationPolicy::default(),
            signer: None,
            trust_dir: None,
            trust: OnceCell::new(),
            unverified: RefCell::new(Vec::new()),
        }
    }

    /// The database, for messages (no password).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        migrations::version(&mut *self.conn()?)
    }

    pub(crate) fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().map_err(|e| StoreError::Open {
            path: PathBuf::from(&self.label),
            detail: e.to_string(),
        })
    }

    /// Remember that `u` was reported; `true` the first time for this row version.
    pub fn mark_tamper_reported(
        &mut self,
        u: &Unverified,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT INTO tamper_reports (row_key, reported_at) VALUES ($1, $2) \
             ON CONFLICT (row_key) DO NOTHING",
            &[&u.row_key, &crate::timefmt::secs(now)],
        )?;
        Ok(n == 1)
    }
}

/// Opens [`PgStore`]s on one pool: every CAVRA directory shares the one database (the
/// server's), so `exists` is always true; routing and RBAC still come from the directory.
#[derive(Clone)]
pub struct PgOpener {
    pub pool: PgPool,
    /// The database, for messages (no password).
    pub label: String,
    /// The approver trust root ([`crate::approver_dir`]); without one nothing verifies.
    pub trust_dir: Option<PathBuf>,
}

impl std::fmt::Debug for PgOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOpener")
            .field("database", &self.label)
            .field("trust_dir", &self.trust_dir)
            .finish_non_exhaustive()
    }
}

impl PgOpener {
    /// Connect (and migrate) once; stores opened later share the pool.
    pub fn connect(
        url: &str,
        opts: &PgOptions,
        trust_dir: Option<PathBuf>,
    ) -> Result<PgOpener, StoreError> {
        Ok(PgOpener {
            pool: connect_pool(url, opts)?,
            label: redact_url(url),
            trust_dir,
        })
    }

    /// A store on the pool.
    pub fn store(&self, escalation: Option<EscalationPolicy>) -> PgStore {
        let mut s = PgStore::from_pool(self.pool.clone(), self.label.clone());
        if let Some(e) = escalation {
            s = s.with_escalation(e);
        }
        if let Some(dir) = &self.trust_dir {
            s = s.with_trust_dir(dir.clone());
        }
        s
    }
}

impl StoreOpener for PgOpener {
    fn exists(&self, _cavra_dir: &Path) -> bool {
        true
    }
    fn open(
        &self,
        _cavra_dir: &Path,
        escalation: Option<EscalationPolicy>,
    ) -> Result<Box<dyn DecisionStore + Send>, StoreError> {
        Ok(Box::new(self.store(escalation)))
    }
    fn approval_config(&self, cavra_dir: &Path) -> Result<ApprovalConfig, StoreError> {
        ApprovalConfig::load(cavra_dir)
    }
    fn describe(&self, _cavra_dir: &Path) -> String {
        self.label.clone()
    }
}

impl TeamOpener for PgOpener {
    fn open_team(&self, _cavra_dir: &Path) -> Result<Box<dyn TeamStore + Send>, StoreError> {
        Ok(Box::new(self.store(None)))
    }
}
