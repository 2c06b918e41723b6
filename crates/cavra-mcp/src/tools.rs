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

/// The tools, in the order `tools/list` gives them (the reference CAVRA's set).
pub const TOOL_NAMES: [&str; 11] = [
    "evaluate_action",
    "check_file_read",
    "check_file_write",
    "check_command",
    "check_git_operation",
    "check_mcp_tool_call",
    "explain_decision",
    "generate_pr_attestation",
    "export_evidence",
    "policy_list",
    "policy_validate",
];

/// The earlier names, still answered (not listed): name → the tool it is.
/// `cavra_policy_summary` keeps its own answer (the active pack only).
pub const ALIASES: [(&str, &str); 4] = [
    ("cavra_evaluate", "evaluate_action"),
    ("cavra_explain", "explain_decision"),
    ("cavra_check_command", "check_command"),
    ("cavra_policy_summary", "cavra_policy_summary"),
];

/// Whether `name` is a tool of this server (listed or an alias).
pub fn is_tool(name: &str) -> bool {
    TOOL_NAMES.contains(&name) || ALIASES.iter().any(|(a, _)| *a == name)
}

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
    /// Who asks, as the mounting server authenticated them (`/mcp`: the token's or the
    /// OIDC person's identity); recorded as the decision's `requested_by`.
    pub requested_by: Option<String>,
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

