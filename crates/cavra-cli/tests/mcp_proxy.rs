//! `cavra mcp proxy` through the real binary, in front of a small fixture MCP server of
//! our own (`fixtures/mcp-proxy/upstream.py`, which can change its definitions between
//! sessions and logs every call it receives) and, when `.ci/mcp.sh` installed them, the
//! real npm servers. Skipped visibly when `python3` is absent.
#![allow(clippy::unwrap_used, clippy::panic)]

mod approver_common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    proj: PathBuf,
    log: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    let proj = proj.canonicalize().unwrap();
    std::fs::write(proj.join(".env"), "SECRET=hunter2\n").unwrap();
    std::fs::write(proj.join("notes.txt"), "hello from notes\n").unwrap();
    let log = tmp.path().join("upstream.log");
    // the approvers' trust root exists before the proxy starts (as in a real set-up)
    approver_common::approver_key(&home.join("approver"));
    Env {
        home,
        proj,
        log,
        _tmp: tmp,
    }
}

fn approver_dir(e: &Env) -> PathBuf {
    e.home.join("approver")
}

fn command(e: &Env) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cavra"));
    c.current_dir(&e.proj)
        .env("HOME", &e.home)
        .env("CAVRA_DIR", e.proj.join(".cavra"))
        .env("FIXTURE_LOG", &e.log)
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_NON_INTERACTIVE")
        .env_remove("FIXTURE_VARIANT")
        .env_remove("FIXTURE_POISON");
    approver_common::authenticate(&mut c, &approver_dir(e), &[]);
    c
}

fn python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mcp-proxy/upstream.py")
        .display()
        .to_string()
}

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next: i64,
}

impl Session {
    fn start(e: &Env, vars: &[(&str, &str)], upstream: &[&str]) -> Session {
        let mut args = vec!["mcp", "proxy", "--name", "fx", "--"];
        args.extend_from_slice(upstream);
        Session::start_with(e, vars, &args)
    }

