//! `cavra evidence`: verify, prove, bundle, search, export, prune the decision log. The
//! operations are `cavra_evidence::ops` (and the store's `search_log`); this prints them.

use anyhow::Context as _;
use cavra_evidence::ops::{self, BundleRequest, ExportRequest, Verified};
use cavra_evidence::{EvidenceLog, LogConfig};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

use crate::control::AuthArgs;
use crate::ctx::Ctx;
use crate::output::{print_json, print_line, show, table, write_out, Progress};

const DECISIONS: [&str; 5] = [
    "allow",
    "block",
    "require_approval",
    "shadow",
    "break_glass",
];
const SINCE: &str = "Records from this time on: RFC 3339 time, date or duration ago (`24h`)";

/// The tamper-evident decision log.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Verify a log directory, a bundle (directory or .zip) or an inclusion proof.
    Verify {
        /// Default: the evidence directory.
        path: Option<PathBuf>,
        /// Trust-root file (default $CAVRA_TRUST_ROOT or <cavra-dir>/trust-root.json if present).
        #[arg(long)]
        trust_root: Option<PathBuf>,
        /// Check every record signature, also where a signed checkpoint covers it.
        #[arg(long)]
        full: bool,
    },
    /// Print an inclusion proof of a record against a signed checkpoint.
    Prove {
        /// Record id (`ev-…`) or sequence number.
        record_id: String,
        /// Write the proof to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write a signed checkpoint (Merkle tree head) over the whole log now.
    Checkpoint,
    /// Rebuild the head state after a truncated or damaged tail (records the loss).
    Repair {
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Write an evidence bundle (directory, or ZIP when OUTPUT ends in .zip).
    Bundle {
        /// The records of one session.
        #[arg(long, conflicts_with = "since")]
        session: Option<String>,
        #[arg(long, help = SINCE)]
        since: Option<String>,
        /// The whole log.
        #[arg(long, conflicts_with_all = ["session", "since"])]
        all: bool,
        /// Output directory, or a ZIP file when it ends in `.zip`.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Search the log (through the SQLite index, updated first).
    /// Newest first.
    Search(SearchArgs),
    /// Rebuild the search index from the log.
    Reindex,
    /// Export records for a SIEM, or (`--format log`) the log in PostgreSQL as a log directory.
    Export {
        /// ocsf | splunk-hec | sentinel | datadog | cef | jsonl | log (needs --database, --output DIR)
        #[arg(long)]
        format: String,
        /// The replicas' database (postgres://…), for `--format log`.
        #[arg(long, value_name = "URL", env = "CAVRA_DATABASE_URL")]
        database: Option<String>,
        /// Only the records of this session.
        #[arg(long)]
        session: Option<String>,
        #[arg(long, help = SINCE)]
        since: Option<String>,
        /// Write the export to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Remove segments older than a duration, leaving a signed tombstone.
    Prune {
        /// e.g. `90d`.
        #[arg(long = "older-than")]
        older_than: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Write an immutable-storage plan (S3 Object Lock or Azure immutable blobs).
    RetentionPlan {
        /// `s3` or `azure`.
        #[arg(long)]
        provider: String,
        /// Retention in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Write the plan to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Append one record (for tests and scripting): `--kind K --body JSON`.
    #[command(hide = true)]
    Append {
        /// The record kind.
        #[arg(long)]
        kind: String,
        /// The record body (JSON).
        #[arg(long)]
        body: String,
        /// Append the same body this many times.
        #[arg(long, default_value_t = 1)]
        count: u64,
    },
}

/// `cavra evidence search`: its flags are the fields of [`cavra_store::SearchQuery`], by name.
#[derive(Debug, Args, serde::Serialize)]
pub struct SearchArgs {
    /// Records of this session id.
    #[arg(long)]
    session: Option<String>,
    /// Records of this agent id (`claude-code`, `codex`, `cli`, ...).
    #[arg(long)]
    agent: Option<String>,
    /// Decisions about this action type.
    #[arg(long = "action-type", value_parser = cavra_core::ActionType::ALL.map(|a| a.as_str()))]
    action_type: Option<String>,
    /// Decisions with this outcome.
    #[arg(long, value_parser = DECISIONS)]
    decision: Option<String>,
    /// Decisions by this rule id (e.g. `secrets.dotenv.read`).
    #[arg(long)]
    rule: Option<String>,
    /// Records of this kind (`decision`, `approval.granted`, `session.held`, ...).
    #[arg(long)]
    kind: Option<String>,
    #[arg(long, help = SINCE)]
    since: Option<String>,
    /// Records before this time: RFC 3339 time, date or duration ago.
    #[arg(long)]
    until: Option<String>,
    /// Substring anywhere in the record body.
    #[arg(long)]
    text: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Skip this many (newest) matches first: for paging.
    #[arg(long, default_value_t = 0)]
    offset: u32,
}

/// One row of the search table: `-` where a hit has no decision, action or rule.
fn hit_row(h: &cavra_store::Hit) -> Vec<String> {
    let mut row = vec![h.seq.to_string(), h.record_id.clone()];
    row.extend([&h.timestamp, &h.kind].map(String::clone));
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    row.extend([&h.decision, &h.action_type, &h.rule_id].map(dash));
    row.push(h.target.clone().unwrap_or_default());
    row
}

/// Authorizes an admin change of the log `cfg` (terminal confirmation or approver token).
fn authorize(
    auth: &AuthArgs,
    command: &str,
    change: String,
    cfg: &LogConfig,
) -> anyhow::Result<()> {
    let c = crate::control::Control::new(command, cavra_store::Role::Admin)
        .show("change", change)
        .show("log", cfg.dir.display().to_string());
    Ok(crate::control::authorize(&c, auth).map(drop)?)
}

pub fn run(args: EvidenceArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = LogConfig::for_cavra_dir(&ctx.cavra_dir);
    match args.command {
        EvidenceCommand::Verify {
            path,
            trust_root,
            full,
        } => {
            let tr = trust_root.or_else(|| std::env::var_os("CAVRA_TRUST_ROOT").map(PathBuf::from));
            let ring = ops::keyring(&ctx.cavra_dir, &cfg.key_dir, tr.as_deref())?;
            let path = path.unwrap_or_else(|| cfg.dir.clone());
            let mut pr = Progress::new(!ctx.json, "verifying");
            let v = ops::verify(&path, &ring, full, Some(&mut |d, t| pr.update(d, t)))?;
            pr.done();
            match &v {
                Verified::Report(r) if ctx.json => print_json(r)?,
                Verified::Proof(p) if ctx.json => print_line(true, p, "")?,
                _ => print!("{}", v.text()),
            }
            Ok(if v.ok() { 0 } else { 1 })
        }
        EvidenceCommand::Prove { record_id, output } => {
            let p = cavra_evidence::proof::prove(&mut EvidenceLog::open(cfg)?, &record_id)?;
            let text = format!("{}\n", serde_json::to_string_pretty(&p)?);
            write_out(ctx.json, output.as_deref(), &text, "inclusion proof")
        }
        EvidenceCommand::Checkpoint => {
            let c = EvidenceLog::open(cfg)?.checkpoint()?;
            show(ctx.json, &c, &c.text())
        }
        EvidenceCommand::Repair { auth } => {
            let change = "cut a damaged tail of the evidence log and rebuild its head";
            authorize(&auth, "cavra evidence repair", change.into(), &cfg)?;
            let r = EvidenceLog::open(cfg)?.repair()?;
            show(ctx.json, &r, &r.text())
        }
        EvidenceCommand::Bundle {
            session,
            since,
            all,
            output,
        } => {
            let req = BundleRequest {
                session,
                since,
                all,
            };
            let files = ops::bundle(&cfg, &req)?;
            cavra_evidence::bundle::write_bundle(&output, &files)?;
            let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
            let (o, n) = (output.display(), files.len());
            let doc = json!({"output": output, "files": names});
            print_line(ctx.json, &doc, format!("wrote bundle {o} ({n} files)"))?;
            Ok(0)
        }
        EvidenceCommand::Search(a) => {
            let q = serde_json::from_value(serde_json::to_value(a)?)?;
            let r = cavra_store::index::search_log(&cfg.dir, &q)?;
            if ctx.json {
                return show(true, &r, "");
            }
            if !r.hits.is_empty() {
                let header = "SEQ ID TIME KIND DECISION ACTION RULE TARGET";
                let rows: Vec<Vec<String>> = r.hits.iter().map(hit_row).collect();
                print!("{}", table(&header.split(' ').collect::<Vec<_>>(), &rows));
            }
            let (n, total, offset) = (r.hits.len(), r.total, r.offset);
            println!("{n} of {total} match(es) (offset {offset})");
            Ok(0)
        }
        EvidenceCommand::Reindex => {
            let mut idx = cavra_store::EvidenceIndex::open(&cfg.dir)?;
            let mut pr = Progress::new(!ctx.json, "indexing");
            let n = idx.rebuild(Some(&mut |n| pr.update(n % 100, 100)))?;
            pr.done();
            print_line(
                ctx.json,
                &json!({"indexed": n}),
                format!("indexed {n} records"),
            )?;
            Ok(0)
        }
        EvidenceCommand::Export {
            format,
            database,
            session,
            since,
            output,
        } => {
            if format == "log" {
                let (db, out) = (database.as_deref(), output.as_deref());
                let r = cavra_server::evidence::export_database(db, out, session.or(since))?;
                return show(ctx.json, &r.0, &r.1);
            }
            let host = cavra_evidence::export::host_name();
            let req = ExportRequest {
                format,
                session,
                since,
                host,
            };
            let text = ops::export_log(&cfg.dir, &req)?;
            write_out(ctx.json, output.as_deref(), &text, "export")
        }
        EvidenceCommand::Prune { older_than, auth } => {
            let d = cavra_evidence::timeutil::parse_duration(&older_than)?;
            let change = format!(
                "delete evidence segments older than {older_than} (a signed tombstone remains)"
            );
            authorize(&auth, "cavra evidence prune", change, &cfg)?;
            let r = ops::prune(cfg, d, cavra_evidence::time::OffsetDateTime::now_utc())?;
            show(ctx.json, &r, &r.text())
        }
        EvidenceCommand::RetentionPlan {
            provider,
            days,
            output,
        } => {
            let plan = cavra_evidence::retention::retention_plan(&provider, days)?;
            write_out(ctx.json, output.as_deref(), &plan, "retention plan")
        }
        EvidenceCommand::Append { kind, body, count } => {
            let v: serde_json::Value = serde_json::from_str(&body).context("--body is not JSON")?;
            let mut log = EvidenceLog::open(cfg)?;
            let mut last = None;
            for _ in 0..count {
                last = Some(log.append(&kind, &v)?);
            }
            if let Some(a) = last {
                print_line(
                    ctx.json,
                    &a,
                    format!("{} #{} {}", a.record_id, a.seq, a.hash),
                )?;
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    }

    #[test]
    fn every_search_flag_lands_in_the_query_by_name() {
        let line = "evidence search --session s --agent a --action-type read_file \
            --decision block --rule r --kind k --since 1h --until 2h --text t --limit 3 --offset 4";
        let cli = Evidence::try_parse_from(line.split_whitespace()).unwrap();
        let EvidenceCommand::Search(a) = cli.command else {
            panic!("not a search: {line}");
        };
        let q: cavra_store::SearchQuery =
            serde_json::from_value(serde_json::to_value(a).unwrap()).unwrap();
        let got = [
            &q.session,
            &q.agent,
            &q.action_type,
            &q.decision,
            &q.rule,
            &q.kind,
        ];
        let want = ["s", "a", "read_file", "block", "r", "k"];
        assert_eq!(got.map(|v| v.as_deref().unwrap_or_default()), want);
        let rest = [&q.since, &q.until, &q.text].map(|v| v.as_deref().unwrap_or_default());
        assert_eq!(rest, ["1h", "2h", "t"]);
        assert_eq!((q.limit, q.offset), (3, 4));
    }
}
