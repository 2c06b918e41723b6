//! `cavra init <agent> [--project|--user]`: installs CAVRA's hook and MCP server entry into
//! the agent's settings and writes the starter `.cavra/` layout when absent
//! (`cavra_setup::install::init`); checks that the project policy loads, and prints.

use crate::args::{Agent, ScopeArgs};
use crate::ctx::{host, project_root, Ctx};
use crate::output::{print_json, print_mcp};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The agent to integrate with.
    #[arg(value_enum)]
    pub agent: Agent,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

pub fn run(args: InitArgs, ctx: &Ctx, _explicit_dir: bool) -> Result<i32> {
    let project = project_root(args.scope.dir.as_deref())?;
    let scope = args.scope.scope();
    let done = cavra_setup::install::init(args.agent.into(), scope, &project, &host())?;
    let policy = crate::packs::load(&Default::default(), Some(&project))
        .map(|(p, _)| {
            let n = p.rules.len();
            format!("policy pack `{}` {} loads ({n} rules)", p.id, p.version)
        })
        .map_err(|e| format!("{e:#}"));
    let code = if policy.is_ok() { 0 } else { 1 };
    if ctx.json {
        print_json(&done.document(&policy))?;
        return Ok(code);
    }
    let out = &done.hooks;
    let (kind, path) = (args.agent.kind(), out.path.display());
    println!(
        "{kind}: {} `{path}` ({} scope)",
        out.change.as_str(),
        scope.as_str()
    );
    println!(
        "  hook: {}  [events: {}]",
        done.hook_command,
        done.events().join(", ")
    );
    if let Some(b) = &out.backup {
        println!("  backup of the previous file: `{}`", b.display());
    }
    let policy_state = if done.policy_written {
        "written (extends cavra-coding-baseline)"
    } else {
        "kept (already present)"
    };
    println!("  policy: `{}` {policy_state}", done.policy.display());
    if done.gitignore_written {
        println!("  `.cavra/.gitignore` written (evidence/, keys/, cavra.db*, cache/)");
    }
    match &policy {
        Ok(s) => println!("  {s}"),
        Err(e) => println!("  warning: the project policy does not load: {e}"),
    }
    print_mcp(&done.plan.mcp_target, done.mcp.as_ref());
    if args.agent == Agent::Gemini {
        println!("  note: Gemini CLI runs hooks only when hooks are enabled in its settings (see docs/integrations.md)");
    }
    println!("  run `cavra doctor` to check the installation");
    Ok(code)
}
