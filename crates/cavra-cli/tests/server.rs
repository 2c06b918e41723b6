//! `cavra serve` through the real binary: a server on loopback (`--listen 127.0.0.1:0`)
//! with a temporary CAVRA directory, talked to over HTTP with a small blocking client
//! (`ureq`, as the hook's server mode will). Covers every endpoint, tokens and roles
//! (401/403), requester ≠ approver, bad input (400/404/405/413/408), parity with
//! `cavra evaluate` and `cavra hook`, and a graceful shutdown after which the evidence
//! verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "server_common.rs"]
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn meta_endpoints_tokens_roles_and_decisions() {
    let s = Srv::start(&[], &[]);
    let (st, v) = get(&s, "/health", None);
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
    let (st, v) = get(&s, "/version", None);
    assert_eq!(st, 200);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let (st, v) = get(&s, "/console/config", None);
    assert_eq!(st, 200);
    assert_eq!(v["backends"]["database"]["kind"], "sqlite");
    assert_eq!(v["auth"]["bearer_tokens"], true);
    let (st, v) = get(&s, "/openapi.json", None);
    assert_eq!(st, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(v["paths"]["/v1/approvals/{id}/approve"]["post"].is_object());

    // no credential, a bad one, a revoked one: 401 as a JSON document
    let req = json!({"action_type": "read_file", "target": ".env", "agent_id": "bot", "session_id": "s1"});
    let (st, v) = post(&s, "/v1/decisions", None, &req);
    assert_eq!(st, 401);
    is_error_doc(&v, "unauthorized");
    let (st, _) = post(&s, "/v1/decisions", Some("cavra-api.v1.tok-x.y"), &req);
    assert_eq!(st, 401);

    let agent_t = s.token("bot", "agent");
    let auditor = s.token("audit", "auditor");
    let (st, v) = post(&s, "/v1/decisions", Some(&agent_t), &req);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["decision"], "block");
    assert_eq!(v["rule_id"], "secrets.dotenv.read");
    let id = v["decision_id"].as_str().unwrap().to_string();
    assert!(v["evidence_record"].is_string(), "recorded: {v}");
    // roles: an auditor does not decide, an agent does not read
    let (st, v) = post(&s, "/v1/decisions", Some(&auditor), &req);
    assert_eq!(st, 403);
    is_error_doc(&v, "forbidden");
    let (st, _) = get(&s, "/v1/decisions", Some(&agent_t));
    assert_eq!(st, 403);
    let (st, _) = get(&s, "/v1/approvals", Some(&agent_t));
    assert_eq!(st, 403);

    // the normalized shape decides the same way
    let normalized = json!({"action": "read_file", "target": ".env",
        "actor": {"agent_id": "bot", "kind": "agent"}, "session_id": "s1"});
    let (st, v) = post(&s, "/v1/decisions", Some(&agent_t), &normalized);
    assert_eq!(
        (st, v["rule_id"].as_str()),
        (200, Some("secrets.dotenv.read"))
    );
    let ok = json!({"action_type": "execute_command", "target": "ls -la", "agent_id": "bot2", "session_id": "s2"});
    let (st, v) = post(&s, "/v1/decisions", Some(&agent_t), &ok);
    assert_eq!((st, v["decision"].as_str()), (200, Some("allow")));

    // listing, filters, pagination, one decision
    let (st, v) = get(&s, "/v1/decisions?decision=block&limit=1", Some(&auditor));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 2);
    assert_eq!(v["hits"].as_array().unwrap().len(), 1);
    assert_eq!(v["next_offset"], 1);
    let (_, v) = get(&s, "/v1/decisions?agent=bot2", Some(&auditor));
    assert_eq!(v["total"], 1);
    assert_eq!(v["hits"][0]["body"]["decision"], "allow");
    let (_, v) = get(
        &s,
        "/v1/decisions?rule=secrets.dotenv.read&session=s1&since=1h",
        Some(&auditor),
    );
    assert_eq!(v["total"], 2);
    let (_, v) = get(&s, "/v1/decisions?until=2000-01-01", Some(&auditor));
    assert_eq!(v["total"], 0);
    let (st, v) = get(&s, "/v1/decisions?limit=0", Some(&auditor));
    assert_eq!(st, 400);
    is_error_doc(&v, "bad_request");
    let (st, v) = get(&s, "/v1/decisions?since=yesterday-ish", Some(&auditor));
    assert_eq!(st, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("since"));
    let (st, v) = get(&s, &format!("/v1/decisions/{id}"), Some(&auditor));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["body"]["decision_id"], id.as_str());
    assert_eq!(v["body"]["rule_id"], "secrets.dotenv.read");
    let (st, v) = get(&s, "/v1/decisions/dec-0000000000000000", Some(&auditor));
    assert_eq!(st, 404);
    is_error_doc(&v, "not_found");

    // bad input: every error a JSON document naming what is wrong
    let (st, v) = call(
        "POST",
        &s.url("/v1/decisions"),
        Some(&agent_t),
        Some("{\"action_type\": "),
    );
    assert_eq!(st, 400);
    is_error_doc(&v, "bad_request");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{v}"
    );
    let (st, v) = post(&s, "/v1/decisions", Some(&agent_t), &json!({"target": "x"}));
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("action_type"),
        "{v}"
    );
    let (st, v) = post(
        &s,
        "/v1/decisions",
        Some(&agent_t),
        &json!({"action": "read_file", "target": 7, "actor": {"agent_id": "a", "kind": "agent"}, "session_id": "s"}),
    );
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("field `target`"),
        "{v}"
    );
    let (st, v) = get(&s, "/v2/nothing", None);
    assert_eq!(st, 404);
    is_error_doc(&v, "not_found");
    let (st, v) = call("PUT", &s.url("/v1/decisions"), Some(&agent_t), Some("{}"));
    assert_eq!(st, 405);
    is_error_doc(&v, "method_not_allowed");

    // metrics
    let (st, m) = get(&s, "/metrics", None);
    assert_eq!(st, 200);
    let m = m.as_str().unwrap().to_string();
    for want in [
        "cavra_decisions_total{outcome=\"block\",rule=\"secrets.dotenv.read\"} 2",
        "cavra_decision_duration_seconds_count 3",
        "cavra_pending_approvals 0",
        "cavra_evidence_appends_total 3",
        "cavra_evidence_append_failures_total 0",
        "cavra_http_requests_total{method=\"POST\",route=\"/v1/decisions\",status=\"401\"} 2",
    ] {
        assert!(m.contains(want), "{want} missing:\n{m}");
    }

    // tokens: listed without the secret, revoked → 401
    let o = cavra(&s.dir, &["--json", "tokens", "list"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        !o.stdout.contains(&agent_t),
        "the token itself is never listed"
    );
    let list = o.json();
    let bot = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "bot")
        .unwrap();
    let o = cavra(&s.dir, &["tokens", "revoke", bot["id"].as_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (st, _) = post(&s, "/v1/decisions", Some(&agent_t), &req);
    assert_eq!(st, 401);
}

/// The server caches the tokens it looked up, and a cached token never outlives a
/// change: after requests that cache both tokens, `cavra tokens revoke` (another process
/// writing the database) makes the very next request with the revoked token 401 while
/// the other token keeps working; a token issued afterwards works at once; a cached
/// token's expiry is checked on every request.
#[test]
fn a_revoked_or_expired_token_is_refused_at_the_next_request() {
    let s = Srv::start(&[], &[]);
    let bot = s.token("bot", "agent");
    let other = s.token("other", "agent");
    let req = json!({"action_type": "read_file", "target": "README.md", "agent_id": "bot", "session_id": "s1"});
    for _ in 0..5 {
        for t in [&bot, &other] {
            let (st, v) = post(&s, "/v1/decisions", Some(t), &req);
            assert_eq!(st, 200, "{v}");
        }
    }
    let id = bot.split('.').nth(2).unwrap();
    assert!(id.starts_with("tok-"), "{id}");
    let o = cavra(&s.dir, &["tokens", "revoke", id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (st, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(st, 401, "the very next request after the revocation: {v}");
    is_error_doc(&v, "unauthorized");
    let (st, _) = post(&s, "/v1/decisions", Some(&other), &req);
    assert_eq!(st, 200, "the other token is not revoked");
    let (st, _) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(st, 401, "and stays refused");
    let third = s.token("third", "agent");
    let (st, _) = post(&s, "/v1/decisions", Some(&third), &req);
    assert_eq!(st, 200, "a new token works at once");

    // expiry: the token is asked with every ~50 ms (so the server holds it cached) until
    // it has certainly expired (issued with 5 s in whole seconds: its expiry is at most
    // 5 s after the command returned, and more than 4 s after it started), then the next
    // request is 401
    let o = cavra(
        &s.dir,
        &[
            "--json", "tokens", "issue", "--name", "short", "--role", "agent", "--ttl", "5s",
        ],
    );
    let t0 = Instant::now();
    assert_eq!(o.code, 0, "{}", o.stderr);
    let short = o.json()["token"].as_str().unwrap().to_string();
    let (st, v) = post(&s, "/v1/decisions", Some(&short), &req);
    assert_eq!(st, 200, "{v}");
    while t0.elapsed() < Duration::from_millis(5050) {
        let _ = post(&s, "/v1/decisions", Some(&short), &req);
        std::thread::sleep(Duration::from_millis(50));
    }
    let (st, _) = post(&s, "/v1/decisions", Some(&short), &req);
    assert_eq!(st, 401, "expired");
}

/// The server caches the agents its decisions ask the registry for, and a cached answer
/// never outlives a change: an unregistered agent's writes are allowed (its absence
/// cached over several decisions); registered with a profile that does not permit
/// writing, its very next write is blocked by the profile; blocked, its very next read is
/// blocked too.
#[test]
fn a_registry_change_decides_the_very_next_decision() {
    let s = Srv::start(&[], &[]);
    let bot = s.token("bot", "agent");
    let admin = s.token("alice", "admin");
    let cwd = s.project.display().to_string();
    let write = json!({"action_type": "write_file", "target": "src/lib.rs", "cwd": cwd,
        "agent_id": "ci-bot", "session_id": "reg"});
    let read = json!({"action_type": "read_file", "target": "README.md", "cwd": cwd,
        "agent_id": "ci-bot", "session_id": "reg"});
    for _ in 0..5 {
        let (st, v) = post(&s, "/v1/decisions", Some(&bot), &write);
        assert_eq!((st, v["decision"].as_str()), (200, Some("allow")), "{v}");
    }
    let new = json!({"agent_id": "ci-bot", "profile": "read-only-reviewer"});
    let (st, v) = post(&s, "/v1/registry/agents", Some(&admin), &new);
    assert_eq!(st, 200, "{v}");
    let (st, v) = post(&s, "/v1/decisions", Some(&bot), &write);
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["decision"].as_str(), v["rule_id"].as_str()),
        (Some("block"), Some("registry.agent.profile")),
        "the very next write after the registration: {v}"
    );
    for _ in 0..3 {
        let (_, v) = post(&s, "/v1/decisions", Some(&bot), &read);
        assert_eq!(v["decision"], "allow", "{v}");
    }
    let block = json!({"reason": "compromised"});
    let (st, v) = post(&s, "/v1/registry/agents/ci-bot/block", Some(&admin), &block);
    assert_eq!(st, 200, "{v}");
    let (_, v) = post(&s, "/v1/decisions", Some(&bot), &read);
    assert_eq!(
        (v["decision"].as_str(), v["rule_id"].as_str()),
        (Some("block"), Some("registry.agent.blocked")),
        "the very next read after the block: {v}"
    );
}

/// Decisions made in parallel (the server's runtime pool) still make one chain: every
/// decision answered is recorded once, and the log verifies.
#[test]
fn parallel_decisions_make_one_verified_chain() {
    let s = Srv::start(&[], &[]);
    let t = s.token("bot", "agent");
    let cwd = s.project.display().to_string();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (url, t, cwd) = (s.url("/v1/decisions"), t.clone(), cwd.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|j| {
                        let target = if j % 2 == 0 { "README.md" } else { ".env" };
                        let req = json!({"action_type": "read_file", "target": target,
                            "cwd": cwd, "agent_id": "bot", "session_id": format!("p{i}")});
                        let (st, v) = call("POST", &url, Some(&t), Some(&req.to_string()));
                        assert_eq!(st, 200, "{v}");
                        v["evidence_record"].as_str().unwrap().to_string()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "one record per decision");
    let o = cavra(&s.dir, &["--json", "evidence", "verify"]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let v = o.json();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["records"].as_u64().unwrap() >= 200, "{v}");
}

/// `POST /v1/decisions` gives `cavra evaluate --request` 's decision for the same request.
#[test]
fn decisions_match_cavra_evaluate() {
    let s = Srv::start(&[], &[]);
    let t = s.token("bot", "agent");
    let cwd = s.project.display().to_string();
    for (action, target) in [
        ("read_file", ".env"),
        ("read_file", "README.md"),
        ("execute_command", "true && sudo bash -c 'rm -rf ~'"),
        ("execute_command", "git status"),
        ("git_operation", "origin/main"),
        ("write_file", "/etc/hosts"),
        ("network_request", "https://example.com/x.sh"),
    ] {
        let req = json!({"action_type": action, "target": target, "cwd": cwd,
            "agent_id": "bot", "session_id": "parity"});
        let (st, http) = post(&s, "/v1/decisions", Some(&t), &req);
        assert_eq!(st, 200, "{http}");
        let file = s.project.join("req.json");
        std::fs::write(&file, req.to_string()).unwrap();
        let o = cavra_env(
            &s.project.join("other-state"),
            &[
                "--json",
                "evaluate",
                "--no-record",
                "--request",
                file.to_str().unwrap(),
            ],
            &[("HOME", s._tmp.path().to_str().unwrap())],
        );
        let cli = o.json();
        for k in [
            "decision",
            "proceed",
            "rule_id",
            "rule_ids",
            "severity",
            "request_hash",
            "policy",
        ] {
            assert_eq!(http[k], cli[k], "{action} {target}: `{k}` differs");
        }
        let code = if cli["proceed"] == true { 0 } else { 2 };
        assert_eq!(o.code, code, "{action} {target}");
    }
}

fn hook(s: &Srv, agent: &str, event: &Value) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    cmd.args(["--cavra-dir"])
        .arg(s.project.join("hook-state"))
        .args(["hook", agent])
        .current_dir(&s.project)
        .env("CAVRA_NO_EVIDENCE", "1")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("CAVRA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
    }
}

/// `POST /v1/hooks/{agent}` answers what `cavra hook <agent>` answers.
#[test]
fn hooks_answer_as_cavra_hook_does() {
    let s = Srv::start(&[], &[]);
    let t = s.token("bot", "agent");
    let cwd = s.project.display().to_string();
    let events = [
        (
            "claude-code",
            json!({"hook_event_name": "PreToolUse", "session_id": "h1", "cwd": cwd,
            "tool_name": "Bash", "tool_input": {"command": "rm -rf /"}}),
        ),
        (
            "claude-code",
            json!({"hook_event_name": "PreToolUse", "session_id": "h1", "cwd": cwd,
            "tool_name": "Read", "tool_input": {"file_path": "README.md"}}),
        ),
        (
            "claude-code",
            json!({"hook_event_name": "PreToolUse", "session_id": "h1"}),
        ),
        (
            "codex",
            json!({"hook_event_name": "PreToolUse", "session_id": "h2", "cwd": cwd,
            "tool_name": "Bash", "tool_input": {"command": "cat .env"}}),
        ),
        (
            "gemini",
            json!({"hook_event_name": "BeforeTool", "session_id": "h3", "cwd": cwd,
            "tool_name": "run_shell_command", "tool_input": {"command": "git push --force origin main"}}),
        ),
    ];
    for (agent, event) in events {
        let (st, v) = post(&s, &format!("/v1/hooks/{agent}"), Some(&t), &event);
        assert_eq!(st, 200, "{v}");
        let cli = hook(&s, agent, &event);
        assert_eq!(v["agent"], agent);
        assert_eq!(
            v["exit_code"], cli.code,
            "{agent} {event}: {v} / {}",
            cli.stdout
        );
        // the guidance names the same rule; paths of the two CAVRA directories differ
        let (a, b) = (v["stdout"].as_str().unwrap(), cli.stdout.as_str());
        let decision = |s: &str| {
            serde_json::from_str::<Value>(s).ok().map(|d| {
                d.pointer("/hookSpecificOutput/permissionDecision")
                    .or_else(|| d.get("decision"))
                    .cloned()
            })
        };
        assert_eq!(decision(a), decision(b), "{agent} {event}: {a} / {b}");
        assert_eq!(a.is_empty(), b.is_empty(), "{a} / {b}");
        if !a.is_empty() {
            assert_eq!(v["answer"], serde_json::from_str::<Value>(a).unwrap());
        }
    }
    let (st, v) = post(&s, "/v1/hooks/nobody", Some(&t), &json!({}));
    assert_eq!(st, 404);
    is_error_doc(&v, "not_found");
    // a body that is not JSON is the adapter's fail-closed answer, as on stdin
    let (st, v) = call(
        "POST",
        &s.url("/v1/hooks/claude-code"),
        Some(&t),
        Some("not json"),
    );
    assert_eq!(st, 200);
    assert_eq!(v["exit_code"], 2, "{v}");
}

/// Approvals over HTTP: listed, approved by an approver as their token's identity, never
/// by the requester; the approved action then passes once; evidence is recorded.
#[test]
fn approvals_over_http() {
    let s = Srv::start(&["--non-interactive"], &[]);
    let bot = s.token("bot", "agent");
    let alice = s.token("alice", "admin");
    let bob = s.token("bob", "approver");
    let auditor = s.token("audit", "auditor");
    let cwd = s.project.display().to_string();
    let req = json!({"action_type": "write_file", "target": "/work/elsewhere/cavra-approval-1.txt", "cwd": cwd,
        "agent_id": "ci-agent", "session_id": "ap1"});
    // alice (admin) asks: she is the requester
    let (st, v) = post(&s, "/v1/decisions", Some(&alice), &req);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["decision"], "require_approval", "{v}");
    let id = v["approval_id"].as_str().unwrap().to_string();
    let (st, list) = get(&s, "/v1/approvals?status=pending", Some(&auditor));
    assert_eq!(st, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str()),
        "{list}"
    );
    let (st, _) = get(&s, "/v1/approvals?status=sideways", Some(&auditor));
    assert_eq!(st, 400);
    let (st, one) = get(&s, &format!("/v1/approvals/{id}"), Some(&bob));
    assert_eq!((st, one["state"].as_str()), (200, Some("pending")));
    assert_eq!(one["requested_by"], "alice");
    let (st, _) = get(&s, "/v1/approvals/apr-none", Some(&bob));
    assert_eq!(st, 404);
    let (_, m) = get(&s, "/metrics", None);
    assert!(
        m.as_str().unwrap().contains("cavra_pending_approvals 1"),
        "{m}"
    );

    let ok = json!({"reason": "reviewed"});
    let path = format!("/v1/approvals/{id}/approve");
    // an agent never approves; an auditor does not; the requester cannot
    let (st, _) = post(&s, &path, Some(&bot), &ok);
    assert_eq!(st, 403);
    let (st, _) = post(&s, &path, Some(&auditor), &ok);
    assert_eq!(st, 403);
    let (st, v) = post(&s, &path, Some(&alice), &ok);
    assert_eq!(st, 403, "{v}");
    is_error_doc(&v, "self_approval");
    let (st, v) = post(&s, &path, Some(&bob), &json!({"reason": "  "}));
    assert_eq!(st, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("reason"));
    let (st, v) = post(&s, &path, Some(&bob), &json!({"reasn": "x"}));
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("reasn"),
        "{v}"
    );
    let (st, v) = post(&s, &path, Some(&bob), &ok);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "approved");
    assert_eq!(v["decided_by"], "bob");
    assert_eq!(v["auth_method"], "token");
    let (st, _) = post(&s, &path, Some(&bob), &ok);
    assert_eq!(st, 409, "decided once");
    let (_, one) = get(&s, &format!("/v1/approvals/{id}"), Some(&auditor));
    assert_eq!(one["signature_verified"], true, "{one}");

    // the approved action passes once (its agent asks again)
    let (_, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["rule_ids"][0], "approval.granted");

    // deny
    let req2 = json!({"action_type": "write_file", "target": "/work/elsewhere/cavra-approval-2.txt", "cwd": cwd,
        "agent_id": "ci-agent", "session_id": "ap1"});
    let (_, v) = post(&s, "/v1/decisions", Some(&bot), &req2);
    let id2 = v["approval_id"].as_str().unwrap().to_string();
    let (st, v) = post(
        &s,
        &format!("/v1/approvals/{id2}/deny"),
        Some(&bob),
        &json!({"reason": "no"}),
    );
    assert_eq!((st, v["state"].as_str()), (200, Some("denied")), "{v}");

    let (st, v) = post(&s, "/v1/approvals/apr-none/approve", Some(&bob), &ok);
    assert_eq!(st, 404, "{v}");
    // the CLI sees the same records, and the log with their evidence verifies
    let o = cavra(&s.dir, &["--json", "approvals", "show", &id]);
    assert_eq!(o.json()["decided_by"], "bob");
    let o = cavra(
        &s.dir,
        &[
            "--json",
            "evidence",
            "search",
            "--kind",
            "approval.approved",
        ],
    );
    assert_eq!(o.json()["total"], 1, "{}", o.stdout);
}

