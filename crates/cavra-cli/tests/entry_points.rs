//! One pipeline, one answer (issue 10 §4, §6, §1 routes): every entry point — each agent's
//! hook, `cavra evaluate` with a command or a structured action, `--request` JSON and the MCP
//! tools — gets the same decision for the same action, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    /// A repository on branch `main`.
    proj: PathBuf,
    state: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let home = root.join("home");
    let proj = root.join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::write(proj.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    Env {
        state: root.join("state"),
        home,
        proj,
        _tmp: tmp,
    }
}

impl Env {
    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cavra"));
        c.current_dir(&self.proj)
            .env("HOME", &self.home)
            .env("CAVRA_DIR", &self.state)
            .env_remove("CAVRA_NO_EVIDENCE")
            .env_remove("CAVRA_NON_INTERACTIVE")
            .env_remove("CAVRA_REGISTRY");
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_in(self.cmd(), args, stdin)
    }

    /// The last decision recorded in the evidence log: `(decision, rule_id)`.
    fn last_recorded(&self) -> (String, String) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.state.join("evidence"))
            .unwrap()
            .map(|d| d.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        let mut last = None;
        for f in files {
            for line in std::fs::read_to_string(f).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                if v["kind"] == "decision" {
                    last = Some(v["body"].clone());
                }
            }
        }
        let b = last.expect("a decision is recorded");
        (
            b["cavra_decision"].as_str().unwrap().to_string(),
            b["rule_id"].as_str().unwrap().to_string(),
        )
    }
}

fn run_in(mut c: Command, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = c
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    let _ = w.join();
    o
}

/// What an agent's hook answer means: `deny` (blocked or held), `ask`, `allow` (explicit),
/// `none` (no opinion: the agent's own permission settings apply).
fn answer_of(agent: &str, o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        matches!(o.status.code(), Some(0) | Some(2)),
        "{agent}: exit {:?}",
        o.status.code()
    );
    if o.status.code() == Some(2) {
        return "deny".into();
    }
    if out.is_empty() || out == "{}" {
        return "none".into();
    }
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{agent}: {e}: {out}"));
    let d = v["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .or_else(|| v["permissionDecision"].as_str())
        .or_else(|| v["permission"].as_str())
        .or_else(|| v["decision"].as_str())
        .unwrap_or_else(|| panic!("{agent}: no decision in {out}"));
    d.to_string()
}

const AGENTS: [&str; 5] = ["claude-code", "codex", "gemini", "cursor", "copilot"];

/// The hook payload of `agent` for a shell command.
fn shell_event(agent: &str, cmd: &str, cwd: &Path) -> Value {
    let cwd = cwd.display().to_string();
    match agent {
        "claude-code" | "codex" => json!({"hook_event_name": "PreToolUse", "session_id": "m",
            "cwd": cwd, "tool_name": "Bash", "tool_input": {"command": cmd}}),
        "gemini" => json!({"hook_event_name": "BeforeTool", "session_id": "m", "cwd": cwd,
            "tool_name": "run_shell_command", "tool_input": {"command": cmd}}),
        "cursor" => json!({"hook_event_name": "beforeShellExecution", "conversation_id": "m",
            "command": cmd, "cwd": cwd, "workspace_roots": [cwd]}),
        "copilot" => json!({"timestamp": 1, "cwd": cwd, "toolName": "bash",
            "toolArgs": json!({"command": cmd}).to_string()}),
        _ => unreachable!(),
    }
}

/// The hook payload of `agent` for reading a file (Codex has no read tool).
fn read_event(agent: &str, path: &str, cwd: &Path) -> Option<Value> {
    let cwd = cwd.display().to_string();
    Some(match agent {
        "claude-code" => json!({"hook_event_name": "PreToolUse", "session_id": "m",
            "cwd": cwd, "tool_name": "Read", "tool_input": {"file_path": path}}),
        "gemini" => json!({"hook_event_name": "BeforeTool", "session_id": "m", "cwd": cwd,
            "tool_name": "read_file", "tool_input": {"absolute_path": path}}),
        "cursor" => json!({"hook_event_name": "beforeReadFile", "conversation_id": "m",
            "file_path": path, "workspace_roots": [cwd]}),
        "copilot" => json!({"timestamp": 1, "cwd": cwd, "toolName": "view",
            "toolArgs": json!({"path": path}).to_string()}),
        _ => return None,
    })
}

