//! OpenAI Codex CLI hooks (`[[hooks.<Event>]]` / `[[hooks.<Event>.hooks]]` in
//! `~/.codex/config.toml` or a trusted project's `.codex/config.toml`).
//!
//! Codex's hook wire format follows Claude Code's: stdin JSON with `session_id`, `turn_id`,
//! `transcript_path`, `cwd`, `hook_event_name`, `model`, `tool_name`, `tool_input`.
//! Shell-like tools arrive as `Bash` (or `shell`, `exec_command`, `local_shell`) with
//! `tool_input.command` as a string or an argv array; file edits as `apply_patch` with the
//! patch body in `tool_input.command`; MCP tools as `mcp__<server>__<tool>`. A PreToolUse
//! hook blocks with `hookSpecificOutput.permissionDecision: "deny"` (+
//! `permissionDecisionReason`) or with exit code 2 and the reason on stderr. `allow` / `ask`
//! are not acted on by Codex, so CAVRA prints nothing to allow and sends require-approval as
//! `deny` with the steps a person takes to approve.

use crate::{
    call, claude_code, parse_claude_style, shell_quote, str_of, AdapterError, Answer, Parsed,
    ToolCall, Verdict, VerdictKind, EXIT_BLOCK,
};
use cavra_core::hooks::AgentKind;
use serde_json::{json, Value};
use std::path::Path;

/// Reads a Codex hook event.
pub fn parse(event: &Value) -> Result<Parsed, AdapterError> {
    parse_claude_style(event, AgentKind::Codex, "PreToolUse", &["turn_id"], map)
}

/// Files an `apply_patch` body touches (`*** Add File:`, `*** Update File:`,
/// `*** Delete File:`, `*** Move to:`).
pub fn patch_files(patch: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in patch.lines() {
        let l = line.trim_start();
        for p in [
            "*** Add File:",
            "*** Update File:",
            "*** Delete File:",
            "*** Move to:",
        ] {
            if let Some(rest) = l.strip_prefix(p) {
                let f = rest.trim();
                if !f.is_empty() && !out.iter().any(|x| x == f) {
                    out.push(f.to_string());
                }
            }
        }
    }
    out
}

