//! The four tools: their definitions (input schemas), argument checks, the requests they
//! build and the results they give. Pure: no I/O, no async; decisions come from a
//! [`Backend`].
//!
//! A tool's answer is a `CallToolResult`: one line of text for the model and, on success,
//! `structuredContent` for programs (`cavra_evaluate` gives the same keys as `cavra
//! evaluate --json`, plus `evidence_record`). Bad arguments, an unknown tool and a pack that
//! does not load are tool errors (`isError: true`) the model can read.

use crate::backend::{Backend, BackendError, Decided};
use cavra_core::policy::compile::SeverityRule;
use cavra_core::{ActionType, Decision, Effect, Outcome};
use serde_json::{json, Map, Value};

/// The tools, in the order `tools/list` gives them.
pub const TOOL_NAMES: [&str; 4] = [
    "cavra_evaluate",
    "cavra_explain",
    "cavra_check_command",
    "cavra_policy_summary",
];

/// The arguments `cavra_evaluate` and `cavra_explain` take.
pub const EVALUATE_FIELDS: &[&str] = &[
    "action_type",
    "target",
    "operation",
    "server",
    "tool",
    "arguments",
    "session_id",
    "agent_id",
    "cwd",
];
/// The arguments `cavra_check_command` takes.
pub const CHECK_FIELDS: &[&str] = &["command", "cwd", "session_id", "agent_id"];

/// Defaults a session gives the requests its tools build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id for calls that name none.
    pub session_id: String,
    /// The agent id for calls that name none (the MCP client's name).
    pub agent_id: String,
}

/// A tool's answer, before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub text: String,
    pub structured: Option<Value>,
    pub is_error: bool,
}

impl ToolOutput {
    fn ok(text: String, structured: Value) -> Self {
        ToolOutput {
            text,
            structured: Some(structured),
            is_error: false,
        }
    }

    /// A tool error: text only.
    pub fn error(message: impl Into<String>) -> Self {
        ToolOutput {
            text: message.into(),
            structured: None,
            is_error: true,
        }
    }

    /// The `CallToolResult` JSON (`content`, `isError`, `structuredContent`).
    pub fn to_json(&self) -> Value {
        let mut r = json!({
            "content": [{"type": "text", "text": self.text}],
            "isError": self.is_error,
        });
        if let Some(s) = &self.structured {
            r["structuredContent"] = s.clone();
        }
        r
    }
}

/// Runs tool `name` with `args`.
pub fn call(
    backend: &dyn Backend,
    session: &Session,
    name: &str,
    args: &Map<String, Value>,
) -> ToolOutput {
    let result = match name {
        "cavra_evaluate" => evaluate(backend, session, args),
        "cavra_explain" => explain(backend, session, args),
        "cavra_check_command" => check_command(backend, session, args),
        "cavra_policy_summary" => policy_summary(backend, args),
        other => Err(format!(
            "unknown tool `{other}`; this server has: {}",
            TOOL_NAMES.join(", ")
        )),
    };
    result.unwrap_or_else(ToolOutput::error)
}

fn failed(e: BackendError) -> String {
    e.to_string()
}

fn evaluate(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    let req = action_request(session, args)?;
    decided_output(&backend.decide(&req).map_err(failed)?)
}

fn check_command(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    check_args(args, CHECK_FIELDS)?;
    let command = req_str(args, "command")?;
    let mut v = Map::new();
    v.insert("action_type".into(), json!("execute_command"));
    v.insert("target".into(), json!(command));
    for k in ["cwd", "session_id", "agent_id"] {
        if let Some(s) = opt_str(args, k)? {
            v.insert(k.into(), json!(s));
        }
    }
    let req = with_defaults(session, v);
    decided_output(&backend.decide(&req).map_err(failed)?)
}

fn explain(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    let req = action_request(session, args)?;
    let e = backend.explain(&req).map_err(failed)?;
    let d = &e.decision;
    let rules: Vec<Value> = d
        .matches
        .iter()
        .map(|m| {
            json!({
                "rule_id": m.rule_id,
                "effect": m.effect.as_str(),
                "severity": m.severity.as_str(),
                "reason": m.reason,
                "matched": m.matched,
                "alternative": m.alternative,
            })
        })
        .collect();
    let dv = serde_json::to_value(d).map_err(|e| e.to_string())?;
    Ok(ToolOutput::ok(
        explain_text(d),
        json!({
            "decision": dv,
            "pack_source": e.pack_source,
            "matched_rules": rules,
            "recorded": false,
        }),
    ))
}

