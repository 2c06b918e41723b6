//! The real `cavra` binary: evaluate, explain, policy, hook claude-code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cavra")
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.path())
            .env("CAVRA_DIR", self.path().join(".cavra"))
            .env("HOME", self.path().join("home"))
            .env_remove("CAVRA_NON_INTERACTIVE");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
    fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        let _ = writer.join();
        out
    }
}

fn json(o: &Output) -> Value {
    let s = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&s).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {s}\nstderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn evaluate_json_has_the_documented_fields_and_exit_codes() {
    let e = Env::new();
    let o = e.run(&["evaluate", "read_file", ".env", "--json"]);
    assert_eq!(o.status.code(), Some(2), "blocked exits 2");
    let v = json(&o);
    assert_eq!(v["decision"], "block");
    assert_eq!(v["proceed"], false);
    assert_eq!(v["rule_id"], "secrets.dotenv.read");
    assert_eq!(v["severity"], "high");
    assert!(v["reason"].as_str().unwrap().contains(".env"));
    assert!(v["controls"].as_array().is_some_and(|c| !c.is_empty()));
    assert_eq!(v["policy"]["id"], "cavra-coding-baseline");
    assert!(v["policy"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(v["policy"]["version"].is_string());
    assert_eq!(v["request_hash"].as_str().unwrap().len(), 64);
    assert!(v["evidence_record"].is_string(), "the decision is recorded");

    let o = e.run(&["evaluate", "execute_command", "cargo test", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["decision"], "allow");

    let o = e.run(&["evaluate", "execute_command", "git push --force", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["rule_id"], "git.force_push");
    assert!(v["alternative"]
        .as_str()
        .unwrap()
        .contains("force-with-lease"));

    let o = e.run(&[
        "evaluate",
        "write_file",
        ".github/workflows/ci.yml",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2), "held exits 2");
    let v = json(&o);
    assert_eq!(v["decision"], "require_approval");
    assert_eq!(v["approver_group"], "Platform Security");

    // shadow mode proceeds
    let o = e.run(&[
        "evaluate",
        "read_file",
        ".env",
        "--mode",
        "shadow",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["decision"], "shadow");
    assert_eq!(v["enforced_decision"], "block");
}

#[test]
fn evaluate_usage_errors_exit_1_with_a_message() {
    let e = Env::new();
    let o = e.run(&["evaluate", "launch_rocket", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown action `launch_rocket`"));
    let o = e.run(&["evaluate"]);
    assert_eq!(o.status.code(), Some(1));
    let o = e.run(&["evaluate", "read_file", "x", "--pack", "cavra-nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown pack `cavra-nope`"));
    let o = e.run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn evaluate_reference_request_with_policy_dir_and_registry() {
    let e = Env::new();
    let Some(shared) = shared_or_skip("evaluate_reference_request_with_policy_dir_and_registry")
    else {
        return;
    };
    let dir = shared.join("reference/cavra-policies");
    let reg = shared.join("reference/cavra-data/mcp_registry.json");
    let req = r#"{"action_type": "mcp_tool_call", "target": "unknown-filesystem:read_file", "policy_pack": "cavra-mcp-enterprise", "session_id": "s1", "agent_id": "a1", "actor": "agent", "operation": "filesystem"}"#;
    let o = e.run_stdin(
        &[
            "evaluate",
            "--request",
            "-",
            "--policy-dir",
            dir.to_str().unwrap(),
            "--json",
        ],
        req.as_bytes(),
    );
    let v = json(&o);
    assert_eq!(v["decision"], "block");
    assert_eq!(v["rule_id"], "mcp.server.trust.block_unknown");
    assert_eq!(v["policy"]["id"], "cavra-mcp-enterprise");
    // with the registry, the registry decides
    let req = r#"{"action_type": "mcp_tool_call", "target": "github-mcp:create_pull_request", "server": "github-mcp", "tool": "create_pull_request", "capability": "repository", "policy_pack": "cavra-mcp-enterprise"}"#;
    let o = e.run_stdin(
        &[
            "evaluate",
            "--request",
            "-",
            "--policy-dir",
            dir.to_str().unwrap(),
            "--registry",
            reg.to_str().unwrap(),
            "--json",
        ],
        req.as_bytes(),
    );
    let v = json(&o);
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["rule_id"], "mcp.registry.allow");
    // malformed request
    let o = e.run_stdin(&["evaluate", "--request", "-"], b"{not json");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid JSON"));
}

#[test]
fn explain_names_the_sub_command_and_what_would_change_it() {
    let e = Env::new();
    let o = e.run(&[
        "explain",
        "execute_command",
        "echo hi && bash -c 'rm -rf /'",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    let matched = v["decision"]["matches"][0]["matched"].as_str().unwrap();
    assert!(matched.contains("`bash -c` argument"), "{matched}");
    assert!(matched.contains("rm -rf /"), "{matched}");
    assert!(!v["what_would_change_it"].as_array().unwrap().is_empty());
    let o = e.run(&["explain", "read_file", "src/main.rs"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no rule restricts this action"));
}

#[test]
fn policy_validate_reports_file_line_column_and_hint() {
    let e = Env::new();
    let f = e.path().join("bad.yaml");
    std::fs::write(
        &f,
        "metadata:\n  id: cavra-bad\ncommands:\n  blok:\n    - rm\n",
    )
    .unwrap();
    let o = e.run(&["policy", "validate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml:4:3:"), "{err}");
    assert!(err.contains("did you mean `block`"), "{err}");
    // every reference pack validates unchanged
    let Some(shared) = shared_or_skip("reference packs validate") else {
        return;
    };
    let dir = shared.join("reference/cavra-policies");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().path().join("policy.yaml").display().to_string())
        .collect();
    let mut args = vec!["policy", "validate"];
    args.extend(files.iter().map(String::as_str));
    let o = e.run(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn policy_compile_diff_test_list_show() {
    let e = Env::new();
    let out = e.path().join("baseline.json");
    let o = e.run(&[
        "policy",
        "compile",
        "--pack",
        "baseline",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    // the compiled form loads and decides the same
    let o = e.run(&[
        "evaluate",
        "read_file",
        ".env",
        "--policy",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json(&o)["rule_id"], "secrets.dotenv.read");
    // a tampered compiled form is refused
    let text = std::fs::read_to_string(&out)
        .unwrap()
        .replace("dotenv files hold secrets", "fine");
    std::fs::write(&out, text).unwrap();
    let o = e.run(&[
        "evaluate",
        "read_file",
        ".env",
        "--policy",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("digest mismatch"));

    let o = e.run(&[
        "policy",
        "diff",
        "cavra-coding-baseline",
        "cavra-strict",
        "--json",
    ]);
    let v = json(&o);
    assert!(v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rule_id"] == "files.outside_repo.write" && r["direction"] == "tightened"));
    let o = e.run(&[
        "policy",
        "diff",
        "cavra-strict",
        "cavra-coding-baseline",
        "--json",
    ]);
    assert_eq!(json(&o)["loosens"], true);

    let o = e.run(&["policy", "test", "--all"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(" passed, 0 failed"));

    let o = e.run(&["policy", "list", "--json"]);
    assert_eq!(json(&o).as_array().unwrap().len(), 5);
    let o = e.run(&["policy", "show", "--pack", "strict"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("cavra-coding-baseline"));
}

#[test]
fn policy_test_file_failures_exit_1() {
    let e = Env::new();
    let t = e.path().join("t.yaml");
    std::fs::write(
        &t,
        "tests:\n  - {action: read_file, target: .env, expect: allow}\n  - {action: read_file, target: .env, expect: block}\n",
    )
    .unwrap();
    let o = e.run(&["policy", "test", "--tests", t.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 passed, 1 failed"));
}

#[test]
fn policy_sign_verify_and_refuse_tampering() {
    let e = Env::new();
    let pack = e.path().join("team.yaml");
    std::fs::write(
        &pack,
        "metadata:\n  id: cavra-team\n  version: 1.0.0\n  extends: cavra-coding-baseline\noverrides:\n  - {id: files.outside_repo.write, effect: block}\n",
    )
    .unwrap();
    let key = e.path().join("k");
    assert_eq!(
        e.run(&["policy", "keygen", key.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let o = e.run(&[
        "policy",
        "sign",
        pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pubk = format!("{}.pub", key.display());
    let o = e.run(&[
        "policy",
        "verify",
        pack.to_str().unwrap(),
        "--trusted-key",
        &pubk,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // tamper: a comment changes the bytes
    let mut text = std::fs::read_to_string(&pack).unwrap();
    text.push_str("# sneaky\n");
    std::fs::write(&pack, &text).unwrap();
    let o = e.run(&[
        "policy",
        "verify",
        pack.to_str().unwrap(),
        "--trusted-key",
        &pubk,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("REFUSED"));
    // another key is not trusted
    let other = e.path().join("k2");
    e.run(&["policy", "keygen", other.to_str().unwrap()]);
    std::fs::write(&pack, text.replace("# sneaky\n", "")).unwrap();
    let o = e.run(&[
        "policy",
        "verify",
        pack.to_str().unwrap(),
        "--trusted-key",
        &format!("{}.pub", other.display()),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

fn pre_tool(tool: &str, input: Value, cwd: &Path) -> Vec<u8> {
    serde_json::json!({
        "session_id": "sess-1",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
    })
    .to_string()
    .into_bytes()
}

/// The Claude Code hook's permission decision; `"none"` when it answers with no decision
/// (exit 0, empty stdout: no rule restricts the action, Claude Code's own settings apply).
fn decision_of(o: &Output) -> (String, String) {
    if o.status.code() == Some(0) && o.stdout.iter().all(|b| b.is_ascii_whitespace()) {
        return ("none".into(), String::new());
    }
    let v = json(o);
    let h = &v["hookSpecificOutput"];
    assert_eq!(h["hookEventName"], "PreToolUse");
    (
        h["permissionDecision"].as_str().unwrap().to_string(),
        h["permissionDecisionReason"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[test]
fn claude_code_hook_round_trip() {
    let e = Env::new();
    let proj = e.path();
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool("Bash", serde_json::json!({"command": "rm -rf ~"}), proj),
    );
    assert_eq!(o.status.code(), Some(0));
    let (d, reason) = decision_of(&o);
    assert_eq!(d, "deny");
    assert!(
        reason.contains("commands.destructive.rm_recursive"),
        "{reason}"
    );
    assert!(reason.contains("Safer alternative"), "{reason}");
    assert!(reason.contains("inspected"), "{reason}");
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool("Bash", serde_json::json!({"command": "cargo build"}), proj),
    );
    // no rule restricts it: no permission decision (issue 10 §6)
    assert_eq!(decision_of(&o).0, "none");
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool(
            "Write",
            serde_json::json!({"file_path": proj.join(".github/workflows/x.yml"), "content": "x"}),
            proj,
        ),
    );
    assert_eq!(decision_of(&o).0, "ask");
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool(
            "mcp__fs__read_file",
            serde_json::json!({"path": "~/.ssh/id_rsa"}),
            proj,
        ),
    );
    assert_eq!(decision_of(&o).0, "deny");
    // every decision is in the evidence log
    let o = e.run(&["evidence", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn claude_code_hook_fails_closed() {
    let e = Env::new();
    for bad in [
        &b"not json"[..],
        b"",
        b"[1,2]",
        b"{\"hook_event_name\": \"PreToolUse\"}",
    ] {
        let o = e.run_stdin(&["hook", "claude-code"], bad);
        assert_eq!(
            o.status.code(),
            Some(2),
            "input {:?}",
            String::from_utf8_lossy(bad)
        );
        assert!(!String::from_utf8_lossy(&o.stderr).is_empty());
    }
    // unknown tool
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool("TeleportFiles", serde_json::json!({}), e.path()),
    );
    let (d, reason) = decision_of(&o);
    assert_eq!(d, "deny");
    assert!(reason.contains("unknown tool `TeleportFiles`"), "{reason}");
    // missing field
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool("Bash", serde_json::json!({}), e.path()),
    );
    assert_eq!(decision_of(&o).0, "deny");
    // a 10 MB payload
    let big = vec![b'a'; 10 << 20];
    let o = e.run_stdin(&["hook", "claude-code"], &big);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("larger than"));
    // a 1 MB command: analysed or held, never allowed silently
    let cmd = format!("echo {}", "a ".repeat(600_000));
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool("Bash", serde_json::json!({"command": cmd}), e.path()),
    );
    let d = decision_of(&o).0;
    assert!(d == "deny" || d == "ask", "{d}");
    // an unreadable policy fails closed
    std::fs::create_dir_all(e.path().join(".cavra")).unwrap();
    std::fs::write(e.path().join(".cavra/policy.yaml"), "metadata: [broken").unwrap();
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool("Bash", serde_json::json!({"command": "ls"}), e.path()),
    );
    let (d, reason) = decision_of(&o);
    assert_eq!(d, "deny");
    assert!(reason.contains("policy could not be loaded"), "{reason}");
}

#[test]
fn project_policy_is_used_by_the_hook() {
    let e = Env::new();
    std::fs::create_dir_all(e.path().join(".cavra")).unwrap();
    std::fs::write(
        e.path().join(".cavra/policy.yaml"),
        "metadata:\n  id: cavra-project\n  extends: cavra-coding-baseline\nrules:\n  - id: team.no_make_deploy\n    effect: block\n    reason: deploys go through CI\n    match: {command: {program: [make], subcommand: [deploy]}}\nprograms:\n  make: {subcommand_depth: 1, args: none}\n",
    )
    .unwrap();
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool(
            "Bash",
            serde_json::json!({"command": "make deploy"}),
            e.path(),
        ),
    );
    let (d, reason) = decision_of(&o);
    assert_eq!(d, "deny");
    assert!(reason.contains("team.no_make_deploy"), "{reason}");
    let o = e.run_stdin(
        &["hook", "claude-code"],
        &pre_tool(
            "Bash",
            serde_json::json!({"command": "make test"}),
            e.path(),
        ),
    );
    assert_eq!(decision_of(&o).0, "none");
}

#[test]
fn shared_corpus_scores_100_percent_through_the_binary() {
    let Some(shared) = shared_or_skip("shared_corpus_scores_100_percent_through_the_binary") else {
        return;
    };
    let corpus = shared.join("corpus/dev-corpus.jsonl");
    let text =
        std::fs::read_to_string(&corpus).expect("../shared/corpus/dev-corpus.jsonl is present");
    let e = Env::new();
    let mut misses = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).unwrap();
        let o = e.run_stdin(
            &["hook", "claude-code"],
            row["event"].to_string().as_bytes(),
        );
        let blocked = match o.status.code() {
            Some(2) => true,
            Some(0) => {
                let (d, _) = decision_of(&o);
                d == "deny" || d == "ask"
            }
            other => panic!("{}: exit {other:?}", row["id"]),
        };
        let want_block = row["expect"] == "block";
        if blocked != want_block {
            misses.push(format!(
                "{} ({}): expected {}, got blocked={blocked}",
                row["id"], row["category"], row["expect"]
            ));
        }
        n += 1;
    }
    assert!(n >= 100);
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

#[test]
fn project_policy_compile_is_cached_and_invalidated() {
    let e = Env::new();
    let dir = e.path().join(".cavra");
    std::fs::create_dir_all(&dir).unwrap();
    let team = e.path().join(".cavra/cavra-team-base.yaml");
    std::fs::write(&team, "metadata: {id: cavra-team-base, extends: cavra-coding-baseline}\nrules:\n  - {id: team.no_deploy, effect: block, match: {command: {program: [deployctl]}}}\n").unwrap();
    std::fs::write(
        dir.join("policy.yaml"),
        "metadata: {id: cavra-project, extends: cavra-team-base}\n",
    )
    .unwrap();
    let ask = |cmd: &str| {
        decision_of(&e.run_stdin(
            &["hook", "claude-code"],
            &pre_tool("Bash", serde_json::json!({"command": cmd}), e.path()),
        ))
        .0
    };
    assert_eq!(ask("deployctl up"), "deny");
    let cached: Vec<_> = std::fs::read_dir(dir.join("cache")).unwrap().collect();
    assert_eq!(cached.len(), 1, "one cached compile");
    assert_eq!(ask("deployctl up"), "deny", "served from the cache");
    // the inherited file changes: the cache is not used
    std::fs::write(
        &team,
        "metadata: {id: cavra-team-base, extends: cavra-coding-baseline}\n",
    )
    .unwrap();
    assert_eq!(ask("deployctl up"), "none");
    // a broken project policy is never masked by a cache
    std::fs::write(
        dir.join("policy.yaml"),
        "metadata: {id: cavra-project, extends: cavra-team-base}\nrules: [oops\n",
    )
    .unwrap();
    assert_eq!(ask("ls"), "deny");
}

/// `../shared` beside the repository (the reference packs, schemas and agent-event corpus).
/// When it is missing the test is skipped with a visible note (written past the test
/// harness's capture), unless `CAVRA_REQUIRE_SHARED=1` (set by `.ci/run`): then it fails.
#[allow(dead_code)]
fn shared_or_skip(what: &str) -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CAVRA_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("../shared not present (needed by {what}) and CAVRA_REQUIRE_SHARED=1");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: ../shared not present ({what})");
    None
}
