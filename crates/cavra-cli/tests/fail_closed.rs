//! Never fail open (issue 10 §3), through the real binary: a panic, a bad flag, an unknown
//! agent, a hang, a crash input or a hostile project policy all end in the agent's own deny
//! answer with exit 2 (or, for a policy that cannot load, a deny with the same clear error on
//! every call) — never an exit code an agent reads as "proceed".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const AGENTS: [&str; 5] = ["claude-code", "codex", "gemini", "cursor", "copilot"];

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    proj: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    Env {
        home,
        proj: proj.canonicalize().unwrap(),
        _tmp: tmp,
    }
}

impl Env {
    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cavra"));
        c.current_dir(&self.proj)
            .env("HOME", &self.home)
            .env_remove("CAVRA_DIR")
            .env_remove("CAVRA_NON_INTERACTIVE")
            .env_remove("CAVRA_TEST_PANIC")
            .env_remove("CAVRA_HOOK_TIMEOUT")
            .env_remove("CAVRA_REGISTRY");
        c
    }

    fn run(&self, args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> Output {
        let mut child = self
            .cmd()
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = child.stdin.take().unwrap();
        let data = stdin.as_bytes().to_vec();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        let _ = writer.join();
        out
    }

    fn policy(&self, text: &str) {
        let d = self.proj.join(".cavra");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("policy.yaml"), text).unwrap();
    }
}

/// A pre-action event running `command`, in `agent`'s own hook format.
fn bash_event(agent: &str, cwd: &Path, command: &str) -> String {
    let cwd = cwd.display().to_string();
    let v = match agent {
        "claude-code" | "codex" => serde_json::json!({
            "hook_event_name": "PreToolUse", "session_id": "s", "cwd": cwd,
            "tool_name": "Bash", "tool_input": {"command": command},
        }),
        "gemini" => serde_json::json!({
            "hook_event_name": "BeforeTool", "session_id": "s", "cwd": cwd,
            "tool_name": "run_shell_command", "tool_input": {"command": command},
        }),
        "cursor" => serde_json::json!({
            "hook_event_name": "beforeShellExecution", "conversation_id": "s",
            "cwd": cwd, "command": command,
        }),
        "copilot" => serde_json::json!({
            "cwd": cwd, "toolName": "bash",
            "toolArgs": serde_json::json!({"command": command}).to_string(),
        }),
        other => panic!("unknown agent {other}"),
    };
    v.to_string()
}

/// The decision and reason of `agent`'s answer document.
fn answer(agent: &str, o: &Output) -> (String, String) {
    let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{agent}: stdout is not one JSON document ({e}): {out:?}"));
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let (d, r) = match agent {
        "claude-code" | "codex" => (
            s("/hookSpecificOutput/permissionDecision"),
            s("/hookSpecificOutput/permissionDecisionReason"),
        ),
        "gemini" => (s("/decision"), s("/reason")),
        "cursor" => (s("/permission"), s("/agent_message")),
        "copilot" => (s("/permissionDecision"), s("/permissionDecisionReason")),
        _ => (
            s("/hookSpecificOutput/permissionDecision"),
            s("/hookSpecificOutput/permissionDecisionReason"),
        ),
    };
    (
        d.unwrap_or_else(|| panic!("{agent}: no decision in {out}")),
        r.unwrap_or_else(|| panic!("{agent}: no reason in {out}")),
    )
}