fn policy_summary(backend: &dyn Backend, args: &Map<String, Value>) -> Result<ToolOutput, String> {
    check_args(args, &[])?;
    let p = backend.policy().map_err(failed)?;
    let pack = &p.pack;
    let rules: Vec<Value> = pack
        .rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "effect": r.effect.as_str(),
                "severity": severity_name(&r.severity),
                "reason": r.reason,
            })
        })
        .collect();
    let count = |e: Effect| pack.rules.iter().filter(|r| r.effect == e).count();
    let text = format!(
        "policy pack `{}` {} ({}) from {}, mode {}: {} rules ({} block, {} require_approval, {} allow)",
        pack.id,
        pack.version,
        short_digest(&pack.digest),
        p.source,
        pack.mode.as_str(),
        pack.rules.len(),
        count(Effect::Block),
        count(Effect::RequireApproval),
        count(Effect::Allow),
    );
    Ok(ToolOutput::ok(
        text,
        json!({
            "id": pack.id,
            "title": pack.title,
            "version": pack.version,
            "digest": pack.digest,
            "mode": pack.mode.as_str(),
            "lineage": pack.lineage,
            "source": p.source,
            "rules": rules,
        }),
    ))
}

/// The structured answer of a recorded decision: the decision's JSON (as `cavra evaluate
/// --json`) plus `decision_id`, `evidence_record` and `approval_id`.
fn decided_output(d: &Decided) -> Result<ToolOutput, String> {
    let mut v = serde_json::to_value(&d.decision).map_err(|e| e.to_string())?;
    v["decision_id"] = json!(d.decision_id);
    if let Some(id) = &d.record_id {
        v["evidence_record"] = json!(id);
    }
    if let Some(id) = &d.approval_id {
        v["approval_id"] = json!(id);
    }
    Ok(ToolOutput::ok(summary(d), v))
}

/// Builds the request of `cavra_evaluate` / `cavra_explain` from validated arguments.
pub fn action_request(session: &Session, args: &Map<String, Value>) -> Result<Value, String> {
    check_args(args, EVALUATE_FIELDS)?;
    let action = req_str(args, "action_type")?;
    let at = ActionType::parse(action).ok_or_else(|| {
        format!(
            "unknown action_type `{action}`; use one of: {}",
            action_names().join(", ")
        )
    })?;
    // a git operation with no target is on the current branch (`git push`)
    let target = if at == ActionType::GitOperation {
        opt_str(args, "target")?.unwrap_or("")
    } else {
        req_str(args, "target")?
    };
    let mut v = Map::new();
    v.insert("action_type".into(), json!(at.as_str()));
    v.insert("target".into(), json!(target));
    for k in [
        "operation",
        "server",
        "tool",
        "session_id",
        "agent_id",
        "cwd",
    ] {
        if let Some(s) = opt_str(args, k)? {
            v.insert(k.into(), json!(s));
        }
    }
    if let Some(a) = args.get("arguments") {
        v.insert("arguments".into(), a.clone());
    }
    if at == ActionType::McpToolCall && !v.contains_key("server") {
        // `server:tool` as the target names both
        if let Some((s, t)) = target.split_once(':') {
            v.insert("server".into(), json!(s));
            if !v.contains_key("tool") {
                v.insert("tool".into(), json!(t));
            }
        }
    }
    Ok(with_defaults(session, v))
}

/// The session's defaults for a request that names no session or agent.
fn with_defaults(session: &Session, mut v: Map<String, Value>) -> Value {
    if !v.contains_key("session_id") {
        v.insert("session_id".into(), json!(session.session_id));
    }
    if !v.contains_key("agent_id") {
        v.insert("agent_id".into(), json!(session.agent_id));
    }
    Value::Object(v)
}

fn severity_name(s: &SeverityRule) -> &'static str {
    match s {
        SeverityRule::Fixed(s) => s.as_str(),
        SeverityRule::ReferenceCommandBlock => "high_or_critical",
    }
}

/// The first 16 hex digits of a `sha256:` digest.
fn short_digest(h: &str) -> String {
    h.trim_start_matches("sha256:").chars().take(16).collect()
}

