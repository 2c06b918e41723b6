//! `cavra repos list|show`: the repository inventory of a `cavra serve`
//! (`GET /v1/repositories`) through `cavra_client::control`, so it reads without curl.
//! The server is `--server URL`, else `$CAVRA_SERVER`; the credential a person's server
//! token (`--token`, else `$CAVRA_APPROVER_TOKEN_FILE`'s; an auditor's or admin's).

use clap::{Args, Subcommand};

use crate::ctx::Ctx;
use crate::output::print_view;

/// The repositories a `cavra serve` has seen: agents, pack, hook health.
#[derive(Debug, Args)]
pub struct ReposArgs {
    #[command(subcommand)]
    pub command: ReposCommand,
    /// The server (`http://HOST:PORT`); default $CAVRA_SERVER.
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Your server token (an auditor's or admin's); default the token in the file
    /// $CAVRA_APPROVER_TOKEN_FILE names.
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReposCommand {
    /// Every repository that sent a decision, the last seen first.
    List,
    /// One repository: agents, pack in force, decisions, offline queue and uploads, version.
    Show {
        /// The repository id (`repo-` and 16 hex digits; `repos list` shows them).
        id: String,
    },
}

pub fn run(args: ReposArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let url = args.server.or_else(|| var("CAVRA_SERVER")).ok_or_else(|| {
        anyhow::anyhow!("the inventory is the server's: pass --server URL or set CAVRA_SERVER")
    })?;
    let file = var(cavra_client::control::APPROVER_TOKEN_FILE);
    let server = cavra_client::control::Remote::from_settings(
        &url,
        args.token.as_deref(),
        file.as_deref().map(std::path::Path::new),
    )?;
    let doc = match args.command {
        ReposCommand::List => server.repositories()?,
        ReposCommand::Show { id } => server.repository(&id)?,
    };
    print_view(ctx, &doc)?;
    Ok(0)
}
