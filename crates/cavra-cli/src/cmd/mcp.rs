//! `cavra mcp serve`: CAVRA as a Model Context Protocol server over stdio.
//!
//! The transport is newline-delimited JSON-RPC 2.0 on stdin/stdout (MCP protocol version
//! `2025-06-18`, `2024-11-05` accepted). Four tools let an agent ask CAVRA before it acts:
//! `cavra_evaluate` (decides through the same pipeline as `cavra evaluate`, recorded in the
//! evidence log), `cavra_explain` (matched rules and reasons, not recorded),
//! `cavra_check_command` (shorthand for `execute_command`) and `cavra_policy_summary`.
//!
//! The server never exits on bad input: a line that is not JSON gets `-32700` (id null), a
//! line over 4 MiB `-32600`, an unknown method `-32601`; bad tool arguments are tool errors
//! (`isError: true`) the model can read. Logs go to stderr only; stdout carries protocol.

use crate::ctx::Ctx;
use crate::packs::{self, Origin};
use anyhow::Result;
use cavra_core::policy::compile::SeverityRule;
use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, ActionType, Decision, Effect, Outcome};
use cavra_runtime::{DecideOptions, Decided, FsScriptReader};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::evaluate::{request_from_json, PackArgs};

/// The protocol version this server speaks by default.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// Every protocol version this server accepts (echoed back when the client asks for one).
pub const SUPPORTED_VERSIONS: [&str; 2] = ["2025-06-18", "2024-11-05"];
/// The largest request line read; longer lines are answered with `-32600` and skipped.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve MCP over stdio (newline-delimited JSON-RPC): tools cavra_evaluate,
    /// cavra_explain, cavra_check_command, cavra_policy_summary.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub packs: PackArgs,
    /// MCP trust registry file (reference shape: {"mcp_servers": [...]}).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Headless: a require-approval decision opens an approval request.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

pub fn run(args: McpArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    match args.command {
        McpCommand::Serve(a) => serve(a, ctx, explicit_dir),
    }
}

/// One server session's state.
struct Server {
    ctx: Ctx,
    project: PathBuf,
    args: ServeArgs,
    /// `clientInfo.name` from `initialize`, the default agent id.
    client: Option<String>,
    /// Default session id for calls that name none.
    session: String,
}

fn serve(args: ServeArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let loc = crate::ctx::locate(None);
    let mut server = Server {
        ctx: super::hook::ctx_at(ctx, explicit_dir, &loc),
        project: loc.project,
        args,
        client: None,
        session: format!("mcp-{}", std::process::id()),
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    loop {
        let reply = match read_line(&mut input, MAX_LINE_BYTES) {
            Ok(Line::Eof) => return Ok(0),
            Ok(Line::TooLong) => Some(error_reply(
                Value::Null,
                INVALID_REQUEST,
                &format!("request line longer than {} bytes", MAX_LINE_BYTES),
            )),
            Ok(Line::Text(bytes)) => server.handle_line(&bytes),
            Err(e) => {
                eprintln!("cavra mcp: cannot read stdin: {e}");
                return Ok(1);
            }
        };
        if let Some(r) = reply {
            let mut text = serde_json::to_string(&r)?;
            text.push('\n');
            // a closed stdout means the client is gone
            if out.write_all(text.as_bytes()).is_err() || out.flush().is_err() {
                return Ok(0);
            }
        }
    }
}

/// One line of input.
#[derive(Debug, PartialEq)]
pub enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line of at most `max` bytes (the terminator and a `\r` before
/// it excluded). A longer line is consumed and reported as [`Line::TooLong`].
pub fn read_line(r: &mut impl BufRead, max: usize) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if !any {
                return Ok(Line::Eof);
            }
            break;
        }
        any = true;
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            let data = &chunk[..if done { take - 1 } else { take }];
            if buf.len() + data.len() > max {
                too_long = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(data);
            }
        }
        r.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Line::TooLong);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Text(buf))
}

