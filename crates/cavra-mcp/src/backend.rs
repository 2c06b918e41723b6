//! The seam between the MCP server and whatever makes decisions.
//!
//! The server validates tool arguments and turns them into a request in the reference JSON
//! shape (`action_type`, `target`, `operation`, `server`, `tool`, `arguments`,
//! `session_id`, `agent_id`, `cwd`; defaults for the session and the agent already filled
//! in). A [`Backend`] resolves where the action happens, loads the policy pack, decides and
//! records. The `cavra` binary implements it over its decision pipeline; the server never
//! sees a store, a key or an evidence log.
//!
//! The methods are synchronous: a backend does file and database I/O and must not need an
//! async runtime (the hook, which shares the pipeline, never starts one).

use cavra_core::policy::CompiledPack;
use cavra_core::Decision;
use serde_json::Value;

/// Makes and records decisions for the MCP tools.
pub trait Backend: Send + Sync + 'static {
    /// Decides one request and records it in the evidence log (`cavra_evaluate`,
    /// `cavra_check_command`).
    fn decide(&self, request: &Value) -> Result<Decided, BackendError>;

    /// [`Backend::decide`] for the authenticated `requested_by` (who asks: recorded with
    /// the decision and on an approval request it opens, as `POST /v1/decisions` does).
    /// A backend that knows no requesters decides as [`Backend::decide`].
    fn decide_as(
        &self,
        request: &Value,
        requested_by: Option<&str>,
    ) -> Result<Decided, BackendError> {
        let _ = requested_by;
        self.decide(request)
    }

    /// Evaluates one request without recording anything (`cavra_explain`).
    fn explain(&self, request: &Value) -> Result<Explained, BackendError>;

    /// The active policy pack (`policy_list`, `cavra_policy_summary`).
    fn policy(&self) -> Result<ActivePolicy, BackendError>;

    /// Every pack available (`policy_list`): the bundled ones, then those of the policy
    /// directories, as `cavra policy list --json` rows.
    fn packs(&self) -> Result<Vec<Value>, BackendError> {
        Err(BackendError::Failed("this server lists no packs".into()))
    }

    /// Validates a pack source named `name` (`policy_validate`): `cavra policy validate
    /// --json`'s document plus `rules`. Installs nothing.
    fn validate(&self, name: &str, source: &str) -> Result<Value, BackendError> {
        let _ = (name, source);
        Err(BackendError::Failed(
            "this server validates no packs".into(),
        ))
    }

    /// The newest `limit` evidence records of `session` (from `since` on) in `format`,
    /// and how many there are in all (`export_evidence`). Reads only.
    fn export(
        &self,
        session: &str,
        format: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Value>, usize), BackendError> {
        let _ = (session, format, since, limit);
        Err(BackendError::Failed(
            "this server exports no evidence".into(),
        ))
    }
}

/// A recorded decision.
#[derive(Debug, Clone)]
pub struct Decided {
    pub decision: Decision,
    /// This decision's id (unique per decision).
    pub decision_id: String,
    /// The evidence record id, when recorded.
    pub record_id: Option<String>,
    /// A pending approval request opened for this action.
    pub approval_id: Option<String>,
    /// What a person must do to approve it (one sentence, no final period), when
    /// `approval_id` is set.
    pub approval_note: Option<String>,
}

/// An evaluation that was not recorded.
#[derive(Debug, Clone)]
pub struct Explained {
    pub decision: Decision,
    /// Where the pack came from (`bundled`, a file path, ...).
    pub pack_source: String,
}

/// The pack decisions are made under.
#[derive(Debug, Clone)]
pub struct ActivePolicy {
    pub pack: CompiledPack,
    /// Where the pack came from (`bundled`, a file path, ...).
    pub source: String,
}

/// Why a backend could not answer. The message is shown to the model as a tool error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The request itself is not valid (unknown action type, unusable target, ...).
    #[error("{0}")]
    Request(String),
    /// The policy pack (or the registry it needs) does not load.
    #[error("the policy pack does not load: {0}")]
    Policy(String),
    /// Deciding or recording failed.
    #[error("{0}")]
    Failed(String),
}
