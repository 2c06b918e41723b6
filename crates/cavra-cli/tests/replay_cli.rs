//! End-to-end tests of `cavra policy replay` through the real binary: decisions are
//! recorded with `cavra evaluate`, then replayed under another pack.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BASELINE: &str = "cavra-coding-baseline";
const STRICT: &str = "cavra-strict";

fn cavra(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["--cavra-dir", dir.join(".cavra").to_str().unwrap()])
        .args(args)
        .current_dir(dir)
        .env("HOME", "/home/dev")
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("CAVRA_NO_EVIDENCE")
        .output()
        .unwrap()
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Records one decision with `cavra evaluate` and checks the recorded outcome.
fn record(dir: &Path, pack: &str, session: &str, action: &str, target: &str, expect: &str) {
    let o = cavra(
        dir,
        &[
            "--json",
            "evaluate",
            action,
            target,
            "--pack",
            pack,
            "--session",
            session,
            "--cwd",
            "/home/dev/project",
            "--repo",
            "/home/dev/project",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", show(&o)));
    assert_eq!(
        v["decision"],
        expect,
        "{action} {target} under {pack}: {}",
        show(&o)
    );
    assert!(v["evidence_record"].is_string(), "recorded: {}", show(&o));
}

fn replay(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "policy", "replay"];
    a.extend_from_slice(args);
    let o = cavra(dir, &a);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", show(&o)));
    (o.status.code().unwrap(), v)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(".cavra/evidence"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("segment-")
        })
        .collect();
    v.sort();
    v
}

