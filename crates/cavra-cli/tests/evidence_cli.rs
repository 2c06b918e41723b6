//! End-to-end tests of `cavra evidence` and `cavra keys` through the real binary.
#![allow(clippy::unwrap_used, clippy::panic)]

mod approver_common;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `args`; a control action (`keys rotate`, `evidence prune|repair`) is authenticated
/// with an approver token.
fn cavra(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    approver_common::authenticate(&mut cmd, &dir.join("approver"), args);
    cmd.args(["--cavra-dir", dir.join(".cavra").to_str().unwrap()])
        .args(args)
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_TRUST_ROOT")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn decision(session: &str, i: usize, outcome: &str) -> Value {
    json!({
        "decision_id": format!("d{i}"), "session_id": session, "agent_id": "claude-code", "actor": "agent",
        "action_type": "shell", "target": format!("cmd {i}"), "requested_operation": "exec",
        "policy_pack": "cavra-baseline", "policy_id": "cavra-baseline", "rule_id": "commands.block",
        "rule_ids": ["commands.block"], "decision": outcome, "cavra_decision": outcome, "proceed": outcome == "allow",
        "severity": "high", "reason": "matched | rule = x", "approver_group": null,
        "controls": {"SOC2": ["CC6.1", "CC7.2"]}, "policy_digest": "sha256:0011", "request_hash": "abc",
        "request": {"command": "mysql -uroot -phunter2 -e 'select 1'", "env": {"GITHUB_TOKEN": "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
        "timestamp": "2025-05-01T10:00:00Z", "correlation_id": format!("c{i}"),
        "evidence_refs": [format!("evidence://{session}/d{i}")],
    })
}

fn append(dir: &Path, body: &Value) -> Value {
    serde_json::from_str(&ok(&cavra(
        dir,
        &[
            "--json",
            "evidence",
            "append",
            "--kind",
            "decision",
            "--body",
            &body.to_string(),
        ],
    )))
    .unwrap()
}

fn verify_json(dir: &Path, extra: &[&str]) -> (bool, Value) {
    let mut a = vec!["--json", "evidence", "verify"];
    a.extend_from_slice(extra);
    let o = cavra(dir, &a);
    (
        o.status.success(),
        serde_json::from_slice(&o.stdout).unwrap(),
    )
}

fn segment(dir: &Path) -> PathBuf {
    dir.join(".cavra/evidence/segment-00000001.jsonl")
}

/// 50 processes × 200 appends at once: nothing lost, duplicated or interleaved.
#[test]
fn concurrent_appends_from_50_processes() {
    let d = tempfile::tempdir().unwrap();
    // create the key first so all processes share it
    append(d.path(), &json!({"init": true}));
    let children: Vec<_> = (0..50)
        .map(|p| {
            Command::new(env!("CARGO_BIN_EXE_cavra"))
                .args(["--cavra-dir", d.path().join(".cavra").to_str().unwrap()])
                .args([
                    "evidence",
                    "append",
                    "--kind",
                    "test",
                    "--count",
                    "200",
                    "--body",
                    &json!({"proc": p, "pad": "x".repeat(100)}).to_string(),
                ])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let (good, rep) = verify_json(d.path(), &["--full"]);
    assert!(good, "{rep}");
    assert_eq!(rep["records"], 10_001);
    assert_eq!(rep["signatures_verified"], 10_001);
    assert!(rep["checkpoints_verified"].as_u64().unwrap() >= 10);
    let text = std::fs::read_to_string(segment(d.path())).unwrap();
    let mut per = [0u32; 50];
    for (i, l) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["seq"], i as u64);
        if let Some(p) = v["body"]["proc"].as_u64() {
            per[p as usize] += 1;
        }
    }
    assert!(per.iter().all(|n| *n == 200), "{per:?}");
}

/// kill -9 during appends, and a torn last record: the log verifies up to the last
/// complete record and the next append repairs it.
#[test]
fn crash_mid_write_is_repaired_by_next_append() {
    let d = tempfile::tempdir().unwrap();
    append(d.path(), &json!({"init": true}));
    let mut c = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["--cavra-dir", d.path().join(".cavra").to_str().unwrap()])
        .args([
            "evidence",
            "append",
            "--kind",
            "test",
            "--count",
            "100000000",
            "--body",
            "{\"k\":1}",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // wait until it has written something, then kill it hard
    let seg = segment(d.path());
    while std::fs::metadata(&seg).map(|m| m.len()).unwrap_or(0) < 200_000 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    c.kill().unwrap();
    c.wait().unwrap();
    // a record torn by a crash inside write(2): part of a new line, unknown to HEAD
    let data = std::fs::read(&seg).unwrap();
    let last = String::from_utf8_lossy(&data)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let mut torn = data.clone();
    torn.extend_from_slice(&last.as_bytes()[..last.len() / 2]);
    std::fs::write(&seg, &torn).unwrap();
    let (good, rep) = verify_json(d.path(), &[]);
    assert!(!good);
    let issues = rep["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{rep}");
    assert_eq!(issues[0]["code"], "incomplete_tail");
    let complete = rep["records"].as_u64().unwrap();
    let a = append(d.path(), &json!({"after": "crash"}));
    assert_eq!(a["seq"].as_u64().unwrap(), complete);
    let (good, rep) = verify_json(d.path(), &[]);
    assert!(good, "{rep}");
}

#[test]
fn tampering_is_reported_with_location() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..5 {
        append(d.path(), &decision("s1", i, "block"));
    }
    let seg = segment(d.path());
    let text = std::fs::read_to_string(&seg).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let changed = lines[2].replace("cmd 2", "cmd 9");
    let new = [lines[0], lines[1], &changed, lines[3], lines[4]].join("\n") + "\n";
    std::fs::write(&seg, new).unwrap();
    let o = cavra(d.path(), &["evidence", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("[hash_mismatch] record #2"), "{out}");
    assert!(
        out.contains("segment-00000001.jsonl:3 field `hash`"),
        "{out}"
    );
}

#[test]
fn secrets_are_redacted_in_the_log() {
    let d = tempfile::tempdir().unwrap();
    append(d.path(), &decision("s1", 0, "block"));
    let text = std::fs::read_to_string(segment(d.path())).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(!text.contains("ghp_aaaa"));
    assert!(text.contains("[REDACTED"));
}

/// A reference schema from `../shared`; `None` (the checks are skipped visibly) without it.
fn schema(name: &str) -> Option<jsonschema::Validator> {
    let shared = shared_or_skip(&format!("reference schema {name}"))?;
    let p = shared.join("reference/cavra-data/schemas").join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    Some(jsonschema::validator_for(&v).unwrap())
}

#[test]
fn bundle_dir_and_zip_validate_and_verify() {
    let d = tempfile::tempdir().unwrap();
    for (i, o) in ["allow", "block", "require_approval"].iter().enumerate() {
        append(d.path(), &decision("s1", i, o));
    }
    append(d.path(), &decision("s2", 9, "allow"));
    let out = d.path().join("bundle");
    ok(&cavra(
        d.path(),
        &[
            "evidence",
            "bundle",
            "--session",
            "s1",
            "--output",
            out.to_str().unwrap(),
        ],
    ));
    for f in [
        "evidence.json",
        "manifest.json",
        "manifest.sig.json",
        "pr-attestation.md",
        "compliance-mapping.md",
        "attestation.intoto.dsse.json",
        "siem-event.json",
        "retention-policy.json",
        "records.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("evidence.json")).unwrap()).unwrap();
    if let Some(es) = schema("evidence.schema.json") {
        assert!(
            es.is_valid(&ev),
            "{:?}",
            es.iter_errors(&ev)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    }
    let decisions = ev["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 3);
    if let Some(ds) = schema("decision.schema.json") {
        for dec in decisions {
            assert!(ds.is_valid(dec), "{dec}");
        }
        // a decision without required fields would fail: the schema check is real
        assert!(!ds.is_valid(&json!({"decision": "allow"})));
    }
    let pr = std::fs::read_to_string(out.join("pr-attestation.md")).unwrap();
    assert!(
        pr.contains("Blocked: 1") && pr.contains("Held for approval: 1"),
        "{pr}"
    );
    assert!(std::fs::read_to_string(out.join("compliance-mapping.md"))
        .unwrap()
        .contains("SOC2: CC6.1"));
    let env: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("attestation.intoto.dsse.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    ok(&cavra(
        d.path(),
        &["evidence", "verify", out.to_str().unwrap()],
    ));
    // one changed byte in a bundled file is caught, naming the file
    let p = out.join("pr-attestation.md");
    std::fs::write(&p, pr.replace("Blocked: 1", "Blocked: 0")).unwrap();
    let o = cavra(d.path(), &["evidence", "verify", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("pr-attestation.md"));
    let zip = d.path().join("b.zip");
    ok(&cavra(
        d.path(),
        &[
            "evidence",
            "bundle",
            "--since",
            "1h",
            "--output",
            zip.to_str().unwrap(),
        ],
    ));
    ok(&cavra(
        d.path(),
        &["evidence", "verify", zip.to_str().unwrap()],
    ));
}

#[test]
fn keys_trust_root_and_proofs() {
    let d = tempfile::tempdir().unwrap();
    let o = cavra(d.path(), &["keys", "generate"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("generated ed25519 key"));
    for i in 0..3 {
        append(d.path(), &decision("s1", i, "allow"));
    }
    let keys: Value =
        serde_json::from_str(&ok(&cavra(d.path(), &["--json", "keys", "list"]))).unwrap();
    let id = keys[0]["key_id"].as_str().unwrap().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(d.path().join(format!(".cavra/keys/{id}.key.json")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o600);
    }
    let tr = d.path().join("trust.json");
    ok(&cavra(
        d.path(),
        &["keys", "export-public", "--output", tr.to_str().unwrap()],
    ));
    assert!(!std::fs::read_to_string(&tr).unwrap().contains("secret"));
    ok(&cavra(
        d.path(),
        &["evidence", "verify", "--trust-root", tr.to_str().unwrap()],
    ));
    // rotate: new records are signed by a key the old trust root does not list
    ok(&cavra(d.path(), &["keys", "rotate"]));
    append(d.path(), &decision("s1", 3, "allow"));
    let (good, rep) = verify_json(d.path(), &["--trust-root", tr.to_str().unwrap()]);
    assert!(!good);
    assert_eq!(rep["issues"][0]["code"], "untrusted_key", "{rep}");
    ok(&cavra(d.path(), &["evidence", "verify"]));
    // a validity window that ended before the records were signed
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(&tr).unwrap()).unwrap();
    t["keys"][0]["not_after"] = json!("2000-01-01T00:00:00Z");
    std::fs::write(&tr, t.to_string()).unwrap();
    let (good, rep) = verify_json(d.path(), &["--trust-root", tr.to_str().unwrap()]);
    assert!(!good);
    assert!(
        rep["issues"].to_string().contains("validity window"),
        "{rep}"
    );
    // inclusion proof, checked offline; tampering with it is caught
    let proof = d.path().join("proof.json");
    ok(&cavra(
        d.path(),
        &[
            "evidence",
            "prove",
            "1",
            "--output",
            proof.to_str().unwrap(),
        ],
    ));
    ok(&cavra(
        d.path(),
        &["evidence", "verify", proof.to_str().unwrap()],
    ));
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    p["record_line"] = json!(p["record_line"].as_str().unwrap().replace("cmd 1", "cmd 2"));
    std::fs::write(&proof, p.to_string()).unwrap();
    assert_eq!(
        cavra(d.path(), &["evidence", "verify", proof.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn search_export_prune_and_plans() {
    let d = tempfile::tempdir().unwrap();
    for (i, o) in ["allow", "block", "block", "require_approval"]
        .iter()
        .enumerate()
    {
        append(d.path(), &decision(if i < 2 { "s1" } else { "s2" }, i, o));
    }
    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["--json", "evidence", "search", "--decision", "block"],
    )))
    .unwrap();
    assert_eq!(r["total"], 2);
    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &[
            "--json",
            "evidence",
            "search",
            "--session",
            "s2",
            "--decision",
            "block",
            "--rule",
            "commands.block",
        ],
    )))
    .unwrap();
    assert_eq!(r["total"], 1);
    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &[
            "--json", "evidence", "search", "--limit", "1", "--offset", "1",
        ],
    )))
    .unwrap();
    assert_eq!(r["hits"].as_array().unwrap().len(), 1);
    // newest first: seqs 3, 2, 1, 0 — offset 1 is the second newest
    assert_eq!(r["hits"][0]["seq"], 2);
    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["--json", "evidence", "search", "--text", "cmd 3"],
    )))
    .unwrap();
    assert_eq!(r["total"], 1);
    ok(&cavra(d.path(), &["evidence", "reindex"]));
    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["--json", "evidence", "search", "--agent", "claude-code"],
    )))
    .unwrap();
    assert_eq!(r["total"], 4);

    let ocsf = ok(&cavra(
        d.path(),
        &["evidence", "export", "--format", "ocsf"],
    ));
    let e: Value = serde_json::from_str(ocsf.lines().nth(1).unwrap()).unwrap();
    assert_eq!(e["class_uid"], 6003);
    assert_eq!(e["type_uid"], 600399);
    assert_eq!(e["action_id"], 2);
    assert!(e["metadata"]["product"]["name"].is_string() && e["time"].is_i64());
    let hec = ok(&cavra(
        d.path(),
        &["evidence", "export", "--format", "splunk-hec"],
    ));
    let h: Value = serde_json::from_str(hec.lines().next().unwrap()).unwrap();
    assert!(h["time"].is_f64() && h["event"].is_object() && h["sourcetype"] == "cavra:decision");
    let cef = ok(&cavra(d.path(), &["evidence", "export", "--format", "cef"]));
    let line = cef.lines().next().unwrap();
    assert!(line.starts_with("CEF:0|CAVRA|CAVRA|"), "{line}");
    assert!(line.contains("msg=matched | rule \\= x"), "{line}");
    assert_eq!(
        line.split('|').count(),
        8 + 1,
        "header has 7 fields + extension (one literal | in msg)"
    );
    let s: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["evidence", "export", "--format", "sentinel"],
    )))
    .unwrap();
    assert!(s[0]["TimeGenerated"].is_string());
    let dd: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["evidence", "export", "--format", "datadog"],
    )))
    .unwrap();
    assert_eq!(dd[0]["ddsource"], "cavra");
    assert_eq!(
        ok(&cavra(
            d.path(),
            &["evidence", "export", "--format", "jsonl"]
        ))
        .lines()
        .count(),
        4
    );
    assert!(!cavra(d.path(), &["evidence", "export", "--format", "xml"])
        .status
        .success());

    assert!(ok(&cavra(
        d.path(),
        &["evidence", "retention-plan", "--provider", "s3"]
    ))
    .contains("Object Lock"));
    assert!(ok(&cavra(
        d.path(),
        &["evidence", "retention-plan", "--provider", "azure"]
    ))
    .contains("immutability-policy"));
    assert!(!cavra(
        d.path(),
        &["evidence", "retention-plan", "--provider", "gcs"]
    )
    .status
    .success());

    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["--json", "evidence", "prune", "--older-than", "0s"],
    )))
    .unwrap();
    assert_eq!(r["records_removed"], 4);
    append(d.path(), &decision("s3", 5, "allow"));
    let (good, rep) = verify_json(d.path(), &["--full"]);
    assert!(good, "{rep}");
    assert_eq!(rep["first_seq"], 4);
    // the tombstone is signed: editing it is caught
    let tp = d.path().join(".cavra/evidence/tombstone.json");
    let t = std::fs::read_to_string(&tp).unwrap();
    std::fs::write(
        &tp,
        t.replace("\"records_removed\": 4", "\"records_removed\": 3"),
    )
    .unwrap();
    let (good, rep) = verify_json(d.path(), &[]);
    assert!(!good);
    assert!(rep["issues"].to_string().contains("bad_tombstone"), "{rep}");
    let r: Value = serde_json::from_str(&ok(&cavra(
        d.path(),
        &["--json", "evidence", "search", "--session", "s1"],
    )))
    .unwrap();
    assert_eq!(r["total"], 0);
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

