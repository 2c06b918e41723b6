//! Subcommands: one file each. `run` dispatches and returns the process exit code.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::ctx::Ctx;

pub mod approvals;
pub mod ci;
pub mod demo;
pub mod doctor;
pub mod evaluate;
pub mod evidence;
pub mod hook;
pub mod init;
pub mod keys;
pub mod mcp;
pub mod policy;
pub mod posture;
pub mod registry;
pub mod release;
pub mod repos;
pub mod rollout;
pub mod serve;
pub mod sessions;
pub mod tokens;
pub mod uninstall;

/// CAVRA: before the agent acts, CAVRA decides.
#[derive(Debug, Parser)]
#[command(name = "cavra", version, about, propagate_version = true)]
pub struct Cli {
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// The project's CAVRA directory (default `.cavra`, or $CAVRA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub cavra_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide one action: `cavra evaluate read_file .env`, `cavra evaluate execute_command "git push --force"`.
    Evaluate(evaluate::EvaluateArgs),
    /// Why an action gets its decision, which rules matched, what would change it.
    Explain(evaluate::ExplainArgs),
    /// Policy packs: list, show, validate, compile, diff, test, sign, verify.
    Policy(policy::PolicyArgs),
    /// Speak an agent's pre-tool-use hook protocol (stdin event, stdout answer).
    Hook(hook::HookArgs),
    /// Approval requests and break-glass overrides.
    Approvals(approvals::ApprovalsArgs),
    /// The tamper-evident decision log: verify, prove, bundle, search, export, prune.
    Evidence(evidence::EvidenceArgs),
    /// Evidence signing keys and trust roots.
    Keys(keys::KeysArgs),
    /// Agent and MCP trust registries.
    Registry(registry::RegistryArgs),
    /// Sessions held after repeated or critical blocked attempts.
    Sessions(sessions::SessionsArgs),
    /// Pack versions published through the server: review, assign, shadow, promote, roll back.
    Rollout(rollout::RolloutArgs),
    /// Install CAVRA's hook into an agent's settings (and a starter `.cavra/` layout).
    Init(init::InitArgs),
    /// Remove exactly the hook entries `cavra init` added.
    Uninstall(uninstall::UninstallArgs),
    /// Check the installation: binary, agent hooks, policy, evidence log, approvals store.
    Doctor(doctor::DoctorArgs),
    /// CAVRA as an MCP server over stdio (`cavra mcp serve`): tools to evaluate actions.
    Mcp(mcp::McpArgs),
    /// CAVRA's HTTP server: decisions, hooks and approvals over HTTP (docs/server.md).
    Serve(serve::ServeArgs),
    /// Bearer tokens of `cavra serve`: issue, list, revoke.
    Tokens(tokens::TokensArgs),
    /// The repository inventory of a `cavra serve`: list, show (through the server).
    Repos(repos::ReposArgs),
    /// Posture: findings, control coverage and a score; `gate` for CI (docs/posture.md).
    Posture(posture::PostureArgs),
    #[command(flatten)]
    Release(release::ReleaseCommand),
    /// CI enforcement: `cavra ci check --base origin/main` fails a change the hook would have stopped.
    #[command(subcommand)]
    Ci(ci::CiCommand),
    /// The scenario: an agent stopped before it acts, in a scratch repository (README).
    Demo(demo::DemoArgs),
}

/// The hook's own small parser (same flags as `cavra hook`), used on the hot path.
#[derive(Debug, Parser)]
#[command(name = "cavra")]
pub struct HookCli {
    #[arg(long, global = true)]
    pub json: bool,
    #[arg(long, global = true, value_name = "DIR")]
    pub cavra_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: HookOnly,
}

#[derive(Debug, Subcommand)]
pub enum HookOnly {
    Hook(hook::HookArgs),
}

