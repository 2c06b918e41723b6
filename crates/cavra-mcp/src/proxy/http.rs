//! `cavra mcp proxy --name NAME --upstream URL [--listen ADDR]`: the enforcing proxy for a
//! Streamable HTTP MCP server. It serves the transport to the client (`POST` a message,
//! answered with JSON or an SSE stream; `GET` the server's stream; `DELETE` ends the
//! session; `Mcp-Session-Id` passed through both ways) and speaks it to the upstream, every
//! message through the same [`Gate`] as the stdio proxy.
//!
//! - The listener (axum, loopback by default) refuses a request whose `Origin` is not a
//!   loopback origin, and, on a loopback address, one whose `Host` is not a loopback name
//!   (the DNS-rebinding rule of the specification): 403.
//! - A message is at most [`MAX_LINE_BYTES`] both ways: a larger body is refused (413), a
//!   larger answer or event from the upstream is dropped and the request gets `-32603`.
//! - An upstream that is down, answers with something that is no JSON-RPC message, ends
//!   its stream without answering, or does not answer within the timeout
//!   ([`super::CALL_TIMEOUT`] from the CLI): the request
//!   gets a JSON-RPC error `-32603`.
//! - Upstream requests: blocking `ureq` on tokio's blocking pool, no redirects followed, no
//!   proxy from the environment; `http://` only (no TLS stack is built in).
//!
//! Sessions are the upstream's: the proxy keeps one [`Session`] (shown tools, pending
//! requests) per `Mcp-Session-Id` the upstream issued (and one for a stateless upstream).

use super::core::{key, lock, FromClient, Gate, Session};
use super::UPSTREAM_ERROR;
use crate::stdio::{error_reply, read_line, Line, INVALID_REQUEST, MAX_LINE_BYTES, PARSE_ERROR};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use cavra_runtime::mcp_gate::GateSettings;
use cavra_runtime::Runtime;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the HTTP proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum HttpProxyError {
    #[error("the upstream `{0}` is not an http:// URL with a host (https:// upstreams are not supported: no TLS stack is built in; use a local TLS tunnel or the stdio proxy)")]
    Url(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the HTTP proxy stopped: {0}")]
    Serve(std::io::Error),
}

/// Where the HTTP proxy listens and what it forwards to.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The upstream's MCP endpoint (`http://host:port/mcp`).
    pub upstream: String,
    pub listen: SocketAddr,
    /// How long a request may stay unanswered.
    pub timeout: Duration,
}

const SESSION_HEADER: &str = "mcp-session-id";
/// Request headers passed to the upstream as they are.
const FORWARDED: &[&str] = &[
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "authorization",
];

struct App {
    gate: Gate,
    base: GateSettings,
    upstream: String,
    /// Bounded by the call timeout (POST, DELETE).
    agent: ureq::Agent,
    /// The server's event stream (GET): no overall bound.
    streams: ureq::Agent,
    sessions: Mutex<HashMap<String, Arc<Mutex<Session>>>>,
    count: AtomicU64,
    loopback: bool,
    timeout: Duration,
}

/// Checks the upstream URL: `http://` with a host.
pub fn check_upstream(url: &str) -> Result<(), HttpProxyError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| HttpProxyError::Url(url.to_string()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(HttpProxyError::Url(url.to_string()));
    }
    Ok(())
}

fn agent(global: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(global)
        .timeout_connect(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .proxy(None)
        .build()
        .into()
}

/// Runs the proxy until the process is stopped. `ready` gets the address it listens on.
pub fn run_http(
    runtime: Arc<Mutex<Runtime>>,
    settings: GateSettings,
    options: HttpOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<i32, HttpProxyError> {
    check_upstream(&options.upstream)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HttpProxyError::Runtime)?;
    let app = Arc::new(App {
        gate: Gate::new(runtime),
        base: settings,
        upstream: options.upstream.clone(),
        agent: agent(Some(options.timeout)),
        streams: agent(None),
        sessions: Mutex::new(HashMap::new()),
        count: AtomicU64::new(0),
        loopback: options.listen.ip().is_loopback(),
        timeout: options.timeout,
    });
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| HttpProxyError::Listen {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(HttpProxyError::Serve)?;
        ready(addr);
        let router = Router::new()
            .route("/mcp", post(on_post).get(on_get).delete(on_delete))
            .with_state(app);
        // answers are small and often streamed event by event: no Nagle delay
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, router)
            .await
            .map_err(HttpProxyError::Serve)?;
        Ok(0)
    })
}

