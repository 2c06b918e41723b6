//! `cavra doctor`: checks an installation and says what is wrong. Exit 0 when healthy, 1
//! otherwise. The installation checks (binary, agents' hooks, MCP registrations and the
//! `initialize` probe) are `cavra_setup::doctor`'s; here: the project policy loads, the
//! evidence log verifies (or its directory can be created), the approvals store opens and
//! every approval row in it is signed.

use crate::ctx::{hook_ctx, host, project_root, Ctx};
use anyhow::Result;
use cavra_setup::doctor::{check, Check};
use cavra_setup::files::dir_writable;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The project directory (default: the repository containing the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: DoctorArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let project = project_root(args.dir.as_deref())?;
    let hctx = hook_ctx(ctx, explicit_dir, &project);
    let version = env!("CARGO_PKG_VERSION");
    let mut probe = |prog: &Path| {
        cavra_mcp::probe::probe(prog, &project, version, Duration::from_secs(10))
            .map_err(|e| e.to_string())
    };
    let mut report = cavra_setup::doctor::installation(&project, &host(), &mut probe);
    let checks = &mut report.checks;
    checks.push(
        match crate::packs::load(&Default::default(), Some(&project)) {
            Ok((p, origin)) => {
                let (from, n) = (origin.describe(), p.rules.len());
                check(
                    "policy",
                    true,
                    format!("{from} → pack `{}` {} ({n} rules)", p.id, p.version),
                )
            }
            Err(e) => {
                let file = project.join(".cavra").join("policy.yaml");
                check(
                    "policy",
                    false,
                    format!("`{}` does not load: {e:#}", file.display()),
                )
            }
        },
    );
    checks.push(evidence(&hctx.cavra_dir));
    checks.extend(store(&hctx));
    let healthy = report.healthy();
    if ctx.json {
        crate::output::print_json(&report.document())?;
    } else {
        for c in &report.checks {
            let state = if c.ok { "ok  " } else { "FAIL" };
            println!("{state} {:<22} {}", c.name, c.detail);
        }
        println!("{}", if healthy { "healthy" } else { "problems found" });
    }
    Ok(if healthy { 0 } else { 1 })
}

/// The evidence log verifies (signatures of checkpoints only), or can be created.
fn evidence(cavra_dir: &Path) -> Check {
    let cfg = cavra_evidence::LogConfig::for_cavra_dir(cavra_dir);
    let dir = cfg.dir.display();
    let has_log = std::fs::read_dir(&cfg.dir).is_ok_and(|mut d| d.next().is_some());
    if !has_log {
        return match dir_writable(&cfg.dir) {
            Ok(()) => check(
                "evidence",
                true,
                format!("no log yet; `{dir}` can be created"),
            ),
            Err(e) => check("evidence", false, e),
        };
    }
    let verified = cavra_evidence::KeyStore::new(&cfg.key_dir)
        .keyring()
        .map_err(anyhow::Error::from)
        .and_then(|keyring| {
            let opts = cavra_evidence::VerifyOptions {
                keyring: &keyring,
                full_signatures: false,
                progress: None,
            };
            Ok(cavra_evidence::verify_log(&cfg.dir, opts)?)
        });
    match verified {
        Ok(r) if r.ok => {
            let d = format!(
                "`{dir}` verifies: {} records, {} segment(s)",
                r.records, r.segments
            );
            check("evidence", true, d)
        }
        Ok(r) => {
            let issues: Vec<_> = r
                .issues
                .iter()
                .take(3)
                .map(|i| i.message.as_str())
                .collect();
            check(
                "evidence",
                false,
                format!("`{dir}` does not verify: {}", issues.join("; ")),
            )
        }
        Err(e) => check("evidence", false, format!("cannot verify `{dir}`: {e:#}")),
    }
}

/// The approvals store opens (or can be created), and its approval, break-glass and
/// release rows are signed by an approving identity: any that is not was written by other
/// means — listed, ignored by every decision, and recorded once as a tamper event.
fn store(ctx: &Ctx) -> Vec<Check> {
    let db = ctx.db_path();
    if !db.exists() {
        return vec![match dir_writable(&ctx.cavra_dir) {
            Ok(()) => {
                let d = format!("no store yet; `{}` is created on first use", db.display());
                check("approvals", true, d)
            }
            Err(e) => check("approvals", false, e),
        }];
    }
    let mut store = match cavra_store::Store::open(&db) {
        Ok(s) => s,
        Err(e) => {
            let d = format!("store `{}` does not open: {e}", db.display());
            return vec![check("approvals", false, d)];
        }
    };
    let opened = check("approvals", true, format!("store `{}` opens", db.display()));
    if let Some(d) = cavra_store::approver_dir() {
        store = store.with_trust_dir(d);
    }
    let integrity = match store.audit_records() {
        Ok(found) if found.is_empty() => check(
            "approval records",
            true,
            "every approval, break-glass and release record is signed by an approving identity",
        ),
        Ok(found) => {
            let list: Vec<String> = found
                .iter()
                .map(|u| format!("{} `{}` ({}): {}", u.table, u.id, u.state, u.detail))
                .collect();
            let recorded = match ctx
                .runtime()
                .record_tamper(&ctx.cavra_dir, &mut store, found)
            {
                Ok(()) => String::new(),
                Err(e) => format!(" (tamper event not recorded: {})", cavra_runtime::chain(&e)),
            };
            let d = format!(
                "{} record(s) written by other means (TAMPERING; ignored by every decision): {}{recorded}",
                list.len(),
                list.join("; ")
            );
            check("approval records", false, d)
        }
        Err(e) => check("approval records", false, format!("cannot audit: {e}")),
    };
    vec![opened, integrity]
}
