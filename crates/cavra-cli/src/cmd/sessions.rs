//! `cavra sessions`: sessions put on hold after repeated or critical blocked attempts,
//! and their release by a human.

use cavra_store::{OffsetDateTime, SessionState};
use clap::{Args, Subcommand};

use crate::control::{authorize, AuthArgs, Control};
use crate::ctx::open_store;
use crate::ctx::Ctx;
use crate::output::{clip, print_json, table};
use cavra_runtime::control::session_json;

/// Inspect and release held sessions.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(subcommand)]
    pub command: SessionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List sessions with blocked attempts (held ones are flagged).
    List {
        /// Only sessions on hold.
        #[arg(long)]
        held: bool,
    },
    /// Show one session and its blocked attempts.
    Show { session_id: String },
    /// Release a held session (not by its own agent). A person confirms at their
    /// terminal, or passes an approver token.
    Release {
        session_id: String,
        /// A display label (the recorded identity is the authenticated one).
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
}

pub fn run(args: SessionsArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let now = OffsetDateTime::now_utc();
    let store = open_store(ctx, true)?;
    match args.command {
        SessionsCommand::List { held } => {
            let list: Vec<SessionState> = store
                .list_sessions()?
                .into_iter()
                .filter(|s| !held || s.held)
                .collect();
            if ctx.json {
                print_json(&serde_json::Value::Array(
                    list.iter().map(session_json).collect(),
                ))?;
            } else if list.is_empty() {
                println!("no sessions");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.session_id.clone(),
                            s.agent_id.clone(),
                            if s.held {
                                "HELD".into()
                            } else {
                                "active".into()
                            },
                            s.total_blocks.to_string(),
                            s.blocks
                                .first()
                                .map(|b| cavra_store::rfc3339(b.at))
                                .unwrap_or_else(|| "-".into()),
                            clip(s.held_reason.as_deref().unwrap_or("-"), 50),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            "SESSION",
                            "AGENT",
                            "STATE",
                            "BLOCKS",
                            "LAST BLOCK",
                            "HOLD REASON"
                        ],
                        &rows
                    )
                );
            }
        }
        SessionsCommand::Show { session_id } => {
            let s = store
                .session(&session_id)?
                .ok_or_else(|| cavra_store::StoreError::UnknownSession(session_id.clone()))?;
            if ctx.json {
                print_json(&session_json(&s))?;
            } else {
                println!("session_id    {}", s.session_id);
                println!("agent_id      {}", s.agent_id);
                println!("state         {}", if s.held { "HELD" } else { "active" });
                if let Some(r) = &s.held_reason {
                    println!("held_reason   {r}");
                }
                if let Some(t) = s.held_at {
                    println!("held_at       {}", cavra_store::rfc3339(t));
                }
                if let Some(by) = &s.released_by {
                    println!(
                        "released      by {by} at {}: {}",
                        s.released_at.map(cavra_store::rfc3339).unwrap_or_default(),
                        s.release_reason.as_deref().unwrap_or("")
                    );
                }
                println!("total_blocks  {}", s.total_blocks);
                for b in &s.blocks {
                    println!(
                        "  {} {} ({})",
                        cavra_store::rfc3339(b.at),
                        b.severity,
                        b.agent_id
                    );
                }
            }
        }
        SessionsCommand::Release {
            session_id,
            identity,
            reason,
            auth,
        } => {
            let cur = store
                .session(&session_id)?
                .ok_or_else(|| cavra_store::StoreError::UnknownSession(session_id.clone()))?;
            if !cur.held && !store.is_held(&session_id)? {
                return Err(cavra_store::StoreError::NotHeld(session_id).into());
            }
            anyhow::ensure!(
                !reason.trim().is_empty(),
                "invalid reason: must not be empty"
            );
            let ctrl = Control::new(
                format!("cavra sessions release {session_id}"),
                cavra_store::Role::Release,
            )
            .show("release", "lift the hold on this session")
            .show("agent", cur.agent_id.clone())
            .show(
                "held",
                cur.held_reason.clone().unwrap_or_else(|| "-".into()),
            )
            .show("blocks", cur.total_blocks.to_string())
            .show("reason", reason.clone());
            let who = authorize(&ctrl, &auth, identity.as_deref())?;
            let mut store = store.with_signer(who.signer(now)?);
            let s = ctx.runtime().release(
                &ctx.cavra_dir,
                &mut store,
                &session_id,
                &who.identity,
                &reason,
            )?;
            if ctx.json {
                print_json(&session_json(&s))?;
            } else {
                println!("released session {} by {}", s.session_id, who.identity);
            }
        }
    }
    Ok(0)
}
