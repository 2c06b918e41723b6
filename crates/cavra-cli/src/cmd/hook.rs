//! `cavra hook <agent>`: speaks each agent's hook protocol over stdin/stdout.
//!
//! Read the event from stdin (bounded) → the agent's adapter (`cavra-agents`) parses it into
//! tool calls in Claude Code's vocabulary, or an observation to record → each call is
//! decided (the tool mapping, the decision pipeline, a [`Verdict`]; the strictest wins) →
//! the adapter turns the verdict into the agent's answer → write it. Every failure fails
//! closed.

pub use crate::args::Agent;
use crate::args::PackArgs;
use crate::ctx::Ctx;
use anyhow::Result;
use cavra_agents::{Adapter, AdapterError, Answer, Observation, Parsed};
use clap::Args;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The agent whose hook protocol to speak.
    #[arg(value_enum)]
    pub agent: Agent,
    #[command(flatten)]
    pub packs: PackArgs,
    /// MCP trust registry file (reference shape).
    #[arg(long, value_name = "FILE", env = "CAVRA_REGISTRY")]
    pub registry: Option<PathBuf>,
    /// Headless: require-approval blocks with an approval request id instead of asking.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

pub use cavra_agents::MAX_PAYLOAD;
pub use cavra_core::hooks::{AgentKind, ToolCall, Verdict, VerdictKind};

use crate::ctx::{ctx_at, project_dir};

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
        host: crate::ctx::hostname(),
        exit_after: true,
        on_phase: Some(crate::timing),
        requested_by: None,
    }
}

/// Decides a tool call (every failure is a deny).
pub fn decide_call(ctx: &Ctx, explicit_dir: bool, args: &HookArgs, call: &ToolCall) -> Verdict {
    crate::failclosed::test_panic_trigger();
    ctx.runtime()
        .decide_call(call, &call_options(ctx, explicit_dir, args))
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
    let cavra = crate::ctx::locate_path(Some(project)).project_cavra_dir;
    cavra_runtime::packs::session_summary(&args.packs.choice(), Some(&cavra))
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
