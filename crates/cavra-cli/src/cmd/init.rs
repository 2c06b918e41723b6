//! `cavra init <agent> [--project|--user]`: installs CAVRA's hook and MCP server entry into
//! the agent's settings and writes the starter `.cavra/` layout when absent
//! (`cavra_setup::install::init`, which also writes its text); checks that the project
//! policy loads, and prints.

use crate::args::{Agent, ScopeArgs};
use crate::ctx::{host, project_root, Ctx};
use crate::output::print_doc;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The agent to integrate with.
    #[arg(value_parser = crate::args::agent_parser())]
    pub agent: Agent,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Also start the agent's other MCP servers (stdio, and remote Streamable HTTP ones)
    /// through `cavra mcp proxy` (docs/mcp.md).
    #[arg(long)]
    pub wrap_mcp: bool,
}

pub fn run(args: InitArgs, ctx: &Ctx) -> Result<i32> {
    let project = project_root(args.scope.dir.as_deref())?;
    let scope = args.scope.scope();
    let done =
        cavra_setup::install::init_with(args.agent, scope, &project, &host(), args.wrap_mcp)?;
    let policy = crate::packs::load(&Default::default(), Some(&project))
        .map(|(p, _)| {
            let n = p.rules.len();
            format!("policy pack `{}` {} loads ({n} rules)", p.id, p.version)
        })
        .map_err(|e| format!("{e:#}"));
    let code = if policy.is_ok() { 0 } else { 1 };
    print_doc(ctx.json, &done.document(&policy), || done.text(&policy))?;
    Ok(code)
}
