//! Control actions need an authenticated person, through the real binary: the terminal
//! confirmation (driven through a pseudo-terminal), the refusal without a terminal,
//! approver tokens (valid, expired, wrong key, wrong role, self-approval), records written
//! into the database by other means (ignored by the hook, reported by `doctor`, one tamper
//! event each) and blanket break-glass.

#![allow(clippy::unwrap_used, clippy::panic)]

mod store_common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cavra_store::{ApprovalState, ApproverKey, OffsetDateTime, Role, Store};
use store_common::*;
use tempfile::TempDir;

/// Runs the binary on a fresh pseudo-terminal (its controlling terminal), waits for the
/// confirmation question, types `answer`, and returns (exit code, everything the terminal
/// showed).
const PTY_DRIVER: &str = r#"
import os, pty, select, sys
answer = sys.argv[1].encode()
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
buf = b""
def pump(until, limit):
    global buf
    while until is None or until not in buf:
        r, _, _ = select.select([fd], [], [], limit)
        if not r:
            return
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return
        buf += data
pump(b"Type y or yes", 20)
if b"Type y or yes" in buf:
    os.write(fd, answer + b"\n")
pump(None, 20)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

fn pty(dir: &Path, answer: &str, args: &[&str]) -> (i32, String) {
    pty_under(dir, answer, args, &[], &[])
}

