//! `cavra policy list|show|validate|compile|diff|test|sign|verify|replay|keygen`: the
//! documents come from `cavra_runtime::policies` (and `replay`); this module parses the
//! arguments and prints them.

pub mod replay;

use crate::args::PackArgs;
use crate::ctx::Ctx;
use crate::output::{painter, print_doc, print_json, short, table};
use crate::packs::{self, Origin};
use anyhow::{Context, Result};
use cavra_core::policy::{diff::PackDiff, CompiledPack};
use cavra_runtime::policies::{self, TestTarget};
use cavra_runtime::render::{Paint, Tone};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List bundled packs (and packs in --policy-dir).
    List {
        #[arg(long, value_name = "DIR")]
        policy_dir: Vec<PathBuf>,
    },
    /// Show a pack: metadata, digest, rules.
    Show(PackFileArgs),
    /// Validate pack files against the schema; every problem with file, line and column.
    Validate {
        /// Pack files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        policy_dir: Vec<PathBuf>,
    },
    /// Compile a pack (inheritance resolved) to its normalized JSON form with a digest.
    Compile {
        #[command(flatten)]
        packs: PackFileArgs,
        /// Write to FILE instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Semantic diff between two packs (ids or files).
    Diff {
        from: String,
        to: String,
        #[arg(long, value_name = "DIR")]
        policy_dir: Vec<PathBuf>,
    },
    /// Run a pack's tests (bundled tests, or a test file).
    Test {
        #[command(flatten)]
        packs: PackFileArgs,
        /// Test file(s) (YAML: `tests: [{action, target, expect, rule}]`).
        #[arg(long = "tests", value_name = "FILE")]
        tests: Vec<PathBuf>,
        /// Test every bundled pack with its bundled tests.
        #[arg(long, conflicts_with_all = ["file", "pack", "policy"])]
        all: bool,
    },
    /// Sign a pack file with an Ed25519 key (writes FILE.sig).
    Sign {
        file: PathBuf,
        /// Private key file: 32-byte seed in base64 or hex, or PKCS#8 PEM.
        #[arg(long)]
        key: PathBuf,
        #[arg(long, value_name = "DIR")]
        policy_dir: Vec<PathBuf>,
    },
    /// Verify a signed pack file (FILE.sig) and refuse a tampered one.
    Verify {
        file: PathBuf,
        /// Trusted public key file(s): base64/hex 32 bytes or PEM. Without one, only
        /// integrity against the embedded key is checked.
        #[arg(long = "trusted-key")]
        trusted: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        policy_dir: Vec<PathBuf>,
    },
    /// Re-evaluate the recorded requests of the evidence log under another pack and show
    /// what would change (newly blocked, newly allowed, approvals added/removed).
    Replay(replay::ReplayArgs),
    /// Generate an Ed25519 key pair for signing packs.
    Keygen {
        /// Output path of the private key (public key goes to PATH.pub).
        output: PathBuf,
    },
}

/// Which pack a `policy show|compile|test` call is about: a pack file given positionally
/// (`cavra policy compile my-pack.yaml`, as `policy validate FILE`), or `--pack ID` /
/// `--policy FILE` as every other command takes them.
#[derive(Debug, Args)]
pub struct PackFileArgs {
    /// A pack file (YAML, or compiled JSON); the same as `--policy FILE`.
    #[arg(value_name = "FILE", conflicts_with_all = ["pack", "policy"])]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub packs: PackArgs,
}

impl PackFileArgs {
    pub fn choice(&self) -> packs::PackChoice {
        let mut c = self.packs.choice();
        if let Some(f) = &self.file {
            c.policy = Some(f.clone());
        }
        c
    }
}

/// The pack a `policy show|compile|test` call is about (`policy.yaml` of the project's
/// CAVRA directory when none is named).
fn load(p: &PackFileArgs) -> Result<(CompiledPack, Origin)> {
    packs::load(&p.choice(), std::env::current_dir().ok().as_deref())
}

