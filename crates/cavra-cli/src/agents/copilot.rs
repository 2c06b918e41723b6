//! GitHub Copilot CLI hooks (`.github/hooks/*.json`, `{"version": 1, "hooks": {"preToolUse":
//! [{"type": "command", "bash": ..., "powershell": ..., "timeoutSec": 30}]}}`).
//!
//! `preToolUse` input: `timestamp` (ms), `cwd`, `toolName`, `toolArgs` (a JSON *string*).
//! Output: `{"permissionDecision": "allow"|"deny"|"ask", "permissionDecisionReason": ...}`;
//! only `deny` is acted on by the CLI today, so CAVRA's require-approval is sent as `deny`
//! with the approval instructions. The payload carries no event name, so the event is read
//! from its shape: `toolResult` = postToolUse, `toolName` = preToolUse, `reason` =
//! sessionEnd, `source`/`initialPrompt` = sessionStart, `prompt` = userPromptSubmitted,
//! `error` = errorOccurred. Observation events are recorded; their output is ignored.

use super::{call, decide_all, norm, record, str_of, summary};
use crate::cmd::hook::{self, AgentKind, HookArgs, ToolCall, VerdictKind};
use crate::ctx::Ctx;
use anyhow::Result;
use serde_json::{json, Value};

/// The event a Copilot payload belongs to (explicit name first, else inferred from shape).
pub fn event_name(e: &Value) -> &'static str {
    if let Some(n) = str_of(e, &["hookEventName", "hook_event_name", "event"]) {
        for known in [
            "preToolUse",
            "postToolUse",
            "sessionStart",
            "sessionEnd",
            "userPromptSubmitted",
            "errorOccurred",
        ] {
            if n.eq_ignore_ascii_case(known) {
                return known;
            }
        }
    }
    if e.get("toolResult").is_some() {
        "postToolUse"
    } else if e.get("toolName").is_some() {
        "preToolUse"
    } else if e.get("error").is_some() {
        "errorOccurred"
    } else if e.get("reason").is_some() {
        "sessionEnd"
    } else if e.get("source").is_some() || e.get("initialPrompt").is_some() {
        "sessionStart"
    } else if e.get("prompt").is_some() {
        "userPromptSubmitted"
    } else {
        "unknown"
    }
}

/// `toolArgs`: a JSON string per the docs (an object is accepted as well).
pub fn tool_args(e: &Value) -> std::result::Result<Value, String> {
    match e.get("toolArgs") {
        Some(Value::String(s)) if s.trim().is_empty() => Ok(json!({})),
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|err| {
            format!("`toolArgs` is not a JSON string of the tool's arguments ({err})")
        }),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(Value::Null) | None => Ok(json!({})),
        Some(_) => Err("`toolArgs` must be a JSON string".into()),
    }
}

/// Maps a Copilot CLI tool call to Claude Code tool calls.
pub fn map(session: &str, cwd: Option<&str>, tool: &str, i: &Value) -> Vec<ToolCall> {
    let a = AgentKind::Copilot;
    let c = |t: &str, v: Value| call(a, session, cwd, t, v);
    let path_keys = ["path", "file_path", "filePath"];
    match tool {
        "bash" | "shell" | "powershell" => vec![c("Bash", norm(i, "command", &["command"]))],
        // input typed into a running shell session is a command too
        "write_bash" | "write_powershell" => {
            vec![c("Bash", norm(i, "command", &["input", "command"]))]
        }
        "view" | "read" => vec![c("Read", norm(i, "file_path", &path_keys))],
        "create" => vec![c("Write", norm(i, "file_path", &path_keys))],
        "edit" | "str_replace" | "str_replace_editor" | "insert" => {
            vec![c("Edit", norm(i, "file_path", &path_keys))]
        }
        "glob" => vec![c("Glob", norm(i, "path", &["path"]))],
        "grep" | "rg" => vec![c("Grep", norm(i, "path", &["path"]))],
        "web_fetch" | "fetch" => vec![c("WebFetch", norm(i, "url", &["url"]))],
        "web_search" => vec![c("WebSearch", i.clone())],
        "read_bash" | "stop_bash" | "list_bash" | "read_powershell" | "stop_powershell"
        | "list_powershell" | "report_intent" | "update_todo" | "think" | "task" | "ask_user" => {
            vec![c("TodoWrite", i.clone())]
        }
        t => vec![c(t, i.clone())],
    }
}

