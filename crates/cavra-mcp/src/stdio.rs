//! The stdio transport: newline-delimited JSON-RPC 2.0, bounded lines.
//!
//! rmcp's own stdio transport would end the session on a line it cannot decode; this one
//! answers framing errors itself and keeps going, as a server facing a model must:
//! - a line over [`MAX_LINE_BYTES`]: `-32600` (id `null`), the line is skipped;
//! - not JSON (or not UTF-8): `-32700` (id `null`);
//! - not an object (batches are not supported), `jsonrpc` other than `"2.0"`, an `id` that
//!   is neither a string nor a number, no or a non-string `method`: `-32600`;
//! - `params` that is not an object: `-32602`;
//! - blank lines, and notifications or responses before `initialize` (which would end an
//!   rmcp session), are dropped.
//!
//! Everything else goes to rmcp. At the end of input the transport reports the end only
//! after every request it passed on has been answered, so a client that writes its
//! requests and closes stdin still gets every reply.

use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage, ServerResult};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, Notify};

/// The largest request line read; longer lines are answered with `-32600` and skipped.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;

/// One line of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line of at most `max` bytes (the terminator and a `\r` before
/// it excluded). A longer line is consumed and reported as [`Line::TooLong`].
pub fn read_line(r: &mut impl BufRead, max: usize) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if !any {
                return Ok(Line::Eof);
            }
            break;
        }
        any = true;
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            let data = chunk.get(..take - usize::from(done)).unwrap_or_default();
            if buf.len().saturating_add(data.len()) > max {
                too_long = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(data);
            }
        }
        r.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Line::TooLong);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Text(buf))
}

/// A JSON-RPC error reply.
pub fn error_reply(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// What to do with one input line.
#[derive(Debug)]
pub enum Inbound {
    /// Hand it to the MCP service.
    Message(Box<ClientJsonRpcMessage>),
    /// Answer it here (a framing error).
    Reply(Value),
    /// Nothing to do (blank line, a notification or response that cannot be used).
    Drop(Option<String>),
}

/// Classifies one input line. `initialized`: the `initialize` answer has been sent.
pub fn classify(bytes: &[u8], initialized: bool) -> Inbound {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Inbound::Drop(None);
    }
    let msg: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Inbound::Reply(error_reply(
                Value::Null,
                PARSE_ERROR,
                &format!("Parse error: {e}"),
            ))
        }
    };
    let Value::Object(mut obj) = msg else {
        return Inbound::Reply(error_reply(
            Value::Null,
            INVALID_REQUEST,
            "a request must be a JSON object (batches are not supported)",
        ));
    };
    let id = obj.get("id").cloned();
    let id_ok = matches!(&id, Some(Value::String(_)) | Some(Value::Number(_)));
    let reply_id = match &id {
        Some(v) if id_ok => v.clone(),
        _ => Value::Null,
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Inbound::Reply(error_reply(
            reply_id,
            INVALID_REQUEST,
            "`jsonrpc` must be \"2.0\"",
        ));
    }
    let Some(method) = obj.get("method") else {
        if obj.contains_key("result") || obj.contains_key("error") {
            // a response (this server sends no requests yet; rmcp ignores unknown ids)
            if !initialized {
                return Inbound::Drop(Some("a response before `initialize`".into()));
            }
            return pass(obj, "response");
        }
        return Inbound::Reply(error_reply(reply_id, INVALID_REQUEST, "no `method`"));
    };
    let Some(method) = method.as_str().map(str::to_string) else {
        return Inbound::Reply(error_reply(
            reply_id,
            INVALID_REQUEST,
            "`method` must be a string",
        ));
    };
    if matches!(obj.get("params"), Some(Value::Null)) {
        obj.remove("params");
    }
    if id.is_none() {
        // a notification: never answered
        if !initialized {
            return Inbound::Drop(Some(format!("notification `{method}` before `initialize`")));
        }
        return pass(obj, "notification");
    }
    if !id_ok {
        return Inbound::Reply(error_reply(
            Value::Null,
            INVALID_REQUEST,
            "`id` must be a string or a number",
        ));
    }
    if !matches!(obj.get("params"), None | Some(Value::Object(_))) {
        return Inbound::Reply(error_reply(
            reply_id,
            INVALID_PARAMS,
            "`params` must be an object",
        ));
    }
    match serde_json::from_value::<ClientJsonRpcMessage>(Value::Object(obj)) {
        Ok(m) => Inbound::Message(Box::new(m)),
        Err(e) => Inbound::Reply(error_reply(
            reply_id,
            INVALID_REQUEST,
            &format!("invalid request: {e}"),
        )),
    }
}