/// One line for the model: outcome, action, rule, reason, what to do instead.
pub fn summary(d: &Decided) -> String {
    let dec = &d.decision;
    let mut s = format!(
        "CAVRA {}: {} `{}` — {} [rule {}, severity {}; proceed: {}]",
        dec.decision.as_str().to_uppercase(),
        dec.action_type,
        one_line(&dec.target),
        one_line(&dec.reason),
        dec.rule_id,
        dec.severity.as_str(),
        if dec.proceed { "yes" } else { "no" }
    );
    if let Some(alt) = &dec.alternative {
        s.push_str(&format!(" Instead: {}", one_line(alt)));
    }
    if d.approval_id.is_some() {
        if let Some(note) = &d.approval_note {
            s.push(' ');
            s.push_str(note);
            s.push('.');
        }
    }
    s
}

/// One line for `cavra_explain`: what CAVRA would do and which rules matched.
pub fn explain_text(d: &Decision) -> String {
    let mut s = format!(
        "CAVRA would {} {} `{}`: ",
        match d.enforced_decision {
            Outcome::Allow => "allow",
            Outcome::Block => "block",
            Outcome::RequireApproval => "require approval for",
            Outcome::Shadow => "only record (shadow mode)",
            Outcome::BreakGlass => "let through (break-glass)",
        },
        d.action_type,
        one_line(&d.target)
    );
    if d.matches.is_empty() {
        s.push_str("no rule matched");
    } else {
        let parts: Vec<String> = d
            .matches
            .iter()
            .map(|m| {
                format!(
                    "{} ({}, {}): {}",
                    m.rule_id,
                    m.effect.as_str(),
                    m.severity.as_str(),
                    one_line(&m.reason)
                )
            })
            .collect();
        s.push_str(&format!(
            "{} rule(s) matched: {}",
            parts.len(),
            parts.join("; ")
        ));
    }
    s
}

/// Control characters flattened to spaces, at most 300 characters.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cavra_core::text::truncate_chars(&flat, 300).into_owned()
}

/// Rejects arguments a tool does not take, naming them and the allowed ones.
pub fn check_args(args: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    let unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else if allowed.is_empty() {
        Err(format!(
            "this tool takes no arguments; got: {}",
            unknown.join(", ")
        ))
    } else {
        Err(format!(
            "unknown argument(s): {}; allowed: {}",
            unknown.join(", "),
            allowed.join(", ")
        ))
    }
}

/// A required, non-empty string argument.
pub fn req_str<'a>(args: &'a Map<String, Value>, k: &str) -> Result<&'a str, String> {
    match args.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("`{k}` must not be empty")),
        Some(_) => Err(format!("`{k}` must be a string")),
        None => Err(format!("missing required argument `{k}`")),
    }
}

