//! The state every handler shares: the settings, the process's one [`Runtime`] (one
//! evidence writer per log), the metrics; and [`blocking`], which runs the synchronous
//! runtime and store off the async workers.

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::{CountingSink, Metrics};
use cavra_runtime::{LogSink, Runtime};
use cavra_store::{ApprovalConfig, SqliteOpener, Store};
use std::sync::{Arc, Mutex, MutexGuard};

/// The shared state.
pub struct AppState {
    pub config: ServerConfig,
    runtime: Mutex<Runtime>,
    pub metrics: Arc<Metrics>,
    pub started: std::time::Instant,
}

/// The state as handlers hold it.
pub type Shared = Arc<AppState>;

impl AppState {
    /// The state for `config`: a runtime over the SQLite store and the evidence log of the
    /// CAVRA directory, its appends counted.
    pub fn new(config: ServerConfig) -> AppState {
        let metrics = Arc::new(Metrics::new());
        let stores = SqliteOpener {
            db_file: Some(config.database.sqlite_path().to_path_buf()),
            trust_dir: config.approver_dir.clone(),
            options: Default::default(),
        };
        let sink = CountingSink {
            inner: LogSink::new(cavra_evidence::LogConfig::for_cavra_dir),
            feed: metrics.feed.clone(),
            appends: metrics.evidence_appends.clone(),
            failures: metrics.evidence_failures.clone(),
            decisions: metrics.decisions.clone(),
        };
        let runtime = Runtime::new(stores, sink).with_org_pack_file(config.org_pack.clone());
        AppState {
            config,
            runtime: Mutex::new(runtime),
            metrics,
            started: std::time::Instant::now(),
        }
    }

    /// The runtime (decisions are made one at a time through it).
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        // a panic while deciding is answered as a 500 by the worker; the runtime's state
        // (open log writers) stays usable
        self.runtime
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store, verified against the approver key; with the CAVRA directory's approval
    /// routing/RBAC configuration when `with_config`.
    pub fn store(&self, with_config: bool) -> Result<Store, ApiError> {
        let mut s = Store::open(self.config.database.sqlite_path())?;
        if let Some(d) = &self.config.approver_dir {
            s = s.with_trust_dir(d.clone());
        }
        if with_config {
            s = s.with_config(ApprovalConfig::load(&self.config.cavra_dir)?);
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
