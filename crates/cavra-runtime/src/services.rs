//! What the runtime works through: a clock, an evidence sink, a script reader (and the
//! store, [`cavra_store::StoreOpener`]). Front ends pick the implementations; the defaults
//! here are the system clock, the signed evidence log and the file system.

use crate::decide::DecisionRecord;
use crate::error::SinkError;
use cavra_evidence::{EvidenceLog, LogConfig, PreparedBody};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub use cavra_core::guard::scripts::ScriptReader;

/// The time decisions, approvals and holds are stamped with.
pub trait Clock {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Registry lookups a front end answers from a cache of its own, kept true to the store
/// (`cavra serve`: reset by every change to the store it can see, docs/server.md); without
/// one, the runtime reads the store on every decision.
pub trait Lookups {
    /// The registered agent `id`: cached, or `read` from the store (and then cached).
    fn agent(
        &self,
        id: &str,
        read: &mut dyn FnMut() -> Result<Option<cavra_store::AgentRecord>, crate::RuntimeError>,
    ) -> Result<Option<cavra_store::AgentRecord>, crate::RuntimeError>;

    /// Whether any break-glass record is active (`false`: none covers any request, so a
    /// block or approval decision need not look for one): cached, or `read` from the store.
    /// A cache may say `true` a moment after the last one expired (the store is then
    /// asked), and `false` only until it hears of a new one.
    fn break_glass_active(
        &self,
        read: &mut dyn FnMut() -> Result<bool, crate::RuntimeError>,
    ) -> Result<bool, crate::RuntimeError> {
        read()
    }
}

/// Where decisions and state changes are recorded: one log per CAVRA directory.
pub trait EvidenceSink {
    /// Appends a record of `kind` to the log of `cavra_dir`; returns its record id.
    fn append(&mut self, cavra_dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError>;

    /// Appends a decision record (kind `decision`). By default its JSON tree is built and
    /// appended; the log sinks write it straight to its canonical bytes instead
    /// ([`DecisionRecord::prepared`]), the same bytes.
    fn append_decision(
        &mut self,
        cavra_dir: &Path,
        record: &DecisionRecord<'_>,
    ) -> Result<String, SinkError> {
        self.append(cavra_dir, "decision", &record.to_value())
    }
}

/// One sink shared by several runtimes (a server's pool): appends take turns, so each log
/// keeps one writer and one order.
impl<S: EvidenceSink + ?Sized> EvidenceSink for std::sync::Arc<std::sync::Mutex<S>> {
    fn append(&mut self, cavra_dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError> {
        // a panic in another append leaves the sink usable (each append is whole or fails)
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .append(cavra_dir, kind, body)
    }

    fn append_decision(
        &mut self,
        cavra_dir: &Path,
        record: &DecisionRecord<'_>,
    ) -> Result<String, SinkError> {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .append_decision(cavra_dir, record)
    }
}

/// The hash-chained, signed evidence log ([`EvidenceLog`]) of each CAVRA directory, each
/// opened on its first record and kept open: one writer per log per process (the log
/// locks and catches up on every append, so other processes may write between two).
pub struct LogSink {
    config: Box<dyn Fn(&Path) -> LogConfig + Send>,
    logs: HashMap<PathBuf, EvidenceLog>,
}

impl LogSink {
    /// A sink whose log for a CAVRA directory is configured by `config` (the CLI passes
    /// [`LogConfig::for_cavra_dir`], which applies its environment overrides).
    pub fn new(config: impl Fn(&Path) -> LogConfig + Send + 'static) -> LogSink {
        LogSink {
            config: Box::new(config),
            logs: HashMap::new(),
        }
    }
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("open", &self.logs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LogSink {
    /// The log of `cavra_dir`, opened on its first record.
    fn log(&mut self, cavra_dir: &Path) -> Result<&mut EvidenceLog, SinkError> {
        Ok(match self.logs.entry(cavra_dir.to_path_buf()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let cfg = (self.config)(cavra_dir);
                v.insert(EvidenceLog::open(cfg).map_err(SinkError::new)?)
            }
        })
    }

    /// [`EvidenceSink::append`] of a body made ready beforehand.
    pub fn append_prepared(
        &mut self,
        cavra_dir: &Path,
        kind: &str,
        body: &PreparedBody,
    ) -> Result<String, SinkError> {
        let appended = self
            .log(cavra_dir)?
            .append_prepared(kind, body)
            .map_err(SinkError::new)?;
        Ok(appended.record_id)
    }
}

impl EvidenceSink for LogSink {
    fn append(&mut self, cavra_dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError> {
        let appended = self
            .log(cavra_dir)?
            .append(kind, body)
            .map_err(SinkError::new)?;
        Ok(appended.record_id)
    }

    fn append_decision(
        &mut self,
        cavra_dir: &Path,
        record: &DecisionRecord<'_>,
    ) -> Result<String, SinkError> {
        self.append_prepared(cavra_dir, "decision", record.prepared())
    }
}

/// One [`LogSink`] shared by several runtimes (a server's pool), each log with one writer
/// and one order: a record's body is redacted and made canonical before the sink is
/// locked ([`PreparedBody`]), so that only the chaining, the signature and the write
/// take turns.
#[derive(Clone)]
pub struct SharedLogSink(std::sync::Arc<std::sync::Mutex<LogSink>>);

impl SharedLogSink {
    pub fn new(sink: LogSink) -> SharedLogSink {
        SharedLogSink(std::sync::Arc::new(std::sync::Mutex::new(sink)))
    }
}

impl std::fmt::Debug for SharedLogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLogSink").finish_non_exhaustive()
    }
}

impl EvidenceSink for SharedLogSink {
    fn append(&mut self, cavra_dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError> {
        let body = PreparedBody::new(body).map_err(SinkError::new)?;
        // a panic in another append leaves the sink usable (each append is whole or fails)
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .append_prepared(cavra_dir, kind, &body)
    }

    fn append_decision(
        &mut self,
        cavra_dir: &Path,
        record: &DecisionRecord<'_>,
    ) -> Result<String, SinkError> {
        let body = record.prepared();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .append_prepared(cavra_dir, "decision", body)
    }
}

/// Reads script files for the engine, bounded in size.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsScriptReader;

/// Largest script CAVRA reads to inspect.
pub const MAX_SCRIPT_BYTES: u64 = 256 * 1024;

impl ScriptReader for FsScriptReader {
    fn read_script(&self, path: &str) -> Result<String, String> {
        use std::io::Read;
        let f = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => format!("cannot open: {e}"),
        })?;
        let meta = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        if meta.len() > MAX_SCRIPT_BYTES {
            return Err(format!("larger than {} KiB", MAX_SCRIPT_BYTES / 1024));
        }
        let mut buf = Vec::new();
        f.take(MAX_SCRIPT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read: {e}"))?;
        if buf.len() as u64 > MAX_SCRIPT_BYTES {
            return Err(format!("larger than {} KiB", MAX_SCRIPT_BYTES / 1024));
        }
        String::from_utf8(buf).map_err(|_| "not UTF-8 text".to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_per_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = LogSink::new(LogConfig::for_cavra_dir);
        let a = sink
            .append(dir.path(), "test", &serde_json::json!({"n": 1}))
            .unwrap();
        let b = sink
            .append(dir.path(), "test", &serde_json::json!({"n": 2}))
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(sink.logs.len(), 1);
        assert_eq!(
            cavra_evidence::read_records(&dir.path().join("evidence"))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn scripts_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.sh");
        std::fs::write(&p, vec![b'a'; (MAX_SCRIPT_BYTES + 1) as usize]).unwrap();
        let e = FsScriptReader
            .read_script(&p.display().to_string())
            .unwrap_err();
        assert!(e.starts_with("larger than"), "{e}");
        assert_eq!(
            FsScriptReader.read_script("/nonexistent/x.sh").unwrap_err(),
            "not found"
        );
    }
}
