//! The state every handler shares: the settings, the store opener (SQLite or PostgreSQL,
//! one [`TeamOpener`] for both), a pool of [`Runtime`]s over that opener (decisions run in
//! parallel; they share one evidence log writer, so each log still has one writer; with
//! PostgreSQL each has a handle to the one writer of the decision log in the database, so
//! their appends share its batches), the metrics; and [`blocking`], which runs the synchronous runtime and store off the async
//! workers.

use crate::config::Database;
use crate::config::ServerConfig;
use crate::error::{ApiError, ServerError};
use crate::metrics::{CountingSink, Metrics};
use crate::stream::DecisionFeed;
use cavra_auth::OidcValidator;
use cavra_runtime::packs::PackCache;
use cavra_runtime::{LogSink, Runtime};
use cavra_store::{ApprovalConfig, Rbac, SqliteOpener, TeamOpener, TeamStore};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// The shared state.
pub struct AppState {
    pub config: ServerConfig,
    /// The runtimes decisions are made through, one decision at a time each.
    runtimes: Vec<Mutex<Runtime>>,
    /// Where the next [`AppState::runtime`] starts looking for a free runtime.
    next: AtomicUsize,
    /// The compiled packs decisions are made under (shared by the runtimes).
    pub packs: Arc<PackCache>,
    pub metrics: Arc<Metrics>,
    pub started: std::time::Instant,
    /// The OIDC issuer's validator (its key cache), when `auth.oidc` is configured.
    oidc: Option<OidcValidator>,
    /// Opens the store every handler and the runtime work on.
    stores: Arc<dyn TeamOpener + Send + Sync>,
    /// Stores kept for token lookups (one per request; opening a store costs more than
    /// the lookup), each with the time it was opened.
    lookup_stores: Mutex<Vec<(std::time::Instant, Box<dyn TeamStore + Send>)>>,
    /// With PostgreSQL: the replicas' decision log in the database.
    #[cfg(feature = "postgres")]
    pg_log: Option<crate::pglog::PgLog>,
    /// Decision sightings of the repository inventory not written yet.
    pub inventory: crate::inventory::Pending,
    /// The server tokens, agents and rollout assignments looked up recently (never used
    /// past a change to the store).
    pub lookups: Arc<crate::lookupcache::LookupCache>,
}

