//! `cavra serve`: CAVRA's HTTP server. The server is `cavra-server`; this file resolves
//! its settings (flags over the `--config` file over the defaults) and prints the address.

use crate::args::PackArgs;
use crate::ctx::Ctx;
use anyhow::Result;
use cavra_server::{config, Database, FileConfig, Server, ServerConfig};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0: any free port) [default: 127.0.0.1:8700].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A SQLite file or sqlite://PATH [default: the CAVRA directory's cavra.db].
    #[arg(long, value_name = "URL", env = "CAVRA_DATABASE_URL")]
    pub database: Option<String>,
    /// The URL people reach the server at (held agents name it) [default: http://ADDR].
    #[arg(long, value_name = "URL", env = "CAVRA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Settings file (YAML): listen, public_url, database, log_format, body_limit_bytes, request_timeout_secs,
    /// auth (oidc: issuer, audience, jwks_file|jwks_url|discovery_url, groups_claim, roles,
    /// repositories; rbac_file). See docs/auth.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log lines on stderr: text or json [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    #[command(flatten)]
    pub packs: PackArgs,
    /// Headless: a require-approval decision opens an approval request.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

pub fn run(args: ServeArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let file = FileConfig::load(args.config.as_deref())?;
    let loc = crate::ctx::locate(None);
    let state = crate::ctx::ctx_at(ctx, explicit_dir, &loc);
    let database = match args.database.as_ref().or(file.database.as_ref()) {
        Some(url) => Database::parse(url)?,
        None => Database::Sqlite(state.db_path()),
    };
    let listen = args.listen.as_ref().or(file.listen.as_ref());
    let server = Server::bind(ServerConfig {
        listen: config::parse_listen(listen.map_or(config::DEFAULT_LISTEN, |l| l.as_str()))?,
        public_url: file.public_url(args.public_url.as_deref())?,
        database,
        cavra_dir: state.cavra_dir.clone(),
        approver_dir: cavra_store::approver_dir(),
        project: loc.project,
        locator: crate::ctx::locator(),
        packs: args.packs.choice(),
        org_pack: std::env::var_os("CAVRA_ORG_POLICY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        record: state.evidence,
        non_interactive: args.non_interactive,
        host: crate::ctx::hostname(),
        log_format: file.log_format(args.log_format.as_deref())?,
        body_limit: file.body_limit_bytes.unwrap_or(config::DEFAULT_BODY_LIMIT),
        request_timeout: file.request_timeout(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        auth: file.auth,
        connectors: file.connectors,
        posture: file.posture,
    })?;
    println!("cavra serve: listening on http://{}", server.local_addr()?);
    server.run()?;
    Ok(0)
}
