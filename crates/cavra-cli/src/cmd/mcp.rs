//! `cavra mcp serve`: CAVRA as a Model Context Protocol server over stdio.
//!
//! The server itself (protocol, framing, tools, the backend over `cavra-runtime`) is
//! `cavra-mcp`, on the rmcp SDK; this file parses the flags and resolves the settings.
//! Only this command starts an async runtime.

use crate::ctx::Ctx;
use anyhow::Result;
use cavra_mcp::{RuntimeBackend, RuntimeSettings, ServerOptions};
use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::args::PackArgs;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve MCP over stdio (newline-delimited JSON-RPC): tools cavra_evaluate,
    /// cavra_explain, cavra_check_command, cavra_policy_summary.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub packs: PackArgs,
    /// MCP trust registry file (reference shape: {"mcp_servers": [...]}).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Headless: a require-approval decision opens an approval request.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

pub fn run(args: McpArgs, ctx: &Ctx) -> Result<i32> {
    match args.command {
        McpCommand::Serve(a) => serve(a, ctx),
    }
}

fn serve(args: ServeArgs, ctx: &Ctx) -> Result<i32> {
    let loc = crate::ctx::locate(None);
    // state: `--cavra-dir` / `$CAVRA_DIR`, else the project's `.cavra` (as the hook)
    let state = crate::ctx::ctx_at(ctx, ctx.explicit_dir, &loc);
    let settings = RuntimeSettings {
        cavra_dir: state.cavra_dir.clone(),
        project: loc.project,
        locator: crate::ctx::locator(),
        packs: args.packs.choice(),
        registry: args.registry,
        record: state.evidence,
        non_interactive: args.non_interactive,
    };
    let backend = RuntimeBackend::new(state.shared_runtime(), settings);
    let options = ServerOptions {
        version: env!("CARGO_PKG_VERSION").to_string(),
        session_id: format!("mcp-{}", std::process::id()),
    };
    match cavra_mcp::serve_stdio(backend, options) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("cavra mcp: {e}");
            Ok(1)
        }
    }
}
