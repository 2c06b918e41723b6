//! `cavra policy replay`: the replay (read-only) is `cavra_runtime::replay::run`; this
//! module collects the options and prints the report.

use crate::ctx::Ctx;
use crate::output::{painter, print_doc};
use anyhow::Result;
use cavra_runtime::replay::ReplayOptions;
use clap::Args;
use std::path::PathBuf;

/// `cavra policy replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The pack to replay under: a pack id (bundled or in --policy-dir) or a pack file.
    #[arg(long, value_name = "ID|FILE")]
    pub pack: String,
    /// Compare against this pack (id or file) instead of the decisions recorded in the log.
    #[arg(long, value_name = "ID|FILE")]
    pub against: Option<String>,
    /// Directory of packs, each in `DIR/<id>/policy.yaml` (repeatable).
    #[arg(long, value_name = "DIR")]
    pub policy_dir: Vec<PathBuf>,
    /// Only records written at or after T: RFC 3339, a date (`2025-05-01`) or `24h` ago.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only records of this session.
    #[arg(long, value_name = "S")]
    pub session: Option<String>,
    /// Examples to show per kind of change.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub examples: usize,
    /// Exit with code 2 when any decision becomes less restrictive.
    #[arg(long)]
    pub fail_on_loosen: bool,
    /// MCP trust registry file used while re-evaluating MCP tool calls.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
}

/// Worker threads: `$CAVRA_REPLAY_THREADS`, else the available cores (at most 16).
fn threads() -> usize {
    let set = std::env::var("CAVRA_REPLAY_THREADS")
        .ok()
        .and_then(|s| s.parse().ok());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    set.filter(|n: &usize| *n > 0).unwrap_or(cores).min(16)
}

pub fn run(args: ReplayArgs, ctx: &Ctx) -> Result<i32> {
    let r = cavra_runtime::replay::run(&ReplayOptions {
        pack: args.pack,
        against: args.against,
        policy_dirs: args.policy_dir,
        since: args.since,
        session: args.session,
        examples: args.examples,
        registry: args.registry,
        cavra_dir: ctx.cavra_dir.clone(),
        threads: threads(),
    })?;
    print_doc(ctx.json, &r.to_json(), || r.text(&painter(ctx.color)))?;
    if args.fail_on_loosen && r.tally.loosened > 0 {
        let (n, id) = (r.tally.loosened, &r.pack.id);
        eprintln!("cavra: {n} decision(s) become less restrictive under `{id}` (--fail-on-loosen)");
        return Ok(2);
    }
    Ok(0)
}
