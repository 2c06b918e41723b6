//! The runtime's arrows, read from `cargo tree` (which resolves features for this package
//! alone, as `cargo test -p cavra-runtime` builds it): no command-line parser, no async
//! runtime, no web framework, no database driver, no front end.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::Command;

#[test]
fn the_runtime_builds_no_driver_parser_or_async_runtime() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "cavra-runtime",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"cavra-store"), "{text}");
    for banned in [
        "clap",
        "tokio",
        "axum",
        "rmcp",
        "rusqlite",
        "libsqlite3-sys",
        "postgres",
        "sqlx",
        "cavra-cli",
        "cavra-mcp",
        "cavra-agents",
    ] {
        assert!(
            !names.contains(&banned),
            "cavra-runtime depends on {banned}:\n{text}"
        );
    }
}
