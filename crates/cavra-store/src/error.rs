//! Typed errors of the store. Messages are lowercase, user input in backticks.
//! Backend-neutral: no database driver type appears here; a driver failure is carried as
//! a [`BackendKind`] and its message, so a second backend reports through the same enum.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened (permissions, not a database, ...).
    #[error("cannot open database `{path}`: {detail}")]
    Open { path: PathBuf, detail: String },
    /// The file exists but is not a SQLite database (or is damaged). It is left untouched.
    #[error(
        "database `{path}` is corrupt or not a cavra database (file left untouched): {detail}"
    )]
    Corrupt { path: PathBuf, detail: String },
    /// Another process held the database longer than the busy timeout.
    #[error("database `{path}` is locked by another process (waited {waited_ms} ms); retry later")]
    Locked { path: PathBuf, waited_ms: u64 },
    /// The database was written by a newer cavra.
    #[error("database `{path}` has schema version {found}, newer than this cavra supports ({supported})")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// Any other failure of the database backend.
    #[error("database error ({kind}): {detail}")]
    Backend { kind: BackendKind, detail: String },
    /// A stored value could not be decoded.
    #[error("stored value for `{field}` is invalid: {detail}")]
    Decode { field: String, detail: String },
    /// No approval with that id.
    #[error("unknown approval `{0}`")]
    UnknownApproval(String),
    /// No agent with that id.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// No MCP server with that id.
    #[error("unknown mcp server `{0}`")]
    UnknownMcpServer(String),
    /// No session with that id.
    #[error("unknown session `{0}`")]
    UnknownSession(String),
    /// No pack version with that id (`cavra rollout`).
    #[error("unknown policy version `{0}`")]
    UnknownPolicyVersion(String),
    /// The pack version is not in a state that allows the change.
    #[error("policy version `{id}` is {state}: it cannot become {to}")]
    InvalidVersionTransition {
        id: String,
        state: String,
        to: &'static str,
    },
    /// The record already exists.
    #[error("{kind} `{id}` already exists")]
    AlreadyExists { kind: &'static str, id: String },
    /// The approval is not in a state that allows the transition.
    #[error("approval `{id}` is {state}, cannot {action} it")]
    InvalidTransition {
        id: String,
        state: String,
        action: &'static str,
    },
    /// The approval's time ran out before it was decided.
    #[error("approval `{0}` has expired")]
    Expired(String),
    /// An agent tried to approve its own request.
    #[error("`{identity}` requested approval `{id}` (or is its agent) and cannot decide it: self-approval is refused")]
    SelfApproval { id: String, identity: String },
    /// The session is not on hold.
    #[error("session `{0}` is not on hold")]
    NotHeld(String),
    /// An agent tried to release its own session.
    #[error("`{identity}` is the agent of session `{session}` and cannot release it")]
    SelfRelease { session: String, identity: String },
    /// RBAC refuses the identity.
    #[error("`{identity}` is not allowed to {action} for approver group `{group}` (rbac)")]
    NotAuthorized {
        identity: String,
        action: &'static str,
        group: String,
    },
    /// A required argument was empty or malformed.
    #[error("invalid {field}: {detail}")]
    InvalidInput { field: &'static str, detail: String },
    /// The approver key files could not be read, written or parsed.
    #[error("approver key `{path}`: {detail}")]
    Approver { path: PathBuf, detail: String },
    /// An approver token was refused.
    #[error(transparent)]
    Token(#[from] crate::approver::TokenError),
    /// A change that must be signed by the approving identity was attempted without a
    /// signing key.
    #[error("this change must be signed by the approving identity, but no approver key is loaded")]
    NoSigner,
    /// The evidence log could not be read (search index).
    #[error(transparent)]
    Evidence(#[from] cavra_evidence::EvidenceError),
    /// A routing, RBAC or registry file could not be read or parsed.
    #[error("invalid config file `{path}`: {detail}")]
    Config { path: PathBuf, detail: String },
}

impl StoreError {
    pub(crate) fn input(field: &'static str, detail: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            field,
            detail: detail.into(),
        }
    }
}

/// What kind of backend failure a [`StoreError::Backend`] is, independent of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// A constraint (unique key, not null, check) refused the write.
    Constraint,
    /// The disk is full, read-only or failed.
    Io,
    /// A stored value had an unexpected type or shape.
    Schema,
    /// Anything else.
    Other,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Constraint => "constraint",
            BackendKind::Io => "io",
            BackendKind::Schema => "schema",
            BackendKind::Other => "other",
        })
    }
}

impl StoreError {
    pub(crate) fn backend(kind: BackendKind, detail: impl Into<String>) -> Self {
        StoreError::Backend {
            kind,
            detail: detail.into(),
        }
    }
}

/// SQLite failures become backend-neutral errors (lock and corruption are recognised by
/// [`crate::db::classify`], which knows the path).
#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let kind = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                ErrorCode::ConstraintViolation => BackendKind::Constraint,
                ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied => BackendKind::Io,
                _ => BackendKind::Other,
            },
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnIndex(_)
            | rusqlite::Error::InvalidColumnName(_)
            | rusqlite::Error::IntegralValueOutOfRange(..) => BackendKind::Schema,
            _ => BackendKind::Other,
        };
        StoreError::backend(kind, e.to_string())
    }
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_become_backend_neutral_kinds() {
        let e = StoreError::from(rusqlite::Error::InvalidColumnIndex(3));
        assert!(
            matches!(
                e,
                StoreError::Backend {
                    kind: BackendKind::Schema,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some("UNIQUE constraint failed".into()),
        ));
        assert!(
            matches!(
                e,
                StoreError::Backend {
                    kind: BackendKind::Constraint,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("UNIQUE constraint failed"), "{e}");
        // no driver error is chained as a source
        assert!(std::error::Error::source(&e).is_none());
    }
}