/// Runs MCP tool calls in one `cavra mcp serve` session; the structured results in order.
fn mcp_calls(e: &Env, calls: &[(&str, Value)]) -> Vec<Value> {
    let mut input = String::new();
    input.push_str(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "matrix", "version": "1"}}}).to_string());
    input.push('\n');
    input.push_str(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
    input.push('\n');
    for (i, (tool, args)) in calls.iter().enumerate() {
        input.push_str(&json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}).to_string());
        input.push('\n');
    }
    let o = e.run(&["mcp", "serve"], input.as_bytes());
    let mut out: Vec<(u64, Value)> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["id"].as_u64().is_some_and(|i| i > 0))
        .map(|v| (v["id"].as_u64().unwrap(), v))
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter()
        .map(|(_, v)| {
            let r = &v["result"];
            assert_ne!(r["isError"], true, "MCP error: {v}");
            r["structuredContent"].clone()
        })
        .collect()
}

fn decision_of(v: &Value) -> (String, String) {
    (
        v["decision"].as_str().unwrap().to_string(),
        v["rule_id"].as_str().unwrap().to_string(),
    )
}

/// Every entry point's decision for a shell command; asserts they agree and returns it.
fn command_everywhere(e: &Env, cmd: &str) -> (String, String) {
    let mut seen: Vec<(String, (String, String))> = Vec::new();
    for agent in AGENTS {
        let ev = shell_event(agent, cmd, &e.proj);
        let o = e.run(&["hook", agent], ev.to_string().as_bytes());
        let answer = answer_of(agent, &o);
        let rec = e.last_recorded();
        // the agent's protocol renders the decision consistently
        match rec.0.as_str() {
            "block" => assert_eq!(answer, "deny", "{agent} `{cmd}`"),
            "require_approval" => assert!(answer == "deny" || answer == "ask", "{agent} `{cmd}`"),
            _ => assert!(
                answer == "none" || answer == "allow",
                "{agent} `{cmd}`: {answer}"
            ),
        }
        seen.push((format!("hook {agent}"), rec));
    }
    let o = e.run(&["evaluate", "execute_command", cmd, "--json"], b"");
    seen.push((
        "evaluate".into(),
        decision_of(&serde_json::from_slice(&o.stdout).unwrap()),
    ));
    let req = json!({"action_type": "execute_command", "target": cmd, "cwd": e.proj});
    let o = e.run(
        &["evaluate", "--request", "-", "--json"],
        req.to_string().as_bytes(),
    );
    seen.push((
        "evaluate --request".into(),
        decision_of(&serde_json::from_slice(&o.stdout).unwrap()),
    ));
    let mcp = mcp_calls(
        e,
        &[
            ("cavra_check_command", json!({"command": cmd})),
            (
                "cavra_evaluate",
                json!({"action_type": "execute_command", "target": cmd}),
            ),
        ],
    );
    seen.push(("mcp cavra_check_command".into(), decision_of(&mcp[0])));
    seen.push(("mcp cavra_evaluate".into(), decision_of(&mcp[1])));
    let first = seen[0].1.clone();
    for (who, d) in &seen {
        assert_eq!(d, &first, "`{cmd}`: {who} disagrees with {}", seen[0].0);
    }
    first
}

