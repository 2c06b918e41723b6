//! Helpers shared by the `cavra serve` integration tests (`server`, `server_api`;
//! included with `mod`): a real server on loopback with a temporary CAVRA directory, and a
//! small blocking HTTP client (`ureq`).
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "store_common.rs"]
pub mod store_common;
pub use store_common::{approver_dir, cavra, cavra_env, Out};

/// A running `cavra serve`, stopped (SIGTERM) when dropped.
pub struct Srv {
    pub child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    pub project: PathBuf,
    pub _tmp: tempfile::TempDir,
}

pub fn spawn(tmp: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let dir = tmp.join("state");
    let project = tmp.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    cmd.arg("--cavra-dir")
        .arg(&dir)
        .arg("serve")
        .args(extra)
        .current_dir(&project)
        .env("HOME", tmp)
        .env("CAVRA_APPROVER_DIR", approver_dir(&dir))
        .env_remove("CAVRA_TOKEN_FILE")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_DATABASE_URL")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !extra.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Srv {
    pub fn start(extra: &[&str], env: &[(&str, &str)]) -> Srv {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = spawn(tmp.path(), extra, env).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("cavra serve: listening on ")
            .unwrap_or_else(|| panic!("no address printed: {line:?}"))
            .to_string();
        Srv {
            child: Some(child),
            base: addr,
            dir: tmp.path().join("state"),
            project: tmp.path().join("project"),
            _tmp: tmp,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }

    /// `cavra tokens issue` (authenticated as an admin with an approver token).
    pub fn token(&self, name: &str, role: &str) -> String {
        let o = cavra(
            &self.dir,
            &["--json", "tokens", "issue", "--name", name, "--role", role],
        );
        assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
        let v = o.json();
        assert!(v["id"].as_str().unwrap().starts_with("tok-"));
        v["token"].as_str().unwrap().to_string()
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// (status, body as JSON or as a string).
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let a = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut res = match (method, body) {
        ("GET", _) => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call().unwrap()
        }
        (m, b) => {
            let mut r = if m == "POST" { a.post(url) } else { a.put(url) };
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.content_type("application/json")
                .send(b.unwrap_or(""))
                .unwrap()
        }
    };
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

pub fn get(s: &Srv, path: &str, token: Option<&str>) -> (u16, Value) {
    call("GET", &s.url(path), token, None)
}

pub fn post(s: &Srv, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    call("POST", &s.url(path), token, Some(&body.to_string()))
}

pub fn is_error_doc(v: &Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v["error"].get("hint").is_some(), "{v}");
}

/// Runs `cmd` with `input` on its stdin; its exit code and output.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Out {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
