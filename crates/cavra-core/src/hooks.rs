//! The vocabulary shared by the agent adapters (`cavra-agents`), the decision runtime and
//! every front end: the agents CAVRA integrates with ([`AgentKind`]), a tool call in Claude
//! Code's tool vocabulary ([`ToolCall`]: `Bash`, `Read`, `Write`, `Edit`,
//! `mcp__<server>__<tool>`, ...), what the hook tells the agent ([`Verdict`]), and the
//! mapping of a tool call to the action requests it implies ([`map_tool`]). Pure, and fuzzed.

use crate::model::{ActionRequest, ActionType, McpCall};
use serde_json::Value;

/// The agents CAVRA integrates with (the command line's `cavra hook <agent>` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentKind {
    /// Anthropic Claude Code.
    ClaudeCode,
    /// OpenAI Codex CLI.
    Codex,
    /// Google Gemini CLI.
    Gemini,
    /// Cursor (agent hooks).
    Cursor,
    /// GitHub Copilot CLI.
    Copilot,
}

impl AgentKind {
    /// Every agent, in display order.
    pub const ALL: [AgentKind; 5] = [
        AgentKind::ClaudeCode,
        AgentKind::Codex,
        AgentKind::Gemini,
        AgentKind::Cursor,
        AgentKind::Copilot,
    ];

    /// The agent's name on the command line and in evidence (`claude-code`, `codex`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::ClaudeCode => "claude-code",
            AgentKind::Codex => "codex",
            AgentKind::Gemini => "gemini",
            AgentKind::Cursor => "cursor",
            AgentKind::Copilot => "copilot",
        }
    }

    /// Same as [`AgentKind::as_str`].
    pub fn kind(self) -> &'static str {
        self.as_str()
    }

    /// The product's name, for help texts (`OpenAI Codex CLI`, ...).
    pub fn title(self) -> &'static str {
        match self {
            AgentKind::ClaudeCode => "Anthropic Claude Code",
            AgentKind::Codex => "OpenAI Codex CLI",
            AgentKind::Gemini => "Google Gemini CLI",
            AgentKind::Cursor => "Cursor (agent hooks)",
            AgentKind::Copilot => "GitHub Copilot CLI",
        }
    }

    /// The other names the agent is known by on the command line.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            AgentKind::ClaudeCode => &["claude"],
            AgentKind::Gemini => &["gemini-cli"],
            AgentKind::Copilot => &["copilot-cli"],
            AgentKind::Codex | AgentKind::Cursor => &[],
        }
    }

    /// The agent named `name` (its name or an alias: `claude`, `gemini-cli`, `copilot-cli`).
    pub fn from_name(name: &str) -> Option<AgentKind> {
        let named = |a: &AgentKind| a.as_str() == name || a.aliases().contains(&name);
        AgentKind::ALL.into_iter().find(named)
    }

    /// Can the agent ask its user to confirm a tool call? Codex, Gemini CLI and Copilot CLI
    /// act on "deny" only, so a require-approval decision must open an approval request for
    /// a person to approve (the retry then passes once).
    pub fn has_native_ask(self) -> bool {
        matches!(self, AgentKind::ClaudeCode | AgentKind::Cursor)
    }
}

impl std::fmt::Display for AgentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool call, normalized to Claude Code's tool vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub agent: AgentKind,
    pub session_id: String,
    /// The working directory the agent reported (may be relative or missing: the runtime
    /// resolves it against the hook process's working directory).
    pub cwd: Option<String>,
    pub tool: String,
    pub input: Value,
}

/// What the hook tells the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    /// An allow rule (or an approval, a break-glass) lets the action through.
    Allow,
    /// No rule restricts the action: the agent's own permission settings decide.
    NoOpinion,
    Deny,
    Ask,
}

impl VerdictKind {
    /// Strictness: deny > ask > no opinion > allow. An action made of several calls is
    /// explicitly allowed only when every call is.
    pub fn rank(self) -> u8 {
        match self {
            VerdictKind::Allow => 0,
            VerdictKind::NoOpinion => 1,
            VerdictKind::Ask => 2,
            VerdictKind::Deny => 3,
        }
    }
}

/// A verdict and the guidance text the agent is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub reason: String,
}

impl Verdict {
    pub fn deny(reason: impl Into<String>) -> Verdict {
        Verdict {
            kind: VerdictKind::Deny,
            reason: reason.into(),
        }
    }

    /// The strictest of `verdicts` (the first of equally strict ones); `None` when empty.
    pub fn strictest(verdicts: impl IntoIterator<Item = Verdict>) -> Option<Verdict> {
        let mut best: Option<Verdict> = None;
        for v in verdicts {
            if best.as_ref().is_none_or(|b| v.kind.rank() > b.kind.rank()) {
                best = Some(v);
            }
        }
        best
    }
}

/// The first string field of `v` among `keys`.
pub fn str_field(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_string))
}

