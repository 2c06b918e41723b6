//! The organisation pack (`CAVRA_ORG_POLICY`), through the real binary: every entry point
//! decides the stricter of it and the project's pack — a project can add blocks, never
//! soften an organisation block or approval.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "store_common.rs"]
mod store_common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use store_common::cavra_env;

// the packs of cavra-runtime's `org` unit tests
const ORG: &str = include_str!("../../cavra-runtime/tests/data/org/org.yaml");
const SOFT: &str = include_str!("../../cavra-runtime/tests/data/org/soft.yaml");
const STRICT: &str = include_str!("../../cavra-runtime/tests/data/org/strict.yaml");

fn evaluate(dir: &Path, pack: &Path, org: Option<&Path>, cmd: &str) -> (String, String) {
    let mut env = vec![("CAVRA_NO_EVIDENCE", "1")];
    let org_s = org.map(|o| o.to_str().unwrap().to_string());
    if let Some(o) = &org_s {
        env.push(("CAVRA_ORG_POLICY", o.as_str()));
    }
    let o = cavra_env(
        dir,
        &[
            "evaluate",
            "execute_command",
            cmd,
            "--policy",
            pack.to_str().unwrap(),
            "--json",
        ],
        &env,
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", o.stdout, o.stderr));
    (
        v["decision"].as_str().unwrap().to_string(),
        v["rule_id"].as_str().unwrap().to_string(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_project_pack_cannot_soften_the_organisation_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let (org, soft) = (
        write(tmp.path(), "org.yaml", ORG),
        write(tmp.path(), "soft.yaml", SOFT),
    );
    let dir = tmp.path().join(".cavra");
    // alone, the project allows both
    assert_eq!(
        evaluate(&dir, &soft, None, "terraform destroy -auto-approve").0,
        "allow"
    );
    assert_eq!(evaluate(&dir, &soft, None, "make deploy").0, "allow");
    // under the organisation pack it cannot
    assert_eq!(
        evaluate(&dir, &soft, Some(&org), "terraform destroy -auto-approve"),
        ("block".into(), "org.no_terraform_destroy".into())
    );
    assert_eq!(
        evaluate(&dir, &soft, Some(&org), "make deploy"),
        (
            "require_approval".into(),
            "org.deploys_need_approval".into()
        )
    );
    assert_eq!(evaluate(&dir, &soft, Some(&org), "git status").0, "allow");
}

#[test]
fn a_project_pack_can_add_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let (org, strict) = (
        write(tmp.path(), "org.yaml", ORG),
        write(tmp.path(), "strict.yaml", STRICT),
    );
    let dir = tmp.path().join(".cavra");
    assert_eq!(
        evaluate(&dir, &strict, Some(&org), "npm publish"),
        ("block".into(), "strict.no_npm_publish".into())
    );
    assert_eq!(
        evaluate(&dir, &strict, Some(&org), "terraform destroy").0,
        "block"
    );
}

#[test]
fn the_hook_applies_the_organisation_pack_and_a_broken_one_fails_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let (org, soft) = (
        write(tmp.path(), "org.yaml", ORG),
        write(tmp.path(), "soft.yaml", SOFT),
    );
    let hook = |org: &Path, cmd: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
            .arg("--cavra-dir")
            .arg(tmp.path().join(".cavra"))
            .args(["hook", "claude-code", "--policy"])
            .arg(&soft)
            .current_dir(tmp.path())
            .env("CAVRA_ORG_POLICY", org)
            .env("CAVRA_NO_EVIDENCE", "1")
            .env_remove("CAVRA_SERVER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let event = serde_json::json!({"hook_event_name": "PreToolUse", "session_id": "o1",
            "cwd": tmp.path(), "tool_name": "Bash", "tool_input": {"command": cmd}});
        child
            .stdin
            .take()
            .unwrap()
            .write_all(event.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let denied = hook(&org, "terraform destroy");
    assert!(denied.contains("\"deny\""), "{denied}");
    assert!(denied.contains("organisation policy"), "{denied}");
    let fine = hook(&org, "git status");
    assert!(!fine.contains("deny"), "{fine}");
    // an organisation pack that does not load: nothing is allowed
    let broken = write(tmp.path(), "broken.yaml", "metadata: [");
    let refused = hook(&broken, "git status");
    assert!(refused.contains("\"deny\""), "{refused}");
}
