//! Why a release could not be assembled or does not verify.

use std::path::PathBuf;

/// A release error. A verification failure names the release file it is about.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// A file of the release directory fails a check.
    #[error("release refused: `{file}`: {why}")]
    Refused { file: String, why: String },
    /// A file could not be read or written.
    #[error("cannot {op} `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A signing or trusted key could not be read.
    #[error(transparent)]
    Key(#[from] cavra_evidence::pack_keys::PackKeyError),
    /// An input of the assembly is not what it must be.
    #[error("{what}: {why}")]
    Input { what: String, why: String },
}

impl ReleaseError {
    pub(crate) fn refused(file: impl Into<String>, why: impl Into<String>) -> Self {
        ReleaseError::Refused {
            file: file.into(),
            why: why.into(),
        }
    }

    pub(crate) fn input(what: impl Into<String>, why: impl std::fmt::Display) -> Self {
        ReleaseError::Input {
            what: what.into(),
            why: why.to_string(),
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| ReleaseError::Io { op, path, source }
    }
}

pub(crate) type Result<T> = std::result::Result<T, ReleaseError>;
