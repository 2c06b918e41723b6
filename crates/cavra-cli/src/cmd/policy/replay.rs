//! `cavra policy replay`: re-evaluate the requests recorded in the evidence log under
//! another pack and report what would change (newly blocked, newly allowed, approvals
//! added or removed), without appending anything to the log.
//!
//! The log is read segment by segment straight from the files (read-only: the log is not
//! opened for writing, no key is created, no lock is taken); each line is parsed with a
//! borrowing envelope so only `decision` records pay for deserializing their request.
//! Large segments are evaluated on all available cores with `std::thread::scope`; the
//! result is deterministic (counts are sums, examples are the first N in log order).

use crate::ctx::Ctx;
use crate::output::{paint, short};
use crate::packs::load_either;
use anyhow::{bail, Context, Result};
use cavra_core::guard::{EvalEnv, McpRegistry};
use cavra_core::policy::CompiledPack;
use cavra_evidence::segments::{list_segments, SegmentData};
use cavra_evidence::timeutil::parse_since;
pub use cavra_runtime::replay::*;
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
    /// Only records written at or after T: RFC 3339, a date (`2025-05-01`) or a duration
    /// ago (`24h`, `7d`).
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

fn threads() -> usize {
    std::env::var("CAVRA_REPLAY_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .min(16)
}

fn print_human(
    ctx: &Ctx,
    pack: &CompiledPack,
    against: Option<&CompiledPack>,
    log: &std::path::Path,
    t: &Tally,
) {
    let c = ctx.color;
    let vs = match against {
        Some(a) => format!("{} {} ({})", a.id, a.version, short(&a.digest)),
        None => "the recorded decisions".into(),
    };
    println!(
        "replay {} {} ({}) against {vs}",
        paint(c, "1", &pack.id),
        pack.version,
        short(&pack.digest)
    );
    println!(
        "  log {}: {} decision records in scope ({} filtered out, {} other records skipped)",
        log.display(),
        t.records,
        t.filtered_out,
        t.other_kinds
    );
    println!(
        "  evaluated {}, unchanged {}, unreadable {}",
        t.evaluated,
        t.unchanged,
        if t.unreadable > 0 {
            paint(c, "1;31", &t.unreadable.to_string())
        } else {
            "0".into()
        }
    );
    if t.incomplete > 0 {
        println!("  {} incomplete trailing line(s) ignored (interrupted write; run `cavra evidence verify`)", t.incomplete);
    }
    println!();
    println!("  {:<20} {:>8}", "CHANGE", "COUNT");
    for ch in Change::ALL {
        println!("  {:<20} {:>8}", ch.label(), t.count(ch));
    }
    for ch in Change::ALL {
        let ex = &t.examples[ch.index()];
        if ex.is_empty() {
            continue;
        }
        println!();
        println!(
            "{} ({}{}):",
            ch.label(),
            t.count(ch),
            if (ex.len() as u64) < t.count(ch) {
                format!(", first {}", ex.len())
            } else {
                String::new()
            }
        );
        for e in ex {
            println!(
                "  {} `{}`: {} ({}) -> {} ({})  [session {}, {}]",
                e.action,
                e.target,
                e.old.as_str(),
                if e.old_rule.is_empty() {
                    "-"
                } else {
                    &e.old_rule
                },
                paint(
                    c,
                    if rank(e.new) < rank(e.old) {
                        "1;31"
                    } else {
                        "1"
                    },
                    e.new.as_str()
                ),
                e.new_rule,
                e.session_id,
                e.record_id
            );
        }
    }
    if !t.unreadable_examples.is_empty() {
        println!();
        println!("unreadable ({}):", t.unreadable);
        for u in &t.unreadable_examples {
            println!(
                "  {}:{}{}: {}",
                u.segment,
                u.line,
                u.record_id
                    .as_deref()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default(),
                u.reason
            );
        }
    }
    if t.loosened > 0 {
        println!();
        println!(
            "{}",
            paint(
                c,
                "1;31",
                &format!(
                    "{} decision(s) become less restrictive under {}",
                    t.loosened, pack.id
                )
            )
        );
    }
}

pub fn run(args: ReplayArgs, ctx: &Ctx) -> Result<i32> {
    let pack = load_either(&args.pack, &args.policy_dir)
        .with_context(|| format!("cannot load --pack `{}`", args.pack))?;
    let against = match &args.against {
        Some(a) => Some(
            load_either(a, &args.policy_dir)
                .with_context(|| format!("cannot load --against `{a}`"))?,
        ),
        None => None,
    };
    let registry: Option<McpRegistry> = match &args.registry {
        Some(p) => Some(crate::packs::load_registry(p)?),
        None => None,
    };
    let since = match &args.since {
        Some(s) => Some(parse_since(s).map_err(|e| anyhow::anyhow!("--since: {e}"))?),
        None => None,
    };
    let log = cavra_evidence::LogConfig::for_cavra_dir(&ctx.cavra_dir).dir;
    if !log.is_dir() {
        bail!(
            "no evidence log at `{}` (decisions are recorded by `cavra evaluate` and `cavra hook`; pass --cavra-dir DIR to point at another project)",
            log.display()
        );
    }
    let segments = list_segments(&log)
        .with_context(|| format!("cannot list the evidence log `{}`", log.display()))?;
    let replayer = Replayer::new(
        &pack,
        match &against {
            Some(a) => Baseline::Pack(a),
            None => Baseline::Recorded,
        },
        EvalEnv {
            registry: registry.as_ref(),
            ..Default::default()
        },
        Filter {
            since,
            session: args.session.clone(),
        },
        args.examples,
    );
    let threads = threads();
    let mut tally = Tally::default();
    for (_, path) in &segments {
        let sd =
            SegmentData::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = replayer.segment(&sd, &name, threads)?;
        tally.merge(t, args.examples);
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(
                &pack,
                against.as_ref(),
                &Filters {
                    since: args.since.as_deref(),
                    session: args.session.as_deref(),
                },
                &log,
                &tally
            ))?
        );
    } else {
        print_human(ctx, &pack, against.as_ref(), &log, &tally);
    }
    if args.fail_on_loosen && tally.loosened > 0 {
        eprintln!(
            "cavra: {} decision(s) become less restrictive under `{}` (--fail-on-loosen)",
            tally.loosened, pack.id
        );
        return Ok(2);
    }
    Ok(0)
}
