//! `cavra uninstall <agent> [--project|--user]`: removes exactly the hook entries `cavra init`
//! added (recognised by their `cavra hook <agent>` command); everything else stays. The
//! `.cavra/` directory (policy, evidence) is left alone. No backup file is written unless
//! `--backup` is given.

use crate::agents::{self, mcp_config, settings, Scope};
use crate::args::Agent;
use crate::ctx::{project_root, Ctx};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The agent whose CAVRA hook to remove.
    #[arg(value_enum)]
    pub agent: Agent,
    /// Remove from the user's settings (`$HOME/...`).
    #[arg(long, conflicts_with = "project")]
    pub user: bool,
    /// Remove from the project's settings (the default).
    #[arg(long)]
    pub project: bool,
    /// The project directory (default: the repository containing the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep a copy of each changed settings file (`<file>.cavra-backup-<timestamp>`);
    /// without it nothing is left behind in the repository.
    #[arg(long)]
    pub backup: bool,
    #[command(flatten)]
    pub auth: crate::control::AuthArgs,
}

pub fn run(args: UninstallArgs, ctx: &Ctx) -> Result<i32> {
    let scope = if args.user {
        Scope::User
    } else {
        Scope::Project
    };
    let project = project_root(args.dir.as_deref())?;
    let path = agents::settings_path(args.agent, scope, &project)?;
    let mcp_target = mcp_config::target(args.agent, scope, &project)?;
    mcp_config::validate(&mcp_target)?;
    crate::control::authorize(
        &crate::control::Control::new(
            format!("cavra uninstall {}", args.agent.kind()),
            cavra_store::Role::Admin,
        )
        .show(
            "change",
            format!(
                "remove CAVRA's hook for {} (the agent then runs unguarded)",
                args.agent.kind()
            ),
        )
        .show("settings", path.display().to_string()),
        &args.auth,
        None,
    )?;
    let out = settings::uninstall(args.agent, &path, args.backup)?;
    // the hook removal may have just backed up the same file
    let same_file = mcp_target.path() == Some(out.path.as_path());
    let mcp_backup = args.backup && !(same_file && out.backup.is_some());
    let mcp = mcp_config::uninstall(&mcp_target, mcp_backup)?;
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "agent": args.agent.kind(),
                "scope": scope.as_str(),
                "settings": out.path.display().to_string(),
                "change": out.change.as_str(),
                "backup": out.backup.as_ref().map(|b| b.display().to_string()),
                "mcp_server": crate::output::mcp_json(&mcp_target, mcp.as_ref()),
            }))?
        );
    } else {
        println!(
            "{}: {} in `{}`",
            args.agent.kind(),
            out.change.as_str(),
            out.path.display()
        );
        if let Some(b) = &out.backup {
            println!("  backup of the previous file: `{}`", b.display());
        }
        if out.change == settings::Change::NotPresent {
            println!("  nothing of CAVRA's was installed there");
        }
        crate::output::print_mcp(&mcp_target, mcp.as_ref());
    }
    Ok(0)
}
