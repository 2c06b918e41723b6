//! `cavra sessions`: sessions put on hold after repeated or critical blocked attempts,
//! and their release by a human (the runtime's `views` and `actions`).

use cavra_runtime::actions::ReleaseRequest;
use cavra_runtime::views::{self, SessionFilter};
use clap::{Args, Subcommand};

use crate::control::ActorArgs;
use crate::ctx::{open_store, Ctx};
use crate::output::print_view;

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
        /// Why the hold is lifted (recorded).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        by: ActorArgs,
    },
}

pub fn run(args: SessionsArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let mut store = open_store(ctx, true)?;
    let doc = match args.command {
        SessionsCommand::List { held } => {
            views::sessions_doc(&views::sessions(&store, SessionFilter { held })?)
        }
        SessionsCommand::Show { session_id } => {
            views::session_doc(&views::session(&store, &session_id)?)
        }
        SessionsCommand::Release {
            session_id,
            reason,
            by,
        } => {
            let req = ReleaseRequest { session_id, reason };
            let done = ctx
                .runtime()
                .release_as(&ctx.cavra_dir, &mut store, req, &by)?;
            views::released_doc(&done)
        }
    };
    print_view(ctx, &doc)?;
    Ok(0)
}
