//! Helpers shared by the `store_*` integration tests (included with `mod`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cavra_store::{NewApproval, OffsetDateTime, Store};

#[path = "approver_common.rs"]
pub mod approver_common;
pub use approver_common::*;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// Run the real binary with `--cavra-dir <dir>` and a clean environment, without a
/// controlling terminal (`setsid`); a control action is authenticated with a token (see
/// `approver_common`).
pub fn cavra(dir: &Path, args: &[&str]) -> Out {
    cavra_env(dir, args, &[])
}

/// The approver directory of the tests using `dir`.
pub fn approver_dir(dir: &Path) -> PathBuf {
    dir.join(".approver")
}

pub fn cavra_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new("setsid");
    cmd.arg("-w").arg(env!("CARGO_BIN_EXE_cavra"));
    cmd.arg("--cavra-dir").arg(dir).args(args);
    authenticate(&mut cmd, &approver_dir(dir), args);
    cmd.env_remove("CAVRA_DB")
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_BUSY_TIMEOUT_MS")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("cavra.db")
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn minutes_ago(m: i64) -> OffsetDateTime {
    now() - time_minutes(m)
}

fn time_minutes(m: i64) -> std::time::Duration {
    Duration::from_secs(u64::try_from(m * 60).unwrap())
}

pub fn request(hash: &str) -> NewApproval {
    NewApproval {
        request_hash: hash.into(),
        decision_id: format!("dec-{hash}"),
        session_id: "sess-1".into(),
        agent_id: "claude-code".into(),
        action_type: "execute_command".into(),
        target: "rm -rf /tmp/important".into(),
        rule_id: "commands.default.require_approval".into(),
        severity: "medium".into(),
        approver_group: "Repository Owners".into(),
        requested_by: "claude-code".into(),
        repo: Some("acme/web".into()),
        ttl: Duration::from_secs(3600),
    }
}

/// Seed one pending approval requested `age_min` minutes ago (1 h TTL); returns its id.
pub fn seed_pending(dir: &Path, hash: &str, age_min: i64) -> String {
    let _ = approver_key(&approver_dir(dir));
    let mut s = Store::open(db_path(dir)).unwrap();
    s.create_approval(request(hash), minutes_ago(age_min))
        .unwrap()
        .approval_id
}

pub fn schema(name: &str) -> jsonschema::Validator {
    let Some(shared) = shared_or_skip(&format!("reference schema {name}")) else {
        // the schema check is skipped; the rest of the test runs
        return jsonschema::validator_for(&serde_json::json!({})).unwrap();
    };
    let p = shared.join("reference/cavra-data/schemas").join(name);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

pub fn assert_valid(v: &jsonschema::Validator, value: &serde_json::Value) {
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?} in {value}");
}

/// A store that signs (as a person who authenticated at the terminal would) with the
/// tests' approver key and trusts it.
pub fn signed_store(dir: &Path) -> Store {
    let key = approver_key(&approver_dir(dir));
    Store::open(db_path(dir))
        .unwrap()
        .with_trust(key.trust())
        .with_signer(cavra_store::Signer {
            key,
            method: cavra_store::AuthMethod::Terminal,
            label: None,
        })
}

/// Kinds of the evidence records written under `<dir>/evidence`.
pub fn evidence_kinds(dir: &Path) -> Vec<String> {
    cavra_evidence::read_records(&dir.join("evidence"))
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

/// `../shared` beside the repository (the reference packs, schemas and agent-event corpus).
/// When it is missing the test is skipped with a visible note (written past the test
/// harness's capture), unless `CAVRA_REQUIRE_SHARED=1` (set by `.ci/run`): then it fails.
#[allow(dead_code)]
pub fn shared_or_skip(what: &str) -> Option<std::path::PathBuf> {
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
