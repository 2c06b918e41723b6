//! Scaffolding shared by the `*_install` integration tests (included with `mod`): a
//! temporary HOME and project, and `cavra` run inside them.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "approver_common.rs"]
mod approver_common;

pub struct Env {
    pub _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub proj: PathBuf,
}

pub fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    Env {
        home,
        proj: proj.canonicalize().unwrap(),
        _tmp: tmp,
    }
}

/// Runs `args`; a control action (`uninstall`) is authenticated with an approver token.
pub fn cavra(e: &Env, args: &[&str]) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cavra"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    approver_common::authenticate(&mut cmd, &e.home.join("approver-test"), args);
    cmd.args(["--cavra-dir", e.proj.join(".cavra").to_str().unwrap()])
        .args(args)
        .current_dir(&e.proj)
        .env("HOME", &e.home)
        .env(
            "PATH",
            std::env::join_paths([bin_dir, PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
                .unwrap(),
        )
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .output()
        .unwrap()
}
