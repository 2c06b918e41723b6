//! OpenAI Codex CLI hooks (`[[hooks.<Event>]]` / `[[hooks.<Event>.hooks]]` in
//! `~/.codex/config.toml` or a trusted project's `.codex/config.toml`).
//!
//! Codex's hook wire format follows Claude Code's: stdin JSON with `session_id`,
//! `transcript_path`, `cwd`, `hook_event_name`, `model`, `tool_name`, `tool_input`. Shell-like
//! tools arrive as `Bash` with `tool_input.command`; file edits as `apply_patch` with the patch
//! body in `tool_input.command`; MCP tools as `mcp__<server>__<tool>`. A PreToolUse hook blocks
//! with `hookSpecificOutput.permissionDecision: "deny"` (+ `permissionDecisionReason`) or with
//! exit code 2 and the reason on stderr. `allow` / `ask` are not acted on by Codex, so CAVRA
//! prints nothing to allow and sends require-approval as `deny` with the approval steps.

use super::{call, decide_all, record, str_of, summary};
use crate::cmd::hook::{self, AgentKind, HookArgs, ToolCall, VerdictKind};
use crate::ctx::Ctx;
use anyhow::Result;
use serde_json::{json, Value};
use std::path::Path;

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
    let a = AgentKind::Codex;
    let c = |t: &str, v: Value| call(a, session, cwd, t, v);
    match tool {
        "Bash" | "shell" | "exec_command" | "local_shell" => {
            let cmd = match input.get("command") {
                Some(Value::Array(parts)) => Some(
                    parts
                        .iter()
                        .filter_map(Value::as_str)
                        .map(super::shell_quote)
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
                // no file named: map_tool reports the missing path (fail closed)
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

pub fn hook(ctx: &Ctx, explicit_dir: bool, args: &HookArgs) -> Result<i32> {
    let event = match hook::read_payload() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("CAVRA blocked the tool call (fail closed): {e:#}");
            return Ok(2);
        }
    };
    let name = str_of(&event, &["hook_event_name"]).unwrap_or_else(|| "PreToolUse".into());
    let session = str_of(&event, &["session_id"]).unwrap_or_else(|| "unknown-session".into());
    let cwd = str_of(&event, &["cwd"]);
    if name != "PreToolUse" {
        record(
            ctx,
            explicit_dir,
            cwd.as_deref(),
            &name,
            json!({
                "agent": "codex",
                "event": name,
                "session_id": session,
                "turn_id": event.get("turn_id"),
                "tool_name": event.get("tool_name"),
                "tool_input": event.get("tool_input"),
                "tool_response_summary": summary(event.get("tool_response")),
                "source": event.get("source"),
                "cwd": cwd,
            }),
        );
        if name == "SessionStart" {
            let project = hook::project_dir(cwd.as_deref());
            println!(
                "{}",
                json!({"hookSpecificOutput": {
                    "hookEventName": "SessionStart",
                    "additionalContext": hook::pack_summary(args, &project),
                }})
            );
        }
        return Ok(0);
    }
    let Some(tool) = str_of(&event, &["tool_name"]) else {
        eprintln!(
            "CAVRA blocked the tool call (fail closed): the PreToolUse event has no `tool_name`"
        );
        return Ok(2);
    };
    let input = event.get("tool_input").cloned().unwrap_or(Value::Null);
    let calls = map(&session, cwd.as_deref(), &tool, &input);
    let v = decide_all(ctx, explicit_dir, args, &calls);
    if matches!(v.kind, VerdictKind::Deny | VerdictKind::Ask) {
        println!(
            "{}",
            json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": v.reason,
            }})
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_paths() {
        let p = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** Update File: src/b.rs\n*** Move to: src/c.rs\n@@\n-x\n+y\n*** Delete File: d\n*** End Patch\n";
        assert_eq!(patch_files(p), vec!["a.txt", "src/b.rs", "src/c.rs", "d"]);
        let m = map("s", Some("/repo"), "apply_patch", &json!({"command": p}));
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].input["file_path"], "/repo/a.txt");
        let m = map("s", None, "apply_patch", &json!({"command": "garbage"}));
        assert_eq!(m[0].tool, "Write");
        assert!(m[0].input.get("file_path").is_none());
        let m = map(
            "s",
            None,
            "Bash",
            &json!({"command": ["bash", "-lc", "ls -la"]}),
        );
        assert_eq!(m[0].input["command"], "bash -lc 'ls -la'");
    }
}
