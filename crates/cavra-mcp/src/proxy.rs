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
//! Threads, no async runtime: decisions are synchronous and one at a time. The message
//! handling is [`core`]'s, shared with the Streamable HTTP proxy ([`http`]).

pub mod bridge;
pub mod core;
pub mod http;

use self::core::{lock, FromClient, Gate, Pending, Session};
use crate::stdio::{error_reply, read_line, Line, INVALID_REQUEST, MAX_LINE_BYTES};
use cavra_runtime::mcp_gate::GateSettings;
use cavra_runtime::Runtime;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
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
    #[error("{0}")]
    Http(#[from] http::HttpProxyError),
}

struct Proxy {
    gate: Gate,
    session: Mutex<Session>,
    /// The upstream is running (taken before `session` when both are).
    alive: Mutex<bool>,
    client: Mutex<Box<dyn Write + Send>>,
    upstream: Mutex<Option<ChildStdin>>,
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
        let (id, method, first_page) = match self.gate.client_message(&self.session, bytes) {
            FromClient::Ignore => return,
            FromClient::Reply(v) => return self.to_client(&v),
            FromClient::Pass => {
                self.to_upstream(bytes);
                return;
            }
            FromClient::Request {
                id,
                method,
                first_page,
            } => (id, method, first_page),
        };
        {
            let alive = lock(&self.alive);
            if !*alive {
                drop(alive);
                return self.fail(id, "the upstream MCP server is not running");
            }
            lock(&self.session).track(&id, &method, first_page);
        }
        if !self.to_upstream(bytes) {
            lock(&self.session).pending.remove(&self::core::key(&id));
            self.fail(id, "the upstream MCP server is not accepting requests");
        }
    }

    /// One line from the upstream server.
    fn on_upstream(&self, bytes: &[u8]) {
        if let Some(msg) = self.gate.upstream_message(&self.session, bytes) {
            self.to_client(&msg);
        }
    }

    /// The upstream is gone: every pending request gets an error.
    fn upstream_gone(&self, why: &str) {
        let pending: Vec<Pending> = {
            let mut alive = lock(&self.alive);
            *alive = false;
            let mut st = lock(&self.session);
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
            let mut st = lock(&self.session);
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
        gate: Gate::new(runtime),
        session: Mutex::new(Session::new(settings)),
        alive: Mutex::new(true),
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
