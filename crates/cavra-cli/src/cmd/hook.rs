//! `cavra hook <agent>`: speaks each agent's hook protocol over stdin/stdout.
//!
//! Read the event from stdin (bounded) → the agent's adapter (`cavra-agents`) parses it into
//! tool calls in Claude Code's vocabulary, or an observation to record → each call is
//! decided (the tool mapping, the decision pipeline, a [`Verdict`]; the strictest wins) →
//! the adapter turns the verdict into the agent's answer → write it. Every failure fails
//! closed.

use crate::ctx::Ctx;
use crate::packs;
use anyhow::Result;
use cavra_agents::{Adapter, AdapterError, Answer, Observation, Parsed};
use clap::{Args, ValueEnum};
use serde_json::Value;
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

pub use cavra_agents::MAX_PAYLOAD;
pub use cavra_core::hooks::{AgentKind, ToolCall, Verdict, VerdictKind};

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

/// Reads the hook payload from stdin, bounded, and checks it is a JSON object.
pub fn read_payload() -> std::result::Result<Value, AdapterError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| AdapterError::Unreadable(format!("stdin: {e}")))?;
    cavra_agents::parse_payload(&buf)
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

/// Decides the tool calls one agent action implies; the strictest verdict wins. No calls =
/// nothing CAVRA guards = no opinion.
pub fn decide_all(ctx: &Ctx, explicit_dir: bool, args: &HookArgs, calls: &[ToolCall]) -> Verdict {
    Verdict::strictest(
        calls
            .iter()
            .map(|c| decide_call(ctx, explicit_dir, args, c)),
    )
    .unwrap_or_else(cavra_agents::nothing_guarded)
}

/// Records an observation (post-tool, session start/end, ...) in the evidence log of the
/// call's project. Failures are reported on stderr, never block the agent.
fn record(ctx: &Ctx, explicit_dir: bool, obs: &Observation) {
    let hctx = ctx_at(ctx, explicit_dir, &crate::ctx::locate(obs.cwd.as_deref()));
    if let Err(e) = record_event(&hctx, obs.record_kind.as_str(), obs.body.clone()) {
        eprintln!("CAVRA could not record the {} event: {e:#}", obs.event);
    }
}

/// Writes an answer: stdout (one line), stderr (one line); the exit code is returned.
fn write(answer: &Answer) -> i32 {
    if !answer.stdout.is_empty() {
        println!("{}", answer.stdout);
    }
    if !answer.stderr.is_empty() {
        eprintln!("{}", answer.stderr);
    }
    answer.exit_code
}

/// One hook call: stdin → adapter → decision → adapter → stdout/stderr and exit code.
pub fn run(args: HookArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let adapter = Adapter::new(args.agent.into());
    let parsed = read_payload().and_then(|event| {
        crate::timing("payload parsed");
        adapter.parse(&event)
    });
    let answer = match parsed {
        Err(e) => adapter.reject(&e),
        Ok(Parsed::Observed(obs)) => {
            record(ctx, explicit_dir, &obs);
            let context = obs
                .wants_context
                .then(|| pack_summary(&args, &project_dir(obs.cwd.as_deref())));
            adapter.observed(&obs, context.as_deref())
        }
        Ok(Parsed::Tool(tool_use)) => {
            let v = decide_all(ctx, explicit_dir, &args, &tool_use.calls);
            adapter.answer(&tool_use, &v)
        }
    };
    let code = write(&answer);
    crate::timing("answered");
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_agents_as_core_does() {
        for a in AgentKind::ALL {
            assert_eq!(Agent::from_str(a.as_str(), false), Ok(Agent::from(a)));
            assert_eq!(Agent::from(a).kind(), a.as_str());
            assert_eq!(AgentKind::from(Agent::from(a)), a);
        }
        for alias in ["claude", "gemini-cli", "copilot-cli"] {
            let clap = Agent::from_str(alias, false).ok().map(AgentKind::from);
            assert_eq!(clap, AgentKind::from_name(alias), "{alias}");
            assert!(clap.is_some(), "{alias}");
        }
        assert!(Agent::from_str("nobody", false).is_err());
    }
}
