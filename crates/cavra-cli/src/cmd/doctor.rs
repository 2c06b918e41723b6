//! `cavra doctor`: checks an installation and says what is wrong. Exit 0 when healthy, 1
//! otherwise. The installation checks (binary, agents' hooks, MCP registrations and the
//! `initialize` probe) are `cavra_setup::doctor`'s; the project's (policy, evidence log,
//! store audit) are `cavra_runtime::health`'s; here: the store opens.

use crate::ctx::{hook_ctx, host, locate_path, project_root, Ctx};
use anyhow::Result;
use cavra_runtime::health::{self, Health};
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

pub fn run(args: DoctorArgs, ctx: &Ctx) -> Result<i32> {
    let project = project_root(args.dir.as_deref())?;
    let hctx = hook_ctx(ctx, &project);
    let version = env!("CARGO_PKG_VERSION");
    let mut probe = |prog: &Path| {
        cavra_mcp::probe::probe(prog, &project, version, Duration::from_secs(10))
            .map_err(|e| e.to_string())
    };
    let mut report = cavra_setup::doctor::installation(&project, &host(), &mut probe);
    let project_cavra = locate_path(Some(&project)).project_cavra_dir;
    let checks = &mut report.checks;
    checks.push(from(health::policy(&project, &project_cavra)));
    checks.push(from(health::evidence(&hctx.cavra_dir, &dir_writable)));
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

fn from(h: Health) -> Check {
    check(h.name, h.ok, h.detail)
}

/// The approvals store opens (or can be created), and its rows pass the audit
/// ([`cavra_runtime::Runtime::audit_health`]).
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
    let audit = store.audit_records();
    let h = ctx
        .runtime()
        .audit_health(&ctx.cavra_dir, &mut store, audit);
    vec![opened, from(h)]
}