fn pass(obj: Map<String, Value>, what: &str) -> Inbound {
    match serde_json::from_value::<ClientJsonRpcMessage>(Value::Object(obj)) {
        Ok(m) => Inbound::Message(Box::new(m)),
        Err(e) => Inbound::Drop(Some(format!("unusable {what}: {e}"))),
    }
}

/// The id of a request as a key of the pending set.
fn id_key(id: &impl serde::Serialize) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// What the reading and the writing side share.
struct Shared {
    out: Mutex<Box<dyn Write + Send>>,
    /// Requests passed to the service and not answered yet.
    pending: Mutex<HashSet<String>>,
    answered: Notify,
    initialized: AtomicBool,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn write(&self, v: &impl serde::Serialize) -> std::io::Result<()> {
        let mut text = serde_json::to_string(v)?;
        text.push('\n');
        let mut out = lock(&self.out);
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

/// The stdio transport (any reader and writer; [`StdioTransport::stdio`] for the real
/// ones). Lines are read on a thread of their own with blocking I/O.
pub struct StdioTransport {
    lines: mpsc::Receiver<std::io::Result<Line>>,
    shared: Arc<Shared>,
    ended: bool,
}

impl StdioTransport {
    pub fn new(reader: impl BufRead + Send + 'static, writer: impl Write + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel(4);
        std::thread::spawn(move || {
            let mut reader = reader;
            loop {
                let line = read_line(&mut reader, MAX_LINE_BYTES);
                let last = !matches!(line, Ok(Line::Text(_)) | Ok(Line::TooLong));
                if tx.blocking_send(line).is_err() || last {
                    break;
                }
            }
        });
        StdioTransport {
            lines: rx,
            shared: Arc::new(Shared {
                out: Mutex::new(Box::new(writer)),
                pending: Mutex::new(HashSet::new()),
                answered: Notify::new(),
                initialized: AtomicBool::new(false),
            }),
            ended: false,
        }
    }

    /// The process's stdin and stdout.
    pub fn stdio() -> Self {
        Self::new(std::io::BufReader::new(std::io::stdin()), std::io::stdout())
    }

    fn reply(&self, v: &Value) {
        if let Err(e) = self.shared.write(v) {
            eprintln!("cavra mcp: cannot write to stdout: {e}");
        }
    }

    /// Bookkeeping for a message handed to the service.
    fn track(&self, m: &ClientJsonRpcMessage) {
        match m {
            ClientJsonRpcMessage::Request(r) => {
                lock(&self.shared.pending).insert(id_key(&r.id));
            }
            ClientJsonRpcMessage::Notification(n) => {
                // a cancelled request is never answered
                if let rmcp::model::ClientNotification::CancelledNotification(c) = &n.notification {
                    if let Some(id) = &c.params.request_id {
                        lock(&self.shared.pending).remove(&id_key(id));
                        self.shared.answered.notify_waiters();
                    }
                }
            }
            _ => {}
        }
    }

    /// Resolves once every request passed on has been answered.
    async fn drained(&self) {
        loop {
            let notified = self.shared.answered.notified();
            if lock(&self.shared.pending).is_empty() {
                return;
            }
            notified.await;
        }
    }
}

impl Transport<RoleServer> for StdioTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        // written here, not in the returned future: once `send` returns the reply is out
        let result = self.shared.write(&item);
        let answered = match &item {
            ServerJsonRpcMessage::Response(r) => {
                if matches!(r.result, ServerResult::InitializeResult(_)) {
                    self.shared.initialized.store(true, Ordering::SeqCst);
                }
                Some(id_key(&r.id))
            }
            ServerJsonRpcMessage::Error(e) => e.id.as_ref().map(id_key),
            _ => None,
        };
        if let Some(id) = answered {
            lock(&self.shared.pending).remove(&id);
            self.shared.answered.notify_waiters();
        }
        std::future::ready(result)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if self.ended {
                self.drained().await;
                return None;
            }
            let line = match self.lines.recv().await {
                None | Some(Ok(Line::Eof)) => {
                    self.ended = true;
                    continue;
                }
                Some(Err(e)) => {
                    eprintln!("cavra mcp: cannot read stdin: {e}");
                    self.ended = true;
                    continue;
                }
                Some(Ok(Line::TooLong)) => {
                    self.reply(&error_reply(
                        Value::Null,
                        INVALID_REQUEST,
                        &format!("request line longer than {MAX_LINE_BYTES} bytes"),
                    ));
                    continue;
                }
                Some(Ok(Line::Text(bytes))) => bytes,
            };
            let initialized = self.shared.initialized.load(Ordering::SeqCst);
            match classify(&line, initialized) {
                Inbound::Message(m) => {
                    self.track(&m);
                    return Some(*m);
                }
                Inbound::Reply(v) => self.reply(&v),
                Inbound::Drop(Some(why)) => eprintln!("cavra mcp: ignoring {why}"),
                Inbound::Drop(None) => {}
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded() {
        let mut r = std::io::Cursor::new(b"abc\r\n0123456789\nxy".to_vec());
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::Text(b"abc".to_vec()));
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::TooLong);
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::Text(b"xy".to_vec()));
        assert_eq!(read_line(&mut r, 5).unwrap(), Line::Eof);
    }

    fn reply_code(i: Inbound) -> (Value, i64) {
        match i {
            Inbound::Reply(v) => (v["id"].clone(), v["error"]["code"].as_i64().unwrap_or(0)),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn framing_errors_are_answered_here() {
        assert_eq!(
            reply_code(classify(b"{nope", true)),
            (Value::Null, PARSE_ERROR)
        );
        assert_eq!(
            reply_code(classify(b"\xff\xfe", true)),
            (Value::Null, PARSE_ERROR)
        );
        assert_eq!(
            reply_code(classify(b"[1,2]", true)),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            reply_code(classify(
                br#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#,
                true
            )),
            (json!(5), INVALID_REQUEST)
        );
        assert_eq!(
            reply_code(classify(
                br#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#,
                true
            )),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            reply_code(classify(br#"{"jsonrpc":"2.0","id":"a"}"#, true)),
            (json!("a"), INVALID_REQUEST)
        );
        assert_eq!(
            reply_code(classify(br#"{"jsonrpc":"2.0","id":1,"method":3}"#, true)),
            (json!(1), INVALID_REQUEST)
        );
        assert_eq!(
            reply_code(classify(
                br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
                true
            )),
            (json!(1), INVALID_PARAMS)
        );
    }

    #[test]
    fn messages_pass_and_early_notifications_drop() {
        assert!(matches!(classify(b"  ", true), Inbound::Drop(None)));
        let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#;
        assert!(matches!(classify(ping, false), Inbound::Message(_)));
        let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert!(matches!(classify(note, false), Inbound::Drop(Some(_))));
        assert!(matches!(classify(note, true), Inbound::Message(_)));
        let resp = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert!(matches!(classify(resp, false), Inbound::Drop(Some(_))));
        // an unknown method still reaches the service (which answers -32601)
        let other = br#"{"jsonrpc":"2.0","id":2,"method":"teleport"}"#;
        assert!(matches!(classify(other, true), Inbound::Message(_)));
    }
}