#[test]
fn search_is_newest_first_validated_with_ids_and_aligned_columns() {
    let d = tempfile::tempdir().unwrap();
    for (i, o) in ["allow", "block", "require_approval"].iter().enumerate() {
        append(d.path(), &decision("s1", i, o));
    }
    let r: Value =
        serde_json::from_str(&ok(&cavra(d.path(), &["--json", "evidence", "search"]))).unwrap();
    let seqs: Vec<u64> = r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["seq"].as_u64().unwrap())
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seqs, sorted, "newest first");
    assert_eq!(seqs.len(), 3);
    // a misspelt value is an error that lists the valid ones, not zero matches
    let o = cavra(d.path(), &["evidence", "search", "--decision", "blocked"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for v in [
        "allow",
        "block",
        "require_approval",
        "shadow",
        "break_glass",
    ] {
        assert!(err.contains(v), "{v} missing in {err}");
    }
    let o = cavra(
        d.path(),
        &["evidence", "search", "--action-type", "shell_cmd"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("execute_command"));
    // the valid value still matches
    let o = cavra(d.path(), &["evidence", "search", "--decision", "block"]);
    let text = ok(&o);
    // a header, ids shown, every column starts at the same place on every line
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("match(es)")).collect();
    assert!(lines[0].starts_with("SEQ"), "{text}");
    assert!(
        lines[0].contains("ID") && lines[0].contains("DECISION"),
        "{text}"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains("ev-")
            || lines[1].contains(&r["hits"][1]["record_id"].as_str().unwrap()[..4]),
        "{text}"
    );
    let col = |l: &str, word: &str| l.find(word).unwrap();
    assert_eq!(col(lines[0], "DECISION"), col(lines[1], "block"), "{text}");
    // every search flag has help text
    let help = ok(&cavra(d.path(), &["evidence", "search", "--help"]));
    for flag in [
        "--session",
        "--agent",
        "--action-type",
        "--decision",
        "--rule",
        "--kind",
        "--since",
        "--until",
        "--text",
        "--limit",
        "--offset",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} not in {help}"));
        let after = line.trim_start().trim_start_matches(flag);
        let described = after
            .split("  ")
            .any(|p| p.trim().len() > 3 && !p.trim().starts_with('<'));
        assert!(described, "{flag} has no help: {line}");
    }
}

