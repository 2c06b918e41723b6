//! `cavra hook <agent>`: speaks each agent's pre-tool-use hook protocol.
//!
//! The shared part maps a tool call (tool name + input, Claude Code vocabulary) to action
//! requests, runs the decision pipeline and returns a [`Verdict`]; each agent adapter parses
//! its own input format and writes its own output format. Every failure fails closed.

use crate::ctx::Ctx;
use crate::packs;
use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The agents CAVRA integrates with: the command line's names for [`AgentKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Agent {
    #[value(name = "claude-code", alias = "claude")]
    ClaudeCode,
    /// OpenAI Codex CLI.
    #[value(name = "codex")]
    Codex,
    /// Google Gemini CLI.
    #[value(name = "gemini", alias = "gemini-cli")]
    Gemini,
    /// Cursor (agent hooks).
    #[value(name = "cursor")]
    Cursor,
    /// GitHub Copilot CLI.
    #[value(name = "copilot", alias = "copilot-cli")]
    Copilot,
}

impl Agent {
    /// See [`AgentKind::has_native_ask`].
    pub fn has_native_ask(self) -> bool {
        AgentKind::from(self).has_native_ask()
    }

    pub fn kind(self) -> &'static str {
        AgentKind::from(self).as_str()
    }
}

impl From<Agent> for AgentKind {
    fn from(a: Agent) -> AgentKind {
        match a {
            Agent::ClaudeCode => AgentKind::ClaudeCode,
            Agent::Codex => AgentKind::Codex,
            Agent::Gemini => AgentKind::Gemini,
            Agent::Cursor => AgentKind::Cursor,
            Agent::Copilot => AgentKind::Copilot,
        }
    }
}

impl From<AgentKind> for Agent {
    fn from(a: AgentKind) -> Agent {
        match a {
            AgentKind::ClaudeCode => Agent::ClaudeCode,
            AgentKind::Codex => Agent::Codex,
            AgentKind::Gemini => Agent::Gemini,
            AgentKind::Cursor => Agent::Cursor,
            AgentKind::Copilot => Agent::Copilot,
        }
    }
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The agent whose hook protocol to speak.
    #[arg(value_enum)]
    pub agent: Agent,
    #[command(flatten)]
    pub packs: crate::cmd::evaluate::PackArgs,
    /// MCP trust registry file (reference shape).
    #[arg(long, value_name = "FILE", env = "CAVRA_REGISTRY")]
    pub registry: Option<PathBuf>,
    /// Headless: require-approval blocks with an approval request id instead of asking.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

/// Largest hook payload accepted (bytes).
pub const MAX_PAYLOAD: usize = 4 << 20;

pub use cavra_core::hooks::{AgentKind, ToolCall, Verdict, VerdictKind};

pub(crate) use cavra_core::hooks::str_field;

pub use crate::ctx::find_repo_root;

/// Project directory of a call (see [`crate::ctx::locate`]).
pub fn project_dir(cwd: Option<&str>) -> PathBuf {
    crate::ctx::locate(cwd).project
}

/// The CAVRA directory for a hook call: `--cavra-dir`/`$CAVRA_DIR`, else `<project>/.cavra`.
pub fn hook_ctx(ctx: &Ctx, explicit: bool, project: &Path) -> Ctx {
    if explicit {
        ctx.clone()
    } else {
        ctx.at(project.join(".cavra"))
    }
}

/// The CAVRA directory for a call at `loc`: `--cavra-dir`/`$CAVRA_DIR`, else the project's
/// CAVRA directory found from the call's working directory.
pub fn ctx_at(ctx: &Ctx, explicit: bool, loc: &crate::ctx::Location) -> Ctx {
    if explicit {
        ctx.clone()
    } else {
        ctx.at(loc.project_cavra_dir.clone())
    }
}

pub use cavra_runtime::{guidance, place, rank};

/// The runtime's options for the tool calls of this hook invocation.
pub fn call_options(ctx: &Ctx, explicit_dir: bool, args: &HookArgs) -> cavra_runtime::CallOptions {
    cavra_runtime::CallOptions {
        packs: args.packs.choice(),
        registry: args.registry.clone(),
        non_interactive: args.non_interactive,
        record: ctx.evidence,
        cavra_dir: explicit_dir.then(|| ctx.cavra_dir.clone()),
        locator: crate::ctx::locator(),
        host: hostname(),
        exit_after: true,
        on_phase: Some(crate::timing),
    }
}

/// Decides a tool call (every failure is a deny).
pub fn decide_call(ctx: &Ctx, explicit_dir: bool, args: &HookArgs, call: &ToolCall) -> Verdict {
    crate::failclosed::test_panic_trigger();
    ctx.runtime()
        .decide_call(call, &call_options(ctx, explicit_dir, args))
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// Reads the hook payload from stdin, bounded.
pub fn read_payload() -> Result<Value> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut buf)
        .context("cannot read the hook payload from stdin")?;
    if buf.len() > MAX_PAYLOAD {
        return Err(anyhow!(
            "hook payload is larger than {} MiB; refusing to analyse it",
            MAX_PAYLOAD >> 20
        ));
    }
    if buf.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(anyhow!(
            "hook payload is empty; expected a JSON event on stdin"
        ));
    }
    let text = String::from_utf8(buf).map_err(|_| anyhow!("hook payload is not UTF-8"))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("hook payload is not valid JSON ({e})"))?;
    if !v.is_object() {
        return Err(anyhow!("hook payload must be a JSON object"));
    }
    Ok(v)
}

