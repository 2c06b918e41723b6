//! `cavra approvals`: list, show, approve, deny, break-glass and expire approval requests
//! held in the store (`<cavra_dir>/cavra.db`, or `$CAVRA_DB`).

use std::time::Duration;

use anyhow::Context;
use cavra_store::{ApprovalState, ApproveOptions, NewBreakGlass, OffsetDateTime, Store};
use clap::{Args, Subcommand};

use crate::control::{authorize, AuthArgs, Authorized, Control};
use crate::ctx::{open_store, Ctx};
use crate::output::{clip, loud, print_json, table};

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
        id: String,
        /// A display label for the approver (the recorded identity is the authenticated one).
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[arg(long)]
        reason: String,
        /// How many times the approval may be used (default 1).
        #[arg(long, value_name = "N")]
        uses: Option<u32>,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Deny a pending request.
    Deny {
        id: String,
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Record a time-boxed break-glass override for one action type and target pattern
    /// (or one exact request), loudly flagged everywhere.
    BreakGlass {
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
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
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Mark every request whose time is up as expired.
    Expire,
}

pub fn run(args: ApprovalsArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let now = OffsetDateTime::now_utc();
    let mut store = open_store(ctx, true)?;
    match args.command {
        ApprovalsCommand::List { status } => {
            let status = status.as_deref().map(ApprovalState::parse).transpose()?;
            let list = store.list_approvals(status, now)?;
            if ctx.json {
                let v: Vec<serde_json::Value> =
                    list.iter().map(|a| checked_json(&store, a)).collect();
                print_json(&serde_json::Value::Array(v))?;
            } else if list.is_empty() {
                println!("no approvals");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| {
                        vec![
                            a.approval_id.clone(),
                            if unsigned(&store, a) {
                                format!("{} UNSIGNED", state_label(a))
                            } else {
                                state_label(a)
                            },
                            a.action_type.clone(),
                            clip(&a.target, 40),
                            a.rule_id.clone(),
                            a.requested_by.clone(),
                            a.approver_group.clone(),
                            cavra_store::rfc3339(a.expires_at),
                            if a.break_glass {
                                "-".into()
                            } else {
                                format!("{}/{}", a.uses, a.max_uses)
                            },
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            "ID",
                            "STATE",
                            "ACTION",
                            "TARGET",
                            "RULE",
                            "REQUESTER",
                            "GROUP",
                            "EXPIRES",
                            "USES"
                        ],
                        &rows
                    )
                );
                let bg = list.iter().filter(|a| a.break_glass).count();
                if bg > 0 {
                    println!(
                        "!! {bg} BREAK-GLASS record(s) listed: overrides of policy, review them"
                    );
                }
            }
        }
        ApprovalsCommand::Show { id } => {
            let mut a = store.approval(&id)?;
            a.state = a.effective_state(now);
            if ctx.json {
                print_json(&checked_json(&store, &a))?;
            } else {
                print_approval(ctx, &a);
                if unsigned(&store, &a) {
                    println!(
                        "{}",
                        loud(
                            ctx.color,
                            "!! UNSIGNED: no valid signature of an approving identity — written by other means; it changes no decision (see `cavra doctor`)"
                        )
                    );
                } else if let Some(att) = a.attestation() {
                    println!(
                        "{:<15} verified ({}{})",
                        "signature",
                        att.method.as_str(),
                        att.label
                            .map(|l| format!(", label `{l}`"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        ApprovalsCommand::Approve {
            id,
            identity,
            reason,
            uses,
            auth,
        } => {
            let who = authorize_decision(&store, &id, "approve", &reason, now, &auth, identity)?;
            let mut store = store.with_signer(who.signer(now)?);
            let a = ctx.runtime().approve(
                &ctx.cavra_dir,
                &mut store,
                &id,
                &who.identity,
                &reason,
                ApproveOptions { max_uses: uses },
            )?;
            if ctx.json {
                print_json(&approval_json(&a))?;
            } else {
                println!(
                    "approved {} ({} {}) by {}: valid until {}, {} use(s)",
                    a.approval_id,
                    a.action_type,
                    a.target,
                    who.identity,
                    cavra_store::rfc3339(a.expires_at),
                    a.max_uses
                );
            }
        }
        ApprovalsCommand::Deny {
            id,
            identity,
            reason,
            auth,
        } => {
            let who = authorize_decision(&store, &id, "deny", &reason, now, &auth, identity)?;
            let mut store = store.with_signer(who.signer(now)?);
            let a = ctx
                .runtime()
                .deny(&ctx.cavra_dir, &mut store, &id, &who.identity, &reason)?;
            if ctx.json {
                print_json(&approval_json(&a))?;
            } else {
                println!(
                    "denied {} ({} {}) by {}",
                    a.approval_id, a.action_type, a.target, who.identity
                );
            }
        }
        ApprovalsCommand::BreakGlass {
            identity,
            reason,
            request_hash,
            action_type,
            target,
            ttl,
            auth,
        } => {
            let ttl: Duration = cavra_store::parse_duration(&ttl)?;
            if let Some(a) = action_type.as_deref() {
                anyhow::ensure!(
                    cavra_core::ActionType::parse(a.trim()).is_some(),
                    "invalid break-glass action: `{a}` is not an action type (read_file, write_file, delete_file, execute_command, git_operation, mcp_tool_call, network_request, pull_request)"
                );
            }
            let (pack, _) = crate::packs::load(
                &crate::packs::PackChoice::default(),
                Some(&crate::ctx::project_dir(None)),
            )
            .context("the policy could not be loaded (it sets the longest break-glass TTL)")?;
            let mut new = NewBreakGlass {
                request_hash,
                action_type,
                target,
                identity: String::new(),
                reason,
                ttl,
                max_ttl: Duration::from_secs(pack.defaults.max_break_glass_ttl_secs),
            };
            new.validate()?;
            let scope = match (&new.request_hash, &new.action_type, &new.target) {
                (Some(h), _, _) => format!("the exact request {h}"),
                (None, Some(a), Some(t)) => format!("{a} matching `{t}`"),
                _ => "-".into(),
            };
            let ctrl = Control::new("cavra approvals break-glass", cavra_store::Role::BreakGlass)
                .show("override", "BREAK-GLASS: a time-boxed override of policy")
                .show("scope", scope)
                .show("reason", new.reason.clone())
                .show(
                    "ttl",
                    format!(
                        "{}s (pack maximum {}s)",
                        ttl.as_secs(),
                        new.max_ttl.as_secs()
                    ),
                );
            let who = authorize(&ctrl, &auth, identity.as_deref())?;
            new.identity = who.identity.clone();
            let mut store = store.with_signer(who.signer(now)?);
            let a = ctx.runtime().break_glass(&ctx.cavra_dir, &mut store, new)?;
            if ctx.json {
                print_json(&approval_json(&a))?;
            } else {
                let line = format!(
                    "!! BREAK-GLASS {} recorded by {} until {}: {}",
                    a.approval_id,
                    a.requested_by,
                    cavra_store::rfc3339(a.expires_at),
                    a.break_glass_reason.as_deref().unwrap_or_default()
                );
                println!("{}", loud(ctx.color, &line));
                eprintln!("cavra: warning: break-glass overrides policy; it is logged and will be reviewed");
            }
        }
        ApprovalsCommand::Expire => {
            let expired = ctx.runtime().expire(&ctx.cavra_dir, &mut store)?;
            if ctx.json {
                let v: Vec<serde_json::Value> = expired.iter().map(approval_json).collect();
                print_json(&serde_json::json!({ "expired": v, "count": expired.len() }))?;
            } else {
                println!("{} approval(s) expired", expired.len());
                for a in &expired {
                    println!("  {} {}", a.approval_id, state_label(a));
                }
            }
        }
    }
    Ok(0)
}

/// Authenticate the person approving or denying `id`, after showing them the request.
/// Refused before the prompt when the request cannot be decided.
fn authorize_decision(
    store: &Store,
    id: &str,
    action: &'static str,
    reason: &str,
    now: OffsetDateTime,
    auth: &AuthArgs,
    label: Option<String>,
) -> anyhow::Result<Authorized> {
    let a = store.approval(id)?;
    let state = a.effective_state(now);
    if state != ApprovalState::Pending {
        return Err(cavra_store::StoreError::InvalidTransition {
            id: id.to_string(),
            state: state.to_string(),
            action,
        }
        .into());
    }
    anyhow::ensure!(
        !reason.trim().is_empty(),
        "invalid reason: must not be empty"
    );
    let role = if action == "approve" {
        cavra_store::Role::Approve
    } else {
        cavra_store::Role::Deny
    };
    let ctrl = Control::new(format!("cavra approvals {action} {id}"), role)
        .show("decision", format!("{action} this request"))
        .show("action", a.action_type.clone())
        .show("target", a.target.clone())
        .show(
            "requester",
            format!("{} (agent {})", a.requested_by, a.agent_id),
        )
        .show("rule", format!("{} ({})", a.rule_id, a.severity))
        .show("group", a.approver_group.clone())
        .show("expires", cavra_store::rfc3339(a.expires_at))
        .show("reason", reason.to_string());
    authorize(&ctrl, auth, label.as_deref())
}

/// What a held or require-approval answer tells the agent: a person approves, and where.
/// Never a command the agent could run itself to get through.
/// Open the store for `ctx`: `$CAVRA_DB` or `<cavra_dir>/cavra.db`, busy timeout from
/// `$CAVRA_BUSY_TIMEOUT_MS` (default 5000), and — with `with_config` — the routing and
/// RBAC files under `<cavra_dir>/approvals/`.
pub(crate) use cavra_runtime::control::approval_json;

/// A record that claims a decision (approved, denied, break-glass) without a valid
/// signature of an approving identity.
fn unsigned(store: &Store, a: &cavra_store::Approval) -> bool {
    matches!(
        a.state,
        ApprovalState::Approved | ApprovalState::Denied | ApprovalState::BreakGlass
    ) && !store.approval_verified(a)
}

/// [`approval_json`] plus `signature_verified` for records that claim a decision.
fn checked_json(store: &Store, a: &cavra_store::Approval) -> serde_json::Value {
    let mut v = approval_json(a);
    if matches!(
        a.state,
        ApprovalState::Approved | ApprovalState::Denied | ApprovalState::BreakGlass
    ) {
        v["signature_verified"] = (!unsigned(store, a)).into();
    }
    v
}

fn state_label(a: &cavra_store::Approval) -> String {
    if a.break_glass {
        if a.state == ApprovalState::BreakGlass {
            "BREAK-GLASS".into()
        } else {
            format!("{} (BREAK-GLASS)", a.state)
        }
    } else if a.exhausted() {
        "approved (used)".into()
    } else {
        a.state.to_string()
    }
}

fn print_approval(ctx: &Ctx, a: &cavra_store::Approval) {
    if a.break_glass {
        println!(
            "{}",
            loud(
                ctx.color,
                "!! BREAK-GLASS record: a time-boxed override of policy"
            )
        );
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let fields: Vec<(&str, String)> = vec![
        ("id", a.approval_id.clone()),
        ("state", state_label(a)),
        ("break_glass", a.break_glass.to_string()),
        ("action", a.action_type.clone()),
        ("target", a.target.clone()),
        ("rule", a.rule_id.clone()),
        ("severity", a.severity.clone()),
        ("request_hash", a.request_hash.clone()),
        ("decision_id", a.decision_id.clone()),
        ("session_id", a.session_id.clone()),
        ("agent_id", a.agent_id.clone()),
        ("requested_by", a.requested_by.clone()),
        ("approver_group", a.approver_group.clone()),
        ("repo", opt(&a.repo)),
        ("requested_at", cavra_store::rfc3339(a.requested_at)),
        ("expires_at", cavra_store::rfc3339(a.expires_at)),
        ("decided_by", opt(&a.decided_by)),
        (
            "decided_at",
            a.decided_at
                .map(cavra_store::rfc3339)
                .unwrap_or_else(|| "-".into()),
        ),
        ("reason", opt(&a.decision_reason)),
        ("uses", format!("{}/{}", a.uses, a.max_uses)),
    ];
    for (k, v) in fields {
        println!("{k:<15} {v}");
    }
    if !a.evidence_refs.is_empty() {
        println!("{:<15} {}", "evidence", a.evidence_refs.join(", "));
    }
    println!("history:");
    for h in &a.history {
        println!(
            "  {} {}{}{}",
            h.at,
            h.event,
            h.by.as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            h.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
}
