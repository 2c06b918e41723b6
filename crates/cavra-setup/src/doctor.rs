//! `cavra doctor`'s checks of the installation: `cavra` on `PATH`; every agent settings file
//! (project and user scope) that exists parses, and each CAVRA hook entry in it runs an
//! existing executable; at least one agent is hooked; where CAVRA's MCP server is
//! registered, and that it answers `initialize` (through the front end's probe). The checks
//! of the policy, the evidence log and the store are the front end's; it appends them to
//! the same [`Report`].

use crate::files::is_executable;
use crate::{hooks, mcp, settings_path, AgentKind, Host, Scope};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

pub fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

/// The checks of one `cavra doctor` run.
#[derive(Debug, Clone)]
pub struct Report {
    pub project: PathBuf,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// `doctor --json`.
    pub fn document(&self) -> Value {
        let list: Vec<_> = self
            .checks
            .iter()
            .map(|c| json!({"check": c.name, "ok": c.ok, "detail": c.detail}))
            .collect();
        json!({"healthy": self.healthy(), "project": self.project.display().to_string(), "checks": list})
    }
}

/// Answers whether `<program> mcp serve` answers `initialize`: `(cavra version, protocol)`,
/// or what went wrong.
pub type Probe<'a> = &'a mut dyn FnMut(&Path) -> Result<(String, String), String>;

/// The installation checks, in the order `doctor` prints them.
pub fn installation(project: &Path, host: &Host, probe: Probe<'_>) -> Report {
    let mut checks = vec![binary(host)];
    checks.extend(hook_checks(project, host));
    checks.extend(mcp_checks(project, host, probe));
    Report {
        project: project.to_path_buf(),
        checks,
    }
}

fn binary(host: &Host) -> Check {
    match host.on_path("cavra") {
        Some(p) => check("binary", true, format!("`cavra` on PATH at `{}`", p.display())),
        None => check(
            "binary",
            false,
            "`cavra` is not on PATH (hooks use absolute paths, but `cavra approvals`, `cavra evidence` are easier from PATH)",
        ),
    }
}

/// What `look` finds for every agent and scope.
fn each_file<T>(mut look: impl FnMut(AgentKind, Scope) -> Option<T>) -> Vec<T> {
    let all = AgentKind::ALL.into_iter();
    all.flat_map(|a| Scope::ALL.map(|s| (a, s)))
        .filter_map(|(a, s)| look(a, s))
        .collect()
}

/// The executable a hook entry's program names: a bare name (`cavra`) is looked up on
/// `PATH`, anything else is a path.
fn hook_program(host: &Host, prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return is_executable(&p).then_some(p);
    }
    host.on_path(prog)
}

/// Says which `cavra` a hook entry runs: the one on `PATH`, or a fixed absolute path (which
/// breaks when that build directory moves).
fn hook_program_note(host: &Host, prog: &str) -> String {
    if prog.contains('/') {
        format!(
            "; runs the absolute path `{prog}` (re-run `cavra init` after moving it, or install with `cargo install --path crates/cavra-cli` and re-run `cavra init` to use `cavra` from PATH)"
        )
    } else {
        match host.on_path(prog) {
            Some(p) => format!("; runs `{prog}` from PATH (`{}`)", p.display()),
            None => format!("; runs `{prog}` from PATH, but it is not on PATH"),
        }
    }
}

/// The agents whose project or user settings run CAVRA's hook on their pre-tool event
/// (what `cavra posture` checks the agents in use against), each once.
pub fn hooked_agents(project: &Path, host: &Host) -> Vec<String> {
    let mut out: Vec<String> = each_file(|agent, scope| {
        let path = settings_path(agent, scope, project, host).ok()?;
        let i = hooks::inspect(agent, &path).ok()??;
        let pre = hooks::events(agent).first()?.0;
        i.entries
            .iter()
            .any(|(ev, _)| ev == pre)
            .then(|| agent.as_str().to_string())
    });
    out.dedup();
    out
}

/// The hook entries of every agent settings file, and `agents` when none is hooked.
fn hook_checks(project: &Path, host: &Host) -> Vec<Check> {
    let mut hooked = false;
    let mut checks = each_file(|agent, scope| {
        let path = settings_path(agent, scope, project, host).ok()?;
        let name = format!("{} ({})", agent.as_str(), scope.as_str());
        let i = match hooks::inspect(agent, &path) {
            Ok(None) => return None,
            Err(e) => return Some(check(name, false, e.to_string())),
            Ok(Some(i)) => i,
        };
        if i.entries.is_empty() {
            return Some(check(
                name,
                true,
                format!(
                    "`{}` has no CAVRA hook (run `cavra init {}`)",
                    path.display(),
                    agent.as_str()
                ),
            ));
        }
        let events = hooks::events(agent);
        let has = |e: &str| i.entries.iter().any(|(ev, _)| ev == e);
        let missing: Vec<&str> = events.iter().map(|(e, _)| *e).filter(|e| !has(e)).collect();
        let broken: Vec<String> = i
            .entries
            .iter()
            .filter(|(_, p)| hook_program(host, p).is_none())
            .map(|(ev, p)| format!("{ev} → `{p}`"))
            .collect();
        // the pre-tool event is the one that gates
        let gated = events.first().is_some_and(|(pre, _)| has(pre));
        let ok = broken.is_empty() && gated;
        let mut d = format!(
            "`{}`: CAVRA hook on {} event(s)",
            path.display(),
            i.entries.len()
        );
        if let Some((_, p)) = i.entries.first() {
            d.push_str(&hook_program_note(host, p));
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
                agent.as_str()
            ));
        }
        hooked |= ok;
        Some(check(name, ok, d))
    });
    if !hooked {
        checks.push(check(
            "agents",
            false,
            "no agent has a working CAVRA hook; run `cavra init <agent>` (claude-code, codex, gemini, cursor, copilot)",
        ));
    }
    checks
}

