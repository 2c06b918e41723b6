//! `cavra posture` and `GET /v1/posture` through the real binary: findings from real hook
//! calls (an agent used without its hook installed, repeated blocked attempts), a
//! break-glass override and a held session from a real server, the gate's exit codes, the
//! document the server returns compared with the CLI's `--json` over the same CAVRA
//! directory, bad input refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "server_common.rs"]
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `cavra --cavra-dir DIR ARGS` in `project` with `$HOME` at `home`, `stdin` fed.
fn run(dir: &Path, project: &Path, home: &Path, args: &[&str], stdin: &str) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .arg("--cavra-dir")
        .arg(dir)
        .args(args)
        .current_dir(project)
        .env("HOME", home)
        .env("CAVRA_APPROVER_DIR", approver_dir(dir))
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_SERVER")
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
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn bash(cwd: &Path, session: &str, command: &str) -> String {
    json!({"session_id": session, "cwd": cwd, "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": command}, "tool_use_id": "t1"})
    .to_string()
}

fn finding<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
}

#[test]
fn hook_calls_make_findings_and_the_gate_fails_on_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, project, dir) = (tmp.path(), tmp.path().join("p"), tmp.path().join("state"));
    std::fs::create_dir_all(&project).unwrap();
    assert!(Command::new("git")
        .arg("init")
        .arg("-q")
        .arg(&project)
        .status()
        .unwrap()
        .success());
    let cavra = |args: &[&str], stdin: &str| run(&dir, &project, home, args, stdin);
    let o = cavra(&["init", "claude-code"], "");
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    // claude-code is hooked; codex is used without a hook
    for _ in 0..5 {
        let o = cavra(
            &["hook", "codex"],
            &bash(&project, "cdx-1", "git push --force origin main"),
        );
        assert!(
            o.stdout.contains("\"permissionDecision\":\"deny\""),
            "blocked: {} {}",
            o.stdout,
            o.stderr
        );
    }
    let o = cavra(
        &["hook", "claude-code"],
        &bash(&project, "cc-1", "cargo test"),
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);

    let o = cavra(&["--json", "posture", "--since", "1h"], "");
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let v = o.json();
    let hook = finding(&v, "hook.missing:codex").unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(hook["severity"], "high");
    assert_eq!(hook["evidence"].as_array().unwrap().len(), 5);
    assert!(finding(&v, "hook.missing:claude-code").is_none(), "{v:#}");
    let agent = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"].as_str().unwrap().starts_with("blocks.agent:codex"))
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        agent["title"].as_str().unwrap().contains("5 blocked"),
        "{agent}"
    );
    // every evidence reference is a record of the log
    let first = hook["evidence"][0].as_str().unwrap();
    let rec = cavra(&["--json", "evidence", "search", "--kind", "decision"], "").json();
    assert!(rec.to_string().contains(first), "{first} not in {rec}");
    let s = &v["stats"];
    let blocked: u64 = s["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block"].as_u64().unwrap())
        .sum();
    let allowed: u64 = s["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["allow"].as_u64().unwrap())
        .sum();
    assert_eq!((blocked, allowed), (5, 1), "{s:#}");
    assert_eq!(
        s["top_sessions"][0],
        json!({"session": "cdx-1", "count": 5})
    );
    let score = v["score"].as_u64().unwrap();
    assert!(score < 100 && score > 0, "{score}");

    // text form
    let o = cavra(&["posture", "--since", "1h"], "");
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("hook.missing:codex") && o.stdout.contains("cavra init codex"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains(&format!("{score}/100")), "{}", o.stdout);

    // the HTML report: one file, charts inline, the findings in it
    let html = tmp.path().join("report.html");
    let o = cavra(
        &["posture", "--since", "1h", "--html", html.to_str().unwrap()],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.matches("<svg").count() == 4);
    assert!(page.contains("hook.missing:codex") && page.contains("git.force_push"));
    assert!(
        !page.contains("<script") && !page.contains("src="),
        "self-contained"
    );

    // the gate
    let gate = |extra: &[&str]| {
        let mut a = vec!["posture", "--since", "1h", "gate"];
        a.extend_from_slice(extra);
        cavra(&a, "")
    };
    let o = gate(&["--fail-on", "high"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("gate failed: high finding `hook.missing:codex`"),
        "{}",
        o.stderr
    );
    assert_eq!(gate(&["--fail-on", "critical"]).code, 0);
    let s = score.to_string();
    assert_eq!(gate(&["--min-score", &s]).code, 0);
    let above = (score + 1).to_string();
    let o = gate(&["--min-score", &above]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains(&format!("score {score} is below the minimum {above}")),
        "{}",
        o.stderr
    );
    assert_ne!(gate(&["--fail-on", "severe"]).code, 0);
    let o = cavra(&["posture", "--since", "yesterday-ish"], "");
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("--since"), "{}", o.stderr);

    // the thresholds: five blocks are a trend at the default 5, none from 6 on
    let trend = |v: &Value| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"].as_str().unwrap().starts_with("blocks.agent:codex"))
    };
    let o = cavra(
        &[
            "--json",
            "posture",
            "--since",
            "1h",
            "--block-threshold",
            "6",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!trend(&o.json()), "5 blocks under a threshold of 6");
    let o = cavra(
        &[
            "--json",
            "posture",
            "--since",
            "1h",
            "--block-threshold",
            "5",
        ],
        "",
    );
    assert!(trend(&o.json()));
    // the flags also go after `gate`
    let o = cavra(
        &[
            "posture",
            "--since",
            "1h",
            "gate",
            "--block-threshold",
            "6",
            "--min-score",
            "0",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    for (flag, bad, want) in [
        (
            "--block-threshold",
            "0",
            "--block-threshold: 0 is not from 1 to",
        ),
        (
            "--key-max-age",
            "36h",
            "--key-max-age: `36h` is not a whole number of days",
        ),
        (
            "--approval-sla",
            "soon",
            "--approval-sla: `soon` is not a duration",
        ),
    ] {
        let o = cavra(&["posture", "--since", "1h", flag, bad], "");
        assert_eq!(o.code, 1, "{flag} {bad}: {}", o.stdout);
        assert!(o.stderr.contains(want), "{flag} {bad}: {}", o.stderr);
    }
}

#[test]
fn the_server_answers_the_posture_the_cli_prints() {
    let s = Srv::start(&[], &[]);
    let bot = s.token("bot", "agent");
    let admin = s.token("alice", "admin");
    let auditor = s.token("audit", "auditor");
    let ask = |target: &str| {
        let r = json!({"action_type": "execute_command", "target": target, "agent_id": "codex",
            "session_id": "ps1", "policy_pack": "strict"});
        post(&s, "/v1/decisions", Some(&bot), &r).1
    };
    assert_eq!(ask("rm -rf /")["decision"], "block");
    assert_eq!(ask("cargo build")["rule_id"], "session.held");
    let bg = json!({"reason": "incident 42", "action_type": "execute_command", "target": "terraform destroy*", "ttl": "30m"});
    assert_eq!(post(&s, "/v1/break-glass", Some(&admin), &bg).0, 200);

    assert_eq!(get(&s, "/v1/posture", None).0, 401);
    let (st, v) = get(&s, "/v1/posture?since=1h", Some(&auditor));
    assert_eq!(st, 200, "{v}");
    assert!(finding(&v, "session.held:ps1").is_some(), "{v:#}");
    let bgs = v["stats"]["break_glass"].as_array().unwrap();
    assert_eq!(bgs.len(), 1, "{v:#}");
    assert_eq!(
        (bgs[0]["actor"].as_str(), bgs[0]["reason"].as_str()),
        (Some("alice"), Some("incident 42"))
    );
    assert!(finding(
        &v,
        &format!("break_glass.used:{}", bgs[0]["id"].as_str().unwrap())
    )
    .is_some());
    assert!(v["notes"].to_string().contains("hooks not checked"), "{v}");
    assert!(
        !v["findings"].to_string().contains("hook."),
        "the server sees no installation"
    );

    // the CLI over the same CAVRA directory: the same findings but the hooks'
    let o = run(
        &s.dir,
        &s.project,
        s.project.parent().unwrap(),
        &["--json", "posture", "--since", "1h"],
        "",
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let c = o.json();
    let ids = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .filter(|i| !i.starts_with("hook."))
            .collect()
    };
    assert_eq!(ids(&v), ids(&c));
    assert_eq!(v["coverage"], c["coverage"]);
    for k in [
        "top_rules",
        "top_agents",
        "top_sessions",
        "break_glass",
        "approvals_latency",
        "bucket_seconds",
    ] {
        assert_eq!(v["stats"][k], c["stats"][k], "{k}");
    }

    for bad in ["since=whenever", "since=2999-01-01", "since=1h&since=2h"] {
        let (st, e) = get(&s, &format!("/v1/posture?{bad}"), Some(&auditor));
        assert_eq!(st, 400, "{bad}: {e}");
        is_error_doc(&e, "bad_request");
    }
}