#[test]
fn one_decision_per_command_through_every_entry_point() {
    let e = env();
    for (cmd, want, rule) in [
        ("git push --force origin main", "block", "git.force_push"),
        (
            "git push",
            "block",
            "git.protected_branch.block_direct_push",
        ),
        ("git push origin feature/x", "allow", ""),
        ("rm -rf ~", "block", "commands.destructive.rm_recursive"),
        ("cargo build", "allow", ""),
        (
            "cavra approvals approve apr-1 --as alice",
            "block",
            "self_protection.cavra_control",
        ),
        (
            "cargo run -- sessions release s1",
            "block",
            "self_protection.cavra_control_cargo_run",
        ),
        ("cavra evaluate read_file .env", "allow", ""),
        (
            "terraform destroy -auto-approve",
            "block",
            "commands.cloud.iac_destroy",
        ),
    ] {
        let (d, r) = command_everywhere(&e, cmd);
        assert_eq!(d, want, "`{cmd}`");
        if !rule.is_empty() {
            assert_eq!(r, rule, "`{cmd}`");
        }
    }
}

#[test]
fn structured_git_operations_get_the_decision_of_the_equivalent_command() {
    let e = env();
    for (op, target, cmd) in [
        ("force_push", "origin/main", "git push --force origin main"),
        ("push", "origin/main", "git push origin main"),
        ("push", "", "git push"),
        ("delete", "origin/main", "git push origin --delete main"),
        ("push", "origin/feature/x", "git push origin feature/x"),
        ("reset", "HEAD~3", "git reset --hard HEAD~3"),
    ] {
        let want = command_everywhere(&e, cmd);
        let o = e.run(
            &[
                "evaluate",
                "git_operation",
                target,
                "--operation",
                op,
                "--json",
            ],
            b"",
        );
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
        assert_eq!(
            decision_of(&v).0,
            want.0,
            "evaluate {op} `{target}` vs `{cmd}`"
        );
        let req = json!({"action_type": "git_operation", "target": target, "operation": op, "cwd": e.proj});
        let o = e.run(
            &["evaluate", "--request", "-", "--json"],
            req.to_string().as_bytes(),
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(decision_of(&v).0, want.0, "--request {op} `{target}`");
        let mcp = mcp_calls(
            &e,
            &[(
                "cavra_evaluate",
                json!({"action_type": "git_operation", "target": target, "operation": op}),
            )],
        );
        assert_eq!(decision_of(&mcp[0]).0, want.0, "MCP {op} `{target}`");
    }
}

#[test]
fn one_decision_per_file_read_through_every_entry_point() {
    let e = env();
    for (path, want) in [
        (".env", "block"),
        ("src/main.rs", "allow"),
        ("../../../../../../../../etc/shadow", "block"),
    ] {
        let abs = e.proj.join(path).display().to_string();
        let mut seen = Vec::new();
        for agent in AGENTS {
            // Gemini and Cursor send absolute paths; the others the path as the model wrote it
            let p = if matches!(agent, "gemini" | "cursor") {
                abs.as_str()
            } else {
                path
            };
            let Some(ev) = read_event(agent, p, &e.proj) else {
                continue;
            };
            let o = e.run(&["hook", agent], ev.to_string().as_bytes());
            answer_of(agent, &o);
            seen.push((agent.to_string(), e.last_recorded().0));
        }
        let o = e.run(&["evaluate", "read_file", path, "--json"], b"");
        seen.push((
            "evaluate".into(),
            decision_of(&serde_json::from_slice(&o.stdout).unwrap()).0,
        ));
        let mcp = mcp_calls(
            &e,
            &[(
                "cavra_evaluate",
                json!({"action_type": "read_file", "target": path}),
            )],
        );
        seen.push(("mcp".into(), decision_of(&mcp[0]).0));
        for (who, d) in &seen {
            assert_eq!(d, want, "read `{path}` via {who}");
        }
    }
}

#[test]
fn relative_or_missing_hook_cwd_is_resolved_against_the_hook_process() {
    let e = env();
    let sub = e.proj.join("src");
    for cwd in [json!("src"), json!("./src/../src"), Value::Null] {
        let mut ev = json!({"hook_event_name": "PreToolUse", "session_id": "m",
            "tool_name": "Read", "tool_input": {"file_path": "../../../../../../../../../etc/shadow"}});
        if !cwd.is_null() {
            ev["cwd"] = cwd.clone();
        }
        let mut c = e.cmd();
        c.current_dir(if cwd.is_null() { &sub } else { &e.proj });
        let o = run_in(c, &["hook", "claude-code"], ev.to_string().as_bytes());
        assert_eq!(answer_of("claude-code", &o), "deny", "cwd {cwd}");
        let rec = e.last_recorded();
        assert_eq!(rec.1, "secrets.credentials.read", "cwd {cwd}");
    }
}

#[test]
fn claude_code_answers_no_decision_unless_a_rule_allows() {
    let e = env();
    // no rule restricts `ls`: exit 0 and nothing on stdout
    let o = e.run(
        &["hook", "claude-code"],
        shell_event("claude-code", "ls -la", &e.proj)
            .to_string()
            .as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // inert tools too
    let ev = json!({"hook_event_name": "PreToolUse", "session_id": "m", "cwd": e.proj,
        "tool_name": "TodoWrite", "tool_input": {}});
    let o = e.run(&["hook", "claude-code"], ev.to_string().as_bytes());
    assert!(o.stdout.is_empty());
    // an explicit allow rule in a pack still answers `allow`
    let pack = e.proj.join("allow.yaml");
    std::fs::write(
        &pack,
        "metadata: {id: cavra-allowing, extends: cavra-coding-baseline}\nrules:\n  - {id: team.allow_make_test, effect: allow, match: {command: {program: [make], subcommand: [test]}}}\nprograms:\n  make: {subcommand_depth: 1, args: none}\n",
    )
    .unwrap();
    let o = e.run(
        &["hook", "claude-code", "--policy", pack.to_str().unwrap()],
        shell_event("claude-code", "make test", &e.proj)
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer_of("claude-code", &o), "allow");
    // a blocked action is still denied
    let o = e.run(
        &["hook", "claude-code"],
        shell_event("claude-code", "rm -rf /", &e.proj)
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer_of("claude-code", &o), "deny");
}

#[test]
fn decision_ids_are_unique_per_decision_and_the_request_hash_is_stable() {
    let e = env();
    let run = || -> Value {
        serde_json::from_slice(
            &e.run(&["evaluate", "read_file", ".env", "--json"], b"")
                .stdout,
        )
        .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a["request_hash"], b["request_hash"]);
    let (ia, ib) = (
        a["decision_id"].as_str().unwrap(),
        b["decision_id"].as_str().unwrap(),
    );
    assert!(ia.starts_with("dec-") && ib.starts_with("dec-"));
    assert_ne!(
        ia, ib,
        "a repeated identical request gets a new decision id"
    );
    assert!(!a["request_hash"].as_str().unwrap().starts_with(&ia[4..]));
}

#[test]
fn agents_without_ask_open_one_approval_request_for_a_person() {
    for agent in ["codex", "gemini", "copilot"] {
        let e = env();
        // writing a CI workflow needs approval under the baseline
        let path = e.proj.join(".github/workflows/ci.yml");
        let cwd = e.proj.display().to_string();
        let p = path.display().to_string();
        let ev = match agent {
            "codex" => json!({"hook_event_name": "PreToolUse", "session_id": "m", "cwd": cwd,
                "tool_name": "apply_patch", "tool_input": {"command": format!("*** Begin Patch\n*** Add File: {p}\n+x\n*** End Patch\n")}}),
            "gemini" => json!({"hook_event_name": "BeforeTool", "session_id": "m", "cwd": cwd,
                "tool_name": "write_file", "tool_input": {"file_path": p, "content": "x"}}),
            _ => json!({"timestamp": 1, "cwd": cwd, "toolName": "create",
                "toolArgs": json!({"path": p, "file_text": "x"}).to_string()}),
        };
        // asked twice (the agent retries before anyone approved): one open request
        for _ in 0..2 {
            let o = e.run(&["hook", agent], ev.to_string().as_bytes());
            assert_eq!(answer_of(agent, &o), "deny", "{agent}");
            let out = String::from_utf8_lossy(&o.stdout).to_string();
            assert!(
                out.contains("apr-"),
                "{agent}: the answer names the request: {out}"
            );
            assert_eq!(e.last_recorded().0, "require_approval", "{agent}");
        }
        // the request is open for a person (no --non-interactive needed)
        let list = e.run(&["--json", "approvals", "list"], b"");
        let v: Value = serde_json::from_slice(&list.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&list.stderr)));
        let items = v
            .as_array()
            .cloned()
            .or_else(|| v["approvals"].as_array().cloned())
            .unwrap_or_default();
        let pending: Vec<&Value> = items.iter().filter(|a| a["state"] == "pending").collect();
        assert_eq!(pending.len(), 1, "{agent}: {v}");
    }
}

