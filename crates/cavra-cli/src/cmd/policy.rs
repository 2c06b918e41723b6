//! `cavra policy list|show|validate|compile|diff|test|sign|verify`.

pub mod replay;

use crate::args::PackArgs;
use crate::ctx::Ctx;
use crate::output::{paint, short};
use crate::packs::{self, DirResolver};
use crate::packs::{compile_path, load_either};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use cavra_core::guard::EvalEnv;
use cavra_core::policy::{self, bundled, diff, signing, testing, BundledResolver, ChainResolver};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};

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

fn read_key_bytes(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key `{}`", path.display()))?;
    let t = text.trim();
    if let Ok(b) = hex::decode(t) {
        return Ok(b);
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| anyhow!("key `{}` is neither hex, base64 nor PEM", path.display()))
}

fn signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key `{}`", path.display()))?;
    if text.contains("BEGIN PRIVATE KEY") {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        return ed25519_dalek::SigningKey::from_pkcs8_pem(&text)
            .map_err(|e| anyhow!("key `{}` is not an Ed25519 PKCS#8 key: {e}", path.display()));
    }
    let b: [u8; 32] = read_key_bytes(path)?
        .try_into()
        .map_err(|_| anyhow!("key `{}` must hold 32 bytes", path.display()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&b))
}

fn verifying_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key `{}`", path.display()))?;
    if text.contains("BEGIN PUBLIC KEY") {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        return ed25519_dalek::VerifyingKey::from_public_key_pem(&text)
            .map_err(|e| anyhow!("key `{}` is not an Ed25519 public key: {e}", path.display()));
    }
    let b: [u8; 32] = read_key_bytes(path)?
        .try_into()
        .map_err(|_| anyhow!("public key `{}` must hold 32 bytes", path.display()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&b).map_err(|e| anyhow!("bad public key: {e}"))
}

fn sig_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

