//! The person at the terminal, for a front end that asks them (the CLI): who they are —
//! the OS user from the process's real uid, never `$USER`/`$LOGNAME`, which the caller
//! controls — and their confirmation of a [`ControlAction`], over a terminal the front end
//! opens (`/dev/tty`, never stdin). And [`Progress`], the percentage bar a long command
//! draws on a terminal's stderr.

use std::io::{BufRead as _, Read, Write};
use std::path::Path;

use crate::authz::ControlAction;
use crate::error::RuntimeError;

type Result<T> = std::result::Result<T, RuntimeError>;

fn refused(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Refused(message.into())
}

/// The refusal of `ctrl` when no terminal can ask a person to confirm it.
pub fn no_terminal(ctrl: &ControlAction) -> RuntimeError {
    refused(format!(
        "`{}` is a control action and needs a person: run it yourself at your own terminal (it asks you to confirm there), or pass an approver credential (`--token TOKEN`, or a token file named by CAVRA_TOKEN_FILE, issued with `cavra keys approver issue`); no terminal is attached, so nothing was changed",
        ctrl.command
    ))
}

/// Asks `identity` (shown as `label`) to confirm `ctrl`: the prompt
/// ([`ControlAction::prompt`]) to `out`, one answer line (at most 256 bytes) from `input`;
/// `y` or `yes` confirms. Anything else, or a terminal that fails, is a refusal.
pub fn confirm(
    ctrl: &ControlAction,
    identity: &str,
    label: Option<&str>,
    input: impl Read,
    out: &mut impl Write,
) -> Result<()> {
    let prompt = ctrl.prompt(identity, label);
    out.write_all(prompt.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| no_terminal(ctrl))?;
    let mut line = String::new();
    let read = std::io::BufReader::new(input.take(256)).read_line(&mut line);
    read.map_err(|_| no_terminal(ctrl))?;
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        let _ = out.write_all(b"confirmed\n");
        return Ok(());
    }
    let _ = out.write_all(b"not confirmed; nothing was changed\n");
    Err(refused(format!(
        "`{}` was not confirmed at the terminal; nothing was changed",
        ctrl.command
    )))
}

/// A coding agent found among this process's ancestors (or in its environment): the
/// terminal it may have opened is the agent's, not a person's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAncestor {
    /// The ancestor's pid (`None` when only the environment gave it away).
    pub pid: Option<u32>,
    /// What gave it away: `process \`claude\`` or `environment variable CLAUDECODE`.
    pub what: String,
}

/// Program names of coding agents (an ancestor's `comm`, or the basename of one of its
/// first two arguments: `node /usr/lib/node_modules/@openai/codex/bin/codex.js`).
const AGENT_PROGRAMS: &[&str] = &[
    "claude",
    "claude-code",
    "codex",
    "gemini",
    "gemini-cli",
    "cursor-agent",
    "copilot",
    "aider",
    "opencode",
    "goose",
    "amp",
    "qwen",
    "crush",
    "auggie",
    "droid",
    "kiro-cli",
];

/// Package paths of node-based agents, matched in an ancestor's first arguments.
const AGENT_PACKAGES: &[&str] = &[
    "@anthropic-ai/claude-code",
    "@openai/codex",
    "@google/gemini-cli",
    "@github/copilot",
    "@sourcegraph/amp",
    "opencode-ai",
];

/// Variables agents set for the commands they run (inherited by everything below them).
const AGENT_VARIABLES: &[&str] = &[
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CODEX_SANDBOX",
    "CODEX_SANDBOX_NETWORK_DISABLED",
    "GEMINI_CLI",
    "CURSOR_AGENT",
];

/// How far up the process tree [`agent_ancestor`] looks.
const MAX_ANCESTORS: usize = 64;