fn error_reply(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn result_reply(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A tool's answer: text for the model, structured content for programs.
fn tool_result(text: String, structured: Option<Value>, is_error: bool) -> Value {
    let mut r = json!({
        "content": [{"type": "text", "text": text}],
        "isError": is_error,
    });
    if let Some(s) = structured {
        r["structuredContent"] = s;
    }
    r
}

fn tool_error(message: impl Into<String>) -> Value {
    tool_result(message.into(), None, true)
}

impl Server {
    /// Handles one input line; `None` when nothing is to be sent back (notifications,
    /// responses, blank lines).
    fn handle_line(&mut self, bytes: &[u8]) -> Option<Value> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let msg: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                return Some(error_reply(
                    Value::Null,
                    PARSE_ERROR,
                    &format!("Parse error: {e}"),
                ))
            }
        };
        let Some(obj) = msg.as_object() else {
            return Some(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "a request must be a JSON object (batches are not supported)",
            ));
        };
        let id = obj.get("id").cloned();
        let id_ok = matches!(&id, Some(Value::String(_)) | Some(Value::Number(_)));
        let reply_id = if id_ok {
            id.clone().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Some(error_reply(
                reply_id,
                INVALID_REQUEST,
                "`jsonrpc` must be \"2.0\"",
            ));
        }
        let Some(method) = obj.get("method") else {
            // a response to a request this server never sends: nothing to do
            if obj.contains_key("result") || obj.contains_key("error") {
                return None;
            }
            return Some(error_reply(reply_id, INVALID_REQUEST, "no `method`"));
        };
        let Some(method) = method.as_str() else {
            return Some(error_reply(
                reply_id,
                INVALID_REQUEST,
                "`method` must be a string",
            ));
        };
        let params = obj.get("params").cloned().unwrap_or(Value::Null);
        if id.is_none() {
            // notification: never answered
            self.notification(method);
            return None;
        }
        if !id_ok {
            return Some(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "`id` must be a string or a number",
            ));
        }
        if !(params.is_null() || params.is_object()) {
            return Some(error_reply(
                reply_id,
                INVALID_PARAMS,
                "`params` must be an object",
            ));
        }
        Some(match method {
            "initialize" => result_reply(reply_id, self.initialize(&params)),
            "ping" => result_reply(reply_id, json!({})),
            "tools/list" => result_reply(reply_id, json!({"tools": tools()})),
            "tools/call" => match self.call(&params) {
                Ok(r) => result_reply(reply_id, r),
                Err(m) => error_reply(reply_id, INVALID_PARAMS, &m),
            },
            other => error_reply(
                reply_id,
                METHOD_NOT_FOUND,
                &format!("method not found: `{other}`"),
            ),
        })
    }

    fn notification(&mut self, method: &str) {
        match method {
            "notifications/initialized" | "notifications/cancelled" => {}
            other => eprintln!("cavra mcp: ignoring notification `{other}`"),
        }
    }

    fn initialize(&mut self, params: &Value) -> Value {
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = asked
            .filter(|v| SUPPORTED_VERSIONS.contains(v))
            .unwrap_or(PROTOCOL_VERSION);
        self.client = params
            .pointer("/clientInfo/name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "cavra", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "CAVRA decides whether an action may proceed under the project's policy. Before reading secrets, running commands, pushing, deleting or calling other tools, call cavra_evaluate (or cavra_check_command for a shell command) and do not proceed when `proceed` is false.",
        })
    }

    /// `tools/call`: `Err` only for a malformed call (JSON-RPC error); everything about the
    /// tool itself, including an unknown tool name, is a tool result.
    fn call(&mut self, params: &Value) -> std::result::Result<Value, String> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or("tools/call needs `params.name` (a string)")?;
        let empty = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Ok(tool_error("`arguments` must be an object")),
        };
        Ok(match name {
            "cavra_evaluate" => self.evaluate(args),
            "cavra_explain" => self.explain(args),
            "cavra_check_command" => self.check_command(args),
            "cavra_policy_summary" => self.policy_summary(args),
            other => tool_error(format!(
                "unknown tool `{other}`; this server has: {}",
                TOOL_NAMES.join(", ")
            )),
        })
    }

    fn load_pack(&self) -> std::result::Result<(CompiledPack, Origin), String> {
        packs::load(&self.args.packs.choice(), Some(&self.project))
            .map_err(|e| format!("the policy pack does not load: {e:#}"))
    }

    fn registry(&self) -> std::result::Result<Option<cavra_core::guard::McpRegistry>, String> {
        self.args
            .registry
            .as_deref()
            .map(packs::load_registry)
            .transpose()
            .map_err(|e| format!("{e:#}"))
    }

    /// Builds a request from validated tool arguments.
    fn request(&self, args: &Map<String, Value>) -> std::result::Result<ActionRequest, String> {
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
        self.finish_request(&Value::Object(v))
    }

    fn finish_request(&self, v: &Value) -> std::result::Result<ActionRequest, String> {
        let mut req = request_from_json(v).map_err(|e| format!("{e:#}"))?;
        if v.get("session_id").is_none() {
            req.session_id = self.session.clone();
        }
        if v.get("agent_id").is_none() {
            req.actor.agent_id = self
                .client
                .clone()
                .unwrap_or_else(|| "mcp-client".to_string());
        }
        req.actor.kind = "agent".into();
        // where the action happens, resolved exactly as the hook does (default: the project)
        let cwd = req
            .cwd
            .clone()
            .unwrap_or_else(|| self.project.display().to_string());
        super::hook::place(&mut req, &crate::ctx::locate(Some(&cwd)));
        Ok(req)
    }

    fn decide(&self, req: &mut ActionRequest) -> std::result::Result<Value, String> {
        let (pack, _) = self.load_pack()?;
        req.policy_pack = Some(pack.id.clone());
        let opts = DecideOptions {
            record: self.ctx.evidence,
            non_interactive: self.args.non_interactive,
            registry: self.registry()?,
            create_state: true,
            open_approval: false,
        };
        let decided = self
            .ctx
            .runtime()
            .decide(&self.ctx.cavra_dir, &pack, req, &opts)
            .map_err(|e| cavra_runtime::chain(&e))?;
        let mut v = serde_json::to_value(&decided.decision).map_err(|e| e.to_string())?;
        v["decision_id"] = json!(decided.decision_id);
        if let Some(id) = &decided.record_id {
            v["evidence_record"] = json!(id);
        }
        if let Some(id) = &decided.approval_id {
            v["approval_id"] = json!(id);
        }
        Ok(tool_result(summary(&decided), Some(v), false))
    }

    fn evaluate(&self, args: &Map<String, Value>) -> Value {
        match self.request(args).and_then(|mut r| self.decide(&mut r)) {
            Ok(v) => v,
            Err(m) => tool_error(m),
        }
    }

    fn check_command(&self, args: &Map<String, Value>) -> Value {
        let run = || -> std::result::Result<Value, String> {
            check_args(args, CHECK_FIELDS)?;
            let command = req_str(args, "command")?;
            let mut v = json!({"action_type": "execute_command", "target": command});
            for k in ["cwd", "session_id", "agent_id"] {
                if let Some(s) = opt_str(args, k)? {
                    v[k] = json!(s);
                }
            }
            let mut req = self.finish_request(&v)?;
            self.decide(&mut req)
        };
        run().unwrap_or_else(tool_error)
    }

    fn explain(&self, args: &Map<String, Value>) -> Value {
        let run = || -> std::result::Result<Value, String> {
            let mut req = self.request(args)?;
            let (pack, origin) = self.load_pack()?;
            req.policy_pack = Some(pack.id.clone());
            let registry = self.registry()?;
            let reader = FsScriptReader;
            let env = cavra_core::guard::EvalEnv {
                registry: registry.as_ref(),
                scripts: Some(&reader),
                ..Default::default()
            };
            let d = cavra_core::guard::evaluate(&pack, &req, &env);
            let text = explain_text(&d);
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
            let dv = serde_json::to_value(&d).map_err(|e| e.to_string())?;
            Ok(tool_result(
                text,
                Some(json!({
                    "decision": dv,
                    "pack_source": origin.describe(),
                    "matched_rules": rules,
                    "recorded": false,
                })),
                false,
            ))
        };
        run().unwrap_or_else(tool_error)
    }

    fn policy_summary(&self, args: &Map<String, Value>) -> Value {
        let run = || -> std::result::Result<Value, String> {
            check_args(args, &[])?;
            let (pack, origin) = self.load_pack()?;
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
                crate::output::short(&pack.digest),
                origin.describe(),
                pack.mode.as_str(),
                pack.rules.len(),
                count(Effect::Block),
                count(Effect::RequireApproval),
                count(Effect::Allow),
            );
            Ok(tool_result(
                text,
                Some(json!({
                    "id": pack.id,
                    "title": pack.title,
                    "version": pack.version,
                    "digest": pack.digest,
                    "mode": pack.mode.as_str(),
                    "lineage": pack.lineage,
                    "source": origin.describe(),
                    "rules": rules,
                })),
                false,
            ))
        };
        run().unwrap_or_else(tool_error)
    }
}

