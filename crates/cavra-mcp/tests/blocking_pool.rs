//! [`CavraServer::on_blocking_pool`] (what `cavra serve`'s `/mcp` uses): a tool call whose
//! backend is stuck (a slow store, a slow evidence log) runs on the runtime's blocking
//! pool, so the session's other requests are still answered meanwhile — even on a
//! single-threaded runtime, where a decision run on the worker would stop everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, ActionType};
use cavra_mcp::stdio::StdioTransport;
use cavra_mcp::{
    ActivePolicy, Backend, BackendError, CavraServer, Decided, Explained, ServerOptions,
};
use rmcp::ServiceExt;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

/// Caps that only end a broken run (the assertions do not depend on them): the backend
/// gives up waiting first, so a server that decides on its worker answers the call
/// before the ping and fails the assertion below.
const BACKEND_CAP: Duration = Duration::from_secs(30);
const CAP: Duration = Duration::from_secs(90);

fn pack() -> CompiledPack {
    cavra_core::policy::bundled::compiled("cavra-coding-baseline").unwrap()
}

/// A backend whose `decide` waits until the test opens its gate (or the cap passes, and
/// then says so).
struct Gated {
    gate: Mutex<Receiver<()>>,
    released_by_gate: Sender<bool>,
}

impl Backend for Gated {
    fn decide(&self, request: &Value) -> Result<Decided, BackendError> {
        let opened = match self.gate.lock().unwrap().recv_timeout(BACKEND_CAP) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        };
        self.released_by_gate.send(opened).unwrap();
        let target = request["target"].as_str().unwrap_or_default().to_string();
        let req = ActionRequest::new(ActionType::ExecuteCommand, target);
        Ok(Decided {
            decision: cavra_core::guard::evaluate(&pack(), &req, &Default::default()),
            decision_id: "d1".into(),
            record_id: None,
            approval_id: None,
            approval_note: None,
        })
    }
    fn explain(&self, _request: &Value) -> Result<Explained, BackendError> {
        Err(BackendError::Failed("not used".into()))
    }
    fn policy(&self) -> Result<ActivePolicy, BackendError> {
        Err(BackendError::Failed("not used".into()))
    }
}

/// Input lines handed over one by one from the test thread.
struct Lines {
    rx: Receiver<String>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let b = self.fill_buf()?;
            let n = b.len().min(out.len());
            out[..n].copy_from_slice(&b[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Lines {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            // end of input when the test drops its sender
            self.buf = self.rx.recv().map(String::into_bytes).unwrap_or_default();
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// Output lines handed to the test thread.
struct Out {
    tx: Sender<Value>,
    buf: Vec<u8>,
}

impl Write for Out {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        while let Some(i) = self.buf.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            if let Ok(v) = serde_json::from_slice(&line) {
                let _ = self.tx.send(v);
            }
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stuck_decision_does_not_hold_up_the_session() {
    let (gate_tx, gate_rx) = channel();
    let (released_tx, released_rx) = channel();
    let (in_tx, in_rx) = channel::<String>();
    let (out_tx, out_rx) = channel::<Value>();
    let backend = Gated {
        gate: Mutex::new(gate_rx),
        released_by_gate: released_tx,
    };
    let reader = Lines {
        rx: in_rx,
        buf: Vec::new(),
        pos: 0,
    };
    let writer = Out {
        tx: out_tx,
        buf: Vec::new(),
    };
    let server = std::thread::spawn(move || {
        // one thread: a decision on the worker would stop every other request
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let options = ServerOptions {
                version: "0".into(),
                session_id: "blocking".into(),
            };
            let running = CavraServer::new(backend, options)
                .on_blocking_pool()
                .serve(StdioTransport::new(reader, writer))
                .await
                .unwrap();
            let _ = running.waiting().await;
        });
    });
    let send = |v: Value| in_tx.send(format!("{v}\n")).unwrap();
    let next = || out_rx.recv_timeout(CAP).expect("the server answers");
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}),
    );
    assert_eq!(next()["id"], 1);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "check_command", "arguments": {"command": "rm -rf /"}}}),
    );
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
    // the ping is answered while the decision is still waiting
    let first = next();
    assert_eq!(first["id"], 3, "the ping waited for the decision: {first}");
    gate_tx.send(()).unwrap();
    let second = next();
    assert_eq!(second["id"], 2, "{second}");
    assert_eq!(
        second["result"]["structuredContent"]["decision"], "block",
        "{second}"
    );
    assert!(
        released_rx.recv().unwrap(),
        "the decision was let go by the test"
    );
    drop(in_tx);
    server.join().unwrap();
}
