//! Errors: [`ServerError`] for starting the server, [`ApiError`] for answering a request
//! (always a JSON document `{"error": {"code", "message", "hint"}}`, the shape the CLI
//! prints under `--json`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("this cavra is built without PostgreSQL (the `postgres` feature of cavra-cli): pass a file path or `sqlite://PATH` to --database, or build with the feature")]
    PostgresNotBuilt,
    #[error(
        "unsupported database URL `{0}`: expected a file path, `sqlite://PATH` or `postgres://…`"
    )]
    UnsupportedDatabase(String),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid listen address `{0}`: expected HOST:PORT, e.g. 127.0.0.1:8700")]
    ListenAddress(String),
    #[error("invalid config file `{path}`: {detail}")]
    Config { path: String, detail: String },
    #[error("invalid --public-url: {0}")]
    PublicUrl(String),
    #[error("invalid log format `{0}`: expected text or json")]
    LogFormat(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] cavra_store::StoreError),
    #[error("{0}")]
    Auth(#[from] cavra_auth::AuthError),
    #[error("evidence: {0}")]
    Evidence(#[from] cavra_evidence::EvidenceError),
    #[cfg(feature = "postgres")]
    #[error("the decision log in PostgreSQL: {0}")]
    PgEvidence(#[from] cavra_store::pg::evidence::PgEvidenceError),
    #[error("the decision log is in a database only with PostgreSQL (`postgres://…`); with SQLite it is the CAVRA directory's evidence log, verified in place")]
    NoDatabaseLog,
    #[error("`--format log` exports the whole log in the database: give `--database postgres://…` and `--output DIR` (no --session, --since)")]
    ExportLogArgs,
}

/// The error part of an error document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `timeout`, `error`.
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Every error the server answers with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDocument {
    pub error: ErrorBody,
}

/// An error answer: a status and the document.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.into(),
                hint: None,
            },
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.body.hint = Some(hint.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "error", message)
    }

    /// The default document for a bare status (answers that carry no document of their
    /// own: a body over the limit, a timeout, a wrong method).
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "the request body is larger than the server's limit",
            ),
            StatusCode::REQUEST_TIMEOUT => (
                "timeout",
                "the request was not received and answered in time",
            ),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "this route does not take that method")
            }
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ),
            s if s.is_client_error() => ("bad_request", "the request was refused"),
            _ => ("error", "the server failed to answer the request"),
        };
        ApiError::new(status, code, message)
    }

    pub fn document(&self) -> ErrorDocument {
        ErrorDocument {
            error: self.body.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.document())).into_response()
    }
}

impl From<cavra_store::StoreError> for ApiError {
    fn from(e: cavra_store::StoreError) -> ApiError {
        use cavra_store::StoreError as E;
        let msg = e.to_string();
        match e {
            E::UnknownApproval(_)
            | E::UnknownAgent(_)
            | E::UnknownMcpServer(_)
            | E::UnknownSession(_)
            | E::UnknownPolicyVersion(_) => ApiError::not_found(msg),
            E::SelfApproval { .. } | E::SelfRelease { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "self_approval", msg)
            }
            E::NotAuthorized { .. } => ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg),
            E::InvalidTransition { .. }
            | E::InvalidVersionTransition { .. }
            | E::Expired(_)
            | E::AlreadyExists { .. }
            | E::NotHeld(_) => ApiError::new(StatusCode::CONFLICT, "conflict", msg),
            E::Token(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg),
            E::InvalidInput { .. } => ApiError::bad_request(msg),
            E::Locked { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", msg)
                .hint("the database is busy; retry"),
            _ => ApiError::internal(msg),
        }
    }
}

impl From<cavra_runtime::RuntimeError> for ApiError {
    fn from(e: cavra_runtime::RuntimeError) -> ApiError {
        use cavra_runtime::RuntimeError as R;
        let msg = cavra_runtime::chain(&e);
        match e {
            R::Store(se) => se.into(),
            R::Invalid(_) | R::Request(_) | R::Policy(_) | R::Since(_) => {
                ApiError::bad_request(msg)
            }
            R::UnknownPack { .. } => ApiError::not_found(msg),
            R::ReplayPack { source, .. } if matches!(*source, R::UnknownPack { .. }) => {
                ApiError::not_found(msg)
            }
            R::ReplayPack { .. } => ApiError::bad_request(msg),
            R::NoEvidenceLog(_) => ApiError::not_found(msg).hint(
                "no decision has been recorded yet: the log is written by the first decision",
            ),
            R::Refused(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg),
            _ => ApiError::internal(msg),
        }
    }
}

impl From<cavra_evidence::EvidenceError> for ApiError {
    fn from(e: cavra_evidence::EvidenceError) -> ApiError {
        use cavra_evidence::EvidenceError as E;
        let msg = cavra_runtime::chain(&e);
        match e {
            E::Invalid(_) | E::NoSelection => ApiError::bad_request(msg),
            E::RecordNotFound(_) | E::NotFound(_) => ApiError::not_found(msg),
            _ => ApiError::internal(msg),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_have_the_cli_shape() {
        let e = ApiError::bad_request("no `action_type`").hint("send one");
        let v = serde_json::to_value(e.document()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "bad_request", "message": "no `action_type`", "hint": "send one"}})
        );
        assert_eq!(
            ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE)
                .body
                .code,
            "payload_too_large"
        );
        let self_approval: ApiError = cavra_store::StoreError::SelfApproval {
            id: "a".into(),
            identity: "b".into(),
        }
        .into();
        assert_eq!(self_approval.status, StatusCode::FORBIDDEN);
        let unknown: ApiError = cavra_store::StoreError::UnknownApproval("x".into()).into();
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        // a policy version that does not exist, or is not in the state a change needs
        let unknown: ApiError = cavra_store::StoreError::UnknownPolicyVersion("0".into()).into();
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let late: ApiError = cavra_store::StoreError::InvalidVersionTransition {
            id: "pv-x-1".into(),
            state: "active".into(),
            to: "rejected",
        }
        .into();
        assert_eq!(late.status, StatusCode::CONFLICT);
    }
}