impl HookCli {
    /// Parses `cavra [--json] [--cavra-dir D] hook AGENT [--non-interactive] [--pack ID]
    /// [--policy FILE] [--policy-dir DIR]... [--registry FILE]` without clap; `None` for
    /// anything else (clap then parses it and reports errors).
    pub fn parse_fast(args: &[String]) -> Option<HookCli> {
        let mut json = false;
        let mut cavra_dir = None;
        let mut i = 1;
        while i < args.len() && args[i] != "hook" {
            match args[i].as_str() {
                "--json" => json = true,
                "--cavra-dir" => {
                    cavra_dir = Some(PathBuf::from(args.get(i + 1)?));
                    i += 1;
                }
                _ => return None,
            }
            i += 1;
        }
        let agent = hook::AgentKind::from_name(args.get(i + 1)?)?;
        let env_bool = |k: &str| {
            std::env::var(k).ok().is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on" | "y"
                )
            })
        };
        let mut hook = hook::HookArgs {
            agent,
            packs: crate::args::PackArgs::default(),
            registry: std::env::var_os("CAVRA_REGISTRY").map(PathBuf::from),
            non_interactive: env_bool("CAVRA_NON_INTERACTIVE"),
        };
        let mut j = i + 2;
        while j < args.len() {
            let val = || args.get(j + 1).cloned();
            match args[j].as_str() {
                "--non-interactive" => hook.non_interactive = true,
                "--json" => json = true,
                "--pack" => {
                    hook.packs.pack = Some(val()?);
                    j += 1;
                }
                "--policy" => {
                    hook.packs.policy = Some(PathBuf::from(val()?));
                    j += 1;
                }
                "--policy-dir" => {
                    hook.packs.policy_dir.push(PathBuf::from(val()?));
                    j += 1;
                }
                "--registry" => {
                    hook.registry = Some(PathBuf::from(val()?));
                    j += 1;
                }
                "--cavra-dir" => {
                    cavra_dir = Some(PathBuf::from(val()?));
                    j += 1;
                }
                _ => return None,
            }
            j += 1;
        }
        if hook.packs.pack.is_some() && hook.packs.policy.is_some() {
            return None;
        }
        Some(HookCli {
            json,
            cavra_dir,
            command: HookOnly::Hook(hook),
        })
    }

    pub fn run(self) -> anyhow::Result<i32> {
        let HookOnly::Hook(args) = self.command;
        hook::run(args, &Ctx::new(self.json, self.cavra_dir))
    }
}

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let ctx = Ctx::new(cli.json, cli.cavra_dir);
    match cli.command {
        Command::Evaluate(args) => evaluate::run(args, &ctx),
        Command::Explain(args) => evaluate::explain(args, &ctx),
        Command::Policy(args) => policy::run(args, &ctx),
        Command::Hook(args) => hook::run(args, &ctx),
        Command::Approvals(args) => approvals::run(args, &ctx),
        Command::Evidence(args) => evidence::run(args, &ctx),
        Command::Keys(args) => keys::run(args, &ctx),
        Command::Registry(args) => registry::run(args, &ctx),
        Command::Sessions(args) => sessions::run(args, &ctx),
        Command::Rollout(args) => rollout::run(args, &ctx),
        Command::Init(args) => init::run(args, &ctx),
        Command::Uninstall(args) => uninstall::run(args, &ctx),
        Command::Doctor(args) => doctor::run(args, &ctx),
        Command::Mcp(args) => mcp::run(args, &ctx),
        Command::Serve(args) => serve::run(args, &ctx, ctx.explicit_dir),
        Command::Tokens(args) => tokens::run(args, &ctx),
        Command::Repos(args) => repos::run(args, &ctx),
        Command::Posture(args) => posture::run(args, &ctx),
        Command::Release(c) => release::run(c, &ctx),
        Command::Ci(args) => ci::run(args, &ctx),
        Command::Demo(args) => demo::run(args, &ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn fast_hook_parse_agrees_with_clap() {
        for line in [
            "cavra hook claude-code",
            "cavra hook claude",
            "cavra --cavra-dir /x hook codex --non-interactive",
            "cavra hook gemini --pack strict --policy-dir a --policy-dir b --registry r.json",
            "cavra --json hook cursor --policy p.yaml",
        ] {
            let fast = HookCli::parse_fast(&v(line)).unwrap_or_else(|| panic!("{line}"));
            let slow = HookCli::try_parse_from(v(line)).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{line}");
        }
        for line in [
            "cavra hook",
            "cavra hook nobody",
            "cavra hook claude-code --frobnicate",
            "cavra hook claude-code --pack",
            "cavra hook claude-code --pack a --policy b",
            "cavra evaluate read_file x",
        ] {
            assert!(HookCli::parse_fast(&v(line)).is_none(), "{line}");
        }
    }
}