#[test]
fn bundle_all_covers_the_whole_log() {
    let d = tempfile::tempdir().unwrap();
    append(d.path(), &decision("s1", 0, "allow"));
    append(d.path(), &decision("s2", 1, "block"));
    let out = d.path().join("all.zip");
    let o = cavra(
        d.path(),
        &[
            "evidence",
            "bundle",
            "--all",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    ok(&o);
    let v = ok(&cavra(
        d.path(),
        &["--json", "evidence", "verify", out.to_str().unwrap()],
    ));
    assert!(v.contains("true"), "{v}");
    // neither a selection nor --all is still an error naming --all
    let o = cavra(
        d.path(),
        &[
            "evidence",
            "bundle",
            "--output",
            d.path().join("x.zip").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--all"));
    // --all with a session is a usage error
    let o = cavra(
        d.path(),
        &[
            "evidence",
            "bundle",
            "--all",
            "--session",
            "s1",
            "-o",
            "y.zip",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn exports_carry_the_real_host_name_not_localhost() {
    let d = tempfile::tempdir().unwrap();
    append(d.path(), &decision("s1", 0, "allow"));
    let want = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if want.is_empty() {
        eprintln!("skipped: no host name readable");
        return;
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    let o = cmd
        .args(["--cavra-dir", d.path().join(".cavra").to_str().unwrap()])
        .args(["evidence", "export", "--format", "splunk-hec"])
        .env_remove("HOSTNAME")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .output()
        .unwrap();
    let text = ok(&o);
    let e: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(e["host"], want.as_str(), "{text}");
    let o = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["--cavra-dir", d.path().join(".cavra").to_str().unwrap()])
        .args(["evidence", "export", "--format", "datadog"])
        .env_remove("HOSTNAME")
        .output()
        .unwrap();
    assert!(ok(&o).contains(&format!("\"hostname\":\"{want}\"")));
}
