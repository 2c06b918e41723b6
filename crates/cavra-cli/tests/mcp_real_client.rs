//! `cavra mcp serve` driven by a real MCP client: the Python `mcp` SDK from PyPI (pinned),
//! installed by this test into `target/mcp-client/` on first use (about 45 MB, ~10 s; later
//! runs reuse it). Skipped, visibly, only when `python3` is absent. Also the same SDK's
//! Streamable HTTP client against `cavra serve`'s `/mcp`.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "server_common.rs"]
mod server_common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The client SDK this test runs (PyPI package `mcp`).
const MCP_SDK: &str = "mcp==2.3.0";

fn python() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| PathBuf::from("python3"))
}

/// `target/mcp-client/<sdk>`: the SDK installed with `pip install --target`, once.
fn sdk_dir(python: &Path) -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_cavra"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    let dir = target.join("mcp-client").join(MCP_SDK.replace("==", "-"));
    if dir.join("mcp").join("__init__.py").is_file() {
        return dir;
    }
    // install beside it, then move into place: a concurrent run never sees half an install
    let tmp = target
        .join("mcp-client")
        .join(format!(".install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-warn-conflicts", "--no-input", "--target"])
        .arg(&tmp)
        .arg(MCP_SDK)
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install {MCP_SDK} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if std::fs::rename(&tmp, &dir).is_err() {
        // another run got there first
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(dir.join("mcp").join("__init__.py").is_file(), "{dir:?}");
    dir
}

#[test]
fn python_sdk_client_session() {
    let Some(py) = python() else {
        eprintln!("skipped: python3 not present (needed for the real MCP client test)");
        return;
    };
    let sdk = sdk_dir(&py);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    let proj = proj.canonicalize().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp-client/client.py");
    let child = Command::new(&py)
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .arg(&proj)
        .current_dir(&proj)
        .env("PYTHONPATH", &sdk)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("HOME", &home)
        .env("CAVRA_DIR", proj.join(".cavra"))
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let v = finish(child);

    assert_eq!(v["protocolVersion"], "2025-06-18", "{v}");
    assert_eq!(v["serverInfo"]["name"], "cavra");
    assert_eq!(v["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    let names: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, cavra_mcp::tools::TOOL_NAMES);
    let check = &v["tools"][3]["inputSchema"];
    assert_eq!(check["required"], serde_json::json!(["command"]), "{check}");
    for t in v["tools"].as_array().unwrap() {
        assert_eq!(t["outputSchema"]["type"], "object", "{t}");
    }

    let b = &v["blocked"];
    assert_eq!(b["isError"], false, "{b}");
    assert_eq!(b["structuredContent"]["decision"], "block", "{b}");
    assert_eq!(b["structuredContent"]["proceed"], false);
    assert_eq!(
        b["structuredContent"]["rule_id"],
        "commands.destructive.rm_recursive"
    );
    assert!(b["structuredContent"]["evidence_record"].is_string(), "{b}");
    assert!(b["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("CAVRA BLOCK"));

    let a = &v["allowed"];
    assert_eq!(a["isError"], false, "{a}");
    assert_eq!(a["structuredContent"]["decision"], "allow", "{a}");
    assert_eq!(a["structuredContent"]["proceed"], true);

    // the SDK accepted every result against the tool's output schema
    let o = v["others"].as_object().unwrap();
    assert_eq!(o.len(), 11, "{v}");
    for (name, r) in o {
        assert_eq!(r["isError"], false, "{name}: {r}");
        assert!(r["structuredContent"].is_object(), "{name}: {r}");
    }
    assert_eq!(
        o["check_file_read"]["structuredContent"]["decision"],
        "block"
    );
    assert_eq!(
        o["check_git_operation"]["structuredContent"]["decision"],
        "block"
    );

    // an unknown tool: a protocol error (invalid params)
    let u = &v["unknown"];
    assert_eq!(u["raised"], true, "{u}");
    assert_eq!(u["code"], -32602, "{u}");
    assert!(u["message"].as_str().unwrap().contains("cavra_teleport"));
}

/// `python3 SCRIPT ARGS…` with the SDK on the path, waited for (120 s at most); its stdout
/// as JSON.
fn run_client(py: &Path, sdk: &Path, script: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let child = Command::new(py)
        .arg(&script)
        .args(args)
        .env("PYTHONPATH", sdk)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}

/// Waits for the client (120 s at most): it must succeed and print one JSON document.
fn finish(mut child: std::process::Child) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the MCP client session did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stdout}"))
}

#[test]
fn python_sdk_streamable_http_client() {
    let Some(py) = python() else {
        eprintln!("skipped: python3 not present (needed for the real MCP client test)");
        return;
    };
    let sdk = sdk_dir(&py);
    let srv = server_common::Srv::start(&[], &[]);
    let token = srv.token("mcp-agent", "agent");
    let url = srv.url("/mcp");
    let v = run_client(
        &py,
        &sdk,
        "tests/fixtures/mcp-client/client_http.py",
        &[&url, &token],
    );
    assert_eq!(v["protocolVersion"], "2025-06-18", "{v}");
    assert_eq!(v["serverInfo"]["name"], "cavra", "{v}");
    let names: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(names, cavra_mcp::tools::TOOL_NAMES);
    let b = &v["blocked"];
    assert_eq!(b["isError"], false, "{b}");
    assert_eq!(b["structuredContent"]["decision"], "block", "{b}");
    assert_eq!(b["structuredContent"]["proceed"], false, "{b}");
    // the decision is in the server's evidence, like one of /v1/decisions
    let id = b["structuredContent"]["decision_id"].as_str().unwrap();
    let (code, d) = server_common::get(
        &srv,
        &format!("/v1/decisions/{id}"),
        Some(&srv.token("aud", "auditor")),
    );
    assert_eq!(code, 200, "{d}");
    // without a token the SDK's session fails (on the 401 checked below; the SDK's error
    // does not carry the status)
    let anon = v["anonymous"].as_str().unwrap();
    assert!(anon.contains("Server returned an error response"), "{anon}");

    // over plain HTTP: 401 without a token or with a wrong one, 403 for a role that may
    // not decide; the error documents are the server's
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (code, e) = server_common::post(&srv, "/mcp", None, &init);
    assert_eq!(code, 401, "{e}");
    server_common::is_error_doc(&e, "unauthorized");
    let (code, _) = server_common::post(&srv, "/mcp", Some("cavra_wrong"), &init);
    assert_eq!(code, 401);
    let (code, e) = server_common::post(&srv, "/mcp", Some(&srv.token("aud2", "auditor")), &init);
    assert_eq!(code, 403, "{e}");
}
