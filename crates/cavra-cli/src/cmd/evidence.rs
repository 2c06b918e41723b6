//! `cavra evidence`: verify, prove, bundle, search, export, prune the decision log.

use anyhow::{bail, Context as _};
use cavra_evidence::bundle::{build_bundle, verify_bundle, write_bundle, Selection};
use cavra_evidence::export::{export, Format};
use cavra_evidence::proof::{prove, verify_proof, InclusionProof};
use cavra_evidence::retention::retention_plan;
use cavra_evidence::timeutil::{format_ts, parse_since};
use cavra_evidence::{
    read_records, verify_log, EvidenceLog, KeyStore, Keyring, LogConfig, TrustRoot, VerifyOptions,
    VerifyReport,
};
use cavra_store::{EvidenceIndex, SearchQuery};
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::ctx::Ctx;

/// The outcomes a decision record holds (`cavra evidence search --decision`).
const DECISIONS: [&str; 5] = [
    "allow",
    "block",
    "require_approval",
    "shadow",
    "break_glass",
];

fn action_type_values() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        cavra_core::ActionType::ALL.map(cavra_core::ActionType::as_str),
    )
}

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
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write a signed checkpoint (Merkle tree head) over the whole log now.
    Checkpoint,
    /// Rebuild the head state after a truncated or damaged tail (records the loss).
    Repair {
        #[command(flatten)]
        auth: crate::control::AuthArgs,
    },
    /// Write an evidence bundle (directory, or ZIP when OUTPUT ends in .zip).
    Bundle {
        /// The records of one session.
        #[arg(long, conflicts_with = "since")]
        session: Option<String>,
        /// Records from this time on: RFC 3339 time, date or duration ago (`24h`).
        #[arg(long)]
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
    Search {
        /// Records of this session id.
        #[arg(long)]
        session: Option<String>,
        /// Records of this agent id (`claude-code`, `codex`, `cli`, ...).
        #[arg(long)]
        agent: Option<String>,
        /// Decisions about this action type.
        #[arg(long = "action-type", value_parser = action_type_values())]
        action_type: Option<String>,
        /// Decisions with this outcome.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(DECISIONS))]
        decision: Option<String>,
        /// Decisions by this rule id (e.g. `secrets.dotenv.read`).
        #[arg(long)]
        rule: Option<String>,
        /// Records of this kind (`decision`, `approval.granted`, `session.held`, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Records from this time on: RFC 3339 time, date or duration ago (`24h`).
        #[arg(long)]
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
    },
    /// Rebuild the search index from the log.
    Reindex,
    /// Export records for a SIEM.
    Export {
        /// ocsf | splunk-hec | sentinel | datadog | cef | jsonl
        #[arg(long)]
        format: String,
        #[arg(long)]
        session: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Remove segments older than a duration, leaving a signed tombstone.
    Prune {
        /// e.g. `90d`.
        #[arg(long = "older-than")]
        older_than: String,
        #[command(flatten)]
        auth: crate::control::AuthArgs,
    },
    /// Write an immutable-storage plan (S3 Object Lock or Azure immutable blobs).
    RetentionPlan {
        #[arg(long)]
        provider: String,
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Append one record (for tests and scripting): `--kind K --body JSON`.
    #[command(hide = true)]
    Append {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        body: String,
        /// Append the same body this many times.
        #[arg(long, default_value_t = 1)]
        count: u64,
    },
}

struct Progress {
    on: bool,
    label: &'static str,
    last: u64,
}

impl Progress {
    fn new(ctx: &Ctx, label: &'static str) -> Self {
        Progress {
            on: !ctx.json && std::io::stderr().is_terminal(),
            label,
            last: u64::MAX,
        }
    }
    fn update(&mut self, done: u64, total: u64) {
        if !self.on || total == 0 {
            return;
        }
        let pct = done * 100 / total;
        if pct == self.last {
            return;
        }
        self.last = pct;
        let w = 30;
        let fill = (pct as usize * w / 100).min(w);
        eprint!(
            "\r{} [{}{}] {pct:>3}%",
            self.label,
            "#".repeat(fill),
            " ".repeat(w - fill)
        );
        let _ = std::io::stderr().flush();
    }
    fn done(&self) {
        if self.on && self.last != u64::MAX {
            eprint!("\r{}\r", " ".repeat(50));
        }
    }
}

fn keyring(ctx: &Ctx, cfg: &LogConfig, trust_root: Option<PathBuf>) -> anyhow::Result<Keyring> {
    let tr = trust_root
        .or_else(|| std::env::var_os("CAVRA_TRUST_ROOT").map(PathBuf::from))
        .or_else(|| Some(ctx.cavra_dir.join("trust-root.json")).filter(|p| p.is_file()));
    match tr {
        Some(p) => {
            let t = TrustRoot::load(&p)?;
            Ok(t.keyring(&format!("trust root `{}`", p.display()))?)
        }
        None => Ok(KeyStore::new(&cfg.key_dir).keyring()?),
    }
}

fn print_report(ctx: &Ctx, r: &VerifyReport) -> anyhow::Result<i32> {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        if r.ok {
            println!(
                "OK: {} {} verified ({} records{}, {} signatures, {} checkpoints); keys: {}",
                r.kind,
                r.path,
                r.records,
                r.last_seq
                    .map(|s| format!(", last #{s}"))
                    .unwrap_or_default(),
                r.signatures_verified,
                r.checkpoints_verified,
                r.trust
            );
        } else {
            println!(
                "FAILED: {} {}: {} problem(s); keys: {}",
                r.kind,
                r.path,
                r.issues.len(),
                r.trust
            );
            for i in &r.issues {
                println!("  {i}");
            }
        }
        for n in &r.notes {
            println!("  note: {n}");
        }
    }
    Ok(if r.ok { 0 } else { 1 })
}

fn since(s: &Option<String>) -> anyhow::Result<Option<cavra_evidence::time::OffsetDateTime>> {
    Ok(s.as_deref().map(parse_since).transpose()?)
}

fn out(ctx: &Ctx, output: &Option<PathBuf>, text: &str, what: &str) -> anyhow::Result<()> {
    match output {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("writing `{}`", p.display()))?;
            if !ctx.json {
                eprintln!("cavra: wrote {what} to {}", p.display());
            }
        }
        None => {
            // a closed pipe (`| head`) is not an error
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
        }
    }
    Ok(())
}

