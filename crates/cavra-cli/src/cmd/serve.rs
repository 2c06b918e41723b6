//! `cavra serve`: CAVRA's HTTP server. The server is `cavra-server`; this file resolves
//! its settings (flags over the `--config` file over the defaults) and prints the address.

use crate::args::PackArgs;
use crate::ctx::Ctx;
use anyhow::{Context, Result};
use cavra_server::{config, Database, FileConfig, LogFormat, Server, ServerConfig};
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
    /// Settings file (YAML): listen, database, log_format, body_limit_bytes, request_timeout_secs,
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
    let file = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the config file `{}`", p.display()))?;
            FileConfig::parse(&text, &p.display().to_string())?
        }
        None => FileConfig::default(),
    };
    let loc = crate::ctx::locate(None);
    let state = crate::ctx::ctx_at(ctx, explicit_dir, &loc);
    let database = match args.database.or(file.database) {
        Some(url) => Database::parse(&url)?,
        None => Database::Sqlite(state.db_path()),
    };
    let mut auth = file.auth;
    // the reference's variable for the approver RBAC file; the config file's wins
    if auth.rbac_file.is_none() {
        auth.rbac_file = std::env::var_os("CAVRA_APPROVAL_RBAC_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
    }
    let listen = args.listen.or(file.listen);
    let log_format = args.log_format.or(file.log_format);
    let server = Server::bind(ServerConfig {
        listen: config::parse_listen(listen.as_deref().unwrap_or(config::DEFAULT_LISTEN))?,
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
        log_format: log_format
            .as_deref()
            .map(LogFormat::parse)
            .transpose()?
            .unwrap_or_default(),
        body_limit: file.body_limit_bytes.unwrap_or(config::DEFAULT_BODY_LIMIT),
        request_timeout: file.request_timeout_secs.map_or(
            config::DEFAULT_REQUEST_TIMEOUT,
            std::time::Duration::from_secs,
        ),
        version: env!("CARGO_PKG_VERSION").to_string(),
        auth,
    })?;
    println!("cavra serve: listening on http://{}", server.local_addr()?);
    server.run()?;
    Ok(0)
}