pub fn run(args: PolicyArgs, ctx: &Ctx) -> Result<i32> {
    let (json, paint) = (ctx.json, painter(ctx.color));
    match args.command {
        PolicyCommand::List { policy_dir } => {
            let rows = policies::list(&policy_dir)?;
            let headers = ["ID", "VERSION", "MODE", "RULES", "DIGEST", "TITLE"];
            let cells = || rows.iter().map(|r| r.cells(&paint)).collect::<Vec<_>>();
            print_doc(json, &rows, || table(&headers, &cells()))?;
        }
        PolicyCommand::Show(p) => {
            let (pack, origin) = load(&p)?;
            let v = policies::show(&pack, &origin);
            print_doc(json, &v, || v.text(&paint))?;
        }
        PolicyCommand::Validate { files, policy_dir } => {
            let report = policies::validate_files(&files, &policy_dir);
            match json {
                true => print_json(&report)?,
                false => report.iter().for_each(|v| match v.valid {
                    true => print!("{}", v.text(&paint)),
                    false => eprint!("{}", v.text(&paint)),
                }),
            }
            return Ok(if report.iter().all(|v| v.valid) { 0 } else { 1 });
        }
        PolicyCommand::Compile { packs: p, output } => {
            let (pack, _) = load(&p)?;
            let Some(o) = output else {
                println!("{}", pack.to_json());
                return Ok(0);
            };
            std::fs::write(&o, pack.to_json() + "\n")
                .with_context(|| format!("cannot write `{}`", o.display()))?;
            match json {
                true => println!(
                    "{}",
                    serde_json::json!({"id": pack.id, "digest": pack.digest, "output": o})
                ),
                false => println!("compiled {} -> {} ({})", pack.id, o.display(), pack.digest),
            }
        }
        PolicyCommand::Diff {
            from,
            to,
            policy_dir,
        } => {
            let d = policies::diff(&from, &to, &policy_dir)?;
            print_doc(json, &d, || diff_text(&paint, &d))?;
        }
        PolicyCommand::Test {
            packs: p,
            tests,
            all,
        } => {
            let target = match all {
                true => TestTarget::AllBundled,
                false => TestTarget::Pack {
                    pack: Box::new(load(&p)?.0),
                    files: tests,
                },
            };
            let r = policies::test(target)?;
            print_doc(json, &r, || r.text(&paint))?;
            return Ok(if r.failed == 0 { 0 } else { 1 });
        }
        PolicyCommand::Sign {
            file,
            key,
            policy_dir,
        } => {
            let s = policies::sign(&file, &key, &policy_dir)?;
            print_doc(json, &s.signature, || s.text())?;
        }
        PolicyCommand::Verify {
            file,
            trusted,
            policy_dir,
        } => {
            let v = policies::verify(&file, &trusted, &policy_dir)?;
            // a file that no longer compiles has no document: it is refused on stderr only
            match (json, &v.pack) {
                (true, Some(_)) => println!("{}", serde_json::to_string(&v)?),
                (false, _) => print!("{}", v.text(&paint)),
                _ => {}
            }
            if let Some(e) = &v.error {
                eprintln!("cavra: REFUSED: {e}");
                return Ok(2);
            }
        }
        PolicyCommand::Replay(a) => return replay::run(a, ctx),
        PolicyCommand::Keygen { output } => {
            let k = cavra_evidence::pack_keys::generate(&output)?;
            let (private, public) = (k.private.display(), k.public.display());
            println!("key {} -> {private} (public: {public})", k.key_id);
        }
    }
    Ok(0)
}

/// The text of `policy diff`: the changed rules as a table, each with its details.
fn diff_text(paint: Paint<'_>, d: &PackDiff) -> String {
    let (f, t) = (short(&d.from_digest), short(&d.to_digest));
    let mut out = format!("{} ({f}) -> {} ({t})\n", d.from, d.to);
    if d.rules.is_empty() && d.settings.is_empty() {
        out.push_str("  no semantic changes\n");
    }
    let cells: Vec<_> = d
        .rules
        .iter()
        .map(|r| policies::diff_cells(r, paint))
        .collect();
    let text = table(&["CHANGE", "RULE", "EFFECT", "DIRECTION"], &cells);
    let mut lines = text.lines().map(|l| format!("  {l}\n"));
    out.extend(lines.next().filter(|_| !d.rules.is_empty()));
    for (line, r) in lines.zip(&d.rules) {
        out.push_str(&line);
        out.extend(r.details.iter().map(|x| format!("      {x}\n")));
    }
    out.extend(d.settings.iter().map(|s| format!("  setting  {s}\n")));
    if d.loosens {
        let warning = "this change loosens the policy: review before shipping";
        out.push_str(&(paint(Tone::StrongBad, warning) + "\n"));
    }
    out
}