fn host_name(authority: &str) -> &str {
    let a = authority.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    a.rsplit_once(':').map_or(a, |(h, _)| h)
}

fn loopback_name(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The DNS-rebinding rule: an `Origin` must be a loopback origin; on a loopback listener the
/// `Host` must be a loopback name.
fn origin_refused(app: &App, headers: &HeaderMap) -> Option<Response> {
    if let Some(o) = headers.get(header::ORIGIN) {
        let o = o.to_str().unwrap_or("");
        let host = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .map(host_name);
        if !host.is_some_and(loopback_name) {
            return Some(json_response(
                StatusCode::FORBIDDEN,
                &error_reply(
                    Value::Null,
                    INVALID_REQUEST,
                    &format!(
                        "Origin `{}` is not allowed (only loopback origins are)",
                        cavra_core::text::truncate_chars(o, 100)
                    ),
                ),
                None,
            ));
        }
    }
    if app.loopback {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !loopback_name(host_name(host)) {
            return Some(json_response(
                StatusCode::FORBIDDEN,
                &error_reply(
                    Value::Null,
                    INVALID_REQUEST,
                    "the Host header must name this loopback address",
                ),
                None,
            ));
        }
    }
    None
}

fn json_response(status: StatusCode, v: &Value, session: Option<&str>) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    set_session(&mut r, session);
    r
}

fn set_session(r: &mut Response, session: Option<&str>) {
    if let Some(v) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
        r.headers_mut()
            .insert(HeaderName::from_static(SESSION_HEADER), v);
    }
}

fn empty(status: StatusCode, session: Option<&str>) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    set_session(&mut r, session);
    r
}

fn session_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl App {
    /// The proxy's session for the client's `Mcp-Session-Id` (`None`: an unknown one, see
    /// [`no_session`]). Without the header: the stateless upstream's session, else a new one.
    fn session(&self, sid: Option<&str>) -> Option<Arc<Mutex<Session>>> {
        let sessions = lock(&self.sessions);
        match sid {
            Some(s) => sessions.get(s).cloned(),
            None => Some(sessions.get("").cloned().unwrap_or_else(|| {
                let n = self.count.fetch_add(1, Ordering::Relaxed);
                let mut settings = self.base.clone();
                settings.session_id = format!("{}-{n}", self.base.session_id);
                Arc::new(Mutex::new(Session::new(settings)))
            })),
        }
    }

    /// Keeps a new session under the id the upstream gave it (`""`: none, a stateless
    /// upstream).
    fn adopt(&self, sid: Option<&str>, sess: &Arc<Mutex<Session>>) {
        let mut sessions = lock(&self.sessions);
        let k = sid.unwrap_or("").to_string();
        sessions.entry(k).or_insert_with(|| Arc::clone(sess));
    }

    fn request(
        &self,
        agent: &ureq::Agent,
        method: &str,
        headers: &HeaderMap,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut r = match method {
            "GET" => agent.get(&self.upstream),
            _ => agent.delete(&self.upstream),
        };
        for h in FORWARDED {
            if let Some(v) = headers.get(*h).and_then(|v| v.to_str().ok()) {
                r = r.header(*h, v);
            }
        }
        r
    }
}

/// The answer to a request naming a session the proxy does not know: 404 (the client
/// initializes again).
fn no_session() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &error_reply(
            Value::Null,
            -32001,
            "no such MCP session (ended, or started before this proxy): initialize again",
        ),
        None,
    )
}

/// What the blocking side of a POST made of the upstream's answer.
enum Answer {
    Ready(Response),
    /// An SSE stream: the response head, then the events as they come.
    Stream(Response),
}