pub(crate) fn record_event(ctx: &Ctx, kind: &str, body: Value) -> Result<()> {
    if !ctx.evidence {
        return Ok(());
    }
    ctx.runtime().record_event(&ctx.cavra_dir, kind, &body)?;
    Ok(())
}

/// A short summary of what the active pack protects (SessionStart context).
pub fn pack_summary(args: &HookArgs, project: &Path) -> String {
    let choice = args.packs.choice();
    match packs::load(&choice, Some(project)) {
        Ok((p, _)) => format!(
            "CAVRA guards this session with policy pack `{}` {} ({} rules): secrets and credentials are not readable, paths outside the repository need approval to write, CAVRA's policy and agent hook settings are protected, destructive commands, force pushes and history rewrites, cloud/IaC destroy, destructive SQL and piping downloads into a shell are blocked. When CAVRA blocks an action, its reason names a safer alternative.",
            p.id,
            p.version,
            p.rules.len()
        ),
        Err(e) => format!("CAVRA could not load its policy ({e:#}); every tool call will be denied until this is fixed."),
    }
}

/// Claude Code: PreToolUse in, `hookSpecificOutput.permissionDecision` out.
fn claude_code(ctx: &Ctx, explicit_dir: bool, args: &HookArgs) -> Result<i32> {
    let event = match read_payload() {
        Ok(v) => {
            crate::timing("payload parsed");
            v
        }
        Err(e) => {
            eprintln!("CAVRA denied the tool call: {e:#}");
            return Ok(2);
        }
    };
    let event_name = str_field(&event, &["hook_event_name"]).unwrap_or_else(|| "PreToolUse".into());
    let session = str_field(&event, &["session_id"]).unwrap_or_else(|| "unknown-session".into());
    let cwd = str_field(&event, &["cwd"]);
    if event_name != "PreToolUse" {
        let loc = crate::ctx::locate(cwd.as_deref());
        let project = loc.project.clone();
        let hctx = ctx_at(ctx, explicit_dir, &loc);
        let kind = match event_name.as_str() {
            "PostToolUse" => "post_tool",
            "SessionStart" | "SessionEnd" | "Stop" | "SubagentStop" => "session",
            _ => "agent_event",
        };
        let body = json!({
            "agent": "claude-code",
            "event": event_name,
            "session_id": session,
            "tool_name": event.get("tool_name"),
            "tool_input": event.get("tool_input"),
            "tool_response_summary": event.get("tool_response").map(|r| {
                let s = r.to_string();
                if s.len() > 512 { format!("{}…", &s[..s.char_indices().take(512).last().map(|(i, _)| i).unwrap_or(0)]) } else { s }
            }),
            "source": event.get("source"),
            "cwd": cwd,
        });
        if let Err(e) = record_event(&hctx, kind, body) {
            eprintln!("CAVRA could not record the {event_name} event: {e:#}");
        }
        if event_name == "SessionStart" {
            let out = json!({
                "hookSpecificOutput": {
                    "hookEventName": "SessionStart",
                    "additionalContext": pack_summary(args, &project),
                }
            });
            println!("{out}");
        }
        return Ok(0);
    }
    let tool = match str_field(&event, &["tool_name"]) {
        Some(t) => t,
        None => {
            eprintln!("CAVRA denied the tool call: the PreToolUse event has no `tool_name`");
            return Ok(2);
        }
    };
    let input = event.get("tool_input").cloned().unwrap_or(Value::Null);
    let call = ToolCall {
        agent: AgentKind::ClaudeCode,
        session_id: session,
        cwd,
        tool,
        input,
    };
    let v = decide_call(ctx, explicit_dir, args, &call);
    let decision = match v.kind {
        // no rule restricts the action: no permission decision, so Claude Code's own
        // permission settings still apply
        VerdictKind::NoOpinion => {
            crate::timing("answered");
            return Ok(0);
        }
        VerdictKind::Allow => "allow",
        VerdictKind::Deny => "deny",
        VerdictKind::Ask => "ask",
    };
    let out = json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": v.reason,
        }
    });
    println!("{out}");
    crate::timing("answered");
    Ok(0)
}

pub fn run(args: HookArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    match args.agent {
        Agent::ClaudeCode => claude_code(ctx, explicit_dir, &args),
        Agent::Codex => crate::agents::codex::hook(ctx, explicit_dir, &args),
        Agent::Gemini => crate::agents::gemini::hook(ctx, explicit_dir, &args),
        Agent::Cursor => crate::agents::cursor::hook(ctx, explicit_dir, &args),
        Agent::Copilot => crate::agents::copilot::hook(ctx, explicit_dir, &args),
    }
}
