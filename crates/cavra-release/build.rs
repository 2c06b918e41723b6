//! Bakes the build's identity into the crate: the git commit of the source (`git rev-parse
//! HEAD` of the repository this crate is in; `unknown` in a tarball without git, or
//! `$CAVRA_GIT_COMMIT` when set), the cargo profile, the target and the compiler.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The commit of the repository holding this crate (not of one a tarball was unpacked into).
fn head(dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let ours = top
        .join("crates/cavra-release/build.rs")
        .canonicalize()
        .ok()?;
    if ours != dir.join("build.rs").canonicalize().ok()? {
        return None;
    }
    for p in ["HEAD", "logs/HEAD"] {
        // only files that exist: a missing one would rerun this script on every build
        let path = git(dir, &["rev-parse", "--git-path", p]).map(|path| dir.join(path));
        if let Some(path) = path.filter(|path| path.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let c = git(dir, &["rev-parse", "HEAD"])?;
    (c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit())).then_some(c)
}

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CAVRA_GIT_COMMIT");
    let commit = std::env::var("CAVRA_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| head(&dir))
        .unwrap_or_else(|| "unknown".into());
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| "unknown".into());
    let rustc = Command::new(env("RUSTC"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CAVRA_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=CAVRA_BUILD_PROFILE={}", env("PROFILE"));
    println!("cargo:rustc-env=CAVRA_BUILD_TARGET={}", env("TARGET"));
    println!("cargo:rustc-env=CAVRA_RUSTC={rustc}");
}