/// Bodies over the limit (413) and slow clients (408) get JSON documents; SIGTERM
/// finishes, exits 0, and the evidence verifies.
#[test]
fn limits_timeouts_and_graceful_shutdown() {
    let tmp_cfg = tempfile::tempdir().unwrap();
    let cfg = tmp_cfg.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        "body_limit_bytes: 2048\nrequest_timeout_secs: 1\nlog_format: json\n",
    )
    .unwrap();
    let mut s = Srv::start(&["--config", cfg.to_str().unwrap()], &[]);
    let t = s.token("bot", "agent");
    let big = json!({"action_type": "read_file", "target": "x".repeat(4096)});
    let (st, v) = post(&s, "/v1/decisions", Some(&t), &big);
    assert_eq!(st, 413, "{v}");
    is_error_doc(&v, "payload_too_large");

    // a client that announces a body and stalls is answered 408 after the timeout
    let addr = s.base.trim_start_matches("http://").to_string();
    // a decision is answered as a JSON document (serialized as it is, not as a tree)
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = "{\"action_type\": \"read_file\", \"target\": \"README.md\"}";
    write!(
        c,
        "POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\ncontent-type: application/json\r\n"),
        "{answer}"
    );
    let doc: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(doc["decision"], "allow", "{doc}");
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        c,
        "POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"action"
    )
    .unwrap();
    let t0 = Instant::now();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert!(t0.elapsed() < Duration::from_secs(15));

    // a client that never finishes its request head is disconnected after the header
    // timeout (the request timeout here, 1 s), without an answer
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(slow, "POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthoriz").unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    let read = slow.read_to_end(&mut got);
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "the stalled head was not timed out: {read:?}"
    );
    assert!(
        read.is_err() || !String::from_utf8_lossy(&got).contains(" 200 "),
        "{got:?}"
    );

    for i in 0..5 {
        let r = json!({"action_type": "execute_command", "target": format!("echo {i}"), "agent_id": "bot"});
        assert_eq!(post(&s, "/v1/decisions", Some(&t), &r).0, 200);
    }
    // a path with an id and a query: the log names the route, neither the id nor the query
    let _ = get(&s, "/v1/decisions/dec-logged-id?marker=q-logged", Some(&t));
    let (status, err) = s.stop();
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("shutting down"), "{err}");
    assert!(err.contains("\"route\":\"/v1/decisions/{id}\""), "{err}");
    assert!(
        !err.contains("dec-logged-id") && !err.contains("q-logged"),
        "{err}"
    );
    // JSON log lines, one per request, naming the route (not the URI) and the status
    assert!(
        err.lines()
            .any(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{err}"
    );
    let answered: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "finished processing request")
        .collect();
    assert!(
        answered
            .iter()
            .any(|v| v["span"]["route"] == "/v1/decisions"
                && v["span"]["method"] == "POST"
                && v["fields"]["status"] == 200),
        "{err}"
    );
    assert!(!err.contains("\"uri\""), "{err}");
    let o = cavra(&s.dir, &["--json", "evidence", "verify"]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let o = cavra(
        &s.dir,
        &["--json", "evidence", "search", "--kind", "decision"],
    );
    // the five decisions above, and the one answered over the raw connection
    assert_eq!(o.json()["total"], 6);
}

