//! `cavra init` and `cavra uninstall` as whole operations: the hook entries, the MCP
//! registration and (for init) the starter `.cavra/` layout, with the `--json` documents the
//! CLI prints. Every file concerned is parsed before the first one is written, so a
//! malformed file stops the operation with nothing changed.

use crate::files::write_if_absent;
use crate::hooks::{self, Change, Outcome};
use crate::mcp::{self, McpOutcome, Target};
use crate::{hook_command, settings_path, AgentKind, Host, Scope, SetupError};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Starter project policy: extends the bundled baseline.
pub const STARTER_POLICY: &str = "metadata:
  id: cavra-project
  title: Project policy
  version: 0.1.0
  extends: cavra-coding-baseline
# add rules/overrides here; see docs/policy-format.md
";

/// `.cavra/.gitignore`: local state that must not be committed.
pub const GITIGNORE: &str = "# CAVRA local state (written by `cavra init`)
evidence/
keys/
cavra.db*
cache/
";

/// The files an operation on `agent` in `scope` concerns, checked to parse.
#[derive(Debug, Clone)]
pub struct Plan {
    pub agent: AgentKind,
    pub scope: Scope,
    /// The hook settings file.
    pub settings: PathBuf,
    pub mcp_target: Target,
}

impl Plan {
    pub fn new(
        agent: AgentKind,
        scope: Scope,
        project: &Path,
        host: &Host,
    ) -> Result<Plan, SetupError> {
        let settings = settings_path(agent, scope, project, host)?;
        let mcp_target = mcp::target(agent, scope, project, host)?;
        mcp::validate(&mcp_target)?;
        Ok(Plan {
            agent,
            scope,
            settings,
            mcp_target,
        })
    }

    /// Whether the MCP configuration is the settings file a hook edit just `change`d and
    /// backed up (Gemini, Codex): it is then not backed up a second time.
    fn shares_backup(&self, out: &Outcome, backed_up: bool) -> bool {
        self.mcp_target.path() == Some(out.path.as_path()) && backed_up
    }
}

/// What `cavra init` did.
#[derive(Debug, Clone)]
pub struct Installed {
    pub plan: Plan,
    pub hooks: Outcome,
    pub hook_command: String,
    pub mcp: Option<McpOutcome>,
    /// `<project>/.cavra/policy.yaml`.
    pub policy: PathBuf,
    pub policy_written: bool,
    pub gitignore_written: bool,
    /// The MCP servers `--wrap-mcp` made start through `cavra mcp proxy` (this run).
    pub wrapped: Vec<String>,
    /// The MCP servers `--wrap-mcp` left alone (HTTP servers, odd entries), and why.
    pub not_wrapped: Vec<crate::wrap::LeftAlone>,
}

/// Installs CAVRA for `agent`: its hook, its MCP server entry, and the starter `.cavra/`
/// (`policy.yaml`, `.gitignore`) when absent.
pub fn init(
    agent: AgentKind,
    scope: Scope,
    project: &Path,
    host: &Host,
) -> Result<Installed, SetupError> {
    init_with(agent, scope, project, host, false)
}

/// [`init`]; with `wrap_mcp` (`cavra init --wrap-mcp`) the agent's other stdio MCP servers
/// are made to start through `cavra mcp proxy` ([`crate::wrap::wrap_target`]: the JSON
/// configurations and Codex's `config.toml`).
pub fn init_with(
    agent: AgentKind,
    scope: Scope,
    project: &Path,
    host: &Host,
    wrap_mcp: bool,
) -> Result<Installed, SetupError> {
    let plan = Plan::new(agent, scope, project, host)?;
    let cmd = hook_command(agent, host)?;
    let out = hooks::install(agent, &plan.settings, &cmd)?;
    // the hook install may have just backed up (or created) the same file
    let shared = plan.shares_backup(&out, out.change != Change::Unchanged);
    let exe = host.exe()?.display().to_string();
    let mcp = mcp::install(&plan.mcp_target, &exe, !shared)?;
    let wrap = if wrap_mcp {
        let bare_url_sse = agent == AgentKind::Gemini;
        crate::wrap::wrap_target(&plan.mcp_target, &exe, bare_url_sse)?
    } else {
        crate::wrap::Rewrite::default()
    };
    let cavra = project.join(".cavra");
    let policy = cavra.join("policy.yaml");
    let policy_written = write_if_absent(&policy, STARTER_POLICY)?;
    let gitignore_written = write_if_absent(&cavra.join(".gitignore"), GITIGNORE)?;
    Ok(Installed {
        plan,
        hooks: out,
        hook_command: cmd,
        mcp,
        policy,
        policy_written,
        gitignore_written,
        wrapped: wrap.changed,
        not_wrapped: wrap.left,
    })
}

