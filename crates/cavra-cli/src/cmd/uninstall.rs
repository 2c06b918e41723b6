//! `cavra uninstall <agent> [--project|--user]`: removes exactly the hook entries and MCP
//! server entry `cavra init` added (`cavra_setup::install::Plan::uninstall`); everything else
//! stays, `.cavra/` too. An admin action: authorized first. No backup file is written unless
//! `--backup` is given.

use crate::args::{Agent, ScopeArgs};
use crate::control::{authorize, AuthArgs, Control};
use crate::ctx::{host, project_root, Ctx};
use crate::output::print_doc;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The agent whose CAVRA hook to remove.
    #[arg(value_parser = crate::args::agent_parser())]
    pub agent: Agent,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Keep a copy of each changed settings file (`<file>.cavra-backup-<timestamp>`);
    /// without it nothing is left behind in the repository.
    #[arg(long)]
    pub backup: bool,
    #[command(flatten)]
    pub auth: AuthArgs,
}

pub fn run(args: UninstallArgs, ctx: &Ctx) -> Result<i32> {
    let project = project_root(args.scope.dir.as_deref())?;
    let plan = cavra_setup::install::Plan::new(args.agent, args.scope.scope(), &project, &host())?;
    let kind = args.agent.kind();
    let change = format!("remove CAVRA's hook for {kind} (the agent then runs unguarded)");
    let action = Control::new(format!("cavra uninstall {kind}"), cavra_store::Role::Admin)
        .show("change", change)
        .show("settings", plan.settings.display().to_string());
    authorize(&action, &args.auth)?;
    let done = plan.uninstall(args.backup)?;
    print_doc(ctx.json, &done.document(), || done.text())?;
    Ok(0)
}
