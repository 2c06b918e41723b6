//! `cavra rollout …` (and `cavra policy publish`, in `policy.rs`): pack versions published through the
//! server with review (docs/rollout.md). The server holds and decides everything; this
//! module parses the arguments and prints its documents (`cavra_client::rollout`).

use crate::args::ServerArgs;
use crate::ctx::Ctx;
use crate::output::print_view;
use anyhow::Result;
use cavra_client::rollout::Assign as Targets;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct RolloutArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: RolloutCommand,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Every pack version, the newest first, with where it is assigned.
    List,
    /// One version: review, replay, assignments and history (with evidence records).
    Show { id: String },
    /// Approve a draft (admin or approver, never its author): the server signs it.
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a draft.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Assign an approved version: to every repository, some, or those of a label.
    Assign {
        id: String,
        /// Every repository.
        #[arg(long)]
        all: bool,
        /// A repository (its id `repo-…` or its path; repeatable).
        #[arg(long = "repository", value_name = "ID|PATH")]
        repositories: Vec<String>,
        /// The repositories carrying this label (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Run in shadow beside the enforced version (recorded, never deciding).
        #[arg(long)]
        shadow: bool,
        /// The shadow run's period (`7d`, `12h`).
        #[arg(long, requires = "shadow", value_name = "DURATION")]
        shadow_for: Option<String>,
    },
    /// What a version in shadow would have changed: counts and examples.
    Shadow { id: String },
    /// Enforce a shadow run where it ran.
    Promote {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Roll back to an earlier version in one step.
    Rollback {
        /// The version to enforce again.
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

pub fn run(args: RolloutArgs, ctx: &Ctx) -> Result<i32> {
    use RolloutCommand::*;
    let r = args.server.remote()?;
    let doc = match args.command {
        List => r.list()?,
        Show { id } => r.show(&id)?,
        Approve { id, reason } => r.review(&id, "approve", reason.as_deref())?,
        Reject { id, reason } => r.review(&id, "reject", Some(&reason))?,
        Promote { id, reason } => r.review(&id, "promote", reason.as_deref())?,
        Shadow { id } => r.shadow(&id)?,
        Assign {
            id,
            all,
            repositories,
            labels,
            shadow,
            shadow_for,
        } => {
            let a = Targets {
                all,
                repositories,
                labels,
                mode: if shadow { "shadow" } else { "enforce" }.into(),
                shadow_for,
            };
            r.assign(&id, &a)?
        }
        Rollback { to, reason } => r.rollback(&to, reason.as_deref())?,
    };
    print_view(ctx, &doc).map(|()| 0)
}
