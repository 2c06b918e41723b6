//! `cavra keys`: signing keys of the evidence log and trust-root export.

use anyhow::Context as _;
use cavra_evidence::{KeyStore, LogConfig, SigningMode};
use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::ctx::Ctx;

/// Manage evidence signing keys.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new key and make it the active one for its algorithm.
    Generate {
        /// `ed25519` (default) or `hmac-sha256`.
        #[arg(long, default_value = "ed25519")]
        alg: String,
    },
    /// List keys (ids, algorithms, public keys; never secrets).
    List,
    /// Generate a new active key; the previous one is kept (retired) for verification.
    Rotate {
        #[arg(long, default_value = "ed25519")]
        alg: String,
    },
    /// Print (or write) a trust-root file with the Ed25519 public keys.
    ExportPublic {
        /// Only this key.
        #[arg(long)]
        key_id: Option<String>,
        /// Write the trust root to FILE instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub fn run(args: KeysArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = LogConfig::for_cavra_dir(&ctx.cavra_dir);
    let ks = KeyStore::new(&cfg.key_dir);
    match args.command {
        KeysCommand::Generate { alg } => {
            let mode = SigningMode::parse(&alg)?;
            let k = ks.generate(mode).context("generating a key")?;
            report(ctx, "generated", k.key_id(), mode, None, &ks);
        }
        KeysCommand::Rotate { alg } => {
            let mode = SigningMode::parse(&alg)?;
            let (old, k) = ks.rotate(mode).context("rotating the key")?;
            report(ctx, "rotated", k.key_id(), mode, old.as_deref(), &ks);
        }
        KeysCommand::List => {
            let list = ks.list()?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!(
                    "no keys in {} (one is generated on first use, or run `cavra keys generate`)",
                    ks.dir().display()
                );
            } else {
                for k in list {
                    println!(
                        "{} {:<28} {:<12} created {}{}{}",
                        if k.active { "*" } else { " " },
                        k.key_id,
                        k.alg,
                        k.created_at,
                        k.retired_at
                            .map(|r| format!(", retired {r}"))
                            .unwrap_or_default(),
                        k.public_key
                            .map(|p| format!("\n    public key {p}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        KeysCommand::ExportPublic { key_id, output } => {
            let tr = ks.export_public(key_id.as_deref())?;
            let text = serde_json::to_string_pretty(&tr)?;
            match output {
                Some(p) => {
                    std::fs::write(&p, format!("{text}\n"))
                        .with_context(|| format!("writing `{}`", p.display()))?;
                    if !ctx.json {
                        eprintln!(
                            "cavra: wrote trust root with {} key(s) to {}",
                            tr.keys.len(),
                            p.display()
                        );
                    }
                }
                None => println!("{text}"),
            }
        }
    }
    Ok(0)
}

fn report(ctx: &Ctx, what: &str, id: &str, mode: SigningMode, old: Option<&str>, ks: &KeyStore) {
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"result": what, "key_id": id, "alg": mode.as_str(), "previous_key_id": old, "key_dir": ks.dir()})
        );
    } else {
        eprintln!(
            "cavra: {what} {} key {id} in {} (private key file mode 0600){}",
            mode.as_str(),
            ks.dir().display(),
            old.map(|o| format!("; previous key {o} kept for verification"))
                .unwrap_or_default()
        );
    }
}
