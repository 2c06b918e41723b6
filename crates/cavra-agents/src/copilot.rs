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

use crate::{
    call, norm, str_of, summary, AdapterError, Answer, Observation, Parsed, RecordKind, ToolCall,
    ToolUse, Verdict, VerdictKind,
};
use cavra_core::hooks::AgentKind;
use serde_json::{json, Value};

/// Reads a Copilot CLI hook event.
pub fn parse(event: &Value) -> Result<Parsed, AdapterError> {
    let name = event_name(event);
    let cwd = str_of(event, &["cwd"]);
    let session =
        str_of(event, &["sessionId", "session_id"]).unwrap_or_else(|| "copilot-session".into());
    if name != "preToolUse" {
        let result = event.get("toolResult");
        let body = json!({
            "agent": "copilot",
            "event": name,
            "session_id": session,
            "tool_name": event.get("toolName"),
            "tool_args": event.get("toolArgs"),
            "tool_result_type": result.and_then(|r| r.get("resultType")),
            "tool_response_summary": summary(result.and_then(|r| r.get("textResultForLlm"))),
            "source": event.get("source"),
            "reason": event.get("reason"),
            "cwd": cwd,
        });
        return Ok(Parsed::Observed(Observation {
            event: name.to_string(),
            record_kind: RecordKind::of_event(name),
            cwd,
            body,
            // Copilot ignores the output of observation hooks
            wants_context: false,
        }));
    }
    let tool = str_of(event, &["toolName"]).ok_or(AdapterError::MissingField {
        event: name.into(),
        field: "toolName",
    })?;
    let input = tool_args(event)?;
    Ok(Parsed::Tool(ToolUse {
        calls: map(&session, cwd.as_deref(), &tool, &input),
        event: name.into(),
    }))
}

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
pub fn tool_args(e: &Value) -> Result<Value, AdapterError> {
    match e.get("toolArgs") {
        Some(Value::String(s)) if s.trim().is_empty() => Ok(json!({})),
        Some(Value::String(s)) => {
            serde_json::from_str(s).map_err(|err| AdapterError::ArgsNotJson {
                field: "toolArgs",
                detail: err.to_string(),
            })
        }
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(Value::Null) | None => Ok(json!({})),
        Some(_) => Err(AdapterError::ArgsNotObject { field: "toolArgs" }),
    }
}

/// Maps a Copilot CLI tool call to Claude Code tool calls.
pub fn map(session: &str, cwd: Option<&str>, tool: &str, i: &Value) -> Vec<ToolCall> {
    let c = |t: &str, v: Value| call(AgentKind::Copilot, session, cwd, t, v);
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

/// A `preToolUse` answer document.
pub fn decision(decision: &str, reason: &str) -> Value {
    json!({"permissionDecision": decision, "permissionDecisionReason": reason})
}

/// The answer to a `preToolUse` event: Copilot has no "no opinion", so that is `allow`.
pub fn answer(v: &Verdict) -> Answer {
    Answer::out(match v.kind {
        VerdictKind::Allow | VerdictKind::NoOpinion => decision("allow", &v.reason),
        VerdictKind::Deny | VerdictKind::Ask => decision("deny", &v.reason),
    })
}

/// A malformed event: a deny document (Copilot acts on it with exit 0), the reason on stderr.
pub fn reject(err: &AdapterError) -> Answer {
    let m = format!("CAVRA denied the tool call (fail closed): {err}");
    Answer {
        stdout: decision("deny", &m).to_string(),
        stderr: m,
        exit_code: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{calls, doc, error, observed, verdict};
    use crate::Adapter;

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
        assert_eq!(
            event_name(&json!({"error": {"message": "x"}})),
            "errorOccurred"
        );
        assert_eq!(
            event_name(&json!({"hookEventName": "PreToolUse", "toolResult": {}})),
            "preToolUse"
        );
        assert_eq!(event_name(&json!({})), "unknown");
    }

    #[test]
    fn parses_pre_tool_use() {
        let c = calls(parse(
            &json!({"timestamp":1704614600000u64,"cwd":"/p","toolName":"bash",
            "toolArgs":"{\"command\":\"npm test\",\"description\":\"Run tests\"}"}),
        ));
        assert_eq!(
            (
                c[0].tool.as_str(),
                &c[0].input,
                c[0].cwd.as_deref(),
                c[0].session_id.as_str()
            ),
            (
                "Bash",
                &json!({"command": "npm test"}),
                Some("/p"),
                "copilot-session"
            )
        );
        assert_eq!(c[0].agent, AgentKind::Copilot);
        let m = map("s", None, "view", &json!({"path": "/p/.env"}));
        assert_eq!(
            (m[0].tool.as_str(), &m[0].input),
            ("Read", &json!({"file_path": "/p/.env"}))
        );
        let m = map("s", None, "write_bash", &json!({"input": "rm -rf ~\n"}));
        assert_eq!(m[0].input, json!({"command": "rm -rf ~\n"}));
        assert_eq!(
            tool_args(&json!({"toolArgs": {"command": "ls"}})),
            Ok(json!({"command": "ls"}))
        );
        assert_eq!(tool_args(&json!({"toolArgs": "  "})), Ok(json!({})));
    }

    #[test]
    fn malformed_events() {
        let e = |v: Value| error(parse(&v));
        assert!(
            e(json!({"toolName": "bash", "toolArgs": "{\"command\": rm -rf"}))
                .starts_with("`toolArgs` is a string but not JSON of the tool's arguments (")
        );
        assert_eq!(
            e(json!({"toolName": "bash", "toolArgs": 5})),
            "`toolArgs` must be a JSON string or an object of the tool's arguments"
        );
        assert_eq!(
            e(json!({"hookEventName": "preToolUse", "toolName": 5})),
            "the preToolUse event has no `toolName`"
        );
        let ans = reject(&AdapterError::NotObject);
        assert_eq!(ans.exit_code, 0, "Copilot acts on the deny document");
        let m = "CAVRA denied the tool call (fail closed): hook payload must be a JSON object";
        assert_eq!(doc(&ans), decision("deny", m));
        assert_eq!(ans.stderr, m);
    }

    #[test]
    fn observes_other_events() {
        let o = observed(parse(&json!({"timestamp":1704614700000u64,"cwd":"/p",
            "toolName":"bash","toolArgs":"{\"command\":\"npm test\"}",
            "toolResult":{"resultType":"success","textResultForLlm":"All tests passed (15/15)"}})));
        assert_eq!(
            (o.event.as_str(), o.record_kind),
            ("postToolUse", RecordKind::PostTool)
        );
        assert_eq!(o.body["tool_result_type"], "success");
        assert_eq!(o.body["tool_response_summary"], "All tests passed (15/15)");
        let o = observed(parse(&json!({"source": "new", "initialPrompt": "hi"})));
        assert_eq!(
            (o.record_kind, o.wants_context),
            (RecordKind::Session, false)
        );
        assert_eq!(
            Adapter::new(AgentKind::Copilot).observed(&o, Some("ctx")),
            Answer::nothing()
        );
    }

    #[test]
    fn answers() {
        let d = |k| doc(&answer(&verdict(k)));
        assert_eq!(d(VerdictKind::Allow), decision("allow", "why"));
        assert_eq!(d(VerdictKind::NoOpinion), decision("allow", "why"));
        assert_eq!(d(VerdictKind::Deny), decision("deny", "why"));
        assert_eq!(
            d(VerdictKind::Ask),
            json!({"permissionDecision": "deny", "permissionDecisionReason": "why"})
        );
    }
}