fn is_bundle(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        || p.join("manifest.json").is_file()
}

pub fn run(args: EvidenceArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = LogConfig::for_cavra_dir(&ctx.cavra_dir);
    match args.command {
        EvidenceCommand::Verify {
            path,
            trust_root,
            full,
        } => {
            let explicit_trust = trust_root.is_some();
            let ring = keyring(ctx, &cfg, trust_root)?;
            let path = path.unwrap_or_else(|| cfg.dir.clone());
            if !path.exists() {
                bail!("`{}` does not exist", path.display());
            }
            if is_bundle(&path) {
                let use_ring = explicit_trust || ring.is_trust_root || !ring.is_empty();
                let r = verify_bundle(&path, use_ring.then_some(&ring))?;
                return print_report(ctx, &r);
            }
            if path.is_file() {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading `{}`", path.display()))?;
                let p: InclusionProof = serde_json::from_str(&text).with_context(|| {
                    format!(
                        "`{}` is neither a bundle nor an inclusion proof",
                        path.display()
                    )
                })?;
                let issues = verify_proof(&p, (!ring.is_empty()).then_some(&ring));
                if ctx.json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": issues.is_empty(), "kind": "proof", "record_id": p.record_id, "tree_size": p.tree_size, "issues": issues})
                    );
                } else if issues.is_empty() {
                    println!(
                        "OK: record {} is included in the signed checkpoint over {} records",
                        p.record_id, p.tree_size
                    );
                } else {
                    println!("FAILED: proof for {}:", p.record_id);
                    issues.iter().for_each(|i| println!("  {i}"));
                }
                return Ok(if issues.is_empty() { 0 } else { 1 });
            }
            let mut pr = Progress::new(ctx, "verifying");
            let mut cb = |d: u64, t: u64| pr.update(d, t);
            let r = verify_log(
                &path,
                VerifyOptions {
                    keyring: &ring,
                    full_signatures: full,
                    progress: Some(&mut cb),
                },
            )?;
            pr.done();
            print_report(ctx, &r)
        }
        EvidenceCommand::Prove { record_id, output } => {
            let mut log = EvidenceLog::open(cfg)?;
            let p = prove(&mut log, &record_id)?;
            out(
                ctx,
                &output,
                &format!("{}\n", serde_json::to_string_pretty(&p)?),
                "inclusion proof",
            )?;
            Ok(0)
        }
        EvidenceCommand::Checkpoint => {
            let mut log = EvidenceLog::open(cfg)?;
            let c = log.checkpoint()?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!(
                    "checkpoint over {} records: root {} (key {})",
                    c.tree_size, c.root_hash, c.key_id
                );
            }
            Ok(0)
        }
        EvidenceCommand::Repair { auth } => {
            crate::control::authorize(
                &crate::control::Control::new("cavra evidence repair", cavra_store::Role::Admin)
                    .show(
                        "change",
                        "cut a damaged tail of the evidence log and rebuild its head",
                    )
                    .show("log", cfg.dir.display().to_string()),
                &auth,
                None,
            )?;
            let mut log = EvidenceLog::open(cfg)?;
            let r = log.repair()?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "head rebuilt: {} records, {} bytes of incomplete tail cut",
                    r.next_seq, r.truncated_bytes
                );
                if let Some(a) = r.repair_record {
                    println!(
                        "records were missing: recorded as repair record {} (#{})",
                        a.record_id, a.seq
                    );
                }
            }
            Ok(0)
        }
        EvidenceCommand::Bundle {
            session,
            since: s,
            all,
            output,
        } => {
            if session.is_none() && s.is_none() && !all {
                bail!("give `--session S`, `--since T` or `--all` (the whole log)");
            }
            let (key, _) = KeyStore::new(&cfg.key_dir).load_or_create_active(cfg.signing)?;
            let sel = Selection {
                session,
                since: since(&s)?,
            };
            let files = build_bundle(&cfg.dir, &sel, &key)?;
            write_bundle(&output, &files)?;
            if ctx.json {
                println!(
                    "{}",
                    serde_json::json!({"output": output, "files": files.iter().map(|(n, _)| n).collect::<Vec<_>>()})
                );
            } else {
                println!("wrote bundle {} ({} files)", output.display(), files.len());
            }
            Ok(0)
        }
        EvidenceCommand::Search {
            session,
            agent,
            action_type,
            decision,
            rule,
            kind,
            since: s,
            until,
            text,
            limit,
            offset,
        } => {
            let mut idx = EvidenceIndex::open(&cfg.dir)?;
            idx.update(None)?;
            let q = SearchQuery {
                session,
                agent,
                action_type,
                decision,
                rule,
                kind,
                text,
                limit,
                offset,
                since: since(&s)?.map(format_ts),
                until: since(&until)?.map(format_ts),
            };
            let r = idx.search(&q)?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                let rows: Vec<[String; 8]> = r
                    .hits
                    .iter()
                    .map(|h| {
                        [
                            h.seq.to_string(),
                            h.record_id.clone(),
                            h.timestamp.clone(),
                            h.kind.clone(),
                            h.decision.clone().unwrap_or_else(|| "-".into()),
                            h.action_type.clone().unwrap_or_else(|| "-".into()),
                            h.rule_id.clone().unwrap_or_else(|| "-".into()),
                            h.target.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                if !rows.is_empty() {
                    let header = [
                        "SEQ", "ID", "TIME", "KIND", "DECISION", "ACTION", "RULE", "TARGET",
                    ];
                    print!("{}", crate::output::table(&header, &rows));
                }
                println!(
                    "{} of {} match(es) (offset {})",
                    r.hits.len(),
                    r.total,
                    r.offset
                );
            }
            Ok(0)
        }
        EvidenceCommand::Reindex => {
            let mut idx = EvidenceIndex::open(&cfg.dir)?;
            let mut pr = Progress::new(ctx, "indexing");
            let mut cb = |n: u64| pr.update(n % 100, 100);
            let n = idx.rebuild(Some(&mut cb))?;
            pr.done();
            if ctx.json {
                println!("{}", serde_json::json!({"indexed": n}));
            } else {
                println!("indexed {n} records");
            }
            Ok(0)
        }
        EvidenceCommand::Export {
            format,
            session,
            since: s,
            output,
        } => {
            let fmt = Format::parse(&format)?;
            let t = since(&s)?;
            let recs: Vec<_> = read_records(&cfg.dir)?
                .into_iter()
                .filter(|r| session.as_deref().is_none_or(|x| r.session_id() == Some(x)))
                .filter(|r| {
                    t.is_none_or(|t| {
                        cavra_evidence::timeutil::parse_ts(&r.timestamp).is_ok_and(|x| x >= t)
                    })
                })
                .collect();
            let host = cavra_evidence::export::host_name();
            out(ctx, &output, &export(&recs, fmt, &host), "export")?;
            Ok(0)
        }
        EvidenceCommand::Prune { older_than, auth } => {
            let d = cavra_evidence::timeutil::parse_duration(&older_than)?;
            crate::control::authorize(
                &crate::control::Control::new("cavra evidence prune", cavra_store::Role::Admin)
                    .show("change", format!("delete evidence segments older than {older_than} (a signed tombstone remains)"))
                    .show("log", cfg.dir.display().to_string()),
                &auth,
                None,
            )?;
            let mut log = EvidenceLog::open(cfg)?;
            let r = log.prune(cavra_evidence::time::OffsetDateTime::now_utc() - d)?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else if r.segments_removed.is_empty() {
                println!(
                    "nothing older than {} to prune (pruning removes whole segments)",
                    r.cutoff
                );
            } else {
                println!("pruned {} records in {} segment(s); signed tombstone written, records now start at #{}", r.records_removed, r.segments_removed.len(), r.pruned_before_seq);
            }
            Ok(0)
        }
        EvidenceCommand::RetentionPlan {
            provider,
            days,
            output,
        } => {
            out(
                ctx,
                &output,
                &retention_plan(&provider, days)?,
                "retention plan",
            )?;
            Ok(0)
        }
        EvidenceCommand::Append { kind, body, count } => {
            let v: serde_json::Value = serde_json::from_str(&body).context("--body is not JSON")?;
            let mut log = EvidenceLog::open(cfg)?;
            let mut last = None;
            for _ in 0..count {
                last = Some(log.append(&kind, &v)?);
            }
            if let Some(a) = last {
                if ctx.json {
                    println!("{}", serde_json::to_string(&a)?);
                } else {
                    println!("{} #{} {}", a.record_id, a.seq, a.hash);
                }
            }
            Ok(0)
        }
    }
}
