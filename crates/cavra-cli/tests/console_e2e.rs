//! The web console end to end in a real browser: headless Debian `chromium` driven by
//! `playwright-core` (npm), both installed by `.ci/console.sh` (playwright-core into
//! `target/console-e2e/`). The script `tests/console/e2e.mjs` signs in with a token, sees
//! a hook call's decision appear live, verifies its proof, approves a held request as an
//! approver (the agent's retry passes once), is refused as an auditor (no button, 403),
//! creates a break-glass and sees it flagged, views the posture charts, and sees what a pack
//! version published in shadow would have changed on the Rollouts page. Screenshots go
//! to `$CAVRA_CONSOLE_SCREENSHOTS` when it is set (docs/console/*.png).
//!
//! Without chromium or playwright-core the test prints `skipped: …` and passes; with
//! `CAVRA_REQUIRE_BROWSER=1` (set by `.ci/run` after installing them) it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "server_common.rs"]
mod server_common;

use server_common::Srv;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// chromium and playwright-core, or why not.
pub fn browser() -> Result<(PathBuf, PathBuf), String> {
    let pw = root().join("target/console-e2e/node_modules/playwright-core");
    if !pw.join("package.json").is_file() {
        return Err(format!(
            "playwright-core is not installed in {} (bash .ci/console.sh)",
            pw.display()
        ));
    }
    let chromium = std::env::var_os("CAVRA_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        })
        .ok_or("no chromium (apt-get install chromium, or set CAVRA_CHROMIUM)")?;
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("no node on PATH".into());
    }
    Ok((chromium, pw))
}

#[test]
fn the_console_in_a_real_browser() {
    let (chromium, pw) = match browser() {
        Ok(b) => b,
        Err(why) if std::env::var("CAVRA_REQUIRE_BROWSER").as_deref() != Ok("1") => {
            println!("skipped: {why}");
            return;
        }
        Err(why) => panic!("CAVRA_REQUIRE_BROWSER=1 and {why}"),
    };
    let s = Srv::start(&["--non-interactive"], &[]);
    let tokens = serde_json::json!({
        "agent": s.token("claude-bot", "agent"),
        "approver": s.token("bob", "approver"),
        "auditor": s.token("audrey", "auditor"),
        "admin": s.token("alice", "admin"),
    });
    let shots = std::env::var("CAVRA_CONSOLE_SCREENSHOTS").unwrap_or_default();
    if !shots.is_empty() {
        std::fs::create_dir_all(&shots).unwrap();
    }
    let out = Command::new("node")
        .arg(root().join("crates/cavra-cli/tests/console/e2e.mjs"))
        .env("BASE", &s.base)
        .env("PW", &pw)
        .env("CHROMIUM", &chromium)
        .env("TOKENS", tokens.to_string())
        .env("SHOTS", &shots)
        .env("PROJECT", &s.project)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("e2e: ok"), "{stdout}\n{stderr}");
    assert!(!stdout.contains("page error:"), "{stdout}");
}