fn log_lines(dir: &Path) -> Vec<Value> {
    segments(dir)
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Three decisions under the baseline: one that strict blocks, one that strict holds for
/// approval, one that both allow.
fn baseline_history(dir: &Path) {
    record(
        dir,
        BASELINE,
        "s1",
        "execute_command",
        "npm publish",
        "allow",
    );
    record(
        dir,
        BASELINE,
        "s1",
        "read_file",
        "/home/dev/other/notes.md",
        "allow",
    );
    record(dir, BASELINE, "s2", "read_file", "src/main.rs", "allow");
}

fn changes(v: &Value) -> [u64; 5] {
    let c = &v["changes"];
    [
        "newly_blocked",
        "newly_allowed",
        "approvals_added",
        "approvals_removed",
        "other",
    ]
    .map(|k| {
        c[k].as_u64()
            .unwrap_or_else(|| panic!("changes.{k} missing: {v}"))
    })
}

fn check_strict_over_baseline(v: &Value) {
    assert_eq!(v["records"], 3, "{v}");
    assert_eq!(v["evaluated"], 3, "{v}");
    assert_eq!(v["unreadable"], 0, "{v}");
    assert_eq!(v["unchanged"], 1, "{v}");
    assert_eq!(changes(v), [1, 0, 1, 0, 0], "{v}");
    assert_eq!(v["loosened"], 0);
    assert_eq!(v["tightened"], 2);
    assert_eq!(v["pack"]["id"], STRICT);
    let b = &v["examples"]["newly_blocked"];
    assert_eq!(b.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(b[0]["action"], "execute_command");
    assert_eq!(b[0]["target"], "npm publish");
    assert_eq!(b[0]["session_id"], "s1");
    assert_eq!(b[0]["old"]["decision"], "allow");
    assert_eq!(b[0]["new"]["decision"], "block");
    assert_eq!(b[0]["new"]["rule_id"], "commands.package.publish");
    let a = &v["examples"]["approvals_added"];
    assert_eq!(a.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(a[0]["action"], "read_file");
    assert_eq!(a[0]["target"], "/home/dev/other/notes.md");
    assert_eq!(a[0]["old"]["decision"], "allow");
    assert_eq!(a[0]["new"]["decision"], "require_approval");
    assert!(a[0]["record_id"].as_str().unwrap().starts_with("ev-"));
    for k in ["newly_allowed", "approvals_removed", "other"] {
        assert_eq!(v["examples"][k], json!([]), "{k}: {v}");
    }
    assert_eq!(
        v["transitions"],
        json!({"allow->block": 1, "allow->require_approval": 1})
    );
}

#[test]
fn replay_against_recorded_decisions() {
    let d = tempfile::tempdir().unwrap();
    baseline_history(d.path());
    let before: Vec<Vec<u8>> = segments(d.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let (code, v) = replay(d.path(), &["--pack", STRICT]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["compared_to"], "recorded");
    assert_eq!(v["against"], Value::Null);
    check_strict_over_baseline(&v);
    // the recorded rule of the old decision is reported
    assert_ne!(v["examples"]["newly_blocked"][0]["old"]["rule_id"], "");
    // tightening only: --fail-on-loosen passes
    let (code, _) = replay(d.path(), &["--pack", STRICT, "--fail-on-loosen"]);
    assert_eq!(code, 0);
    // replay never appends to the log
    let after: Vec<Vec<u8>> = segments(d.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn replay_against_a_pack() {
    let d = tempfile::tempdir().unwrap();
    baseline_history(d.path());
    let (code, v) = replay(d.path(), &["--pack", STRICT, "--against", BASELINE]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["compared_to"], "pack");
    assert_eq!(v["against"]["id"], BASELINE);
    check_strict_over_baseline(&v);
    // the old side is a fresh evaluation, independent of what was recorded: strict against
    // itself changes nothing even though the history was recorded under the baseline
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--against", STRICT]);
    assert_eq!(v["evaluated"], 3);
    assert_eq!(v["unchanged"], 3);
    assert_eq!(changes(&v), [0; 5]);
}

#[test]
fn replay_pack_from_a_file() {
    let d = tempfile::tempdir().unwrap();
    baseline_history(d.path());
    let file = d.path().join("strict.json");
    let o = cavra(
        d.path(),
        &[
            "policy",
            "compile",
            "--pack",
            STRICT,
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let (code, v) = replay(d.path(), &["--pack", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    check_strict_over_baseline(&v);
}

#[test]
fn session_filter() {
    let d = tempfile::tempdir().unwrap();
    baseline_history(d.path());
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--session", "s2"]);
    assert_eq!(v["records"], 1, "{v}");
    assert_eq!(v["filtered_out"], 2, "{v}");
    assert_eq!(v["unchanged"], 1);
    assert_eq!(changes(&v), [0; 5]);
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--session", "s1"]);
    assert_eq!(v["records"], 2, "{v}");
    assert_eq!(changes(&v), [1, 0, 1, 0, 0]);
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--session", "nope"]);
    assert_eq!(v["records"], 0);
    assert_eq!(v["filtered_out"], 3);
}

#[test]
fn since_filter() {
    let d = tempfile::tempdir().unwrap();
    baseline_history(d.path());
    record(
        d.path(),
        BASELINE,
        "s3",
        "execute_command",
        "npm publish",
        "allow",
    );
    let lines = log_lines(d.path());
    let last = lines
        .iter()
        .rev()
        .find(|l| l["kind"] == "decision")
        .unwrap();
    let ts = last["timestamp"].as_str().unwrap();
    // only the last record was written at or after its own timestamp
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--since", ts]);
    assert_eq!(v["records"], 1, "{v}");
    assert_eq!(v["filtered_out"], 3, "{v}");
    assert_eq!(changes(&v), [1, 0, 0, 0, 0]);
    assert_eq!(v["examples"]["newly_blocked"][0]["session_id"], "s3");
    // relative durations
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--since", "24h"]);
    assert_eq!(v["records"], 4, "{v}");
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--since", "7d"]);
    assert_eq!(v["records"], 4, "{v}");
    let (_, v) = replay(
        d.path(),
        &["--pack", STRICT, "--since", "2999-01-01T00:00:00Z"],
    );
    assert_eq!(v["records"], 0, "{v}");
    // combined with a session
    let (_, v) = replay(
        d.path(),
        &["--pack", STRICT, "--since", "24h", "--session", "s3"],
    );
    assert_eq!(v["records"], 1, "{v}");
    // a bad value is an error, not an empty report
    let o = cavra(
        d.path(),
        &[
            "policy",
            "replay",
            "--pack",
            STRICT,
            "--since",
            "yesterday-ish",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("yesterday-ish"),
        "{}",
        show(&o)
    );
}

#[test]
fn unreadable_records_are_counted_and_other_kinds_skipped() {
    let d = tempfile::tempdir().unwrap();
    baseline_history(d.path());
    let append = |kind: &str, body: Value| {
        let o = cavra(
            d.path(),
            &[
                "evidence",
                "append",
                "--kind",
                kind,
                "--body",
                &body.to_string(),
            ],
        );
        assert!(o.status.success(), "{}", show(&o));
    };
    // a request that does not deserialize (no actor, target is a number)
    append(
        "decision",
        json!({"session_id": "s1", "cavra_decision": "allow", "rule_id": "x", "request": {"target": 42}}),
    );
    // a decision without a request
    append(
        "decision",
        json!({"session_id": "s1", "cavra_decision": "allow"}),
    );
    // another kind: skipped, not unreadable
    append("note", json!({"text": "hello"}));
    let (code, v) = replay(d.path(), &["--pack", STRICT]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["records"], 5, "{v}");
    assert_eq!(v["evaluated"], 3, "{v}");
    assert_eq!(v["unreadable"], 2, "{v}");
    assert_eq!(v["other_kinds"], 1, "{v}");
    assert_eq!(changes(&v), [1, 0, 1, 0, 0]);
    let u = v["unreadable_examples"].as_array().unwrap();
    assert_eq!(u.len(), 2, "{v}");
    assert!(
        u[0]["reason"].as_str().unwrap().starts_with("request:"),
        "{v}"
    );
    assert!(
        u[0]["record_id"].as_str().unwrap().starts_with("ev-"),
        "{v}"
    );
    assert!(
        u[1]["reason"].as_str().unwrap().contains("no `request`"),
        "{v}"
    );
    // the human report says so too
    let o = cavra(d.path(), &["policy", "replay", "--pack", STRICT]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("unreadable 2"), "{text}");
    assert!(text.contains("unreadable (2):"), "{text}");
}

#[test]
fn fail_on_loosen_when_replaying_strict_history_under_the_baseline() {
    let d = tempfile::tempdir().unwrap();
    record(
        d.path(),
        STRICT,
        "s1",
        "execute_command",
        "npm publish",
        "block",
    );
    record(
        d.path(),
        STRICT,
        "s1",
        "read_file",
        "/home/dev/other/notes.md",
        "require_approval",
    );
    record(d.path(), STRICT, "s1", "read_file", "src/main.rs", "allow");
    let (code, v) = replay(d.path(), &["--pack", BASELINE, "--fail-on-loosen"]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(changes(&v), [0, 1, 0, 1, 0], "{v}");
    assert_eq!(v["loosened"], 2);
    let n = &v["examples"]["newly_allowed"][0];
    assert_eq!(n["target"], "npm publish");
    assert_eq!(n["old"]["decision"], "block");
    assert_eq!(n["old"]["rule_id"], "commands.package.publish");
    assert_eq!(n["new"]["decision"], "allow");
    assert_eq!(
        v["examples"]["approvals_removed"][0]["target"],
        "/home/dev/other/notes.md"
    );
    // without the flag the report is the same and the exit code 0
    let (code, v2) = replay(d.path(), &["--pack", BASELINE]);
    assert_eq!(code, 0);
    assert_eq!(v2["changes"], v["changes"]);
    // --against gives the same answer from the packs alone
    let (code, v3) = replay(
        d.path(),
        &["--pack", BASELINE, "--against", STRICT, "--fail-on-loosen"],
    );
    assert_eq!(code, 2);
    assert_eq!(v3["changes"], v["changes"]);
}

#[test]
fn examples_limit_and_human_output() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..3 {
        record(
            d.path(),
            BASELINE,
            &format!("s{i}"),
            "execute_command",
            "npm publish",
            "allow",
        );
    }
    let (_, v) = replay(d.path(), &["--pack", STRICT, "--examples", "2"]);
    assert_eq!(v["changes"]["newly_blocked"], 3);
    assert_eq!(v["examples"]["newly_blocked"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["examples"]["newly_blocked"][0]["session_id"], "s0",
        "log order"
    );
    let o = cavra(
        d.path(),
        &["policy", "replay", "--pack", STRICT, "--examples", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("newly blocked"), "{text}");
    assert!(text.contains("newly blocked (3, first 1):"), "{text}");
    assert!(text.contains("execute_command `npm publish`"), "{text}");
    assert!(
        text.contains("-> block (commands.package.publish)"),
        "{text}"
    );
}

#[test]
fn clear_errors() {
    let d = tempfile::tempdir().unwrap();
    // no log yet
    let o = cavra(d.path(), &["policy", "replay", "--pack", STRICT]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no evidence log"),
        "{}",
        show(&o)
    );
    baseline_history(d.path());
    let o = cavra(d.path(), &["policy", "replay", "--pack", "no-such-pack"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-pack"),
        "{}",
        show(&o)
    );
    let o = cavra(
        d.path(),
        &["policy", "replay", "--pack", STRICT, "--against", "nope"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--against `nope`"),
        "{}",
        show(&o)
    );
}
