//! Agent integrations in the CLI: the settings-file surgery behind `cavra init`, `cavra
//! uninstall` and `cavra doctor` for every agent (`settings.rs`: hooks, `mcp_config.rs`: MCP
//! server entries). The hook adapters themselves — each agent's event in, its answer out —
//! live in the `cavra-agents` crate; `cmd/hook.rs` drives them.

pub mod mcp_config;
pub mod settings;

use crate::cmd::hook::Agent;
pub use cavra_agents::shell_quote;
use std::path::PathBuf;

/// Where `cavra init` installs: the project's settings or the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Project,
    User,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Project => "project",
            Scope::User => "user",
        }
    }
}

/// Every agent, in display order.
pub const ALL: [Agent; 5] = [
    Agent::ClaudeCode,
    Agent::Codex,
    Agent::Gemini,
    Agent::Cursor,
    Agent::Copilot,
];

/// `$HOME` (user-scope settings live there).
pub fn home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("$HOME is not set; cannot find user-scope agent settings"))
}

/// The path of `agent`'s settings file for `scope`.
pub fn settings_path(
    agent: Agent,
    scope: Scope,
    project: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let base = match scope {
        Scope::Project => project.to_path_buf(),
        Scope::User => home()?,
    };
    Ok(match agent {
        Agent::ClaudeCode => base.join(".claude").join("settings.json"),
        Agent::Gemini => base.join(".gemini").join("settings.json"),
        Agent::Cursor => base.join(".cursor").join("hooks.json"),
        Agent::Codex => base.join(".codex").join("config.toml"),
        Agent::Copilot => match scope {
            Scope::Project => base.join(".github").join("hooks").join("cavra.json"),
            Scope::User => {
                return Err(anyhow::anyhow!(
                    "GitHub Copilot CLI loads hooks from the repository's `.github/hooks/*.json` only; install with `--project` inside the repository"
                ))
            }
        },
    })
}

/// `cavra` as found on `PATH` (the first executable file named so), resolved.
pub fn cavra_on_path() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("cavra"))
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p))
}

/// The hook command written into settings: `cavra hook <agent>` when the `cavra` on `PATH`
/// is this very binary (it then survives the build directory moving), else the running
/// binary's absolute path followed by `hook <agent>`.
pub fn hook_command(agent: Agent) -> anyhow::Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the path of the running cavra binary: {e}"))?;
    let exe = exe.canonicalize().unwrap_or(exe);
    if cavra_on_path().as_deref() == Some(exe.as_path()) {
        return Ok(format!("cavra hook {}", agent.kind()));
    }
    Ok(format!(
        "{} hook {}",
        shell_quote(&exe.display().to_string()),
        agent.kind()
    ))
}

/// When `cmd` is a `cavra hook <agent>` command: the program it runs.
pub fn cavra_program(cmd: &str, agent: Agent) -> Option<String> {
    let t = cmd.trim();
    let suffix = format!("hook {}", agent.kind());
    let prog = t.strip_suffix(&suffix)?;
    if !prog.ends_with(char::is_whitespace) {
        return None;
    }
    let prog = prog.trim();
    let prog = prog.strip_prefix("& ").unwrap_or(prog).trim();
    let unq = if prog.len() >= 2 && prog.starts_with('\'') && prog.ends_with('\'') {
        prog[1..prog.len() - 1].replace("'\\''", "'")
    } else if prog.len() >= 2 && prog.starts_with('"') && prog.ends_with('"') {
        prog[1..prog.len() - 1].to_string()
    } else {
        prog.to_string()
    };
    let name = std::path::Path::new(&unq)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())?;
    if name.starts_with("cavra") {
        Some(unq)
    } else {
        None
    }
}

/// Whether `cmd` is CAVRA's hook command for `agent`.
pub fn is_cavra_command(cmd: &str, agent: Agent) -> bool {
    cavra_program(cmd, agent).is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cavra_commands() {
        assert_eq!(
            cavra_program("/usr/local/bin/cavra hook gemini", Agent::Gemini).as_deref(),
            Some("/usr/local/bin/cavra")
        );
        assert_eq!(
            cavra_program("'/opt/my tools/cavra' hook codex", Agent::Codex).as_deref(),
            Some("/opt/my tools/cavra")
        );
        assert!(is_cavra_command(
            "cavra hook claude-code",
            Agent::ClaudeCode
        ));
        assert!(!is_cavra_command("cavra hook gemini", Agent::Codex));
        assert!(!is_cavra_command("/bin/other hook codex", Agent::Codex));
        assert!(!is_cavra_command("cavrahook codex", Agent::Codex));
        assert!(!is_cavra_command("./lint.sh", Agent::Cursor));
    }

    #[test]
    fn quoting_round_trips() {
        let q = shell_quote("/a b/it's/cavra");
        assert_eq!(
            cavra_program(&format!("{q} hook cursor"), Agent::Cursor).as_deref(),
            Some("/a b/it's/cavra")
        );
        assert_eq!(shell_quote("/usr/bin/cavra"), "/usr/bin/cavra");
    }
}
