//! `cavra approvals`: list, show, approve, deny, break-glass and expire approval requests
//! held in the store (the runtime's `views` and `actions`; this file parses and prints).

use std::time::Duration;

use anyhow::Context;
use cavra_runtime::actions::{BreakGlassRequest, DecideRequest, Verdict};
use cavra_runtime::views::{self, ApprovalFilter};
use cavra_store::OffsetDateTime;
use clap::{Args, Subcommand};

use crate::control::ActorArgs;
use crate::ctx::{open_store, Ctx};
use crate::output::print_view;

/// Manage approval requests and break-glass overrides.
#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List approval requests and break-glass records (newest first).
    List {
        /// Only this state: pending, approved, denied, expired or break_glass.
        #[arg(long, value_name = "STATE")]
        status: Option<String>,
    },
    /// Show one approval or break-glass record.
    Show { id: String },
    /// Approve a pending request (never by its own requester or agent). A person
    /// confirms at their terminal, or passes an approver token.
    Approve {
        #[command(flatten)]
        decide: DecideArgs,
        /// How many times the approval may be used (default 1).
        #[arg(long, value_name = "N")]
        uses: Option<u32>,
    },
    /// Deny a pending request.
    Deny(DecideArgs),
    /// Record a time-boxed break-glass override for one action type and target pattern
    /// (or one exact request), loudly flagged everywhere.
    BreakGlass {
        #[command(flatten)]
        by: ActorArgs,
        /// Why the override is needed (recorded).
        #[arg(long)]
        reason: String,
        /// The exact request to unblock.
        #[arg(long, value_name = "HASH")]
        request_hash: Option<String>,
        /// Action type (glob) to unblock, with --target.
        #[arg(long = "action", value_name = "TYPE", requires = "target")]
        action_type: Option<String>,
        /// Target glob to unblock, with --action.
        #[arg(long, value_name = "GLOB", requires = "action_type")]
        target: Option<String>,
        /// Lifetime, e.g. 30m, 1h (default 1h; at most the pack's max_break_glass_ttl).
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Mark every request whose time is up as expired.
    Expire,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The approval request's id.
    id: String,
    /// Why (recorded with the decision).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    by: ActorArgs,
}

pub fn run(args: ApprovalsArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let now = OffsetDateTime::now_utc();
    let mut store = open_store(ctx, true)?;
    let (dir, mut rt) = (&ctx.cavra_dir, ctx.runtime());
    let mut decide = |d: DecideArgs, verdict, uses| {
        let req = DecideRequest {
            id: d.id,
            verdict,
            reason: d.reason,
            uses,
        };
        let done = rt.decide_approval(dir, &mut store, req, &d.by)?;
        anyhow::Ok(views::decided_doc(&done, verdict))
    };
    let doc = match args.command {
        ApprovalsCommand::Approve { decide: d, uses } => decide(d, Verdict::Approve, uses)?,
        ApprovalsCommand::Deny(d) => decide(d, Verdict::Deny, None)?,
        ApprovalsCommand::List { status } => {
            views::approvals_doc(&views::approvals(&store, &ApprovalFilter { status }, now)?)
        }
        ApprovalsCommand::Show { id } => views::approval(&store, &id, now)?.doc(),
        ApprovalsCommand::BreakGlass {
            by,
            reason,
            request_hash,
            action_type,
            target,
            ttl,
        } => {
            let project = crate::ctx::locate(None).project;
            let (pack, _) = crate::packs::load(&Default::default(), Some(&project))
                .context("the policy could not be loaded (it sets the longest break-glass TTL)")?;
            let max_ttl = Duration::from_secs(pack.defaults.max_break_glass_ttl_secs);
            let req = BreakGlassRequest {
                reason,
                request_hash,
                action_type,
                target,
                ttl,
                max_ttl,
            };
            let done = rt.break_glass_as(dir, &mut store, req, &by)?;
            let doc = views::break_glass_doc(&done.result);
            print_view(ctx, &doc)?;
            if !ctx.json {
                eprintln!("cavra: warning: break-glass overrides policy; it is logged and will be reviewed");
            }
            return Ok(0);
        }
        ApprovalsCommand::Expire => views::expired_doc(&rt.expire(dir, &mut store)?),
    };
    print_view(ctx, &doc)?;
    Ok(0)
}
