//! `cavra keys`: the evidence log's signing keys (`cavra_evidence::KeyStore`), trust-root
//! export, and the approver key and tokens (`cavra_store::ApproverKey`). Changes are
//! authorized at the terminal or by an admin token (`crate::control`).

use anyhow::Context as _;
use cavra_evidence::{KeyStore, LogConfig, SigningMode};
use cavra_store::{ApproverKey, Role};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

use crate::control::{authorize, AuthArgs, Control};
use crate::ctx::Ctx;
use crate::output::print_json;

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
    let ks = KeyStore::new(LogConfig::for_cavra_dir(&ctx.cavra_dir).key_dir);
    let dir = ks.dir().display().to_string();
    let rotate = matches!(args.command, KeysCommand::Rotate { .. });
    match args.command {
        KeysCommand::Generate { alg, auth } | KeysCommand::Rotate { alg, auth } => {
            let mode = SigningMode::parse(&alg)?;
            let (m, verb) = (mode.as_str(), if rotate { "rotate" } else { "generate" });
            let change = match rotate {
                true => format!(
                    "rotate the {m} evidence signing key (the old one is kept for verification)"
                ),
                false => format!("make a new {m} key the active evidence signing key"),
            };
            let ctrl = Control::new(format!("cavra keys {verb}"), Role::Admin);
            authorize(
                &ctrl.show("change", change).show("keys", dir.clone()),
                &auth,
                None,
            )?;
            let (old, k) = match rotate {
                true => ks.rotate(mode).context("rotating the key")?,
                false => (None, ks.generate(mode).context("generating a key")?),
            };
            let (id, what) = (k.key_id(), if rotate { "rotated" } else { "generated" });
            if ctx.json {
                let v = json!({"result": what, "key_id": id, "alg": m, "previous_key_id": old, "key_dir": ks.dir()});
                println!("{v}");
            } else {
                let old = old.map(|o| format!("; previous key {o} kept for verification"));
                let old = old.unwrap_or_default();
                eprintln!("cavra: {what} {m} key {id} in {dir} (private key file mode 0600){old}");
            }
        }
        KeysCommand::List => {
            let list = ks.list()?;
            if ctx.json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("no keys in {dir} (one is generated on first use, or run `cavra keys generate`)");
            }
            for k in list.iter().filter(|_| !ctx.json) {
                let active = if k.active { "*" } else { " " };
                let retired = k.retired_at.as_ref().map(|r| format!(", retired {r}"));
                let public = k
                    .public_key
                    .as_ref()
                    .map(|p| format!("\n    public key {p}"));
                let (retired, public) = (retired.unwrap_or_default(), public.unwrap_or_default());
                let (id, alg, at) = (&k.key_id, &k.alg, &k.created_at);
                println!("{active} {id:<28} {alg:<12} created {at}{retired}{public}");
            }
        }
        KeysCommand::ExportPublic { key_id, output } => {
            let tr = ks.export_public(key_id.as_deref())?;
            let text = serde_json::to_string_pretty(&tr)?;
            let Some(p) = output else {
                println!("{text}");
                return Ok(0);
            };
            std::fs::write(&p, format!("{text}\n"))
                .with_context(|| format!("writing `{}`", p.display()))?;
            if !ctx.json {
                let n = tr.keys.len();
                eprintln!("cavra: wrote trust root with {n} key(s) to {}", p.display());
            }
        }
        KeysCommand::Approver(cmd) => return approver(cmd, ctx),
    }
    Ok(0)
}

/// A change to the approver key, confirmed by a person at the terminal only.
fn at_terminal(
    command: &str,
    change: &str,
    shown: Vec<(&'static str, String)>,
) -> anyhow::Result<crate::control::Authorized> {
    let mut ctrl = Control::new(command, Role::Admin).show("change", change);
    ctrl.summary.extend(shown);
    ctrl.terminal_only = true;
    authorize(&ctrl, &AuthArgs::default(), None)
}

fn approver(cmd: ApproverCommand, ctx: &Ctx) -> anyhow::Result<i32> {
    let dir = crate::control::approver_dir()?;
    let shown = dir.display();
    let now = cavra_store::OffsetDateTime::now_utc();
    match cmd {
        ApproverCommand::Show => {
            let key = ApproverKey::load(&dir).ok().flatten();
            let trust = cavra_store::ApproverTrust::load(&dir).ok();
            let kid = key.as_ref().map(|k| k.kid().to_string());
            if ctx.json {
                let public = trust.is_some_and(|t| !t.is_empty());
                let v = json!({"approver_dir": dir, "private_key": key.is_some(), "public_key": public, "kid": kid});
                print_json(&v)?;
            } else {
                let key = kid.map(|k| format!("{k} (private key present)"));
                let key = key.unwrap_or_else(|| "none (`cavra keys approver init`)".into());
                println!("approver directory  {shown}\nkey                 {key}");
            }
        }
        ApproverCommand::Init => {
            let exists = [
                cavra_store::approver::KEY_FILE,
                cavra_store::approver::PUB_FILE,
            ];
            anyhow::ensure!(
                !exists.iter().any(|f| dir.join(f).exists()),
                "an approver key already exists in `{shown}`; it is never replaced"
            );
            let change = "create the approver key pair (signs approvals and tokens)";
            let who = at_terminal(
                "cavra keys approver init",
                change,
                vec![("directory", shown.to_string())],
            )?;
            let k = ApproverKey::init(&dir, now)?;
            if ctx.json {
                let v = json!({"result": "created", "kid": k.kid(), "approver_dir": dir, "by": who.identity});
                println!("{v}");
            } else {
                let kid = k.kid();
                eprintln!("cavra: created approver key {kid} in {shown} (private key mode 0600, public key approver.pub)");
            }
        }
        ApproverCommand::Issue {
            subject,
            roles,
            ttl,
        } => {
            let roles: Vec<Role> = roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<_, _>>()?;
            let ttl = cavra_store::parse_duration(&ttl)?;
            let key = ApproverKey::load(&dir)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no approver key in `{shown}`: run `cavra keys approver init` first"
                )
            })?;
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            let change = "issue an approver token (a credential: keep it secret)";
            let shown = vec![
                ("subject", subject.clone()),
                ("roles", names.join(", ")),
                ("ttl", format!("{}s", ttl.as_secs())),
            ];
            at_terminal("cavra keys approver issue", change, shown)?;
            println!("{}", key.issue_token(&subject, &roles, now, ttl)?);
        }
    }
    Ok(0)
}
