//! `cavra policy …`: the documents come from `cavra_runtime::policies` (and `replay`);
//! this module parses the arguments and prints them.

pub mod replay;

use crate::args::PackArgs;
use crate::ctx::Ctx;
use crate::output::{painter, print_doc, print_json, table};
use crate::packs::{self, Origin};
use anyhow::Result;
use cavra_core::policy::CompiledPack;
use cavra_runtime::policies::{self, TestTarget};
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
    List(PolicyDirs),
    /// Show a pack: metadata, digest, rules.
    Show(PackFileArgs),
    /// Validate pack files against the schema; every problem with file, line and column.
    Validate {
        /// Pack files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        dirs: PolicyDirs,
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
        #[command(flatten)]
        dirs: PolicyDirs,
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
        #[command(flatten)]
        dirs: PolicyDirs,
    },
    /// Verify a signed pack file (FILE.sig) and refuse a tampered one.
    Verify {
        file: PathBuf,
        /// Trusted public key file(s), base64/hex or PEM; without one, integrity only.
        #[arg(long = "trusted-key", value_name = "FILE")]
        keys: Vec<PathBuf>,
        #[command(flatten)]
        dirs: PolicyDirs,
    },
    /// Re-evaluate the evidence log's requests under another pack: what would change.
    Replay(replay::ReplayArgs),
    /// Publish a pack version through the server: a draft, with a replay of the recorded
    /// decisions attached, for a second person to review (`cavra rollout`, docs/rollout.md).
    Publish {
        /// The pack file (YAML).
        file: PathBuf,
        #[command(flatten)]
        server: crate::args::ServerArgs,
        /// Replay only the decisions recorded since (RFC 3339, a date, or `30d`).
        #[arg(long)]
        since: Option<String>,
    },
    /// Generate an Ed25519 key pair for signing packs.
    Keygen {
        /// Output path of the private key (public key goes to PATH.pub).
        output: PathBuf,
    },
}

/// `--policy-dir DIR` of the commands that take pack ids or pack files.
#[derive(Debug, Args)]
pub struct PolicyDirs {
    /// Directory of packs `DIR/<id>/policy.yaml`, also searched for `extends` (repeatable).
    #[arg(long = "policy-dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

/// The pack of `policy show|compile|test`: a pack file given positionally (as in `policy
/// validate FILE`), or `--pack ID` / `--policy FILE` as every other command takes them.
#[derive(Debug, Args)]
pub struct PackFileArgs {
    /// A pack file (YAML, or compiled JSON); the same as `--policy FILE`.
    #[arg(value_name = "FILE", conflicts_with_all = ["pack", "policy"])]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub packs: PackArgs,
}

impl PackFileArgs {
    /// The pack (`policy.yaml` of the project's CAVRA directory when none is named).
    fn load(&self) -> Result<(CompiledPack, Origin)> {
        let mut choice = self.packs.choice();
        choice.policy = self.file.clone().or(choice.policy);
        packs::load(&choice, std::env::current_dir().ok().as_deref())
    }
}

pub fn run(args: PolicyArgs, ctx: &Ctx) -> Result<i32> {
    let (json, paint) = (ctx.json, painter(ctx.color));
    match args.command {
        PolicyCommand::List(d) => {
            let rows = policies::list(&d.dirs)?;
            let headers = ["ID", "VERSION", "MODE", "RULES", "DIGEST", "TITLE"];
            let cells = || rows.iter().map(|r| r.cells(&paint)).collect::<Vec<_>>();
            print_doc(json, &rows, || table(&headers, &cells()))?;
        }
        PolicyCommand::Show(p) => {
            let (pack, origin) = p.load()?;
            let v = policies::show(&pack, &origin);
            print_doc(json, &v, || v.text(&paint))?;
        }
        PolicyCommand::Validate { files, dirs } => {
            let report = policies::validate_files(&files, &dirs.dirs);
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
            let (pack, _) = p.load()?;
            let Some(o) = output else {
                println!("{}", pack.to_json());
                return Ok(0);
            };
            let c = policies::write_compiled(&pack, &o)?;
            match json {
                true => println!("{}", serde_json::to_string(&c)?),
                false => print!("{}", c.text()),
            }
        }
        PolicyCommand::Diff { from, to, dirs } => {
            let d = policies::diff(&from, &to, &dirs.dirs)?;
            print_doc(json, &d, || policies::diff_text(&paint, &d))?;
        }
        PolicyCommand::Test { packs, tests, all } => {
            let target = match all {
                true => TestTarget::AllBundled,
                false => TestTarget::Pack {
                    pack: Box::new(packs.load()?.0),
                    files: tests,
                },
            };
            let r = policies::test(target)?;
            print_doc(json, &r, || r.text(&paint))?;
            return Ok(if r.failed == 0 { 0 } else { 1 });
        }
        PolicyCommand::Sign { file, key, dirs } => {
            let s = policies::sign(&file, &key, &dirs.dirs)?;
            print_doc(json, &s.signature, || s.text())?;
        }
        PolicyCommand::Verify { file, keys, dirs } => {
            let v = policies::verify(&file, &keys, &dirs.dirs)?;
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
        PolicyCommand::Publish {
            file,
            server,
            since,
        } => return publish(&file, &server, since.as_deref(), ctx),
        PolicyCommand::Keygen { output } => {
            let k = cavra_evidence::pack_keys::generate(&output)?;
            let (private, public) = (k.private.display(), k.public.display());
            println!("key {} -> {private} (public: {public})", k.key_id);
        }
    }
    Ok(0)
}

/// `cavra policy publish FILE`.
pub fn publish(
    file: &std::path::Path,
    server: &crate::args::ServerArgs,
    since: Option<&str>,
    ctx: &Ctx,
) -> Result<i32> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read the pack `{}`: {e}", file.display()))?;
    let name = file.file_name().map_or_else(
        || "policy.yaml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let doc = server.remote()?.publish(&name, &source, since)?;
    crate::output::print_view(ctx, &doc).map(|()| 0)
}
