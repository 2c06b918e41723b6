//! The state every handler shares: the settings, the store opener (SQLite or PostgreSQL,
//! one [`TeamOpener`] for both), the process's one [`Runtime`] (one evidence writer per
//! log) over that opener, the metrics; and [`blocking`], which runs the synchronous
//! runtime and store off the async workers.

use crate::config::Database;
use crate::config::ServerConfig;
use crate::error::{ApiError, ServerError};
use crate::metrics::{CountingSink, Metrics};
use cavra_auth::OidcValidator;
use cavra_runtime::{LogSink, Runtime};
use cavra_store::{ApprovalConfig, Rbac, SqliteOpener, TeamOpener, TeamStore};
use std::sync::{Arc, Mutex, MutexGuard};

/// The shared state.
pub struct AppState {
    pub config: ServerConfig,
    runtime: Mutex<Runtime>,
    pub metrics: Arc<Metrics>,
    pub started: std::time::Instant,
    /// The OIDC issuer's validator (its key cache), when `auth.oidc` is configured.
    oidc: Option<OidcValidator>,
    /// Opens the store every handler and the runtime work on.
    stores: Arc<dyn TeamOpener + Send + Sync>,
}

/// The opener of `db`, verifying against the approver trust root `trust_dir`. PostgreSQL
/// connects and migrates here (under the advisory lock: replicas starting together
/// migrate one after the other), so a bad database fails at start. `cavra tokens
/// --database` opens its store with it too.
pub fn opener(
    db: &Database,
    trust_dir: Option<std::path::PathBuf>,
) -> Result<Arc<dyn TeamOpener + Send + Sync>, ServerError> {
    Ok(match db {
        Database::Sqlite(p) => Arc::new(SqliteOpener {
            db_file: Some(p.clone()),
            trust_dir,
            options: Default::default(),
        }),
        #[cfg(feature = "postgres")]
        Database::Postgres(url) => Arc::new(cavra_store::PgOpener::connect(
            url,
            &cavra_store::PgOptions::default(),
            trust_dir,
        )?),
        #[cfg(not(feature = "postgres"))]
        Database::Postgres(_) => return Err(ServerError::PostgresNotBuilt),
    })
}

/// The state as handlers hold it.
pub type Shared = Arc<AppState>;

impl AppState {
    /// The state for `config`: a runtime over the configured store (opened once here, so
    /// that a bad database fails at start) and the evidence log of the CAVRA directory,
    /// its appends counted; the OIDC validator when configured.
    pub fn new(config: ServerConfig) -> Result<AppState, ServerError> {
        let oidc = config
            .auth
            .oidc
            .as_ref()
            .map(OidcValidator::new)
            .transpose()?;
        let metrics = Arc::new(Metrics::new());
        let stores = opener(&config.database, config.approver_dir.clone())?;
        stores.open_team(&config.cavra_dir)?;
        let sink = CountingSink {
            inner: LogSink::new(cavra_evidence::LogConfig::for_cavra_dir),
            feed: metrics.feed.clone(),
            appends: metrics.evidence_appends.clone(),
            failures: metrics.evidence_failures.clone(),
            decisions: metrics.decisions.clone(),
        };
        let runtime =
            Runtime::new(Arc::clone(&stores), sink).with_org_pack_file(config.org_pack.clone());
        Ok(AppState {
            config,
            runtime: Mutex::new(runtime),
            metrics,
            started: std::time::Instant::now(),
            oidc,
            stores,
        })
    }

    /// The OIDC validator, when `auth.oidc` is configured.
    pub fn oidc(&self) -> Option<&OidcValidator> {
        self.oidc.as_ref()
    }

    /// The approval routing and RBAC of the CAVRA directory; the RBAC file of
    /// `auth.rbac_file` instead of `<cavra_dir>/approvals/rbac.yaml` when set (a file that
    /// is named but cannot be read is an error, never "no RBAC").
    pub fn approval_config(&self) -> Result<ApprovalConfig, ApiError> {
        let mut c = ApprovalConfig::load(&self.config.cavra_dir)?;
        if let Some(p) = &self.config.auth.rbac_file {
            let text = std::fs::read_to_string(p).map_err(|e| {
                ApiError::internal(format!("cannot read the RBAC file `{}`: {e}", p.display()))
            })?;
            c.rbac = Some(Rbac::parse(&text, p)?);
        }
        Ok(c)
    }

    /// The runtime (decisions are made one at a time through it).
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        // a panic while deciding is answered as a 500 by the worker; the runtime's state
        // (open log writers) stays usable
        self.runtime
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store (SQLite or PostgreSQL), verified against the approver key; with the
    /// CAVRA directory's approval routing/RBAC configuration when `with_config`.
    pub fn store(&self, with_config: bool) -> Result<Box<dyn TeamStore + Send>, ApiError> {
        let mut s = self.stores.open_team(&self.config.cavra_dir)?;
        if with_config {
            s.set_approval_config(self.approval_config()?);
        }
        Ok(s)
    }
}

/// Runs `f` on the blocking pool (the runtime and the store do file and database I/O).
pub async fn blocking<T, F>(state: &Shared, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
{
    let s = Arc::clone(state);
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker stopped: {e}")))?
}