/// The coding agent this process runs under, if any: every ancestor up to init is looked at
/// in `proc` (`/proc`), by its `comm`, its first two arguments and its environment, and so
/// is this process's own environment (`env`). A terminal confirmation under an agent is
/// refused even when a terminal opens (the agent can give its commands a pty of its own:
/// `script`, `expect`, `python3 -c 'import pty; pty.spawn(...)'`).
pub fn agent_ancestor(
    proc: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Option<AgentAncestor> {
    let own = env
        .into_iter()
        .find_map(|(k, v)| (AGENT_VARIABLES.contains(&k.as_str()) && !v.is_empty()).then_some(k));
    if let Some(k) = own {
        return Some(AgentAncestor {
            pid: None,
            what: format!("environment variable {k}"),
        });
    }
    let mut pid = parent_of(proc, "self")?;
    for _ in 0..MAX_ANCESTORS {
        if pid <= 1 {
            return None;
        }
        if let Some(what) = agent_process(&proc.join(pid.to_string())) {
            return Some(AgentAncestor {
                pid: Some(pid),
                what,
            });
        }
        pid = parent_of(proc, &pid.to_string())?;
    }
    None
}

/// [`agent_ancestor`] of this process: `/proc` and its own environment.
pub fn agent_ancestor_here() -> Option<AgentAncestor> {
    let env = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    agent_ancestor(Path::new("/proc"), env)
}

/// The parent pid from `proc/<pid>/stat` (the field after the parenthesised `comm`, which
/// may itself hold spaces and parentheses).
fn parent_of(proc: &Path, pid: &str) -> Option<u32> {
    let stat = std::fs::read_to_string(proc.join(pid).join("stat")).ok()?;
    let rest = stat.get(stat.rfind(')')?.checked_add(1)?..)?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn agent_process(dir: &Path) -> Option<String> {
    let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
    let comm = comm.trim();
    if AGENT_PROGRAMS.contains(&comm) {
        return Some(format!("process `{comm}`"));
    }
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    for arg in cmdline.split(|b| *b == 0).take(2) {
        let arg = String::from_utf8_lossy(arg);
        let base = arg.rsplit(['/', '\\']).next().unwrap_or_default();
        let base = base.strip_suffix(".js").unwrap_or(base);
        if AGENT_PROGRAMS.contains(&base) || AGENT_PACKAGES.iter().any(|p| arg.contains(p)) {
            return Some(format!(
                "process `{}`",
                cavra_core::text::truncate_chars(&arg, 80)
            ));
        }
    }
    let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
    environ.split(|b| *b == 0).find_map(|kv| {
        let kv = String::from_utf8_lossy(kv);
        let (k, v) = kv.split_once('=')?;
        (AGENT_VARIABLES.contains(&k) && !v.is_empty()).then(|| format!("environment variable {k}"))
    })
}

/// The refusal of a terminal confirmation of `ctrl` under the agent `a`.
pub fn under_agent(ctrl: &ControlAction, a: &AgentAncestor) -> RuntimeError {
    let pid = a.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    refused(format!(
        "`{}` is a control action and needs a person, but this terminal belongs to a coding agent: {}{pid} runs it; a confirmation typed here could come from the agent itself, so it is not asked for. Run it in a terminal of your own that no agent started, or pass an approver credential (`--token TOKEN`); nothing was changed",
        ctrl.command, a.what
    ))
}

/// [`confirm`] on this process's terminal, refused before anything is asked when a coding
/// agent is an ancestor ([`agent_ancestor_here`]).
pub fn confirm_here(
    ctrl: &ControlAction,
    identity: &str,
    label: Option<&str>,
    input: impl Read,
    out: &mut impl Write,
) -> Result<()> {
    if let Some(agent) = agent_ancestor_here() {
        return Err(under_agent(ctrl, &agent));
    }
    confirm(ctrl, identity, label, input, out)
}

/// The OS user running this process, from the real uid (`/proc/self/status`, else the
/// owner of a file this process creates in `tmp`) and `/etc/passwd`.
pub fn os_user(tmp: &Path) -> Result<String> {
    let uid = uid_from_proc()
        .or_else(|| uid_from_file(tmp))
        .ok_or_else(|| refused("cannot determine the OS user of this process"))?;
    Ok(user_name(uid).unwrap_or_else(|| format!("uid:{uid}")))
}

fn uid_from_proc() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uid.split_whitespace().next()?.parse().ok()
}

#[cfg(unix)]
fn uid_from_file(tmp: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let p = tmp.join(format!(".cavra-uid-{}-{nanos}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p);
    file.ok()?;
    let uid = std::fs::metadata(&p).ok().map(|m| m.uid());
    let _ = std::fs::remove_file(&p);
    uid
}

#[cfg(not(unix))]
fn uid_from_file(_: &Path) -> Option<u32> {
    None
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let (name, _pw, u) = (f.next()?, f.next()?, f.next()?.parse::<u32>().ok()?);
        (u == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// A percentage bar on stderr, drawn only when `on` and stderr is a terminal.
pub struct Progress {
    on: bool,
    label: &'static str,
    last: u64,
}

impl Progress {
    pub fn new(on: bool, label: &'static str) -> Self {
        use std::io::IsTerminal;
        let on = on && std::io::stderr().is_terminal();
        Progress {
            on,
            label,
            last: u64::MAX,
        }
    }

    /// `done` of `total` are done.
    pub fn update(&mut self, done: u64, total: u64) {
        let Some(pct) = done.saturating_mul(100).checked_div(total) else {
            return;
        };
        if !self.on || pct == self.last {
            return;
        }
        self.last = pct;
        let fill = usize::try_from(pct.min(100) * 30 / 100).unwrap_or(30);
        let bar = format!("{}{}", "#".repeat(fill), " ".repeat(30 - fill));
        eprint!("\r{} [{bar}] {pct:>3}%", self.label);
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar.
    pub fn done(&self) {
        if self.on && self.last != u64::MAX {
            eprint!("\r{}\r", " ".repeat(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavra_store::Role;

    #[test]
    fn os_user_comes_from_the_uid_not_the_environment() {
        let u = os_user(&std::env::temp_dir()).unwrap_or_default();
        assert!(!u.is_empty());
        // $USER is not consulted: the answer is the same whatever it says
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(uid_from_file(&std::env::temp_dir()).is_some());
    }

    #[test]
    fn only_y_or_yes_confirms() {
        let ctrl = ControlAction::new("cavra x", Role::Admin);
        let mut out = Vec::new();
        assert!(confirm(&ctrl, "alice", None, &b" YES\n"[..], &mut out).is_ok());
        let out = String::from_utf8_lossy(&out).to_string();
        assert!(out.starts_with("CAVRA control action: cavra x\n") && out.ends_with("confirmed\n"));
        for answer in ["n\n", "", "yess\n"] {
            let e = confirm(&ctrl, "alice", None, answer.as_bytes(), &mut Vec::new());
            let e = e.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                e.contains("was not confirmed at the terminal"),
                "{answer:?}: {e}"
            );
        }
    }

    /// (pid, parent, comm, argv, environment)
    type FakeProc<'a> = (&'a str, u32, &'a str, &'a [&'a str], &'a [&'a str]);

    fn fake_proc(procs: &[FakeProc]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (pid, ppid, comm, argv, env) in procs {
            let d = root.path().join(pid);
            std::fs::create_dir_all(&d).unwrap();
            let stat = format!("{pid} ({comm}) S {ppid} 1 1 0 -1");
            std::fs::write(d.join("stat"), stat).unwrap();
            std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
            std::fs::write(d.join("cmdline"), argv.join("\0")).unwrap();
            std::fs::write(d.join("environ"), env.join("\0")).unwrap();
        }
        root
    }

    #[test]
    fn an_agent_among_the_ancestors_is_found() {
        let claude = [
            "node",
            "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js",
        ];
        let proc = fake_proc(&[
            ("self", 300, "cavra", &["cavra"], &[]),
            ("300", 200, "python3", &["python3", "-c", "import pty"], &[]),
            ("200", 100, "bash", &["bash"], &["HOME=/root"]),
            ("100", 1, "node", &claude, &[]),
        ]);
        let a = agent_ancestor(proc.path(), []).unwrap();
        assert_eq!(a.pid, Some(100));
        assert!(a.what.contains("claude-code"), "{}", a.what);
        // by name, by an inherited variable, and with a `comm` holding `) S 7`
        let proc = fake_proc(&[
            ("self", 40, "cavra", &["cavra"], &[]),
            ("40", 30, "x) S 7", &["sh"], &[]),
            ("30", 1, "codex", &["codex"], &[]),
        ]);
        assert_eq!(agent_ancestor(proc.path(), []).unwrap().pid, Some(30));
        let proc = fake_proc(&[
            ("self", 40, "cavra", &["cavra"], &[]),
            ("40", 1, "sh", &["sh"], &["GEMINI_CLI=1"]),
        ]);
        let a = agent_ancestor(proc.path(), []).unwrap();
        assert_eq!(
            (a.pid, a.what.as_str()),
            (Some(40), "environment variable GEMINI_CLI")
        );
        // this process's own environment is enough
        let env = [("CLAUDECODE".to_string(), "1".to_string())];
        let a = agent_ancestor(proc.path(), env).unwrap();
        assert_eq!(a.pid, None);
        let ctrl = ControlAction::new("cavra tokens issue", Role::Admin);
        let e = under_agent(&ctrl, &a).to_string();
        assert!(
            e.contains("belongs to a coding agent") && e.contains("CLAUDECODE"),
            "{e}"
        );
    }

    #[test]
    fn a_person_s_terminal_has_no_agent_ancestor() {
        let proc = fake_proc(&[
            ("self", 40, "cavra", &["cavra"], &["TERM=xterm"]),
            ("40", 30, "bash", &["-bash"], &["CLAUDECODE="]),
            ("30", 1, "sshd", &["sshd: alice@pts/0"], &[]),
        ]);
        assert_eq!(agent_ancestor(proc.path(), []), None);
        // an unreadable tree (no /proc) finds nothing rather than failing
        assert_eq!(agent_ancestor(&proc.path().join("missing"), []), None);
        // a cycle in a corrupt tree stops after MAX_ANCESTORS steps
        let proc = fake_proc(&[("self", 5, "cavra", &[], &[]), ("5", 5, "sh", &[], &[])]);
        assert_eq!(agent_ancestor(proc.path(), []), None);
    }

    #[test]
    fn a_failing_terminal_refuses() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("gone"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let ctrl = ControlAction::new("cavra x", Role::Admin);
        let e = confirm(&ctrl, "a", None, &b"y\n"[..], &mut Broken).err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("no terminal is attached"), "{e}");
    }
}
