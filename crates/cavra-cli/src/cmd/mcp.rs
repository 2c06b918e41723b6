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
    /// A Streamable HTTP upstream: its MCP endpoint (`http://HOST:PORT/mcp` or
    /// `https://…`). With --listen the proxy serves the same transport there; without, it
    /// serves the client over stdio (a bridge).
    #[arg(
        long,
        value_name = "URL",
        requires = "name",
        conflicts_with = "command"
    )]
    pub upstream: Option<String>,
    /// Serve Streamable HTTP here (`127.0.0.1:0`: a free port; the URL is printed on
    /// stdout). Without it, an --upstream is served over stdio.
    #[arg(long, value_name = "ADDR", requires = "upstream")]
    pub listen: Option<std::net::SocketAddr>,
    /// With --listen: end a session after this long without a request (`30m`, `2h`, …;
    /// default 30m): a DELETE upstream, and 404 for the client's next request with it.
    #[arg(long, value_name = "DURATION", requires = "listen", value_parser = parse_idle)]
    pub session_idle: Option<std::time::Duration>,
    /// A PEM bundle of a private CA to trust (besides the system's roots) for an https://
    /// upstream.
    #[arg(long, value_name = "PATH", requires = "upstream")]
    pub ca_file: Option<PathBuf>,
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

/// `--session-idle`: the workspace's duration grammar, at least a second.
fn parse_idle(s: &str) -> Result<std::time::Duration, String> {
    let d = cavra_core::duration::parse(s).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_secs(1) {
        return Err("at least 1s".into());
    }
    Ok(d)
}

pub fn run(args: McpArgs, ctx: &Ctx) -> Result<i32> {
    let (args, proxy) = match args.command {
        McpCommand::Serve(a) => (a, None),
        McpCommand::Proxy(p) => {
            // a wrapped HTTP entry's headers (`cavra init --wrap-mcp`): from the
            // environment, not the arguments (a token stays out of the process list)
            let headers = match (&p.upstream, std::env::var(cavra_setup::wrap::REMOTE_ENV)) {
                (Some(_), Ok(json)) => cavra_mcp::proxy::http::remote_headers(&json)
                    .map_err(cavra_mcp::proxy::ProxyError::from)?,
                _ => Vec::new(),
            };
            let up = p
                .upstream
                .map(|url| cavra_mcp::proxy::http::UpstreamOptions {
                    url,
                    ca_file: p.ca_file,
                    timeout: cavra_mcp::proxy::CALL_TIMEOUT,
                    headers,
                });
            let listen = p.listen.map(|l| (l, p.session_idle));
            (p.serve, Some((p.name, p.command, up, listen)))
        }
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
        if let Some(up) = upstream {
            let server = name.unwrap_or_default();
            let Some((listen, idle)) = listen else {
                return Ok(cavra_mcp::proxy::bridge::run_bridge_stdio(
                    rt,
                    s.gate(server, pid),
                    &up,
                )?);
            };
            if !listen.ip().is_loopback() {
                eprintln!("cavra mcp proxy: listening on {listen}, not a loopback address: anyone who can reach it can use the upstream server through CAVRA");
            }
            let url = up.url.clone();
            let options = cavra_mcp::proxy::http::HttpOptions {
                upstream: up,
                listen,
                session_idle: idle.unwrap_or(cavra_mcp::proxy::http::SESSION_IDLE),
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
