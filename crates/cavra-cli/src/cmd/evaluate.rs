//! `cavra evaluate` and `cavra explain`.

use crate::args::PackArgs;
use crate::ctx::Ctx;
use crate::output;
use crate::packs;
use anyhow::{bail, Context, Result};
use cavra_core::{ActionRequest, Effect, Mode, Outcome};
use cavra_runtime::DecideOptions;
use clap::Args;
use serde_json::{json, Value};
use std::io::Read;
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

/// Builds a request from the reference JSON shape.
pub use cavra_runtime::request::from_json as request_from_json;

pub fn build_request(args: &EvaluateArgs) -> Result<ActionRequest> {
    let mut req = if let Some(r) = &args.request {
        let text = if r == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the request from stdin")?;
            s
        } else {
            std::fs::read_to_string(r).with_context(|| format!("cannot read request file `{r}`"))?
        };
        let v: Value = serde_json::from_str(&text).context("the request is not valid JSON")?;
        request_from_json(&v)?
    } else {
        cavra_runtime::request::from_action(
            args.action.as_deref().unwrap_or_default(),
            args.target.as_deref().unwrap_or_default(),
            &args.session,
            &args.agent,
        )?
    };
    // where the action happens, resolved exactly as the hook does
    let placement = cavra_runtime::request::Placement {
        operation: args.operation.clone(),
        cwd: args.cwd.clone(),
        repo: args.repo.clone(),
        mode: args.mode.clone(),
    };
    placement.apply(&mut req, &crate::ctx::locator())?;
    Ok(req)
}

/// Where the project policy of a request is looked for: its working directory when that
/// exists, else the process's (as the hook does).
fn pack_dir(req: &ActionRequest) -> PathBuf {
    req.cwd
        .as_deref()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| crate::ctx::locate(None).project)
}

pub fn run(args: EvaluateArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let mut req = build_request(&args)?;
    let mut choice = args.packs.choice();
    if choice.pack.is_none() && choice.policy.is_none() {
        choice.pack = req.policy_pack.clone();
    }
    let (pack, _origin) = packs::load(&choice, Some(&pack_dir(&req)))?;
    req.policy_pack = Some(pack.id.clone());
    let registry = args
        .registry
        .as_deref()
        .map(packs::load_registry)
        .transpose()?;
    let opts = DecideOptions {
        record: !args.no_record && ctx.evidence,
        non_interactive: args.non_interactive,
        registry,
        // a read-only command: the project's `.cavra/` (and a key) is not created as a side
        // effect; a directory named with --cavra-dir / $CAVRA_DIR is
        create_state: explicit_dir,
        open_approval: false,
    };
    let decided = ctx.runtime().decide(&ctx.cavra_dir, &pack, &req, &opts)?;
    let d = &decided.decision;
    if ctx.json {
        let mut v = serde_json::to_value(d)?;
        v["decision_id"] = json!(decided.decision_id);
        if let Some(id) = &decided.record_id {
            v["evidence_record"] = json!(id);
        }
        if let Some(id) = &decided.approval_id {
            v["approval_id"] = json!(id);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        output::print_decision(ctx.color, d);
        if let Some(id) = &decided.approval_id {
            println!(
                "  {:<15} {}",
                output::paint(ctx.color, "2", "approval"),
                cavra_runtime::person_must_approve(id, d.approver_group.as_deref())
            );
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
    let mut a = args.eval;
    a.no_record = true;
    let req = build_request(&a)?;
    let mut choice = a.packs.choice();
    if choice.pack.is_none() && choice.policy.is_none() {
        choice.pack = req.policy_pack.clone();
    }
    let (pack, origin) = packs::load(&choice, Some(&pack_dir(&req)))?;
    let registry = a
        .registry
        .as_deref()
        .map(packs::load_registry)
        .transpose()?;
    let reader = cavra_runtime::FsScriptReader;
    let env = cavra_core::guard::EvalEnv {
        registry: registry.as_ref(),
        scripts: Some(&reader),
        ..Default::default()
    };
    let d = cavra_core::guard::evaluate(&pack, &req, &env);
    let mut changes: Vec<String> = Vec::new();
    match d.enforced_decision {
        Outcome::Block | Outcome::RequireApproval => {
            let deciding: Vec<&cavra_core::RuleMatch> = d
                .matches
                .iter()
                .filter(|m| m.effect != Effect::Allow)
                .collect();
            let ids: Vec<String> = {
                let mut v: Vec<String> = deciding.iter().map(|m| m.rule_id.clone()).collect();
                v.dedup();
                v
            };
            if let Some(alt) = &d.alternative {
                changes.push(format!("do this instead: {alt}"));
            }
            changes.push(format!(
                "the outcome changes only if every one of these rules stops matching or is overridden in the pack (`overrides:`): {}",
                ids.join(", ")
            ));
            if d.enforced_decision == Outcome::RequireApproval {
                changes.push("a person approves the request (`cavra approvals approve <id>`); the approved action then passes once".into());
            }
            changes.push("a break-glass override with a reason and an identity (`cavra approvals break-glass`) lets it through, loudly recorded".into());
            changes.push("shadow mode (`--mode shadow` or the `cavra-observe` pack) records it without enforcing".into());
        }
        _ => {
            changes.push("no rule restricts this action; adding a block or require_approval rule that matches it to the pack would change that".into());
        }
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "decision": d,
                "pack_source": origin.describe(),
                "what_would_change_it": changes,
            }))?
        );
    } else {
        output::print_decision(ctx.color, &d);
        println!("\nPack: {} from {}", pack.id, origin.describe());
        println!("Rules that matched ({}):", d.matches.len());
        if d.matches.is_empty() {
            println!("  (none)");
        }
        for m in &d.matches {
            println!(
                "  - {} [{} / {}] {}",
                m.rule_id,
                m.effect.as_str(),
                m.severity.as_str(),
                m.reason
            );
            if let Some(x) = &m.matched {
                println!("      matched: {x}");
            }
        }
        println!("What would change the outcome:");
        for c in &changes {
            println!("  - {c}");
        }
    }
    Ok(output::exit_code(&d))
}

/// Parses `--mode` style strings used elsewhere.
#[allow(dead_code)]
pub fn parse_mode(m: &str) -> Result<Mode> {
    match Mode::parse(m) {
        Some(x) => Ok(x),
        None => bail!("unknown mode `{m}`"),
    }
}