/// Harmless built-in tools that touch nothing outside the agent.
pub const INERT_TOOLS: &[&str] = &[
    "Task",
    "TodoWrite",
    "TodoRead",
    "ExitPlanMode",
    "EnterPlanMode",
    "AskUserQuestion",
    "BashOutput",
    "KillShell",
    "KillBash",
    "SlashCommand",
    "Skill",
    "ListMcpResourcesTool",
    "ReadMcpResourceTool",
];

/// Maps a tool call to the action requests it implies. `Err` = unknown tool or bad input.
pub fn map_tool(
    tool: &str,
    input: &Value,
    cwd: Option<&str>,
) -> Result<Vec<ActionRequest>, String> {
    let t = tool;
    let i = input;
    let cwd = cwd.map(str::to_string);
    let mk = |a: ActionType, target: String| ActionRequest::new(a, target);
    let need = |keys: &[&str]| {
        str_field(i, keys).ok_or_else(|| {
            format!(
                "tool `{t}` input has no `{}`; CAVRA cannot tell what it would touch",
                keys.join("`/`")
            )
        })
    };
    Ok(match t {
        "Bash" | "PowerShell" => vec![mk(ActionType::ExecuteCommand, need(&["command"])?)],
        "Read" | "NotebookRead" => vec![mk(ActionType::ReadFile, need(&["file_path", "notebook_path", "path"])?)],
        "Write" | "Edit" | "MultiEdit" => vec![mk(ActionType::WriteFile, need(&["file_path", "path"])?)],
        "NotebookEdit" => vec![mk(ActionType::WriteFile, need(&["notebook_path", "file_path"])?)],
        "Glob" | "LS" => {
            let path = str_field(i, &["path"]).unwrap_or_else(|| cwd.clone().unwrap_or_else(|| ".".into()));
            vec![mk(ActionType::ReadFile, path)]
        }
        "Grep" => {
            let path = str_field(i, &["path"]).unwrap_or_else(|| cwd.clone().unwrap_or_else(|| ".".into()));
            let mut v = vec![mk(ActionType::ReadFile, path.clone())];
            if let Some(g) = str_field(i, &["glob"]) {
                if !g.contains('*') {
                    v.push(mk(ActionType::ReadFile, format!("{}/{g}", path.trim_end_matches('/'))));
                }
            }
            v
        }
        "WebFetch" => vec![mk(ActionType::NetworkRequest, need(&["url"])?)],
        "WebSearch" => vec![],
        _ if t.starts_with("mcp__") => {
            let rest = &t["mcp__".len()..];
            let (server, tool) = rest
                .split_once("__")
                .ok_or_else(|| format!("MCP tool name `{t}` is not `mcp__<server>__<tool>`"))?;
            let mut r = mk(ActionType::McpToolCall, format!("{server}:{tool}"));
            r.mcp = Some(McpCall {
                server: server.to_string(),
                tool: tool.to_string(),
                arguments: i.clone(),
                capability: None,
            });
            vec![r]
        }
        _ if INERT_TOOLS.contains(&t) => vec![],
        _ => {
            return Err(format!(
                "unknown tool `{t}`: CAVRA does not know what it does, so it is not allowed (fail closed)"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_claude_tools() {
        let r = map_tool("Bash", &serde_json::json!({"command": "ls"}), None).unwrap();
        assert_eq!(r[0].action, Some(ActionType::ExecuteCommand));
        let r = map_tool(
            "mcp__github__delete_branch",
            &serde_json::json!({"branch": "main"}),
            None,
        )
        .unwrap();
        assert_eq!(r[0].mcp.as_ref().unwrap().server, "github");
        assert!(map_tool("Teleport", &Value::Null, None).is_err());
        assert!(map_tool("Bash", &serde_json::json!({}), None).is_err());
        assert!(map_tool("TodoWrite", &Value::Null, None)
            .unwrap()
            .is_empty());
        assert!(map_tool("mcp__bad", &Value::Null, None).is_err());
    }

    #[test]
    fn agent_names_round_trip() {
        for a in AgentKind::ALL {
            assert_eq!(AgentKind::from_name(a.as_str()), Some(a));
        }
        assert_eq!(AgentKind::from_name("claude"), Some(AgentKind::ClaudeCode));
        assert_eq!(
            AgentKind::from_name("copilot-cli"),
            Some(AgentKind::Copilot)
        );
        assert_eq!(AgentKind::from_name("gemini-cli"), Some(AgentKind::Gemini));
        assert_eq!(AgentKind::from_name("nobody"), None);
        assert!(AgentKind::Cursor.has_native_ask() && !AgentKind::Gemini.has_native_ask());
    }

    #[test]
    fn the_strictest_verdict_wins() {
        let v = |k| Verdict {
            kind: k,
            reason: format!("{k:?}"),
        };
        let all = [VerdictKind::Allow, VerdictKind::Deny, VerdictKind::Ask];
        let best = Verdict::strictest(all.map(v));
        assert_eq!(best.map(|b| b.kind), Some(VerdictKind::Deny));
        let best = Verdict::strictest([v(VerdictKind::NoOpinion), v(VerdictKind::Allow)]);
        assert_eq!(best.map(|b| b.kind), Some(VerdictKind::NoOpinion));
        assert_eq!(Verdict::strictest([]), None);
    }
}
