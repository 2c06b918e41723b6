//! `cavra init <agent> [--project|--user]`: installs CAVRA's hook into the agent's settings
//! (merging, idempotent, with a backup of a changed file) and writes the starter `.cavra/`
//! layout (`policy.yaml` extending the baseline, `.gitignore`) when absent.

use crate::agents::{self, mcp_config, settings, Scope};
use crate::args::Agent;
use crate::ctx::{project_root, Ctx};
use crate::output::{mcp_json, print_mcp};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The agent to integrate with.
    #[arg(value_enum)]
    pub agent: Agent,
    /// Install into the user's settings (`$HOME/...`).
    #[arg(long, conflicts_with = "project")]
    pub user: bool,
    /// Install into the project's settings (the default).
    #[arg(long)]
    pub project: bool,
    /// The project directory (default: the repository containing the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Starter project policy: extends the bundled baseline.
pub const STARTER_POLICY: &str = "metadata:
  id: cavra-project
  title: Project policy
  version: 0.1.0
  extends: cavra-coding-baseline
# add rules/overrides here; see docs/policy-format.md
";

/// `.cavra/.gitignore`: local state that must not be committed.
pub const GITIGNORE: &str = "# CAVRA local state (written by `cavra init`)
evidence/
keys/
cavra.db*
cache/
";

fn write_if_absent(path: &Path, text: &str) -> Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create `{}`", d.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(true)
}

pub fn run(args: InitArgs, ctx: &Ctx, _explicit_dir: bool) -> Result<i32> {
    let scope = if args.user {
        Scope::User
    } else {
        Scope::Project
    };
    let project = project_root(args.dir.as_deref())?;
    let path = agents::settings_path(args.agent, scope, &project)?;
    let cmd = agents::hook_command(args.agent)?;
    let mcp_target = mcp_config::target(args.agent, scope, &project)?;
    // settings first: a malformed file stops everything before anything is written
    mcp_config::validate(&mcp_target)?;
    let out = settings::install(args.agent, &path, &cmd)?;
    // the hook install may have just backed up (or created) the same file
    let same_file = mcp_target.path() == Some(out.path.as_path());
    let mcp_backup = !(same_file && out.change != settings::Change::Unchanged);
    let mcp = mcp_config::install(&mcp_target, &mcp_config::exe()?, mcp_backup)?;
    let cavra = project.join(".cavra");
    let policy_path = cavra.join("policy.yaml");
    let policy_written = write_if_absent(&policy_path, STARTER_POLICY)?;
    let gitignore_written = write_if_absent(&cavra.join(".gitignore"), GITIGNORE)?;
    let policy_check = crate::packs::load(&Default::default(), Some(&project)).map(|(p, _)| {
        format!(
            "policy pack `{}` {} loads ({} rules)",
            p.id,
            p.version,
            p.rules.len()
        )
    });
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "agent": args.agent.kind(),
                "scope": scope.as_str(),
                "settings": out.path.display().to_string(),
                "change": out.change.as_str(),
                "backup": out.backup.as_ref().map(|b| b.display().to_string()),
                "hook_command": cmd,
                "events": settings::events(args.agent).iter().map(|(e, _)| *e).collect::<Vec<_>>(),
                "policy": policy_path.display().to_string(),
                "policy_written": policy_written,
                "gitignore_written": gitignore_written,
                "policy_ok": policy_check.is_ok(),
                "policy_error": policy_check.as_ref().err().map(|e| format!("{e:#}")),
                "mcp_server": mcp_json(&mcp_target, mcp.as_ref()),
            }))?
        );
    } else {
        println!(
            "{}: {} `{}` ({} scope)",
            args.agent.kind(),
            out.change.as_str(),
            out.path.display(),
            scope.as_str()
        );
        let evs: Vec<&str> = settings::events(args.agent)
            .iter()
            .map(|(e, _)| *e)
            .collect();
        println!("  hook: {cmd}  [events: {}]", evs.join(", "));
        if let Some(b) = &out.backup {
            println!("  backup of the previous file: `{}`", b.display());
        }
        println!(
            "  policy: `{}` {}",
            policy_path.display(),
            if policy_written {
                "written (extends cavra-coding-baseline)"
            } else {
                "kept (already present)"
            }
        );
        if gitignore_written {
            println!("  `.cavra/.gitignore` written (evidence/, keys/, cavra.db*, cache/)");
        }
        match &policy_check {
            Ok(s) => println!("  {s}"),
            Err(e) => println!("  warning: the project policy does not load: {e:#}"),
        }
        print_mcp(&mcp_target, mcp.as_ref());
        if args.agent == Agent::Gemini {
            println!("  note: Gemini CLI runs hooks only when hooks are enabled in its settings (see docs/integrations.md)");
        }
        println!("  run `cavra doctor` to check the installation");
    }
    Ok(if policy_check.is_ok() { 0 } else { 1 })
}
