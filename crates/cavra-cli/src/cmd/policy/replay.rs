//! `cavra policy replay`: re-evaluate the requests recorded in the evidence log under
//! another pack and report what would change, without appending anything to the log. The
//! replay is `cavra_runtime::replay::run`; this module collects the options and prints.

use crate::ctx::Ctx;
use crate::output::{paint, print_json, short};
use anyhow::Result;
use cavra_runtime::replay::{rank, Change, ReplayOptions, ReplayReport};
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

/// Worker threads: `$CAVRA_REPLAY_THREADS`, else the available cores (at most 16).
fn threads() -> usize {
    std::env::var("CAVRA_REPLAY_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(16)
}

pub fn run(args: ReplayArgs, ctx: &Ctx) -> Result<i32> {
    let fail_on_loosen = args.fail_on_loosen;
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
    if ctx.json {
        print_json(&r.to_json())?;
    } else {
        print_human(ctx.color, &r);
    }
    if fail_on_loosen && r.tally.loosened > 0 {
        let (n, id) = (r.tally.loosened, &r.pack.id);
        eprintln!("cavra: {n} decision(s) become less restrictive under `{id}` (--fail-on-loosen)");
        return Ok(2);
    }
    Ok(0)
}

fn print_human(c: bool, r: &ReplayReport) {
    let (p, t) = (&r.pack, &r.tally);
    let vs = r
        .against
        .as_ref()
        .map_or("the recorded decisions".into(), |a| {
            format!("{} {} ({})", a.id, a.version, short(&a.digest))
        });
    let id = paint(c, "1", &p.id);
    println!(
        "replay {id} {} ({}) against {vs}",
        p.version,
        short(&p.digest)
    );
    let (n, out, other) = (t.records, t.filtered_out, t.other_kinds);
    let log = r.log.display();
    println!("  log {log}: {n} decision records in scope ({out} filtered out, {other} other records skipped)");
    let unreadable = match t.unreadable {
        0 => "0".into(),
        n => paint(c, "1;31", &n.to_string()),
    };
    let (evaluated, unchanged) = (t.evaluated, t.unchanged);
    println!("  evaluated {evaluated}, unchanged {unchanged}, unreadable {unreadable}");
    if t.incomplete > 0 {
        let n = t.incomplete;
        println!("  {n} incomplete trailing line(s) ignored (interrupted write; run `cavra evidence verify`)");
    }
    println!("\n  {:<20} {:>8}", "CHANGE", "COUNT");
    for ch in Change::ALL {
        println!("  {:<20} {:>8}", ch.label(), t.count(ch));
    }
    for ch in Change::ALL {
        let (ex, n) = (&t.examples[ch.index()], t.count(ch));
        if ex.is_empty() {
            continue;
        }
        let first = match ex.len() as u64 {
            shown if shown < n => format!(", first {shown}"),
            _ => String::new(),
        };
        println!("\n{} ({n}{first}):", ch.label());
        for e in ex {
            let old_rule = if e.old_rule.is_empty() {
                "-"
            } else {
                &e.old_rule
            };
            let code = if rank(e.new) < rank(e.old) {
                "1;31"
            } else {
                "1"
            };
            let (old, new) = (e.old.as_str(), paint(c, code, e.new.as_str()));
            let at = format!("[session {}, {}]", e.session_id, e.record_id);
            println!(
                "  {} `{}`: {old} ({old_rule}) -> {new} ({})  {at}",
                e.action, e.target, e.new_rule
            );
        }
    }
    if !t.unreadable_examples.is_empty() {
        println!("\nunreadable ({}):", t.unreadable);
        for u in &t.unreadable_examples {
            let id = u.record_id.as_deref().map(|r| format!(" {r}"));
            let id = id.unwrap_or_default();
            println!("  {}:{}{id}: {}", u.segment, u.line, u.reason);
        }
    }
    if t.loosened > 0 {
        let what = format!(
            "{} decision(s) become less restrictive under {}",
            t.loosened, p.id
        );
        println!("\n{}", paint(c, "1;31", &what));
    }
}
