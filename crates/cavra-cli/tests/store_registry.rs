//! `cavra registry` through the real binary.

#![allow(clippy::unwrap_used)]

mod store_common;

use store_common::*;
use tempfile::TempDir;

#[test]
fn mcp_import_reference_and_export_round_trip() {
    let Some(shared) = shared_or_skip("mcp_import_reference_and_export_round_trip") else {
        return;
    };
    let reference = shared.join("reference/cavra-data/mcp_registry.json");
    let reference = reference.to_str().unwrap();
    let d = TempDir::new().unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference).unwrap()).unwrap();
    let out = cavra(d.path(), &["registry", "mcp", "import", reference]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("imported 3"), "{}", out.stdout);
    let out = cavra(d.path(), &["registry", "mcp", "export"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.json(), original);
    let file = d.path().join("out.json");
    let out = cavra(
        d.path(),
        &["registry", "mcp", "export", file.to_str().unwrap()],
    );
    assert_eq!(out.code, 0);
    let back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(back, original);
    // Import of the export is stable.
    assert_eq!(
        cavra(
            d.path(),
            &["registry", "mcp", "import", file.to_str().unwrap()]
        )
        .code,
        0
    );
    assert_eq!(
        cavra(d.path(), &["registry", "mcp", "export"]).json(),
        original
    );

    let out = cavra(d.path(), &["registry", "mcp", "list"]);
    assert!(
        out.stdout.contains("personal-drive-mcp") && out.stdout.contains("BLOCKED"),
        "{}",
        out.stdout
    );
    let list = cavra(d.path(), &["registry", "mcp", "list", "--json"]).json();
    let v = schema("mcp-server.schema.json");
    for s in list.as_array().unwrap() {
        assert_valid(&v, s);
    }
}

#[test]
fn mcp_lifecycle_and_bad_input() {
    let d = TempDir::new().unwrap();
    let out = cavra(
        d.path(),
        &[
            "registry",
            "mcp",
            "add",
            "jira",
            "--name",
            "Jira",
            "--capability",
            "tickets",
            "--tool",
            "search=read",
            "--tool",
            "export_all=exfil-capable",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["approval_state"], "pending");
    assert_eq!(v["tool_classifications"]["export_all"], "exfil-capable");
    let out = cavra(
        d.path(),
        &[
            "registry", "mcp", "approve", "jira", "--as", "alice", "--tier", "approved", "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["approval_state"], "approved");
    let out = cavra(
        d.path(),
        &[
            "registry", "mcp", "block", "jira", "--as", "alice", "--json",
        ],
    );
    assert_eq!(out.json()["trust_tier"], "blocked");
    let out = cavra(d.path(), &["registry", "mcp", "show", "jira"]);
    assert!(out.stdout.contains("BLOCKED"), "{}", out.stdout);
    assert_eq!(
        cavra(d.path(), &["registry", "mcp", "remove", "jira"]).code,
        0
    );

    for args in [
        vec!["registry", "mcp", "show", "jira"],
        vec!["registry", "mcp", "remove", "jira"],
        vec!["registry", "mcp", "approve", "jira", "--as", "alice"],
    ] {
        let out = cavra(d.path(), &args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(
            out.stderr.contains("unknown mcp server `jira`"),
            "{}",
            out.stderr
        );
    }
    let out = cavra(
        d.path(),
        &["registry", "mcp", "add", "x", "--tool", "t=godlike"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("godlike"), "{}", out.stderr);
    let out = cavra(
        d.path(),
        &["registry", "mcp", "add", "x", "--state", "maybe"],
    );
    assert_eq!(out.code, 1);
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\"mcp_servers\": [{\"name\": \"no id\"}]}").unwrap();
    let out = cavra(
        d.path(),
        &["registry", "mcp", "import", bad.to_str().unwrap()],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("bad.json") && out.stderr.contains("server_id"),
        "{}",
        out.stderr
    );
    let out = cavra(
        d.path(),
        &["registry", "mcp", "import", "/nonexistent/reg.json"],
    );
    assert_eq!(out.code, 1);
}

#[test]
fn agents_lifecycle_and_bad_input() {
    let d = TempDir::new().unwrap();
    let out = cavra(
        d.path(),
        &[
            "registry",
            "agents",
            "add",
            "claude@repo",
            "--profile",
            "read-only-reviewer",
            "--vendor",
            "anthropic",
            "--kind",
            "claude-code",
            "--owner",
            "platform",
            "--risk-tier",
            "low",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["status"], "pending");
    assert_eq!(v["capabilities"]["name"], "read-only-reviewer");
    assert_valid(&schema("agent.schema.json"), &v);
    let out = cavra(
        d.path(),
        &[
            "registry",
            "agents",
            "add",
            "claude@repo",
            "--profile",
            "builder",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    let out = cavra(
        d.path(),
        &["registry", "agents", "add", "x", "--profile", "root"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("`root`"), "{}", out.stderr);
    assert_eq!(
        cavra(
            d.path(),
            &[
                "registry",
                "agents",
                "approve",
                "claude@repo",
                "--as",
                "alice",
                "--json"
            ]
        )
        .json()["status"],
        "approved"
    );
    let out = cavra(d.path(), &["registry", "agents", "list"]);
    assert!(
        out.stdout.contains("claude@repo") && out.stdout.contains("APPROVED"),
        "{}",
        out.stdout
    );
    assert_eq!(
        cavra(
            d.path(),
            &[
                "registry",
                "agents",
                "block",
                "claude@repo",
                "--as",
                "alice",
                "--reason",
                "leaked token",
                "--json"
            ]
        )
        .json()["status"],
        "blocked"
    );
    let out = cavra(d.path(), &["registry", "agents", "show", "claude@repo"]);
    assert!(out.stdout.contains("read_file"), "{}", out.stdout);
    assert_eq!(
        cavra(d.path(), &["registry", "agents", "remove", "claude@repo"]).code,
        0
    );
    let out = cavra(d.path(), &["registry", "agents", "show", "claude@repo"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown agent `claude@repo`"),
        "{}",
        out.stderr
    );
    let out = cavra(d.path(), &["registry", "agents", "profiles", "--json"]);
    assert_eq!(out.json().as_array().unwrap().len(), 3);
}
