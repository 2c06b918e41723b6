//! `cavra hook <agent>`: speaks each agent's hook protocol over stdin/stdout.
//!
//! Read the event from stdin (bounded) → the agent's adapter (`cavra-agents`) parses it into
//! tool calls in Claude Code's vocabulary, or an observation to record → each call is
//! decided (the tool mapping, the decision pipeline, a [`Verdict`]; the strictest wins) →
//! the adapter turns the verdict into the agent's answer → write it. Every failure fails
//! closed.

use crate::args::{Agent, PackArgs};
use crate::ctx::{ctx_at, locate, locate_path, locator, Ctx};
use anyhow::Result;
use cavra_agents::{Adapter, AdapterError, Answer, Observation, Parsed};
use cavra_client::mode::{offline_decision, offline_verdict, ServerMode};
use cavra_core::hooks::{ToolCall, Verdict};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The agent whose hook protocol to speak.
    #[arg(value_parser = crate::args::agent_parser())]
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

pub use cavra_core::hooks::AgentKind;

/// Decides the tool calls one agent action implies (every failure is a deny); the
/// strictest verdict wins. No calls = nothing CAVRA guards = no opinion.
fn decide_all(ctx: &Ctx, args: &HookArgs, calls: &[ToolCall]) -> Verdict {
    let opts = cavra_runtime::CallOptions {
        packs: args.packs.choice(),
        registry: args.registry.clone(),
        non_interactive: args.non_interactive,
        record: ctx.evidence,
        cavra_dir: ctx.explicit_dir.then(|| ctx.cavra_dir.clone()),
        locator: locator(),
        host: crate::ctx::hostname(),
        exit_after: true,
        on_phase: Some(crate::timing),
        requested_by: None,
        approvals: Default::default(),
    };
    let decide = |call| {
        crate::failclosed::test_panic_trigger();
        ctx.runtime().decide_call(call, &opts)
    };
    Verdict::strictest(calls.iter().map(decide)).unwrap_or_else(cavra_agents::nothing_guarded)
}

/// Reads the hook payload from stdin, bounded (the bytes, as the agent sent them).
fn read_payload() -> std::result::Result<Vec<u8>, AdapterError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(cavra_agents::MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| AdapterError::Unreadable(format!("stdin: {e}")))?;
    Ok(buf)
}

/// Records an observation (post-tool, session start/end, ...) in the evidence log of the
/// call's project. Failures are reported on stderr, never block the agent.
fn record(ctx: &Ctx, obs: &Observation) {
    let hctx = ctx_at(ctx, ctx.explicit_dir, &locate(obs.cwd.as_deref()));
    if !hctx.evidence {
        return;
    }
    let (kind, body) = (obs.record_kind.as_str(), &obs.body);
    let recorded = hctx.runtime().record_event(&hctx.cavra_dir, kind, body);
    if let Err(e) = recorded {
        let e = cavra_runtime::chain(&e);
        eprintln!("CAVRA could not record the {} event: {e}", obs.event);
    }
}

/// One hook call: stdin → adapter → decision → adapter → stdout/stderr and exit code. In
/// server mode (`CAVRA_SERVER`, docs/server.md) the server answers, under the project policy
/// sent along; unreachable, the server's cached floor tightens the local decision (queued).
pub fn run(args: HookArgs, ctx: &Ctx) -> Result<i32> {
    let adapter = Adapter::new(args.agent);
    let mode = ServerMode::from_env(&ctx.cavra_dir);
    crate::timing("server mode read");
    let answer = match (read_payload(), mode) {
        (Err(e), _) => adapter.reject(&e),
        (Ok(_), Some(Err(e))) => cavra_agents::fail_closed(
            Some(args.agent),
            &format!("CAVRA's server mode is misconfigured: {e}; the action was not allowed"),
        ),
        (Ok(raw), None) => local(ctx, &args, &adapter, &raw, None),
        (Ok(raw), Some(Ok(mode))) => {
            crate::timing("payload read");
            match mode.forward(args.agent, &raw, &args.packs.choice(), &locator()) {
                Ok(a) => {
                    let code = write(a.clone().into());
                    (mode.after(Some(&a)).iter()).for_each(|w| eprintln!("cavra: warning: {w}"));
                    return Ok(code);
                }
                Err(e @ cavra_client::ClientError::ProjectPolicy(_)) => {
                    cavra_agents::fail_closed(Some(args.agent), &e.to_string())
                }
                Err(e) => {
                    crate::timing("server not reached");
                    local(ctx, &args, &adapter, &raw, Some((&mode, e.to_string())))
                }
            }
        }
    };
    let code = write(answer);
    crate::timing("answered");
    Ok(code)
}

/// The answer: stdout (one line), stderr (one line); returns the exit code.
fn write(answer: Answer) -> i32 {
    if !answer.stdout.is_empty() {
        println!("{}", answer.stdout);
    }
    if !answer.stderr.is_empty() {
        eprintln!("{}", answer.stderr);
    }
    answer.exit_code
}

/// Decides here: without a server, or with one that could not be asked (`offline`: its
/// cached floor, verified, is the organisation pack; the answer says so; queued).
fn local(
    ctx: &Ctx,
    args: &HookArgs,
    adapter: &Adapter,
    raw: &[u8],
    offline: Option<(&ServerMode, String)>,
) -> Answer {
    let parsed = cavra_agents::parse_payload(raw).and_then(|event| {
        crate::timing("payload parsed");
        Ok((adapter.parse(&event)?, event))
    });
    match parsed {
        Err(e) => adapter.reject(&e),
        Ok((Parsed::Observed(obs), _)) => {
            record(ctx, &obs);
            // SessionStart: a short summary of what the active pack protects
            let summary = || {
                let project = locate(obs.cwd.as_deref()).project;
                let cavra = locate_path(Some(&project)).project_cavra_dir;
                cavra_runtime::packs::session_summary(&args.packs.choice(), Some(&cavra))
            };
            adapter.observed(&obs, obs.wants_context.then(summary).as_deref())
        }
        Ok((Parsed::Tool(tool_use), event)) => {
            let Some((mode, because)) = offline else {
                return adapter.answer(&tool_use, &decide_all(ctx, args, &tool_use.calls));
            };
            let v = match mode.offline_pack() {
                Err(e) => Verdict::deny(format!("CAVRA could not ask its server ({because}) and has no usable cached server policy ({e}); the action was not allowed")),
                Ok(pack) => {
                    crate::timing("cached server pack verified");
                    let digest = pack.digest.clone();
                    ctx.runtime().set_org_pack(Some(cavra_runtime::org::OrgPack::Digest(pack)));
                    let v = offline_verdict(decide_all(ctx, args, &tool_use.calls), &because);
                    let queued = offline_decision(args.agent.as_str(), &v, &because, &digest, event);
                    if let Err(e) = mode.queue(&queued) {
                        eprintln!("cavra: warning: {e}");
                    }
                    crate::timing("queued");
                    v
                }
            };
            adapter.answer(&tool_use, &v)
        }
    }
}
