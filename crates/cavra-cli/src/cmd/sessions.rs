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
    use SessionsCommand::*;
    let token = match &args.command {
        Release { by, .. } => by.auth.token.as_deref(),
        _ => None,
    };
    // with CAVRA_SERVER the server holds the sessions (cavra_client::control)
    if let Some(server) = cavra_client::control::Remote::from_env(token)? {
        let doc = match args.command {
            List { held } => server.sessions(held)?,
            Show { session_id } => server.session(&session_id)?,
            Release {
                session_id, reason, ..
            } => server.release(&ReleaseRequest { session_id, reason })?,
        };
        return print_view(ctx, &doc).map(|()| 0);
    }
    let mut store = open_store(ctx, true)?;
    let doc = match args.command {
        List { held } => views::sessions_doc(&views::sessions(&store, SessionFilter { held })?),
        Show { session_id } => views::session_doc(&views::session(&store, &session_id)?),
        Release {
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