pub fn run(args: PolicyArgs, ctx: &Ctx) -> Result<i32> {
    match args.command {
        PolicyCommand::List { policy_dir } => {
            let mut rows = Vec::new();
            for (id, _) in bundled::PACKS {
                let p = bundled::compiled(id)?;
                rows.push(json!({"id": id, "version": p.version, "title": p.title, "mode": p.mode.as_str(), "rules": p.rules.len(), "digest": p.digest, "source": "bundled", "default": *id == bundled::DEFAULT_PACK}));
            }
            for d in &policy_dir {
                let mut ids: Vec<String> = std::fs::read_dir(d)
                    .with_context(|| format!("cannot read policy dir `{}`", d.display()))?
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().join("policy.yaml").is_file())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect();
                ids.sort();
                for id in ids {
                    match load_either(&id, std::slice::from_ref(d)) {
                        Ok(p) => rows.push(json!({"id": id, "version": p.version, "title": p.title, "mode": p.mode.as_str(), "rules": p.rules.len(), "digest": p.digest, "source": d.join(&id).join("policy.yaml")})),
                        Err(e) => rows.push(json!({"id": id, "error": format!("{e:#}"), "source": d.join(&id).join("policy.yaml")})),
                    }
                }
            }
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<28} {:<8} {:<16} {:>5}  {:<18} TITLE",
                    "ID", "VERSION", "MODE", "RULES", "DIGEST"
                );
                for r in &rows {
                    if let Some(e) = r.get("error") {
                        println!(
                            "{:<28} {}",
                            r["id"].as_str().unwrap_or(""),
                            paint(
                                ctx.color,
                                "31",
                                &format!("error: {}", e.as_str().unwrap_or(""))
                            )
                        );
                        continue;
                    }
                    let mark = if r["default"].as_bool() == Some(true) {
                        " (default)"
                    } else {
                        ""
                    };
                    println!(
                        "{:<28} {:<8} {:<16} {:>5}  {:<18} {}{}",
                        r["id"].as_str().unwrap_or(""),
                        r["version"].as_str().unwrap_or(""),
                        r["mode"].as_str().unwrap_or(""),
                        r["rules"],
                        short(r["digest"].as_str().unwrap_or("")),
                        r["title"].as_str().unwrap_or(""),
                        mark
                    );
                }
            }
            Ok(0)
        }
        PolicyCommand::Show(p) => {
            let project = std::env::current_dir().ok();
            let (pack, origin) = packs::load(&p.choice(), project.as_deref())?;
            if ctx.json {
                let rules: Vec<_> = pack.rules.iter().map(|r| json!({"id": r.id, "effect": r.effect.as_str(), "reason": r.reason, "approver_group": r.approver_group, "controls": r.controls, "alternative": r.alternative})).collect();
                let cli: Vec<_> = pack
                    .cli
                    .entries(&pack.normalized.pack)
                    .into_iter()
                    .map(|e| json!({"program": e.program, "rows": e.rows.iter().map(|r| json!({"path": r.path_text, "rule": r.rule.id, "effect": r.rule.effect.as_str(), "severity": diff::severity_name(&r.rule.severity)})).collect::<Vec<_>>()}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"id": pack.id, "title": pack.title, "version": pack.version, "mode": pack.mode.as_str(), "digest": pack.digest, "lineage": pack.lineage, "source": origin.describe(), "rules": rules, "cli": cli})
                    )?
                );
            } else {
                println!(
                    "{} {} — {}",
                    paint(ctx.color, "1", &pack.id),
                    pack.version,
                    pack.title
                );
                println!("  source   {}", origin.describe());
                println!("  mode     {}", pack.mode.as_str());
                println!("  digest   {}", pack.digest);
                println!("  lineage  {}", pack.lineage.join(" <- "));
                println!(
                    "  default for unlisted commands: {}",
                    pack.defaults.commands.as_str()
                );
                println!("  rules ({}):", pack.rules.len());
                for r in &pack.rules {
                    println!("    {:<48} {:<17} {}", r.id, r.effect.as_str(), r.reason);
                }
                let entries = pack.cli.entries(&pack.normalized.pack);
                let rows: usize = entries.iter().map(|e| e.rows.len()).sum();
                println!("  CLI table ({} programs, {rows} rows):", entries.len());
                for e in entries {
                    for r in &e.rows {
                        let cmd = format!("{} {}", e.program, r.path_text);
                        println!(
                            "    {:<48} {:<17} {}",
                            cmd.trim_end(),
                            r.rule.effect.as_str(),
                            r.rule.id
                        );
                    }
                }
            }
            Ok(0)
        }
        PolicyCommand::Validate { files, policy_dir } => {
            let mut ok = true;
            let mut report = Vec::new();
            for f in &files {
                let src = match std::fs::read_to_string(f) {
                    Ok(s) => s,
                    Err(e) => {
                        ok = false;
                        report.push(json!({"file": f, "valid": false, "problems": [{"message": format!("cannot read: {e}")}]}));
                        if !ctx.json {
                            eprintln!("{}: cannot read: {e}", f.display());
                        }
                        continue;
                    }
                };
                let name = f.display().to_string();
                let result = policy::parse_pack(&name, &src).and_then(|p| {
                    let mut dirs = policy_dir.clone();
                    if let Some(parent) = f.parent().and_then(|p| p.parent()) {
                        dirs.push(parent.to_path_buf());
                    }
                    let dr = DirResolver { dirs };
                    policy::compile::compile(p, &ChainResolver(vec![&dr, &BundledResolver]))
                });
                match result {
                    Ok(p) => {
                        report.push(
                            json!({"file": f, "valid": true, "id": p.id, "digest": p.digest}),
                        );
                        if !ctx.json {
                            println!(
                                "{} {} ({}, {} rules, {})",
                                paint(ctx.color, "32", "ok"),
                                name,
                                p.id,
                                p.rules.len(),
                                short(&p.digest)
                            );
                        }
                    }
                    Err(e) => {
                        ok = false;
                        let problems: Vec<_> = if e.problems().is_empty() {
                            vec![json!({"file": name, "message": e.to_string()})]
                        } else {
                            e.problems()
                                .iter()
                                .map(|p| serde_json::to_value(p).unwrap_or_default())
                                .collect()
                        };
                        report.push(json!({"file": f, "valid": false, "problems": problems}));
                        if !ctx.json {
                            if e.problems().is_empty() {
                                eprintln!("{}: {e}", name);
                            } else {
                                for p in e.problems() {
                                    eprintln!("{p}");
                                }
                            }
                        }
                    }
                }
            }
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            Ok(if ok { 0 } else { 1 })
        }
        PolicyCommand::Compile { packs: p, output } => {
            let project = std::env::current_dir().ok();
            let (pack, _) = packs::load(&p.choice(), project.as_deref())?;
            let text = pack.to_json();
            match output {
                Some(o) => {
                    std::fs::write(&o, text + "\n")
                        .with_context(|| format!("cannot write `{}`", o.display()))?;
                    if !ctx.json {
                        println!("compiled {} -> {} ({})", pack.id, o.display(), pack.digest);
                    } else {
                        println!(
                            "{}",
                            json!({"id": pack.id, "digest": pack.digest, "output": o})
                        );
                    }
                }
                None => println!("{text}"),
            }
            Ok(0)
        }
        PolicyCommand::Diff {
            from,
            to,
            policy_dir,
        } => {
            let a = load_either(&from, &policy_dir)?;
            let b = load_either(&to, &policy_dir)?;
            let d = diff::diff(&a, &b);
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!(
                    "{} ({}) -> {} ({})",
                    d.from,
                    short(&d.from_digest),
                    d.to,
                    short(&d.to_digest)
                );
                if d.rules.is_empty() && d.settings.is_empty() {
                    println!("  no semantic changes");
                }
                for r in &d.rules {
                    let dir = r.direction.clone().unwrap_or_default();
                    let label = match dir.as_str() {
                        "loosened" => paint(ctx.color, "1;31", "LOOSENED"),
                        "tightened" => paint(ctx.color, "1;32", "tightened"),
                        _ => String::new(),
                    };
                    println!(
                        "  {:<8} {:<48} {} -> {} {}",
                        r.change,
                        r.rule_id,
                        r.from_effect.clone().unwrap_or_else(|| "-".into()),
                        r.to_effect.clone().unwrap_or_else(|| "-".into()),
                        label
                    );
                    for x in &r.details {
                        println!("           {x}");
                    }
                }
                for s in &d.settings {
                    println!("  setting  {s}");
                }
                if d.loosens {
                    println!(
                        "{}",
                        paint(
                            ctx.color,
                            "1;31",
                            "this change loosens the policy: review before shipping"
                        )
                    );
                }
            }
            Ok(0)
        }
        PolicyCommand::Test {
            packs: p,
            tests,
            all,
        } => {
            let mut jobs: Vec<(policy::CompiledPack, String, testing::TestFile)> = Vec::new();
            if all {
                for (id, src) in bundled::TESTS {
                    jobs.push((
                        bundled::compiled(id)?,
                        format!("<bundled tests>/{id}.yaml"),
                        testing::parse_test_file(id, src)?,
                    ));
                }
            } else {
                let project = std::env::current_dir().ok();
                let (pack, _) = packs::load(&p.choice(), project.as_deref())?;
                if tests.is_empty() {
                    if let Some(src) = bundled::tests_yaml(&pack.id) {
                        jobs.push((
                            pack.clone(),
                            format!("<bundled tests>/{}.yaml", pack.id),
                            testing::parse_test_file(&pack.id, src)?,
                        ));
                    } else if !pack.tests().is_empty() {
                        let f = testing::TestFile {
                            tests: pack.tests().to_vec(),
                            ..Default::default()
                        };
                        jobs.push((pack.clone(), format!("{} (inline tests)", pack.id), f));
                    } else {
                        bail!("pack `{}` has no tests; pass --tests FILE", pack.id);
                    }
                }
                for t in &tests {
                    let src = std::fs::read_to_string(t)
                        .with_context(|| format!("cannot read test file `{}`", t.display()))?;
                    jobs.push((
                        pack.clone(),
                        t.display().to_string(),
                        testing::parse_test_file(&t.display().to_string(), &src)?,
                    ));
                }
            }
            let mut failed = 0;
            let mut passed = 0;
            let mut out = Vec::new();
            for (pack, name, file) in &jobs {
                let results = testing::run(pack, file, &EvalEnv::default());
                for r in &results {
                    if r.passed {
                        passed += 1;
                    } else {
                        failed += 1;
                        if !ctx.json {
                            println!(
                                "{} {name}: {}: expected {}{}, got {} ({}) — {}",
                                paint(ctx.color, "31", "FAIL"),
                                r.name,
                                r.expected,
                                r.expected_rule
                                    .as_ref()
                                    .map(|x| format!(" ({x})"))
                                    .unwrap_or_default(),
                                r.got,
                                r.got_rule,
                                r.reason
                            );
                        }
                    }
                }
                out.push(json!({"pack": pack.id, "file": name, "results": results}));
            }
            if ctx.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"passed": passed, "failed": failed, "files": out})
                    )?
                );
            } else {
                println!("{passed} passed, {failed} failed");
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
        PolicyCommand::Sign {
            file,
            key,
            policy_dir,
        } => {
            let src = std::fs::read(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let pack = compile_path(&file, &policy_dir)?;
            let k = signing_key(&key)?;
            let sig = signing::sign(&pack.id, &src, &pack.digest, &k);
            let out = sig_path(&file);
            std::fs::write(&out, serde_json::to_string_pretty(&sig)? + "\n")
                .with_context(|| format!("cannot write `{}`", out.display()))?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&sig)?);
            } else {
                println!(
                    "signed {} ({}) with key {} -> {}",
                    pack.id,
                    short(&pack.digest),
                    sig.key_id,
                    out.display()
                );
            }
            Ok(0)
        }
        PolicyCommand::Verify {
            file,
            trusted,
            policy_dir,
        } => {
            let src = std::fs::read(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let sp = sig_path(&file);
            let sig_text = std::fs::read_to_string(&sp)
                .with_context(|| format!("no signature: cannot read `{}`", sp.display()))?;
            let sig: signing::PackSignature = serde_json::from_str(&sig_text)
                .with_context(|| format!("`{}` is not a CAVRA pack signature", sp.display()))?;
            let keys: Vec<_> = trusted
                .iter()
                .map(|p| verifying_key(p))
                .collect::<Result<_>>()?;
            let pack = match compile_path(&file, &policy_dir) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!(
                        "cavra: REFUSED: `{}` no longer compiles ({e:#})",
                        file.display()
                    );
                    return Ok(2);
                }
            };
            match signing::verify(&sig, &pack.id, &src, &pack.digest, &keys) {
                Ok(kid) => {
                    if ctx.json {
                        println!(
                            "{}",
                            json!({"verified": true, "pack": pack.id, "digest": pack.digest, "key_id": kid, "trusted": !keys.is_empty()})
                        );
                    } else {
                        println!(
                            "{} {} signed by key {}{}",
                            paint(ctx.color, "32", "verified"),
                            pack.id,
                            kid,
                            if keys.is_empty() {
                                " (integrity only: no --trusted-key given)"
                            } else {
                                ""
                            }
                        );
                    }
                    Ok(0)
                }
                Err(e) => {
                    if ctx.json {
                        println!(
                            "{}",
                            json!({"verified": false, "pack": pack.id, "error": e.to_string()})
                        );
                    }
                    eprintln!("cavra: REFUSED: {e}");
                    Ok(2)
                }
            }
        }
        PolicyCommand::Replay(a) => replay::run(a, ctx),
        PolicyCommand::Keygen { output } => {
            let mut seed = [0u8; 32];
            getrandom_fill(&mut seed)?;
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            write_private(
                &output,
                &base64::engine::general_purpose::STANDARD.encode(seed),
            )?;
            let pub_path = PathBuf::from(format!("{}.pub", output.display()));
            std::fs::write(
                &pub_path,
                base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
                    + "\n",
            )?;
            println!(
                "key {} -> {} (public: {})",
                signing::key_id(&k.verifying_key()),
                output.display(),
                pub_path.display()
            );
            Ok(0)
        }
    }
}

fn getrandom_fill(buf: &mut [u8]) -> Result<()> {
    use rand_core::RngCore;
    rand_core::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| anyhow!("no randomness available: {e}"))
}

fn write_private(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create `{}` (it must not exist yet)", path.display()))?;
    writeln!(f, "{content}")?;
    Ok(())
}
