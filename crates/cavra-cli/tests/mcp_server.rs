//! `cavra mcp serve` through the real binary: an MCP client session over stdio.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    proj: PathBuf,
    cavra_dir: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    let proj = proj.canonicalize().unwrap();
    let cavra_dir = proj.join(".cavra");
    Env {
        home,
        proj,
        cavra_dir,
        _tmp: tmp,
    }
}

fn command(e: &Env) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cavra"));
    c.current_dir(&e.proj)
        .env("HOME", &e.home)
        .env("CAVRA_DIR", &e.cavra_dir)
        .env_remove("CAVRA_EVIDENCE_DIR")
        .env_remove("CAVRA_KEY_DIR")
        .env_remove("CAVRA_NO_EVIDENCE")
        .env_remove("CAVRA_NON_INTERACTIVE");
    c
}

/// A client session: requests in, one reply line per request out (read with a timeout, so
/// a server that stops answering fails the test instead of hanging it).
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Session {
    fn start(e: &Env, extra: &[&str]) -> Session {
        let mut child = command(e)
            .args(["mcp", "serve"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            stdin,
            lines: rx,
        }
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
            .unwrap_or_else(|e| panic!("no reply from the server: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {line}"))
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send_raw(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let r = self.recv();
        assert_eq!(r["jsonrpc"], "2.0", "{r}");
        assert_eq!(r["id"], json!(id), "{r}");
        r
    }

    fn call(&mut self, id: i64, tool: &str, args: Value) -> Value {
        let r = self.request(id, "tools/call", json!({"name": tool, "arguments": args}));
        assert!(r.get("error").is_none(), "{r}");
        r["result"].clone()
    }

    /// Closes stdin and waits for the server to exit.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit after stdin closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn initialize(s: &mut Session, version: &str) -> Value {
    let r = s.request(
        1,
        "initialize",
        json!({
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "test-client", "version": "1.0"},
        }),
    );
    r["result"].clone()
}

fn evidence_records(e: &Env) -> Vec<Value> {
    let dir = e.cavra_dir.join("evidence");
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for f in files {
        for l in std::fs::read_to_string(&f).unwrap().lines() {
            if !l.trim().is_empty() {
                out.push(serde_json::from_str(l).unwrap());
            }
        }
    }
    out
}

fn find_text(records: &[Value], needle: &str) -> bool {
    records.iter().any(|r| r.to_string().contains(needle))
}

#[test]
fn client_session_end_to_end() {
    let e = env();
    let mut s = Session::start(&e, &[]);

    let init = initialize(&mut s, "2025-06-18");
    assert_eq!(init["protocolVersion"], "2025-06-18");
    assert_eq!(init["serverInfo"]["name"], "cavra");
    assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(init["capabilities"]["tools"].is_object(), "{init}");

    // a notification gets no reply: the next reply must be the ping's
    s.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let pong = s.request(2, "ping", json!({}));
    assert_eq!(pong["result"], json!({}));

    let list = s.request(3, "tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, cavra_mcp::tools::TOOL_NAMES);
    assert_eq!(names[0], "evaluate_action");
    for t in tools {
        // an output schema for every tool, itself valid
        jsonschema::validator_for(&t["outputSchema"]).unwrap_or_else(|err| panic!("{t}: {err}"));
        let schema = &t["inputSchema"];
        assert_eq!(schema["type"], "object", "{t}");
        assert!(schema["properties"].is_object(), "{t}");
        assert!(schema["required"].is_array(), "{t}");
        assert!(
            t["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{t}"
        );
        // the schema itself is a valid JSON Schema
        jsonschema::validator_for(schema).unwrap_or_else(|err| panic!("{t}: {err}"));
    }
    let eval_schema = &tools[0]["inputSchema"];
    assert_eq!(eval_schema["required"], json!(["action_type", "target"]));
    assert_eq!(
        eval_schema["properties"]["action_type"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    let v = jsonschema::validator_for(eval_schema).unwrap();
    assert!(v.is_valid(&json!({"action_type": "read_file", "target": ".env"})));
    assert!(!v.is_valid(&json!({"action_type": "teleport", "target": "x"})));
    assert!(!v.is_valid(&json!({"target": "x"})));

    // reading .env: blocked by the baseline's dotenv rule, recorded
    let r = s.call(
        4,
        "cavra_evaluate",
        json!({"action_type": "read_file", "target": ".env"}),
    );
    assert_eq!(r["isError"], false, "{r}");
    let d = &r["structuredContent"];
    assert_eq!(d["decision"], "block", "{r}");
    assert_eq!(d["proceed"], false);
    assert_eq!(d["rule_id"], "secrets.dotenv.read");
    assert_eq!(d["action_type"], "read_file");
    assert_eq!(d["policy"]["id"], "cavra-coding-baseline");
    let rec_env = d["evidence_record"].as_str().unwrap().to_string();
    let text = r["content"][0]["text"].as_str().unwrap();
    assert_eq!(r["content"][0]["type"], "text");
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(
        text.contains("BLOCK") && text.contains("secrets.dotenv.read"),
        "{text}"
    );

    // the same shape as `cavra evaluate --json`
    let cli = command(&e)
        .args(["--json", "evaluate", "read_file", ".env", "--no-record"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let mut a: Vec<&String> = d.as_object().unwrap().keys().collect();
    let mut b: Vec<&String> = cli.as_object().unwrap().keys().collect();
    a.retain(|k| *k != "evidence_record");
    a.sort();
    b.sort();
    assert_eq!(
        a, b,
        "structuredContent keys differ from `cavra evaluate --json`"
    );
    assert!(d["request_hash"].as_str().is_some_and(|h| !h.is_empty()));

    // a shell command
    let r = s.call(
        5,
        "cavra_check_command",
        json!({"command": "git push --force"}),
    );
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["decision"], "block", "{r}");
    assert_eq!(r["structuredContent"]["action_type"], "execute_command");
    let rec_push = r["structuredContent"]["evidence_record"]
        .as_str()
        .unwrap()
        .to_string();

    // a harmless one is allowed
    let r = s.call(6, "cavra_check_command", json!({"command": "ls -la"}));
    assert_eq!(r["structuredContent"]["decision"], "allow", "{r}");
    assert_eq!(r["structuredContent"]["proceed"], true, "{r}");

    // garbage on the wire: -32700 with id null, and the server keeps going
    s.send_raw("{this is not json");
    let err = s.recv();
    assert_eq!(err["id"], Value::Null, "{err}");
    assert_eq!(err["error"]["code"], -32700, "{err}");
    let pong = s.request(7, "ping", json!({}));
    assert_eq!(pong["result"], json!({}), "{pong}");

    // unknown method: -32601
    let r = s.request(8, "resources/list", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");

    // an unknown tool is a protocol error (invalid params); bad arguments are tool errors
    // the model can read
    let r = s.request(
        9,
        "tools/call",
        json!({"name": "cavra_teleport", "arguments": {}}),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cavra_teleport"));
    let r = s.call(10, "cavra_evaluate", json!({"action_type": "read_file"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        r["content"][0]["text"].as_str().unwrap().contains("target"),
        "{r}"
    );
    let r = s.call(
        11,
        "cavra_evaluate",
        json!({"action_type": "teleport", "target": "x"}),
    );
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("read_file"),
        "lists the valid action types: {r}"
    );
    let r = s.call(12, "cavra_check_command", json!({"command": 42}));
    assert_eq!(r["isError"], true, "{r}");
    let r = s.call(
        13,
        "cavra_check_command",
        json!({"command": "ls", "bogus": 1}),
    );
    assert_eq!(r["isError"], true, "{r}");
    assert!(r["content"][0]["text"].as_str().unwrap().contains("bogus"));

    // explain: matched rules, nothing recorded
    let before = evidence_records(&e).len();
    let r = s.call(
        14,
        "cavra_explain",
        json!({"action_type": "read_file", "target": ".env"}),
    );
    assert_eq!(r["isError"], false, "{r}");
    let rules = r["structuredContent"]["matched_rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .any(|m| m["rule_id"] == "secrets.dotenv.read" && m["effect"] == "block"),
        "{r}"
    );
    assert!(r["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("secrets.dotenv.read"));
    assert_eq!(
        evidence_records(&e).len(),
        before,
        "explain must not record"
    );

    // MCP tool calls: `server:tool` as the target
    let r = s.call(
        15,
        "cavra_evaluate",
        json!({"action_type": "mcp_tool_call", "target": "gh:delete_repo", "arguments": {"repo": "x"}}),
    );
    assert_eq!(r["isError"], false, "{r}");
    assert_ne!(r["structuredContent"]["decision"], "allow", "{r}");

    // policy summary
    let r = s.call(16, "cavra_policy_summary", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    let p = &r["structuredContent"];
    assert_eq!(p["id"], "cavra-coding-baseline");
    assert!(p["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(p["version"].is_string());
    let rules = p["rules"].as_array().unwrap();
    assert!(rules
        .iter()
        .any(|r| r["id"] == "secrets.dotenv.read" && r["effect"] == "block"));
    assert!(rules
        .iter()
        .all(|r| r["id"].is_string() && r["effect"].is_string()));

    let st = s.finish();
    assert!(st.success(), "server exit: {st:?}");

    // evidence: both decisions recorded, with the client as the agent, and the log verifies
    let recs = evidence_records(&e);
    assert!(find_text(&recs, &rec_env), "record {rec_env} missing");
    assert!(find_text(&recs, &rec_push), "record {rec_push} missing");
    assert!(find_text(&recs, "\"agent_id\":\"test-client\""));
    let v = command(&e).args(["evidence", "verify"]).output().unwrap();
    assert!(
        v.status.success(),
        "evidence verify: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn protocol_versions_and_framing() {
    let e = env();
    let mut s = Session::start(&e, &[]);
    // an older supported version is echoed back
    assert_eq!(
        initialize(&mut s, "2024-11-05")["protocolVersion"],
        "2024-11-05"
    );
    // an unknown one gets the latest
    assert_eq!(
        initialize(&mut s, "1999-01-01")["protocolVersion"],
        "2025-06-18"
    );
    // not JSON-RPC 2.0, not an object, a batch, a bad id: -32600
    s.send_raw(r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#);
    let r = s.recv();
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_eq!(r["id"], 5);
    s.send_raw("[1, 2]");
    assert_eq!(s.recv()["error"]["code"], -32600);
    s.send_raw(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#);
    let r = s.recv();
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_eq!(r["id"], Value::Null);
    // tools/call without a name: invalid params
    let r = s.request(6, "tools/call", json!({}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // blank lines are ignored; non-UTF-8 is a parse error
    s.send_raw("");
    s.stdin.as_mut().unwrap().write_all(b"\xff\xfe\n").unwrap();
    let r = s.recv();
    assert_eq!(r["error"]["code"], -32700, "{r}");
    // a line over 4 MiB: -32600, then the server still answers
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "a".repeat(4 * 1024 * 1024 + 10)
    );
    s.send_raw(&big);
    let r = s.recv();
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_eq!(r["id"], Value::Null);
    let r = s.request(10, "ping", json!(null));
    assert_eq!(r["result"], json!({}), "{r}");
    // string ids are echoed
    s.send_raw(r#"{"jsonrpc":"2.0","id":"abc","method":"ping"}"#);
    assert_eq!(s.recv()["id"], "abc");
    assert!(s.finish().success());
}

#[test]
fn project_policy_and_pack_flags() {
    let e = env();
    std::fs::create_dir_all(&e.cavra_dir).unwrap();
    // a project pack extending the baseline
    std::fs::write(
        e.cavra_dir.join("policy.yaml"),
        "metadata:\n  id: cavra-my-project\n  title: Mine\n  version: 0.2.0\n  extends: cavra-coding-baseline\n",
    )
    .unwrap();
    let mut s = Session::start(&e, &[]);
    initialize(&mut s, "2025-06-18");
    let r = s.call(2, "cavra_policy_summary", json!({}));
    assert_eq!(r["structuredContent"]["id"], "cavra-my-project", "{r}");
    assert_eq!(r["structuredContent"]["version"], "0.2.0", "{r}");
    assert!(s.finish().success());

    // --pack overrides the project's policy
    let mut s = Session::start(&e, &["--pack", "strict"]);
    initialize(&mut s, "2025-06-18");
    let r = s.call(2, "cavra_policy_summary", json!({}));
    assert_eq!(r["structuredContent"]["id"], "cavra-strict", "{r}");
    assert!(s.finish().success());

    // a project policy that does not load: tool error, not a crash
    std::fs::write(e.cavra_dir.join("policy.yaml"), "metadata: [oops\n").unwrap();
    let mut s = Session::start(&e, &[]);
    initialize(&mut s, "2025-06-18");
    let r = s.call(
        2,
        "cavra_evaluate",
        json!({"action_type": "read_file", "target": "README.md"}),
    );
    assert_eq!(r["isError"], true, "{r}");
    assert!(r["content"][0]["text"].as_str().unwrap().contains("policy"));
    assert!(s.finish().success());
}

/// Every reference tool answers a valid call with `structuredContent` that its own
/// `outputSchema` accepts, and with the decision it should give.
#[test]
fn reference_tools_answer_with_their_output_schema() {
    let e = env();
    let mut s = Session::start(&e, &[]);
    initialize(&mut s, "2025-06-18");
    let list = s.request(2, "tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap().clone();
    let schema = |name: &str| {
        let t = tools.iter().find(|t| t["name"] == name).unwrap();
        jsonschema::validator_for(&t["outputSchema"]).unwrap()
    };
    let calls = [
        (
            "evaluate_action",
            json!({"action_type": "read_file", "target": ".env"}),
            Some("block"),
        ),
        ("check_file_read", json!({"path": ".env"}), Some("block")),
        (
            "check_file_read",
            json!({"path": "src/main.rs"}),
            Some("allow"),
        ),
        (
            "check_file_write",
            json!({"path": "/etc/passwd"}),
            Some("block"),
        ),
        (
            "check_command",
            json!({"command": "rm -rf ~"}),
            Some("block"),
        ),
        (
            "check_git_operation",
            json!({"operation": "force_push", "ref": "origin/main"}),
            Some("block"),
        ),
        (
            "check_mcp_tool_call",
            json!({"server": "gh", "tool": "delete_repo", "arguments": {"repo": "x"}}),
            None,
        ),
        (
            "explain_decision",
            json!({"action_type": "execute_command", "target": "ls"}),
            None,
        ),
        (
            "generate_pr_attestation",
            json!({"base": "main", "head": "feature", "commit": "0123456789abcdef0123456789abcdef01234567"}),
            None,
        ),
        ("export_evidence", json!({"limit": 3}), None),
        ("policy_list", json!({}), None),
        (
            "policy_validate",
            json!({"source": "metadata: {id: cavra-x}\n"}),
            None,
        ),
        (
            "cavra_check_command",
            json!({"command": "ls"}),
            Some("allow"),
        ),
    ];
    for (i, (name, args, want)) in calls.iter().enumerate() {
        let r = s.call(10 + i64::try_from(i).unwrap(), name, args.clone());
        assert_eq!(r["isError"], false, "{name}: {r}");
        let sc = &r["structuredContent"];
        let real = if *name == "cavra_check_command" {
            "check_command"
        } else {
            name
        };
        let errs: Vec<String> = schema(real)
            .iter_errors(sc)
            .map(|e| e.to_string())
            .collect();
        assert!(errs.is_empty(), "{name}: {errs:?} in {sc}");
        if let Some(w) = want {
            assert_eq!(sc["decision"], *w, "{name}: {sc}");
        }
    }
    // what the calls said, checked further
    let r = s.call(40, "generate_pr_attestation", json!({"base": "main"}));
    let st = &r["structuredContent"]["statement"];
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1", "{st}");
    assert_eq!(
        st["predicate"]["decision_id"],
        r["structuredContent"]["decision"]["decision_id"]
    );
    let r = s.call(41, "export_evidence", json!({"limit": 500}));
    // the decisions of this session so far are in its evidence
    assert!(
        r["structuredContent"]["count"].as_u64().unwrap() >= 9,
        "{r}"
    );
    let r = s.call(42, "policy_list", json!({}));
    assert_eq!(
        r["structuredContent"]["active"]["id"], "cavra-coding-baseline",
        "{r}"
    );
    assert!(
        r["structuredContent"]["packs"].as_array().unwrap().len() > 3,
        "{r}"
    );
    let r = s.call(
        43,
        "policy_validate",
        json!({"source": "metadata: {id: 7}\nrules: 5\n"}),
    );
    assert_eq!(r["structuredContent"]["valid"], false, "{r}");
    assert!(
        r["structuredContent"]["problems"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{r}"
    );
    let bad = s.call(44, "export_evidence", json!({"limit": 0}));
    assert_eq!(bad["isError"], true, "{bad}");
    let bad = s.call(45, "check_file_read", json!({"target": ".env"}));
    assert_eq!(bad["isError"], true, "{bad}");
    // no tool that changes CAVRA's own state is offered
    for t in &tools {
        assert_eq!(t["annotations"]["destructiveHint"], false, "{t}");
    }
    assert!(s.finish().success());
}