async fn on_post(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    if let Some(r) = origin_refused(&app, &headers) {
        return r;
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_LINE_BYTES).await else {
        return json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &error_reply(
                Value::Null,
                INVALID_REQUEST,
                &format!("message over {MAX_LINE_BYTES} bytes (or unreadable)"),
            ),
            None,
        );
    };
    let sid = session_header(&headers);
    let Some(sess) = app.session(sid.as_deref()) else {
        return no_session();
    };
    let a = Arc::clone(&app);
    let joined =
        tokio::task::spawn_blocking(move || post_blocking(&a, &headers, &bytes, sess)).await;
    match joined {
        Ok(Answer::Ready(r)) | Ok(Answer::Stream(r)) => r,
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_reply(
                Value::Null,
                UPSTREAM_ERROR,
                "the proxy failed on this request",
            ),
            None,
        ),
    }
}

fn post_blocking(
    app: &Arc<App>,
    headers: &HeaderMap,
    bytes: &Bytes,
    sess: Arc<Mutex<Session>>,
) -> Answer {
    let sid = session_header(headers);
    let (request, method) = match app.gate.client_message(&sess, bytes) {
        FromClient::Ignore => {
            return Answer::Ready(json_response(
                StatusCode::BAD_REQUEST,
                &error_reply(Value::Null, PARSE_ERROR, "Parse error: an empty message"),
                sid.as_deref(),
            ))
        }
        FromClient::Reply(v) => {
            // a framing error (no id) is a bad request; a decided request an answer
            let status = if v.get("id").is_some_and(Value::is_null) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            return Answer::Ready(json_response(status, &v, sid.as_deref()));
        }
        FromClient::Pass => (None, String::new()),
        FromClient::Request {
            id,
            method,
            first_page,
        } => {
            lock(&sess).track(&id, &method, first_page);
            (Some(id), method)
        }
    };
    let fail = |message: String| -> Answer {
        match &request {
            Some(id) => {
                lock(&sess).pending.remove(&key(id));
                Answer::Ready(json_response(
                    StatusCode::OK,
                    &error_reply(id.clone(), UPSTREAM_ERROR, &message),
                    sid.as_deref(),
                ))
            }
            None => Answer::Ready(json_response(
                StatusCode::BAD_GATEWAY,
                &error_reply(Value::Null, UPSTREAM_ERROR, &message),
                sid.as_deref(),
            )),
        }
    };
    let mut req = app
        .agent
        .post(&app.upstream)
        .header("content-type", "application/json");
    let mut accept = false;
    for h in FORWARDED {
        if let Some(v) = headers.get(*h).and_then(|v| v.to_str().ok()) {
            accept |= *h == "accept";
            req = req.header(*h, v);
        }
    }
    if !accept {
        req = req.header("accept", "application/json, text/event-stream");
    }
    let what = if method.is_empty() {
        "the message".to_string()
    } else {
        format!("`{method}`")
    };
    let resp = match req.send(&bytes[..]) {
        Ok(r) => r,
        Err(ureq::Error::Timeout(_)) => {
            return fail(format!(
                "the upstream MCP server did not answer {what} within {} s",
                app.timeout.as_secs()
            ))
        }
        Err(e) => {
            return fail(format!(
                "the upstream MCP server is not reachable ({e}); {what} was not completed"
            ))
        }
    };
    let status = resp.status();
    let up_sid = resp
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if status.is_success() && sid.is_none() {
        app.adopt(up_sid.as_deref(), &sess);
    }
    let out_sid = up_sid.or(sid.clone());
    let sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut body = resp.into_body();
    if sse {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
        let reader = body.into_reader();
        let (a, s, id) = (Arc::clone(app), Arc::clone(&sess), request.clone());
        std::thread::spawn(move || relay_events(&a, &s, reader, &tx, id.as_ref()));
        let mut r = Response::new(Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
            },
        )));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        set_session(&mut r, out_sid.as_deref());
        return Answer::Stream(r);
    }
    let text = match body
        .with_config()
        .limit(MAX_LINE_BYTES as u64)
        .read_to_vec()
    {
        Ok(t) => t,
        Err(ureq::Error::Timeout(_)) => {
            return fail(format!(
                "the upstream MCP server did not answer {what} within {} s",
                app.timeout.as_secs()
            ))
        }
        Err(e) => {
            return fail(format!(
                "the upstream MCP server's answer is unusable ({e}); {what} was not completed"
            ))
        }
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        if request.is_some() {
            return fail(format!(
                "the upstream MCP server answered {what} with HTTP {} and no message",
                status.as_u16()
            ));
        }
        return Answer::Ready(empty(status, out_sid.as_deref()));
    }
    match app.gate.upstream_message(&sess, &text) {
        Some(msg) => Answer::Ready(json_response(status, &msg, out_sid.as_deref())),
        None => fail(format!(
            "the upstream MCP server answered {what} with HTTP {} and no usable JSON-RPC message",
            status.as_u16()
        )),
    }
}

