//! The crate graph of docs/architecture.md, checked against `cargo metadata`: a broken
//! arrow (the engine reaching for I/O, the runtime for clap or a database driver, the
//! store for a front end, two front ends for each other) fails this test.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The workspace's crates, from `cargo metadata`.
fn members(root: &std::path::Path) -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--no-deps",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    v["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// What building `krate` alone compiles and links (its normal dependencies, transitively,
/// with the features `cargo build -p krate` resolves — so a driver behind a feature only
/// the CLI turns on does not count against the runtime).
fn closure_of(root: &std::path::Path, krate: &str) -> BTreeSet<String> {
    closure_with(root, krate, "normal")
}

/// The crates `cargo tree -p krate -e edges` lists (`normal,dev,build`: what `cargo test
/// -p krate` compiles).
fn closure_with(root: &std::path::Path, krate: &str, edges: &str) -> BTreeSet<String> {
    closure_with_features(root, krate, edges, &[])
}

/// As [`closure_with`], with `--features` of `krate` turned on.
fn closure_with_features(
    root: &std::path::Path,
    krate: &str,
    edges: &str,
    features: &[&str],
) -> BTreeSet<String> {
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args(["tree", "-p", krate, "-e", edges, "--prefix", "none"]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = cmd
        .args(["--format", "{p}", "--offline"])
        .current_dir(root)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {krate} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != krate)
        .map(str::to_string)
        .collect()
}

/// Every workspace crate → its dependency closure.
fn graph() -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let members = members(&root);
    let deps = members
        .iter()
        .map(|m| (m.clone(), closure_of(&root, m)))
        .collect();
    (members, deps)
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
        let got = deps.get(krate).cloned().unwrap_or_default();
        for f in forbidden {
            if *f != krate && got.contains(*f) {
                bad.push(format!("{krate} depends on {f} ({why})"));
            }
        }
    };
    for pure in ["cavra-shell", "cavra-core", "cavra-agents"] {
        forbid(
            pure,
            IO,
            "the engine and the adapters are pure: no I/O crates",
        );
        forbid(pure, FRONT_ENDS, "the engine knows no front end");
        forbid(
            pure,
            &["cavra-store", "cavra-evidence", "cavra-runtime"],
            "dependencies point one way, towards the engine",
        );
    }
    forbid(
        "cavra-evidence",
        &[
            "rusqlite",
            "libsqlite3-sys",
            "sqlx",
            "tokio-postgres",
            "clap",
            "tokio",
        ],
        "the log verifies without any database or front end",
    );
    forbid("cavra-evidence", FRONT_ENDS, "the log knows no front end");
    forbid(
        "cavra-runtime",
        DRIVERS_AND_FRONT_ENDS,
        "the runtime compiles no async runtime, database driver or clap",
    );
    forbid("cavra-runtime", FRONT_ENDS, "front ends sit on the runtime");
    forbid("cavra-store", FRONT_ENDS, "the store knows no front end");
    forbid(
        "cavra-store",
        &["cavra-runtime"],
        "the runtime uses the store",
    );
    // only `cavra mcp` (through cavra-mcp) and the server may start an async runtime
    for hook_path in [
        "cavra-shell",
        "cavra-core",
        "cavra-evidence",
        "cavra-store",
        "cavra-runtime",
        "cavra-agents",
    ] {
        forbid(
            hook_path,
            &["tokio", "rmcp", "cavra-mcp"],
            "the hook's crates start no async runtime",
        );
    }
    forbid(
        "cavra-setup",
        &[
            "clap",
            "tokio",
            "axum",
            "rusqlite",
            "libsqlite3-sys",
            "cavra-store",
            "cavra-runtime",
        ],
        "the installer edits agents' files: no front end, async runtime, store or pipeline",
    );
    forbid("cavra-setup", FRONT_ENDS, "front ends sit on the installer");
    // the demo drives the cavra binary as a child process, as an agent's hook does
    forbid(
        "cavra-demo",
        &[
            "clap",
            "tokio",
            "axum",
            "rusqlite",
            "libsqlite3-sys",
            "cavra-runtime",
            "cavra-agents",
        ],
        "the demo goes through the real binary, not around it",
    );
    forbid("cavra-demo", FRONT_ENDS, "the CLI runs the demo");
    // OIDC validation is synchronous (the server calls it from spawn_blocking), and its
    // JWS crypto is AWS-LC, the stack the evidence signer links: no ring, no RustCrypto RSA
    forbid(
        "cavra-auth",
        &[
            "tokio",
            "mio",
            "axum",
            "hyper",
            "clap",
            "rusqlite",
            "libsqlite3-sys",
            "sqlx",
            "tokio-postgres",
            "rmcp",
            "ring",
            "rsa",
            "p256",
            "cavra-runtime",
            "cavra-server",
            "cavra-cli",
            "cavra-mcp",
        ],
        "authentication is a blocking library under the server, on one crypto stack",
    );
    // the hook's client of the server: blocking HTTP on the hook's start-up path
    forbid(
        "cavra-client",
        &[
            "tokio",
            "mio",
            "axum",
            "hyper",
            "clap",
            "rmcp",
            "cavra-server",
            "cavra-cli",
            "cavra-mcp",
        ],
        "the hook's server client starts no async runtime and knows no front end",
    );
    // releases verify offline (air-gapped): no network, database, async runtime or CLI
    forbid(
        "cavra-release",
        &[
            "clap",
            "tokio",
            "mio",
            "axum",
            "hyper",
            "ureq",
            "reqwest",
            "rusqlite",
            "libsqlite3-sys",
            "postgres",
            "cavra-store",
            "cavra-runtime",
            "cavra-client",
            "cavra-server",
            "cavra-cli",
            "cavra-mcp",
        ],
        "a release verifies with no network, database or front end",
    );
    forbid(
        "cavra-mcp",
        &["clap", "cavra-cli", "cavra-server"],
        "the MCP server is a library under the front ends",
    );
    // the server mounts the MCP server at `/mcp` (cavra-server -> cavra-mcp, one way)
    forbid(
        "cavra-server",
        &["clap", "cavra-cli"],
        "the HTTP server is a library under the CLI",
    );
    for (a, b) in [
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
    assert!(checked >= 10, "only {checked} crates checked");
    // the graph is really read: the MCP server sits on the runtime and rmcp
    assert!(deps["cavra-mcp"].contains("cavra-runtime") && deps["cavra-mcp"].contains("rmcp"));
    // and the HTTP server on the runtime, the adapters and axum
    for d in [
        "cavra-runtime",
        "cavra-agents",
        "cavra-store",
        "axum",
        "tokio",
    ] {
        assert!(deps["cavra-server"].contains(d), "cavra-server without {d}");
    }
    assert!(
        bad.is_empty(),
        "the crate graph breaks docs/architecture.md:\n  {}",
        bad.join("\n  ")
    );
}

