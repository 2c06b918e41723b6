//! Typed errors of the evidence hub.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the evidence hub.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file-system operation failed.
    #[error("i/o error on `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stored file is not what it should be.
    #[error("corrupt `{path}`: {msg}")]
    Corrupt { path: PathBuf, msg: String },
    /// A key file or key material is unusable.
    #[error("key error: {0}")]
    Key(String),
    /// A key id was not found.
    #[error("no key `{0}` in the key directory or trust root")]
    KeyNotFound(String),
    /// The caller passed something invalid.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A record id or sequence number that is not in the log.
    #[error("record `{0}` not found in the log")]
    RecordNotFound(String),
    /// A path to verify that is not there.
    #[error("`{0}` does not exist")]
    NotFound(PathBuf),
    /// A file given to verify could not be read.
    #[error("reading `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file given to verify that is neither a bundle nor an inclusion proof.
    #[error("`{path}` is neither a bundle nor an inclusion proof")]
    NotAProof {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A bundle of no selection: neither a session, a time nor the whole log.
    #[error("give `--session S`, `--since T` or `--all` (the whole log)")]
    NoSelection,
    /// The log and its head state disagree in a way append must not paper over.
    #[error("log inconsistent: {0}")]
    Inconsistent(String),
}

impl EvidenceError {
    /// Wrap an `io::Error` with the path it happened on.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        EvidenceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn corrupt(path: &Path, msg: impl Into<String>) -> Self {
        EvidenceError::Corrupt {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

/// Shorthand result type.
pub type Result<T, E = EvidenceError> = std::result::Result<T, E>;
