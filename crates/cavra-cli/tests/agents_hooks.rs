//! `cavra hook <agent>` round trips for Codex, Gemini CLI, Cursor, Copilot CLI (and Claude
//! Code): recorded payloads (fixtures written from each agent's documented hook format) go in
//! on stdin, the agent-format answer comes out.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    proj: PathBuf,
    state: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    let state = tmp.path().join("state");
    Env {
        home,
        proj: proj.canonicalize().unwrap(),
        state,
        _tmp: tmp,
    }
}

fn hook(e: &Env, agent: &str, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["--cavra-dir", e.state.to_str().unwrap(), "hook", agent])
        .current_dir(&e.proj)
        .env("HOME", &e.home)
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn run_fixture(e: &Env, agent: &str, rel: &str) -> (i32, Option<Value>, String) {
    let payload = fixture(rel).replace("{CWD}", e.proj.to_str().unwrap());
    let o = hook(e, agent, &payload);
    let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let v = if out.is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(&out)
                .unwrap_or_else(|err| panic!("stdout not JSON ({err}): {out}")),
        )
    };
    (
        o.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn evidence_kinds(e: &Env) -> Vec<String> {
    let mut kinds = Vec::new();
    let dir = e.state.join("evidence");
    for f in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                if let Some(k) = v.get("kind").and_then(Value::as_str) {
                    kinds.push(k.to_string());
                }
            }
        }
    }
    kinds
}

// ------------------------------------------------------------------ Gemini CLI

#[test]
fn gemini_before_tool_round_trip() {
    let e = env();
    let (code, v, _) = run_fixture(&e, "gemini", "gemini/before_tool_benign.json");
    assert_eq!(code, 0);
    // no rule restricts it: no decision, Gemini CLI's own confirmation applies (issue 10 §6)
    assert_eq!(v.unwrap(), serde_json::json!({}));
    for f in [
        "gemini/before_tool_rm_rf.json",
        "gemini/before_tool_read_env.json",
    ] {
        let (code, v, _) = run_fixture(&e, "gemini", f);
        let v = v.unwrap();
        assert_eq!(code, 0, "{f}");
        assert_eq!(v["decision"], "deny", "{f}: {v}");
        assert!(
            v["reason"].as_str().unwrap().starts_with("CAVRA block"),
            "{v}"
        );
    }
}