/// Testing the engine or the runtime builds no async runtime, HTTP stack, database driver
/// or argument parser — not even through a dev-dependency (criterion, which pulls in clap,
/// lives in `cavra-bench` for that reason).
#[test]
fn testing_core_and_runtime_compiles_no_io_stack() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for krate in ["cavra-shell", "cavra-core", "cavra-runtime"] {
        let got = closure_with(&root, krate, "normal,dev,build");
        // the closure is really read: every crate here depends on serde_json or is the shell
        assert!(
            krate == "cavra-shell" || got.contains("serde_json"),
            "{krate}: {got:?}"
        );
        let bad: Vec<_> = DRIVERS_AND_FRONT_ENDS
            .iter()
            .chain(&["mio", "rmcp", "criterion"])
            .filter(|f| got.contains(**f))
            .collect();
        assert!(
            bad.is_empty(),
            "`cargo test -p {krate}` compiles {bad:?} (issue 11: no tokio, axum, database driver or clap)"
        );
    }
}

/// The PostgreSQL store sits behind cavra-store's `postgres` feature: with it the store
/// links the `postgres` client (and, inside it, tokio) and still no front end or argument
/// parser; without it — the build the hook's crates get — neither driver nor tokio.
#[test]
fn the_postgres_driver_is_behind_its_feature() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let with = closure_with_features(&root, "cavra-store", "normal", &["postgres"]);
    for needed in ["postgres", "tokio-postgres", "r2d2"] {
        assert!(with.contains(needed), "{needed} missing: {with:?}");
    }
    let bad: Vec<_> = FRONT_ENDS
        .iter()
        .chain(&["clap", "axum", "hyper", "cavra-runtime", "sqlx"])
        .filter(|f| with.contains(**f))
        .collect();
    assert!(
        bad.is_empty(),
        "cavra-store --features postgres links {bad:?}"
    );
    let without = closure_of(&root, "cavra-store");
    assert!(without.contains("serde_json"), "{without:?}");
    let bad: Vec<_> = ["postgres", "tokio-postgres", "r2d2", "tokio"]
        .iter()
        .filter(|f| without.contains(**f))
        .collect();
    assert!(bad.is_empty(), "cavra-store's default build links {bad:?}");
}