    /// `cavra ARGS…` (a proxy serving stdio), initialized.
    fn start_with(e: &Env, vars: &[(&str, &str)], args: &[&str]) -> Session {
        let mut c = command(e);
        for (k, v) in vars {
            c.env(k, v);
        }
        let mut child = c
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Session {
            child,
            stdin,
            lines: rx,
            next: 1,
        };
        let init = s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "proxy-test", "version": "1"}}),
        );
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        s.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        s
    }

    fn send_raw(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        s.flush().unwrap();
    }

    fn recv(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no reply from the proxy: {e}"));
        serde_json::from_str(&line).unwrap()
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send_raw(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let r = self.recv();
        assert_eq!(r["id"], json!(id), "{r}");
        r
    }

    /// A request whose answer may follow notifications: (the notifications, the answer).
    fn request_noting(&mut self, method: &str, params: Value) -> (Vec<Value>, Value) {
        let id = self.next;
        self.next += 1;
        self.send_raw(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let mut notes = Vec::new();
        loop {
            let r = self.recv();
            if r.get("method").is_some() {
                notes.push(r);
                continue;
            }
            assert_eq!(r["id"], json!(id), "{r}");
            return (notes, r);
        }
    }

    fn names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({}));
        r["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        r["result"].clone()
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the proxy did not exit after stdin closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A person approves request `id` with their approver credential (outside the agent).
fn approve(e: &Env, id: &str) {
    let args = [
        "approvals",
        "approve",
        id,
        "--as",
        "alice",
        "--reason",
        "reviewed",
    ];
    let mut c = command(e);
    approver_common::authenticate(&mut c, &approver_dir(e), &args);
    let o = c.args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn text(r: &Value) -> String {
    r["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn upstream_saw(e: &Env) -> String {
    std::fs::read_to_string(&e.log).unwrap_or_default()
}

fn evidence(e: &Env) -> String {
    let dir = e.proj.join(".cavra/evidence");
    let mut s = String::new();
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        if f.path().extension().is_some_and(|x| x == "jsonl") {
            s.push_str(&std::fs::read_to_string(f.path()).unwrap());
        }
    }
    s
}

#[test]
fn calls_are_decided_before_they_reach_the_server() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let fx = fixture();
    let mut s = Session::start(&e, &[("FIXTURE_POISON", "1")], &["python3", &fx]);
    let names = s.names();
    // the poisoned tool is quarantined, the clean ones listed
    assert_eq!(
        names,
        ["read_file", "write_file", "echo", "die", "query", "run"],
        "{names:?}"
    );

    // an allowed read passes and its answer comes back unchanged
    let notes = e.proj.join("notes.txt").display().to_string();
    let r = s.call("read_file", json!({"path": notes}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(text(&r), "hello from notes\n");

    // reading .env: blocked with the reason and an alternative; the server never sees it
    let r = s.call(
        "read_file",
        json!({"path": e.proj.join(".env").display().to_string()}),
    );
    assert_eq!(r["isError"], true, "{r}");
    let t = text(&r);
    assert!(
        t.contains("policy-denied") && t.contains("secrets.dotenv.read") && t.contains("Instead:"),
        "{t}"
    );
    assert!(!t.contains("not found"), "{t}");

    // a write outside the allowed tree (a system path): blocked
    let r = s.call(
        "write_file",
        json!({"path": "/etc/cavra-proxy-test", "content": "x"}),
    );
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains("files.system.write"), "{r}");

    // a CI workflow: held for a person's approval, not made
    std::fs::create_dir_all(e.proj.join(".github/workflows")).unwrap();
    let outside = e.proj.join(".github/workflows/ci.yml");
    let args = json!({"path": outside.display().to_string(), "content": "x"});
    let r = s.call("write_file", args.clone());
    assert_eq!(r["isError"], true, "{r}");
    let t = text(&r);
    assert!(
        t.contains("require_approval") && t.contains("cavra approvals approve"),
        "{t}"
    );
    let id = t
        .split_whitespace()
        .skip_while(|w| *w != "request")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!outside.exists());

    // the quarantined tool cannot be called either
    let r = s.call("add", json!({"a": 1, "b": 2}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains("policy-denied"), "{r}");

    let saw = upstream_saw(&e);
    assert!(saw.contains("notes.txt"), "{saw}");
    assert!(
        !saw.contains(".env")
            && !saw.contains("ci.yml")
            && !saw.contains("/etc/")
            && !saw.contains("\"add\""),
        "{saw}"
    );

    // a person approves (outside the agent); the same call then passes once
    approve(&e, &id);
    let r = s.call("write_file", args.clone());
    assert_eq!(r["isError"], false, "{r}");
    assert!(outside.exists());
    let r = s.call("write_file", args);
    assert_eq!(r["isError"], true, "passes once only: {r}");

    // upstream killed mid-call: a clean JSON-RPC error, and errors after it
    let r = s.request("tools/call", json!({"name": "die", "arguments": {}}));
    assert_eq!(r["error"]["code"], -32603, "{r}");
    let r = s.request("ping", json!({}));
    assert_eq!(r["error"]["code"], -32603, "{r}");
    // malformed input is answered, never forwarded
    s.send_raw("{nope");
    assert_eq!(s.recv()["error"]["code"], -32700);
    s.finish();

    // the evidence names the server, the tools, the argument digests and decisions
    let ev = evidence(&e);
    for needle in [
        "mcp_tools_list",
        "mcp_proxy_call",
        "arguments_digest",
        "mcp.tool.poisoning",
        "secrets.dotenv.read",
    ] {
        assert!(ev.contains(needle), "{needle} not in the evidence");
    }
}

#[test]
fn a_changed_definition_is_withheld_until_a_person_approves_it() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let fx = fixture();
    let mut s = Session::start(&e, &[], &["python3", &fx]);
    assert!(s.names().contains(&"echo".to_string()));
    assert_eq!(text(&s.call("echo", json!({"message": "hi"}))), "hi");
    s.finish();

    // the same definition under a new name is withheld too
    let mut s = Session::start(&e, &[("FIXTURE_VARIANT", "renamed")], &["python3", &fx]);
    assert!(!s.names().contains(&"echo2".to_string()));
    s.finish();

    // a second session: the server changed `echo` (a rug pull)
    let mut s = Session::start(&e, &[("FIXTURE_VARIANT", "changed")], &["python3", &fx]);
    let names = s.names();
    assert_eq!(
        names,
        ["read_file", "write_file", "die", "query", "run"],
        "{names:?}"
    );
    let r = s.call("echo", json!({"message": "hi"}));
    assert_eq!(r["isError"], true, "{r}");
    s.finish();
    let saw = upstream_saw(&e);
    assert_eq!(saw.matches("\"echo\"").count(), 1, "{saw}");

    // a person approves the changed definition; the next session lists it
    let mut c = command(&e);
    let list = ["approvals", "list", "--status", "pending", "--json"];
    let o = c.args(list).output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let a = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule_id"] == "mcp.tool.definition_changed")
        .unwrap_or_else(|| panic!("{v}"));
    let id = a["approval_id"].as_str().unwrap().to_string();
    approve(&e, &id);
    let mut s = Session::start(&e, &[("FIXTURE_VARIANT", "changed")], &["python3", &fx]);
    assert!(s.names().contains(&"echo".to_string()));
    assert_eq!(text(&s.call("echo", json!({"message": "again"}))), "again");
    s.finish();
    assert!(evidence(&e).contains("mcp.tool.definition_changed"));
}

/// `target/mcp-npm` (`.ci/mcp.sh`) and the Python SDK (`target/mcp-client`, installed by
/// `mcp_real_client.rs`): both, or a visible skip (a failure under
/// `CAVRA_REQUIRE_MCP_NPM=1`).
fn npm_and_sdk() -> Option<(PathBuf, PathBuf)> {
    let target = Path::new(env!("CARGO_BIN_EXE_cavra"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    let npm = target.join("mcp-npm/node_modules/@modelcontextprotocol");
    let sdk = target.join("mcp-client/mcp-2.3.0");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && python() && npm.is_dir() && sdk.join("mcp").is_dir() {
        return Some((npm, sdk));
    }
    if std::env::var("CAVRA_REQUIRE_MCP_NPM").is_ok_and(|v| v == "1") {
        panic!("CAVRA_REQUIRE_MCP_NPM=1 but node, python3, {npm:?} or {sdk:?} is missing (run .ci/mcp.sh)");
    }
    eprintln!("skipped: the npm MCP servers or the Python SDK are not installed (run .ci/mcp.sh)");
    None
}

/// The Python SDK through the proxy to `server`: the tools listed and each call's result.
fn sdk_session(e: &Env, sdk: &Path, name: &str, calls: Value, server: &[String]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp-proxy/client.py");
    let mut c = command(e);
    let o = c
        .env_remove("CAVRA_APPROVER_DIR")
        .env("PYTHONPATH", sdk)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg(&script);
    let mut py = Command::new("python3");
    py.args(o.get_args()).current_dir(&e.proj);
    for (k, v) in o.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = py
        .arg(env!("CARGO_BIN_EXE_cavra"))
        .arg(name)
        .arg(calls.to_string())
        .arg("--")
        .args(server)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn the_npm_servers_behind_the_proxy_with_the_python_sdk() {
    let Some((npm, sdk)) = npm_and_sdk() else {
        return;
    };
    let e = env();
    let root = e.proj.display().to_string();
    let fs = vec![
        "node".into(),
        npm.join("server-filesystem/dist/index.js")
            .display()
            .to_string(),
        root.clone(),
    ];
    let calls = json!([
        ["read_text_file", {"path": format!("{root}/notes.txt")}],
        ["read_text_file", {"path": format!("{root}/.env")}],
        ["write_file", {"path": "/etc/cavra-proxy-test", "content": "x"}],
        ["read_file", {"path": format!("{root}/notes.txt")}],
    ]);
    let v = sdk_session(&e, &sdk, "filesystem", calls, &fs);
    let tools: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"read_text_file") && tools.contains(&"write_file"),
        "{v}"
    );
    // the deprecated `read_file` refers to another tool in its description: quarantined
    assert!(!tools.contains(&"read_file"), "{v}");
    let c = &v["calls"];
    assert_eq!(c[0]["isError"], false, "{v}");
    assert_eq!(c[0]["text"], "hello from notes\n", "{v}");
    assert_eq!(c[1]["isError"], true, "{v}");
    assert!(
        c[1]["text"]
            .as_str()
            .unwrap()
            .contains("secrets.dotenv.read"),
        "{v}"
    );
    assert_eq!(c[2]["isError"], true, "{v}");
    assert!(
        c[2]["text"]
            .as_str()
            .unwrap()
            .contains("files.system.write"),
        "{v}"
    );
    assert_eq!(c[3]["isError"], true, "{v}");
    assert!(
        c[3]["text"].as_str().unwrap().contains("policy-denied"),
        "{v}"
    );
    assert!(!Path::new("/etc/cavra-proxy-test").exists());

    let every = vec![
        "node".into(),
        npm.join("server-everything/dist/index.js")
            .display()
            .to_string(),
        "stdio".into(),
    ];
    let v = sdk_session(
        &e,
        &sdk,
        "everything",
        json!([["echo", {"message": "through the proxy"}]]),
        &every,
    );
    assert!(v["tools"].as_array().unwrap().len() > 3, "{v}");
    assert_eq!(v["calls"][0]["isError"], false, "{v}");
    assert!(
        v["calls"][0]["text"]
            .as_str()
            .unwrap()
            .contains("through the proxy"),
        "{v}"
    );
    let ev = evidence(&e);
    assert!(ev.contains("\"filesystem\"") && ev.contains("\"everything\""));
}

#[test]
fn resources_prompts_and_sql_are_subject_to_the_pack() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let fx = fixture();
    let mut s = Session::start(&e, &[], &["python3", &fx]);
    assert!(s.names().contains(&"query".to_string()));
    let p = e.proj.display().to_string();

    // SQL arguments are judged as SQL: a SELECT passes, DROP TABLE is blocked
    let r = s.call("query", json!({"sql": "SELECT id FROM users WHERE id = 1"}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(text(&r), "rows: 1");
    let r = s.call("query", json!({"sql": "DROP TABLE users"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        text(&r).contains("commands.database.destructive_sql"),
        "{r}"
    );
    // `run`'s schema says its `text` is SQL (a key otherwise read as free text)
    let r = s.call("run", json!({"text": "DROP TABLE users"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains("destructive_sql"), "{r}");

    // resources: the list without `.env`, its read a policy-denied JSON-RPC error
    let r = s.request("resources/list", json!({}));
    let uris: Vec<&str> = r["result"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|x| x["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [format!("file://{p}/notes.txt").as_str(), "demo://greeting"],
        "{r}"
    );
    let r = s.request("resources/read", json!({"uri": format!("file://{p}/.env")}));
    assert_eq!(r["error"]["code"], -32001, "{r}");
    let m = r["error"]["message"].as_str().unwrap();
    assert!(
        m.starts_with("CAVRA policy-denied") && m.contains("secrets.dotenv.read"),
        "{m}"
    );
    let r = s.request(
        "resources/read",
        json!({"uri": format!("file://{p}/notes.txt")}),
    );
    assert_eq!(
        r["result"]["contents"][0]["text"], "hello from notes\n",
        "{r}"
    );
    let r = s.request("resources/read", json!({"uri": "demo://greeting"}));
    assert_eq!(r["result"]["contents"][0]["text"], "hello", "{r}");
    let r = s.request("resources/templates/list", json!({}));
    assert_eq!(
        r["result"]["resourceTemplates"][0]["uriTemplate"], "demo://item/{id}",
        "{r}"
    );

    // prompts: their arguments are scanned like a tool's
    let r = s.request(
        "prompts/get",
        json!({"name": "review", "arguments": {"path": format!("{p}/.env")}}),
    );
    assert_eq!(r["error"]["code"], -32001, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy-denied"),
        "{r}"
    );
    let r = s.request(
        "prompts/get",
        json!({"name": "review", "arguments": {"path": format!("{p}/notes.txt")}}),
    );
    assert_eq!(
        r["result"]["messages"][0]["content"]["text"], "review it",
        "{r}"
    );
    s.finish();

    let saw = upstream_saw(&e);
    assert!(
        saw.contains("SELECT id") && saw.contains("notes.txt") && saw.contains("demo://greeting"),
        "{saw}"
    );
    assert!(!saw.contains(".env") && !saw.contains("DROP"), "{saw}");
    let ev = evidence(&e);
    for needle in [
        "mcp_proxy_resource_read",
        "mcp_proxy_prompt_get",
        "mcp_resources_list",
        "commands.database.destructive_sql",
    ] {
        assert!(ev.contains(needle), "{needle} not in the evidence");
    }
}

/// A child process whose stdout lines are read on a thread, killed when dropped.
struct Served {
    child: Child,
    lines: Receiver<String>,
}

impl Served {
    fn spawn(mut c: Command) -> Served {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Served { child, lines: rx }
    }

    /// The first line of stdout that contains `needle`.
    fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("no `{needle}` line: {e}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `cavra mcp proxy --name NAME --upstream URL` on a free loopback port: its `/mcp` URL.
fn http_proxy(e: &Env, name: &str, upstream: &str) -> (Served, String) {
    http_proxy_with(e, name, upstream, &[])
}

/// [`http_proxy`] with more options.
fn http_proxy_with(e: &Env, name: &str, upstream: &str, more: &[&str]) -> (Served, String) {
    let mut c = command(e);
    c.args(["mcp", "proxy", "--name", name, "--upstream", upstream])
        .args(["--listen", "127.0.0.1:0"])
        .args(more);
    let p = Served::spawn(c);
    let line = p.wait_for("listening on");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    (p, url)
}

struct Http {
    agent: ureq::Agent,
    url: String,
    session: Option<String>,
    next: i64,
}

/// One answer: the status, the session header, the JSON-RPC messages (one for JSON, each
/// event's for SSE) and whether it was a stream.
struct Answer {
    status: u16,
    session: Option<String>,
    messages: Vec<Value>,
    sse: bool,
}

impl Answer {
    fn last(&self) -> &Value {
        self.messages.last().unwrap_or(&Value::Null)
    }
}

impl Http {
    fn new(url: &str) -> Http {
        // a connection per request: the server closes a connection after an answer it
        // gives without reading the whole body (413), and a pooled connection reused in
        // that moment fails with "peer disconnected" (seen once in CI)
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .max_idle_connections(0)
            .proxy(None)
            .build()
            .into();
        Http {
            agent,
            url: url.to_string(),
            session: None,
            next: 1,
        }
    }

    fn post_raw(&self, body: &[u8], headers: &[(&str, &str)]) -> Answer {
        let mut r = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = &self.session {
            r = r.header("mcp-session-id", s);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let mut resp = r.send(body).unwrap();
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        let sse = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
        let text = resp.body_mut().read_to_string().unwrap();
        let messages = if sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .map(|d| serde_json::from_str(d).unwrap())
                .collect()
        } else if text.trim().is_empty() {
            Vec::new()
        } else {
            vec![serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))]
        };
        Answer {
            status,
            session,
            messages,
            sse,
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Answer {
        let id = self.next;
        self.next += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let a = self.post_raw(body.to_string().as_bytes(), &[]);
        assert_eq!(a.last()["id"], json!(id), "{method}: {:?}", a.messages);
        a
    }

    fn initialize(&mut self) {
        self.session = None;
        let a = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "http-test", "version": "1"}}),
        );
        assert_eq!(a.status, 200);
        assert!(
            a.last()["result"]["serverInfo"].is_object(),
            "{:?}",
            a.messages
        );
        self.session = a.session;
        let n = self.post_raw(
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &[],
        );
        assert_eq!(n.status, 202);
    }
}

/// The fixture server in Streamable HTTP mode: its `/mcp` URL.
fn fixture_http(e: &Env, vars: &[(&str, &str)]) -> (Served, String) {
    let mut c = Command::new("python3");
    c.arg(fixture())
        .arg("http")
        .current_dir(&e.proj)
        .env("FIXTURE_LOG", &e.log)
        .env_remove("FIXTURE_VARIANT")
        .env_remove("FIXTURE_POISON");
    for (k, v) in vars {
        c.env(k, v);
    }
    let s = Served::spawn(c);
    let port = s.wait_for("PORT ");
    let port = port.trim_start_matches("PORT ").trim().to_string();
    (s, format!("http://127.0.0.1:{port}/mcp"))
}

#[test]
fn the_http_proxy_decides_like_the_stdio_proxy() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let (mut upstream, up_url) = fixture_http(&e, &[("FIXTURE_POISON", "1")]);
    let (_proxy, url) = http_proxy(&e, "fx", &up_url);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let mut h = Http::new(&url);
    h.initialize();
    assert_eq!(h.session.as_deref(), Some("fixture-session"));

    let a = h.request("tools/list", json!({}));
    let names: Vec<&str> = a.last()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["read_file", "write_file", "echo", "die", "query", "run"],
        "the poisoned tool is withheld"
    );

    // an allowed call, answered as an SSE stream (the progress notification passes)
    let a = h.request(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "over http"}}),
    );
    assert!(a.sse, "{:?}", a.messages);
    assert_eq!(a.messages[0]["method"], "notifications/progress");
    assert_eq!(a.last()["result"]["content"][0]["text"], "over http");
    // blocked calls: answered by the proxy, never seen upstream
    let a = h.request(
        "tools/call",
        json!({"name": "read_file", "arguments": {"path": e.proj.join(".env").display().to_string()}}),
    );
    let r = &a.last()["result"];
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(r).contains("secrets.dotenv.read"), "{r}");
    let a = h.request(
        "tools/call",
        json!({"name": "query", "arguments": {"sql": "DROP TABLE users"}}),
    );
    assert!(text(&a.last()["result"]).contains("destructive_sql"));
    let a = h.request("tools/call", json!({"name": "add", "arguments": {}}));
    assert!(text(&a.last()["result"]).contains("policy-denied"));
    let a = h.request(
        "resources/read",
        json!({"uri": format!("file://{}/.env", e.proj.display())}),
    );
    assert_eq!(a.last()["error"]["code"], -32001);

    // malformed, oversized, foreign origins, unknown sessions: refused, never forwarded
    let a = h.post_raw(b"{nope", &[]);
    assert_eq!(
        (a.status, a.last()["error"]["code"].clone()),
        (400, json!(-32700))
    );
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":99,"method":"ping","params":{{"x":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    assert_eq!(h.post_raw(big.as_bytes(), &[]).status, 413);
    let ping = br#"{"jsonrpc":"2.0","id":100,"method":"ping"}"#;
    let a = h.post_raw(ping, &[("origin", "http://evil.example")]);
    assert_eq!(a.status, 403);
    let a = h.post_raw(ping, &[("origin", "http://localhost:6274")]);
    assert_eq!(a.status, 200, "{:?}", a.messages);
    let saved = h.session.replace("not-a-session".into());
    assert_eq!(h.post_raw(ping, &[]).status, 404);
    h.session = saved;
    // the server's stream: the upstream's answer (405) passes
    let g = h
        .agent
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", h.session.as_deref().unwrap())
        .call()
        .unwrap();
    assert_eq!(g.status().as_u16(), 405);

    let saw = upstream_saw(&e);
    assert!(saw.contains("over http"), "{saw}");
    assert!(
        !saw.contains(".env")
            && !saw.contains("DROP")
            && !saw.contains("\"add\"")
            && !saw.contains("nope"),
        "{saw}"
    );

    // DELETE ends the session: it is unknown afterwards
    let d = h
        .agent
        .delete(&url)
        .header("mcp-session-id", h.session.as_deref().unwrap())
        .call()
        .unwrap();
    assert_eq!(d.status().as_u16(), 200);
    assert_eq!(h.post_raw(ping, &[]).status, 404);

    // the upstream killed mid-call, then down: clean JSON-RPC errors
    h.initialize();
    h.request("tools/list", json!({}));
    let a = h.request("tools/call", json!({"name": "die", "arguments": {}}));
    assert_eq!(a.last()["error"]["code"], -32603, "{:?}", a.messages);
    upstream.kill();
    let a = h.request("ping", json!({}));
    assert_eq!(a.last()["error"]["code"], -32603, "{:?}", a.messages);
    assert!(
        a.last()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not reachable"),
        "{:?}",
        a.messages
    );

    let ev = evidence(&e);
    for needle in [
        "mcp_tools_list",
        "mcp_proxy_call",
        "secrets.dotenv.read",
        "mcp.tool.poisoning",
    ] {
        assert!(ev.contains(needle), "{needle} not in the evidence");
    }
}

#[test]
fn the_everything_server_over_streamable_http_with_the_python_sdk() {
    let Some((npm, sdk)) = npm_and_sdk() else {
        return;
    };
    let e = env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut node = Command::new("node");
    node.arg(npm.join("server-everything/dist/index.js"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .current_dir(&e.proj);
    let mut upstream = Served::spawn(node);
    upstream.wait_for("Starting Streamable HTTP server");
    let up_url = format!("http://127.0.0.1:{port}/mcp");
    // the server listens once it logged its start (on stderr): wait until it answers
    let probe: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut tries = 0;
    while probe.get(&up_url).call().is_err() {
        tries += 1;
        assert!(
            tries < 600,
            "the everything server does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_proxy, url) = http_proxy(&e, "everything", &up_url);
    let client = |calls: Value| -> Value {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp-proxy/client_http.py");
        let out = Command::new("python3")
            .arg(&script)
            .arg(&url)
            .arg(calls.to_string())
            .env("PYTHONPATH", &sdk)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("NO_PROXY", "*")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "client failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap()
    };
    let env_path = e.proj.join(".env").display().to_string();
    let v = client(json!([
        ["echo", {"message": "through the http proxy"}],
        ["echo", {"message": "x", "path": env_path}],
    ]));
    assert!(v["error"].is_null(), "{v}");
    let tools = v["tools"].as_array().unwrap();
    assert!(tools.len() > 3 && tools.contains(&json!("echo")), "{v}");
    let c = &v["calls"];
    assert_eq!(c[0]["isError"], false, "{v}");
    assert!(
        c[0]["text"]
            .as_str()
            .unwrap()
            .contains("through the http proxy"),
        "{v}"
    );
    assert_eq!(c[1]["isError"], true, "{v}");
    assert!(
        c[1]["text"]
            .as_str()
            .unwrap()
            .contains("secrets.dotenv.read"),
        "{v}"
    );

    // the upstream killed: the session fails with the proxy's JSON-RPC error
    upstream.kill();
    let v = client(json!([["echo", {"message": "again"}]]));
    let err = v["error"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(err.contains("not reachable"), "{err}");
    let ev = evidence(&e);
    assert!(ev.contains("\"everything\"") && ev.contains("secrets.dotenv.read"));
}

/// A CA, and a server certificate for 127.0.0.1 it signed: (CA PEM, server config).
fn test_pki() -> (String, std::sync::Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "CAVRA MCP proxy test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca_cert.pem(), std::sync::Arc::new(cfg))
}

/// A TLS terminator on 127.0.0.1 in front of the plain HTTP server on `backend`: one
/// request per connection (`connection: close` both ways), the backend's answer relayed
/// as it comes. Returns its `https://127.0.0.1:PORT` base.
fn tls_front(cfg: std::sync::Arc<rustls::ServerConfig>, backend: u16) -> String {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for tcp in l.incoming() {
            let Ok(tcp) = tcp else { continue };
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut r = BufReader::new(&mut tls);
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    // a failed handshake (an untrusted certificate) ends here
                    if r.read_line(&mut h).unwrap_or(0) == 0 {
                        return;
                    }
                    let t = h.trim_end();
                    if t.is_empty() {
                        break;
                    }
                    let lower = t.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if !lower.starts_with("connection:") {
                        head.push_str(t);
                        head.push_str("\r\n");
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let mut up = std::net::TcpStream::connect(("127.0.0.1", backend)).unwrap();
                up.write_all(format!("{head}connection: close\r\n\r\n").as_bytes())
                    .unwrap();
                up.write_all(&body).unwrap();
                let mut ur = BufReader::new(up);
                let mut status = String::new();
                ur.read_line(&mut status).unwrap();
                let _ = tls.write_all(status.as_bytes());
                let _ = tls.write_all(b"connection: close\r\n");
                let mut buf = [0u8; 8192];
                loop {
                    match ur.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tls.write_all(&buf[..n]).and_then(|()| tls.flush()).is_err() {
                                return;
                            }
                        }
                    }
                }
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    base
}

#[test]
fn an_https_upstream_is_trusted_with_its_ca_file_and_refused_without() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let (_upstream, up_url) = fixture_http(&e, &[]);
    let port: u16 = up_url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    let (ca_pem, cfg) = test_pki();
    let ca_file = e.home.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let tls_url = format!("{}/mcp", tls_front(cfg, port));
    let ca = ca_file.display().to_string();

    // trusted through the CA file: the HTTP listener and the stdio bridge
    let (_proxy, url) = http_proxy_with(&e, "fx", &tls_url, &["--ca-file", &ca]);
    let mut h = Http::new(&url);
    h.initialize();
    assert_eq!(h.session.as_deref(), Some("fixture-session"));
    h.request("tools/list", json!({}));
    let a = h.request(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "over https"}}),
    );
    assert_eq!(a.last()["result"]["content"][0]["text"], "over https");
    let a = h.request(
        "tools/call",
        json!({"name": "read_file", "arguments": {"path": e.proj.join(".env").display().to_string()}}),
    );
    assert_eq!(a.last()["result"]["isError"], true);
    let mut s = Session::start_with(
        &e,
        &[],
        &[
            "mcp",
            "proxy",
            "--name",
            "fx",
            "--upstream",
            &tls_url,
            "--ca-file",
            &ca,
        ],
    );
    s.names();
    let (_, r) = s.request_noting(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "bridged over https"}}),
    );
    assert_eq!(text(&r["result"]), "bridged over https", "{r}");
    s.finish();

    // without it: the certificate is not trusted, the request a clean JSON-RPC error
    let (_plain, url) = http_proxy(&e, "fx", &tls_url);
    let mut h = Http::new(&url);
    let a = h.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let err = &a.last()["error"];
    assert_eq!(err["code"], -32603, "{:?}", a.messages);
    let m = err["message"].as_str().unwrap();
    assert!(m.contains("not reachable") && m.contains("TLS"), "{m}");
    let out = command(&e)
        .args(["mcp", "proxy", "--name", "fx", "--upstream", &tls_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = out;
    let mut stdin = out.stdin.take().unwrap();
    stdin
        .write_all(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"untrusted","version":"1"}}}"#,
        )
        .unwrap();
    stdin.write_all(b"\n").unwrap();
    drop(stdin);
    let o = out.wait_with_output().unwrap();
    let line: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["error"]["code"], -32603, "{line}");
    let m = line["error"]["message"].as_str().unwrap();
    assert!(m.contains("not reachable") && m.contains("TLS"), "{m}");
    let saw = upstream_saw(&e);
    assert!(
        saw.contains("\"over https\"") && saw.contains("bridged over https"),
        "{saw}"
    );
    assert!(!saw.contains("untrusted") && !saw.contains(".env"), "{saw}");
    // a CA file for an http:// upstream, or one without a certificate: refused at start
    let o = command(&e)
        .args([
            "mcp",
            "proxy",
            "--name",
            "fx",
            "--upstream",
            &up_url,
            "--ca-file",
            &ca,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--ca-file is for an https://"));
    std::fs::write(&ca_file, "not a certificate\n").unwrap();
    let o = command(&e)
        .args([
            "mcp",
            "proxy",
            "--name",
            "fx",
            "--upstream",
            &tls_url,
            "--ca-file",
            &ca,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no PEM certificate"));
}

#[test]
fn the_stdio_bridge_speaks_streamable_http_to_the_upstream() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let (mut upstream, up_url) =
        fixture_http(&e, &[("FIXTURE_POISON", "1"), ("FIXTURE_GET_STREAM", "1")]);
    let mut s = Session::start_with(
        &e,
        &[],
        &["mcp", "proxy", "--name", "fx", "--upstream", &up_url],
    );
    // (the server's stream may send its notification at any moment: collected aside)
    let (notes, r) = s.request_noting("tools/list", json!({}));
    let names: Vec<&str> = r["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["read_file", "write_file", "echo", "die", "query", "run"],
        "the poisoned tool is withheld"
    );
    let mut seen: Vec<String> = notes
        .iter()
        .map(|n| n["method"].as_str().unwrap().to_string())
        .collect();
    // an allowed call: its SSE answer, the progress notification first
    let (notes, r) = s.request_noting(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "bridged"}}),
    );
    assert_eq!(text(&r["result"]), "bridged", "{r}");
    seen.extend(
        notes
            .iter()
            .map(|n| n["method"].as_str().unwrap().to_string()),
    );
    assert!(
        seen.iter().any(|m| m == "notifications/progress"),
        "{seen:?}"
    );
    // blocked: answered by the proxy, never seen upstream
    let (more, r) = s.request_noting(
        "tools/call",
        json!({"name": "read_file", "arguments": {"path": e.proj.join(".env").display().to_string()}}),
    );
    seen.extend(
        more.iter()
            .map(|n| n["method"].as_str().unwrap().to_string()),
    );
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(text(&r["result"]).contains("secrets.dotenv.read"), "{r}");
    let (more, r) = s.request_noting(
        "tools/call",
        json!({"name": "query", "arguments": {"sql": "DROP TABLE users"}}),
    );
    seen.extend(
        more.iter()
            .map(|n| n["method"].as_str().unwrap().to_string()),
    );
    assert!(text(&r["result"]).contains("destructive_sql"), "{r}");
    // the server's own stream (GET) reaches the client
    while !seen.iter().any(|m| m == "notifications/message") {
        let n = s.recv();
        seen.push(n["method"].as_str().unwrap_or_default().to_string());
    }
    // malformed input: answered, never forwarded
    s.send_raw("{nope");
    let r = loop {
        let r = s.recv();
        if r.get("method").is_none() {
            break r;
        }
    };
    assert_eq!(r["error"]["code"], -32700, "{r}");

    // the upstream killed mid-call, then down: clean JSON-RPC errors
    let (_, r) = s.request_noting("tools/call", json!({"name": "die", "arguments": {}}));
    assert_eq!(r["error"]["code"], -32603, "{r}");
    upstream.kill();
    let (_, r) = s.request_noting("ping", json!({}));
    assert_eq!(r["error"]["code"], -32603, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not reachable"),
        "{r}"
    );
    s.finish();
    let saw = upstream_saw(&e);
    assert!(saw.contains("bridged"), "{saw}");
    assert!(
        !saw.contains(".env") && !saw.contains("DROP") && !saw.contains("nope"),
        "{saw}"
    );

    // a clean end: DELETE sent upstream when the client leaves, with the headers of a
    // wrapped entry's environment (`cavra init --wrap-mcp`)
    let (_upstream, up_url) = fixture_http(&e, &[]);
    let remote =
        json!({"type": "http", "url": up_url, "headers": {"Authorization": "Bearer t0ken"}});
    let mut s = Session::start_with(
        &e,
        &[("CAVRA_MCP_REMOTE", &remote.to_string())],
        &["mcp", "proxy", "--name", "fx", "--upstream", &up_url],
    );
    s.names();
    s.finish();
    let saw = upstream_saw(&e);
    assert!(
        saw.contains(r#"{"http": "DELETE", "arguments": {"session": "fixture-session", "authorization": "Bearer t0ken"}}"#),
        "{saw}"
    );
    // headers that are not an object of strings: refused at start
    let o = command(&e)
        .env("CAVRA_MCP_REMOTE", r#"{"headers": {"Authorization": 1}}"#)
        .args(["mcp", "proxy", "--name", "fx", "--upstream", &up_url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("CAVRA_MCP_REMOTE"));
    let ev = evidence(&e);
    assert!(ev.contains("mcp_proxy_call") && ev.contains("secrets.dotenv.read"));
}

#[test]
fn an_idle_http_session_is_ended_upstream_and_then_unknown() {
    if !python() {
        eprintln!("skipped: python3 not present (the proxy's fixture server)");
        return;
    }
    let e = env();
    let (_upstream, up_url) = fixture_http(&e, &[]);
    let (_proxy, url) = http_proxy_with(&e, "fx", &up_url, &["--session-idle", "3s"]);
    let mut h = Http::new(&url);
    h.initialize();
    let ping = br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;
    assert_eq!(h.post_raw(ping, &[]).status, 200);
    // left alone, the session ends (the expiry itself is unit-tested with a given clock)
    let mut status = 200;
    for _ in 0..600 {
        std::thread::sleep(Duration::from_millis(100));
        if upstream_saw(&e).contains("DELETE") {
            status = h.post_raw(ping, &[]).status;
            break;
        }
    }
    assert_eq!(status, 404, "an idle session is unknown afterwards");
    assert!(
        upstream_saw(&e).contains(r#""session": "fixture-session""#),
        "{}",
        upstream_saw(&e)
    );
    // a bad duration is refused by the command line
    let o = command(&e)
        .args(["mcp", "proxy", "--name", "fx", "--upstream", &up_url])
        .args(["--listen", "127.0.0.1:0", "--session-idle", "soon"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--session-idle"));
}
