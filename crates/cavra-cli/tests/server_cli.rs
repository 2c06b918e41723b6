//! `cavra approvals …` and `cavra sessions …` through a running `cavra serve`
//! (`CAVRA_SERVER`), as a person with their own server token (`CAVRA_APPROVER_TOKEN_FILE`),
//! through the real binaries: the hook held through the server names the server's approval
//! URL; the person approves with the CLI and the held action then passes; the agent's token
//! is refused (403, non-zero exit); deny; `--json` is the server's document and the text is
//! the local command's; a server that is not there is an error, never "approved".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server_common;

use serde_json::{json, Value};
use server_common::{cavra, cavra_env, get, run_with_stdin, Out, Srv};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The person's side: an empty CAVRA directory (nothing local is used) and token files.
struct Person {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    files: PathBuf,
}

impl Person {
    fn new() -> Person {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, files) = (tmp.path().join("cavra"), tmp.path().join("tokens"));
        std::fs::create_dir_all(&files).unwrap();
        Person {
            _tmp: tmp,
            dir,
            files,
        }
    }

    fn token_file(&self, name: &str, token: &str) -> PathBuf {
        let f = self.files.join(name);
        std::fs::write(&f, format!("{token}\n")).unwrap();
        f
    }

    /// `cavra ARGS` with CAVRA_SERVER=`server` and the person's token file (if any).
    fn cavra(&self, server: &str, token_file: Option<&Path>, args: &[&str]) -> Out {
        let file = token_file.map(|f| f.display().to_string());
        let mut env = vec![("CAVRA_SERVER", server)];
        if let Some(f) = &file {
            env.push(("CAVRA_APPROVER_TOKEN_FILE", f.as_str()));
        }
        cavra_env(&self.dir, args, &env)
    }
}

/// `cavra hook claude-code` for a Write outside the project, through the server.
fn hook(s: &Srv, agent_token: &Path, target: &str) -> Out {
    let event = json!({"hook_event_name": "PreToolUse", "session_id": "hs-cli",
        "cwd": s.project, "tool_name": "Write",
        "tool_input": {"file_path": target, "content": "x"}});
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    cmd.arg("--cavra-dir")
        .arg(tmp.path().join("client"))
        .args(["hook", "claude-code"])
        .current_dir(&s.project)
        .env("HOME", tmp.path())
        .env("CAVRA_SERVER", &s.base)
        .env("CAVRA_TOKEN_FILE", agent_token)
        .env("CAVRA_SERVER_TIMEOUT", "10s")
        .env("CAVRA_APPROVER_DIR", tmp.path().join("approver"))
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_APPROVER_TOKEN_FILE");
    run_with_stdin(&mut cmd, event.to_string().as_bytes())
}