/// Maps a Codex tool call to Claude Code tool calls.
pub fn map(session: &str, cwd: Option<&str>, tool: &str, input: &Value) -> Vec<ToolCall> {
    let c = |t: &str, v: Value| call(AgentKind::Codex, session, cwd, t, v);
    match tool {
        "Bash" | "shell" | "exec_command" | "local_shell" => {
            let cmd = match input.get("command") {
                Some(Value::Array(parts)) => Some(
                    parts
                        .iter()
                        .filter_map(Value::as_str)
                        .map(shell_quote)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Some(Value::String(s)) => Some(s.clone()),
                _ => str_of(input, &["cmd"]),
            };
            match cmd {
                Some(cmd) => vec![c("Bash", json!({ "command": cmd }))],
                None => vec![c("Bash", input.clone())],
            }
        }
        "apply_patch" | "Edit" | "Write" => {
            let body = str_of(input, &["command", "patch", "input"]).unwrap_or_default();
            let files = patch_files(&body);
            if files.is_empty() {
                // no file named: the tool mapping reports the missing path (fail closed)
                return vec![c("Write", json!({}))];
            }
            files
                .into_iter()
                .map(|f| {
                    let p = match cwd {
                        Some(d) if Path::new(&f).is_relative() => {
                            Path::new(d).join(&f).display().to_string()
                        }
                        _ => f,
                    };
                    c("Write", json!({ "file_path": p }))
                })
                .collect()
        }
        "update_plan" | "view_image" => vec![c("TodoWrite", input.clone())],
        "web_search" => vec![c("WebSearch", input.clone())],
        t => vec![c(t, input.clone())],
    }
}

/// The answer to a `PreToolUse` event: a deny (require-approval included) or nothing.
pub fn answer(v: &Verdict) -> Answer {
    match v.kind {
        VerdictKind::Deny | VerdictKind::Ask => {
            Answer::out(claude_code::decision("deny", &v.reason))
        }
        VerdictKind::Allow | VerdictKind::NoOpinion => Answer::nothing(),
    }
}

/// A malformed event: exit 2 blocks in Codex, the reason on stderr.
pub fn reject(err: &AdapterError) -> Answer {
    Answer {
        stdout: String::new(),
        stderr: format!("CAVRA blocked the tool call (fail closed): {err}"),
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
    fn patch_paths() {
        let p = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** Update File: src/b.rs\n*** Move to: src/c.rs\n@@\n-x\n+y\n*** Delete File: d\n*** End Patch\n";
        assert_eq!(patch_files(p), vec!["a.txt", "src/b.rs", "src/c.rs", "d"]);
        let m = calls(parse(
            &json!({"session_id":"cdx-1","turn_id":"t2","cwd":"/repo",
            "hook_event_name":"PreToolUse","model":"gpt-5-codex","tool_name":"apply_patch",
            "tool_input":{"command": p}}),
        ));
        assert_eq!(m.len(), 4);
        assert!(m
            .iter()
            .all(|c| c.tool == "Write" && c.agent == AgentKind::Codex));
        assert_eq!(m[0].input["file_path"], "/repo/a.txt");
        assert_eq!(m[0].session_id, "cdx-1");
        // no file named: a `Write` without a path, which the tool mapping refuses
        let m = map("s", None, "apply_patch", &json!({"command": "garbage"}));
        assert_eq!((m[0].tool.as_str(), &m[0].input), ("Write", &json!({})));
        assert!(map_tool(&m[0].tool, &m[0].input, None).is_err());
        // an absolute path stays as it is
        let m = map(
            "s",
            Some("/repo"),
            "apply_patch",
            &json!({"patch": "*** Update File: /etc/hosts"}),
        );
        assert_eq!(m[0].input["file_path"], "/etc/hosts");
    }

    #[test]
    fn shell_commands() {
        let m = map(
            "s",
            None,
            "Bash",
            &json!({"command": ["bash", "-lc", "ls -la"]}),
        );
        assert_eq!(m[0].input, json!({"command": "bash -lc 'ls -la'"}));
        let m = map("s", None, "exec_command", &json!({"cmd": "ls"}));
        assert_eq!(m[0].input, json!({"command": "ls"}));
        // no command: the input as it came, which the tool mapping refuses
        let m = map("s", None, "shell", &json!({"argv": 1}));
        assert!(map_tool(&m[0].tool, &m[0].input, None).is_err());
        assert_eq!(
            map("s", None, "update_plan", &json!({}))[0].tool,
            "TodoWrite"
        );
        assert_eq!(
            map("s", None, "mcp__gh__x", &json!({}))[0].tool,
            "mcp__gh__x"
        );
    }

    #[test]
    fn malformed_and_observed() {
        let e = json!({"hook_event_name":"PreToolUse","tool_input":{}});
        assert_eq!(error(parse(&e)), "the PreToolUse event has no `tool_name`");
        let ans = reject(&AdapterError::Empty);
        assert_eq!((ans.exit_code, ans.stdout.as_str()), (2, ""));
        assert_eq!(
            ans.stderr,
            "CAVRA blocked the tool call (fail closed): hook payload is empty; expected a JSON event on stdin"
        );
        let a = Adapter::new(AgentKind::Codex);
        let o = observed(parse(&json!({"session_id":"cdx-1","turn_id":"t1",
            "hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"git status"},
            "tool_response":"On branch main"})));
        assert_eq!(o.record_kind, RecordKind::PostTool);
        assert_eq!(
            (&o.body["agent"], &o.body["turn_id"]),
            (&json!("codex"), &json!("t1"))
        );
        assert_eq!(o.body["tool_response_summary"], "On branch main");
        assert_eq!(a.observed(&o, None), Answer::nothing());
        let o = observed(parse(&json!({"hook_event_name":"SessionStart"})));
        assert_eq!(
            doc(&a.observed(&o, Some("ctx")))["hookSpecificOutput"]["additionalContext"],
            "ctx"
        );
    }

    #[test]
    fn answers() {
        assert_eq!(answer(&verdict(VerdictKind::Allow)), Answer::nothing());
        assert_eq!(answer(&verdict(VerdictKind::NoOpinion)), Answer::nothing());
        for k in [VerdictKind::Deny, VerdictKind::Ask] {
            let a = answer(&verdict(k));
            assert_eq!(a.exit_code, 0);
            assert_eq!(doc(&a), claude_code::decision("deny", "why"), "{k:?}");
        }
    }
}
