//! `cavra mcp serve` (CAVRA's MCP server) and `cavra mcp proxy` (an enforcing proxy in front
//! of another server): both are `cavra-mcp`'s; this file parses the flags and resolves the
//! settings. Only these commands start an async runtime.

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
    /// Serve MCP over stdio: evaluate_action, check_*, explain_decision, policy_list, ...
    Serve(ServeArgs),
    /// Enforce CAVRA in front of an MCP server: `cavra mcp proxy --name NAME -- CMD…` (stdio)
    /// or `cavra mcp proxy --name NAME --upstream URL` (Streamable HTTP).
    Proxy(ProxyArgs),
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The upstream server's name (its MCP registry id; default: the program's file name;
    /// required with --upstream).
    #[arg(long)]
    pub name: Option<String>,
    /// A Streamable HTTP upstream: its MCP endpoint (`http://HOST:PORT/mcp`); the proxy
    /// serves the same transport on --listen.
    #[arg(
        long,
        value_name = "URL",
        requires = "name",
        conflicts_with = "command"
    )]
    pub upstream: Option<String>,
    /// Where the HTTP proxy listens (default 127.0.0.1 on a free port, printed on stdout).
    #[arg(long, value_name = "ADDR", requires = "upstream")]
    pub listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The upstream server's command and its arguments (a stdio upstream).
    #[arg(last = true, required_unless_present = "upstream")]
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
    let (args, proxy) = match args.command {
        McpCommand::Serve(a) => (a, None),
        McpCommand::Proxy(p) => (p.serve, Some((p.name, p.command, p.upstream, p.listen))),
    };
    let loc = crate::ctx::locate(None);
    // state: `--cavra-dir` / `$CAVRA_DIR`, else the project's `.cavra` (as the hook)
    let state = crate::ctx::ctx_at(ctx, ctx.explicit_dir, &loc);
    let s = RuntimeSettings {
        cavra_dir: state.cavra_dir.clone(),
        project: loc.project,
        locator: crate::ctx::locator(),
        packs: args.packs.choice(),
        registry: args.registry,
        record: state.evidence,
        non_interactive: args.non_interactive,
    };
    let (rt, pid) = (state.shared_runtime(), std::process::id());
    if let Some((name, cmd, upstream, listen)) = proxy {
        if let Some(url) = upstream {
            let server = name.unwrap_or_default();
            let listen = listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
            if !listen.ip().is_loopback() {
                eprintln!("cavra mcp proxy: listening on {listen}, not a loopback address: anyone who can reach it can use the upstream server through CAVRA");
            }
            let options = cavra_mcp::proxy::http::HttpOptions {
                upstream: url.clone(),
                listen,
                timeout: cavra_mcp::proxy::CALL_TIMEOUT,
            };
            let ready = |addr: std::net::SocketAddr| {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = writeln!(
                    out,
                    "cavra mcp proxy: listening on http://{addr}/mcp (upstream {url})"
                );
                let _ = out.flush();
            };
            return Ok(cavra_mcp::proxy::http::run_http(
                rt,
                s.gate(server, pid),
                options,
                ready,
            )?);
        }
        let server = name.unwrap_or_else(|| cavra_mcp::proxy::server_name(&cmd));
        return Ok(cavra_mcp::proxy::run_stdio(rt, s.gate(server, pid), &cmd)?);
    }
    let version = env!("CARGO_PKG_VERSION").to_string();
    let options = ServerOptions {
        version,
        session_id: format!("mcp-{pid}"),
    };
    cavra_mcp::serve_stdio(RuntimeBackend::new(rt, s), options)
        .map(|()| 0)
        .or_else(|e| {
            eprintln!("cavra mcp: {e}");
            Ok(1)
        })
}