/// How long a kept lookup store is reused (a new trust root is seen within this time).
const LOOKUP_STORE_REUSE: std::time::Duration = std::time::Duration::from_secs(5);
/// Lookup stores kept at most.
const LOOKUP_STORES_KEPT: usize = 16;

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
        let lookups = Arc::new(match &config.database {
            Database::Sqlite(p) => {
                crate::lookupcache::LookupCache::data_version(cavra_store::DataVersion::open(p)?)
            }
            // emptied by the decision log's listener (started below)
            Database::Postgres(_) => crate::lookupcache::LookupCache::notified(),
        });
        #[cfg(feature = "postgres")]
        let pg_log = match &config.database {
            Database::Postgres(url) => Some(crate::pglog::PgLog::start(
                url,
                &config.cavra_dir,
                metrics.feed.clone(),
                Arc::clone(&lookups),
            )?),
            Database::Sqlite(_) => None,
        };
        let log = LogSink::new(cavra_evidence::LogConfig::for_cavra_dir);
        let feed = Some(metrics.feed.clone());
        let dispatcher = config
            .connectors
            .clone()
            .filter(|c| !c.connectors.is_empty())
            .map(|mut c| {
                // the Teams card's buttons open the console's approval page
                c.public_url = config.public_url.clone();
                let record = crate::deliveries::recorder(Arc::clone(&stores), &config.cavra_dir);
                let tickets =
                    crate::deliveries::ticket_finder(Arc::clone(&stores), &config.cavra_dir);
                Arc::new(crate::connectors::Dispatcher::start_with(
                    c, record, tickets,
                ))
            });
        let delivering = |inner| crate::connectors::ConnectorSink {
            inner,
            dispatcher: dispatcher.clone(),
        };
        // one writer of the file log for every runtime; what is counted and delivered
        // around an append is each runtime's own, outside the log's lock
        let file_log = cavra_runtime::SharedLogSink::new(log);
        let packs = Arc::new(PackCache::default());
        let runtimes = (0..pool_size(&config.database))
            .map(|_| {
                #[cfg(feature = "postgres")]
                let pg_sink = pg_log.as_ref().map(crate::pglog::PgLog::sink);
                #[cfg(not(feature = "postgres"))]
                let pg_sink: Option<LogSink> = None;
                let runtime = match pg_sink {
                    // a handle of its own to the writer, so that appends of the runtimes
                    // wait together and share a batch; every replica's decisions reach
                    // the feed through the log's notifications
                    Some(sink) => Runtime::new(
                        Arc::clone(&stores),
                        counted(
                            &metrics,
                            crate::connectors::ConnectorSink {
                                inner: sink,
                                dispatcher: dispatcher.clone(),
                            },
                            None,
                        ),
                    ),
                    None => Runtime::new(
                        Arc::clone(&stores),
                        counted(&metrics, delivering(file_log.clone()), feed.clone()),
                    ),
                };
                Mutex::new(
                    runtime
                        .with_org_pack_file(config.org_pack.clone())
                        .with_pack_cache(Arc::clone(&packs))
                        .with_lookups(Arc::clone(&lookups) as _),
                )
            })
            .collect();
        Ok(AppState {
            config,
            runtimes,
            next: AtomicUsize::new(0),
            packs,
            metrics,
            started: std::time::Instant::now(),
            oidc,
            stores,
            lookup_stores: Mutex::new(Vec::new()),
            #[cfg(feature = "postgres")]
            pg_log,
            inventory: Default::default(),
            lookups,
        })
    }

    /// The replicas' decision log in PostgreSQL (`--database postgres://…`).
    #[cfg(feature = "postgres")]
    pub fn pg_log(&self) -> Option<&crate::pglog::PgLog> {
        self.pg_log.as_ref()
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

    /// A runtime of the pool: the first free one from a rotating start, else (all busy)
    /// the one at the start, waited for.
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        // a panic while deciding is answered as a 500 by the worker; the runtime's state
        // stays usable, so a poisoned lock is taken over
        // the pool is never empty (pool_size(_) >= 4)
        let n = self.runtimes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            match self.runtimes[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.runtimes[start]
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

impl AppState {
    /// Runs the read-only `f` (a token lookup) on a store kept from an earlier call when
    /// there is a recent one, else on a newly opened store; the store is kept afterwards
    /// unless `f` failed. Nothing is set on these stores (no signer, no configuration).
    pub fn with_lookup_store<T>(
        &self,
        f: impl FnOnce(&dyn TeamStore) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let lock = || {
            self.lookup_stores
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let kept = lock()
            .pop()
            .filter(|(at, _)| at.elapsed() < LOOKUP_STORE_REUSE);
        let (at, store) = match kept {
            Some(k) => k,
            None => (
                std::time::Instant::now(),
                self.stores.open_team(&self.config.cavra_dir)?,
            ),
        };
        let r = f(&*store);
        if r.is_ok() {
            let mut kept = lock();
            if kept.len() < LOOKUP_STORES_KEPT {
                kept.push((at, store));
            }
        }
        r
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many runtimes decide in parallel. SQLite: four per core (4 to 64; a decision
/// waits on the store and the log part of the time). PostgreSQL: 32 per core (32 to 256):
/// a decision waits for its group commit, and every decision waiting joins the next
/// batch, so more of them in flight make bigger batches, not more CPU.
fn pool_size(db: &Database) -> usize {
    match db {
        Database::Sqlite(_) => cores().saturating_mul(4).clamp(4, 64),
        Database::Postgres(_) => cores().saturating_mul(32).clamp(32, 256),
    }
}

/// The most threads the blocking pool runs (store calls and decisions): the runtimes
/// plus as many again for the other calls (token lookups, reads), at least 32.
pub fn blocking_threads(db: &Database) -> usize {
    pool_size(db).saturating_mul(2).max(32)
}

/// `inner` counted into `m`'s metrics, publishing decisions on `feed`.
fn counted<S>(m: &Metrics, inner: S, feed: Option<DecisionFeed>) -> CountingSink<S> {
    CountingSink {
        inner,
        feed,
        appends: m.evidence_appends.clone(),
        failures: m.evidence_failures.clone(),
        decisions: m.decisions.clone(),
    }
}

/// Runs `f` on the blocking pool (the runtime and the store do file and database I/O).
pub async fn blocking<T, F>(state: &Shared, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
{
    let s = Arc::clone(state);
    // the store's change check once per request, for every lookup of the request
    tokio::task::spawn_blocking(move || s.lookups.in_request(|| f(&s)))
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker stopped: {e}")))?
}
