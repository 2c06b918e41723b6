//! A minimal MCP client for `cavra doctor`: does `<program> mcp serve` answer `initialize`?

use crate::server::PROTOCOL_VERSION;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Sends `initialize` to `program mcp serve` (run in `dir`) and waits up to `timeout` for the
/// reply. Returns the server's `serverInfo` version and protocol version.
pub fn probe(
    program: &Path,
    dir: &Path,
    client_version: &str,
    timeout: Duration,
) -> Result<(String, String), String> {
    let mut child = Command::new(program)
        .args(["mcp", "serve"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start `{} mcp serve`: {e}", program.display()))?;
    let req = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "cavra-doctor", "version": client_version}},
    });
    let sent = match child.stdin.take() {
        Some(mut stdin) => writeln!(stdin, "{req}").map_err(|e| e.to_string()),
        None => Err("no stdin".to_string()),
    };
    // stdin is dropped here: the server sees EOF after answering and exits
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line);
            let _ = tx.send(r);
        });
    }
    let got = rx.recv_timeout(timeout);
    let _ = child.kill();
    let _ = child.wait();
    sent.map_err(|e| format!("cannot send `initialize`: {e}"))?;
    let line = match got {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return Err(format!("cannot read the reply: {e}")),
        Err(_) => {
            return Err(format!(
                "no reply to `initialize` within {}s",
                timeout.as_secs()
            ))
        }
    };
    let v: Value = serde_json::from_str(line.trim()).map_err(|e| {
        format!(
            "the reply to `initialize` is not JSON ({e}): {}",
            line.trim()
        )
    })?;
    let name = v.pointer("/result/serverInfo/name").and_then(Value::as_str);
    let proto = v.pointer("/result/protocolVersion").and_then(Value::as_str);
    match (name, proto) {
        (Some("cavra"), Some(p)) => Ok((
            v.pointer("/result/serverInfo/version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            p.to_string(),
        )),
        _ => Err(format!("unexpected reply to `initialize`: {v}")),
    }
}
