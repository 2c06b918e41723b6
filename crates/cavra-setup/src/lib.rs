//! CAVRA's installation into the agents: what `cavra init`, `cavra uninstall` and `cavra
//! doctor` do to the agents' settings files and MCP client configurations.
//!
//! - `hooks`: the hook entries in each agent's settings (JSON surgery with key order kept,
//!   Codex's `config.toml` with `toml_edit`, comments kept); the per-agent layouts and events.
//! - `mcp`: the `cavra mcp serve` entry in each agent's MCP configuration.
//! - `install`: the whole of `init` (hooks, MCP entry, the starter `.cavra/` layout) and of
//!   `uninstall`, with the `--json` documents the CLI prints.
//! - `doctor`: the installation checks, as a typed list of [`doctor::Check`]s.
//! - `files`: reading, parsing, backups (`<file>.cavra-backup-<timestamp>`), atomic writes.
//!
//! A library that does file I/O but reads no environment variable: `$HOME`, `$PATH` and the
//! running binary come in a [`Host`] the front end fills.

pub mod doctor;
pub mod error;
pub mod files;
pub mod hooks;
pub mod install;
pub mod mcp;
pub mod wrap;

pub use cavra_core::hooks::AgentKind;
pub use error::SetupError;

use cavra_agents::shell_quote;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where CAVRA installs: the project's settings or the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Project,
    User,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Project, Scope::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Project => "project",
            Scope::User => "user",
        }
    }
}

/// What the library needs to know of the process: the front end reads it.
#[derive(Debug, Clone)]
pub struct Host {
    /// `$HOME` (user-scope settings live there); empty counts as unset.
    pub home: Option<PathBuf>,
    /// `$PATH`.
    pub path: Option<OsString>,
    /// The running `cavra` binary (`std::env::current_exe()`), or why it is unknown.
    pub exe: Result<PathBuf, String>,
}

impl Host {
    pub fn home(&self) -> Result<&Path, SetupError> {
        self.home
            .as_deref()
            .filter(|h| !h.as_os_str().is_empty())
            .ok_or(SetupError::NoHome)
    }

    /// The running binary, resolved.
    pub fn exe(&self) -> Result<PathBuf, SetupError> {
        let exe = self.exe.clone().map_err(SetupError::CurrentExe)?;
        Ok(exe.canonicalize().unwrap_or(exe))
    }

    /// The first executable file called `name` in a `$PATH` directory.
    pub fn on_path(&self, name: &str) -> Option<PathBuf> {
        std::env::split_paths(self.path.as_ref()?)
            .map(|d| d.join(name))
            .find(|p| files::is_executable(p))
    }

    /// The directory settings of `scope` are under.
    fn base(&self, scope: Scope, project: &Path) -> Result<PathBuf, SetupError> {
        match scope {
            Scope::Project => Ok(project.to_path_buf()),
            Scope::User => self.home().map(Path::to_path_buf),
        }
    }
}

/// The path of `agent`'s hook settings file for `scope`.
pub fn settings_path(
    agent: AgentKind,
    scope: Scope,
    project: &Path,
    host: &Host,
) -> Result<PathBuf, SetupError> {
    let base = host.base(scope, project)?;
    Ok(match agent {
        AgentKind::ClaudeCode => base.join(".claude").join("settings.json"),
        AgentKind::Gemini => base.join(".gemini").join("settings.json"),
        AgentKind::Cursor => base.join(".cursor").join("hooks.json"),
        AgentKind::Codex => base.join(".codex").join("config.toml"),
        AgentKind::Copilot => match scope {
            Scope::Project => base.join(".github").join("hooks").join("cavra.json"),
            Scope::User => return Err(SetupError::CopilotUserScope),
        },
    })
}

/// The hook command written into settings: `cavra hook <agent>` when the `cavra` on `PATH`
/// is this very binary (it then survives the build directory moving), else the running
/// binary's absolute path followed by `hook <agent>`.
pub fn hook_command(agent: AgentKind, host: &Host) -> Result<String, SetupError> {
    let exe = host.exe()?;
    let on_path = host.on_path("cavra").map(|p| p.canonicalize().unwrap_or(p));
    if on_path.as_deref() == Some(exe.as_path()) {
        return Ok(format!("cavra hook {agent}", agent = agent.as_str()));
    }
    Ok(format!(
        "{} hook {}",
        shell_quote(&exe.display().to_string()),
        agent.as_str()
    ))
}

