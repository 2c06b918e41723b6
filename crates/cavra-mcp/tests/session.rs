//! A whole session through `cavra_mcp::serve`, in process, over a backend that records the
//! requests it is given: framing, lifecycle, tools, and every request answered before the
//! server returns at the end of input.
#![allow(clippy::unwrap_used, clippy::panic)]

use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, ActionType};
use cavra_mcp::{ActivePolicy, Backend, BackendError, Decided, Explained, ServerOptions};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Value>>>,
}

fn pack() -> CompiledPack {
    cavra_core::policy::bundled::compiled("cavra-coding-baseline").unwrap()
}

fn evaluate(v: &Value) -> cavra_core::Decision {
    let at = ActionType::parse(v["action_type"].as_str().unwrap()).unwrap();
    let mut req = ActionRequest::new(at, v["target"].as_str().unwrap_or_default().to_string());
    req.cwd = Some("/work/app".into());
    req.repo_root = Some("/work/app".into());
    req.home = Some("/home/u".into());
    cavra_core::guard::evaluate(&pack(), &req, &Default::default())
}

impl Backend for Fake {
    fn decide(&self, request: &Value) -> Result<Decided, BackendError> {
        self.seen.lock().unwrap().push(request.clone());
        if request["target"] == "panic" {
            panic!("backend bug");
        }
        Ok(Decided {
            decision: evaluate(request),
            decision_id: "d1".into(),
            record_id: Some("r1".into()),
            approval_id: None,
            approval_note: None,
        })
    }
    fn explain(&self, request: &Value) -> Result<Explained, BackendError> {
        Ok(Explained {
            decision: evaluate(request),
            pack_source: "bundled".into(),
        })
    }
    fn policy(&self) -> Result<ActivePolicy, BackendError> {
        Err(BackendError::Policy("`x.yaml`: broken".into()))
    }
}

#[derive(Clone, Default)]
struct Out(Arc<Mutex<Vec<u8>>>);

impl Write for Out {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a session over `input`; the replies by id (framing errors under `null`).
fn session(fake: &Fake, input: &str) -> Vec<Value> {
    let out = Out::default();
    cavra_mcp::serve(
        fake.clone(),
        ServerOptions {
            version: "9.9.9".into(),
            session_id: "mcp-test".into(),
        },
        std::io::Cursor::new(input.as_bytes().to_vec()),
        out.clone(),
    )
    .unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn by_id(replies: &[Value], id: Value) -> &Value {
    replies
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no reply with id {id}: {replies:?}"))
}

#[test]
fn a_session_answers_everything_it_read() {
    let fake = Fake::default();
    let input = [
        // a notification before initialize is dropped (rmcp would end the session)
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"fake-client","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"cavra_check_command","arguments":{"command":"rm -rf ~"}}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"cavra_check_command","arguments":{"command":"ls","session_id":"s9"}}}"#,
        "{garbage",
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"cavra_policy_summary"}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"cavra_explain","arguments":{"action_type":"read_file","target":".env"}}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"resources/list"}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"ping","params":null}"#,
    ]
    .join("\n");
    let replies = session(&fake, &input);
    assert_eq!(replies.len(), 9, "{replies:?}");

    let init = &by_id(&replies, json!(1))["result"];
    assert_eq!(init["protocolVersion"], "2025-06-18");
    assert_eq!(
        init["serverInfo"],
        json!({"name": "cavra", "version": "9.9.9"})
    );

    let tools = by_id(&replies, json!(2))["result"]["tools"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(tools.len(), 11);
    assert_eq!(
        tools,
        cavra_mcp::tools::definitions().as_array().unwrap().clone()
    );

    let r = &by_id(&replies, json!(3))["result"];
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["decision"], "block", "{r}");
    assert_eq!(r["structuredContent"]["evidence_record"], "r1", "{r}");
    assert_eq!(
        by_id(&replies, json!(4))["result"]["structuredContent"]["decision"],
        "allow"
    );

    // the requests the backend saw carry the session defaults
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        json!({"action_type": "execute_command", "target": "rm -rf ~", "session_id": "mcp-test", "agent_id": "fake-client"})
    );
    assert_eq!(seen[1]["session_id"], "s9");

    assert_eq!(by_id(&replies, Value::Null)["error"]["code"], -32700);
    let r = &by_id(&replies, json!(5))["result"];
    assert_eq!(r["isError"], true);
    assert!(r["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("the policy pack does not load"));
    let r = &by_id(&replies, json!(6))["result"];
    assert_eq!(r["structuredContent"]["recorded"], false, "{r}");
    assert_eq!(by_id(&replies, json!(7))["error"]["code"], -32601);
    assert_eq!(by_id(&replies, json!(8))["result"], json!({}));
}

#[test]
fn no_input_is_a_clean_end() {
    assert!(session(&Fake::default(), "").is_empty());
}

#[test]
fn requests_before_initialize_are_refused_except_ping() {
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"cavra_check_command","arguments":{"command":"ls"}}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#,
    ]
    .join("\n");
    let fake = Fake::default();
    let replies = session(&fake, &input);
    assert!(
        by_id(&replies, json!(1))["error"]["code"].is_i64(),
        "{replies:?}"
    );
    assert_eq!(by_id(&replies, json!(2))["result"], json!({}));
    assert!(
        by_id(&replies, json!(3))["error"]["code"].is_i64(),
        "{replies:?}"
    );
    assert!(
        fake.seen.lock().unwrap().is_empty(),
        "nothing decided before initialize"
    );
    assert_eq!(
        by_id(&replies, json!(4))["result"]["protocolVersion"],
        "2024-11-05"
    );
    assert_eq!(
        by_id(&replies, json!(5))["result"]["tools"]
            .as_array()
            .map(Vec::len),
        Some(11)
    );
}

#[test]
fn a_backend_panic_is_answered_as_a_tool_error() {
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"cavra_check_command","arguments":{"command":"panic"}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"cavra_check_command","arguments":{"command":"ls"}}}"#,
    ]
    .join("\n");
    let replies = session(&Fake::default(), &input);
    let r = &by_id(&replies, json!(2))["result"];
    assert_eq!(r["isError"], true, "{r}");
    assert!(r["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("do not proceed"));
    assert_eq!(
        by_id(&replies, json!(3))["result"]["structuredContent"]["decision"],
        "allow"
    );
}