/// The check itself can fail: a graph with a broken arrow is reported.
#[test]
fn a_broken_arrow_is_reported() {
    let (members, mut deps) = graph();
    deps.entry("cavra-core".into())
        .or_default()
        .insert("rusqlite".into());
    deps.entry("cavra-runtime".into())
        .or_default()
        .insert("tokio".into());
    deps.entry("cavra-store".into())
        .or_default()
        .insert("cavra-cli".into());
    deps.entry("cavra-setup".into())
        .or_default()
        .insert("cavra-runtime".into());
    deps.entry("cavra-server".into())
        .or_default()
        .insert("clap".into());
    deps.entry("cavra-release".into())
        .or_default()
        .insert("ureq".into());
    let (bad, _) = violations(&members, &deps);
    assert!(
        bad.iter().any(|b| b
            == "cavra-release depends on ureq (a release verifies with no network, database or front end)"),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b
                == "cavra-server depends on clap (the HTTP server is a library under the CLI)"),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.starts_with("cavra-setup depends on cavra-runtime")),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|b| b == "cavra-core depends on rusqlite (the engine and the adapters are pure: no I/O crates)"),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.starts_with("cavra-store depends on cavra-cli")),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.starts_with("cavra-runtime depends on tokio")),
        "{bad:?}"
    );
}

/// The subcommand modules declared in `src/cmd/mod.rs` (`pub mod x;`).
fn cmd_modules(mod_rs: &str) -> Vec<String> {
    mod_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// Where the source of the subcommand file `own` reaches into another subcommand module:
/// `crate::cmd::…`, `super::super::…`, or `super::<x>` for a sibling `x` (what they
/// share belongs in the runtime, `output.rs`, `args.rs` or `ctx.rs`).
fn cross_imports(own: &str, text: &str, modules: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut hits = Vec::new();
        if code.contains("crate::cmd::") {
            hits.push("crate::cmd".to_string());
        }
        if code.contains("super::super::") {
            hits.push("super::super".to_string());
        }
        for m in modules.iter().filter(|m| m.as_str() != own) {
            let pat = format!("super::{m}");
            if let Some(i) = code.find(&pat) {
                let next = code[i + pat.len()..].chars().next();
                if !next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    hits.push(pat);
                }
            }
        }
        for h in hits {
            bad.push(format!("{own}:{}: {h}: {}", n + 1, line.trim()));
        }
    }
    bad
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src/cmd")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_subcommand_imports_another() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cmd");
    let modules = cmd_modules(&std::fs::read_to_string(dir.join("mod.rs")).expect("mod.rs"));
    assert!(modules.len() > 5, "subcommand modules found: {modules:?}");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("cmd/mod.rs")) {
        // the top-level subcommand a file belongs to: `cmd/x.rs` or `cmd/x/...`
        let rel = f.strip_prefix(&dir).expect("under src/cmd");
        let own = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(f).expect("read a subcommand file");
        bad.extend(cross_imports(&own, &text, &modules));
    }
    assert!(
        bad.is_empty(),
        "subcommand modules import each other:\n{}",
        bad.join("\n")
    );
}

#[test]
fn a_cross_import_is_reported() {
    let modules = vec!["hook".to_string(), "init".to_string(), "hooks".to_string()];
    let text = "use crate::cmd::hook::Agent;\nuse super::init::x;\nuse super::*; // super::hook\nlet a = super::hooksy;\n";
    let bad = cross_imports("hooks", text, &modules);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].contains("crate::cmd"), "{bad:?}");
    assert!(bad[1].contains("super::init"), "{bad:?}");
}