/// Runs tool `name` (listed or an alias) with `args`. The server answers a name
/// [`is_tool`] does not know with a protocol error before calling this.
pub fn call(
    backend: &dyn Backend,
    session: &Session,
    name: &str,
    args: &Map<String, Value>,
) -> ToolOutput {
    let name = ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map_or(name, |(_, t)| *t);
    let result = match name {
        "evaluate_action" => evaluate(backend, session, args),
        "check_file_read" => check_simple(backend, session, args, "read_file", "path"),
        "check_file_write" => check_simple(backend, session, args, "write_file", "path"),
        "check_command" => check_simple(backend, session, args, "execute_command", "command"),
        "check_git_operation" => check_git(backend, session, args),
        "check_mcp_tool_call" => check_mcp(backend, session, args),
        "explain_decision" => explain(backend, session, args),
        "generate_pr_attestation" => pr_attestation(backend, session, args),
        "export_evidence" => export_evidence(backend, session, args),
        "policy_list" => policy_list(backend, args),
        "policy_validate" => policy_validate(backend, args),
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
    decided_output(
        &backend
            .decide_as(&req, session.requested_by.as_deref())
            .map_err(failed)?,
    )
}

/// The fields every check takes besides its own.
const COMMON: [&str; 3] = ["cwd", "session_id", "agent_id"];

/// Copies the optional string arguments `keys` into the request `v`.
fn copy_opt(
    args: &Map<String, Value>,
    keys: &[&str],
    v: &mut Map<String, Value>,
) -> Result<(), String> {
    for k in keys {
        if let Some(s) = opt_str(args, k)? {
            v.insert((*k).into(), json!(s));
        }
    }
    Ok(())
}

/// A check of one action whose target is the argument `field` (a path, a command line).
fn check_simple(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
    action: &str,
    field: &str,
) -> Result<ToolOutput, String> {
    let mut allowed = vec![field];
    allowed.extend(COMMON);
    check_args(args, &allowed)?;
    let mut v = Map::new();
    v.insert("action_type".into(), json!(action));
    v.insert("target".into(), json!(req_str(args, field)?));
    copy_opt(args, &COMMON, &mut v)?;
    decided_output(
        &backend
            .decide_as(&with_defaults(session, v), session.requested_by.as_deref())
            .map_err(failed)?,
    )
}

fn check_git(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    check_args(args, &["operation", "ref", "cwd", "session_id", "agent_id"])?;
    let mut v = Map::new();
    v.insert("action_type".into(), json!("git_operation"));
    v.insert("operation".into(), json!(req_str(args, "operation")?));
    v.insert("target".into(), json!(opt_str(args, "ref")?.unwrap_or("")));
    copy_opt(args, &COMMON, &mut v)?;
    decided_output(
        &backend
            .decide_as(&with_defaults(session, v), session.requested_by.as_deref())
            .map_err(failed)?,
    )
}

fn check_mcp(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    let fields = [
        "server",
        "tool",
        "arguments",
        "capability",
        "cwd",
        "session_id",
        "agent_id",
    ];
    check_args(args, &fields)?;
    let (server, tool) = (req_str(args, "server")?, req_str(args, "tool")?);
    let mut v = Map::new();
    v.insert("action_type".into(), json!("mcp_tool_call"));
    v.insert("target".into(), json!(format!("{server}:{tool}")));
    v.insert("server".into(), json!(server));
    v.insert("tool".into(), json!(tool));
    match args.get("arguments") {
        None | Some(Value::Null) => {}
        Some(a @ Value::Object(_)) => {
            v.insert("arguments".into(), a.clone());
        }
        Some(_) => return Err("`arguments` must be an object".into()),
    }
    copy_opt(
        args,
        &["capability", "cwd", "session_id", "agent_id"],
        &mut v,
    )?;
    decided_output(
        &backend
            .decide_as(&with_defaults(session, v), session.requested_by.as_deref())
            .map_err(failed)?,
    )
}

/// `generate_pr_attestation`: decides (and records) opening a pull request into `base`,
/// and gives an in-toto Statement v1 of that decision. The statement is not signed here:
/// the decision's evidence record it names is (in the signed, hash-chained log).
fn pr_attestation(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    let fields = [
        "base",
        "head",
        "commit",
        "repository",
        "cwd",
        "session_id",
        "agent_id",
    ];
    check_args(args, &fields)?;
    let base = req_str(args, "base")?;
    let mut v = Map::new();
    v.insert("action_type".into(), json!("pull_request"));
    v.insert("target".into(), json!(base));
    copy_opt(args, &COMMON, &mut v)?;
    let req = with_defaults(session, v);
    let d = backend
        .decide_as(&req, session.requested_by.as_deref())
        .map_err(failed)?;
    let dec = &d.decision;
    let head = opt_str(args, "head")?;
    let repo = opt_str(args, "repository")?.unwrap_or("");
    let mut subject = json!({"name": format!("{repo}@{}", head.unwrap_or(base))});
    if let Some(c) = opt_str(args, "commit")? {
        if !(c.len() == 40 || c.len() == 64) || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("`commit` must be a full git commit id (40 or 64 hex digits)".into());
        }
        subject["digest"] = json!({"gitCommit": c.to_ascii_lowercase()});
    }
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [subject],
        "predicateType": PR_PREDICATE,
        "predicate": {
            "base": base,
            "head": head,
            "repository": repo,
            "decision": dec.decision.as_str(),
            "proceed": dec.proceed,
            "rule_id": dec.rule_id,
            "reason": dec.reason,
            "policy": dec.policy,
            "request_hash": dec.request_hash,
            "decision_id": d.decision_id,
            "evidence_record": d.record_id,
            "session_id": req["session_id"],
            "agent_id": req["agent_id"],
        },
    });
    let text = format!("{} In-toto statement of the decision in structuredContent.statement (unsigned; the evidence record is signed).", summary(&d));
    Ok(ToolOutput::ok(
        text,
        json!({"decision": decided_json(&d)?, "statement": statement, "signed": false}),
    ))
}

/// The predicate type of `generate_pr_attestation`'s statements.
pub const PR_PREDICATE: &str = "https://cavra.dev/attestation/pull-request-decision/v1";

/// The export formats `export_evidence` offers (JSON ones: records come back as objects).
pub const EXPORT_FORMATS: [&str; 5] = ["jsonl", "ocsf", "splunk-hec", "sentinel", "datadog"];

/// The most records one `export_evidence` call gives.
pub const EXPORT_MAX: u64 = 500;

