//! `cavra keys`: signing keys of the evidence log and trust-root export.

use anyhow::Context as _;
use cavra_evidence::{KeyStore, LogConfig, SigningMode};
use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::control::{authorize, AuthArgs, Control};
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
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// List keys (ids, algorithms, public keys; never secrets).
    List,
    /// Generate a new active key; the previous one is kept (retired) for verification.
    Rotate {
        #[arg(long, default_value = "ed25519")]
        alg: String,
        #[command(flatten)]
        auth: AuthArgs,
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
    /// The approver key (outside the repository) and approver tokens.
    #[command(subcommand)]
    Approver(ApproverCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApproverCommand {
    /// Create the approver key pair in the approver directory (default
    /// `$XDG_CONFIG_HOME/cavra/approver`, else `~/.config/cavra/approver`; private key 0600).
    /// Confirmed at the terminal; an existing key is never replaced.
    Init,
    /// Show where the approver key lives and its id.
    Show,
    /// Issue an approver token (printed on stdout). Confirmed at the terminal only.
    Issue {
        /// Who the token authenticates (recorded as the approver).
        #[arg(long)]
        subject: String,
        /// approve, deny, break_glass, release or admin (repeatable).
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// Lifetime, e.g. 8h (at most 30d).
        #[arg(long, default_value = "8h")]
        ttl: String,
    },
}

pub fn run(args: KeysArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = LogConfig::for_cavra_dir(&ctx.cavra_dir);
    let ks = KeyStore::new(&cfg.key_dir);
    match args.command {
        KeysCommand::Generate { alg, auth } => {
            let mode = SigningMode::parse(&alg)?;
            authorize(
                &Control::new("cavra keys generate", cavra_store::Role::Admin)
                    .show(
                        "change",
                        format!(
                            "make a new {} key the active evidence signing key",
                            mode.as_str()
                        ),
                    )
                    .show("keys", ks.dir().display().to_string()),
                &auth,
                None,
            )?;
            let k = ks.generate(mode).context("generating a key")?;
            report(ctx, "generated", k.key_id(), mode, None, &ks);
        }
        KeysCommand::Rotate { alg, auth } => {
            let mode = SigningMode::parse(&alg)?;
            authorize(
                &Control::new("cavra keys rotate", cavra_store::Role::Admin)
                    .show("change", format!("rotate the {} evidence signing key (the old one is kept for verification)", mode.as_str()))
                    .show("keys", ks.dir().display().to_string()),
                &auth,
                None,
            )?;
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
        KeysCommand::Approver(cmd) => return approver(cmd, ctx),
    }
    Ok(0)
}

fn approver(cmd: ApproverCommand, ctx: &Ctx) -> anyhow::Result<i32> {
    let dir = crate::control::approver_dir()?;
    let now = cavra_store::OffsetDateTime::now_utc();
    let terminal_only = |ctrl: Control| Control {
        terminal_only: true,
        ..ctrl
    };
    match cmd {
        ApproverCommand::Show => {
            let key = cavra_store::ApproverKey::load(&dir).ok().flatten();
            let trust = cavra_store::ApproverTrust::load(&dir).ok();
            let v = serde_json::json!({
                "approver_dir": dir,
                "private_key": key.is_some(),
                "public_key": trust.is_some_and(|t| !t.is_empty()),
                "kid": key.as_ref().map(|k| k.kid().to_string()),
            });
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("approver directory  {}", dir.display());
                println!(
                    "key                 {}",
                    key.map(|k| format!("{} (private key present)", k.kid()))
                        .unwrap_or_else(|| "none (`cavra keys approver init`)".into())
                );
            }
        }
        ApproverCommand::Init => {
            anyhow::ensure!(
                !dir.join(cavra_store::approver::KEY_FILE).exists()
                    && !dir.join(cavra_store::approver::PUB_FILE).exists(),
                "an approver key already exists in `{}`; it is never replaced",
                dir.display()
            );
            let who = authorize(
                &terminal_only(
                    Control::new("cavra keys approver init", cavra_store::Role::Admin)
                        .show(
                            "change",
                            "create the approver key pair (signs approvals and tokens)",
                        )
                        .show("directory", dir.display().to_string()),
                ),
                &AuthArgs::default(),
                None,
            )?;
            let k = cavra_store::ApproverKey::init(&dir, now)?;
            if ctx.json {
                println!(
                    "{}",
                    serde_json::json!({"result": "created", "kid": k.kid(), "approver_dir": dir, "by": who.identity})
                );
            } else {
                eprintln!(
                    "cavra: created approver key {} in {} (private key mode 0600, public key approver.pub)",
                    k.kid(),
                    dir.display()
                );
            }
        }
        ApproverCommand::Issue {
            subject,
            roles,
            ttl,
        } => {
            let roles = roles
                .iter()
                .map(|r| cavra_store::Role::parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            let ttl = cavra_store::parse_duration(&ttl)?;
            let key = cavra_store::ApproverKey::load(&dir)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no approver key in `{}`: run `cavra keys approver init` first",
                    dir.display()
                )
            })?;
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            authorize(
                &terminal_only(
                    Control::new("cavra keys approver issue", cavra_store::Role::Admin)
                        .show(
                            "change",
                            "issue an approver token (a credential: keep it secret)",
                        )
                        .show("subject", subject.clone())
                        .show("roles", names.join(", "))
                        .show("ttl", format!("{}s", ttl.as_secs())),
                ),
                &AuthArgs::default(),
                None,
            )?;
            let token = key.issue_token(&subject, &roles, now, ttl)?;
            println!("{token}");
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
