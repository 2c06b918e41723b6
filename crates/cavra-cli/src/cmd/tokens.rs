//! `cavra tokens`: the bearer tokens of `cavra serve` (issue, list, revoke). Issuing and
//! revoking are control actions (a person at the terminal, or an approver token with the
//! admin role), recorded as `token.*` evidence. A token is printed once; the store keeps
//! only its SHA-256.

use crate::control::{authorize, AuthArgs, Control};
use crate::ctx::{open_store, Ctx};
use crate::output::{print_json, print_list};
use anyhow::Result;
use cavra_store::{ApiRole, ApiToken, OffsetDateTime, Role};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
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
    let mut store = open_store(ctx, false)?;
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
            let ctrl = Control::new("cavra tokens issue", Role::Admin)
                .show(
                    "token",
                    format!("a `cavra serve` bearer token named `{name}`"),
                )
                .show("role", role.as_str())
                .show(
                    "ttl",
                    ttl.map_or("until revoked".into(), |t| format!("{}s", t.as_secs())),
                );
            let who = authorize(&ctrl, &auth, None)?;
            let t = store.issue_api_token(&name, role, ttl, &who.identity, now)?;
            let body = json!({"token": t.record.json(), "by": who.json()});
            ctx.runtime()
                .record_transition(&ctx.cavra_dir, "token.issued", &body)?;
            if ctx.json {
                print_json(&t.document())?;
            } else {
                eprintln!(
                    "cavra: issued {} ({}, role {}); it is shown once, below",
                    t.record.id,
                    t.record.name,
                    role.as_str()
                );
                println!("{}", t.token);
            }
        }
        TokensCommand::List => {
            let list = store.list_api_tokens()?;
            let headers = ["ID", "NAME", "ROLE", "STATE", "EXPIRES", "BY"];
            print_list(
                ctx.json,
                &list,
                ApiToken::json,
                "no tokens",
                &headers,
                |t| {
                    let expires = t.expires_at.map_or("-".into(), cavra_store::rfc3339);
                    let (id, name, by) = (t.id.clone(), t.name.clone(), t.created_by.clone());
                    vec![
                        id,
                        name,
                        t.role.as_str().into(),
                        t.state(now).into(),
                        expires,
                        by,
                    ]
                },
            )?;
        }
        TokensCommand::Revoke { id, auth } => {
            let t = store.api_token(&id)?;
            let ctrl = Control::new(format!("cavra tokens revoke {id}"), Role::Admin).show(
                "token",
                format!("{} ({}, role {})", t.id, t.name, t.role.as_str()),
            );
            let who = authorize(&ctrl, &auth, None)?;
            let t = store.revoke_api_token(&id, &who.identity, now)?;
            let body = json!({"token": t.json(), "by": who.json()});
            ctx.runtime()
                .record_transition(&ctx.cavra_dir, "token.revoked", &body)?;
            if ctx.json {
                print_json(&t.json())?;
            } else {
                println!("revoked {} ({})", t.id, t.name);
            }
        }
    }
    Ok(0)
}
