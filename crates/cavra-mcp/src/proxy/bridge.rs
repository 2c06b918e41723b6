//! `cavra mcp proxy --name NAME --upstream URL` without `--listen`: the client speaks
//! newline-delimited JSON-RPC on this process's stdin/stdout (as with the stdio proxy) and
//! the proxy speaks Streamable HTTP to the upstream ([`Upstream`], the listener's client):
//! a `POST` per message, its answer JSON or an SSE stream, the upstream's `Mcp-Session-Id`
//! and the negotiated `MCP-Protocol-Version` sent with every later request, the server's
//! own stream (`GET`) relayed when the upstream offers one, `DELETE` when the client
//! leaves. Every message passes the same [`Gate`] as on the other transports.
//!
//! Requests are posted on threads of their own (at most [`MAX_IN_FLIGHT`] at once: a
//! cancellation or a `ping` is not held up by a long call); notifications and responses
//! in order, on the reader's thread. A request the upstream does not complete (down,
//! killed mid-call, no usable answer, the timeout) gets a JSON-RPC error `-32603`.

use super::core::{lock, FromClient, Gate, Session};
use super::http::{relay_events, Headers, Posted, Upstream, UpstreamOptions, SESSION_HEADER};
use super::{ProxyError, UPSTREAM_ERROR};
use crate::stdio::{error_reply, read_line, Line, INVALID_REQUEST, MAX_LINE_BYTES};
use cavra_runtime::mcp_gate::GateSettings;
use cavra_runtime::Runtime;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests posted to the upstream at once; one more is answered with an error.
pub const MAX_IN_FLIGHT: usize = 64;

struct Bridge {
    gate: Gate,
    up: Upstream,
    session: Mutex<Session>,
    client: Mutex<Box<dyn Write + Send>>,
    /// The upstream's `Mcp-Session-Id` and the protocol version `initialize` agreed.
    sid: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
    in_flight: AtomicUsize,
    /// The server's stream has been asked for (once per session).
    stream: AtomicBool,
    done: AtomicBool,
}

impl Bridge {
    fn to_client(&self, v: &Value) {
        let mut w = lock(&self.client);
        let _ = writeln!(w, "{v}");
        let _ = w.flush();
    }

    fn headers(&self) -> Headers {
        let mut h = Headers::new();
        if let Some(s) = lock(&self.sid).clone() {
            h.push((SESSION_HEADER, s));
        }
        if let Some(v) = lock(&self.version).clone() {
            h.push(("mcp-protocol-version", v));
        }
        h
    }

    /// Keeps what an answer to `initialize` says: the session id, the protocol version.
    fn learn(&self, method: &str, session: Option<&String>, msg: Option<&Value>) {
        if method != "initialize" {
            return;
        }
        if let Some(s) = session {
            *lock(&self.sid) = Some(s.clone());
        }
        if let Some(v) = msg
            .and_then(|m| m.pointer("/result/protocolVersion"))
            .and_then(Value::as_str)
            .filter(|v| v.len() <= 64 && !v.contains(['\r', '\n']))
        {
            *lock(&self.version) = Some(v.to_string());
        }
    }

    /// Posts one message and passes what comes back to the client.
    fn exchange(self: &Arc<Self>, bytes: &[u8], request: Option<Value>, method: &str) {
        let posted = self.up.post(
            &self.gate,
            &self.session,
            &self.headers(),
            bytes,
            request.as_ref(),
            method,
        );
        match posted {
            Posted::Failed(why) => match request {
                Some(id) => self.to_client(&error_reply(id, UPSTREAM_ERROR, &why)),
                None => eprintln!("cavra mcp proxy: {why}"),
            },
            Posted::Message {
                status,
                session,
                message,
            } => {
                self.learn(method, session.as_ref(), message.as_ref());
                match message {
                    Some(m) => self.to_client(&m),
                    None if !(200..300).contains(&status) => eprintln!(
                        "cavra mcp proxy: the upstream MCP server refused a message (HTTP {status})"
                    ),
                    None => {}
                }
            }
            Posted::Events {
                session, reader, ..
            } => {
                self.learn(method, session.as_ref(), None);
                relay_events(
                    &self.gate,
                    &self.session,
                    reader,
                    self.up.timeout(),
                    request.as_ref(),
                    |_, _, msg| {
                        if let Some(m) = msg {
                            self.learn(method, None, Some(m));
                            self.to_client(m);
                        }
                        true
                    },
                );
            }
        }
        if method == "notifications/initialized" {
            self.open_stream();
        }
    }

