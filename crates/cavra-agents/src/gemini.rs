//! Google Gemini CLI: `BeforeTool` / `AfterTool` / `SessionStart` / `SessionEnd` command hooks
//! configured in `settings.json` (`hooks.<Event>[].hooks[]`).
//!
//! Input (stdin JSON): `session_id`, `transcript_path`, `cwd`, `hook_event_name`, `timestamp`,
//! plus `tool_name` / `tool_input` (/ `tool_response`) for tool events. Output (stdout JSON,
//! exit 0): `{"decision": "allow"|"deny", "reason": ...}`, or `{}` for no decision (Gemini
//! CLI's own confirmation applies); exit 2 blocks with stderr as the reason (and stdout must
//! then hold nothing but JSON, so it stays empty). Gemini has no "ask" decision, so CAVRA's
//! require-approval is sent as `deny` with the approval instructions in `reason`.

use crate::{
    call, norm, parse_claude_style, str_of, AdapterError, Answer, Parsed, ToolCall, Verdict,
    VerdictKind, EXIT_BLOCK,
};
use cavra_core::hooks::AgentKind;
use serde_json::{json, Value};

/// Reads a Gemini CLI hook event.
pub fn parse(event: &Value) -> Result<Parsed, AdapterError> {
    parse_claude_style(event, AgentKind::Gemini, "BeforeTool", &["reason"], map)
}

/// Maps a Gemini CLI tool call to Claude Code tool calls.
pub fn map(session: &str, cwd: Option<&str>, tool: &str, input: &Value) -> Vec<ToolCall> {
    let c = |t: &str, i: Value| call(AgentKind::Gemini, session, cwd, t, i);
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
                // no paths: the tool mapping reports the missing field (fail closed)
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

/// A `BeforeTool` answer document.
pub fn decision(decision: &str, reason: &str) -> Value {
    json!({"decision": decision, "reason": reason})
}

/// The answer to a `BeforeTool` event: `{}` when CAVRA has no opinion.
pub fn answer(v: &Verdict) -> Answer {
    Answer::out(match v.kind {
        VerdictKind::NoOpinion => json!({}),
        VerdictKind::Allow => decision("allow", &v.reason),
        VerdictKind::Deny | VerdictKind::Ask => decision("deny", &v.reason),
    })
}

/// A malformed event: exit 2 with the reason on stderr and nothing on stdout.
pub fn reject(err: &AdapterError) -> Answer {
    Answer {
        stdout: String::new(),
        stderr: format!("CAVRA blocked the tool call: {err}"),
        exit_code: EXIT_BLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{calls, doc, error, observed, verdict};
    use crate::{Adapter, RecordKind};
    use cavra_core::hooks::map_tool;

    #[test]
    fn parses_before_tool() {
        let e = json!({"session_id":"gem-1","transcript_path":"/tmp/gemini/transcript.json",
            "cwd":"/p","hook_event_name":"BeforeTool","timestamp":"2025-06-01T10:00:00.000Z",
            "tool_name":"run_shell_command","tool_input":{"command":"ls -la","description":"List files"}});
        let c = calls(parse(&e));
        assert_eq!(c.len(), 1);
        assert_eq!(
            (
                c[0].tool.as_str(),
                &c[0].input,
                c[0].cwd.as_deref(),
                c[0].session_id.as_str()
            ),
            ("Bash", &json!({"command": "ls -la"}), Some("/p"), "gem-1")
        );
        assert_eq!(c[0].agent, AgentKind::Gemini);
    }

    #[test]
    fn maps_tools() {
        let m = map("s", None, "read_file", &json!({"absolute_path": "/p/.env"}));
        assert_eq!(
            (m[0].tool.as_str(), &m[0].input),
            ("Read", &json!({"file_path": "/p/.env"}))
        );
        assert_eq!(
            map("s", None, "read_many_files", &json!({"paths": ["a", "b"]})).len(),
            2
        );
        let m = map("s", None, "read_many_files", &json!({}));
        assert!(map_tool(&m[0].tool, &m[0].input, None).is_err());
        let m = map(
            "s",
            None,
            "web_fetch",
            &json!({"prompt": "summarise https://a.example/x. and http://b.example"}),
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].input["url"], "https://a.example/x");
        let m = map("s", None, "web_fetch", &json!({"prompt": "no url here"}));
        assert!(map_tool(&m[0].tool, &m[0].input, None).is_err());
        let m = map(
            "s",
            None,
            "search_file_content",
            &json!({"dir_path": "/p", "include": "config.yml"}),
        );
        assert_eq!(m[0].input, json!({"path": "/p", "glob": "config.yml"}));
        assert_eq!(
            map("s", None, "write_todos", &json!({}))[0].tool,
            "TodoWrite"
        );
        assert_eq!(
            map("s", None, "mcp__gh__create_issue", &json!({}))[0].tool,
            "mcp__gh__create_issue"
        );
    }

    #[test]
    fn malformed_and_observed() {
        let e = json!({"hook_event_name":"BeforeTool","session_id":"s"});
        assert_eq!(error(parse(&e)), "the BeforeTool event has no `tool_name`");
        let ans = reject(&AdapterError::NotJson("expected value".into()));
        assert_eq!(
            (ans.exit_code, ans.stdout.as_str()),
            (2, ""),
            "stdout holds JSON only"
        );
        assert_eq!(
            ans.stderr,
            "CAVRA blocked the tool call: hook payload is not valid JSON (expected value)"
        );
        let a = Adapter::new(AgentKind::Gemini);
        let o = observed(parse(
            &json!({"session_id":"gem-1","hook_event_name":"AfterTool",
            "tool_name":"run_shell_command","tool_input":{"command":"ls -la"},
            "tool_response":{"llmContent":"total 0","returnDisplay":"total 0"}}),
        ));
        assert_eq!(o.record_kind, RecordKind::PostTool);
        assert_eq!(a.observed(&o, None).stdout, "{}");
        let o = observed(parse(
            &json!({"hook_event_name":"SessionEnd","reason":"exit"}),
        ));
        assert_eq!(
            (o.record_kind, &o.body["reason"]),
            (RecordKind::Session, &json!("exit"))
        );
        let o = observed(parse(
            &json!({"hook_event_name":"SessionStart","source":"startup"}),
        ));
        assert_eq!(
            (o.record_kind, o.wants_context),
            (RecordKind::Session, true)
        );
        assert_eq!(
            doc(&a.observed(&o, Some("ctx")))["hookSpecificOutput"]["additionalContext"],
            "ctx"
        );
    }

    #[test]
    fn answers() {
        assert_eq!(answer(&verdict(VerdictKind::NoOpinion)).stdout, "{}");
        let d = |k| doc(&answer(&verdict(k)));
        assert_eq!(
            d(VerdictKind::Allow),
            json!({"decision": "allow", "reason": "why"})
        );
        assert_eq!(
            d(VerdictKind::Deny),
            json!({"decision": "deny", "reason": "why"})
        );
        assert_eq!(
            d(VerdictKind::Ask),
            json!({"decision": "deny", "reason": "why"})
        );
        assert_eq!(answer(&verdict(VerdictKind::Ask)).exit_code, 0);
    }
}