#[test]
fn a_subdirectory_uses_the_projects_cavra_directory_and_read_only_commands_create_none() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let proj = root.join("proj");
    let deep = proj.join("a/b");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    let cmd = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cavra"));
        c.current_dir(&deep)
            .env("HOME", root.join("home"))
            .env_remove("CAVRA_DIR")
            .env_remove("CAVRA_NO_EVIDENCE")
            .env_remove("CAVRA_NON_INTERACTIVE");
        c
    };
    // no `.cavra` anywhere: read-only commands create none (and no key)
    for args in [
        vec!["evaluate", "read_file", ".env"],
        vec!["evaluate", "execute_command", "rm -rf /"],
        vec!["explain", "read_file", ".env"],
        vec!["policy", "list"],
        vec!["policy", "show"],
        vec!["doctor"],
    ] {
        run_in(cmd(), &args, b"");
        for d in [&deep, &proj.join("a"), &proj] {
            assert!(
                !d.join(".cavra").exists(),
                "`cavra {args:?}` created {d:?}/.cavra"
            );
        }
    }
    // the project's `.cavra` (at the repository root) is found from a subdirectory
    std::fs::create_dir_all(proj.join(".cavra")).unwrap();
    std::fs::write(
        proj.join(".cavra/policy.yaml"),
        "metadata: {id: cavra-project, extends: cavra-coding-baseline}\nrules:\n  - {id: team.no_deploy, effect: block, match: {command: {program: [deployctl]}}}\n",
    )
    .unwrap();
    let o = run_in(
        cmd(),
        &["evaluate", "execute_command", "deployctl up", "--json"],
        b"",
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rule_id"], "team.no_deploy");
    assert!(
        v["evidence_record"].is_string(),
        "recorded in the project's log"
    );
    assert!(proj.join(".cavra/evidence").is_dir());
    assert!(!deep.join(".cavra").exists());
    // the hook from the same subdirectory: the same pack, the same log
    let ev = json!({"hook_event_name": "PreToolUse", "session_id": "m", "cwd": deep,
        "tool_name": "Bash", "tool_input": {"command": "deployctl up"}});
    let o = run_in(cmd(), &["hook", "claude-code"], ev.to_string().as_bytes());
    assert_eq!(answer_of("claude-code", &o), "deny");
    assert!(!deep.join(".cavra").exists());
}

