//! `cavra doctor`: checks an installation and says what is wrong. Exit 0 when healthy, 1
//! otherwise.
//!
//! Checks: `cavra` on `PATH`; every agent settings file (project and user scope) that exists
//! parses, and each CAVRA hook entry in it points to an existing executable; at least one
//! agent is hooked; the project policy loads; the evidence log verifies (or the CAVRA
//! directory is writable when there is no log yet); the approvals store opens; where CAVRA's
//! MCP server is registered, and that `cavra mcp serve` answers `initialize`.

use crate::agents::{self, mcp_config, settings, Scope};
use crate::ctx::Ctx;
use crate::ctx::{hook_ctx, project_root};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The project directory (default: the repository containing the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

fn is_executable(p: &Path) -> bool {
    let Ok(m) = std::fs::metadata(p) else {
        return false;
    };
    if !m.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// The executable a hook entry's program names: a bare name (`cavra`) is looked up on
/// `PATH`, anything else is a path.
fn hook_program(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return is_executable(&p).then_some(p);
    }
    on_path(prog)
}

/// Says which `cavra` a hook entry runs: the one on `PATH`, or a fixed absolute path (which
/// breaks when that build directory moves).
fn hook_program_note(prog: &str) -> String {
    if prog.contains('/') {
        format!(
            "; runs the absolute path `{prog}` (re-run `cavra init` after moving it, or install with `cargo install --path crates/cavra-cli` and re-run `cavra init` to use `cavra` from PATH)"
        )
    } else {
        match on_path(prog) {
            Some(p) => format!("; runs `{prog}` from PATH (`{}`)", p.display()),
            None => format!("; runs `{prog}` from PATH, but it is not on PATH"),
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn dir_writable(dir: &Path) -> std::result::Result<(), String> {
    // the nearest existing ancestor must accept a file
    let mut d = dir.to_path_buf();
    while !d.exists() {
        match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => d = p.to_path_buf(),
            _ => break,
        }
    }
    let probe = d.join(format!(".cavra-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"x").map_err(|e| format!("`{}` is not writable: {e}", d.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// MCP registrations of every agent, and whether `cavra mcp serve` answers `initialize`.
/// Approval, break-glass and release rows must be signed by an approving identity; any
/// that is not was written by other means: listed here, ignored by every decision, and
/// recorded once as a tamper event.
fn record_integrity(ctx: &Ctx, store: cavra_store::Store) -> Check {
    let mut store = match cavra_store::approver_dir() {
        Some(d) => store.with_trust_dir(d),
        None => store,
    };
    match store.audit_records() {
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
            let recorded = ctx
                .runtime()
                .record_tamper(&ctx.cavra_dir, &mut store, found)
                .err()
                .map(|e| format!(" (tamper event not recorded: {})", cavra_runtime::chain(&e)))
                .unwrap_or_default();
            check(
                "approval records",
                false,
                format!(
                    "{} record(s) written by other means (TAMPERING; ignored by every decision): {}{recorded}",
                    list.len(),
                    list.join("; ")
                ),
            )
        }
        Err(e) => check("approval records", false, format!("cannot audit: {e}")),
    }
}

fn mcp_checks(project: &Path, checks: &mut Vec<Check>) {
    let mut programs: Vec<String> = Vec::new();
    let mut registered: Vec<String> = Vec::new();
    for agent in agents::ALL {
        for scope in [Scope::Project, Scope::User] {
            let Ok(t) = mcp_config::target(agent, scope, project) else {
                continue;
            };
            let Some(path) = t.path() else {
                continue;
            };
            let name = format!("mcp: {} ({})", agent.kind(), scope.as_str());
            match mcp_config::inspect(&t) {
                Ok(None) | Ok(Some(None)) => {}
                Err(e) => checks.push(check(name, false, format!("{e:#}"))),
                Ok(Some(Some(e))) if e.is_cavra() => {
                    let ok = is_executable(Path::new(&e.command));
                    let detail = if ok {
                        format!(
                            "`{}`: server `cavra` runs `{} mcp serve`",
                            path.display(),
                            e.command
                        )
                    } else {
                        format!(
                            "`{}`: server `cavra` runs `{}`, which is missing or not executable (re-run `cavra init {}`)",
                            path.display(),
                            e.command,
                            agent.kind()
                        )
                    };
                    if ok && !programs.contains(&e.command) {
                        programs.push(e.command.clone());
                    }
                    registered.push(format!("{} ({})", agent.kind(), scope.as_str()));
                    checks.push(check(name, ok, detail));
                }
                Ok(Some(Some(e))) => checks.push(check(
                    name,
                    true,
                    format!(
                        "`{}`: the server named `cavra` is not CAVRA's (`{} {}`)",
                        path.display(),
                        e.command,
                        e.args.join(" ")
                    ),
                )),
            }
        }
    }
    if programs.is_empty() {
        if let Ok(exe) = mcp_config::exe() {
            programs.push(exe);
        }
    }
    let reg = if registered.is_empty() {
        "not registered with any agent (`cavra init <agent>` registers it)".to_string()
    } else {
        format!("registered for {}", registered.join(", "))
    };
    for prog in programs {
        let res = cavra_mcp::probe::probe(
            Path::new(&prog),
            project,
            env!("CARGO_PKG_VERSION"),
            std::time::Duration::from_secs(10),
        );
        match res {
            Ok((version, proto)) => checks.push(check(
                "mcp server",
                true,
                format!(
                    "`{prog} mcp serve` answers `initialize` (cavra {version}, protocol {proto}); {reg}"
                ),
            )),
            Err(e) => checks.push(check(
                "mcp server",
                false,
                format!("`{prog} mcp serve` does not answer `initialize`: {e}; {reg}"),
            )),
        }
    }
}

pub fn run(args: DoctorArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let mut checks = Vec::new();
    let project = project_root(args.dir.as_deref())?;
    let hctx = hook_ctx(ctx, explicit_dir, &project);

    match on_path("cavra") {
        Some(p) => checks.push(check("binary", true, format!("`cavra` on PATH at `{}`", p.display()))),
        None => checks.push(check(
            "binary",
            false,
            "`cavra` is not on PATH (hooks use absolute paths, but `cavra approvals`, `cavra evidence` are easier from PATH)",
        )),
    }

    let mut hooked = 0;
    for agent in agents::ALL {
        for scope in [Scope::Project, Scope::User] {
            let Ok(path) = agents::settings_path(agent, scope, &project) else {
                continue;
            };
            let name = format!("{} ({})", agent.kind(), scope.as_str());
            match settings::inspect(agent, &path) {
                Ok(None) => {}
                Err(e) => checks.push(check(name, false, format!("{e:#}"))),
                Ok(Some(i)) if i.entries.is_empty() => checks.push(check(
                    name,
                    true,
                    format!(
                        "`{}` has no CAVRA hook (run `cavra init {}`)",
                        path.display(),
                        agent.kind()
                    ),
                )),
                Ok(Some(i)) => {
                    let missing: Vec<String> = settings::events(agent)
                        .iter()
                        .map(|(e, _)| *e)
                        .filter(|e| !i.entries.iter().any(|(ev, _)| ev == e))
                        .map(str::to_string)
                        .collect();
                    let broken: Vec<String> = i
                        .entries
                        .iter()
                        .filter(|(_, p)| hook_program(p).is_none())
                        .map(|(ev, p)| format!("{ev} → `{p}`"))
                        .collect();
                    let pre = settings::events(agent)[0].0;
                    let gated = i.entries.iter().any(|(ev, _)| ev == pre);
                    let ok = broken.is_empty() && gated;
                    let mut d = format!(
                        "`{}`: CAVRA hook on {} event(s)",
                        path.display(),
                        i.entries.len()
                    );
                    if let Some((_, p)) = i.entries.first() {
                        d.push_str(&hook_program_note(p));
                    }
                    if !broken.is_empty() {
                        d.push_str(&format!(
                            "; hook program missing or not executable: {}",
                            broken.join(", ")
                        ));
                    }
                    if !missing.is_empty() {
                        d.push_str(&format!(
                            "; not hooked: {} (re-run `cavra init {}`)",
                            missing.join(", "),
                            agent.kind()
                        ));
                    }
                    if ok {
                        hooked += 1;
                    }
                    checks.push(check(name, ok, d));
                }
            }
        }
    }
    if hooked == 0 {
        checks.push(check(
            "agents",
            false,
            "no agent has a working CAVRA hook; run `cavra init <agent>` (claude-code, codex, gemini, cursor, copilot)",
        ));
    }

    mcp_checks(&project, &mut checks);

    let policy_file = project.join(".cavra").join("policy.yaml");
    match crate::packs::load(&Default::default(), Some(&project)) {
        Ok((p, origin)) => checks.push(check(
            "policy",
            true,
            format!(
                "{} → pack `{}` {} ({} rules)",
                origin.describe(),
                p.id,
                p.version,
                p.rules.len()
            ),
        )),
        Err(e) => checks.push(check(
            "policy",
            false,
            format!("`{}` does not load: {e:#}", policy_file.display()),
        )),
    }

    let cfg = cavra_evidence::LogConfig::for_cavra_dir(&hctx.cavra_dir);
    let has_log = std::fs::read_dir(&cfg.dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if has_log {
        let res = cavra_evidence::KeyStore::new(&cfg.key_dir)
            .keyring()
            .map_err(anyhow::Error::from)
            .and_then(|ring| {
                cavra_evidence::verify_log(
                    &cfg.dir,
                    cavra_evidence::VerifyOptions {
                        keyring: &ring,
                        full_signatures: false,
                        progress: None,
                    },
                )
                .map_err(anyhow::Error::from)
            });
        match res {
            Ok(r) if r.ok => checks.push(check(
                "evidence",
                true,
                format!(
                    "`{}` verifies: {} records, {} segment(s)",
                    cfg.dir.display(),
                    r.records,
                    r.segments
                ),
            )),
            Ok(r) => checks.push(check(
                "evidence",
                false,
                format!(
                    "`{}` does not verify: {}",
                    cfg.dir.display(),
                    r.issues
                        .iter()
                        .take(3)
                        .map(|i| i.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )),
            Err(e) => checks.push(check(
                "evidence",
                false,
                format!("cannot verify `{}`: {e:#}", cfg.dir.display()),
            )),
        }
    } else {
        match dir_writable(&cfg.dir) {
            Ok(()) => checks.push(check(
                "evidence",
                true,
                format!("no log yet; `{}` can be created", cfg.dir.display()),
            )),
            Err(e) => checks.push(check("evidence", false, e)),
        }
    }

    let db = cavra_store::default_db_path(&hctx.cavra_dir);
    if db.exists() {
        match cavra_store::Store::open(&db) {
            Ok(s) => {
                checks.push(check(
                    "approvals",
                    true,
                    format!("store `{}` opens", db.display()),
                ));
                checks.push(record_integrity(&hctx, s));
            }
            Err(e) => checks.push(check(
                "approvals",
                false,
                format!("store `{}` does not open: {e}", db.display()),
            )),
        }
    } else {
        match dir_writable(&hctx.cavra_dir) {
            Ok(()) => checks.push(check(
                "approvals",
                true,
                format!("no store yet; `{}` is created on first use", db.display()),
            )),
            Err(e) => checks.push(check("approvals", false, e)),
        }
    }

    let healthy = checks.iter().all(|c| c.ok);
    if ctx.json {
        let list: Vec<_> = checks
            .iter()
            .map(|c| json!({"check": c.name, "ok": c.ok, "detail": c.detail}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"healthy": healthy, "project": project.display().to_string(), "checks": list})
            )?
        );
    } else {
        for c in &checks {
            println!(
                "{} {:<22} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
        }
        println!("{}", if healthy { "healthy" } else { "problems found" });
    }
    Ok(if healthy { 0 } else { 1 })
}
