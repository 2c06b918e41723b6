//! Cursor agent hooks (`.cursor/hooks.json` / `~/.cursor/hooks.json`, `{"version": 1,
//! "hooks": {<event>: [{"command": ...}]}}`).
//!
//! Gated events: `beforeShellExecution` (`command`, `cwd`), `beforeMCPExecution`
//! (`tool_name`, `tool_input` as object or JSON string, `url` or `command` of the server),
//! `beforeReadFile` (`file_path`), and the generic `preToolUse` (`tool_name`, `tool_input`)
//! when a user wires it. Common fields: `conversation_id`, `generation_id`,
//! `hook_event_name`, `workspace_roots`. Output: `{"permission": "allow"|"deny"|"ask",
//! "user_message", "agent_message"}` (the camelCase `userMessage` / `agentMessage` of the
//! first hooks release are written too; Cursor ignores keys it does not know). Exit code 2
//! also means deny: malformed input is answered with a deny and exit 2. `beforeReadFile` has
//! no "ask", so an approval requirement is a deny there. Observation events (`after*`,
//! `stop`, `sessionStart`, `sessionEnd`) are recorded and answered with `{}`.

use super::{call, decide_all, norm, record, str_of, summary};
use crate::cmd::hook::{self, AgentKind, HookArgs, ToolCall, VerdictKind};
use crate::ctx::Ctx;
use anyhow::Result;
use serde_json::{json, Value};