fn assert_fail_closed(agent: &str, o: &Output, reason_has: &str) -> String {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{agent}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (d, r) = answer(agent, o);
    assert_eq!(d, "deny", "{agent}: {r}");
    assert!(r.contains(reason_has), "{agent}: {r}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(reason_has), "{agent}: stderr {err}");
    r
}

#[test]
fn hook_claude_code_bogus_flag_denies_with_exit_2() {
    let e = env();
    let ev = bash_event("claude-code", &e.proj, "ls");
    let o = e.run(&["hook", "claude-code", "--bogus"], &ev, &[]);
    let r = assert_fail_closed("claude-code", &o, "command line is invalid");
    assert!(r.contains("--bogus"), "{r}");
}

#[test]
fn hook_argument_errors_deny_in_every_agents_protocol() {
    let e = env();
    for agent in AGENTS {
        let ev = bash_event(agent, &e.proj, "ls");
        for extra in [
            &["--bogus"][..],
            &["--pack"][..],
            &["--policy"][..],
            &["--pack", "cavra-strict", "--policy", "p.yaml"][..],
            &["--non-interactive=maybe"][..],
        ] {
            let mut args = vec!["hook", agent];
            args.extend_from_slice(extra);
            let o = e.run(&args, &ev, &[]);
            assert_fail_closed(agent, &o, "command line is invalid");
        }
    }
}

#[test]
fn hook_unknown_or_missing_agent_denies_in_every_protocol_at_once() {
    let e = env();
    for args in [
        &["hook", "nobody"][..],
        &["hook"][..],
        &["--json", "hook", "--x"][..],
    ] {
        let o = e.run(args, "{}", &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(v["decision"], "deny");
        assert_eq!(v["permission"], "deny");
        assert_eq!(v["permissionDecision"], "deny");
    }
}

#[test]
fn hook_help_never_reads_as_proceed() {
    let e = env();
    let o = e.run(&["hook", "claude-code", "--help"], "", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage"));
    // `cavra help hook` / `cavra hook` through the full parser stays an ordinary help
    let o = e.run(&["help", "hook"], "", &[]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn hook_panic_answers_deny_in_every_agents_protocol() {
    // the trigger exists in debug builds only (`failclosed::test_panic_trigger`)
    let e = env();
    for agent in AGENTS {
        let ev = bash_event(agent, &e.proj, "ls");
        let o = e.run(&["hook", agent], &ev, &[("CAVRA_TEST_PANIC", "1")]);
        assert_fail_closed(agent, &o, "internal error");
        // without the trigger the same call is an ordinary answer, exit 0
        let o = e.run(&["hook", agent], &ev, &[]);
        assert_eq!(o.status.code(), Some(0), "{agent}");
    }
}

#[test]
fn hook_that_hangs_answers_deny_when_the_watchdog_fires() {
    let e = env();
    for agent in ["claude-code", "cursor"] {
        let mut child = e
            .cmd()
            .args(["hook", agent])
            .env("CAVRA_HOOK_TIMEOUT", "1s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // stdin stays open and empty: the hook waits for its payload forever
        let _stdin = child.stdin.take();
        let t = Instant::now();
        let o = child.wait_with_output().unwrap();
        assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
        assert_fail_closed(agent, &o, "took longer than 1s");
    }
}

#[test]
fn brace_sequence_overflow_blocks_the_rm_and_never_aborts() {
    let e = env();
    let max = i64::MAX;
    let min = i64::MIN;
    for tail in [
        format!("{{0..{max}..{max}}}"),
        format!("{{{max}..0..{max}}}"),
        format!("{{{min}..{max}}}"),
        format!("{{{min}..0..{min}}}"),
        format!("{{0..{max}..-{max}}}"),
        format!("{{{}..{max}}}", max - 1),
        "{1..99999999999999999999}".to_string(),
        "{0..9223372036854775807..1}".to_string(),
    ] {
        let command = format!("rm -rf ~ ; : {tail}");
        for agent in AGENTS {
            let ev = bash_event(agent, &e.proj, &command);
            let o = e.run(&["hook", agent], &ev, &[]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!err.contains("internal error"), "{agent} {command}: {err}");
            let (d, r) = answer(agent, &o);
            assert_eq!(d, "deny", "{agent} {command}: {r}");
            assert!(!r.contains("failed closed"), "{agent} {command}: {r}");
        }
        let o = e.run(&["evaluate", "execute_command", &command], "", &[]);
        assert_eq!(o.status.code(), Some(2), "evaluate {command}");
    }
    // the everyday look-alike stays allowed
    let ev = bash_event("claude-code", &e.proj, "echo {1..3} {a..c}");
    let o = e.run(&["hook", "claude-code"], &ev, &[]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("\"deny\""), "{out}");
}

/// Every call under `policy` denies with the same reason, containing `has`, quickly.
fn hostile_policy_fails_closed(policy: &str, has: &str) {
    let e = env();
    e.policy(policy);
    let mut reasons = Vec::new();
    for agent in AGENTS {
        for _ in 0..2 {
            let ev = bash_event(agent, &e.proj, "ls");
            let t = Instant::now();
            let o = e.run(&["hook", agent], &ev, &[]);
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{agent}: {:?}",
                t.elapsed()
            );
            let (d, r) = answer(agent, &o);
            assert_eq!(d, "deny", "{agent}: {r}");
            assert!(r.contains(has), "{agent}: {r}");
            assert!(!r.contains("internal error"), "{agent}: {r}");
            reasons.push(r);
        }
    }
    assert!(
        reasons.windows(2).all(|w| w[0] == w[1]),
        "the same error each time: {reasons:#?}"
    );
    // evaluate: exit 1 with the error
    let o = e.run(&["evaluate", "execute_command", "ls"], "", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(has), "{err}");
}

#[test]
fn project_policy_approval_ttl_overflow_fails_closed_on_every_call() {
    hostile_policy_fails_closed(
        "metadata: {id: cavra-x, extends: cavra-coding-baseline}\ndefaults: {approval_ttl: 999999999999999d}\n",
        "longer than the maximum of 3650d",
    );
}

#[test]
fn project_policy_yaml_alias_bomb_fails_closed_in_milliseconds() {
    let mut bomb = String::from("metadata: {id: cavra-x}\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        bomb.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    assert!(bomb.len() < 400, "{}", bomb.len());
    hostile_policy_fails_closed(&bomb, "aliases expand the document");
}

#[test]
fn project_policy_invalid_fails_closed_on_every_call() {
    hostile_policy_fails_closed(
        "metadata: {id: cavra-x}\ncommands: {blok: [rm]}\n",
        "policy.yaml:2:",
    );
    hostile_policy_fails_closed(
        "metadata: {id: cavra-x}\ndefaults: {escalation: {max_blocks: 3, window: 99999999999999999999s}}\n",
        "longer than the maximum",
    );
}

#[test]
fn policy_validate_reports_a_bad_duration_at_its_line_and_column() {
    let e = env();
    let f = e.proj.join("p.yaml");
    for (text, at, has) in [
        (
            "metadata:\n  id: cavra-x\ndefaults:\n  approval_ttl: 99999999999999999999s\n",
            "p.yaml:4:17:",
            "longer than the maximum of 3650d",
        ),
        (
            "metadata:\n  id: cavra-x\ndefaults:\n  approval_ttl: 999999999999999d\n",
            "p.yaml:4:17:",
            "longer than the maximum of 3650d",
        ),
        (
            "metadata:\n  id: cavra-x\ndefaults:\n  escalation:\n    max_blocks: 2\n    window: 3651d\n",
            "p.yaml:6:13:",
            "longer than the maximum",
        ),
        (
            "metadata:\n  id: cavra-x\ndefaults:\n  approval_ttl: 5y\n",
            "p.yaml:4:17:",
            "approval_ttl",
        ),
    ] {
        std::fs::write(&f, text).unwrap();
        let o = e.run(&["policy", "validate", f.to_str().unwrap()], "", &[]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(at), "{text}: {err}");
        assert!(err.contains(has) || err.contains("pattern"), "{text}: {err}");
    }
    // everyday durations validate
    for ttl in ["30m", "1h", "1h30m", "7d", "2w", "3650d"] {
        std::fs::write(
            &f,
            format!("metadata:\n  id: cavra-x\ndefaults:\n  approval_ttl: {ttl}\n"),
        )
        .unwrap();
        let o = e.run(&["policy", "validate", f.to_str().unwrap()], "", &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{ttl}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn project_policy_with_everyday_ttl_still_answers_normally() {
    let e = env();
    e.policy("metadata: {id: cavra-x, extends: cavra-coding-baseline}\ndefaults: {approval_ttl: 1h30m}\n");
    for agent in AGENTS {
        let ev = bash_event(agent, &e.proj, "ls -la");
        let o = e.run(&["hook", agent], &ev, &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{agent}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("\"deny\""), "{agent}: {out}");
    }
}
