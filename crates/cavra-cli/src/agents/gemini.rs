//! Google Gemini CLI: `BeforeTool` / `AfterTool` / `SessionStart` / `SessionEnd` command hooks
//! configured in `settings.json` (`hooks.<Event>[].hooks[]`).
//!
//! Input (stdin JSON): `session_id`, `transcript_path`, `cwd`, `hook_event_name`, `timestamp`,
//! plus `tool_name` / `tool_input` (/ `tool_response`) for tool events. Output (stdout JSON,
//! exit 0): `{"decision": "allow"|"deny", "reason": ...}`; exit 2 blocks with stderr as the
//! reason. Gemini has no "ask" decision, so CAVRA's require-approval is sent as `deny` with
//! the approval instructions in `reason`.

use super::{call, decide_all, norm, record, str_of, summary};
use crate::cmd::hook::{self, AgentKind, HookArgs, ToolCall, VerdictKind};
use crate::ctx::Ctx;
use anyhow::Result;
use serde_json::{json, Value};

/// Maps a Gemini CLI tool call to Claude Code tool calls.
pub fn map(session: &str, cwd: Option<&str>, tool: &str, input: &Value) -> Vec<ToolCall> {
    let a = AgentKind::Gemini;
    let c = |t: &str, i: Value| call(a, session, cwd, t, i);
    let dir = |i: &Value| norm(i, "path", &["dir_path", "path", "directory"]);
    match tool {
        "run_shell_command" => vec![c("Bash", norm(input, "command", &["command"]))],
        "read_file" => vec![c(
            "Read",
            norm(input, "file_path", &["file_path", "absolute_path", "path"]),
        )],
        "read_many_files" => {
            let mut out = Vec::new();
            for k in ["paths", "include"] {
                for p in input.get(k).and_then(Value::as_array).into_iter().flatten() {
                    if let Some(p) = p.as_str() {
                        out.push(c("Read", json!({ "file_path": p })));
                    }
                }
            }
            if out.is_empty() {
                // no paths: let map_tool report the missing field (fail closed)
                out.push(c("Read", input.clone()));
            }
            out
        }
        "write_file" => vec![c("Write", norm(input, "file_path", &["file_path", "path"]))],
        "replace" | "edit" => vec![c("Edit", norm(input, "file_path", &["file_path", "path"]))],
        "list_directory" => vec![c("LS", dir(input))],
        "glob" => vec![c("Glob", dir(input))],
        "search_file_content" | "grep_search" | "grep" => {
            let mut i = dir(input);
            if let (Some(obj), Some(g)) = (i.as_object_mut(), str_of(input, &["include"])) {
                obj.insert("glob".into(), json!(g));
            }
            vec![c("Grep", i)]
        }
        "web_fetch" => {
            let text = str_of(input, &["url", "prompt"]).unwrap_or_default();
            let urls = extract_urls(&text);
            if urls.is_empty() {
                vec![c("WebFetch", json!({}))]
            } else {
                urls.into_iter()
                    .map(|u| c("WebFetch", json!({ "url": u })))
                    .collect()
            }
        }
        "google_web_search" | "web_search" => vec![c("WebSearch", input.clone())],
        "save_memory" | "write_todos" | "activate_skill" | "ask_user" | "exit_plan_mode"
        | "enter_plan_mode" => {
            vec![c("TodoWrite", input.clone())]
        }
        other => vec![c(other, input.clone())],
    }
}

/// `http(s)://` URLs in free text (Gemini's `web_fetch` takes a prompt that contains them).
pub fn extract_urls(text: &str) -> Vec<String> {
    text.split(|ch: char| ch.is_whitespace() || "<>\"'()[]{}".contains(ch))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| {
            w.trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .to_string()
        })
        .collect()
}

fn block(msg: &str) -> Result<i32> {
    eprintln!("CAVRA blocked the tool call: {msg}");
    Ok(2)
}

pub fn hook(ctx: &Ctx, explicit_dir: bool, args: &HookArgs) -> Result<i32> {
    let event = match hook::read_payload() {
        Ok(v) => v,
        Err(e) => return block(&format!("{e:#}")),
    };
    let name = str_of(&event, &["hook_event_name"]).unwrap_or_else(|| "BeforeTool".into());
    let session = str_of(&event, &["session_id"]).unwrap_or_else(|| "unknown-session".into());
    let cwd = str_of(&event, &["cwd"]);
    if name != "BeforeTool" {
        record(
            ctx,
            explicit_dir,
            cwd.as_deref(),
            &name,
            json!({
                "agent": "gemini",
                "event": name,
                "session_id": session,
                "tool_name": event.get("tool_name"),
                "tool_input": event.get("tool_input"),
                "tool_response_summary": summary(event.get("tool_response")),
                "source": event.get("source"),
                "reason": event.get("reason"),
                "cwd": cwd,
            }),
        );
        let out = if name == "SessionStart" {
            let project = hook::project_dir(cwd.as_deref());
            json!({"hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": hook::pack_summary(args, &project),
            }})
        } else {
            json!({})
        };
        println!("{out}");
        return Ok(0);
    }
    let Some(tool) = str_of(&event, &["tool_name"]) else {
        return block("the BeforeTool event has no `tool_name`");
    };
    let input = event.get("tool_input").cloned().unwrap_or(Value::Null);
    let calls = map(&session, cwd.as_deref(), &tool, &input);
    let v = decide_all(ctx, explicit_dir, args, &calls);
    let out = match v.kind {
        // no rule restricts the action: no decision, Gemini CLI's own confirmation applies
        VerdictKind::NoOpinion => json!({}),
        VerdictKind::Allow => json!({"decision": "allow", "reason": v.reason}),
        VerdictKind::Deny | VerdictKind::Ask => json!({"decision": "deny", "reason": v.reason}),
    };
    println!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_tools() {
        let m = map(
            "s",
            Some("/p"),
            "run_shell_command",
            &json!({"command": "ls"}),
        );
        assert_eq!(
            (m[0].tool.as_str(), m[0].input["command"].as_str()),
            ("Bash", Some("ls"))
        );
        let m = map("s", None, "read_file", &json!({"absolute_path": "/p/.env"}));
        assert_eq!(m[0].input["file_path"], "/p/.env");
        let m = map("s", None, "read_many_files", &json!({"paths": ["a", "b"]}));
        assert_eq!(m.len(), 2);
        let m = map(
            "s",
            None,
            "web_fetch",
            &json!({"prompt": "summarise https://a.example/x. and http://b.example"}),
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].input["url"], "https://a.example/x");
        let m = map("s", None, "mcp__gh__create_issue", &json!({}));
        assert_eq!(m[0].tool, "mcp__gh__create_issue");
    }
}