/// An optional string argument (`null` counts as absent).
pub fn opt_str<'a>(args: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, String> {
    match args.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{k}` must be a string")),
    }
}

fn action_names() -> Vec<&'static str> {
    ActionType::ALL.iter().map(|a| a.as_str()).collect()
}

fn action_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "action_type": {
                "type": "string",
                "enum": action_names(),
                "description": "What the agent is about to do.",
            },
            "target": {
                "type": "string",
                "description": "What it acts on: a file path (read/write/delete_file), a full command line (execute_command), a git ref such as `origin/main` (git_operation, with `operation`: push, ...), `server:tool` (mcp_tool_call), a URL (network_request), a base branch (pull_request).",
            },
            "operation": {"type": "string", "description": "The requested operation (git: `push`, `force_push`, ...; MCP: the capability)."},
            "server": {"type": "string", "description": "mcp_tool_call: the MCP server's name (default: the part of `target` before `:`)."},
            "tool": {"type": "string", "description": "mcp_tool_call: the tool's name (default: the part of `target` after `:`)."},
            "arguments": {"type": "object", "description": "mcp_tool_call: the arguments the tool would be called with."},
            "session_id": {"type": "string", "description": "The agent session (default: one per server process)."},
            "agent_id": {"type": "string", "description": "The acting agent (default: the MCP client's name)."},
            "cwd": {"type": "string", "description": "Working directory of the action (default: the project directory)."},
        },
        "required": ["action_type", "target"],
        "additionalProperties": false,
    })
}

/// The tool definitions of `tools/list` (`name`, `title`, `description`, `inputSchema`).
pub fn definitions() -> Value {
    json!([
        {
            "name": "cavra_evaluate",
            "title": "Ask CAVRA whether an action may proceed",
            "description": "Decides one action under the project's CAVRA policy (allow, block, require_approval) and records the decision in the signed evidence log. Call it before the action; do not proceed when `proceed` is false.",
            "inputSchema": action_schema(),
        },
        {
            "name": "cavra_explain",
            "title": "Explain CAVRA's decision for an action",
            "description": "Which policy rules match an action, with effects and reasons, and the decision they lead to. Nothing is recorded.",
            "inputSchema": action_schema(),
        },
        {
            "name": "cavra_check_command",
            "title": "Ask CAVRA whether a shell command may run",
            "description": "Shorthand for cavra_evaluate with action_type execute_command: decides the command line (every simple command in it is inspected) and records the decision.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The full command line, as it would be run."},
                    "cwd": {"type": "string", "description": "Working directory (default: the project directory)."},
                    "session_id": {"type": "string", "description": "The agent session (default: one per server process)."},
                    "agent_id": {"type": "string", "description": "The acting agent (default: the MCP client's name)."},
                },
                "required": ["command"],
                "additionalProperties": false,
            },
        },
        {
            "name": "cavra_policy_summary",
            "title": "Summarise the active CAVRA policy",
            "description": "The active policy pack: id, version, digest, mode, and each rule's id, effect, severity and reason.",
            "inputSchema": {"type": "object", "properties": {}, "required": [], "additionalProperties": false},
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn session() -> Session {
        Session {
            session_id: "mcp-1".into(),
            agent_id: "client".into(),
        }
    }

    #[test]
    fn tools_have_object_schemas() {
        let t = definitions();
        let list = t.as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = list.iter().filter_map(|x| x["name"].as_str()).collect();
        assert_eq!(names, TOOL_NAMES);
        for x in &list {
            assert_eq!(x["inputSchema"]["type"], "object", "{x}");
        }
        assert_eq!(
            t[0]["inputSchema"]["properties"]["action_type"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(8)
        );
    }

    #[test]
    fn argument_checks_name_the_problem() {
        assert!(check_args(&m(json!({"x": 1})), EVALUATE_FIELDS)
            .unwrap_err()
            .contains("unknown argument(s): x"));
        assert_eq!(
            req_str(&m(json!({"target": 3})), "target").unwrap_err(),
            "`target` must be a string"
        );
        assert_eq!(
            req_str(&m(json!({})), "target").unwrap_err(),
            "missing required argument `target`"
        );
        assert_eq!(
            check_args(&m(json!({"a": 1})), &[]).unwrap_err(),
            "this tool takes no arguments; got: a"
        );
    }

    #[test]
    fn requests_carry_the_session_defaults_and_split_server_tool() {
        let r = action_request(
            &session(),
            &m(json!({"action_type": "mcp_tool_call", "target": "gh:delete_repo", "arguments": {"repo": "x"}})),
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"action_type": "mcp_tool_call", "target": "gh:delete_repo", "server": "gh",
                   "tool": "delete_repo", "arguments": {"repo": "x"},
                   "session_id": "mcp-1", "agent_id": "client"})
        );
        // named session and agent win
        let r = action_request(
            &session(),
            &m(json!({"action_type": "read_file", "target": ".env", "session_id": "s", "agent_id": "a"})),
        )
        .unwrap();
        assert_eq!(r["session_id"], "s");
        assert_eq!(r["agent_id"], "a");
        // a git operation may omit the target; other actions may not
        let r = action_request(
            &session(),
            &m(json!({"action_type": "git_operation", "operation": "push"})),
        )
        .unwrap();
        assert_eq!(r["target"], "");
        assert!(
            action_request(&session(), &m(json!({"action_type": "read_file"})))
                .unwrap_err()
                .contains("target")
        );
        assert!(action_request(
            &session(),
            &m(json!({"action_type": "teleport", "target": "x"}))
        )
        .unwrap_err()
        .contains("read_file"));
    }

    #[test]
    fn text_is_one_bounded_line() {
        let long = format!("a\nb{}", "x".repeat(400));
        let flat = one_line(&long);
        assert!(!flat.contains('\n'));
        assert_eq!(flat.chars().count(), 301);
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "0123456789abcdef"
        );
    }

    #[test]
    fn tool_output_shape() {
        let v = ToolOutput::error("nope").to_json();
        assert_eq!(
            v,
            json!({"content": [{"type": "text", "text": "nope"}], "isError": true})
        );
    }
}