fn export_evidence(
    backend: &dyn Backend,
    session: &Session,
    args: &Map<String, Value>,
) -> Result<ToolOutput, String> {
    check_args(args, &["session_id", "format", "since", "limit"])?;
    let sid = opt_str(args, "session_id")?.unwrap_or(&session.session_id);
    let format = opt_str(args, "format")?.unwrap_or("jsonl");
    if !EXPORT_FORMATS.contains(&format) {
        return Err(format!(
            "unknown format `{format}`; use one of: {}",
            EXPORT_FORMATS.join(", ")
        ));
    }
    let limit = match args.get("limit") {
        None | Some(Value::Null) => 100,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=EXPORT_MAX).contains(n))
            .ok_or_else(|| format!("`limit` must be an integer from 1 to {EXPORT_MAX}"))?,
    };
    let since = opt_str(args, "since")?;
    let (records, total) = backend
        .export(sid, format, since, usize::try_from(limit).unwrap_or(100))
        .map_err(failed)?;
    let text = format!(
        "{} of {total} evidence record(s) of session `{}` in format {format}",
        records.len(),
        one_line(sid)
    );
    Ok(ToolOutput::ok(
        text,
        json!({"session_id": sid, "format": format, "total": total, "count": records.len(), "records": records}),
    ))
}

fn policy_list(backend: &dyn Backend, args: &Map<String, Value>) -> Result<ToolOutput, String> {
    check_args(args, &[])?;
    let active = policy_summary(backend, args)?;
    let packs = backend.packs().map_err(failed)?;
    let text = format!("{} ; {} pack(s) available", active.text, packs.len());
    let active = active.structured.unwrap_or(Value::Null);
    Ok(ToolOutput::ok(
        text,
        json!({"active": active, "packs": packs}),
    ))
}

/// The largest pack source `policy_validate` takes.
pub const VALIDATE_MAX: usize = 1 << 20;

fn policy_validate(backend: &dyn Backend, args: &Map<String, Value>) -> Result<ToolOutput, String> {
    check_args(args, &["source", "name"])?;
    let source = req_str(args, "source")?;
    if source.len() > VALIDATE_MAX {
        return Err(format!("`source` is larger than {VALIDATE_MAX} bytes"));
    }
    let name = opt_str(args, "name")?.unwrap_or("policy.yaml");
    let v = backend.validate(name, source).map_err(failed)?;
    let text = if v["valid"] == true {
        format!(
            "valid: pack `{}` ({})",
            v["id"].as_str().unwrap_or(""),
            short_digest(v["digest"].as_str().unwrap_or(""))
        )
    } else {
        let n = v["problems"].as_array().map_or(0, Vec::len);
        format!("not valid: {n} problem(s); see structuredContent.problems")
    };
    Ok(ToolOutput::ok(text, v))
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
    Ok(ToolOutput::ok(summary(d), decided_json(d)?))
}

fn decided_json(d: &Decided) -> Result<Value, String> {
    let mut v = serde_json::to_value(&d.decision).map_err(|e| e.to_string())?;
    v["decision_id"] = json!(d.decision_id);
    if let Some(id) = &d.record_id {
        v["evidence_record"] = json!(id);
    }
    if let Some(id) = &d.approval_id {
        v["approval_id"] = json!(id);
    }
    Ok(v)
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

fn prop(t: &str, d: &str) -> Value {
    json!({"type": t, "description": d})
}

/// An input schema: `props` (name → schema), the required ones, nothing else allowed.
/// Every check also takes `cwd`, `session_id` and `agent_id` when `common` is set.
fn input(props: Value, required: &[&str], common: bool) -> Value {
    let mut p = props.as_object().cloned().unwrap_or_default();
    if common {
        p.insert(
            "cwd".into(),
            prop(
                "string",
                "Working directory of the action (default: the project directory).",
            ),
        );
        p.insert(
            "session_id".into(),
            prop(
                "string",
                "The agent session (default: one per server process).",
            ),
        );
        p.insert(
            "agent_id".into(),
            prop(
                "string",
                "The acting agent (default: the MCP client's name).",
            ),
        );
    }
    json!({"type": "object", "properties": p, "required": required, "additionalProperties": false})
}

/// The output schema of a recorded decision (the keys of `cavra evaluate --json`, plus
/// `evidence_record` and `approval_id`).
fn decision_schema() -> Value {
    let outcomes = [
        "allow",
        "block",
        "require_approval",
        "shadow",
        "break_glass",
    ];
    json!({
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": outcomes},
            "enforced_decision": {"type": "string", "enum": outcomes},
            "proceed": {"type": "boolean"},
            "rule_id": {"type": "string"},
            "rule_ids": {"type": "array", "items": {"type": "string"}},
            "severity": {"type": "string"},
            "reason": {"type": "string"},
            "alternative": {"type": "string"},
            "approver_group": {"type": ["string", "null"]},
            "controls": {"type": "array", "items": {"type": "string"}},
            "policy": {"type": "object"},
            "request_hash": {"type": "string"},
            "action_type": {"type": "string"},
            "target": {"type": "string"},
            "mode": {"type": "string"},
            "matches": {"type": "array"},
            "evaluation_us": {"type": "number"},
            "decision_id": {"type": "string"},
            "evidence_record": {"type": "string"},
            "approval_id": {"type": "string"},
        },
        "required": ["decision", "proceed", "rule_id", "severity", "reason", "policy", "request_hash", "action_type", "target", "decision_id"],
    })
}

