//! Helpers shared by the `server_*` integration tests (included with `mod`): a real
//! `cavra serve` on a loopback port, and a small blocking HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `cavra serve`, stopped (SIGTERM) when dropped.
pub struct Srv {
    child: Option<Child>,
    pub base: String,
    /// The CAVRA directory of this server.
    pub dir: PathBuf,
    pub project: PathBuf,
}

/// `cavra --cavra-dir <root>/state serve …` in `<root>/project`, signing with the
/// approver directory `approver` (replicas share one), on `127.0.0.1:0` unless `extra`
/// names `--listen`.
pub fn command(root: &Path, approver: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let dir = root.join("state");
    let project = root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavra"));
    cmd.arg("--cavra-dir")
        .arg(&dir)
        .arg("serve")
        .args(extra)
        .current_dir(&project)
        .env("HOME", root)
        .env("CAVRA_APPROVER_DIR", approver)
        .env_remove("CAVRA_TOKEN_FILE")
        .env_remove("CAVRA_DB")
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_DATABASE_URL")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_APPROVAL_RBAC_FILE")
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
    /// Starts a server in `root` and waits for the address it prints.
    pub fn start_in(root: &Path, approver: &Path, extra: &[&str], env: &[(&str, &str)]) -> Srv {
        let mut child = command(root, approver, extra, env).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("cavra serve: listening on ") else {
            let _ = child.kill();
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("no address printed: {line:?}; stderr: {err}");
        };
        Srv {
            base: addr.to_string(),
            child: Some(child),
            dir: root.join("state"),
            project: root.join("project"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        call("GET", &self.url(path), token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        call("POST", &self.url(path), token, Some(&body.to_string()))
    }

    /// Sends SIGTERM and waits for the exit status and stderr.
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
}

impl Srv {
    /// Kills the server (SIGKILL: no graceful shutdown, requests cut mid-way) and waits.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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

fn agent() -> ureq::Agent {
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
    let mut res = if method == "GET" {
        let mut r = a.get(url);
        if let Some(h) = &auth {
            r = r.header("Authorization", h);
        }
        r.call().unwrap()
    } else {
        let mut r = a.post(url);
        if let Some(h) = &auth {
            r = r.header("Authorization", h);
        }
        r.content_type("application/json")
            .send(body.unwrap_or(""))
            .unwrap()
    };
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// The error document's code (and a non-empty message).
pub fn error_code(v: &Value) -> &str {
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    v["error"]["code"].as_str().unwrap_or("")
}