/// When `cmd` is a `cavra hook <agent>` command: the program it runs.
pub fn cavra_program(cmd: &str, agent: AgentKind) -> Option<String> {
    let t = cmd.trim();
    let suffix = format!("hook {}", agent.as_str());
    let prog = t.strip_suffix(&suffix)?;
    if !prog.ends_with(char::is_whitespace) {
        return None;
    }
    let prog = prog.trim();
    let prog = prog.strip_prefix("& ").unwrap_or(prog).trim();
    let quoted = |q: char| prog.len() >= 2 && prog.starts_with(q) && prog.ends_with(q);
    let inner = prog
        .get(1..prog.len().saturating_sub(1))
        .unwrap_or_default();
    let unq = if quoted('\'') {
        inner.replace("'\\''", "'")
    } else if quoted('"') {
        inner.to_string()
    } else {
        prog.to_string()
    };
    let name = Path::new(&unq).file_name()?.to_string_lossy().to_string();
    name.starts_with("cavra").then_some(unq)
}

/// Whether `cmd` is CAVRA's hook command for `agent`.
pub fn is_cavra_command(cmd: &str, agent: AgentKind) -> bool {
    cavra_program(cmd, agent).is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cavra_commands() {
        assert_eq!(
            cavra_program("/usr/local/bin/cavra hook gemini", AgentKind::Gemini).as_deref(),
            Some("/usr/local/bin/cavra")
        );
        assert_eq!(
            cavra_program("'/opt/my tools/cavra' hook codex", AgentKind::Codex).as_deref(),
            Some("/opt/my tools/cavra")
        );
        assert_eq!(
            cavra_program("\"/opt/x/cavra\" hook codex", AgentKind::Codex).as_deref(),
            Some("/opt/x/cavra")
        );
        assert!(is_cavra_command(
            "cavra hook claude-code",
            AgentKind::ClaudeCode
        ));
        assert!(!is_cavra_command("cavra hook gemini", AgentKind::Codex));
        assert!(!is_cavra_command("/bin/other hook codex", AgentKind::Codex));
        assert!(!is_cavra_command("cavrahook codex", AgentKind::Codex));
        assert!(!is_cavra_command("./lint.sh", AgentKind::Cursor));
        assert!(!is_cavra_command("' hook codex", AgentKind::Codex));
    }

    #[test]
    fn quoting_round_trips() {
        let q = shell_quote("/a b/it's/cavra");
        assert_eq!(
            cavra_program(&format!("{q} hook cursor"), AgentKind::Cursor).as_deref(),
            Some("/a b/it's/cavra")
        );
        assert_eq!(shell_quote("/usr/bin/cavra"), "/usr/bin/cavra");
    }

    fn host(dir: &Path, exe: PathBuf) -> Host {
        Host {
            home: Some(dir.join("home")),
            path: Some(std::env::join_paths([dir.join("bin")]).unwrap()),
            exe: Ok(exe),
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_hook_command_is_bare_only_for_the_cavra_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let on_path = bin.join("cavra");
        std::fs::write(&on_path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&on_path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let h = host(dir.path(), on_path.clone());
        assert_eq!(
            hook_command(AgentKind::Codex, &h).unwrap(),
            "cavra hook codex"
        );
        let other = dir.path().join("build dir").join("cavra");
        let h = host(dir.path(), other.clone());
        assert_eq!(
            hook_command(AgentKind::Codex, &h).unwrap(),
            format!("'{}' hook codex", other.display())
        );
        let h = Host {
            exe: Err("gone".into()),
            ..h
        };
        assert_eq!(
            hook_command(AgentKind::Codex, &h).unwrap_err().to_string(),
            "cannot find the path of the running cavra binary: gone"
        );
    }

    #[test]
    fn settings_paths_per_scope() {
        let h = Host {
            home: Some("/h".into()),
            path: None,
            exe: Err("x".into()),
        };
        let p = Path::new("/p");
        assert_eq!(
            settings_path(AgentKind::Codex, Scope::User, p, &h).unwrap(),
            Path::new("/h/.codex/config.toml")
        );
        assert_eq!(
            settings_path(AgentKind::Copilot, Scope::Project, p, &h).unwrap(),
            Path::new("/p/.github/hooks/cavra.json")
        );
        assert!(matches!(
            settings_path(AgentKind::Copilot, Scope::User, p, &h),
            Err(SetupError::CopilotUserScope)
        ));
        let no_home = Host {
            home: Some(PathBuf::new()),
            ..h
        };
        assert!(matches!(
            settings_path(AgentKind::Cursor, Scope::User, p, &no_home),
            Err(SetupError::NoHome)
        ));
    }
}