#[test]
fn gemini_malformed_and_unknown_fail_closed() {
    let e = env();
    let o = hook(&e, "gemini", "{not json");
    assert_eq!(
        o.status.code(),
        Some(2),
        "exit 2 = Gemini blocks the tool with stderr as the reason"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid JSON"));
    assert!(
        o.stdout.is_empty(),
        "Gemini parses stdout: nothing but JSON may appear there"
    );
    let o = hook(
        &e,
        "gemini",
        r#"{"hook_event_name":"BeforeTool","session_id":"s"}"#,
    );
    assert_eq!(o.status.code(), Some(2));
    let o = hook(
        &e,
        "gemini",
        r#"{"hook_event_name":"BeforeTool","session_id":"s","tool_name":"teleport","tool_input":{}}"#,
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert!(
        v["reason"].as_str().unwrap().contains("unknown tool"),
        "{v}"
    );
}

#[test]
fn gemini_lifecycle_events_are_recorded() {
    let e = env();
    let (code, v, _) = run_fixture(&e, "gemini", "gemini/session_start.json");
    assert_eq!(code, 0);
    assert!(v.unwrap()["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap()
        .contains("CAVRA guards"));
    let (code, v, _) = run_fixture(&e, "gemini", "gemini/after_tool.json");
    assert_eq!((code, v.unwrap()), (0, serde_json::json!({})));
    let kinds = evidence_kinds(&e);
    assert!(kinds.iter().any(|k| k == "post_tool"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "session"), "{kinds:?}");
}

// ------------------------------------------------------------------ Codex

#[test]
fn codex_pre_tool_round_trip() {
    let e = env();
    let (code, v, _) = run_fixture(&e, "codex", "codex/pre_tool_benign.json");
    assert_eq!((code, v), (0, None), "allow = exit 0 and no output");
    let (code, v, _) = run_fixture(&e, "codex", "codex/pre_tool_apply_patch.json");
    assert_eq!(
        (code, v),
        (0, None),
        "a patch adding a file inside the repo is allowed"
    );
    for f in ["codex/pre_tool_rm_rf.json", "codex/pre_tool_read_env.json"] {
        let (code, v, _) = run_fixture(&e, "codex", f);
        let v = v.unwrap_or_else(|| panic!("{f}: no output"));
        assert_eq!(code, 0);
        assert_eq!(v["hookSpecificOutput"]["hookEventName"], "PreToolUse");
        assert_eq!(
            v["hookSpecificOutput"]["permissionDecision"], "deny",
            "{f}: {v}"
        );
        assert!(v["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("CAVRA block"));
    }
}

#[test]
fn codex_apply_patch_outside_repo_denied_and_malformed_fail_closed() {
    let e = env();
    let p = serde_json::json!({
        "session_id": "c", "cwd": e.proj, "hook_event_name": "PreToolUse", "tool_name": "apply_patch",
        "tool_input": {"command": "*** Begin Patch\n*** Update File: /etc/hosts\n@@\n-a\n+b\n*** End Patch\n"}
    });
    let o = hook(&e, "codex", &p.to_string());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
    let o = hook(&e, "codex", "");
    assert_eq!(o.status.code(), Some(2), "exit 2 blocks in Codex");
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty"));
    let p = serde_json::json!({"session_id": "c", "hook_event_name": "PreToolUse", "tool_name": "apply_patch", "tool_input": {"command": "no patch"}});
    let o = hook(&e, "codex", &p.to_string());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
    let (code, v, _) = run_fixture(&e, "codex", "codex/post_tool.json");
    assert_eq!((code, v), (0, None));
    assert!(evidence_kinds(&e).iter().any(|k| k == "post_tool"));
}

// ------------------------------------------------------------------ Cursor

#[test]
fn cursor_round_trip() {
    let e = env();
    let (code, v, _) = run_fixture(&e, "cursor", "cursor/before_shell_benign.json");
    let v = v.unwrap();
    assert_eq!(code, 0);
    assert_eq!(v["permission"], "allow");
    for f in [
        "cursor/before_shell_rm_rf.json",
        "cursor/before_read_env.json",
    ] {
        let (code, v, _) = run_fixture(&e, "cursor", f);
        let v = v.unwrap();
        assert_eq!(code, 0);
        assert_eq!(v["permission"], "deny", "{f}: {v}");
        assert!(v["user_message"].as_str().unwrap().contains("CAVRA block"));
        assert_eq!(v["user_message"], v["userMessage"]);
        assert!(
            v["agent_message"]
                .as_str()
                .unwrap()
                .contains("Safer alternative"),
            "{v}"
        );
    }
    let (code, v, _) = run_fixture(&e, "cursor", "cursor/after_file_edit.json");
    assert_eq!((code, v.unwrap()), (0, serde_json::json!({})));
    assert!(evidence_kinds(&e).iter().any(|k| k == "post_tool"));
}

#[test]
fn cursor_malformed_fails_closed() {
    let e = env();
    for bad in [
        "[1,2]",
        "{\"command\": \"ls\"}",
        "{\"hook_event_name\":\"beforeMCPExecution\",\"tool_input\":\"{}\"}",
    ] {
        let o = hook(&e, "cursor", bad);
        assert_eq!(o.status.code(), Some(2), "{bad}: exit 2 = deny in Cursor");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["permission"], "deny", "{bad}");
        assert!(v["user_message"].as_str().unwrap().contains("fail closed"));
    }
}

// ------------------------------------------------------------------ Copilot CLI

#[test]
fn copilot_round_trip() {
    let e = env();
    let (code, v, _) = run_fixture(&e, "copilot", "copilot/pre_tool_benign.json");
    assert_eq!(code, 0);
    assert_eq!(v.unwrap()["permissionDecision"], "allow");
    for f in [
        "copilot/pre_tool_rm_rf.json",
        "copilot/pre_tool_read_env.json",
        "copilot/pre_tool_bad_args.json",
    ] {
        let (code, v, _) = run_fixture(&e, "copilot", f);
        let v = v.unwrap();
        assert_eq!(code, 0);
        assert_eq!(v["permissionDecision"], "deny", "{f}: {v}");
        assert!(v["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .starts_with("CAVRA"));
    }
    let o = hook(&e, "copilot", "not json at all");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["permissionDecision"], "deny");
    let (code, v, _) = run_fixture(&e, "copilot", "copilot/post_tool.json");
    assert_eq!((code, v), (0, None));
    assert!(evidence_kinds(&e).iter().any(|k| k == "post_tool"));
}

// ------------------------------------------------------------------ Claude Code

#[test]
fn claude_code_round_trip() {
    let e = env();
    let (code, v, _) = run_fixture(&e, "claude-code", "claude-code/pre_tool_benign.json");
    // no rule restricts it: exit 0 and no permission decision (issue 10 §6)
    assert_eq!((code, v), (0, None));
    for f in [
        "claude-code/pre_tool_rm_rf.json",
        "claude-code/pre_tool_read_env.json",
    ] {
        let (_, v, _) = run_fixture(&e, "claude-code", f);
        assert_eq!(
            v.unwrap()["hookSpecificOutput"]["permissionDecision"],
            "deny",
            "{f}"
        );
    }
}

#[test]
fn decisions_land_in_the_evidence_log() {
    let e = env();
    run_fixture(&e, "cursor", "cursor/before_shell_rm_rf.json");
    assert!(
        evidence_kinds(&e).iter().any(|k| k == "decision"),
        "{:?}",
        evidence_kinds(&e)
    );
    let _ = Path::new("");
}
