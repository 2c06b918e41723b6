//! Approver credentials for integration tests (included with `mod`).
//!
//! Control actions (`approvals approve|deny|break-glass`, `sessions release`, registry trust
//! changes, `keys generate|rotate`, `uninstall`, `evidence prune|repair`) need an
//! authenticated person. Tests that exercise something else through such a command
//! authenticate it the non-interactive way a person would: with an approver token whose
//! subject is the `--as` value of the call (else `admin`), issued by a test approver key in
//! a temporary approver directory. The terminal path and the refusals are tested on their
//! own (`store_control.rs`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cavra_store::{ApproverKey, OffsetDateTime, Role};

const CONTROL: &[&[&str]] = &[
    &["approvals", "approve"],
    &["approvals", "deny"],
    &["approvals", "break-glass"],
    &["sessions", "release"],
    &["registry", "agents", "add"],
    &["registry", "agents", "approve"],
    &["registry", "agents", "block"],
    &["registry", "agents", "remove"],
    &["registry", "mcp", "add"],
    &["registry", "mcp", "approve"],
    &["registry", "mcp", "block"],
    &["registry", "mcp", "remove"],
    &["registry", "mcp", "import"],
    &["keys", "generate"],
    &["keys", "rotate"],
    &["uninstall"],
    &["evidence", "prune"],
    &["evidence", "repair"],
    &["tokens", "issue"],
    &["tokens", "revoke"],
];

/// The subcommand words of `args` (global flags and their values skipped).
fn words<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match *a {
            "--cavra-dir" => i += 2,
            "--json" => i += 1,
            a => {
                out.push(a);
                i += 1;
            }
        }
    }
    out
}

/// Is `args` a control action? Then the subject to authenticate as.
pub fn control_subject(args: &[&str]) -> Option<String> {
    let w = words(args);
    let is_control = CONTROL
        .iter()
        .any(|c| w.len() >= c.len() && w.iter().zip(c.iter()).all(|(a, b)| a == b));
    if !is_control {
        return None;
    }
    let label = args
        .iter()
        .position(|a| *a == "--as")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.to_string());
    Some(label.unwrap_or_else(|| "admin".into()))
}

/// The approver key in `dir`, created on first use.
pub fn approver_key(dir: &Path) -> ApproverKey {
    match ApproverKey::load(dir).unwrap() {
        Some(k) => k,
        None => ApproverKey::init(dir, OffsetDateTime::now_utc()).unwrap(),
    }
}

/// A token for `subject` with `roles`, valid for `ttl` from `issued`.
pub fn token_at(
    dir: &Path,
    subject: &str,
    roles: &[Role],
    issued: OffsetDateTime,
    ttl: Duration,
) -> String {
    approver_key(dir)
        .issue_token(subject, roles, issued, ttl)
        .unwrap()
}

/// A one-hour token for `subject` with every role.
pub fn token(dir: &Path, subject: &str) -> String {
    token_at(
        dir,
        subject,
        &[Role::Admin],
        OffsetDateTime::now_utc(),
        Duration::from_secs(3600),
    )
}

/// Point `cmd` at the approver directory `dir` (always) and, when `args` is a control
/// action, authenticate it with a token file for its subject.
pub fn authenticate(cmd: &mut Command, dir: &Path, args: &[&str]) {
    cmd.env("CAVRA_APPROVER_DIR", dir)
        .env_remove("CAVRA_TOKEN_FILE")
        .env_remove("XDG_CONFIG_HOME");
    if let Some(subject) = control_subject(args) {
        let file = token_file(dir, &subject);
        cmd.env("CAVRA_TOKEN_FILE", file);
    }
}

/// A token file for `subject` beside the approver directory.
pub fn token_file(dir: &Path, subject: &str) -> PathBuf {
    let t = token(dir, subject);
    let tokens = dir.with_extension("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let file = tokens.join(format!("{}.token", subject.replace(['/', ' '], "_")));
    std::fs::write(&file, t).unwrap();
    file
}
