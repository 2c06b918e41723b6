//! `cavra hook <agent>`: speaks each agent's pre-tool-use hook protocol.
//!
//! The shared part maps a tool call (tool name + input, Claude Code vocabulary) to action
//! requests, runs the decision pipeline and returns a [`Verdict`]; each agent adapter parses
//! its own input format and writes its own output format. Every failure fails closed.

use crate::ctx::Ctx;
use crate::decide::{decide, DecideOptions, Decided};
use crate::packs::{self, PackChoice};
use anyhow::{anyhow, Context, Result};
use cavra_core::{ActionRequest, Actor, Outcome};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The agents CAVRA integrates with.
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
    pub fn kind(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
            Agent::Copilot => "copilot",
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

/// What the hook tells the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    Allow,
    Deny,
    Ask,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub reason: String,
}

impl Verdict {
    pub fn deny(reason: impl Into<String>) -> Verdict {
        Verdict {
            kind: VerdictKind::Deny,
            reason: reason.into(),
        }
    }
}

/// A tool call, normalized to Claude Code's tool vocabulary.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub agent: Agent,
    pub session_id: String,
    pub cwd: Option<String>,
    pub tool: String,
    pub input: Value,
}

pub(crate) use cavra_core::hooks::str_field;

/// Maps a tool call to the action requests it implies. `Err` = unknown tool or bad input.
pub fn map_tool(call: &ToolCall) -> std::result::Result<Vec<ActionRequest>, String> {
    cavra_core::hooks::map_tool(&call.tool, &call.input, call.cwd.as_deref())
}

/// Finds the repository root above `dir` (a directory containing `.git`).
pub fn find_repo_root(dir: &Path) -> Option<PathBuf> {
    let mut d = Some(dir);
    while let Some(x) = d {
        if x.join(".git").exists() {
            return Some(x.to_path_buf());
        }
        d = x.parent();
    }
    None
}

fn current_branch(repo: &Path) -> Option<String> {
    let head = std::fs::read_to_string(repo.join(".git").join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_string)
}

/// Project directory of a call: the repository containing its cwd, else the cwd (when it
/// exists), else the process's current directory.
pub fn project_dir(cwd: Option<&str>) -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match cwd.map(PathBuf::from) {
        Some(p) if p.is_dir() => find_repo_root(&p).unwrap_or(p),
        _ => find_repo_root(&here).unwrap_or(here),
    }
}

/// The CAVRA directory for a hook call: `--cavra-dir`/`$CAVRA_DIR`, else `<project>/.cavra`.
pub fn hook_ctx(ctx: &Ctx, explicit: bool, project: &Path) -> Ctx {
    let mut c = ctx.clone();
    if !explicit {
        c.cavra_dir = project.join(".cavra");
    }
    c
}

fn rank(v: VerdictKind) -> u8 {
    match v {
        VerdictKind::Allow => 0,
        VerdictKind::Ask => 1,
        VerdictKind::Deny => 2,
    }
}

/// Guidance text for the agent: what matched, why, what CAVRA inspected, what to do instead.
pub fn guidance(d: &Decided) -> String {
    let dec = &d.decision;
    let mut s = format!(
        "CAVRA {}: {}",
        dec.decision.as_str().replace('_', " "),
        dec.reason
    );
    s.push_str(&format!(
        " [rule {}, severity {}",
        dec.rule_id,
        dec.severity.as_str()
    ));
    if let Some(scope) = &dec.scope {
        s.push_str(&format!("; inspected {scope}"));
    }
    s.push(']');
    if let Some(alt) = &dec.alternative {
        s.push_str(&format!(". Safer alternative: {alt}"));
    }
    if let Some(id) = &d.approval_id {
        s.push_str(&format!(
            ". Approval request {id} is open for group `{}`: a person can approve it with `cavra approvals approve {id} --as <name> --reason <why>`, then retry the same action",
            dec.approver_group.clone().unwrap_or_default()
        ));
    }
    s
}

/// Decides a tool call.
pub fn decide_call(ctx: &Ctx, explicit_dir: bool, args: &HookArgs, call: &ToolCall) -> Verdict {
    match decide_call_inner(ctx, explicit_dir, args, call) {
        Ok(v) => v,
        Err(e) => Verdict::deny(format!("CAVRA failed closed: {e:#}")),
    }
}

fn decide_call_inner(
    ctx: &Ctx,
    explicit_dir: bool,
    args: &HookArgs,
    call: &ToolCall,
) -> Result<Verdict> {
    let reqs = map_tool(call).map_err(|e| anyhow!(e))?;
    let project = project_dir(call.cwd.as_deref());
    let ctx = hook_ctx(ctx, explicit_dir, &project);
    let choice = PackChoice {
        pack: args.packs.pack.clone(),
        policy: args.packs.policy.clone(),
        policy_dirs: args.packs.policy_dir.clone(),
    };
    crate::timing("payload read and mapped");
    let (pack, _) =
        packs::load(&choice, Some(&project)).context("the policy could not be loaded")?;
    crate::timing("pack loaded");
    let registry = args
        .registry
        .as_deref()
        .map(packs::load_registry)
        .transpose()?;
    let repo_root = call
        .cwd
        .as_deref()
        .map(Path::new)
        .filter(|p| p.is_dir())
        .and_then(find_repo_root);
    let branch = repo_root.as_deref().and_then(current_branch);
    let opts = DecideOptions {
        record: true,
        non_interactive: args.non_interactive,
        registry,
    };
    let mut best: Option<Verdict> = None;
    if reqs.is_empty() {
        return Ok(Verdict {
            kind: VerdictKind::Allow,
            reason: format!("CAVRA: tool `{}` touches nothing CAVRA guards", call.tool),
        });
    }
    for mut req in reqs {
        req.session_id = call.session_id.clone();
        req.actor = Actor {
            agent_id: format!("{}@{}", call.agent.kind(), hostname()),
            kind: call.agent.kind().to_string(),
        };
        req.cwd = call.cwd.clone();
        req.repo_root = repo_root.as_ref().map(|p| p.display().to_string());
        req.home = std::env::var("HOME").ok();
        req.git_branch = branch.clone();
        req.policy_pack = Some(pack.id.clone());
        let decided = decide(&ctx, &pack, &req, &opts)?;
        crate::timing("decided and recorded");
        let kind = match decided.decision.decision {
            Outcome::Allow | Outcome::Shadow | Outcome::BreakGlass => VerdictKind::Allow,
            Outcome::Block => VerdictKind::Deny,
            Outcome::RequireApproval => {
                if decided.approval_id.is_some() {
                    VerdictKind::Deny
                } else {
                    VerdictKind::Ask
                }
            }
        };
        let v = Verdict {
            kind,
            reason: guidance(&decided),
        };
        if best.as_ref().is_none_or(|b| rank(v.kind) > rank(b.kind)) {
            best = Some(v);
        }
    }
    best.ok_or_else(|| anyhow!("no decision"))
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
    if std::env::var_os("CAVRA_NO_EVIDENCE").is_some() {
        return Ok(());
    }
    let cfg = cavra_evidence::LogConfig::for_cavra_dir(&ctx.cavra_dir);
    let mut log = cavra_evidence::EvidenceLog::open(cfg)?;
    log.append(kind, &body)?;
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
        let project = project_dir(cwd.as_deref());
        let hctx = hook_ctx(ctx, explicit_dir, &project);
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
        agent: Agent::ClaudeCode,
        session_id: session,
        cwd,
        tool,
        input,
    };
    let v = decide_call(ctx, explicit_dir, args, &call);
    let decision = match v.kind {
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
