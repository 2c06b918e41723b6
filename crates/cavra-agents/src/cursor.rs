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
//! also means deny: malformed input is answered with a deny and exit 2. Only
//! `beforeShellExecution` and `beforeMCPExecution` can ask, so an approval requirement is a
//! deny elsewhere. Observation events (`after*`, `stop`, `sessionStart`, `sessionEnd`) are
//! recorded and answered with `{}` (`sessionStart` with `additional_context`).

use crate::{
    call, norm, str_of, summary, AdapterError, Answer, Observation, Parsed, RecordKind, ToolCall,
    ToolUse, Verdict, VerdictKind, EXIT_BLOCK,
};
use cavra_core::hooks::AgentKind;
use serde_json::{json, Value};

/// The events on which Cursor waits for a permission.
pub const GATED: [&str; 4] = [
    "beforeShellExecution",
    "beforeMCPExecution",
    "beforeReadFile",
    "preToolUse",
];

/// Reads a Cursor hook event.
pub fn parse(event: &Value) -> Result<Parsed, AdapterError> {
    let name = str_of(event, &["hook_event_name"]).ok_or(AdapterError::MissingField {
        event: "hook".into(),
        field: "hook_event_name",
    })?;
    let session = str_of(event, &["conversation_id", "session_id"])
        .unwrap_or_else(|| "unknown-session".into());
    let cwd = cwd_of(event);
    if GATED.contains(&name.as_str()) {
        return Ok(Parsed::Tool(ToolUse {
            calls: map(&name, event, &session, cwd.as_deref())?,
            event: name,
        }));
    }
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
        if let (Some(v), Some(obj)) = (event.get(k), body.as_object_mut()) {
            obj.insert(k.into(), v.clone());
        }
    }
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "output_summary".into(),
            json!(summary(
                event.get("output").or_else(|| event.get("result_json"))
            )),
        );
    }
    Ok(Parsed::Observed(Observation {
        wants_context: name == "sessionStart",
        record_kind: RecordKind::of_event(&name),
        event: name,
        cwd,
        body,
    }))
}

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

/// `tool_input`: an object, or a JSON string of one.
fn tool_input(event: &Value) -> Result<Value, AdapterError> {
    match event.get("tool_input") {
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| AdapterError::ArgsNotJson {
            field: "tool_input",
            detail: e.to_string(),
        }),
        Some(v) => Ok(v.clone()),
        None => Ok(json!({})),
    }
}

/// Maps a gated Cursor event to Claude Code tool calls.
pub fn map(
    event_name: &str,
    event: &Value,
    session: &str,
    cwd: Option<&str>,
) -> Result<Vec<ToolCall>, AdapterError> {
    let c = |t: &str, i: Value| call(AgentKind::Cursor, session, cwd, t, i);
    let tool_name = || {
        str_of(event, &["tool_name"]).ok_or(AdapterError::MissingField {
            event: event_name.to_string(),
            field: "tool_name",
        })
    };
    Ok(match event_name {
        "beforeShellExecution" => vec![c("Bash", norm(event, "command", &["command"]))],
        "beforeReadFile" => vec![c(
            "Read",
            norm(event, "file_path", &["file_path", "filePath"]),
        )],
        "beforeMCPExecution" => {
            let tool = tool_name()?;
            let server = server_name(event);
            vec![c(&format!("mcp__{server}__{tool}"), tool_input(event)?)]
        }
        "preToolUse" => {
            let tool = tool_name()?;
            let i = tool_input(event)?;
            let path_keys = ["path", "file_path", "target_file", "filePath"];
            let dir_keys = ["path", "target_directory"];
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
                "Grep" | "grep" => vec![c("Grep", norm(&i, "path", &dir_keys))],
                "Glob" | "glob_file_search" => vec![c("Glob", norm(&i, "path", &dir_keys))],
                "LS" | "list_dir" => vec![c("LS", norm(&i, "path", &dir_keys))],
                "WebFetch" | "web_fetch" => vec![c("WebFetch", norm(&i, "url", &["url"]))],
                "WebSearch" | "web_search" => vec![c("WebSearch", i)],
                "Task" | "TodoWrite" | "todo_write" => vec![c("TodoWrite", i)],
                t => match t.strip_prefix("MCP:") {
                    Some(rest) => {
                        let (server, tool) =
                            rest.split_once(':').unwrap_or(("unknown-server", rest));
                        vec![c(&format!("mcp__{server}__{tool}"), i)]
                    }
                    None => vec![c(t, i)],
                },
            }
        }
        other => return Err(AdapterError::NotPreAction(other.to_string())),
    })
}

/// A Cursor permission document.
pub fn permission(permission: &str, user: &str, agent: &str) -> Value {
    json!({
        "permission": permission,
        "user_message": user,
        "agent_message": agent,
        "userMessage": user,
        "agentMessage": agent,
    })
}

/// The answer to a gated event: Cursor has no "no opinion", so that is `allow`; `ask`
/// where the event can ask, else `deny`.
pub fn answer(event: &str, v: &Verdict) -> Answer {
    let p = match (v.kind, event) {
        (VerdictKind::Allow | VerdictKind::NoOpinion, _) => "allow",
        (VerdictKind::Ask, "beforeShellExecution" | "beforeMCPExecution") => "ask",
        _ => "deny",
    };
    Answer::out(permission(p, &v.reason, &v.reason))
}