fn pack_summary_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "version": {"type": "string"},
            "digest": {"type": "string"}, "mode": {"type": "string"}, "source": {"type": "string"},
            "lineage": {"type": "array"}, "rules": {"type": "array"},
        },
        "required": ["id", "version", "digest", "mode", "source", "rules"],
    })
}

fn explain_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "decision": {"type": "object", "properties": {"decision": {"type": "string"}, "rule_id": {"type": "string"}}, "required": ["decision", "rule_id"]},
            "pack_source": {"type": "string"},
            "matched_rules": {"type": "array", "items": {"type": "object"}},
            "recorded": {"type": "boolean", "const": false},
        },
        "required": ["decision", "pack_source", "matched_rules", "recorded"],
    })
}

/// A tool definition. The tools that decide record the decision (evidence, and for
/// require-approval an approval request) — not read-only, never destructive; the others
/// only read.
fn tool(name: &str, title: &str, description: &str, input: Value, output: Value) -> Value {
    let read_only = matches!(
        name,
        "explain_decision" | "export_evidence" | "policy_list" | "policy_validate"
    );
    json!({"name": name, "title": title, "description": description, "inputSchema": input, "outputSchema": output,
           "annotations": {"readOnlyHint": read_only, "destructiveHint": false, "openWorldHint": false}})
}

