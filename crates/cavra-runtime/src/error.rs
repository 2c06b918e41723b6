//! Typed errors of the runtime. Messages are lowercase, user input in backticks; the causes
//! are chained through `source()`, so a front end printing the chain (`anyhow`'s `{:#}`,
//! [`chain`]) shows `what: why`.

use std::path::PathBuf;

/// Everything that can stop the runtime from reaching or recording a decision.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A pack does not parse, validate or compile.
    #[error(transparent)]
    Policy(#[from] cavra_core::policy::PolicyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] cavra_store::StoreError),
    /// The request is not one CAVRA can decide.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A pack id that is neither bundled nor in a policy directory.
    #[error("unknown pack `{id}`; bundled packs: {known}{hint}")]
    UnknownPack {
        id: String,
        known: String,
        hint: &'static str,
    },
    /// A pack or registry file could not be read.
    #[error("cannot read {what} `{path}`")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A registry file that is not in the reference shape.
    #[error("registry `{path}` is not a valid MCP registry (expected {{\"mcp_servers\": [...]}})")]
    Registry {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the approvals database `{store}`")]
    StoreOpen {
        store: String,
        #[source]
        source: cavra_store::StoreError,
    },
    /// The approval routing / RBAC files are not valid.
    #[error("the approval routing/RBAC configuration is not valid")]
    ApprovalConfig(#[source] cavra_store::StoreError),
    /// The organisation pack could not be loaded (every decision fails closed).
    #[error("the organisation pack `{}` could not be loaded", .0.display())]
    OrgPack(PathBuf, #[source] Box<RuntimeError>),
    /// The policy of a tool call could not be loaded.
    #[error("the policy could not be loaded")]
    PolicyNotLoaded(#[source] Box<RuntimeError>),
    /// A decision could not be appended to the evidence log.
    #[error("cannot append to the evidence log under `{cavra_dir}`")]
    Evidence {
        cavra_dir: PathBuf,
        #[source]
        source: SinkError,
    },
    /// A state change was made but its evidence record could not be written.
    #[error("the change was saved but its `{kind}` evidence record could not be written")]
    TransitionEvidence {
        kind: String,
        #[source]
        source: SinkError,
    },
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A document could not be encoded as JSON.
    #[error("cannot encode JSON")]
    Encode(#[source] serde_json::Error),
    /// A pack signing key could not be read or written.
    #[error(transparent)]
    PackKey(#[from] cavra_evidence::pack_keys::PackKeyError),
    /// A pack file has no signature file beside it.
    #[error("no signature: cannot read `{path}`")]
    NoSignature {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A signature file that is not a pack signature.
    #[error("`{path}` is not a CAVRA pack signature")]
    NotASignature {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// `policy test` of a pack without tests and without test files.
    #[error("pack `{0}` has no tests; pass --tests FILE")]
    NoTests(String),
    /// A replay pack (`--pack`, `--against`) that does not load.
    #[error("cannot load {flag} `{spec}`")]
    ReplayPack {
        flag: &'static str,
        spec: String,
        #[source]
        source: Box<RuntimeError>,
    },
    /// A `--since` that is not a time.
    #[error("--since: {0}")]
    Since(cavra_evidence::EvidenceError),
    /// No evidence log to replay.
    #[error("no evidence log at `{0}` (decisions are recorded by `cavra evaluate` and `cavra hook`; pass --cavra-dir DIR to point at another project)")]
    NoEvidenceLog(PathBuf),
    /// The segments of the evidence log could not be listed.
    #[error("cannot list the evidence log `{path}`")]
    ListLog {
        path: PathBuf,
        #[source]
        source: cavra_evidence::EvidenceError,
    },
    /// A segment of the evidence log could not be read.
    #[error("cannot read `{path}`")]
    ReadSegment {
        path: PathBuf,
        #[source]
        source: cavra_evidence::EvidenceError,
    },
    /// The key directory of the evidence log failed.
    #[error(transparent)]
    Keys(#[from] cavra_evidence::EvidenceError),
    /// A new evidence signing key could not be made.
    #[error("{doing}")]
    Key {
        doing: &'static str,
        #[source]
        source: cavra_evidence::EvidenceError,
    },
    /// An approver key exists already where one would be created.
    #[error("an approver key already exists in `{0}`; it is never replaced")]
    ApproverKeyExists(PathBuf),
    /// No approver key to issue a token with.
    #[error("no approver key in `{0}`: run `cavra keys approver init` first")]
    NoApproverKey(PathBuf),
    /// A replay worker thread ended without a result.
    #[error("a replay worker stopped unexpectedly while reading `{0}`")]
    ReplayWorker(String),
    /// A tool call the agent adapters could not map to action requests.
    #[error("{0}")]
    ToolCall(String),
    /// A control action the person was not authenticated for (no terminal, not confirmed,
    /// a credential not accepted for it); nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// A control action's input that cannot be acted on (an empty reason, …).
    #[error("{0}")]
    Invalid(String),
    /// Records must be signed by the approving identity, and its key is missing.
    #[error("no approver signing key in `{}`: records must be signed by the approving identity; run the command where `cavra keys approver init` was run", .0.display())]
    NoSigningKey(PathBuf),
}

/// A request that cannot be built from its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A reference-shape request without `action_type`.
    #[error("request has no `action_type`")]
    NoActionType,
    /// A reference-shape request with an unknown `action_type`.
    #[error("unknown action_type `{0}`")]
    UnknownActionType(String),
    /// A structured action that is not one of the action types.
    #[error("unknown action `{0}`; use one of: read_file, write_file, delete_file, execute_command, git_operation, mcp_tool_call, network_request, pull_request")]
    UnknownAction(String),
    /// A reference-shape request that is not JSON.
    #[error("the request is not valid JSON: {0}")]
    NotJson(String),
    /// A mode other than enforce / shadow.
    #[error("unknown mode `{0}` (enforce, shadow)")]
    UnknownMode(String),
}

/// Why an evidence sink could not append: its own error, kept as the source.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SinkError(Box<dyn std::error::Error + Send + Sync>);

impl SinkError {
    /// Wraps a sink's own error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> SinkError {
        SinkError(Box::new(e))
    }
}

/// An error and its causes, joined with `: ` (as `anyhow` prints `{:#}`).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_joins_causes() {
        let e = RuntimeError::PolicyNotLoaded(Box::new(RuntimeError::UnknownPack {
            id: "x".into(),
            known: "a, b".into(),
            hint: "",
        }));
        assert_eq!(
            chain(&e),
            "the policy could not be loaded: unknown pack `x`; bundled packs: a, b"
        );
    }
}
