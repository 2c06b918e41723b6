//! Mapping an agent's tool call (Claude Code's tool vocabulary: `Bash`, `Read`, `Write`,
//! `Edit`, `mcp__<server>__<tool>`, ...) to the action requests it implies. Pure: used by
//! every `cavra hook <agent>` adapter, and fuzzed.

use crate::model::{ActionRequest, ActionType, McpCall};
use serde_json::Value;

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
}