/// The MCP registrations of every agent, and whether each registered `cavra` (or, when
/// none is, the running binary) answers `initialize`.
fn mcp_checks(project: &Path, host: &Host, probe: Probe<'_>) -> Vec<Check> {
    let mut programs: Vec<String> = Vec::new();
    let mut registered: Vec<String> = Vec::new();
    let mut checks = each_file(|agent, scope| {
        let t = mcp::target(agent, scope, project, host).ok()?;
        let path = t.path()?;
        let name = format!("mcp: {} ({})", agent.as_str(), scope.as_str());
        let e = match mcp::inspect(&t) {
            Ok(None) | Ok(Some(None)) => return None,
            Err(e) => return Some(check(name, false, e.to_string())),
            Ok(Some(Some(e))) => e,
        };
        if !e.is_cavra() {
            return Some(check(
                name,
                true,
                format!(
                    "`{}`: the server named `cavra` is not CAVRA's (`{} {}`)",
                    path.display(),
                    e.command,
                    e.args.join(" ")
                ),
            ));
        }
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
                agent.as_str()
            )
        };
        if ok && !programs.contains(&e.command) {
            programs.push(e.command.clone());
        }
        registered.push(format!("{} ({})", agent.as_str(), scope.as_str()));
        Some(check(name, ok, detail))
    });
    if programs.is_empty() {
        if let Ok(exe) = host.exe() {
            programs.push(exe.display().to_string());
        }
    }
    let reg = if registered.is_empty() {
        "not registered with any agent (`cavra init <agent>` registers it)".to_string()
    } else {
        format!("registered for {}", registered.join(", "))
    };
    for prog in programs {
        checks.push(match probe(Path::new(&prog)) {
            Ok((version, proto)) => check(
                "mcp server",
                true,
                format!(
                    "`{prog} mcp serve` answers `initialize` (cavra {version}, protocol {proto}); {reg}"
                ),
            ),
            Err(e) => check(
                "mcp server",
                false,
                format!("`{prog} mcp serve` does not answer `initialize`: {e}; {reg}"),
            ),
        });
    }
    checks
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_install_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        let claude = proj.join(".claude").join("settings.json");
        std::fs::create_dir_all(claude.parent().unwrap()).unwrap();
        std::fs::write(
            &claude,
            r#"{"hooks":{"PostToolUse":[{"hooks":[{"type":"command","command":"/nonexistent/cavra hook claude-code"}]}]}}"#,
        )
        .unwrap();
        std::fs::create_dir_all(proj.join(".cursor")).unwrap();
        std::fs::write(proj.join(".cursor").join("hooks.json"), "{").unwrap();
        let host = Host {
            home: None,
            path: None,
            exe: Ok(dir.path().join("cavra")),
        };
        let mut probed = Vec::new();
        let mut probe = |p: &Path| -> Result<(String, String), String> {
            probed.push(p.to_path_buf());
            Err("no answer".into())
        };
        let r = installation(&proj, &host, &mut probe);
        assert!(!r.healthy());
        let by = |n: &str| r.checks.iter().find(|c| c.name == n).unwrap();
        assert!(!by("binary").ok);
        let c = by("claude-code (project)");
        assert!(!c.ok);
        assert!(
            c.detail
                .contains("missing or not executable: PostToolUse → `/nonexistent/cavra`"),
            "{}",
            c.detail
        );
        assert!(
            c.detail
                .contains("not hooked: PreToolUse, SessionStart, SessionEnd"),
            "{}",
            c.detail
        );
        assert!(by("cursor (project)").detail.contains("not valid JSON"));
        assert!(!by("agents").ok);
        assert!(by("mcp server")
            .detail
            .contains("does not answer `initialize`: no answer; not registered"));
        assert_eq!(probed, vec![dir.path().join("cavra")]);
        let doc = r.document();
        assert_eq!(doc["healthy"], false);
        assert_eq!(doc["checks"][0]["check"], "binary");
    }

    #[test]
    fn hooked_agents_are_those_whose_pre_tool_event_runs_cavra() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        let write = |rel: &str, text: &str| {
            let p = proj.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let hook = |ev: &str, agent: &str| {
            format!(
                r#"{{"hooks":{{"{ev}":[{{"hooks":[{{"type":"command","command":"cavra hook {agent}"}}]}}]}}}}"#
            )
        };
        write(".claude/settings.json", &hook("PreToolUse", "claude-code"));
        // only a post-tool hook: nothing is gated
        write(".gemini/settings.json", &hook("AfterTool", "gemini"));
        let host = Host {
            home: None,
            path: None,
            exe: Ok(dir.path().join("cavra")),
        };
        assert_eq!(hooked_agents(&proj, &host), vec!["claude-code"]);
    }
}
