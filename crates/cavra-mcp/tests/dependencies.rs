//! The arrows around the MCP server, read from `cargo metadata`: cavra-mcp never depends on
//! the CLI (or a server crate), and no crate the hook runs on links tokio or rmcp — only
//! `cavra mcp`, through cavra-mcp, can start an async runtime.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Package name → names of its normal (non-dev, non-build) dependencies.
fn graph() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: BTreeMap<String, String> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut g = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| name_of[d["pkg"].as_str().unwrap()].clone())
            .collect();
        g.insert(name_of[node["id"].as_str().unwrap()].clone(), deps);
    }
    g
}

fn closure(g: &BTreeMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(n) = todo.pop() {
        for d in g.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn arrows_hold() {
    let g = graph();
    let mcp = closure(&g, "cavra-mcp");
    for banned in ["cavra-cli", "clap"] {
        assert!(!mcp.contains(banned), "cavra-mcp depends on {banned}");
    }
    assert!(
        !mcp.iter().any(|n| n.starts_with("cavra-server")),
        "cavra-mcp depends on a server crate"
    );
    assert!(mcp.contains("rmcp") && mcp.contains("cavra-runtime"));
    // the crates the hook runs on never link an async runtime or the MCP SDK
    for krate in [
        "cavra-shell",
        "cavra-core",
        "cavra-evidence",
        "cavra-store",
        "cavra-runtime",
        "cavra-agents",
    ] {
        if !g.contains_key(krate) {
            continue;
        }
        let deps = closure(&g, krate);
        for banned in ["tokio", "rmcp", "cavra-mcp"] {
            assert!(!deps.contains(banned), "{krate} depends on {banned}");
        }
    }
}