    /// Asks for the server's own stream (once, after the session is initialized) and
    /// relays it while it lasts; an upstream without one (`405`) is fine.
    fn open_stream(self: &Arc<Self>) {
        if self.stream.swap(true, Ordering::SeqCst) {
            return;
        }
        let b = Arc::clone(self);
        std::thread::spawn(move || {
            let mut last: Option<String> = None;
            let mut failures = 0u32;
            while !b.done.load(Ordering::SeqCst) && failures < 5 {
                let mut h = b.headers();
                h.push(("accept", "text/event-stream".into()));
                if let Some(l) = &last {
                    h.push(("last-event-id", l.clone()));
                }
                let resp = match b.up.call("GET", &h) {
                    Ok(r) if r.status().is_success() && super::http::is_sse(&r) => r,
                    // no stream offered (405), or another answer: nothing to relay
                    Ok(_) => return,
                    Err(_) => {
                        failures += 1;
                        std::thread::sleep(Duration::from_secs(u64::from(failures)));
                        continue;
                    }
                };
                failures = 0;
                relay_events(
                    &b.gate,
                    &b.session,
                    resp.into_body().into_reader(),
                    b.up.timeout(),
                    None,
                    |id, _, msg| {
                        if let Some(i) = id {
                            last = Some(i.to_string());
                        }
                        if let Some(m) = msg {
                            b.to_client(m);
                        }
                        !b.done.load(Ordering::SeqCst)
                    },
                );
                // the stream ended: ask again (resuming after the last event)
                failures += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }

    /// One line from the client.
    fn on_client(self: &Arc<Self>, bytes: Vec<u8>) {
        match self.gate.client_message(&self.session, &bytes) {
            FromClient::Ignore => {}
            FromClient::Reply(v) => self.to_client(&v),
            // notifications and responses: in order, here
            FromClient::Pass => {
                let method = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                self.exchange(&bytes, None, &method);
            }
            FromClient::Request {
                id,
                method,
                first_page,
            } => {
                if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                    return self.to_client(&error_reply(
                        id,
                        UPSTREAM_ERROR,
                        &format!(
                            "more than {MAX_IN_FLIGHT} requests in flight: `{method}` was not sent"
                        ),
                    ));
                }
                lock(&self.session).track(&id, &method, first_page);
                let (b, again) = (Arc::clone(self), id.clone());
                let spawned = std::thread::Builder::new().spawn(move || {
                    b.exchange(&bytes, Some(id), &method);
                    b.in_flight.fetch_sub(1, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                    lock(&self.session)
                        .pending
                        .remove(&super::core::key(&again));
                    self.to_client(&error_reply(
                        again,
                        UPSTREAM_ERROR,
                        "the proxy could not start a thread for this request; it was not sent",
                    ));
                }
            }
        }
    }
}

/// Runs the bridge on this process's stdin/stdout until the client closes stdin.
pub fn run_bridge_stdio(
    runtime: Arc<Mutex<Runtime>>,
    settings: GateSettings,
    upstream: &UpstreamOptions,
) -> Result<i32, ProxyError> {
    run_bridge(
        runtime,
        settings,
        upstream,
        std::io::BufReader::new(std::io::stdin()),
        Box::new(std::io::stdout()),
    )
}

/// Runs the bridge between `client_in` / `client_out` and the upstream.
pub fn run_bridge(
    runtime: Arc<Mutex<Runtime>>,
    settings: GateSettings,
    upstream: &UpstreamOptions,
    mut client_in: impl BufRead,
    client_out: Box<dyn Write + Send>,
) -> Result<i32, ProxyError> {
    let up = Upstream::new(upstream)?;
    let bridge = Arc::new(Bridge {
        gate: Gate::new(runtime),
        up,
        session: Mutex::new(Session::new(settings)),
        client: Mutex::new(client_out),
        sid: Mutex::new(None),
        version: Mutex::new(None),
        in_flight: AtomicUsize::new(0),
        stream: AtomicBool::new(false),
        done: AtomicBool::new(false),
    });
    loop {
        match read_line(&mut client_in, MAX_LINE_BYTES) {
            Ok(Line::Text(b)) => bridge.on_client(b),
            Ok(Line::TooLong) => bridge.to_client(&error_reply(
                Value::Null,
                INVALID_REQUEST,
                &format!("message over {MAX_LINE_BYTES} bytes"),
            )),
            Ok(Line::Eof) | Err(_) => break,
        }
    }
    // the client closed its side: the requests in flight are answered (each bounded by
    // the call timeout), then the session ends upstream
    let deadline = std::time::Instant::now() + bridge.up.timeout() + Duration::from_secs(5);
    while bridge.in_flight.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    bridge.done.store(true, Ordering::SeqCst);
    let h = bridge.headers();
    if h.iter().any(|(k, _)| *k == SESSION_HEADER) {
        if let Err(e) = bridge.up.call("DELETE", &h) {
            eprintln!(
                "cavra mcp proxy: could not end the session upstream ({})",
                cavra_auth::tls::describe(&e)
            );
        }
    }
    Ok(0)
}
