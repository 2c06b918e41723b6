//! The crate graph of docs/architecture.md, checked against `cargo metadata`: a broken
//! arrow (the engine reaching for I/O, the runtime for clap or a database driver, the
//! store for a front end, two front ends for each other) fails this test.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The resolved graph: package name → names of its normal (non-dev, non-build) deps.
fn graph() -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut names = BTreeMap::new();
    for p in v["packages"].as_array().expect("packages") {
        names.insert(
            p["id"].as_str().expect("id").to_string(),
            p["name"].as_str().expect("name").to_string(),
        );
    }
    let members: BTreeSet<String> = v["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(|id| names.get(id.as_str()?).cloned())
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for n in v["resolve"]["nodes"].as_array().expect("resolve.nodes") {
        let name = names[n["id"].as_str().expect("node id")].clone();
        let entry = deps.entry(name).or_default();
        for d in n["deps"].as_array().expect("deps") {
            let normal = d["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                entry.insert(names[d["pkg"].as_str().expect("pkg")].clone());
            }
        }
    }
    (members, deps)
}

/// Everything `krate` pulls in at run time (its normal dependencies, transitively).
fn closure(deps: &BTreeMap<String, BTreeSet<String>>, krate: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![krate.to_string()];
    while let Some(k) = todo.pop() {
        for d in deps.get(&k).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

/// I/O, async, database, HTTP and argument-parsing crates.
const IO: &[&str] = &[
    "tokio",
    "mio",
    "axum",
    "hyper",
    "tower",
    "reqwest",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "tokio-postgres",
    "postgres",
    "rmcp",
    "clap",
    "fs4",
];
const DRIVERS_AND_FRONT_ENDS: &[&str] = &[
    "tokio",
    "axum",
    "hyper",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "tokio-postgres",
    "postgres",
    "clap",
];
const FRONT_ENDS: &[&str] = &["cavra-cli", "cavra-server", "cavra-mcp"];

/// The arrows that must hold. A rule about a crate the workspace does not have (yet) has
/// nothing to check; every rule must check at least one crate that exists.
fn violations(
    members: &BTreeSet<String>,
    deps: &BTreeMap<String, BTreeSet<String>>,
) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut checked = 0usize;
    let mut forbid = |krate: &str, forbidden: &[&str], why: &str| {
        if !members.contains(krate) {
            return;
        }
        checked += 1;
        let got = closure(deps, krate);
        for f in forbidden {
            if *f != krate && got.contains(*f) {
                bad.push(format!("{krate} depends on {f} ({why})"));
            }
        }
    };
    for pure in ["cavra-shell", "cavra-core", "cavra-agents"] {
        forbid(pure, IO, "the engine and the adapters are pure: no I/O crates");
        forbid(pure, FRONT_ENDS, "the engine knows no front end");
        forbid(
            pure,
            &["cavra-store", "cavra-evidence", "cavra-runtime"],
            "dependencies point one way, towards the engine",
        );
    }
    forbid(
        "cavra-evidence",
        &["rusqlite", "libsqlite3-sys", "sqlx", "tokio-postgres", "clap", "tokio"],
        "the log verifies without any database or front end",
    );
    forbid(
        "cavra-evidence",
        FRONT_ENDS,
        "the log knows no front end",
    );
    forbid(
        "cavra-runtime",
        DRIVERS_AND_FRONT_ENDS,
        "the runtime compiles no async runtime, database driver or clap",
    );
    forbid("cavra-runtime", FRONT_ENDS, "front ends sit on the runtime");
    forbid("cavra-store", FRONT_ENDS, "the store knows no front end");
    forbid("cavra-store", &["cavra-runtime"], "the runtime uses the store");
    for (a, b) in [
        ("cavra-server", "cavra-mcp"),
        ("cavra-mcp", "cavra-server"),
        ("cavra-server", "cavra-cli"),
        ("cavra-mcp", "cavra-cli"),
    ] {
        forbid(a, &[b], "front ends do not depend on each other");
    }
    (bad, checked)
}

#[test]
fn crate_arrows_point_one_way() {
    let (members, deps) = graph();
    assert!(members.contains("cavra-core") && members.contains("cavra-cli"));
    let (bad, checked) = violations(&members, &deps);
    assert!(checked >= 5, "only {checked} crates checked");
    assert!(
        bad.is_empty(),
        "the crate graph breaks docs/architecture.md:\n  {}",
        bad.join("\n  ")
    );
}

/// The check itself can fail: a graph with a broken arrow is reported.
#[test]
fn a_broken_arrow_is_reported() {
    let (members, mut deps) = graph();
    deps.entry("cavra-core".into())
        .or_default()
        .insert("rusqlite".into());
    deps.entry("cavra-store".into())
        .or_default()
        .insert("cavra-cli".into());
    let (bad, _) = violations(&members, &deps);
    assert!(
        bad.iter().any(|b| b == "cavra-core depends on rusqlite (the engine and the adapters are pure: no I/O crates)"),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|b| b.starts_with("cavra-store depends on cavra-cli")),
        "{bad:?}"
    );
}