fn severity_name(s: &SeverityRule) -> &'static str {
    match s {
        SeverityRule::Fixed(s) => s.as_str(),
        SeverityRule::ReferenceCommandBlock => "high_or_critical",
    }
}

/// One line for the model: outcome, action, rule, reason, what to do instead.
fn summary(d: &Decided) -> String {
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
    if let Some(id) = &d.approval_id {
        s.push(' ');
        s.push_str(&cavra_runtime::person_must_approve(
            id,
            dec.approver_group.as_deref(),
        ));
        s.push('.');
    }
    s
}

fn explain_text(d: &Decision) -> String {
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

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > 300 {
        format!("{}…", flat.chars().take(300).collect::<String>())
    } else {
        flat
    }
}

const TOOL_NAMES: [&str; 4] = [
    "cavra_evaluate",
    "cavra_explain",
    "cavra_check_command",
    "cavra_policy_summary",
];

const EVALUATE_FIELDS: &[&str] = &[
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
const CHECK_FIELDS: &[&str] = &["command", "cwd", "session_id", "agent_id"];

fn check_args(args: &Map<String, Value>, allowed: &[&str]) -> std::result::Result<(), String> {
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

fn req_str<'a>(args: &'a Map<String, Value>, k: &str) -> std::result::Result<&'a str, String> {
    match args.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("`{k}` must not be empty")),
        Some(_) => Err(format!("`{k}` must be a string")),
        None => Err(format!("missing required argument `{k}`")),
    }
}

