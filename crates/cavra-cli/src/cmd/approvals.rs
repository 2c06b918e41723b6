//! `cavra approvals`: list, show, approve, deny, break-glass and expire approval requests
//! held in the store (the runtime's `views` and `actions`; this file parses and prints).

use anyhow::Context;
use cavra_runtime::actions::{BreakGlassRequest, DecideRequest, Verdict};
use cavra_runtime::packs::max_break_glass_ttl;
use cavra_runtime::views::{self, ApprovalFilter};
use cavra_store::OffsetDateTime;
use clap::{Args, Subcommand};

use crate::control::ActorArgs;
use crate::ctx::{open_store, Ctx};
use crate::output::print_view;
use cavra_client::control::{self, Remote};

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
    use ApprovalsCommand::*;
    let (now, glass) = (
        OffsetDateTime::now_utc(),
        matches!(args.command, BreakGlass { .. }),
    );
    let by = match &args.command {
        Approve { decide: d, .. } | Deny(d) => Some(&d.by),
        BreakGlass { by, .. } => Some(by),
        _ => None,
    };
    // with CAVRA_SERVER the server owns the approvals (cavra_client::control)
    let doc = if let Some(server) = Remote::from_env(by.and_then(|b| b.auth.token.as_deref()))? {
        remote(args.command, &server)?
    } else {
        let mut store = open_store(ctx, true)?;
        let (dir, mut rt) = (&ctx.cavra_dir, ctx.runtime());
        let mut decide = |d: DecideArgs, verdict, uses| {
            let done = rt.decide_approval(dir, &mut store, d.request(verdict, uses), &d.by)?;
            anyhow::Ok(views::decided_doc(&done, verdict))
        };
        match args.command {
            Approve { decide: d, uses } => decide(d, Verdict::Approve, uses)?,
            Deny(d) => decide(d, Verdict::Deny, None)?,
            List { status } => {
                views::approvals_doc(&views::approvals(&store, &ApprovalFilter { status }, now)?)
            }
            Show { id } => views::approval(&store, &id, now)?.doc(),
            BreakGlass {
                by,
                reason,
                request_hash,
                action_type,
                target,
                ttl,
            } => {
                let cavra = crate::ctx::locate_path(Some(&crate::ctx::locate(None).project));
                let max_ttl =
                    max_break_glass_ttl(&Default::default(), Some(&cavra.project_cavra_dir))
                        .context("the longest break-glass TTL is the policy's")?;
                let req = BreakGlassRequest {
                    reason,
                    request_hash,
                    action_type,
                    target,
                    ttl,
                    max_ttl,
                };
                views::break_glass_doc(&rt.break_glass_as(dir, &mut store, req, &by)?.result)
            }
            Expire => views::expired_doc(&rt.expire(dir, &mut store)?),
        }
    };
    print_view(ctx, &doc)?;
    if glass && !ctx.json {
        eprintln!(
            "cavra: warning: break-glass overrides policy; it is logged and will be reviewed"
        );
    }
    Ok(0)
}

impl DecideArgs {
    fn request(&self, verdict: Verdict, uses: Option<u32>) -> DecideRequest {
        let (id, reason) = (self.id.clone(), self.reason.clone());
        DecideRequest {
            id,
            verdict,
            reason,
            uses,
        }
    }
}

/// The command asked of the server, as the person of `--token` / CAVRA_APPROVER_TOKEN_FILE.
fn remote(command: ApprovalsCommand, server: &Remote) -> anyhow::Result<views::Doc> {
    use ApprovalsCommand::*;
    Ok(match command {
        List { status } => server.approvals(status.as_deref())?,
        Show { id } => server.approval(&id)?,
        Approve { decide: d, uses } => server.decide(&d.request(Verdict::Approve, uses))?,
        Deny(d) => server.decide(&d.request(Verdict::Deny, None))?,
        BreakGlass { reason, request_hash, action_type, target, ttl, .. } => {
            server.break_glass(&control::BreakGlass { reason, request_hash, action_type, target, ttl })?
        }
        Expire => anyhow::bail!("with CAVRA_SERVER set, the server ({}) expires requests as it reads them; `cavra approvals expire` is for a local store", server.url()),
    })
}