fn cwd_of(event: &Value) -> Option<String> {
    str_of(event, &["cwd"]).or_else(|| {
        event
            .get("workspace_roots")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

/// The MCP server name of a `beforeMCPExecution` event: an explicit `server`/`server_name`,
/// else the host of `url`, else the program name of `command`.
pub fn server_name(event: &Value) -> String {
    if let Some(s) = str_of(event, &["server", "server_name", "serverName"]) {
        return s;
    }
    if let Some(u) = str_of(event, &["url"]) {
        let rest = u.split("://").nth(1).unwrap_or(&u);
        let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let host = host.rsplit('@').next().unwrap_or(host);
        let host = host.split(':').next().unwrap_or(host);
        if !host.is_empty() {
            return host.to_string();
        }
    }
    if let Some(c) = str_of(event, &["command"]) {
        // `npx -y @scope/server-x` → `server-x`; `/usr/bin/mcp-foo --flag` → `mcp-foo`
        let words: Vec<&str> = c.split_whitespace().collect();
        let pick = words
            .iter()
            .skip(1)
            .find(|w| !w.starts_with('-'))
            .filter(|_| {
                words.first().is_some_and(|p| {
                    [
                        "npx", "uvx", "bunx", "pnpx", "node", "python", "python3", "docker",
                    ]
                    .contains(p)
                })
            })
            .or_else(|| words.first());
        if let Some(p) = pick {
            let name = p.rsplit('/').next().unwrap_or(p);
            if !name.is_empty() {
                return name.to_string();
            }
        }
    }
    "unknown-server".into()
}

fn tool_input(event: &Value) -> std::result::Result<Value, String> {
    match event.get("tool_input") {
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| format!("`tool_input` is a string but not JSON ({e})")),
        Some(v) => Ok(v.clone()),
        None => Ok(json!({})),
    }
}

/// Maps a Cursor event to Claude Code tool calls.
pub fn map(
    event_name: &str,
    event: &Value,
    session: &str,
    cwd: Option<&str>,
) -> std::result::Result<Vec<ToolCall>, String> {
    let a = AgentKind::Cursor;
    let c = |t: &str, i: Value| call(a, session, cwd, t, i);
    Ok(match event_name {
        "beforeShellExecution" => vec![c("Bash", norm(event, "command", &["command"]))],
        "beforeReadFile" => vec![c(
            "Read",
            norm(event, "file_path", &["file_path", "filePath"]),
        )],
        "beforeMCPExecution" => {
            let tool = str_of(event, &["tool_name"])
                .ok_or("the beforeMCPExecution event has no `tool_name`")?;
            let server = server_name(event);
            vec![c(&format!("mcp__{server}__{tool}"), tool_input(event)?)]
        }
        "preToolUse" => {
            let tool =
                str_of(event, &["tool_name"]).ok_or("the preToolUse event has no `tool_name`")?;
            let i = tool_input(event)?;
            let path_keys = ["path", "file_path", "target_file", "filePath"];
            match tool.as_str() {
                "Shell" | "Terminal" | "run_terminal_cmd" => {
                    vec![c("Bash", norm(&i, "command", &["command"]))]
                }
                "Read" | "read_file" => vec![c("Read", norm(&i, "file_path", &path_keys))],
                "Write" | "edit_file" => vec![c("Write", norm(&i, "file_path", &path_keys))],
                "Edit" | "StrReplace" | "MultiEdit" | "Delete" | "search_replace"
                | "delete_file" => {
                    vec![c("Edit", norm(&i, "file_path", &path_keys))]
                }
                "Grep" | "grep" => vec![c("Grep", norm(&i, "path", &["path", "target_directory"]))],
                "Glob" | "glob_file_search" => {
                    vec![c("Glob", norm(&i, "path", &["path", "target_directory"]))]
                }
                "LS" | "list_dir" => vec![c("LS", norm(&i, "path", &["path", "target_directory"]))],
                "WebFetch" | "web_fetch" => vec![c("WebFetch", norm(&i, "url", &["url"]))],
                "WebSearch" | "web_search" => vec![c("WebSearch", i)],
                "Task" | "TodoWrite" | "todo_write" => vec![c("TodoWrite", i)],
                t if t.starts_with("MCP:") => {
                    let rest = &t[4..];
                    let (server, tool) = rest.split_once(':').unwrap_or(("unknown-server", rest));
                    vec![c(&format!("mcp__{server}__{tool}"), i)]
                }
                t => vec![c(t, i)],
            }
        }
        other => return Err(format!("`{other}` is not a pre-action event")),
    })
}

fn answer(permission: &str, user: &str, agent: &str) -> Value {
    json!({
        "permission": permission,
        "user_message": user,
        "agent_message": agent,
        "userMessage": user,
        "agentMessage": agent,
    })
}

fn deny_malformed(msg: &str) -> Result<i32> {
    let m = format!("CAVRA blocked this action (fail closed): {msg}");
    eprintln!("{m}");
    println!("{}", answer("deny", &m, &m));
    Ok(2)
}

pub fn hook(ctx: &Ctx, explicit_dir: bool, args: &HookArgs) -> Result<i32> {
    let event = match hook::read_payload() {
        Ok(v) => v,
        Err(e) => return deny_malformed(&format!("{e:#}")),
    };
    let Some(name) = str_of(&event, &["hook_event_name"]) else {
        return deny_malformed("the hook event has no `hook_event_name`");
    };
    let session = str_of(&event, &["conversation_id", "session_id"])
        .unwrap_or_else(|| "unknown-session".into());
    let cwd = cwd_of(&event);
    let gated = matches!(
        name.as_str(),
        "beforeShellExecution" | "beforeMCPExecution" | "beforeReadFile" | "preToolUse"
    );
    if !gated {
        let mut body = json!({
            "agent": "cursor",
            "event": name,
            "session_id": session,
            "generation_id": event.get("generation_id"),
            "cwd": cwd,
        });
        for k in [
            "command",
            "file_path",
            "tool_name",
            "tool_input",
            "edits",
            "status",
        ] {
            if let Some(v) = event.get(k) {
                body[k] = v.clone();
            }
        }
        body["output_summary"] = json!(summary(
            event.get("output").or_else(|| event.get("result_json"))
        ));
        record(ctx, explicit_dir, cwd.as_deref(), &name, body);
        if name == "sessionStart" {
            let project = hook::project_dir(cwd.as_deref());
            println!(
                "{}",
                json!({"additional_context": hook::pack_summary(args, &project)})
            );
        } else {
            println!("{{}}");
        }
        return Ok(0);
    }
    let calls = match map(&name, &event, &session, cwd.as_deref()) {
        Ok(c) => c,
        Err(e) => return deny_malformed(&e),
    };
    let v = decide_all(ctx, explicit_dir, args, &calls);
    let permission = match (v.kind, name.as_str()) {
        (VerdictKind::Allow | VerdictKind::NoOpinion, _) => "allow",
        (VerdictKind::Ask, "beforeShellExecution" | "beforeMCPExecution") => "ask",
        _ => "deny",
    };
    println!("{}", answer(permission, &v.reason, &v.reason));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert_eq!(
            server_name(&json!({"url": "https://user@mcp.example.com:8443/sse"})),
            "mcp.example.com"
        );
        assert_eq!(
            server_name(&json!({"command": "npx -y @modelcontextprotocol/server-github"})),
            "server-github"
        );
        assert_eq!(
            server_name(&json!({"command": "/usr/bin/mcp-foo --x"})),
            "mcp-foo"
        );
        assert_eq!(server_name(&json!({"server": "gh"})), "gh");
    }

    #[test]
    fn maps_events() {
        let e = json!({"tool_name": "query", "tool_input": "{\"sql\": \"select 1\"}", "url": "http://db.local/mcp"});
        let m = map("beforeMCPExecution", &e, "s", None).unwrap_or_default();
        assert_eq!(m[0].tool, "mcp__db.local__query");
        assert_eq!(m[0].input["sql"], "select 1");
        assert!(map(
            "beforeMCPExecution",
            &json!({"tool_name": "q", "tool_input": "{oops"}),
            "s",
            None
        )
        .is_err());
        let m = map(
            "beforeReadFile",
            &json!({"file_path": "/p/.env"}),
            "s",
            None,
        )
        .unwrap_or_default();
        assert_eq!(
            (m[0].tool.as_str(), m[0].input["file_path"].as_str()),
            ("Read", Some("/p/.env"))
        );
    }
}
