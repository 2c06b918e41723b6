//! The real `cavra` binary: one way to name a pack file, JSON errors under `--json`, no Rust
//! debug strings, `evidence search|bundle` flags, host names in exports, uninstall backups,
//! the hook command `init` writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cavra")
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.path())
            .env("CAVRA_DIR", self.path().join(".cavra"))
            .env("HOME", self.path().join("home"))
            .env_remove("CAVRA_NON_INTERACTIVE");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            stdout(o),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

const PACK: &str = "metadata:\n  id: cavra-my-pack\n  title: mine\n  version: 1.0.0\n  extends: cavra-coding-baseline\n  mode: enforce\ntests:\n  - {action: read_file, target: .env, expect: block, rule: secrets.dotenv.read}\n  - {action: read_file, target: src/lib.rs, expect: allow}\n";

#[test]
fn policy_commands_take_a_pack_file_positionally_like_validate() {
    let e = Env::new();
    let f = e.write("my-pack.yaml", PACK);
    let f = f.to_str().unwrap();
    let o = e.run(&["policy", "validate", f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // compile FILE is compile --policy FILE
    let a = e.run(&["policy", "compile", f]);
    let b = e.run(&["policy", "compile", "--policy", f]);
    assert_eq!(a.status.code(), Some(0), "{:?}", a);
    assert_eq!(stdout(&a), stdout(&b));
    assert_eq!(
        json(&a)["pack"]["metadata"]["id"],
        "cavra-my-pack",
        "{}",
        stdout(&a)
    );
    // --pack ID keeps working
    let o = e.run(&["policy", "compile", "--pack", "strict"]);
    assert_eq!(o.status.code(), Some(0));
    // show FILE and test FILE
    let o = e.run(&["policy", "show", f]);
    assert!(stdout(&o).contains("cavra-my-pack"), "{}", stdout(&o));
    let o = e.run(&["policy", "test", f]);
    assert_eq!(o.status.code(), Some(0), "{:?}", o);
    assert!(stdout(&o).contains("2 passed, 0 failed"), "{}", stdout(&o));
    // a file and --pack at once is a usage error
    let o = e.run(&["policy", "compile", f, "--pack", "strict"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn json_errors_are_json_on_stdout_with_the_same_exit_codes() {
    let e = Env::new();
    // clap usage error, --json before or after the subcommand
    for args in [
        &["--json", "policy", "list", "--frobnicate"][..],
        &["policy", "list", "--frobnicate", "--json"][..],
        &["--json", "nosuchcommand"][..],
    ] {
        let o = e.run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let v = json(&o);
        assert_eq!(v["error"]["code"], "usage", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 3, "{v}");
        assert!(v["error"].get("hint").is_some(), "{v}");
    }
    // an invalid value: the valid ones are in the hint
    let o = e.run(&["--json", "evidence", "search", "--decision", "blocked"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["error"]["code"], "usage", "{v}");
    let hint = v["error"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("require_approval") && hint.contains("break_glass"),
        "{v}"
    );
    // a command's own error
    let o = e.run(&["--json", "policy", "show", "--pack", "no-such-pack"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["error"]["code"], "error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-pack"),
        "{v}"
    );
    // without --json: human text on stderr, nothing on stdout
    let o = e.run(&["policy", "show", "--pack", "no-such-pack"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cavra: error:"));
    // `--json` after `--` is an argument, not the flag
    let o = e.run(&["evaluate", "execute_command", "--", "--json"]);
    assert!(serde_json::from_slice::<Value>(&o.stdout).is_err());
    // blocked still exits 2 with the decision as JSON
    let o = e.run(&["--json", "evaluate", "read_file", ".env", "--no-record"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["decision"], "block");
}

#[test]
fn policy_diff_prints_no_rust_debug_strings() {
    let e = Env::new();
    for args in [
        &["policy", "diff", "cavra-coding-baseline", "cavra-strict"][..],
        &[
            "policy",
            "diff",
            "cavra-coding-baseline",
            "cavra-strict",
            "--json",
        ][..],
    ] {
        let o = e.run(args);
        assert_eq!(o.status.code(), Some(0));
        let s = stdout(&o);
        assert!(s.contains("severity"), "{s}");
        for debug in ["Fixed(", "Some(", "None", "ReferenceCommandBlock"] {
            assert!(!s.contains(debug), "{debug} in {s}");
        }
    }
}

#[test]
fn policy_show_json_prints_no_rust_debug_strings() {
    let e = Env::new();
    let o = e.run(&["--json", "policy", "show", "--pack", "strict"]);
    assert_eq!(o.status.code(), Some(0));
    let s = stdout(&o);
    assert!(s.contains("\"severity\""), "{s}");
    for debug in ["Fixed(", "Some(", "ReferenceCommandBlock"] {
        assert!(!s.contains(debug), "{debug} in output");
    }
}