#[test]
fn an_unreachable_database_and_bad_settings_fail() {
    let tmp = tempfile::tempdir().unwrap();
    // nothing listens on port 1: the server does not start, and says why (no password)
    let out = spawn(
        tmp.path(),
        &["--database", "postgres://root:hunter2@127.0.0.1:1/cavra"],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let out = spawn(tmp.path(), &["--database", "mysql://db/cavra"], &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
    let out = spawn(tmp.path(), &["--log-format", "xml"], &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = spawn(tmp.path(), &["--listen", "nowhere"], &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid listen address"));
}

/// Issuing a token is a control action: with no terminal and no approver credential it is
/// refused and nothing is stored.
#[test]
fn issuing_a_token_needs_a_person() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let out = Command::new("setsid")
        .arg("-w")
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .arg("--cavra-dir")
        .arg(&dir)
        .args(["tokens", "issue", "--name", "x", "--role", "admin"])
        .env("CAVRA_APPROVER_DIR", tmp.path().join("approver"))
        .env_remove("CAVRA_TOKEN_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("control action"));
    let o = cavra(&dir, &["--json", "tokens", "list"]);
    assert_eq!(o.json(), json!([]));
    let o = cavra(&dir, &["tokens", "issue", "--name", "x", "--role", "root"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("expected admin, approver, auditor or agent"),
        "{}",
        o.stderr
    );
}
