//! The decision log of replicas on PostgreSQL (`cavra serve --database postgres://…`):
//! every replica appends to the one log in the database ([`cavra_store::pg::evidence`]:
//! group commit, one chain, signed checkpoints) through [`PgSink`], follows it with
//! `LISTEN` to feed `/v1/decisions/stream` with the decisions of every replica, and reads
//! it back for `/v1/decisions[/{id}]`, `/v1/evidence/records/{id}[/proof]` and
//! `/v1/evidence/verify`, bundles and SIEM exports (all but the first two export the log
//! to a scratch directory of the CAVRA directory and run the file log's operations on it,
//! so a replica checks exactly what `cavra evidence export --format log` hands an
//! auditor).

use crate::error::{ApiError, ServerError};
use crate::stream::DecisionFeed;
use cavra_evidence::keys::{KeyStore, Keyring, SigningKey};
use cavra_evidence::proof::InclusionProof;
use cavra_evidence::{EvidenceLog, LogConfig, Record, VerifyReport};
use cavra_runtime::{EvidenceSink, SinkError};
use cavra_store::pg::evidence::{
    self as ev, Listener, PgEvidenceError, PgEvidenceLog, PgEvidenceReader,
};
use cavra_store::{Hit, SearchQuery, SearchResult};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

impl From<PgEvidenceError> for ApiError {
    fn from(e: PgEvidenceError) -> ApiError {
        match e {
            PgEvidenceError::Evidence(e) => e.into(),
            PgEvidenceError::Store(e) => e.into(),
            e => ApiError::internal(e.to_string()),
        }
    }
}

/// The runtime's evidence sink on PostgreSQL: a handle to this replica's writer (every
/// runtime of the server shares it; appends wait for their batch's commit).
#[derive(Debug, Clone)]
pub struct PgSink(pub PgEvidenceLog);

impl EvidenceSink for PgSink {
    fn append(&mut self, _cavra_dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError> {
        self.0
            .append(kind, body)
            .map(|a| a.record_id)
            .map_err(SinkError::new)
    }

    fn append_decision(
        &mut self,
        _cavra_dir: &Path,
        record: &cavra_runtime::DecisionRecord<'_>,
    ) -> Result<String, SinkError> {
        let cols = ev::Columns::from_fields(|k| record.field(k));
        self.0
            .append_prepared("decision", record.prepared(), cols)
            .map(|a| a.record_id)
            .map_err(SinkError::new)
    }
}

/// This replica's view of the log in the database.
pub struct PgLog {
    writer: PgEvidenceLog,
    reader: PgEvidenceReader,
    key: Arc<SigningKey>,
    cavra_dir: PathBuf,
    key_dir: PathBuf,
    _listener: Listener,
}

impl std::fmt::Debug for PgLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLog")
            .field("database", &self.reader.label())
            .field("key_id", &self.key.key_id())
            .finish_non_exhaustive()
    }
}

/// Connections of a replica for reading the log (the writer and the listener have their
/// own).
const READ_POOL: u32 = 4;

impl PgLog {
    /// Start the writer (signing with the evidence key of `cavra_dir`, created when there
    /// is none; checkpoints every `CAVRA_EVIDENCE_CHECKPOINT_EVERY` records as the file log)
    /// and the listener publishing every replica's decisions on `feed`.
    ///
    /// The listener also hears the store changes the cache must not outlive (`cavra_lookups`) and tells `lookups`.
    pub fn start(
        url: &str,
        cavra_dir: &Path,
        feed: DecisionFeed,
        lookups: Arc<crate::lookupcache::LookupCache>,
    ) -> Result<PgLog, ServerError> {
        let lc = LogConfig::for_cavra_dir(cavra_dir);
        let (key, _) = KeyStore::new(&lc.key_dir).load_or_create_active(lc.signing)?;
        let key = Arc::new(key);
        let reader = PgEvidenceReader::connect(url, READ_POOL)?;
        let cfg = ev::WriterConfig::new(url, lc.checkpoint_every)?;
        let writer = PgEvidenceLog::start(cfg.clone(), Arc::clone(&key))?;
        let listener = ev::listen_with_tokens(
            &cfg.db,
            Some("decision"),
            move |r: Record| {
                if feed.subscribers() == 0 {
                    return;
                }
                // the stored body, redacted when it was appended
                let field = |k: &str| r.body.get(k).and_then(Value::as_str).unwrap_or("");
                let text = cavra_evidence::canon::canonical_json(&r.body);
                feed.publish_recorded(
                    &r.record_id,
                    field("cavra_decision"),
                    field("rule_id"),
                    &text,
                );
            },
            move |signal| match signal {
                ev::LookupSignal::Changed => lookups.changed(),
                ev::LookupSignal::Lost => lookups.lost(),
                ev::LookupSignal::Listening => lookups.listening(),
            },
        )?;
        Ok(PgLog {
            writer,
            reader,
            key,
            cavra_dir: cavra_dir.to_path_buf(),
            key_dir: lc.key_dir,
            _listener: listener,
        })
    }

