//! `cavra hook <agent>` in server mode (`CAVRA_SERVER`), through the real binaries: the
//! server answers and records; with the server gone the hook decides with the server's
//! cached signed pack, says so and queues the decision; the next answered call uploads the
//! queue into the server's evidence; without a cached pack, or misconfigured, it fails
//! closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "store_common.rs"]
mod store_common;

use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use store_common::{approver_dir, cavra};

// the packs of cavra-runtime's `org` unit tests
const ORG: &str = include_str!("../../cavra-runtime/tests/data/org/org.yaml");
const SOFT: &str = include_str!("../../cavra-runtime/tests/data/org/soft.yaml");
/// A project pack stricter than the server's: it blocks `make`.
const NO_MAKE: &str = "metadata: {id: cavra-proj-no-make, title: A project that blocks make, version: \"1\"}\nrules:\n  - id: proj.no_make\n    effect: block\n    severity: high\n    reason: no make here\n    match:\n      command: {program: [make]}\n";

/// `cavra serve` over the state directory `state`, on a free loopback port.
struct Srv {
    child: Child,
    base: String,
}

impl Srv {
    fn start(state: &Path, home: &Path) -> Srv {
        Srv::start_with(state, home, &[], &[])
    }

    /// With more `serve` arguments and environment (`CAVRA_ORG_POLICY`).
    fn start_with(state: &Path, home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Srv {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("--cavra-dir")
            .arg(state)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(home)
            .env("HOME", home)
            .env("CAVRA_APPROVER_DIR", approver_dir(state))
            .env_remove("CAVRA_SERVER")
            .env_remove("CAVRA_DB")
            .env_remove("CAVRA_DIR")
            .env_remove("CAVRA_DATABASE_URL")
            .env_remove("CAVRA_NO_EVIDENCE")
            .env_remove("CAVRA_NON_INTERACTIVE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("cavra serve: listening on ")
            .unwrap_or_else(|| panic!("no address printed: {line:?}"))
            .to_string();
        Srv { child, base }
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's places: the server's state, the developer's CAVRA directory and project.
struct Places {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    client: PathBuf,
    project: PathBuf,
    token_file: PathBuf,
}

fn places() -> Places {
    let tmp = tempfile::tempdir().unwrap();
    let p = Places {
        state: tmp.path().join("state"),
        client: tmp.path().join("client"),
        project: tmp.path().join("project"),
        token_file: tmp.path().join("agent.token"),
        _tmp: tmp,
    };
    std::fs::create_dir_all(&p.project).unwrap();
    p
}

fn issue_token(state: &Path, role: &str) -> String {
    let o = cavra(
        state,
        &[
            "--json", "tokens", "issue", "--name", "laptop", "--role", role,
        ],
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    o.json()["token"].as_str().unwrap().to_string()
}

struct Hook {
    code: i32,
    stdout: String,
    stderr: String,
}

/// One `cavra hook claude-code` call of a Bash command in server mode at `server`.
fn hook(p: &Places, server: &str, command: &str) -> Hook {
    hook_at(p, Some(server), command)
}

/// [`hook`]; with `None`, no server-mode variable is set (the settings come from the
/// client's `config.yaml`, if any).
fn hook_at(p: &Places, server: Option<&str>, command: &str) -> Hook {
    let event = json!({"hook_event_name": "PreToolUse", "session_id": "s1",
        "cwd": p.project, "tool_name": "Bash", "tool_input": {"command": command}});
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    match server {
        Some(server) => cmd
            .env("CAVRA_SERVER", server)
            .env("CAVRA_TOKEN_FILE", &p.token_file)
            .env("CAVRA_SERVER_TIMEOUT", "5s"),
        None => cmd
            .env_remove("CAVRA_SERVER")
            .env_remove("CAVRA_TOKEN_FILE")
            .env_remove("CAVRA_SERVER_TIMEOUT"),
    };
    let mut child = cmd
        .arg("--cavra-dir")
        .arg(&p.client)
        .args(["hook", "claude-code"])
        .current_dir(&p.project)
        .env("HOME", p.project.parent().unwrap())
        .env("CAVRA_APPROVER_DIR", approver_dir(&p.client))
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_NO_EVIDENCE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Hook {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Hook {
    /// Claude Code reads a deny from the JSON answer (exit 0) or from exit code 2.
    fn denied(&self) -> bool {
        self.stdout.contains("\"permissionDecision\":\"deny\"") && [0, 2].contains(&self.code)
    }
    fn passed(&self) -> bool {
        self.code == 0 && !self.stdout.contains("deny")
    }
    fn asked(&self) -> bool {
        self.code == 0 && self.stdout.contains("\"permissionDecision\":\"ask\"")
    }
    fn offline(&self) -> bool {
        self.says("decided offline")
    }
    fn says(&self, text: &str) -> bool {
        self.stdout.contains(text)
    }
}

impl std::fmt::Display for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}: {} {}", self.code, self.stdout, self.stderr)
    }
}

fn queued(p: &Places) -> usize {
    std::fs::read_dir(p.client.join("server").join("queue"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

/// Every file under `dir` whose text contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(needle)) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn the_server_answers_then_the_cached_pack_decides_offline_and_the_queue_is_uploaded() {
    let p = places();
    let home = p.project.parent().unwrap().to_path_buf();
    let token = issue_token(&p.state, "agent");
    std::fs::write(&p.token_file, format!("{token}\n")).unwrap();

    let srv = Srv::start(&p.state, &home);
    let blocked = hook(&p, &srv.base, "rm -rf /");
    assert!(blocked.denied(), "{} {}", blocked.stdout, blocked.stderr);
    assert!(!blocked.stdout.contains("offline"), "{}", blocked.stdout);
    // the server decided and recorded it; the client cached the server's signed pack
    assert!(
        files_containing(&p.state, "rm -rf /") > 0,
        "not in the server's evidence"
    );
    assert!(p.client.join("server").join("pack.json").is_file());
    assert!(p.client.join("server").join("server.pub").is_file());
    let fine = hook(&p, &srv.base, "git status");
    assert!(fine.passed(), "{} {}", fine.stdout, fine.stderr);
    drop(srv);

    // the server is gone: decided with the cached pack, said so, queued
    let gone = format!("http://{}", "127.0.0.1:1");
    let offline = hook(&p, &gone, "rm -rf /");
    assert!(offline.denied(), "{} {}", offline.stdout, offline.stderr);
    assert!(
        offline.stdout.contains("decided offline"),
        "{}",
        offline.stdout
    );
    let offline_fine = hook(&p, &gone, "git status");
    assert!(
        offline_fine.passed(),
        "{} {}",
        offline_fine.stdout,
        offline_fine.stderr
    );
    assert_eq!(queued(&p), 2);
    assert_eq!(files_containing(&p.state, "offline_decision"), 0);
    // a third entry a hook stopped writing (killed mid-write), a minute ago
    let damaged = p
        .client
        .join("server/queue/000000000000000000000000000000000000001-7.json");
    std::fs::write(
        &damaged,
        "{\"decided_at\":\"2026-12-03T10:00:00Z\",\"reason\":\"cut-short-he",
    )
    .unwrap();
    std::fs::File::options()
        .write(true)
        .open(&damaged)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();

    // back: the next answered call uploads the queue into the server's evidence, the
    // damaged entry too, as it is
    let srv = Srv::start(&p.state, &home);
    let again = hook(&p, &srv.base, "git status");
    assert!(again.passed(), "{} {}", again.stdout, again.stderr);
    assert_eq!(queued(&p), 0, "{}", again.stderr);
    assert!(files_containing(&p.state, "offline_decision") > 0);
    assert!(
        files_containing(&p.state, "offline_entry_unreadable") > 0,
        "the damaged entry is not in the server's evidence"
    );
    assert!(
        files_containing(&p.state, "cut-short-he") > 0,
        "what is left of it"
    );
    let verify = cavra(&p.state, &["evidence", "verify"]);
    assert_eq!(verify.code, 0, "{} {}", verify.stdout, verify.stderr);
}

/// `server.url` and `server.token_file` in the CAVRA directory's `config.yaml` turn server
/// mode on without any variable; a broken file fails closed.
#[test]
fn the_config_file_puts_the_hook_in_server_mode() {
    let p = places();
    let home = p.project.parent().unwrap().to_path_buf();
    let token = issue_token(&p.state, "agent");
    std::fs::write(&p.token_file, format!("{token}\n")).unwrap();
    let srv = Srv::start(&p.state, &home);
    std::fs::create_dir_all(&p.client).unwrap();
    let config = format!(
        "server:\n  url: {}\n  token_file: ~/agent.token\n  timeout: 5s\n",
        srv.base
    );
    std::fs::write(p.client.join("config.yaml"), config).unwrap();
    let blocked = hook_at(&p, None, "rm -rf /tmp/../");
    assert!(blocked.denied(), "{blocked}");
    assert!(
        files_containing(&p.state, "rm -rf /tmp/../") > 0,
        "not decided by the server"
    );
    assert!(p.client.join("server").join("pack.json").is_file());
    assert!(hook_at(&p, None, "git status").passed());
    std::fs::write(p.client.join("config.yaml"), "server:\n  url: [\n").unwrap();
    let broken = hook_at(&p, None, "git status");
    assert!(broken.denied() && broken.says("config.yaml"), "{broken}");
}

#[test]
fn a_tampered_cached_pack_is_not_used_offline() {
    let p = places();
    let home = p.project.parent().unwrap().to_path_buf();
    let token = issue_token(&p.state, "agent");
    std::fs::write(&p.token_file, &token).unwrap();
    let srv = Srv::start(&p.state, &home);
    assert!(hook(&p, &srv.base, "git status").passed());
    drop(srv);
    let pack = p.client.join("server").join("pack.json");
    // one byte more: still a valid pack, no longer the signed one
    let mut text = std::fs::read_to_string(&pack).unwrap();
    text.push(' ');
    std::fs::write(&pack, text).unwrap();
    let h = hook(&p, "http://127.0.0.1:1", "git status");
    assert!(h.denied(), "{} {}", h.stdout, h.stderr);
    assert!(h.stdout.contains("does not verify"), "{}", h.stdout);
}

#[test]
fn without_a_server_or_a_cached_pack_the_hook_fails_closed() {
    let p = places();
    std::fs::write(&p.token_file, "cavra_t_nothing").unwrap();
    let h = hook(&p, "http://127.0.0.1:1", "git status");
    assert!(h.denied(), "{} {}", h.stdout, h.stderr);
    assert!(
        h.stdout.contains("no usable cached server policy"),
        "{}",
        h.stdout
    );
    assert_eq!(queued(&p), 0);
}

#[test]
fn a_wrong_token_is_not_an_allow() {
    let p = places();
    let home = p.project.parent().unwrap().to_path_buf();
    std::fs::write(&p.token_file, "cavra_t_forged").unwrap();
    let srv = Srv::start(&p.state, &home);
    let h = hook(&p, &srv.base, "git status");
    // the server refuses the token (401): there is no cached pack, so nothing is allowed
    assert!(h.denied(), "{} {}", h.stdout, h.stderr);
    assert!(h.stdout.contains("401"), "{}", h.stdout);
}

#[test]
fn server_mode_without_a_token_file_fails_closed() {
    let p = places();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .arg("--cavra-dir")
        .arg(&p.client)
        .args(["hook", "claude-code"])
        .current_dir(&p.project)
        .env("CAVRA_SERVER", "http://127.0.0.1:1")
        .env_remove("CAVRA_TOKEN_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}"#,
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("CAVRA_TOKEN_FILE"), "{stdout}");
}

/// `GET /v1/decisions/stream` carries each recorded decision as it happens, filtered by
/// outcome; a SIGTERM ends open streams, so the graceful shutdown completes.
#[test]
fn recorded_decisions_stream_as_server_sent_events_and_shutdown_ends_them() {
    use std::io::{BufRead, BufReader};
    let p = places();
    let home = p.project.parent().unwrap().to_path_buf();
    let agent_token = issue_token(&p.state, "agent");
    let auditor = {
        let o = cavra(
            &p.state,
            &[
                "--json", "tokens", "issue", "--name", "audit", "--role", "auditor",
            ],
        );
        o.json()["token"].as_str().unwrap().to_string()
    };
    let mut srv = Srv::start(&p.state, &home);
    let client: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    // an unknown outcome is a 400, not an empty stream
    let bad = client
        .get(format!("{}/v1/decisions/stream?decision=blocked", srv.base))
        .header("authorization", format!("Bearer {auditor}"))
        .call()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let resp = client
        .get(format!("{}/v1/decisions/stream?decision=block", srv.base))
        .header("authorization", format!("Bearer {auditor}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(resp.into_body().into_reader()).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let decide = |target: &str| {
        let body = json!({"action_type": "execute_command", "target": target,
            "cwd": p.project, "repo_root": p.project});
        let r = client
            .post(format!("{}/v1/decisions", srv.base))
            .header("authorization", format!("Bearer {agent_token}"))
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    // the stream may be subscribed a moment after its headers: decide until one arrives
    let guard = std::time::Duration::from_secs(30);
    let mut seen = None;
    for _ in 0..20 {
        decide("git status");
        decide("DB_PASSWORD=hunter2 rm -rf /");
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(500)) {
            let mut line = line;
            while !line.starts_with("data:") {
                line = lines.recv_timeout(guard).expect("the event's data line");
            }
            seen = Some(line);
            break;
        }
    }
    let data = seen.expect("a decision event");
    let v: serde_json::Value = serde_json::from_str(data.trim_start_matches("data:").trim())
        .unwrap_or_else(|e| panic!("{e}: {data}"));
    // only blocks: `git status` was filtered out
    assert_eq!(v["decision"]["cavra_decision"], "block", "{v}");
    // the record as the log keeps it: the secret in the command redacted
    assert!(!data.contains("hunter2"), "{data}");
    assert!(
        v["decision"]["target"]
            .as_str()
            .is_some_and(|t| t.contains("[REDACTED") && t.ends_with("rm -rf /")),
        "{v}"
    );
    assert!(
        v["record_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{v}"
    );

    // SIGTERM: the open stream ends and the server exits
    let ok = Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let (done_tx, done) = std::sync::mpsc::channel();
    let mut child = std::mem::replace(&mut srv.child, Command::new("true").spawn().unwrap());
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done
        .recv_timeout(guard)
        .expect("the server exits although a stream was open")
        .unwrap();
    assert!(status.success(), "{status:?}");
    reader.join().unwrap();
}

/// Writes the project's `.cavra/policy.yaml`.
fn project_policy(p: &Places, text: &str) -> PathBuf {
    let file = p.project.join(".cavra").join("policy.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    file
}

/// `POST /v1/hooks/claude-code` with `body` as `content_type`: (status, answer).
fn post_hook(base: &str, token: &str, content_type: &str, body: &str) -> (u16, serde_json::Value) {
    let client: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut r = client
        .post(format!("{base}/v1/hooks/claude-code"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .send(body.as_bytes())
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, v)
}

const ENVELOPE: &str = "application/vnd.cavra.hook+json";

/// A server, an agent token for the hook, and the hook's places.
fn served(args: &[&str], env: &[(&str, &Path)]) -> (Places, Srv, String) {
    let p = places();
    let home = p.project.parent().unwrap().to_path_buf();
    let token = issue_token(&p.state, "agent");
    std::fs::write(&p.token_file, &token).unwrap();
    let srv = Srv::start_with(&p.state, &home, args, env);
    (p, srv, token)
}

#[test]
fn a_stricter_project_policy_is_sent_and_the_server_decides_with_it() {
    // the server decides with a pack of its own (it does not read the project's file)
    let (p, srv, token) = served(&["--pack", "cavra-coding-baseline"], &[]);
    let event = json!({"hook_event_name": "PreToolUse", "session_id": "s1", "cwd": p.project,
        "tool_name": "Bash", "tool_input": {"command": "make"}});
    // before: the bare event, as a thin client sends it, is the server's pack's to decide
    let (st, bare) = post_hook(&srv.base, &token, "application/json", &event.to_string());
    assert_eq!((st, &bare["exit_code"]), (200, &json!(0)), "{bare}");
    assert!(!bare["stdout"].as_str().unwrap().contains("deny"), "{bare}");
    assert!(hook(&p, &srv.base, "make").passed());

    project_policy(&p, NO_MAKE);
    let h = hook(&p, &srv.base, "make");
    assert!(h.denied() && h.says("proj.no_make") && !h.offline(), "{h}");
    // the server decided and recorded it under the project's pack
    assert!(files_containing(&p.state, "cavra-proj-no-make") > 0);
    // the floor (the server's pack) still holds what the project pack does not name
    let h = hook(&p, &srv.base, "rm -rf /");
    assert!(h.denied(), "{h}");
    assert!(hook(&p, &srv.base, "git status").passed());
    // the envelope's text is what decides, not a file the server could read
    let sent = NO_MAKE.replace("proj.no_make", "sent.no_make");
    let text_only = json!({"event": event,
        "project_policy": {"path": "/elsewhere/.cavra/policy.yaml", "text": sent}});
    let (st, v) = post_hook(&srv.base, &token, ENVELOPE, &text_only.to_string());
    assert_eq!(st, 200, "{v}");
    assert!(
        v["stdout"].as_str().unwrap().contains("sent.no_make"),
        "{v}"
    );
    drop(srv);

    // offline: the project pack over the cached floor, the same answers
    let gone = "http://127.0.0.1:1";
    let h = hook(&p, gone, "make");
    assert!(h.denied() && h.offline() && h.says("proj.no_make"), "{h}");
    let h = hook(&p, gone, "rm -rf /");
    assert!(h.denied() && h.offline(), "{h}");
}

/// A project policy that tries to allow what the floor blocks or holds: the floor wins,
/// with the server and without it — the floor being the organisation pack, or the server's
/// own pack when it has none.
#[test]
fn a_softer_project_policy_cannot_soften_the_floor_online_or_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let org = tmp.path().join("org.yaml");
    std::fs::write(&org, ORG).unwrap();
    for with_org in [true, false] {
        let env: &[(&str, &Path)] = if with_org {
            &[("CAVRA_ORG_POLICY", org.as_path())]
        } else {
            &[]
        };
        let (p, srv, _) = served(&[], env);
        project_policy(&p, SOFT);
        let mut srv = Some(srv);
        for online in [true, false] {
            let server = match &srv {
                Some(s) if online => s.base.clone(),
                _ => "http://127.0.0.1:1".to_string(),
            };
            let h = hook(&p, &server, "terraform destroy -auto-approve");
            assert!(
                h.denied() && h.offline() != online,
                "{with_org} {server}: {h}"
            );
            if with_org {
                assert!(h.says("org.no_terraform_destroy"), "{h}");
                let h = hook(&p, &server, "make deploy");
                assert!(h.asked() && h.says("org.deploys_need_approval"), "{h}");
            }
            // what the floor lets through, the project's allow decides
            let h = hook(&p, &server, "terraform plan");
            assert!(h.passed(), "{with_org} {server}: {h}");
            if online {
                // the cached pack is the floor
                let cached = p.client.join("server").join("pack.json");
                let cached = std::fs::read_to_string(cached).unwrap();
                assert_eq!(cached.contains("\"cavra-org\""), with_org, "{with_org}");
                srv = None;
            }
        }
    }
}

#[test]
fn a_project_policy_that_does_not_load_or_cannot_be_sent_fails_closed() {
    let (p, srv, token) = served(&[], &[]);
    assert!(hook(&p, &srv.base, "git status").passed());
    // broken YAML; a pack it extends that only the developer has: denied, named
    let file = project_policy(&p, "rules: [");
    let h = hook(&p, &srv.base, "git status");
    assert!(
        h.denied() && h.says("does not load on the server") && !h.offline(),
        "{h}"
    );
    assert!(h.says(&file.display().to_string()), "{h}");
    std::fs::write(p.project.join(".cavra").join("team-pack.yaml"), SOFT).unwrap();
    let extending = NO_MAKE.replace("version: \"1\"}", "version: \"1\", extends: team-pack}");
    project_policy(&p, &extending);
    let h = hook(&p, &srv.base, "git status");
    assert!(h.denied() && h.says("team-pack"), "{h}");
    // too large to send: denied by the hook itself, nothing decided offline or queued
    project_policy(&p, &format!("{NO_MAKE}# {}\n", "x".repeat(256 * 1024)));
    let h = hook(&p, &srv.base, "git status");
    assert!(
        h.denied() && h.says("larger than 256 KiB") && !h.offline(),
        "{h}"
    );
    assert_eq!(queued(&p), 0);
    // an envelope that is not one, or carries no object event: the fail-closed answer
    for bad in [
        json!({"project_policy": {"path": "p", "text": NO_MAKE}}).to_string(),
        json!({"event": "x"}).to_string(),
        json!({"event": {}, "extra": 1}).to_string(),
        "not json".to_string(),
    ] {
        let (st, v) = post_hook(&srv.base, &token, ENVELOPE, &bad);
        assert_eq!((st, &v["exit_code"]), (200, &json!(2)), "{bad}: {v}");
    }
}

/// `GET path` with `token`: (status, document).
fn get_json(base: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    let client: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = client
        .get(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// The repository inventory: the repository a hook decides in is listed with its agent,
/// the project pack in force, the hook's version, its decisions, the attempt of its project
/// pack to loosen the organisation pack, and (after the server was away) the offline
/// decisions it uploaded.
#[test]
fn the_inventory_lists_the_repository_its_pack_hook_health_and_loosening_attempts() {
    let tmp = tempfile::tempdir().unwrap();
    let org = tmp.path().join("org.yaml");
    std::fs::write(&org, ORG).unwrap();
    let env: &[(&str, &Path)] = &[("CAVRA_ORG_POLICY", org.as_path())];
    let (p, srv, agent_token) = served(&[], env);
    let reader = issue_token(&p.state, "auditor");
    let (st, v) = get_json(&srv.base, "/v1/repositories", &reader);
    assert_eq!((st, v.clone()), (200, json!([])), "{v}");
    project_policy(&p, SOFT);
    assert!(hook(&p, &srv.base, "terraform destroy -auto-approve").denied());
    assert!(hook(&p, &srv.base, "terraform plan").passed());

    let (st, v) = get_json(&srv.base, "/v1/repositories", &reader);
    assert_eq!(st, 200, "{v}");
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 1, "{v}");
    let r = &all[0];
    assert_eq!(r["path"], json!(p.project.display().to_string()), "{r}");
    assert_eq!(r["agents"][0]["agent"], "claude-code", "{r}");
    assert_eq!(r["pack_id"], "cavra-soft", "{r}");
    assert_eq!(r["decisions"], 2, "{r}");
    assert_eq!(r["client_version"], env!("CARGO_PKG_VERSION"), "{r}");
    assert!(r["last_decision_at"].is_string(), "{r}");
    // the floor blocked what the project pack allows: one attempt, with why
    assert_eq!(r["loosen_attempts"], 1, "{r}");
    let why = r["last_loosen_reason"].as_str().unwrap();
    assert!(why.contains("org.no_terraform_destroy"), "{why}");
    assert_eq!(r["offline_uploaded"], 0, "{r}");

    let id = r["id"].as_str().unwrap();
    let (st, one) = get_json(&srv.base, &format!("/v1/repositories/{id}"), &reader);
    assert_eq!((st, &one), (200, r), "{one}");
    let (st, none) = get_json(&srv.base, "/v1/repositories/repo-0000000000000000", &reader);
    assert_eq!(st, 404, "{none}");
    // the hook's token decides; it does not read the inventory
    let (st, _) = get_json(&srv.base, "/v1/repositories", &agent_token);
    assert_eq!(st, 403);
    drop(srv);

    // offline decisions, uploaded with the next answered call
    assert!(hook(&p, "http://127.0.0.1:1", "terraform plan").offline());
    assert!(hook(&p, "http://127.0.0.1:1", "terraform destroy -auto-approve").offline());
    let srv = Srv::start_with(&p.state, p.project.parent().unwrap(), &[], env);
    assert!(hook(&p, &srv.base, "git status").passed());
    assert_eq!(queued(&p), 0);
    let (_, one) = get_json(&srv.base, &format!("/v1/repositories/{id}"), &reader);
    assert_eq!(one["offline_uploaded"], 2, "{one}");
    assert!(one["last_upload_at"].is_string(), "{one}");
    assert_eq!(one["decisions"], 3, "{one}");
}

/// A loopback TCP proxy in front of `to` that keeps every byte the clients send (the
/// requests' heads and bodies, in the order the calls were made; the calls are sequential).
struct Recorder {
    base: String,
    sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Recorder {
    fn start(to: &str) -> Recorder {
        let to = to.strip_prefix("http://").unwrap().to_string();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = sent.clone();
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = std::net::TcpStream::connect(&to) else {
                    return;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let keep = keep.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = std::io::Read::read(&mut client, &mut buf) {
                        if n == 0 || server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        keep.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = server.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Recorder { base, sent }
    }

    /// The request lines and `x-cavra-queued` values the clients sent, in order.
    fn calls(&self) -> Vec<(String, Option<String>)> {
        let text = String::from_utf8_lossy(&self.sent.lock().unwrap()).to_string();
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for line in text.split("\r\n") {
            // a request line, maybe right after the previous request's body
            let start = line.find("POST /").or_else(|| line.find("GET /"));
            if let Some(at) = start.filter(|_| line.ends_with(" HTTP/1.1")) {
                out.push((line[at..].to_string(), None));
            } else if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("x-cavra-queued") {
                    if let Some(last) = out.last_mut() {
                        last.1 = Some(v.trim().to_string());
                    }
                }
            }
        }
        out
    }
}

/// Hook health, offline queue: with the server down two decisions are queued; back up,
/// the next call tells the server 2 wait (`X-Cavra-Queued: 2`) before it uploads them, the
/// upload says it leaves 0, and the inventory shows the 2 uploaded and 0 waiting. A bad
/// `X-Cavra-Queued` is ignored: the same decision, the last good report kept. `cavra repos
/// list|show` prints the inventory through the server.
#[test]
fn the_hook_reports_its_offline_queue_and_the_inventory_keeps_it() {
    let (p, srv, agent_token) = served(&[], &[]);
    let reader = issue_token(&p.state, "auditor");
    assert!(hook(&p, &srv.base, "git status").passed());
    drop(srv);
    assert!(hook(&p, "http://127.0.0.1:1", "git status").passed());
    assert!(hook(&p, "http://127.0.0.1:1", "rm -rf /").offline());
    assert_eq!(queued(&p), 2);

    let srv = Srv::start(&p.state, p.project.parent().unwrap());
    let rec = Recorder::start(&srv.base);
    let again = hook(&p, &rec.base, "git status");
    assert!(again.passed(), "{} {}", again.stdout, again.stderr);
    assert_eq!(queued(&p), 0, "{}", again.stderr);
    let calls = rec.calls();
    let hook_call = calls
        .iter()
        .position(|(l, _)| l.starts_with("POST /v1/hooks/claude-code "))
        .unwrap_or_else(|| panic!("{calls:?}"));
    let upload = calls
        .iter()
        .position(|(l, _)| l.starts_with("POST /v1/sync/evidence "))
        .unwrap_or_else(|| panic!("{calls:?}"));
    assert!(hook_call < upload, "{calls:?}");
    assert_eq!(calls[hook_call].1.as_deref(), Some("2"), "{calls:?}");
    assert_eq!(calls[upload].1.as_deref(), Some("0"), "{calls:?}");

    let (_, all) = get_json(&srv.base, "/v1/repositories", &reader);
    let r = &all.as_array().unwrap()[0];
    assert_eq!(r["offline_uploaded"], 2, "{r}");
    assert_eq!(r["offline_queued"], 0, "{r}");
    assert!(r["queued_reported_at"].is_string(), "{r}");
    let reported_at = r["queued_reported_at"].clone();

    // a bad count changes neither the decision nor the inventory's last report
    let event = json!({"hook_event_name": "PreToolUse", "session_id": "s1",
        "cwd": p.project, "tool_name": "Bash", "tool_input": {"command": "rm -rf /"}})
    .to_string();
    let post = |queued: Option<&str>| {
        let client: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = client
            .post(format!("{}/v1/hooks/claude-code", srv.base))
            .header("authorization", format!("Bearer {agent_token}"))
            .header("content-type", "application/json");
        if let Some(q) = queued {
            req = req.header("x-cavra-queued", q);
        }
        let mut r = req.send(event.as_bytes()).unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v
    };
    let plain = post(None);
    assert_eq!(
        plain["answer"]["hookSpecificOutput"]["permissionDecision"], "deny",
        "{plain}"
    );
    for bad in ["-3", "lots", "1.5", "99999999999999999999"] {
        assert_eq!(post(Some(bad)), plain, "{bad}");
    }
    let (_, one) = get_json(
        &srv.base,
        &format!("/v1/repositories/{}", r["id"].as_str().unwrap()),
        &reader,
    );
    assert_eq!(one["offline_queued"], 0, "{one}");
    assert_eq!(one["queued_reported_at"], reported_at, "{one}");
    assert_eq!(post(Some("7")), plain);
    let (_, one) = get_json(
        &srv.base,
        &format!("/v1/repositories/{}", r["id"].as_str().unwrap()),
        &reader,
    );
    assert_eq!(one["offline_queued"], 7, "{one}");

    // `cavra repos` reads the same documents through the server
    let repos = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cavra"))
            .args(args)
            .env_remove("CAVRA_SERVER")
            .env_remove("CAVRA_APPROVER_TOKEN_FILE")
            .output()
            .unwrap()
    };
    let o = repos(&[
        "--json", "repos", "list", "--server", &srv.base, "--token", &reader,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed[0], one);
    let id = one["id"].as_str().unwrap();
    let o = repos(&[
        "repos", "show", id, "--server", &srv.base, "--token", &reader,
    ]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("offline_queued     7\n"), "{text}");
    assert!(text.contains("offline_uploaded   2\n"), "{text}");
    let o = repos(&[
        "repos",
        "list",
        "--server",
        &srv.base,
        "--token",
        &agent_token,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = repos(&["repos", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--server URL or set CAVRA_SERVER"));
    let o = repos(&[
        "repos",
        "show",
        "repo-0000000000000000",
        "--server",
        &srv.base,
        "--token",
        &reader,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("404"));
}