fn deny(reason: &str) -> Value {
    json!({"permissionDecision": "deny", "permissionDecisionReason": reason})
}

pub fn hook(ctx: &Ctx, explicit_dir: bool, args: &HookArgs) -> Result<i32> {
    let event = match hook::read_payload() {
        Ok(v) => v,
        Err(e) => {
            let m = format!("CAVRA denied the tool call (fail closed): {e:#}");
            eprintln!("{m}");
            println!("{}", deny(&m));
            return Ok(0);
        }
    };
    let name = event_name(&event);
    let cwd = str_of(&event, &["cwd"]);
    let session =
        str_of(&event, &["sessionId", "session_id"]).unwrap_or_else(|| "copilot-session".into());
    if name != "preToolUse" {
        record(
            ctx,
            explicit_dir,
            cwd.as_deref(),
            name,
            json!({
                "agent": "copilot",
                "event": name,
                "session_id": session,
                "tool_name": event.get("toolName"),
                "tool_args": event.get("toolArgs"),
                "tool_result_type": event.get("toolResult").and_then(|r| r.get("resultType")),
                "tool_response_summary": summary(event.get("toolResult").and_then(|r| r.get("textResultForLlm"))),
                "source": event.get("source"),
                "reason": event.get("reason"),
                "cwd": cwd,
            }),
        );
        return Ok(0);
    }
    let Some(tool) = str_of(&event, &["toolName"]) else {
        println!(
            "{}",
            deny("CAVRA denied the tool call (fail closed): `toolName` is not a string")
        );
        return Ok(0);
    };
    let input = match tool_args(&event) {
        Ok(v) => v,
        Err(e) => {
            println!(
                "{}",
                deny(&format!("CAVRA denied the tool call (fail closed): {e}"))
            );
            return Ok(0);
        }
    };
    let calls = map(&session, cwd.as_deref(), &tool, &input);
    let v = decide_all(ctx, explicit_dir, args, &calls);
    let out = match v.kind {
        VerdictKind::Allow | VerdictKind::NoOpinion => {
            json!({"permissionDecision": "allow", "permissionDecisionReason": v.reason})
        }
        VerdictKind::Deny | VerdictKind::Ask => deny(&v.reason),
    };
    println!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_events() {
        assert_eq!(
            event_name(&json!({"toolName": "bash", "toolArgs": "{}"})),
            "preToolUse"
        );
        assert_eq!(
            event_name(&json!({"toolName": "bash", "toolResult": {}})),
            "postToolUse"
        );
        assert_eq!(event_name(&json!({"source": "new"})), "sessionStart");
        assert_eq!(event_name(&json!({"reason": "complete"})), "sessionEnd");
        assert_eq!(event_name(&json!({"prompt": "x"})), "userPromptSubmitted");
    }

    #[test]
    fn parses_tool_args() {
        let a = tool_args(&json!({"toolArgs": "{\"command\":\"ls\"}"})).unwrap_or_default();
        assert_eq!(a["command"], "ls");
        assert!(tool_args(&json!({"toolArgs": "{not json"})).is_err());
        assert!(tool_args(&json!({"toolArgs": 5})).is_err());
        let m = map("s", None, "view", &json!({"path": "/p/.env"}));
        assert_eq!(
            (m[0].tool.as_str(), m[0].input["file_path"].as_str()),
            ("Read", Some("/p/.env"))
        );
    }
}