/// [`pty`], with the pseudo-terminal's driver started by `launcher` (a command prefix) and
/// with the variables `env` set.
fn pty_under(
    dir: &Path,
    answer: &str,
    args: &[&str],
    launcher: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
    let mut cmd = match launcher {
        [first, rest @ ..] => {
            let mut c = Command::new(first);
            c.args(rest).arg("python3");
            c
        }
        [] => Command::new("python3"),
    };
    cmd.envs(env.iter().copied());
    cmd.arg("-c")
        .arg(PTY_DRIVER)
        .arg(answer)
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .arg("--cavra-dir")
        .arg(dir)
        .args(args)
        .env("CAVRA_APPROVER_DIR", approver_dir(dir))
        .env_remove("CAVRA_TOKEN_FILE")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_DIR")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The binary with no controlling terminal (`setsid`), no token, `stdin` as given.
fn no_terminal(dir: &Path, args: &[&str], stdin: &[u8]) -> Out {
    let mut cmd = Command::new("setsid");
    cmd.arg("-w")
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .arg("--cavra-dir")
        .arg(dir)
        .args(args)
        .env("CAVRA_APPROVER_DIR", approver_dir(dir))
        .env_remove("CAVRA_TOKEN_FILE")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The OS user name of this process, as `id -un` reports it.
fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn state(dir: &Path, id: &str) -> ApprovalState {
    Store::open(db_path(dir))
        .unwrap()
        .approval(id)
        .unwrap()
        .state
}

#[test]
fn terminal_confirmation_approves_as_the_os_user() {
    let d = TempDir::new().unwrap();
    let id = seed_pending(d.path(), "h1", 1);
    let (code, shown) = pty(
        d.path(),
        "yes",
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "Alice",
            "--reason",
            "reviewed",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{shown}");
    // what is approved is shown before the question
    for needle in [
        id.as_str(),
        "execute_command",
        "rm -rf /tmp/important",
        "claude-code",
        "commands.default.require_approval",
        "Repository Owners",
        "Type y or yes",
    ] {
        assert!(shown.contains(needle), "missing {needle}: {shown}");
    }
    let v = cavra(d.path(), &["approvals", "show", &id, "--json"]).json();
    assert_eq!(v["state"], "approved");
    // the recorded identity is the OS user; `--as` is a label only
    assert_eq!(v["decided_by"], os_user().as_str(), "{v}");
    assert_eq!(v["auth_method"], "terminal");
    assert_eq!(v["approver_label"], "Alice");
    // the record is signed: the decision pipeline's check accepts it
    assert!(signed_store(d.path())
        .consume_approval("h1", "claude-code", now())
        .unwrap()
        .is_some());
}

#[test]
fn terminal_answer_other_than_yes_changes_nothing() {
    let d = TempDir::new().unwrap();
    let id = seed_pending(d.path(), "h1", 1);
    for answer in ["n", "", "yess", "ok"] {
        let (code, shown) = pty(
            d.path(),
            answer,
            &["approvals", "approve", &id, "--reason", "reviewed"],
        );
        assert_eq!(code, 1, "{answer}: {shown}");
        assert!(shown.contains("not confirmed"), "{answer}: {shown}");
        assert_eq!(state(d.path(), &id), ApprovalState::Pending);
    }
    assert!(!d.path().join("evidence").exists() || evidence_kinds(d.path()).is_empty());
}

/// A terminal that a coding agent opened (a pty under the agent's process, or with the
/// variables agents set for their commands) is not a person's: the confirmation is never
/// asked, and nothing changes.
#[test]
fn a_terminal_under_a_coding_agent_is_refused() {
    let d = TempDir::new().unwrap();
    let key = approver_dir(d.path()).join("approver.key");
    let (code, shown) = pty_under(
        d.path(),
        "y",
        &["keys", "approver", "init"],
        &[],
        &[("CLAUDECODE", "1")],
    );
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains("this terminal belongs to a coding agent: environment variable CLAUDECODE"),
        "{shown}"
    );
    assert!(!shown.contains("Type y or yes"), "{shown}");
    assert!(!key.exists());
    // an ancestor process named like an agent (a shell under the name `claude` that runs
    // the pty driver as its child)
    let bin = d.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/bin/sh", &claude).unwrap();
    let launcher = [claude.to_str().unwrap(), "-c", "\"$@\"; exit $?", "claude"];
    let (code, shown) = pty_under(d.path(), "y", &["keys", "approver", "init"], &launcher, &[]);
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains("belongs to a coding agent: process `claude`"),
        "{shown}"
    );
    assert!(!key.exists());
    // the same launcher under another name is a person's terminal
    let sh = bin.join("myshell");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/bin/sh", &sh).unwrap();
    let launcher = [sh.to_str().unwrap(), "-c", "\"$@\"; exit $?", "myshell"];
    let (code, shown) = pty_under(d.path(), "y", &["keys", "approver", "init"], &launcher, &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(key.exists());
}

#[test]
fn approver_key_and_token_issued_at_the_terminal() {
    let d = TempDir::new().unwrap();
    let (code, shown) = pty(d.path(), "y", &["keys", "approver", "init"]);
    assert_eq!(code, 0, "{shown}");
    let key = approver_dir(d.path()).join("approver.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // never replaced
    let (code, shown) = pty(d.path(), "y", &["keys", "approver", "init"]);
    assert_eq!(code, 1, "{shown}");
    // issuing needs the terminal: refused without one
    let out = no_terminal(
        d.path(),
        &[
            "keys",
            "approver",
            "issue",
            "--subject",
            "alice",
            "--role",
            "approve",
        ],
        b"yes\n",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!out.stdout.contains("cavra-approver.v1."), "{}", out.stdout);
    let (code, shown) = pty(
        d.path(),
        "yes",
        &[
            "keys",
            "approver",
            "issue",
            "--subject",
            "alice",
            "--role",
            "approve",
            "--ttl",
            "1h",
        ],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("subject") && shown.contains("alice"),
        "{shown}"
    );
    let token = shown
        .split_whitespace()
        .find(|w| w.starts_with("cavra-approver.v1."))
        .unwrap()
        .to_string();
    let id = seed_pending(d.path(), "h1", 1);
    let out = no_terminal(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--reason",
            "ok",
            "--token",
            &token,
        ],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(state(d.path(), &id), ApprovalState::Approved);
}

/// Every control action refuses without a terminal and without a credential — even with
/// `yes` on stdin — and changes nothing.
#[test]
fn no_terminal_no_credential_refuses_every_control_action() {
    let d = TempDir::new().unwrap();
    let id = seed_pending(d.path(), "h1", 1);
    {
        let mut s = Store::open(db_path(d.path())).unwrap();
        s.record_block("sess-x", "codex", "critical", now())
            .unwrap();
    }
    let approve = [
        "approvals",
        "approve",
        id.as_str(),
        "--as",
        "alice",
        "--reason",
        "ok",
    ];
    let deny = ["approvals", "deny", id.as_str(), "--reason", "no"];
    let cases: Vec<Vec<&str>> = vec![
        approve.to_vec(),
        deny.to_vec(),
        vec![
            "approvals",
            "break-glass",
            "--reason",
            "incident",
            "--action",
            "read_file",
            "--target",
            "*.env",
        ],
        vec!["sessions", "release", "sess-x", "--reason", "ok"],
        vec![
            "registry",
            "agents",
            "add",
            "bot",
            "--profile",
            "builder",
            "--approved",
        ],
        vec!["registry", "mcp", "add", "jira"],
        vec!["keys", "rotate"],
        vec!["keys", "generate"],
        vec!["evidence", "prune", "--older-than", "0s"],
        vec!["evidence", "repair"],
        vec![
            "uninstall",
            "claude-code",
            "--dir",
            d.path().to_str().unwrap(),
        ],
    ];
    for args in &cases {
        let out = no_terminal(d.path(), args, b"yes\n");
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("needs a person")
                && out.stderr.contains("own terminal")
                && out.stderr.contains("--token")
                && out.stderr.contains("nothing was changed"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(state(d.path(), &id), ApprovalState::Pending);
    let s = Store::open(db_path(d.path())).unwrap();
    assert!(s.is_held("sess-x").unwrap());
    assert!(s.list_agents().unwrap().is_empty());
    assert!(s.list_mcp_servers().unwrap().is_empty());
    assert_eq!(
        s.list_approvals(Some(ApprovalState::BreakGlass), now())
            .unwrap()
            .len(),
        0
    );
    // read-only commands need nobody
    let out = no_terminal(d.path(), &["approvals", "list"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn token_approval_valid_expired_wrong_key_wrong_role_self() {
    let d = TempDir::new().unwrap();
    let adir = approver_dir(d.path());
    let id = seed_pending(d.path(), "h1", 1);
    let approve = |token: &str| {
        no_terminal(
            d.path(),
            &[
                "approvals",
                "approve",
                &id,
                "--reason",
                "ok",
                "--token",
                token,
            ],
            b"",
        )
    };
    let hour = Duration::from_secs(3600);
    let refused = [
        (
            token_at(&adir, "alice", &[Role::Approve], minutes_ago(120), hour),
            "expired",
        ),
        (
            ApproverKey::generate()
                .issue_token("alice", &[Role::Admin], now(), hour)
                .unwrap(),
            "signature does not verify",
        ),
        (
            token_at(&adir, "alice", &[Role::Deny, Role::Release], now(), hour),
            "does not grant the `approve` role",
        ),
        (
            token_at(&adir, "claude-code", &[Role::Approve], now(), hour),
            "self-approval",
        ),
        ("cavra-approver.v1.bm9wZQ.AAAA".to_string(), "malformed"),
    ];
    for (token, why) in &refused {
        let out = approve(token);
        assert_eq!(out.code, 1, "{why}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{why}: {}", out.stderr);
        assert_eq!(state(d.path(), &id), ApprovalState::Pending, "{why}");
    }
    let out = approve(&token_at(&adir, "alice", &[Role::Approve], now(), hour));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = cavra(d.path(), &["approvals", "show", &id, "--json"]).json();
    assert_eq!(v["decided_by"], "alice");
    assert_eq!(v["auth_method"], "token");
    assert_eq!(evidence_kinds(d.path()), ["approval.approved"]);
}

/// Under the bundled baseline, break-glass names one action type and a target pattern,
/// within the pack's maximum TTL.
#[test]
fn blanket_break_glass_is_refused() {
    let d = TempDir::new().unwrap();
    let bg = |extra: &[&str]| {
        let mut args = vec![
            "approvals",
            "break-glass",
            "--as",
            "oncall",
            "--reason",
            "incident 42",
        ];
        args.extend_from_slice(extra);
        cavra(d.path(), &args)
    };
    for (extra, why) in [
        (
            vec!["--action", "execute_command", "--target", "*"],
            "matches everything",
        ),
        (
            vec!["--action", "read_file", "--target", "**"],
            "matches everything",
        ),
        (
            vec!["--action", "read_file", "--target", "/**"],
            "matches everything",
        ),
        (
            vec!["--action", "*", "--target", "src/**"],
            "not an action type",
        ),
        (
            vec!["--action", "read_file", "--target", " "],
            "give a request hash",
        ),
        (
            vec!["--action", "read_file", "--target", "*.env", "--ttl", "5h"],
            "max_break_glass_ttl",
        ),
    ] {
        let out = bg(&extra);
        assert_eq!(out.code, 1, "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{extra:?}: {}", out.stderr);
    }
    let none = cavra(d.path(), &["approvals", "list", "--json"]).json();
    assert_eq!(none.as_array().map(Vec::len).unwrap_or(0), 0, "{none}");
    // the everyday scoped override passes
    let out = bg(&["--action", "read_file", "--target", "*.env", "--ttl", "30m"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn write_event(project: &Path) -> String {
    serde_json::json!({
        "session_id": "s-forge",
        "cwd": project,
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": project.join(".github/workflows/ci.yml"), "content": "on: push\n"},
    })
    .to_string()
}

fn hook(project: &Path, cavra_dir: &Path) -> serde_json::Value {
    let mut child = Command::new("setsid")
        .arg("-w")
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .args([
            "--cavra-dir",
            cavra_dir.to_str().unwrap(),
            "hook",
            "claude-code",
        ])
        .current_dir(project)
        .env("CAVRA_APPROVER_DIR", approver_dir(cavra_dir))
        .env("CAVRA_NON_INTERACTIVE", "1")
        .env_remove("CAVRA_TOKEN_FILE")
        .env_remove("CAVRA_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(write_event(project).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tamper_events(dir: &Path) -> usize {
    evidence_kinds(dir)
        .iter()
        .filter(|k| *k == "tamper.unverified_record")
        .count()
}

/// An approval or break-glass row written with sqlite changes no decision; `doctor`
/// reports it; one tamper event per row is recorded, however often it is met.
#[test]
fn forged_database_rows_are_ignored_reported_and_recorded_once() {
    let p = TempDir::new().unwrap();
    let project = p.path();
    std::fs::create_dir_all(project.join(".git")).unwrap();
    let cavra_dir = project.join(".cavra");
    std::fs::create_dir_all(&cavra_dir).unwrap();
    let _ = approver_key(&approver_dir(&cavra_dir));

    let v = hook(project, &cavra_dir);
    let out = &v["hookSpecificOutput"];
    assert_eq!(out["permissionDecision"], "deny", "{v}");
    let reason = out["permissionDecisionReason"].as_str().unwrap();
    // the agent is told a person approves, at their own terminal — no command to run itself
    assert!(reason.contains("a person must approve it"), "{reason}");
    assert!(reason.contains("own terminal"), "{reason}");
    assert!(!reason.contains("--as"), "{reason}");
    let s = Store::open(db_path(&cavra_dir)).unwrap();
    let pending = s
        .list_approvals(Some(ApprovalState::Pending), now())
        .unwrap();
    assert_eq!(pending.len(), 1);
    let id = pending[0].approval_id.clone();
    drop(s);

    // forge: the agent writes the database directly
    let c = rusqlite::Connection::open(db_path(&cavra_dir)).unwrap();
    c.execute(
        "UPDATE approvals SET state = 'approved', decided_by = 'alice', decided_at = ?2, \
         decision_reason = 'lgtm', max_uses = 1000 WHERE approval_id = ?1",
        rusqlite::params![id, OffsetDateTime::now_utc().unix_timestamp()],
    )
    .unwrap();
    let t = OffsetDateTime::now_utc().unix_timestamp();
    c.execute(
        "INSERT INTO approvals (approval_id, request_hash, decision_id, session_id, agent_id, \
         action_type, target, rule_id, severity, approver_group, requested_by, state, \
         requested_at, expires_at, decided_by, break_glass, break_glass_reason, history) VALUES \
         ('bg-forged', '', 'd', '', '', 'write_file', '**', 'break_glass', 'critical', 'g', \
         'alice', 'break_glass', ?1, ?2, 'alice', 1, 'trust me', '[]')",
        rusqlite::params![t, t + 3600],
    )
    .unwrap();
    drop(c);

    for _ in 0..3 {
        let v = hook(project, &cavra_dir);
        assert_eq!(
            v["hookSpecificOutput"]["permissionDecision"], "deny",
            "forged rows must not allow: {v}"
        );
    }
    assert_eq!(
        tamper_events(&cavra_dir),
        2,
        "{:?}",
        evidence_kinds(&cavra_dir)
    );

    let doctor = Command::new("setsid")
        .arg("-w")
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .args([
            "--cavra-dir",
            cavra_dir.to_str().unwrap(),
            "doctor",
            "--json",
        ])
        .arg("--dir")
        .arg(project)
        .current_dir(project)
        .env("CAVRA_APPROVER_DIR", approver_dir(&cavra_dir))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "approval records")
        .cloned()
        .unwrap_or_else(|| panic!("no approval-records check: {report}"));
    assert_eq!(check["ok"], false, "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains("TAMPERING"), "{detail}");
    assert!(
        detail.contains(&id) && detail.contains("bg-forged"),
        "{detail}"
    );
    assert_eq!(doctor.status.code(), Some(1));
    assert_eq!(
        tamper_events(&cavra_dir),
        2,
        "doctor does not record them again"
    );

    // the hook opened a fresh request; a person's real approval of it passes
    let s = Store::open(db_path(&cavra_dir)).unwrap();
    let pending = s
        .list_approvals(Some(ApprovalState::Pending), now())
        .unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let fresh = pending[0].approval_id.clone();
    drop(s);
    let out = cavra(
        &cavra_dir,
        &[
            "approvals",
            "approve",
            &fresh,
            "--as",
            "alice",
            "--reason",
            "reviewed",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = hook(project, &cavra_dir);
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecision"], "allow",
        "{v}"
    );

    // a person listing approvals sees which records are signed
    let list = cavra(&cavra_dir, &["approvals", "list", "--json"]).json();
    let verified = |want: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == want)
            .map(|a| a["signature_verified"].clone())
    };
    assert_eq!(verified(&id), Some(serde_json::json!(false)), "{list}");
    assert_eq!(
        verified("bg-forged"),
        Some(serde_json::json!(false)),
        "{list}"
    );
    assert_eq!(verified(&fresh), Some(serde_json::json!(true)), "{list}");
    let table = cavra(&cavra_dir, &["approvals", "list"]);
    assert!(table.stdout.contains("UNSIGNED"), "{}", table.stdout);
    let shown = cavra(&cavra_dir, &["approvals", "show", &id]);
    assert!(shown.stdout.contains("!! UNSIGNED"), "{}", shown.stdout);
}
