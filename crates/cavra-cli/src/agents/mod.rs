//! Agent integrations: hook adapters for Codex, Gemini CLI, Cursor and Copilot CLI (Claude
//! Code's lives in `cmd/hook.rs`), and the settings-file surgery behind `cavra init`,
//! `cavra uninstall` and `cavra doctor` for every agent.
//!
//! Each adapter parses its agent's hook input, maps the tool call to Claude Code's tool
//! vocabulary ([`ToolCall`]), asks [`hook::decide_call`] and writes the answer in the form its
//! agent reads. Every failure fails closed.

pub mod codex;
pub mod copilot;
pub mod cursor;
pub mod gemini;
pub mod mcp_config;
pub mod settings;

use crate::cmd::hook::{self, Agent, AgentKind, HookArgs, ToolCall, Verdict, VerdictKind};
use crate::ctx::Ctx;
use serde_json::{json, Value};
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

/// First string value among `keys`.
pub fn str_of(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
}

/// A compact, bounded rendering of a tool response for the evidence log.
pub fn summary(v: Option<&Value>) -> Option<String> {
    let v = v?;
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 512 {
        Some(format!("{}…", s.chars().take(512).collect::<String>()))
    } else {
        Some(s)
    }
}

/// Decides several tool calls that one agent action implies; the strictest verdict wins.
/// No calls = nothing CAVRA guards = allow.
pub fn decide_all(ctx: &Ctx, explicit_dir: bool, args: &HookArgs, calls: &[ToolCall]) -> Verdict {
    let mut best: Option<Verdict> = None;
    for c in calls {
        let v = hook::decide_call(ctx, explicit_dir, args, c);
        if best
            .as_ref()
            .is_none_or(|b| hook::rank(v.kind) > hook::rank(b.kind))
        {
            best = Some(v);
        }
    }
    best.unwrap_or(Verdict {
        kind: VerdictKind::NoOpinion,
        reason: "CAVRA: this action touches nothing CAVRA guards".into(),
    })
}

/// A tool call in Claude Code's vocabulary.
pub fn call(
    agent: AgentKind,
    session: &str,
    cwd: Option<&str>,
    tool: &str,
    input: Value,
) -> ToolCall {
    ToolCall {
        agent,
        session_id: session.to_string(),
        cwd: cwd.map(str::to_string),
        tool: tool.to_string(),
        input,
    }
}

/// `{key: value}` when one of `keys` holds a string, else the original input (so that
/// [`hook::map_tool`] reports the missing field and the call fails closed).
pub fn norm(input: &Value, key: &str, keys: &[&str]) -> Value {
    match str_of(input, keys) {
        Some(v) => json!({ key: v }),
        None => input.clone(),
    }
}

/// Records a non-decision agent event (post-tool, session start/end) in the evidence log of
/// the call's project. Failures are reported on stderr, never block the agent.
pub fn record(ctx: &Ctx, explicit_dir: bool, cwd: Option<&str>, event: &str, body: Value) {
    let hctx = hook::ctx_at(ctx, explicit_dir, &crate::ctx::locate(cwd));
    let kind = event_kind(event);
    if let Err(e) = hook::record_event(&hctx, kind, body) {
        eprintln!("CAVRA could not record the {event} event: {e:#}");
    }
}

/// Evidence record kind of an agent event name (any agent's spelling).
pub fn event_kind(event: &str) -> &'static str {
    let e = event.to_ascii_lowercase();
    if e.starts_with("after") || e.starts_with("post") {
        "post_tool"
    } else if e.contains("session") || e == "stop" || e.contains("stop") {
        "session"
    } else {
        "agent_event"
    }
}

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

fn needs_quoting(s: &str) -> bool {
    s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c))
}

/// Shell-quotes `s` (POSIX single quotes) when needed.
pub fn shell_quote(s: &str) -> String {
    if needs_quoting(s) {
        format!("'{}'", s.replace('\'', "'\\''"))
    } else {
        s.to_string()
    }
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

    #[test]
    fn event_kinds() {
        assert_eq!(event_kind("AfterTool"), "post_tool");
        assert_eq!(event_kind("postToolUse"), "post_tool");
        assert_eq!(event_kind("afterFileEdit"), "post_tool");
        assert_eq!(event_kind("SessionEnd"), "session");
        assert_eq!(event_kind("stop"), "session");
        assert_eq!(event_kind("userPromptSubmitted"), "agent_event");
    }
}
