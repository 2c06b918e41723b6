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
    /// Enforce CAVRA in front of a stdio MCP server: `cavra mcp proxy --name NAME -- CMD…`.
    Proxy(ProxyArgs),
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The upstream server's name (its MCP registry id; default: the program's file name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The upstream server's command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
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
        McpCommand::Proxy(a) => {
            let (rt, s) = settings(a.serve, ctx);
            let server = a
                .name
                .unwrap_or_else(|| cavra_mcp::proxy::server_name(&a.command));
            Ok(cavra_mcp::proxy::run_stdio(
                rt,
                s.gate(server, std::process::id()),
                &a.command,
            )?)
        }
    }
}

fn settings(
    args: ServeArgs,
    ctx: &Ctx,
) -> (
    std::sync::Arc<std::sync::Mutex<cavra_runtime::Runtime>>,
    RuntimeSettings,
) {
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
    (state.shared_runtime(), settings)
}

fn serve(args: ServeArgs, ctx: &Ctx) -> Result<i32> {
    let (rt, settings) = settings(args, ctx);
    let backend = RuntimeBackend::new(rt, settings);
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
