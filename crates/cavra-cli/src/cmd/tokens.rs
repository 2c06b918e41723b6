//! `cavra tokens`: the bearer tokens of `cavra serve` (issue, list, revoke). Issuing and
//! revoking are control actions (a person at the terminal, or an approver token with the
//! admin role; `cavra_runtime::tokens`), recorded as `token.*` evidence. A token is
//! printed once; the store keeps only its SHA-256.

use crate::control::{authorize, AuthArgs};
use crate::ctx::{open_store, Ctx};
use crate::output::{print_json, print_view, show};
use anyhow::Result;
use cavra_runtime::tokens;
use cavra_store::{ApiRole, OffsetDateTime, TeamOpener as _, TeamStore};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct TokensArgs {
    /// The server's database: a SQLite file, sqlite://PATH or postgres://… [default: the
    /// CAVRA directory's cavra.db].
    #[arg(long, value_name = "URL", env = "CAVRA_DATABASE_URL", global = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: TokensCommand,
}

/// The store the tokens live in: `--database` (the server's, SQLite or PostgreSQL), else
/// the CAVRA directory's.
fn token_store(ctx: &Ctx, database: Option<&str>) -> Result<Box<dyn TeamStore + Send>> {
    let Some(url) = database else {
        return Ok(Box::new(open_store(ctx, false)?));
    };
    let db = cavra_server::Database::parse(url)?;
    let opener = cavra_server::state::opener(&db, cavra_store::approver_dir())?;
    Ok(opener.open_team(&ctx.cavra_dir)?)
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token (printed once, on stdout alone): `--role admin|approver|auditor|agent`.
    Issue {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// Lifetime, e.g. 8h, 30d (default: until revoked).
        #[arg(long, value_name = "D")]
        ttl: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// List tokens (never the tokens themselves), newest first.
    List,
    /// Revoke a token.
    Revoke {
        id: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
}

pub fn run(args: TokensArgs, ctx: &Ctx) -> Result<i32> {
    let now = OffsetDateTime::now_utc();
    let mut store = token_store(ctx, args.database.as_deref())?;
    match args.command {
        TokensCommand::Issue {
            name,
            role,
            ttl,
            auth,
        } => {
            let role = ApiRole::parse(&role)?;
            let ttl = ttl
                .as_deref()
                .map(cavra_store::parse_duration)
                .transpose()?;
            let who = authorize(&tokens::issue_action(&name, role, ttl), &auth)?;
            let t = store.issue_api_token(&name, role, ttl, &who.identity, now)?;
            let kind = "token.issued";
            ctx.runtime()
                .record_token(&ctx.cavra_dir, kind, &t.record, &who)?;
            if ctx.json {
                print_json(&t.document())?;
            } else {
                let (id, name, role) = (&t.record.id, &t.record.name, role.as_str());
                eprintln!("cavra: issued {id} ({name}, role {role}); it is shown once, below");
                println!("{}", t.token);
            }
        }
        TokensCommand::List => {
            print_view(ctx, &tokens::tokens_doc(&store.list_api_tokens()?, now))?;
        }
        TokensCommand::Revoke { id, auth } => {
            let who = authorize(&tokens::revoke_action(&store.api_token(&id)?), &auth)?;
            let t = store.revoke_api_token(&id, &who.identity, now)?;
            let kind = "token.revoked";
            ctx.runtime().record_token(&ctx.cavra_dir, kind, &t, &who)?;
            let text = format!("revoked {} ({})", t.id, t.name);
            show(ctx.json, &t.json(), &text)?;
        }
    }
    Ok(0)
}
