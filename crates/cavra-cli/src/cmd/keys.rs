//! `cavra keys`: evidence signing keys, trust roots, the approver key and tokens (documents
//! in `cavra_runtime::keys`); changes are authorized here first (`crate::control`).

use anyhow::Result;
use cavra_evidence::{KeyStore, LogConfig, SigningMode};
use cavra_runtime::keys::{self, TokenRequest};
use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::control::{authorize, AuthArgs};
use crate::ctx::Ctx;
use crate::output::{print_doc, write_out};

/// Manage evidence signing keys.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new key and make it the active one for its algorithm.
    Generate(NewKeyArgs),
    /// List keys (ids, algorithms, public keys; never secrets).
    List,
    /// Generate a new active key; the previous one is kept (retired) for verification.
    Rotate(NewKeyArgs),
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

/// The algorithm of a new key, and who makes it.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// `ed25519` (default) or `hmac-sha256`.
    #[arg(long, default_value = "ed25519")]
    alg: String,
    #[command(flatten)]
    auth: AuthArgs,
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

pub fn run(args: KeysArgs, ctx: &Ctx) -> Result<i32> {
    let key_dir = LogConfig::for_cavra_dir(&ctx.cavra_dir).key_dir;
    let rotate = matches!(args.command, KeysCommand::Rotate(_));
    match args.command {
        KeysCommand::Generate(NewKeyArgs { alg, auth })
        | KeysCommand::Rotate(NewKeyArgs { alg, auth }) => {
            let mode = SigningMode::parse(&alg)?;
            authorize(&keys::key_action(&key_dir, mode, rotate), &auth)?;
            let k = keys::new_key(&key_dir, mode, rotate)?;
            match ctx.json {
                true => println!("{}", serde_json::to_string(&k)?),
                false => eprintln!("cavra: {}", k.text()),
            }
        }
        KeysCommand::List => {
            let list = keys::list(&key_dir)?;
            print_doc(ctx.json, &list, || list.text())?;
        }
        KeysCommand::ExportPublic { key_id, output } => {
            let tr = KeyStore::new(&key_dir).export_public(key_id.as_deref())?;
            let text = serde_json::to_string_pretty(&tr)? + "\n";
            let what = format!("trust root with {} key(s)", tr.keys.len());
            return write_out(ctx.json, output.as_deref(), &text, &what);
        }
        KeysCommand::Approver(cmd) => approver(cmd, ctx)?,
    }
    Ok(0)
}

fn approver(cmd: ApproverCommand, ctx: &Ctx) -> Result<()> {
    let dir = crate::control::approver_dir()?;
    let now = cavra_store::OffsetDateTime::now_utc();
    match cmd {
        ApproverCommand::Show => {
            let s = keys::approver_status(&dir);
            print_doc(ctx.json, &s, || s.text())?;
        }
        ApproverCommand::Init => {
            keys::ensure_no_approver_key(&dir)?;
            let who = authorize(&keys::approver_init_action(&dir), &AuthArgs::default())?;
            let kid = cavra_store::ApproverKey::init(&dir, now)?.kid().to_string();
            match ctx.json {
                true => println!("{}", serde_json::json!({"result": "created", "kid": kid, "approver_dir": dir, "by": who.identity})),
                false => eprintln!("cavra: created approver key {kid} in {} (private key mode 0600, public key approver.pub)", dir.display()),
            }
        }
        ApproverCommand::Issue {
            subject,
            roles,
            ttl,
        } => {
            let t = TokenRequest::new(&dir, &subject, &roles, &ttl)?;
            authorize(&t.action(), &AuthArgs::default())?;
            println!("{}", t.issue(now)?);
        }
    }
    Ok(())
}
