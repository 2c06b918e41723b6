//! The message-handling core both proxy transports share (stdio: [`super::run`], Streamable
//! HTTP: [`super::http`]): what a message from the client or from the upstream server
//! becomes. The policy lives in `cavra_runtime::mcp_gate`; this file applies it to
//! JSON-RPC messages and keeps a session's state (the tools shown, the requests pending).
//!
//! From the client: a blank message is ignored; one that is not JSON, not a JSON-RPC 2.0
//! object or has a bad `id` is answered with a JSON-RPC error and never forwarded;
//! `tools/call`, `resources/read` and `prompts/get` are decided first and, when they may
//! not proceed, answered here. From the server: a message that is not JSON-RPC 2.0, or a
//! response to no pending request, is dropped (reported on stderr); the results of
//! `tools/list`, `resources/list` and `resources/templates/list` are filtered;
//! notifications and the server's own requests (sampling, elicitation, roots) pass.

use crate::stdio::{error_reply, INVALID_REQUEST, PARSE_ERROR};
use cavra_runtime::mcp_gate::{self, CallVerdict, GateSettings, RequestVerdict};
use cavra_runtime::Runtime;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// A request forwarded to the upstream server and not answered yet.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Value,
    pub method: String,
    /// A list request without a cursor: its tools replace the shown set (later pages add).
    pub first_page: bool,
    pub since: Instant,
}

/// One proxied MCP session: what it decides with and what it was shown.
#[derive(Debug)]
pub struct Session {
    pub settings: GateSettings,
    /// The tools the client was shown (a call of another is policy-denied).
    pub shown: BTreeSet<String>,
    /// Per shown tool, the arguments its schema says hold SQL.
    pub sql_keys: HashMap<String, Vec<String>>,
    pub pending: HashMap<String, Pending>,
}

