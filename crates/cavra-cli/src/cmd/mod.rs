//! Subcommands: one file each. `run` dispatches and returns the process exit code.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::ctx::Ctx;

pub mod approvals;
pub mod doctor;
pub mod evaluate;
pub mod evidence;
pub mod hook;
pub mod init;
pub mod keys;
pub mod policy;
pub mod registry;
pub mod replay;
pub mod sessions;
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
    /// Install CAVRA's hook into an agent's settings (and a starter `.cavra/` layout).
    Init(init::InitArgs),
    /// Remove exactly the hook entries `cavra init` added.
    Uninstall(uninstall::UninstallArgs),
    /// Check the installation: binary, agent hooks, policy, evidence log, approvals store.
    Doctor(doctor::DoctorArgs),
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
    pub fn run(self) -> anyhow::Result<i32> {
        let explicit_dir = self.cavra_dir.is_some() || std::env::var_os("CAVRA_DIR").is_some();
        let ctx = Ctx::new(self.json, self.cavra_dir);
        let HookOnly::Hook(args) = self.command;
        hook::run(args, &ctx, explicit_dir)
    }
}

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let explicit_dir = cli.cavra_dir.is_some() || std::env::var_os("CAVRA_DIR").is_some();
    let ctx = Ctx::new(cli.json, cli.cavra_dir);
    match cli.command {
        Command::Evaluate(args) => evaluate::run(args, &ctx),
        Command::Explain(args) => evaluate::explain(args, &ctx),
        Command::Policy(args) => policy::run(args, &ctx),
        Command::Hook(args) => hook::run(args, &ctx, explicit_dir),
        Command::Approvals(args) => approvals::run(args, &ctx),
        Command::Evidence(args) => evidence::run(args, &ctx),
        Command::Keys(args) => keys::run(args, &ctx),
        Command::Registry(args) => registry::run(args, &ctx),
        Command::Sessions(args) => sessions::run(args, &ctx),
        Command::Init(args) => init::run(args, &ctx, explicit_dir),
        Command::Uninstall(args) => uninstall::run(args, &ctx),
        Command::Doctor(args) => doctor::run(args, &ctx, explicit_dir),
    }
}