/// A malformed event: a deny document, the reason on stderr, exit 2.
pub fn reject(err: &AdapterError) -> Answer {
    let m = format!("CAVRA blocked this action (fail closed): {err}");
    Answer {
        stdout: permission("deny", &m, &m).to_string(),
        stderr: m,
        exit_code: EXIT_BLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{calls, doc, error, observed, verdict};
    use crate::Adapter;

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
        assert_eq!(server_name(&json!({})), "unknown-server");
    }

    #[test]
    fn parses_gated_events() {
        let m = calls(parse(
            &json!({"hook_event_name":"beforeShellExecution","conversation_id":"cur-1",
            "generation_id":"gen-1","workspace_roots":["/w"],"cursor_version":"1.7.0",
            "command":"npm test","cwd":"/w/sub"}),
        ));
        assert_eq!(
            (m[0].tool.as_str(), &m[0].input),
            ("Bash", &json!({"command": "npm test"}))
        );
        assert_eq!(
            (m[0].session_id.as_str(), m[0].cwd.as_deref()),
            ("cur-1", Some("/w/sub"))
        );
        let m = calls(parse(
            &json!({"hook_event_name":"beforeReadFile","conversation_id":"cur-1",
            "workspace_roots":["/w"],"file_path":"/w/.env","content":"API_KEY=abc","attachments":[]}),
        ));
        assert_eq!(
            (m[0].tool.as_str(), &m[0].input),
            ("Read", &json!({"file_path": "/w/.env"}))
        );
        assert_eq!(
            m[0].cwd.as_deref(),
            Some("/w"),
            "no cwd: the first workspace root"
        );
        let m = calls(parse(
            &json!({"hook_event_name":"beforeMCPExecution","tool_name":"query",
            "tool_input":"{\"sql\": \"select 1\"}","url":"http://db.local/mcp"}),
        ));
        assert_eq!(
            (m[0].tool.as_str(), &m[0].input),
            ("mcp__db.local__query", &json!({"sql": "select 1"}))
        );
        let m = calls(parse(
            &json!({"hook_event_name":"preToolUse","tool_name":"MCP:gh:delete_repo","tool_input":{}}),
        ));
        assert_eq!(m[0].tool, "mcp__gh__delete_repo");
        let m = calls(parse(
            &json!({"hook_event_name":"preToolUse","tool_name":"edit_file","tool_input":{"target_file":"a.rs"}}),
        ));
        assert_eq!(
            (m[0].tool.as_str(), &m[0].input),
            ("Write", &json!({"file_path": "a.rs"}))
        );
        assert!(m.iter().all(|c| c.agent == AgentKind::Cursor));
    }

    #[test]
    fn malformed_events() {
        let e = |v: Value| error(parse(&v));
        assert_eq!(
            e(json!({"command": "ls"})),
            "the hook event has no `hook_event_name`"
        );
        assert_eq!(
            e(json!({"hook_event_name":"beforeMCPExecution","tool_input":"{}"})),
            "the beforeMCPExecution event has no `tool_name`"
        );
        assert!(e(
            json!({"hook_event_name":"beforeMCPExecution","tool_name":"q","tool_input":"{oops"})
        )
        .starts_with("`tool_input` is a string but not JSON of the tool's arguments ("));
        assert_eq!(
            map("afterFileEdit", &json!({}), "s", None)
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("`afterFileEdit` is not a pre-action event")
        );
        let ans = reject(&AdapterError::Empty);
        assert_eq!(ans.exit_code, 2);
        let d = doc(&ans);
        assert_eq!(d["permission"], "deny");
        assert_eq!(
            d["user_message"],
            "CAVRA blocked this action (fail closed): hook payload is empty; expected a JSON event on stdin"
        );
        assert_eq!(ans.stderr, d["agent_message"].as_str().unwrap_or_default());
    }

    #[test]
    fn observes_other_events() {
        let a = Adapter::new(AgentKind::Cursor);
        let o = observed(parse(
            &json!({"hook_event_name":"afterFileEdit","conversation_id":"cur-1",
            "generation_id":"gen-4","workspace_roots":["/w"],"file_path":"/w/src/main.ts",
            "edits":[{"old_string":"const a = 1","new_string":"const a = 2"}]}),
        ));
        assert_eq!(o.record_kind, RecordKind::PostTool);
        assert_eq!(
            (&o.body["file_path"], &o.body["generation_id"]),
            (&json!("/w/src/main.ts"), &json!("gen-4"))
        );
        assert_eq!(o.body["edits"][0]["new_string"], "const a = 2");
        assert_eq!(o.body["output_summary"], Value::Null);
        assert_eq!(a.observed(&o, None).stdout, "{}");
        let o = observed(parse(
            &json!({"hook_event_name":"afterShellExecution","command":"ls","output":"a b"}),
        ));
        assert_eq!(o.body["output_summary"], "a b");
        let o = observed(parse(&json!({"hook_event_name":"sessionStart"})));
        assert_eq!(
            doc(&a.observed(&o, Some("ctx"))),
            json!({"additional_context": "ctx"})
        );
    }

    #[test]
    fn answers() {
        let p = |event: &str, k| {
            let a = answer(event, &verdict(k));
            assert_eq!(a.exit_code, 0);
            let d = doc(&a);
            assert_eq!(
                d,
                permission(d["permission"].as_str().unwrap_or_default(), "why", "why")
            );
            d["permission"].as_str().unwrap_or_default().to_string()
        };
        assert_eq!(p("beforeShellExecution", VerdictKind::Allow), "allow");
        assert_eq!(p("beforeShellExecution", VerdictKind::NoOpinion), "allow");
        assert_eq!(p("beforeShellExecution", VerdictKind::Ask), "ask");
        assert_eq!(p("beforeMCPExecution", VerdictKind::Ask), "ask");
        assert_eq!(
            p("beforeReadFile", VerdictKind::Ask),
            "deny",
            "no ask on reads"
        );
        assert_eq!(p("preToolUse", VerdictKind::Ask), "deny");
        assert_eq!(p("beforeReadFile", VerdictKind::Deny), "deny");
    }
}