impl Installed {
    /// The events the hook is installed for.
    pub fn events(&self) -> Vec<&'static str> {
        hooks::events(self.plan.agent)
            .iter()
            .map(|(e, _)| *e)
            .collect()
    }

    /// `init --json`; `policy` is the front end's check that the project policy loads (a
    /// description, or the error).
    pub fn document(&self, policy: &Result<String, String>) -> Value {
        let mut doc = head(&self.plan, &self.hooks);
        let more = [
            ("hook_command", json!(self.hook_command)),
            ("events", json!(self.events())),
            ("policy", json!(self.policy.display().to_string())),
            ("policy_written", json!(self.policy_written)),
            ("gitignore_written", json!(self.gitignore_written)),
            ("policy_ok", json!(policy.is_ok())),
            ("policy_error", json!(policy.as_ref().err())),
            ("mcp_wrapped", json!(self.wrapped)),
            (
                "mcp_not_wrapped",
                self.not_wrapped
                    .iter()
                    .map(|l| json!({"name": l.name, "why": l.why}))
                    .collect(),
            ),
        ];
        doc.extend(more.map(|(k, v)| (k.to_string(), v)));
        with_mcp(doc, &self.plan, self.mcp.as_ref())
    }

    /// `init`'s text (lines ending in newlines); `policy` as in [`Installed::document`].
    pub fn text(&self, policy: &Result<String, String>) -> String {
        let (out, plan) = (&self.hooks, &self.plan);
        let (kind, path, change) = (plan.agent.as_str(), out.path.display(), out.change.as_str());
        let mut t = format!(
            "{kind}: {change} `{path}` ({} scope)\n",
            plan.scope.as_str()
        );
        let events = self.events().join(", ");
        t += &format!("  hook: {}  [events: {events}]\n", self.hook_command);
        t += &out.backup_line();
        let policy_state = if self.policy_written {
            "written (extends cavra-coding-baseline)"
        } else {
            "kept (already present)"
        };
        t += &format!("  policy: `{}` {policy_state}\n", self.policy.display());
        if self.gitignore_written {
            t += "  `.cavra/.gitignore` written (evidence/, keys/, cavra.db*, cache/)\n";
        }
        t += &match policy {
            Ok(s) => format!("  {s}\n"),
            Err(e) => format!("  warning: the project policy does not load: {e}\n"),
        };
        t += &mcp::text(&plan.mcp_target, self.mcp.as_ref());
        if !self.wrapped.is_empty() {
            let names = self.wrapped.join(", ");
            t += &format!("  MCP servers now started through `cavra mcp proxy`: {names}\n");
        }
        for l in &self.not_wrapped {
            t += &format!("  MCP server `{}` left alone: {}\n", l.name, l.why);
        }
        if plan.agent == AgentKind::Gemini {
            t += "  note: Gemini CLI runs hooks only when hooks are enabled in its settings (see docs/integrations.md)\n";
        }
        t + "  run `cavra doctor` to check the installation\n"
    }
}

/// The keys `init --json` and `uninstall --json` begin with.
fn head(plan: &Plan, hooks: &Outcome) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("agent".into(), json!(plan.agent.as_str()));
    m.insert("scope".into(), json!(plan.scope.as_str()));
    m.insert("settings".into(), json!(hooks.path.display().to_string()));
    m.insert("change".into(), json!(hooks.change.as_str()));
    let backup = hooks.backup.as_ref().map(|b| b.display().to_string());
    m.insert("backup".into(), json!(backup));
    m
}

/// ... and end with: the MCP registration.
fn with_mcp(mut doc: Map<String, Value>, plan: &Plan, mcp: Option<&McpOutcome>) -> Value {
    doc.insert("mcp_server".into(), mcp::document(&plan.mcp_target, mcp));
    Value::Object(doc)
}

/// What `cavra uninstall` did.
#[derive(Debug, Clone)]
pub struct Removed {
    pub plan: Plan,
    pub hooks: Outcome,
    pub mcp: Option<McpOutcome>,
    /// The MCP servers restored from `cavra mcp proxy` to their own command.
    pub unwrapped: Vec<String>,
}