/// Every route to CAVRA's control plane is blocked through the hook, critical, with a
/// reason that says a person must do it outside the agent; read-only CAVRA commands pass.
#[test]
fn self_protection_routes_through_the_hook() {
    let e = env();
    let blocked = [
        "cavra approvals approve apr-1 --as alice",
        "cavra approvals break-glass --action execute_command --target '*' --reason x",
        "cavra sessions release s1",
        "cavra uninstall claude-code",
        "cavra evidence prune",
        "cavra keys rotate",
        "cavra registry mcp approve github",
        "cavra registry agents add bot",
        "./target/release/cavra approvals approve apr-1",
        "/opt/bin/cavra keys rotate",
        "cavra.exe sessions release s1",
        "cargo run -- approvals approve apr-1",
        "cargo run --release -p cavra-cli -- approvals approve apr-1",
        "cargo run --bin cavra -- keys rotate",
        "bash -c 'cavra approvals approve apr-1'",
        "eval 'cavra keys rotate'",
        "env cavra registry mcp approve github",
        "shopt -s expand_aliases; alias c=cavra; c approvals approve apr-1",
        "f() { cavra approvals approve apr-1; }; f",
        "python3 -c \"import subprocess; subprocess.run(['cavra','approvals','approve','apr-1'])\"",
        "python3 -c \"import os; os.system('cavra keys rotate')\"",
        "sqlite3 .cavra/cavra.db \"update approvals set state='approved'\"",
        "python3 -c \"import sqlite3; sqlite3.connect('.cavra/cavra.db').execute('delete from approvals')\"",
        "cp evil.yaml .cavra/policy.yaml",
        "mv .cavra /tmp/off",
        "rm -rf .cavra",
        "ln -sf /tmp/x .cavra/policy.yaml",
        "truncate -s 0 .cavra/cavra.db",
        "echo x | tee .cavra/policy.yaml",
        "echo x > .cavra/policy.yaml",
        "cp x ~/.config/cavra/approver/approver.pub",
        "cat ~/.config/cavra/approver/signing-key",
        "echo '{}' > .claude/settings.json",
    ];
    for cmd in blocked {
        let o = e.run(
            &["hook", "claude-code"],
            shell_event("claude-code", cmd, &e.proj)
                .to_string()
                .as_bytes(),
        );
        assert_eq!(answer_of("claude-code", &o), "deny", "`{cmd}`");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let reason = v["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap();
        assert!(reason.contains("severity critical"), "`{cmd}`: {reason}");
        assert!(
            reason.contains("self_protection") || reason.contains("secrets."),
            "`{cmd}`: {reason}"
        );
        if reason.contains("self_protection.cavra") {
            assert!(
                reason.contains("a person must"),
                "`{cmd}`: the reason says a person must do it: {reason}"
            );
        }
    }
    for cmd in [
        "cavra evaluate read_file .env",
        "cavra explain execute_command 'rm -rf /'",
        "cavra policy list",
        "cavra policy show --pack strict",
        "cavra policy validate p.yaml",
        "cavra policy test --all",
        "cavra policy diff cavra-coding-baseline cavra-strict",
        "cavra policy compile --pack strict -o strict.json",
        "cavra evidence verify",
        "cavra evidence search --rule x",
        "cavra evidence prove rec-1",
        "cavra doctor",
        "cavra --help",
        "cavra --version",
        "cargo run --bin cavra -- evaluate read_file x",
        "cargo run -- serve --port 8080",
        "cat .cavra/policy.yaml",
    ] {
        let o = e.run(
            &["hook", "claude-code"],
            shell_event("claude-code", cmd, &e.proj)
                .to_string()
                .as_bytes(),
        );
        assert_eq!(answer_of("claude-code", &o), "none", "`{cmd}`");
    }
}

/// The strict, regulated and CI packs inherit the self-protection rules.
#[test]
fn every_enforcing_bundled_pack_blocks_cavra_control_commands() {
    let e = env();
    for pack in ["cavra-strict", "cavra-regulated", "cavra-ci-runner"] {
        for cmd in [
            "cavra approvals approve apr-1",
            "cargo run -- keys rotate",
            "sqlite3 .cavra/cavra.db 'delete from approvals'",
        ] {
            let o = e.run(
                &[
                    "evaluate",
                    "execute_command",
                    cmd,
                    "--pack",
                    pack,
                    "--json",
                    "--no-record",
                ],
                b"",
            );
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["decision"], "block", "{pack} `{cmd}`");
            assert!(
                v["rule_id"]
                    .as_str()
                    .unwrap()
                    .starts_with("self_protection."),
                "{pack} `{cmd}`: {v}"
            );
        }
    }
}
