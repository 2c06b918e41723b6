//! `cavra mcp proxy`: an enforcing JSON-RPC relay between an MCP client (this process's
//! stdin/stdout) and an upstream MCP server (a child process over stdio).
//!
//! Every message passes through unchanged, except:
//! - the result of `tools/list`: the tools the policy, the registry, the pins or the
//!   poisoning scan do not allow are removed (`cavra_runtime::mcp_gate::filter_tools`);
//! - `tools/call`: decided first (`mcp_gate::decide_call`); a call that may not proceed is
//!   answered here with `isError: true` and never reaches the upstream server.
//!
//! Messages are newline-delimited JSON of at most [`MAX_LINE_BYTES`] either way; a line
//! that is too long, not JSON or not a JSON-RPC object is never forwarded (from the client:
//! answered with a JSON-RPC error; from the server: dropped and reported on stderr). When
//! the upstream exits, every request it had not answered gets a JSON-RPC error, and so does
//! every later one; a request it leaves unanswered for [`CALL_TIMEOUT`] gets one too.
//! Threads, no async runtime: decisions are synchronous and one at a time.

use crate::stdio::{error_reply, read_line, Line, INVALID_REQUEST, MAX_LINE_BYTES, PARSE_ERROR};
use cavra_runtime::mcp_gate::{self, CallVerdict, GateSettings};
use cavra_runtime::Runtime;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a forwarded request may stay unanswered.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// JSON-RPC "internal error": the upstream server failed.
pub const UPSTREAM_ERROR: i64 = -32603;

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no upstream server command given (`cavra mcp proxy -- <command>…`)")]
    NoCommand,
    #[error("cannot start the upstream MCP server `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
}

struct Pending {
    id: Value,
    method: String,
    /// `tools/list` without a cursor: its tools replace the shown set (later pages add).
    first_page: bool,
    since: Instant,
}

struct State {
    settings: GateSettings,
    pending: HashMap<String, Pending>,
    shown: BTreeSet<String>,
    alive: bool,
}

struct Proxy {
    state: Mutex<State>,
    runtime: Arc<Mutex<Runtime>>,
    client: Mutex<Box<dyn Write + Send>>,
    upstream: Mutex<Option<ChildStdin>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn key(id: &Value) -> String {
    id.to_string()
}

impl Proxy {
    fn to_client(&self, v: &Value) {
        let mut w = lock(&self.client);
        let _ = writeln!(w, "{v}");
        let _ = w.flush();
    }

    fn to_upstream(&self, line: &[u8]) -> bool {
        let mut g = lock(&self.upstream);
        let Some(w) = g.as_mut() else { return false };
        let ok = w
            .write_all(line)
            .and_then(|()| w.write_all(b"\n"))
            .and_then(|()| w.flush());
        ok.is_ok()
    }

    fn fail(&self, id: Value, message: &str) {
        self.to_client(&error_reply(id, UPSTREAM_ERROR, message));
    }

