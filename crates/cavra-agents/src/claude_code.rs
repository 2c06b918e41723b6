//! Claude Code hooks (`hooks.PreToolUse[].hooks[]` in `.claude/settings.json`).
//!
//! Input (stdin JSON): `session_id`, `transcript_path`, `cwd`, `permission_mode`,
//! `hook_event_name`, and for tool events `tool_name`, `tool_input` (and `tool_response`
//! after the tool ran). A `PreToolUse` hook answers with exit 0 and
//! `hookSpecificOutput.permissionDecision` (`allow` / `deny` / `ask`) plus
//! `permissionDecisionReason`; exit 2 blocks with stderr as the reason. When no rule
//! restricts an action CAVRA prints nothing (no permission decision), so Claude Code's own
//! permission settings still apply. Other events (`PostToolUse`, `SessionStart`,
//! `SessionEnd`, `Stop`, ...) are recorded; `SessionStart` is answered with
//! `hookSpecificOutput.additionalContext`.

use crate::{
    call, parse_claude_style, AdapterError, Answer, Parsed, Verdict, VerdictKind, EXIT_BLOCK,
};
use cavra_core::hooks::AgentKind;
use serde_json::{json, Value};

/// Reads a Claude Code hook event.
pub fn parse(event: &Value) -> Result<Parsed, AdapterError> {
    parse_claude_style(
        event,
        AgentKind::ClaudeCode,
        "PreToolUse",
        &[],
        |session, cwd, tool, input| {
            vec![call(
                AgentKind::ClaudeCode,
                session,
                cwd,
                tool,
                input.clone(),
            )]
        },
    )
}

/// A `PreToolUse` answer document (Claude Code and Codex read the same shape).
pub fn decision(decision: &str, reason: &str) -> Value {
    json!({"hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    }})
}

/// The answer to a `PreToolUse` event: no output when CAVRA has no opinion.
pub fn answer(v: &Verdict) -> Answer {
    let d = match v.kind {
        VerdictKind::NoOpinion => return Answer::nothing(),
        VerdictKind::Allow => "allow",
        VerdictKind::Deny => "deny",
        VerdictKind::Ask => "ask",
    };
    Answer::out(decision(d, &v.reason))
}

/// A malformed event: exit 2, the reason on stderr (Claude Code shows it and blocks).
pub fn reject(err: &AdapterError) -> Answer {
    Answer {
        stdout: String::new(),
        stderr: format!("CAVRA denied the tool call: {err}"),
        exit_code: EXIT_BLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{calls, doc, error, observed, verdict};
    use crate::{Adapter, RecordKind, ToolCall};

    #[test]
    fn parses_pre_tool_use() {
        let e = json!({"session_id":"cc-1","transcript_path":"/tmp/claude/t.jsonl","cwd":"/repo",
            "permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash",
            "tool_input":{"command":"git status","description":"Show status"},"tool_use_id":"toolu_01"});
        assert_eq!(
            calls(parse(&e)),
            vec![ToolCall {
                agent: AgentKind::ClaudeCode,
                session_id: "cc-1".into(),
                cwd: Some("/repo".into()),
                tool: "Bash".into(),
                input: json!({"command":"git status","description":"Show status"}),
            }]
        );
        // no event name: a PreToolUse; no session: a placeholder; MCP tools pass through
        let c = calls(parse(
            &json!({"tool_name":"mcp__github__delete_branch","tool_input":{"branch":"main"}}),
        ));
        assert_eq!(c[0].session_id, "unknown-session");
        assert_eq!(c[0].tool, "mcp__github__delete_branch");
        assert_eq!(c[0].cwd, None);
    }

    #[test]
    fn malformed_events_name_the_missing_field() {
        let e = json!({"hook_event_name":"PreToolUse","tool_input":{}});
        assert_eq!(
            parse(&e),
            Err(AdapterError::MissingField {
                event: "PreToolUse".into(),
                field: "tool_name"
            })
        );
        assert_eq!(error(parse(&e)), "the PreToolUse event has no `tool_name`");
        // a tool name that is not a string is missing too
        assert!(parse(&json!({"tool_name": 7})).is_err());
        let ans = reject(&AdapterError::MissingField {
            event: "PreToolUse".into(),
            field: "tool_name",
        });
        assert_eq!((ans.exit_code, ans.stdout.as_str()), (2, ""));
        assert_eq!(
            ans.stderr,
            "CAVRA denied the tool call: the PreToolUse event has no `tool_name`"
        );
    }

    #[test]
    fn observes_other_events() {
        let a = Adapter::new(AgentKind::ClaudeCode);
        let o = observed(parse(&json!({"session_id":"cc-1","cwd":"/repo",
            "hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"ls"},
            "tool_response":{"stdout":"a\nb"}})));
        assert_eq!(
            (o.record_kind, o.wants_context),
            (RecordKind::PostTool, false)
        );
        assert_eq!(o.body["agent"], "claude-code");
        assert_eq!(o.body["tool_response_summary"], "{\"stdout\":\"a\\nb\"}");
        assert_eq!(o.cwd.as_deref(), Some("/repo"));
        let o = observed(parse(
            &json!({"hook_event_name":"SessionStart","source":"startup"}),
        ));
        assert_eq!(
            (o.record_kind, o.wants_context),
            (RecordKind::Session, true)
        );
        let d = doc(&a.observed(&o, Some("ctx")));
        assert_eq!(d["hookSpecificOutput"]["additionalContext"], "ctx");
        assert_eq!(d["hookSpecificOutput"]["hookEventName"], "SessionStart");
        let o = observed(parse(&json!({"hook_event_name":"SubagentStop"})));
        assert_eq!(o.record_kind, RecordKind::Session);
        let o = observed(parse(&json!({"hook_event_name":"UserPromptSubmit"})));
        assert_eq!(o.record_kind, RecordKind::AgentEvent);
        assert_eq!(a.observed(&o, Some("ignored")), Answer::nothing());
    }

    #[test]
    fn answers() {
        assert_eq!(answer(&verdict(VerdictKind::NoOpinion)), Answer::nothing());
        for (kind, word) in [
            (VerdictKind::Allow, "allow"),
            (VerdictKind::Deny, "deny"),
            (VerdictKind::Ask, "ask"),
        ] {
            let a = answer(&verdict(kind));
            assert_eq!((a.exit_code, a.stderr.as_str()), (0, ""));
            assert_eq!(
                doc(&a),
                json!({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                    "permissionDecision": word, "permissionDecisionReason": "why"}})
            );
        }
    }
}
