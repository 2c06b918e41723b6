//! `cavra evaluate` and `cavra explain`: the runtime's `evaluate` / `explain`, printed.

use crate::args::PackArgs;
use crate::ctx::{locator, Ctx};
use crate::output;
use anyhow::{Context, Result};
use cavra_core::ActionRequest;
use cavra_runtime::{request, EvaluateOptions};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Action type: read_file, write_file, delete_file, execute_command, git_operation,
    /// mcp_tool_call, network_request, pull_request.
    #[arg(required_unless_present = "request")]
    pub action: Option<String>,
    /// Target: a path, a command line, `origin/main`, `server:tool`, a URL.
    #[arg(required_unless_present = "request")]
    pub target: Option<String>,
    /// A request in the reference JSON shape (`-` for stdin).
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["action", "target"])]
    pub request: Option<String>,
    #[command(flatten)]
    pub packs: PackArgs,
    /// MCP trust registry file (reference shape: {"mcp_servers": [...]}).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Requested operation (git: `push`; MCP: capability).
    #[arg(long)]
    pub operation: Option<String>,
    /// Working directory the action happens in (default: the current directory).
    #[arg(long)]
    pub cwd: Option<String>,
    /// Repository root (default: the working directory).
    #[arg(long)]
    pub repo: Option<String>,
    /// Agent id of the actor.
    #[arg(long, default_value = "cli")]
    pub agent: String,
    /// Session id.
    #[arg(long, default_value = "cli")]
    pub session: String,
    /// Override the pack's mode: enforce or shadow.
    #[arg(long)]
    pub mode: Option<String>,
    /// Do not append the decision to the evidence log.
    #[arg(long)]
    pub no_record: bool,
    /// Headless: open an approval request instead of asking.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

/// The request (from `--request FILE|-` or the action and target) and the options.
fn request(a: EvaluateArgs) -> Result<(ActionRequest, EvaluateOptions)> {
    let req = match a.request.as_deref() {
        Some(src) => request::from_json_text(&match src {
            "-" => std::io::read_to_string(std::io::stdin())
                .context("cannot read the request from stdin")?,
            f => std::fs::read_to_string(f)
                .with_context(|| format!("cannot read request file `{f}`"))?,
        })?,
        None => {
            let (action, target) = (a.action.unwrap_or_default(), a.target.unwrap_or_default());
            request::from_action(&action, &target, &a.session, &a.agent)?
        }
    };
    let (operation, cwd, repo, mode) = (a.operation, a.cwd, a.repo, a.mode);
    let opts = EvaluateOptions {
        packs: a.packs.choice(),
        registry: a.registry,
        placement: request::Placement {
            operation,
            cwd,
            repo,
            mode,
        },
        record: !a.no_record,
        non_interactive: a.non_interactive,
        create_state: false,
    };
    Ok((req, opts))
}

pub fn run(args: EvaluateArgs, ctx: &Ctx) -> Result<i32> {
    let (req, mut opts) = request(args)?;
    opts.record &= ctx.evidence;
    // a read-only command: the project's `.cavra/` (and a key) is not created as a side
    // effect; a directory named with --cavra-dir / $CAVRA_DIR is
    opts.create_state = ctx.explicit_dir;
    let decided = ctx
        .runtime()
        .evaluate(&ctx.cavra_dir, req, &locator(), &opts)?;
    let d = &decided.decision;
    if ctx.json {
        output::print_json(&decided.document())?;
    } else {
        output::print_decision(ctx.color, d);
        if let Some(id) = &decided.approval_id {
            let line = cavra_runtime::person_must_approve(id, d.approver_group.as_deref());
            println!("  {:<15} {line}", output::paint(ctx.color, "2", "approval"));
        }
    }
    Ok(output::exit_code(d))
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub eval: EvaluateArgs,
}

/// `cavra explain`: why, which rules matched, what would change the outcome.
pub fn explain(args: ExplainArgs, ctx: &Ctx) -> Result<i32> {
    let (req, opts) = request(args.eval)?;
    let x = ctx.runtime().explain(req, &locator(), &opts)?;
    if ctx.json {
        output::print_json(&x)?;
        return Ok(output::exit_code(&x.decision));
    }
    output::print_decision(ctx.color, &x.decision);
    print!("{}", x.text());
    Ok(output::exit_code(&x.decision))
}