    /// One line from the client.
    fn on_client(&self, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let msg: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                return self.to_client(&error_reply(
                    Value::Null,
                    PARSE_ERROR,
                    &format!("Parse error: {e}"),
                ))
            }
        };
        let Some(obj) = msg.as_object() else {
            return self.to_client(&error_reply(
                Value::Null,
                INVALID_REQUEST,
                "a message must be a JSON object (batches are not supported)",
            ));
        };
        let id = obj.get("id").cloned();
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return self.to_client(&error_reply(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "`jsonrpc` must be \"2.0\"",
            ));
        }
        let (Some(id), Some(method)) = (id, method) else {
            // a notification or a response (to a request of the server): passed on
            self.to_upstream(bytes);
            return;
        };
        if !matches!(id, Value::String(_) | Value::Number(_)) {
            return self.to_client(&error_reply(
                Value::Null,
                INVALID_REQUEST,
                "`id` must be a string or a number",
            ));
        }
        if method == "initialize" {
            if let Some(n) = msg
                .pointer("/params/clientInfo/name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                lock(&self.state).settings.agent_id =
                    cavra_core::text::truncate_chars(n, 100).into_owned();
            }
        }
        if method == "tools/call" {
            let name = msg
                .pointer("/params/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let args = msg
                .pointer("/params/arguments")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let (settings, shown) = {
                let st = lock(&self.state);
                (st.settings.clone(), st.shown.clone())
            };
            let verdict = {
                let mut rt = lock(&self.runtime);
                mcp_gate::decide_call(&mut rt, &settings, &shown, name, &args)
            };
            match verdict {
                Ok(CallVerdict::Forward) => {}
                Ok(CallVerdict::Answer(result)) => {
                    return self.to_client(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
                }
                Err(e) => {
                    let text = format!(
                        "CAVRA could not record this call ({}); it was not made",
                        cavra_runtime::chain(&e)
                    );
                    let result =
                        json!({"content": [{"type": "text", "text": text}], "isError": true});
                    return self.to_client(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
                }
            }
        }
        {
            let mut st = lock(&self.state);
            if !st.alive {
                drop(st);
                return self.fail(id, "the upstream MCP server is not running");
            }
            let first_page = msg.pointer("/params/cursor").is_none();
            let p = Pending {
                id: id.clone(),
                method,
                first_page,
                since: Instant::now(),
            };
            st.pending.insert(key(&id), p);
        }
        if !self.to_upstream(bytes) {
            lock(&self.state).pending.remove(&key(&id));
            self.fail(id, "the upstream MCP server is not accepting requests");
        }
    }

    /// One line from the upstream server.
    fn on_upstream(&self, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Ok(mut msg) = serde_json::from_slice::<Value>(bytes) else {
            eprintln!("cavra mcp proxy: dropped a line from the upstream server that is not JSON");
            return;
        };
        if !msg.is_object() || msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            eprintln!("cavra mcp proxy: dropped a message from the upstream server that is not JSON-RPC 2.0");
            return;
        }
        let is_response = msg.get("method").is_none();
        if !is_response {
            // a notification or a request of the server (sampling, elicitation, roots)
            return self.to_client(&msg);
        }
        let Some(id) = msg.get("id").cloned() else {
            eprintln!("cavra mcp proxy: dropped a response without an id from the upstream server");
            return;
        };
        let Some(p) = lock(&self.state).pending.remove(&key(&id)) else {
            eprintln!("cavra mcp proxy: dropped a response to no pending request ({id})");
            return;
        };
        if p.method == "tools/list" {
            if let Some(tools) = msg
                .pointer("/result/tools")
                .and_then(Value::as_array)
                .cloned()
            {
                let settings = lock(&self.state).settings.clone();
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
                        eprintln!("cavra mcp proxy: the tool list could not be checked ({}); no tool is listed", cavra_runtime::chain(&e));
                        Vec::new()
                    }
                };
                let names = shown
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .map(str::to_string);
                let mut st = lock(&self.state);
                if p.first_page {
                    st.shown.clear();
                }
                st.shown.extend(names);
                drop(st);
                msg["result"]["tools"] = Value::Array(shown);
            }
        }
        self.to_client(&msg);
    }

    /// The upstream is gone: every pending request gets an error.
    fn upstream_gone(&self, why: &str) {
        let pending: Vec<Pending> = {
            let mut st = lock(&self.state);
            st.alive = false;
            st.pending.drain().map(|(_, p)| p).collect()
        };
        for p in pending {
            self.fail(
                p.id,
                &format!(
                    "the upstream MCP server {why}; `{}` was not completed",
                    p.method
                ),
            );
        }
        *lock(&self.upstream) = None;
    }

    fn expire(&self, timeout: Duration) {
        let due: Vec<Pending> = {
            let mut st = lock(&self.state);
            let keys: Vec<String> = st
                .pending
                .iter()
                .filter(|(_, p)| p.since.elapsed() > timeout)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| st.pending.remove(k)).collect()
        };
        for p in due {
            self.fail(
                p.id,
                &format!(
                    "the upstream MCP server did not answer `{}` within {} s",
                    p.method,
                    timeout.as_secs()
                ),
            );
        }
    }
}

/// The default name of an upstream server: its program's file name without extension.
pub fn server_name(command: &[String]) -> String {
    command
        .first()
        .and_then(|p| std::path::Path::new(p).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mcp-server".into())
}

/// Runs the proxy on this process's stdin/stdout until the client closes stdin.
pub fn run_stdio(
    runtime: Arc<Mutex<Runtime>>,
    settings: GateSettings,
    command: &[String],
) -> Result<i32, ProxyError> {
    run(
        runtime,
        settings,
        command,
        BufReader::new(std::io::stdin()),
        Box::new(std::io::stdout()),
        CALL_TIMEOUT,
    )
}

/// Runs the proxy between `client_in` / `client_out` and the upstream `command`.
pub fn run(
    runtime: Arc<Mutex<Runtime>>,
    settings: GateSettings,
    command: &[String],
    mut client_in: impl BufRead,
    client_out: Box<dyn Write + Send>,
    timeout: Duration,
) -> Result<i32, ProxyError> {
    let (program, args) = command.split_first().ok_or(ProxyError::NoCommand)?;
    let mut child: Child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| ProxyError::Spawn {
            program: program.clone(),
            source,
        })?;
    let up_out = child.stdout.take();
    let proxy = Arc::new(Proxy {
        state: Mutex::new(State {
            settings,
            pending: HashMap::new(),
            shown: BTreeSet::new(),
            alive: true,
        }),
        runtime,
        client: Mutex::new(client_out),
        upstream: Mutex::new(child.stdin.take()),
    });
    let reader = up_out.map(|out| {
        let p = Arc::clone(&proxy);
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                match read_line(&mut r, MAX_LINE_BYTES) {
                    Ok(Line::Text(b)) => p.on_upstream(&b),
                    Ok(Line::TooLong) => eprintln!("cavra mcp proxy: dropped a message over {MAX_LINE_BYTES} bytes from the upstream server"),
                    Ok(Line::Eof) | Err(_) => break,
                }
            }
            p.upstream_gone("exited");
        })
    });
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (p, done) = (Arc::clone(&proxy), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                p.expire(timeout);
            }
        });
    }
    loop {
        match read_line(&mut client_in, MAX_LINE_BYTES) {
            Ok(Line::Text(b)) => proxy.on_client(&b),
            Ok(Line::TooLong) => proxy.to_client(&error_reply(
                Value::Null,
                INVALID_REQUEST,
                &format!("message over {MAX_LINE_BYTES} bytes"),
            )),
            Ok(Line::Eof) | Err(_) => break,
        }
    }
    // the client is gone: close the upstream's stdin, give it a moment, then stop it
    *lock(&proxy.upstream) = None;
    let deadline = Instant::now() + Duration::from_secs(3);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Some(r) = reader {
        let _ = r.join();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(0)
}