/// The tool definitions of `tools/list` (`name`, `title`, `description`, `inputSchema`,
/// `outputSchema`, `annotations`), in [`TOOL_NAMES`] order.
pub fn definitions() -> Value {
    let records = "Decides under the project's CAVRA policy and records the decision in the signed evidence log; do not proceed when `proceed` is false.";
    json!([
        tool("evaluate_action", "Ask CAVRA whether an action may proceed",
             &format!("Any action (file, command, git, MCP tool, network, pull request). {records}"),
             action_schema(), decision_schema()),
        tool("check_file_read", "Ask CAVRA whether a file may be read", &format!("A file read. {records}"),
             input(json!({"path": prop("string", "The file, relative to `cwd` or absolute.")}), &["path"], true), decision_schema()),
        tool("check_file_write", "Ask CAVRA whether a file may be written", &format!("A file write (create, edit, overwrite). {records}"),
             input(json!({"path": prop("string", "The file, relative to `cwd` or absolute.")}), &["path"], true), decision_schema()),
        tool("check_command", "Ask CAVRA whether a shell command may run", &format!("A shell command line; every simple command in it is inspected. {records}"),
             input(json!({"command": prop("string", "The full command line, as it would be run.")}), &["command"], true), decision_schema()),
        tool("check_git_operation", "Ask CAVRA whether a git operation may proceed", &format!("A git operation such as push or force_push. {records}"),
             input(json!({"operation": prop("string", "The operation: push, force_push, commit, merge, tag, ..."),
                          "ref": prop("string", "The ref it acts on, such as `origin/main` (default: the current branch).")}), &["operation"], true), decision_schema()),
        tool("check_mcp_tool_call", "Ask CAVRA whether an MCP tool call may proceed", &format!("A call of another MCP server's tool, checked against the trust registry and the pack's MCP rules. {records}"),
             input(json!({"server": prop("string", "The MCP server's name."), "tool": prop("string", "The tool's name."),
                          "arguments": prop("object", "The arguments the tool would be called with."),
                          "capability": prop("string", "The capability the call needs (read, write, admin, ...).")}), &["server", "tool"], true), decision_schema()),
        tool("explain_decision", "Explain CAVRA's decision for an action",
             "Which policy rules match an action, with effects and reasons, and the decision they lead to. Nothing is recorded.",
             action_schema(), explain_schema()),
        tool("generate_pr_attestation", "Decide a pull request and attest the decision",
             "Decides (and records) opening a pull request into `base` and returns an in-toto Statement v1 of the decision; the statement is unsigned, the evidence record it names is signed.",
             input(json!({"base": prop("string", "The base branch the pull request targets."), "head": prop("string", "The head branch."),
                          "commit": prop("string", "The head commit id (40 or 64 hex digits)."), "repository": prop("string", "The repository (e.g. `org/repo`).")}), &["base"], true),
             json!({"type": "object", "properties": {"decision": decision_schema(), "signed": {"type": "boolean"},
                    "statement": {"type": "object", "properties": {"_type": {"type": "string"}, "subject": {"type": "array"}, "predicateType": {"type": "string"}, "predicate": {"type": "object"}},
                                  "required": ["_type", "subject", "predicateType", "predicate"]}},
                    "required": ["decision", "statement", "signed"]})),
        tool("export_evidence", "Export this session's evidence records",
             "The evidence log's records of one session (default: this server's session), newest last, in a SIEM format. Read-only.",
             input(json!({"session_id": prop("string", "The session (default: this server's)."),
                          "format": {"type": "string", "enum": EXPORT_FORMATS, "description": "The record format (default jsonl)."},
                          "since": prop("string", "Only records from this time on: RFC 3339 time, date or duration ago (`24h`)."),
                          "limit": {"type": "integer", "minimum": 1, "maximum": EXPORT_MAX, "description": "At most this many records, the newest (default 100)."}}), &[], false),
             json!({"type": "object", "properties": {"session_id": {"type": "string"}, "format": {"type": "string"}, "total": {"type": "integer"},
                    "count": {"type": "integer"}, "records": {"type": "array", "items": {"type": "object"}}},
                    "required": ["session_id", "format", "total", "count", "records"]})),
        tool("policy_list", "List CAVRA's policy packs",
             "The active pack (id, version, digest, mode, rules) and every pack available: the bundled ones and those of the configured policy directories.",
             input(json!({}), &[], false),
             json!({"type": "object", "properties": {"active": pack_summary_schema(), "packs": {"type": "array", "items": {"type": "object"}}}, "required": ["active", "packs"]})),
        tool("policy_validate", "Validate a CAVRA policy pack",
             "Validates and compiles a pack's YAML source (schema, inheritance) without installing it: `valid`, the pack's id and digest, or the problems.",
             input(json!({"source": prop("string", "The pack's YAML text (at most 1 MiB)."), "name": prop("string", "A file name for problems (default policy.yaml).")}), &["source"], false),
             json!({"type": "object", "properties": {"valid": {"type": "boolean"}, "id": {"type": "string"}, "digest": {"type": "string"}, "rules": {"type": "integer"}, "problems": {"type": "array"}}, "required": ["valid"]})),
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
            requested_by: None,
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
            assert_eq!(x["outputSchema"]["type"], "object", "{x}");
            assert_eq!(x["inputSchema"]["additionalProperties"], false, "{x}");
        }
        // every alias names a tool this server runs, and no alias is listed
        for (alias, to) in ALIASES {
            assert!(is_tool(alias) && is_tool(to), "{alias}");
            assert!(!names.contains(&alias), "{alias}");
        }
        assert!(!is_tool("teleport"));
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