/// One server-sent event.
#[derive(Default)]
struct Event {
    id: Option<String>,
    data: Option<String>,
    retry: Option<String>,
    too_long: bool,
}

/// Reads the next event of an SSE stream (`None`: the stream ended).
fn next_event(r: &mut impl BufRead) -> Option<Event> {
    let mut ev = Event::default();
    let mut any = false;
    loop {
        let line = match read_line(r, MAX_LINE_BYTES) {
            Ok(Line::Text(b)) => b,
            Ok(Line::TooLong) => {
                ev.too_long = true;
                any = true;
                continue;
            }
            Ok(Line::Eof) | Err(_) => return any.then_some(ev),
        };
        if line.is_empty() {
            if any {
                return Some(ev);
            }
            continue;
        }
        if line.starts_with(b":") {
            continue;
        }
        any = true;
        let text = String::from_utf8_lossy(&line);
        let (field, value) = text.split_once(':').unwrap_or((&text, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                let d = ev.data.get_or_insert_with(String::new);
                if !d.is_empty() {
                    d.push('\n');
                }
                d.push_str(value);
                if d.len() > MAX_LINE_BYTES {
                    ev.too_long = true;
                    ev.data = None;
                }
            }
            "id" => ev.id = Some(value.to_string()),
            "retry" => ev.retry = Some(value.to_string()),
            _ => {}
        }
    }
}

fn sse_bytes(id: Option<&str>, retry: Option<&str>, data: Option<&str>) -> Bytes {
    let mut s = String::new();
    if let Some(id) = id.filter(|i| !i.contains(['\n', '\r'])) {
        s.push_str(&format!("id: {id}\n"));
    }
    if let Some(r) = retry.filter(|r| r.chars().all(|c| c.is_ascii_digit())) {
        s.push_str(&format!("retry: {r}\n"));
    }
    match data {
        Some(d) => s.push_str(&format!("event: message\ndata: {d}\n\n")),
        None => s.push_str("data:\n\n"),
    }
    Bytes::from(s)
}

/// Passes the upstream's events through the gate to the client until the stream ends or
/// the client leaves; a request of this stream left unanswered gets a JSON-RPC error.
fn relay_events(
    app: &App,
    sess: &Mutex<Session>,
    reader: impl Read,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    request: Option<&Value>,
) {
    let mut r = BufReader::new(reader);
    while let Some(ev) = next_event(&mut r) {
        if ev.too_long {
            eprintln!("cavra mcp proxy: dropped an event over {MAX_LINE_BYTES} bytes from the upstream server");
            continue;
        }
        let out = match &ev.data {
            Some(d) if !d.trim().is_empty() => {
                match app.gate.upstream_message(sess, d.as_bytes()) {
                    Some(msg) => sse_bytes(
                        ev.id.as_deref(),
                        ev.retry.as_deref(),
                        Some(&msg.to_string()),
                    ),
                    None => continue,
                }
            }
            // a priming event (an id for resumption, no message)
            _ => sse_bytes(ev.id.as_deref(), ev.retry.as_deref(), None),
        };
        if tx.blocking_send(out).is_err() {
            // the client left
            return;
        }
        if request.is_some_and(|id| !lock(sess).pending.contains_key(&key(id))) {
            // answered: the stream may stay open for the server, the client has its answer
            break;
        }
    }
    let Some(id) = request else { return };
    if lock(sess).pending.remove(&key(id)).is_some() {
        let why = format!(
            "the upstream MCP server ended its stream without answering (it stopped, or did not answer within {} s)",
            app.timeout.as_secs()
        );
        let e = error_reply(id.clone(), UPSTREAM_ERROR, &why);
        let _ = tx.blocking_send(sse_bytes(None, None, Some(&e.to_string())));
    }
}