impl Session {
    pub fn new(settings: GateSettings) -> Session {
        Session {
            settings,
            shown: BTreeSet::new(),
            sql_keys: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// Records a request forwarded upstream.
    pub fn track(&mut self, id: &Value, method: &str, first_page: bool) {
        self.pending.insert(
            key(id),
            Pending {
                id: id.clone(),
                method: method.to_string(),
                first_page,
                since: Instant::now(),
            },
        );
    }
}

/// What a message from the client becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum FromClient {
    /// A request to forward: the transport calls [`Session::track`] before it sends it.
    Request {
        id: Value,
        method: String,
        first_page: bool,
    },
    /// A notification, or a response to a request of the server: forwarded as it is.
    Pass,
    /// Answered here with this message; nothing is forwarded.
    Reply(Value),
    /// Nothing to do (a blank line).
    Ignore,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request id as a key of the pending set.
pub fn key(id: &Value) -> String {
    id.to_string()
}

/// The policy side of the proxy: the runtime every session decides through.
#[derive(Clone)]
pub struct Gate {
    runtime: Arc<Mutex<Runtime>>,
}

fn reply(id: Value, result: Value) -> FromClient {
    FromClient::Reply(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn error(id: Value, code: i64, message: &str) -> FromClient {
    FromClient::Reply(error_reply(id, code, message))
}

impl Gate {
    pub fn new(runtime: Arc<Mutex<Runtime>>) -> Gate {
        Gate { runtime }
    }

    /// One message from the client.
    pub fn client_message(&self, sess: &Mutex<Session>, bytes: &[u8]) -> FromClient {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return FromClient::Ignore;
        }
        let msg: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return error(Value::Null, PARSE_ERROR, &format!("Parse error: {e}")),
        };
        let Some(obj) = msg.as_object() else {
            return error(
                Value::Null,
                INVALID_REQUEST,
                "a message must be a JSON object (batches are not supported)",
            );
        };
        let id = obj.get("id").cloned();
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "`jsonrpc` must be \"2.0\"",
            );
        }
        let (Some(id), Some(method)) = (id, method) else {
            // a notification or a response (to a request of the server): passed on
            return FromClient::Pass;
        };
        if !matches!(id, Value::String(_) | Value::Number(_)) {
            return error(
                Value::Null,
                INVALID_REQUEST,
                "`id` must be a string or a number",
            );
        }
        let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
        let text = |p: &str| {
            params
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let settings = || lock(sess).settings.clone();
        match method.as_str() {
            "initialize" => {
                let n = text("/clientInfo/name");
                if !n.is_empty() {
                    lock(sess).settings.agent_id =
                        cavra_core::text::truncate_chars(&n, 100).into_owned();
                }
            }
            "tools/call" => {
                let name = text("/name");
                let args = params
                    .get("arguments")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                let (settings, shown, sql_keys) = {
                    let st = lock(sess);
                    let k = st.sql_keys.get(&name).cloned().unwrap_or_default();
                    (st.settings.clone(), st.shown.clone(), k)
                };
                let verdict = {
                    let mut rt = lock(&self.runtime);
                    mcp_gate::decide_call(&mut rt, &settings, &shown, &name, &args, &sql_keys)
                };
                match verdict {
                    Ok(CallVerdict::Forward) => {}
                    Ok(CallVerdict::Answer(result)) => return reply(id, result),
                    Err(e) => {
                        let text = format!(
                            "CAVRA could not record this call ({}); it was not made",
                            cavra_runtime::chain(&e)
                        );
                        let result =
                            json!({"content": [{"type": "text", "text": text}], "isError": true});
                        return reply(id, result);
                    }
                }
            }
            "resources/read" | "prompts/get" => {
                let settings = settings();
                let verdict = {
                    let mut rt = lock(&self.runtime);
                    if method == "resources/read" {
                        mcp_gate::decide_resource_read(&mut rt, &settings, &text("/uri"))
                    } else {
                        let args = params
                            .get("arguments")
                            .cloned()
                            .unwrap_or_else(|| json!({}));
                        mcp_gate::decide_prompt(&mut rt, &settings, &text("/name"), &args)
                    }
                };
                match verdict {
                    Ok(RequestVerdict::Forward) => {}
                    Ok(RequestVerdict::Deny(err)) => {
                        return FromClient::Reply(json!({"jsonrpc": "2.0", "id": id, "error": err}))
                    }
                    Err(e) => {
                        return error(
                            id,
                            mcp_gate::POLICY_DENIED,
                            &format!(
                                "CAVRA policy-denied: CAVRA could not record this request ({}); it was not made",
                                cavra_runtime::chain(&e)
                            ),
                        )
                    }
                }
            }
            _ => {}
        }
        FromClient::Request {
            id,
            first_page: msg.pointer("/params/cursor").is_none(),
            method,
        }
    }

    /// One message from the upstream server: what the client gets (`None`: dropped).
    pub fn upstream_message(&self, sess: &Mutex<Session>, bytes: &[u8]) -> Option<Value> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let Ok(mut msg) = serde_json::from_slice::<Value>(bytes) else {
            eprintln!(
                "cavra mcp proxy: dropped a message from the upstream server that is not JSON"
            );
            return None;
        };
        if !msg.is_object() || msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            eprintln!("cavra mcp proxy: dropped a message from the upstream server that is not JSON-RPC 2.0");
            return None;
        }
        if msg.get("method").is_some() {
            // a notification or a request of the server (sampling, elicitation, roots)
            return Some(msg);
        }
        let Some(id) = msg.get("id").cloned() else {
            eprintln!("cavra mcp proxy: dropped a response without an id from the upstream server");
            return None;
        };
        let Some(p) = lock(sess).pending.remove(&key(&id)) else {
            eprintln!("cavra mcp proxy: dropped a response to no pending request ({id})");
            return None;
        };
        match p.method.as_str() {
            "tools/list" => self.filter_tools(sess, &p, &mut msg),
            "resources/list" => self.filter_resources(sess, "resources", "uri", &mut msg),
            "resources/templates/list" => {
                self.filter_resources(sess, "resourceTemplates", "uriTemplate", &mut msg)
            }
            _ => {}
        }
        Some(msg)
    }

    fn filter_tools(&self, sess: &Mutex<Session>, p: &Pending, msg: &mut Value) {
        let Some(tools) = msg
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .cloned()
        else {
            return;
        };
        let settings = lock(sess).settings.clone();
        let listed = {
            let mut rt = lock(&self.runtime);
            mcp_gate::filter_tools(&mut rt, &settings, &tools)
        };
        let shown = match listed {
            Ok(l) => {
                for w in &l.withheld {
                    eprintln!("cavra mcp proxy: withheld `{}`: {}", w.name, w.reason);
                }
                l.shown
            }
            Err(e) => {
                // fail closed: nothing is listed
                eprintln!(
                    "cavra mcp proxy: the tool list could not be checked ({}); no tool is listed",
                    cavra_runtime::chain(&e)
                );
                Vec::new()
            }
        };
        let mut st = lock(sess);
        if p.first_page {
            st.shown.clear();
            st.sql_keys.clear();
        }
        for t in &shown {
            if let Some(n) = t.get("name").and_then(Value::as_str) {
                st.shown.insert(n.to_string());
                let k = mcp_gate::schema_sql_keys(t);
                if !k.is_empty() {
                    st.sql_keys.insert(n.to_string(), k);
                }
            }
        }
        drop(st);
        msg["result"]["tools"] = Value::Array(shown);
    }

    fn filter_resources(&self, sess: &Mutex<Session>, field: &str, key: &str, msg: &mut Value) {
        let Some(items) = msg
            .pointer(&format!("/result/{field}"))
            .and_then(Value::as_array)
            .cloned()
        else {
            return;
        };
        let settings = lock(sess).settings.clone();
        let filtered = {
            let mut rt = lock(&self.runtime);
            mcp_gate::filter_resources(&mut rt, &settings, key, &items)
        };
        let shown = match filtered {
            Ok((shown, withheld)) => {
                for w in &withheld {
                    eprintln!(
                        "cavra mcp proxy: withheld resource `{}`: {}",
                        w.name, w.reason
                    );
                }
                shown
            }
            Err(e) => {
                eprintln!(
                    "cavra mcp proxy: the resource list could not be checked ({}); none is listed",
                    cavra_runtime::chain(&e)
                );
                Vec::new()
            }
        };
        msg["result"][field] = Value::Array(shown);
    }
}
