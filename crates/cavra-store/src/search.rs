//! What a search of the decision log asks and answers, for both places a log is searched:
//! the SQLite index of a file log (`crate::index`) and the replicas' log in PostgreSQL
//! (`crate::pg::evidence`).

use serde::Serialize;
use serde_json::Value;

/// Search filters; all optional, combined with AND. The newest matches come first.
/// Deserializable by these names (front ends' query parameters and flags).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchQuery {
    pub session: Option<String>,
    pub agent: Option<String>,
    pub action_type: Option<String>,
    /// Matches `cavra_decision` or `decision`.
    pub decision: Option<String>,
    /// Matches `rule_id` or any of `rule_ids`.
    pub rule: Option<String>,
    pub kind: Option<String>,
    /// Time bounds (inclusive since, exclusive until): an RFC 3339 time, a date
    /// (`YYYY-MM-DD`) or a duration ago (`24h`).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Substring of the record body.
    pub text: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One search hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub seq: u64,
    pub record_id: String,
    pub kind: String,
    pub timestamp: String,
    pub session_id: Option<String>,
    pub agent_id: Option<String>,
    pub action_type: Option<String>,
    pub decision: Option<String>,
    pub rule_id: Option<String>,
    pub target: Option<String>,
    pub body: Value,
}

/// Search results with the total count (for paging).
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub total: u64,
    pub offset: u32,
    pub limit: u32,
    pub hits: Vec<Hit>,
}

impl Hit {
    /// The hit of a record: its columns read from the body.
    pub fn of_record(r: cavra_evidence::Record) -> Hit {
        let st = |k: &str| r.body.get(k).and_then(Value::as_str).map(str::to_string);
        let (session_id, agent_id, action_type) =
            (st("session_id"), st("agent_id"), st("action_type"));
        let decision = st("cavra_decision").or_else(|| st("decision"));
        let (rule_id, target) = (st("rule_id"), st("target"));
        Hit {
            seq: r.seq,
            record_id: r.record_id,
            kind: r.kind,
            timestamp: r.timestamp,
            session_id,
            agent_id,
            action_type,
            decision,
            rule_id,
            target,
            body: r.body,
        }
    }
}
