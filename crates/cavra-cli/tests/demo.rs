//! `cavra demo` through the real binary: every step of the scenario (each a real
//! `cavra hook claude-code` child process, the approval by the demo's person through an
//! approver token) answers as it must, the evidence and the bundle verify, the posture
//! report is written, nothing outside the output directory is touched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::process::Command;

fn demo(out: &std::path::Path, home: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["--json", "demo", "--output"])
        .arg(out)
        .current_dir(home)
        .env("HOME", home)
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_APPROVER_DIR")
        .env_remove("CAVRA_TOKEN_FILE")
        .output()
        .unwrap()
}

#[test]
fn the_demo_stops_the_agent_where_it_must_and_lets_it_work_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = (tmp.path().join("home"), tmp.path().join("out"));
    std::fs::create_dir_all(&home).unwrap();
    let o = demo(&out, &home);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let steps = v["steps"].as_array().unwrap();
    let expected = [
        ("edit src/lib.rs", "allow", ""),
        ("run the tests", "allow", ""),
        ("git push --force", "block", "git.force_push"),
        ("read .env", "block", "secrets.dotenv.read"),
        (
            "disguised rm -rf",
            "block",
            "commands.destructive.rm_recursive",
        ),
        ("MCP: shady-drive", "block", "mcp.registry.unknown"),
        ("MCP: github", "allow", "mcp.registry.allow"),
        (
            "kubectl apply -f",
            "require_approval",
            "commands.cloud.kubectl_apply",
        ),
        (
            "approve its own request",
            "block",
            "self_protection.cavra_control",
        ),
        ("alex@demo.example approves", "approved", ""),
        (
            "retry kubectl apply",
            "allow",
            "commands.cloud.kubectl_apply",
        ),
        (
            "kubectl apply again",
            "require_approval",
            "commands.cloud.kubectl_apply",
        ),
    ];
    assert_eq!(steps.len(), expected.len(), "{v:#}");
    for (s, (action, decision, rule)) in steps.iter().zip(expected) {
        assert!(s["action"].as_str().unwrap().starts_with(action), "{s}");
        assert_eq!(s["decision"], decision, "{s}");
        assert_eq!(s["rule"], rule, "{s}");
    }
    // the stopped steps carry the reason; the force push, the .env read and the rm -rf an alternative
    for i in [2, 3, 4, 5, 8] {
        assert!(
            !steps[i]["reason"].as_str().unwrap().is_empty(),
            "{}",
            steps[i]
        );
    }
    for i in [2, 3, 4, 8] {
        assert!(
            !steps[i]["alternative"].as_str().unwrap().is_empty(),
            "{}",
            steps[i]
        );
    }
    assert!(steps[10]["reason"]
        .as_str()
        .unwrap()
        .contains("approved by `alex@demo.example`"));
    assert_eq!(v["ok"], true);
    assert_eq!(v["evidence"]["verified"], true);
    assert!(v["evidence"]["records"].as_u64().unwrap() >= 12);
    assert_eq!(v["bundle"]["verified"], true);
    assert!(out.join("evidence-bundle.zip").is_file());
    let html = std::fs::read_to_string(out.join("posture.html")).unwrap();
    assert!(
        html.contains("mcp.unknown:shady-drive"),
        "the unknown server is a finding"
    );
    let p: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("posture.json")).unwrap()).unwrap();
    assert_eq!(p["score"], v["posture"]["score"]);
    assert!(p["stats"]["top_rules"]
        .to_string()
        .contains("git.force_push"));
    // the demo's person and $HOME live in the output directory
    assert_eq!(
        std::fs::read_dir(&home).unwrap().count(),
        0,
        "the caller's HOME is untouched"
    );
    assert!(out.join("approver").is_dir() && out.join("home").is_dir());

    // the text form, and a second run into the same directory is refused
    let o = demo(&out, &home);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("already holds a demo"),
        "{o:?}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["demo", "--output"])
        .arg(tmp.path().join("text"))
        .env("HOME", &home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("git.force_push") && text.contains("every step answered as expected"),
        "{text}"
    );
}