impl Plan {
    /// Removes exactly CAVRA's hook entries and MCP server entry; a changed file is backed
    /// up only when `backup` (`cavra uninstall --backup`). `.cavra/` is left alone.
    pub fn uninstall(self, backup: bool) -> Result<Removed, SetupError> {
        let out = hooks::uninstall(self.agent, &self.settings, backup)?;
        // the hook removal may have just backed up the same file
        let shared = self.shares_backup(&out, out.backup.is_some());
        let mcp = mcp::uninstall(&self.mcp_target, backup && !shared)?;
        let unwrapped = crate::wrap::unwrap_target(&self.mcp_target)?;
        Ok(Removed {
            plan: self,
            hooks: out,
            mcp,
            unwrapped,
        })
    }
}

impl Removed {
    /// `uninstall --json`.
    pub fn document(&self) -> Value {
        let mut doc = head(&self.plan, &self.hooks);
        doc.insert("mcp_unwrapped".into(), json!(self.unwrapped));
        with_mcp(doc, &self.plan, self.mcp.as_ref())
    }

    /// `uninstall`'s text (lines ending in newlines).
    pub fn text(&self) -> String {
        let (out, kind) = (&self.hooks, self.plan.agent.as_str());
        let (change, path) = (out.change.as_str(), out.path.display());
        let mut t = format!("{kind}: {change} in `{path}`\n") + &out.backup_line();
        if out.change == Change::NotPresent {
            t += "  nothing of CAVRA's was installed there\n";
        }
        t += &mcp::text(&self.plan.mcp_target, self.mcp.as_ref());
        if !self.unwrapped.is_empty() {
            let names = self.unwrapped.join(", ");
            t += &format!("  MCP servers started without `cavra mcp proxy` again: {names}\n");
        }
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn host(dir: &Path) -> Host {
        Host {
            home: Some(dir.join("home")),
            path: None,
            exe: Ok(dir.join("bin").join("cavra")),
        }
    }

    #[test]
    fn gemini_shares_one_file_and_one_backup() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        let settings = proj.join(".gemini").join("settings.json");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, "{\"theme\": \"dark\"}\n").unwrap();
        let h = host(dir.path());
        let done = init(AgentKind::Gemini, Scope::Project, &proj, &h).unwrap();
        assert_eq!(done.hooks.change, Change::Updated);
        assert!(done.hooks.backup.is_some());
        let mcp = done.mcp.as_ref().unwrap();
        assert_eq!(mcp.outcome.change, Change::Updated);
        assert!(
            mcp.outcome.backup.is_none(),
            "backed up once, by the hook install"
        );
        assert!(done.policy_written && done.gitignore_written);
        let doc = done.document(&Ok("fine".into()));
        assert_eq!(doc["mcp_server"]["registered"], true);
        assert_eq!(doc["events"][0], "BeforeTool");
        assert_eq!(doc["policy_error"], Value::Null);
        let text = done.text(&Err("bad".into()));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("gemini: updated `"), "{text}");
        assert!(
            lines[2].starts_with("  backup of the previous file: `"),
            "{text}"
        );
        assert!(text.contains("\n  warning: the project policy does not load: bad\n"));
        assert!(text.contains("\n  MCP server `cavra` (`cavra mcp serve`): updated `"));
        assert!(text.contains("  note: Gemini CLI runs hooks only when hooks are enabled"));
        assert!(text.ends_with("  run `cavra doctor` to check the installation\n"));
        let again = init(AgentKind::Gemini, Scope::Project, &proj, &h).unwrap();
        assert_eq!(again.hooks.change, Change::Unchanged);
        assert!(!again.policy_written);

        let plan = Plan::new(AgentKind::Gemini, Scope::Project, &proj, &h).unwrap();
        let gone = plan.uninstall(true).unwrap();
        assert_eq!(gone.hooks.change, Change::Removed(false));
        assert!(gone.hooks.backup.is_some());
        assert!(gone.mcp.as_ref().unwrap().outcome.backup.is_none());
        assert_eq!(
            std::fs::read_to_string(&settings).unwrap(),
            "{\n  \"theme\": \"dark\"\n}\n"
        );
        assert_eq!(gone.document()["change"], "removed");
        let text = gone.text();
        assert!(text.starts_with("gemini: removed in `"), "{text}");
        assert_eq!(
            text.matches("backup of the previous file").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn a_malformed_mcp_config_stops_init_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        std::fs::write(proj.join(".mcp.json"), "{\"mcpServers\": []}").unwrap();
        let e = init(
            AgentKind::ClaudeCode,
            Scope::Project,
            &proj,
            &host(dir.path()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("`mcpServers` in `"), "{e}");
        assert!(!proj.join(".claude").exists());
        assert!(!proj.join(".cavra").exists());
    }
}