fn pending(s: &Srv, auditor: &str) -> Vec<String> {
    let (st, list) = get(s, "/v1/approvals?status=pending", Some(auditor));
    assert_eq!(st, 200, "{list}");
    let ids = list.as_array().unwrap().iter();
    ids.map(|a| a["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_person_approves_and_denies_through_the_server_with_the_cli() {
    let s = Srv::start(&["--non-interactive"], &[]);
    let (bot, bob, auditor) = (
        s.token("bot", "agent"),
        s.token("bob", "approver"),
        s.token("audit", "auditor"),
    );
    let me = Person::new();
    let agent_file = me.token_file("agent.token", &bot);
    let bob_file = me.token_file("bob.token", &bob);
    let auditor_file = me.token_file("audit.token", &auditor);

    // the held agent is told where a person approves: the server's URL of the request
    let target = "/work/elsewhere/cavra-cli-approval.txt";
    let held = hook(&s, &agent_file, target);
    assert_eq!(
        held.code, 0,
        "claude-code's deny is a JSON answer: {}",
        held.stderr
    );
    let ids = pending(&s, &auditor);
    assert_eq!(ids.len(), 1, "{ids:?} {}", held.stdout);
    let id = &ids[0];
    let answer: Value = serde_json::from_str(&held.stdout).unwrap();
    let reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
    let url = format!("{}/approvals/{id}", s.base);
    assert!(reason.contains(&url), "{reason}");
    assert!(reason.contains("ask a person to approve"), "{reason}");

    // the list and one request: the server's documents, and the local command's text
    let o = me.cavra(
        &s.base,
        Some(&auditor_file),
        &["--json", "approvals", "list"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json(), get(&s, "/v1/approvals", Some(&auditor)).1);
    let o = me.cavra(
        &s.base,
        Some(&auditor_file),
        &["--json", "approvals", "list", "--status", "denied"],
    );
    assert_eq!(o.json(), json!([]));
    let remote = me.cavra(&s.base, Some(&auditor_file), &["approvals", "show", id]);
    let local = cavra(&s.dir, &["approvals", "show", id]);
    assert_eq!((remote.code, local.code), (0, 0), "{}", remote.stderr);
    assert_eq!(remote.stdout, local.stdout);
    assert!(remote.stdout.contains("pending"), "{}", remote.stdout);
    let remote = me.cavra(&s.base, Some(&auditor_file), &["approvals", "list"]);
    assert_eq!(remote.stdout, cavra(&s.dir, &["approvals", "list"]).stdout);

    // the agent's token, an auditor's, or none: refused, nothing approved
    let approve = ["approvals", "approve", id.as_str(), "--reason", "reviewed"];
    for (file, want) in [
        (Some(agent_file.as_path()), "403 forbidden"),
        (Some(auditor_file.as_path()), "403 forbidden"),
        (None, "CAVRA_APPROVER_TOKEN_FILE"),
    ] {
        let o = me.cavra(&s.base, file, &approve);
        assert_eq!(o.code, 1, "{file:?}: {} {}", o.stdout, o.stderr);
        assert!(o.stderr.contains(want), "{file:?}: {}", o.stderr);
        assert!(!o.stdout.contains("approved"), "{}", o.stdout);
    }
    assert_eq!(pending(&s, &auditor), ids, "still pending");

    // bob approves with the CLI: signed by the server, as bob
    let o = me.cavra(&s.base, Some(&bob_file), &approve);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert!(
        o.stdout
            .starts_with(&format!("approved {id} (write_file {target}) by bob")),
        "{}",
        o.stdout
    );
    let (_, one) = get(&s, &format!("/v1/approvals/{id}"), Some(&auditor));
    assert_eq!(
        (one["state"].as_str(), one["decided_by"].as_str()),
        (Some("approved"), Some("bob"))
    );
    assert_eq!(one["signature_verified"], true, "{one}");
    // decided once: the server's 409, named
    let o = me.cavra(&s.base, Some(&bob_file), &approve);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stderr.contains("409 conflict"), "{}", o.stderr);

    // the held action passes now
    let again = hook(&s, &agent_file, target);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("\"deny\""), "{}", again.stdout);

    // deny, with the same flags as the local command, and --token instead of the file
    let held = hook(&s, &agent_file, "/work/elsewhere/cavra-cli-denied.txt");
    assert_eq!(held.code, 0);
    let id2 = pending(&s, &auditor).pop().unwrap();
    let o = me.cavra(
        &s.base,
        None,
        &[
            "--json",
            "approvals",
            "deny",
            &id2,
            "--reason",
            "no",
            "--token",
            &bob,
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        (o.json()["state"].as_str(), o.json()["decided_by"].as_str()),
        (Some("denied"), Some("bob"))
    );
    let o = me.cavra(&s.base, Some(&bob_file), &["approvals", "show", "apr-none"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("404 not found"), "{}", o.stderr);

    // sessions through the server: the same documents
    let o = me.cavra(
        &s.base,
        Some(&auditor_file),
        &["--json", "sessions", "list"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json(), get(&s, "/v1/sessions", Some(&auditor)).1);
}

#[test]
fn a_server_that_is_not_there_is_an_error_never_approved() {
    let me = Person::new();
    let file = me.token_file("bob.token", "cavra_t_whatever");
    let down = "http://127.0.0.1:1";
    for args in [
        &["approvals", "approve", "apr-1", "--reason", "ok"][..],
        &["approvals", "list"][..],
        &["sessions", "release", "s1", "--reason", "ok"][..],
    ] {
        let o = me.cavra(down, Some(&file), args);
        assert_eq!(o.code, 1, "{args:?}: {}", o.stdout);
        assert!(o.stderr.contains("unreachable"), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(down), "{}", o.stderr);
        assert!(!o.stdout.contains("approved"), "{}", o.stdout);
    }
    let o = me.cavra("https://cavra.example", Some(&file), &["approvals", "list"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("http://HOST:PORT"), "{}", o.stderr);
}

#[test]
fn the_public_url_is_what_held_agents_are_told() {
    let s = Srv::start(
        &[
            "--non-interactive",
            "--public-url",
            "https://cavra.example.com/",
        ],
        &[],
    );
    let bot = s.token("bot", "agent");
    let auditor = s.token("audit", "auditor");
    let cwd = s.project.display().to_string();
    let req = json!({"action_type": "write_file", "target": "/work/elsewhere/cavra-public.txt",
        "cwd": cwd, "agent_id": "ci-agent", "session_id": "pu1"});
    let (st, v) = server_common::post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(st, 200, "{v}");
    let id = v["approval_id"].as_str().unwrap();
    let url = format!("https://cavra.example.com/approvals/{id}");
    assert_eq!(v["approval_url"], url.as_str(), "{v}");
    assert!(
        v["approval_message"].as_str().unwrap().contains(&url),
        "{v}"
    );
    let me = Person::new();
    let agent_file = me.token_file("agent.token", &bot);
    let held = hook(&s, &agent_file, "/work/elsewhere/cavra-public-2.txt");
    assert!(
        held.stdout
            .contains("https://cavra.example.com/approvals/apr"),
        "{}",
        held.stdout
    );
    assert_eq!(pending(&s, &auditor).len(), 2);
}