async fn on_get(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = origin_refused(&app, &headers) {
        return r;
    }
    let sid = session_header(&headers);
    let Some(sess) = app.session(sid.as_deref()) else {
        return no_session();
    };
    let a = Arc::clone(&app);
    let joined = tokio::task::spawn_blocking(move || {
        let resp = match a.request(&a.streams, "GET", &headers).call() {
            Ok(r) => r,
            Err(e) => {
                return json_response(
                    StatusCode::BAD_GATEWAY,
                    &error_reply(
                        Value::Null,
                        UPSTREAM_ERROR,
                        &format!("the upstream MCP server is not reachable ({e})"),
                    ),
                    sid.as_deref(),
                )
            }
        };
        let status =
            StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let sse = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if !sse {
            return empty(status, sid.as_deref());
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
        let reader = resp.into_body().into_reader();
        let a2 = Arc::clone(&a);
        std::thread::spawn(move || relay_events(&a2, &sess, reader, &tx, None));
        let mut r = Response::new(Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
            },
        )));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        set_session(&mut r, sid.as_deref());
        r
    })
    .await;
    joined.unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR, None))
}

async fn on_delete(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = origin_refused(&app, &headers) {
        return r;
    }
    let sid = session_header(&headers);
    if app.session(sid.as_deref()).is_none() {
        return no_session();
    }
    let a = Arc::clone(&app);
    let joined = tokio::task::spawn_blocking(move || {
        let status = match a.request(&a.agent, "DELETE", &headers).call() {
            Ok(r) => StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            Err(_) => StatusCode::BAD_GATEWAY,
        };
        if status.is_success() || status == StatusCode::NOT_FOUND {
            if let Some(s) = &sid {
                lock(&a.sessions).remove(s);
            }
        }
        empty(status, None)
    })
    .await;
    joined.unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR, None))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
        assert!(loopback_name("localhost") && loopback_name("::1") && loopback_name("127.0.0.2"));
        assert!(!loopback_name("evil.example") && !loopback_name("10.0.0.1"));
        assert!(check_upstream("http://127.0.0.1:3001/mcp").is_ok());
        for bad in [
            "https://x/mcp",
            "ftp://x",
            "http://",
            "http://u@x/",
            "http://x /",
        ] {
            assert!(check_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_read_with_their_ids_and_bounded() {
        let src =
            b": comment\nid: 7\nevent: message\ndata: {\"a\":\ndata: 1}\n\nid: 8\ndata:\n\ndata: x"
                .to_vec();
        let mut r = std::io::Cursor::new(src);
        let e = next_event(&mut r).unwrap();
        assert_eq!(e.id.as_deref(), Some("7"));
        assert_eq!(e.data.as_deref(), Some("{\"a\":\n1}"));
        let e = next_event(&mut r).unwrap();
        assert_eq!((e.id.as_deref(), e.data.as_deref()), (Some("8"), Some("")));
        let e = next_event(&mut r).unwrap();
        assert_eq!(e.data.as_deref(), Some("x"));
        assert!(next_event(&mut r).is_none());
        let big = format!("data: {}\n\n", "x".repeat(MAX_LINE_BYTES + 10));
        let e = next_event(&mut std::io::Cursor::new(big.into_bytes())).unwrap();
        assert!(e.too_long);
        assert_eq!(
            sse_bytes(Some("1"), None, Some("{}")),
            Bytes::from("id: 1\nevent: message\ndata: {}\n\n")
        );
    }
}