    /// The database, for reports (no password).
    pub fn label(&self) -> &str {
        self.reader.label()
    }

    /// Transactions this replica's writer committed (with the appends: the batch size).
    pub fn batches(&self) -> u64 {
        self.writer.batches()
    }

    /// The sink for a runtime.
    pub fn sink(&self) -> PgSink {
        PgSink(self.writer.clone())
    }

    /// A record by record id or seq.
    pub fn record(&self, id: &str) -> Result<Option<Record>, ApiError> {
        Ok(self.reader.record(id)?)
    }

    /// A decision record by decision id or record id, as a search hit.
    pub fn decision(&self, id: &str) -> Result<Option<Hit>, ApiError> {
        Ok(self.reader.decision(id)?.map(Hit::of_record))
    }

    /// The decision list of `GET /v1/decisions`, from the table.
    pub fn search(&self, q: SearchQuery) -> Result<SearchResult, ApiError> {
        Ok(self.reader.search(&q)?)
    }

    /// Verify the log (see the module docs) against the trust root `trust_root` or
    /// `<cavra_dir>/trust-root.json`; without one, against the keys the writers registered
    /// in the database and this replica's own (integrity, not trust: the report says so).
    pub fn verify(&self, trust_root: Option<&Path>, full: bool) -> Result<VerifyReport, ApiError> {
        let cavra_dir = self.cavra_dir.as_path();
        let default = cavra_dir.join("trust-root.json");
        let ring = match trust_root.or_else(|| Some(default.as_path()).filter(|p| p.is_file())) {
            Some(p) => cavra_evidence::ops::keyring(cavra_dir, &self.key_dir, Some(p))?,
            None => {
                let label = format!(
                    "keys registered in the database {} (integrity only: configure a trust root)",
                    self.reader.label()
                );
                let mut ring: Keyring = self.reader.signers()?.keyring(&label)?;
                ring.is_trust_root = false;
                ring.insert(self.key.verifying_key());
                ring
            }
        };
        let opts = cavra_evidence::VerifyOptions {
            keyring: &ring,
            full_signatures: full,
            progress: None,
        };
        let mut rep = self.with_export(|cfg| Ok(cavra_evidence::verify_log(&cfg.dir, opts)?))?;
        rep.path = self.reader.label().to_string();
        Ok(rep)
    }

    /// Runs `f` on the log exported to a scratch directory (removed afterwards), as a log
    /// of this replica's key directory: what the file-log operations (bundles, SIEM
    /// exports) work on in PostgreSQL mode.
    pub fn with_export<T>(
        &self,
        f: impl FnOnce(LogConfig) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let scratch = Scratch::new(&self.cavra_dir)?;
        self.reader.export(&scratch.0)?;
        f(LogConfig::new(&scratch.0, &self.key_dir))
    }

    /// An inclusion proof of a record: against the latest checkpoint covering it (one over
    /// the whole log is written into the database first when the newest does not cover
    /// everything).
    pub fn prove(&self, id: &str) -> Result<InclusionProof, ApiError> {
        if self.reader.record(id)?.is_none() {
            return Err(cavra_evidence::EvidenceError::RecordNotFound(id.to_string()).into());
        }
        self.reader.checkpoint(&self.key)?;
        self.with_export(|cfg| {
            Ok(cavra_evidence::proof::prove(
                &mut EvidenceLog::open(cfg)?,
                id,
            )?)
        })
    }
}

/// A directory of its own under `parent`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path) -> Result<Scratch, ApiError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = parent.join(format!(".pg-export-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p)
            .map_err(|e| ApiError::internal(format!("cannot create `{}`: {e}", p.display())))?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cavra evidence export --format log --database URL --output DIR`: the log in the
/// database as a log directory; the report as JSON and as a line for people.
pub fn export_database(url: &str, dir: &Path) -> Result<(Value, String), ServerError> {
    let r = ev::export_url(url, dir)?;
    Ok((serde_json::to_value(&r).unwrap_or(Value::Null), r.text()))
}