fn opt_str<'a>(
    args: &'a Map<String, Value>,
    k: &str,
) -> std::result::Result<Option<&'a str>, String> {
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

/// The tool list of `tools/list`.
pub fn tools() -> Value {
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

/// Sends `initialize` to `program mcp serve` (run in `dir`) and waits up to `timeout` for the
/// reply. Returns the server's `serverInfo` version and protocol version.
pub fn probe(
    program: &Path,
    dir: &Path,
    timeout: std::time::Duration,
) -> std::result::Result<(String, String), String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(["mcp", "serve"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start `{} mcp serve`: {e}", program.display()))?;
    let req = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "cavra-doctor", "version": env!("CARGO_PKG_VERSION")}},
    });
    let sent = match child.stdin.take() {
        Some(mut stdin) => writeln!(stdin, "{req}").map_err(|e| e.to_string()),
        None => Err("no stdin".to_string()),
    };
    // stdin is dropped here: the server sees EOF after answering and exits
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line);
            let _ = tx.send(r);
        });
    }
    let got = rx.recv_timeout(timeout);
    let _ = child.kill();
    let _ = child.wait();
    sent.map_err(|e| format!("cannot send `initialize`: {e}"))?;
    let line = match got {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return Err(format!("cannot read the reply: {e}")),
        Err(_) => {
            return Err(format!(
                "no reply to `initialize` within {}s",
                timeout.as_secs()
            ))
        }
    };
    let v: Value = serde_json::from_str(line.trim()).map_err(|e| {
        format!(
            "the reply to `initialize` is not JSON ({e}): {}",
            line.trim()
        )
    })?;
    let name = v.pointer("/result/serverInfo/name").and_then(Value::as_str);
    let proto = v.pointer("/result/protocolVersion").and_then(Value::as_str);
    match (name, proto) {
        (Some("cavra"), Some(p)) => Ok((
            v.pointer("/result/serverInfo/version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            p.to_string(),
        )),
        _ => Err(format!("unexpected reply to `initialize`: {v}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded() {
        let mut r = std::io::Cursor::new(b"abc\r\n0123456789\nxy".to_vec());
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::Text(b"abc".to_vec()));
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::TooLong);
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::Text(b"xy".to_vec()));
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::Eof);
    }

    #[test]
    fn tools_have_object_schemas() {
        let t = tools();
        let names: Vec<&str> = t
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, TOOL_NAMES);
        for x in t.as_array().unwrap() {
            assert_eq!(x["inputSchema"]["type"], "object", "{x}");
        }
        assert_eq!(
            t[0]["inputSchema"]["properties"]["action_type"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            8
        );
    }

    #[test]
    fn argument_checks_name_the_problem() {
        let m = |v: Value| v.as_object().unwrap().clone();
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
    }
}
