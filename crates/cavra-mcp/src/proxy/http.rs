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
//! - Upstream requests ([`Upstream`], shared with the stdio bridge, [`super::bridge`]):
//!   blocking `ureq` on tokio's blocking pool, no redirects followed, no proxy from the
//!   environment; `https://` over the workspace's one TLS client (`cavra_auth::tls`: rustls
//!   on AWS-LC, the system's roots plus an optional `--ca-file`).
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
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why the HTTP proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum HttpProxyError {
    #[error("the upstream `{0}` is not an http:// or https:// URL with a host (and no user info)")]
    Url(String),
    #[error("--ca-file is for an https:// upstream; `{0}` is http://")]
    CaFileWithoutTls(String),
    #[error("{0}")]
    CaFile(#[from] cavra_auth::tls::CaFileError),
    #[error("CAVRA_MCP_REMOTE (the upstream's headers): {0}")]
    Headers(String),
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

/// The upstream Streamable HTTP server and how to reach it (both modes: the listener and
/// the stdio bridge).
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// The upstream's MCP endpoint (`http://host:port/mcp`, `https://…`).
    pub url: String,
    /// A PEM bundle of a private CA trusted besides the system's roots (https only).
    pub ca_file: Option<PathBuf>,
    /// How long a request may stay unanswered.
    pub timeout: Duration,
    /// Headers sent with every request (e.g. `Authorization`), before the client's.
    pub headers: Vec<(String, String)>,
}

/// The largest set of configured upstream headers (bytes of JSON).
const MAX_HEADERS_JSON: usize = 64 * 1024;

/// Reads the `headers` of a wrapped entry's remote settings (`CAVRA_MCP_REMOTE`, a JSON
/// object whose `headers` is an object of strings; docs/mcp.md): each name an HTTP token,
/// each value without control characters.
pub fn remote_headers(json: &str) -> Result<Vec<(String, String)>, HttpProxyError> {
    let bad = |why: &str| HttpProxyError::Headers(why.to_string());
    if json.len() > MAX_HEADERS_JSON {
        return Err(bad("over 64 KiB"));
    }
    let v: Value = serde_json::from_str(json).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let Some(obj) = v.as_object() else {
        return Err(bad("not a JSON object"));
    };
    let Some(h) = obj.get("headers") else {
        return Ok(Vec::new());
    };
    let h = h
        .as_object()
        .ok_or_else(|| bad("`headers` is not an object"))?;
    let mut out = Vec::new();
    for (k, v) in h {
        let v = v
            .as_str()
            .ok_or_else(|| bad(&format!("`{k}` is not a string")))?;
        let token = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(bad("a header name is not an HTTP token"));
        }
        if v.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad(&format!("`{k}` holds a control character")));
        }
        out.push((k.to_ascii_lowercase(), v.to_string()));
    }
    Ok(out)
}

/// Where the HTTP proxy listens and what it forwards to.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub upstream: UpstreamOptions,
    pub listen: SocketAddr,
    /// A session with no request for this long is ended (a `DELETE` upstream; the client's
    /// next request with its id is `404`).
    pub session_idle: Duration,
}

/// The default of [`HttpOptions::session_idle`].
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// The most sessions kept at once; a new one beyond is refused (`503`).
pub const MAX_SESSIONS: usize = 1024;

/// What a session id stands for.
enum Lookup<T> {
    Found(T),
    /// Idle too long: dropped now (the caller ends it upstream).
    Expired,
    Unknown,
}

/// The listener's sessions: per `Mcp-Session-Id` (`""`: a stateless upstream's), the
/// session and when a request last named it. The clock is the caller's (`now`).
struct Sessions<T> {
    map: HashMap<String, (T, Instant)>,
    idle: Duration,
    max: usize,
}

impl<T: Clone> Sessions<T> {
    fn new(idle: Duration, max: usize) -> Sessions<T> {
        Sessions {
            map: HashMap::new(),
            idle,
            max,
        }
    }

    fn is_idle(&self, last: Instant, now: Instant) -> bool {
        now.checked_duration_since(last)
            .is_some_and(|d| d >= self.idle)
    }

    /// The session `sid`, marked used at `now`.
    fn get(&mut self, sid: &str, now: Instant) -> Lookup<T> {
        let idle = match self.map.get(sid) {
            None => return Lookup::Unknown,
            Some((_, last)) => self.is_idle(*last, now),
        };
        if idle {
            self.map.remove(sid);
            return Lookup::Expired;
        }
        match self.map.get_mut(sid) {
            Some((sess, last)) => {
                *last = now;
                Lookup::Found(sess.clone())
            }
            None => Lookup::Unknown,
        }
    }

    /// Keeps `sess` under `sid` (unless one is there already).
    fn adopt(&mut self, sid: &str, sess: &T, now: Instant) {
        self.map
            .entry(sid.to_string())
            .or_insert_with(|| (sess.clone(), now));
    }

    fn full(&self) -> bool {
        self.map.len() >= self.max
    }

    fn remove(&mut self, sid: &str) {
        self.map.remove(sid);
    }

    /// Drops the sessions idle at `now`: their ids.
    fn expire(&mut self, now: Instant) -> Vec<String> {
        let idle: Vec<String> = self
            .map
            .iter()
            .filter(|(_, (_, last))| self.is_idle(*last, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &idle {
            self.map.remove(k);
        }
        idle
    }
}

pub(crate) const SESSION_HEADER: &str = "mcp-session-id";
/// Request headers passed to the upstream as they are.
const FORWARDED: &[&str] = &[
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "authorization",
];

/// Request headers for the upstream: (lower-case name, value).
pub(crate) type Headers = Vec<(&'static str, String)>;

/// The client side of a Streamable HTTP upstream: blocking `ureq`, no redirects followed,
/// no proxy from the environment; `https://` over `cavra_auth::tls` (the system's roots
/// and an optional private CA).
pub struct Upstream {
    url: String,
    /// Bounded by the call timeout (POST, DELETE).
    agent: ureq::Agent,
    /// The server's event stream (GET): no overall bound.
    streams: ureq::Agent,
    timeout: Duration,
    /// Configured headers (lower-case names): sent with every request, in place of a
    /// client's header of the same name.
    headers: Vec<(String, String)>,
}

/// What the upstream made of a POSTed message.
pub(crate) enum Posted {
    /// Not completed: why, for a JSON-RPC error (a request's pending entry is removed).
    Failed(String),
    /// An answer with one message (`None`: none, e.g. `202` for a notification).
    Message {
        status: u16,
        session: Option<String>,
        message: Option<Value>,
    },
    /// An SSE stream: pass it to [`relay_events`].
    Events {
        status: u16,
        session: Option<String>,
        reader: ureq::BodyReader<'static>,
    },
}

/// Checks the upstream URL: `http://` or `https://` with a host; `true` for https.
pub fn check_upstream(url: &str) -> Result<bool, HttpProxyError> {
    let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (false, r),
        (_, Some(r)) => (true, r),
        _ => return Err(HttpProxyError::Url(url.to_string())),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(HttpProxyError::Url(url.to_string()));
    }
    Ok(tls)
}

fn agent(global: Option<Duration>, tls: Option<ureq::tls::TlsConfig>) -> ureq::Agent {
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(global)
        .timeout_connect(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .proxy(None);
    if let Some(t) = tls {
        b = b.tls_config(t);
    }
    b.build().into()
}

pub(crate) fn is_sse<B>(resp: &ureq::http::Response<B>) -> bool {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"))
}

impl Upstream {
    /// Checks the options and builds the clients (an https upstream's trust roots read
    /// here: a bad CA file stops the start).
    pub fn new(o: &UpstreamOptions) -> Result<Upstream, HttpProxyError> {
        let tls = check_upstream(&o.url)?;
        let roots = match (&o.ca_file, tls) {
            (Some(_), false) => return Err(HttpProxyError::CaFileWithoutTls(o.url.clone())),
            (Some(f), true) => Some(cavra_auth::tls::Roots::with_ca_file(f)?),
            (None, true) => Some(cavra_auth::tls::Roots::system()),
            // an agent without a TLS provider: never asked for https (no redirect followed)
            (None, false) => None,
        };
        let cfg = roots.as_ref().map(cavra_auth::tls::Roots::tls_config);
        Ok(Upstream {
            url: o.url.clone(),
            agent: agent(Some(o.timeout), cfg.clone()),
            streams: agent(None, cfg),
            timeout: o.timeout,
            headers: o.headers.clone(),
        })
    }

    /// The configured headers, then `headers` (those the configuration does not name).
    fn with_headers<B>(
        &self,
        mut r: ureq::RequestBuilder<B>,
        headers: &[(&'static str, String)],
    ) -> ureq::RequestBuilder<B> {
        for (k, v) in &self.headers {
            r = r.header(k.as_str(), v);
        }
        for (k, v) in headers {
            if !self.headers.iter().any(|(c, _)| c == k) {
                r = r.header(*k, v);
            }
        }
        r
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `GET` (the server's stream, unbounded) or `DELETE` (bounded) with these headers.
    pub(crate) fn call(
        &self,
        method: &str,
        headers: &[(&'static str, String)],
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let r = match method {
            "GET" => self.streams.get(&self.url),
            _ => self.agent.delete(&self.url),
        };
        self.with_headers(r, headers).call()
    }

    /// POSTs one message the gate let through (`request`: its id when it is a request,
    /// tracked as pending; `method` for the messages) and reads the answer: one JSON
    /// message through the gate, or the head of an SSE stream.
    pub(crate) fn post(
        &self,
        gate: &Gate,
        sess: &Mutex<Session>,
        headers: &[(&'static str, String)],
        bytes: &[u8],
        request: Option<&Value>,
        method: &str,
    ) -> Posted {
        let fail = |message: String| -> Posted {
            if let Some(id) = request {
                lock(sess).pending.remove(&key(id));
            }
            Posted::Failed(message)
        };
        let mut req = self.with_headers(
            self.agent
                .post(&self.url)
                .header("content-type", "application/json"),
            headers,
        );
        let accept = headers.iter().any(|(k, _)| *k == "accept")
            || self.headers.iter().any(|(k, _)| k == "accept");
        if !accept {
            req = req.header("accept", "application/json, text/event-stream");
        }
        let what = if method.is_empty() {
            "the message".to_string()
        } else {
            format!("`{method}`")
        };
        // a timeout, or `problem` with what went wrong
        let broken = |problem: &str, e: &ureq::Error| match e {
            ureq::Error::Timeout(_) => format!(
                "the upstream MCP server did not answer {what} within {} s",
                self.timeout.as_secs()
            ),
            _ => format!(
                "the upstream MCP server {problem} ({}); {what} was not completed",
                cavra_auth::tls::describe(e)
            ),
        };
        let resp = match req.send(bytes) {
            Ok(r) => r,
            Err(e) => return fail(broken("is not reachable", &e)),
        };
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if is_sse(&resp) {
            return Posted::Events {
                status,
                session,
                reader: resp.into_body().into_reader(),
            };
        }
        let text = match resp
            .into_body()
            .with_config()
            .limit(MAX_LINE_BYTES as u64)
            .read_to_vec()
        {
            Ok(t) => t,
            Err(e) => return fail(broken("gave an unusable answer", &e)),
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            if request.is_some() {
                return fail(format!(
                    "the upstream MCP server answered {what} with HTTP {status} and no message"
                ));
            }
            return Posted::Message {
                status,
                session,
                message: None,
            };
        }
        match gate.upstream_message(sess, &text) {
            Some(msg) => Posted::Message {
                status,
                session,
                message: Some(msg),
            },
            None => fail(format!(
                "the upstream MCP server answered {what} with HTTP {status} and no usable JSON-RPC message"
            )),
        }
    }
}

struct App {
    gate: Gate,
    base: GateSettings,
    up: Upstream,
    sessions: Mutex<Sessions<Arc<Mutex<Session>>>>,
    count: AtomicU64,
    loopback: bool,
    idle: Duration,
}

/// Runs the proxy until the process is stopped. `ready` gets the address it listens on.
pub fn run_http(
    runtime: Arc<Mutex<Runtime>>,
    settings: GateSettings,
    options: HttpOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<i32, HttpProxyError> {
    let up = Upstream::new(&options.upstream)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HttpProxyError::Runtime)?;
    let app = Arc::new(App {
        gate: Gate::new(runtime),
        base: settings,
        up,
        sessions: Mutex::new(Sessions::new(options.session_idle, MAX_SESSIONS)),
        count: AtomicU64::new(0),
        loopback: options.listen.ip().is_loopback(),
        idle: options.session_idle,
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
        tokio::spawn(sweep(Arc::clone(&app), options.session_idle));
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

/// The headers of the client's request passed to the upstream ([`FORWARDED`]).
fn forwarded(headers: &HeaderMap) -> Headers {
    FORWARDED
        .iter()
        .filter_map(|h| {
            let v = headers.get(*h)?.to_str().ok()?;
            Some((*h, v.to_string()))
        })
        .collect()
}

impl App {
    /// The proxy's session for the client's `Mcp-Session-Id` (an unknown or expired one:
    /// `404`; no room for a new one: `503`, [`NoSession`]). Without the header: the
    /// stateless upstream's session, else a new one.
    fn session(self: &Arc<Self>, sid: Option<&str>) -> Result<Arc<Mutex<Session>>, NoSession> {
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        let s = sid.unwrap_or("");
        match sessions.get(s, now) {
            Lookup::Found(sess) => return Ok(sess),
            Lookup::Expired => {
                drop(sessions);
                self.end_upstream(s);
                if sid.is_some() {
                    return Err(NoSession::Unknown);
                }
            }
            Lookup::Unknown if sid.is_some() => return Err(NoSession::Unknown),
            Lookup::Unknown => {
                if sessions.full() {
                    return Err(NoSession::Full);
                }
            }
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        let mut settings = self.base.clone();
        settings.session_id = format!("{}-{n}", self.base.session_id);
        Ok(Arc::new(Mutex::new(Session::new(settings))))
    }

    /// Keeps a new session under the id the upstream gave it (`""`: none, a stateless
    /// upstream).
    fn adopt(&self, sid: Option<&str>, sess: &Arc<Mutex<Session>>) {
        lock(&self.sessions).adopt(sid.unwrap_or(""), sess, Instant::now());
    }

    /// Ends an expired session upstream (`DELETE`, on its own thread; best effort).
    fn end_upstream(self: &Arc<Self>, sid: &str) {
        if sid.is_empty() {
            return;
        }
        let (a, sid) = (Arc::clone(self), sid.to_string());
        std::thread::spawn(move || {
            eprintln!(
                "cavra mcp proxy: session {sid} idle for {} s: ended",
                a.idle.as_secs()
            );
            let _ = a.up.call("DELETE", &[(SESSION_HEADER, sid)]);
        });
    }
}

/// Ends the idle sessions now and then (a quarter of the idle time, 1 s to 60 s).
async fn sweep(app: Arc<App>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let gone = lock(&app.sessions).expire(Instant::now());
        for sid in gone {
            app.end_upstream(&sid);
        }
    }
}

/// Why a request has no session.
enum NoSession {
    /// An id the proxy does not know (ended, expired, or never seen).
    Unknown,
    /// No room for another.
    Full,
}

impl NoSession {
    /// `404` for an unknown session (the client initializes again), `503` for no room.
    fn response(self) -> Response {
        let (status, message) = match self {
            NoSession::Unknown => (
                StatusCode::NOT_FOUND,
                "no such MCP session (ended, idle too long, or started before this proxy): initialize again".to_string(),
            ),
            NoSession::Full => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the proxy holds {MAX_SESSIONS} sessions: end one (DELETE) or wait for an idle one to expire"),
            ),
        };
        let code = if status == StatusCode::NOT_FOUND {
            -32001
        } else {
            UPSTREAM_ERROR
        };
        json_response(status, &error_reply(Value::Null, code, &message), None)
    }
}

fn status_code(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// A response streaming these SSE chunks.
fn sse_response(
    status: StatusCode,
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    session: Option<&str>,
) -> Response {
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
    set_session(&mut r, session);
    r
}

/// Relays an upstream SSE stream to the client as SSE, on a thread of its own.
fn stream_to_client(
    app: &Arc<App>,
    sess: Arc<Mutex<Session>>,
    status: u16,
    reader: ureq::BodyReader<'static>,
    request: Option<Value>,
    session: Option<&str>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let a = Arc::clone(app);
    std::thread::spawn(move || {
        relay_events(
            &a.gate,
            &sess,
            reader,
            a.up.timeout(),
            request.as_ref(),
            |id, retry, msg| {
                let data = msg.map(Value::to_string);
                tx.blocking_send(sse_bytes(id, retry, data.as_deref()))
                    .is_ok()
            },
        );
    });
    sse_response(status_code(status), rx, session)
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
    let sess = match app.session(sid.as_deref()) {
        Ok(s) => s,
        Err(n) => return n.response(),
    };
    let a = Arc::clone(&app);
    let joined =
        tokio::task::spawn_blocking(move || post_blocking(&a, &headers, &bytes, sess)).await;
    joined.unwrap_or_else(|_| {
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_reply(
                Value::Null,
                UPSTREAM_ERROR,
                "the proxy failed on this request",
            ),
            None,
        )
    })
}

fn post_blocking(
    app: &Arc<App>,
    headers: &HeaderMap,
    bytes: &Bytes,
    sess: Arc<Mutex<Session>>,
) -> Response {
    let sid = session_header(headers);
    let (request, method) = match app.gate.client_message(&sess, bytes) {
        FromClient::Ignore => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &error_reply(Value::Null, PARSE_ERROR, "Parse error: an empty message"),
                sid.as_deref(),
            )
        }
        FromClient::Reply(v) => {
            // a framing error (no id) is a bad request; a decided request an answer
            let status = if v.get("id").is_some_and(Value::is_null) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            return json_response(status, &v, sid.as_deref());
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
    let posted = app.up.post(
        &app.gate,
        &sess,
        &forwarded(headers),
        bytes,
        request.as_ref(),
        &method,
    );
    let (status, up_sid) = match &posted {
        Posted::Failed(message) => {
            return match request {
                Some(id) => json_response(
                    StatusCode::OK,
                    &error_reply(id, UPSTREAM_ERROR, message),
                    sid.as_deref(),
                ),
                None => json_response(
                    StatusCode::BAD_GATEWAY,
                    &error_reply(Value::Null, UPSTREAM_ERROR, message),
                    sid.as_deref(),
                ),
            }
        }
        Posted::Message {
            status, session, ..
        }
        | Posted::Events {
            status, session, ..
        } => (*status, session.clone()),
    };
    if (200..300).contains(&status) && sid.is_none() {
        app.adopt(up_sid.as_deref(), &sess);
    }
    let out_sid = up_sid.or(sid);
    match posted {
        Posted::Events { reader, .. } => {
            stream_to_client(app, sess, status, reader, request, out_sid.as_deref())
        }
        Posted::Message {
            message: Some(m), ..
        } => json_response(status_code(status), &m, out_sid.as_deref()),
        _ => empty(status_code(status), out_sid.as_deref()),
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

/// Passes the upstream's events through the gate to `send` (an event's id, its retry, its
/// message — `None`: a priming event without one; `false` back: the client left) until the
/// stream ends; a request of this stream left unanswered gets a JSON-RPC error.
pub(crate) fn relay_events(
    gate: &Gate,
    sess: &Mutex<Session>,
    reader: impl Read,
    timeout: Duration,
    request: Option<&Value>,
    mut send: impl FnMut(Option<&str>, Option<&str>, Option<&Value>) -> bool,
) {
    let mut r = BufReader::new(reader);
    while let Some(ev) = next_event(&mut r) {
        if ev.too_long {
            eprintln!("cavra mcp proxy: dropped an event over {MAX_LINE_BYTES} bytes from the upstream server");
            continue;
        }
        let sent = match &ev.data {
            Some(d) if !d.trim().is_empty() => match gate.upstream_message(sess, d.as_bytes()) {
                Some(msg) => send(ev.id.as_deref(), ev.retry.as_deref(), Some(&msg)),
                None => continue,
            },
            // a priming event (an id for resumption, no message)
            _ => send(ev.id.as_deref(), ev.retry.as_deref(), None),
        };
        if !sent {
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
            timeout.as_secs()
        );
        send(
            None,
            None,
            Some(&error_reply(id.clone(), UPSTREAM_ERROR, &why)),
        );
    }
}

async fn on_get(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = origin_refused(&app, &headers) {
        return r;
    }
    let sid = session_header(&headers);
    let sess = match app.session(sid.as_deref()) {
        Ok(s) => s,
        Err(n) => return n.response(),
    };
    let a = Arc::clone(&app);
    let joined = tokio::task::spawn_blocking(move || {
        let resp = match a.up.call("GET", &forwarded(&headers)) {
            Ok(r) => r,
            Err(e) => {
                return json_response(
                    StatusCode::BAD_GATEWAY,
                    &error_reply(
                        Value::Null,
                        UPSTREAM_ERROR,
                        &format!(
                            "the upstream MCP server is not reachable ({})",
                            cavra_auth::tls::describe(&e)
                        ),
                    ),
                    sid.as_deref(),
                )
            }
        };
        let status = resp.status().as_u16();
        if !is_sse(&resp) {
            return empty(status_code(status), sid.as_deref());
        }
        let reader = resp.into_body().into_reader();
        stream_to_client(&a, sess, status, reader, None, sid.as_deref())
    })
    .await;
    joined.unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR, None))
}

async fn on_delete(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = origin_refused(&app, &headers) {
        return r;
    }
    let sid = session_header(&headers);
    if let Err(n) = app.session(sid.as_deref()) {
        return n.response();
    }
    let a = Arc::clone(&app);
    let joined = tokio::task::spawn_blocking(move || {
        let status = match a.up.call("DELETE", &forwarded(&headers)) {
            Ok(r) => status_code(r.status().as_u16()),
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
        assert!(!check_upstream("http://127.0.0.1:3001/mcp").unwrap());
        assert!(check_upstream("https://mcp.example/mcp").unwrap());
        for bad in [
            "https://",
            "https://u:p@x/mcp",
            "ftp://x",
            "http://",
            "http://u@x/",
            "http://x /",
        ] {
            assert!(check_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn idle_sessions_expire_by_the_given_clock() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut ss: Sessions<u8> = Sessions::new(Duration::from_secs(60), 2);
        let sess = 7u8;
        ss.adopt("a", &sess, at(0));
        ss.adopt("b", &sess, at(0));
        assert!(ss.full());
        // used at 30 s: idle from 90 s on
        assert!(matches!(ss.get("a", at(30)), Lookup::Found(_)));
        assert!(ss.expire(at(59)).is_empty());
        assert_eq!(ss.expire(at(60)), ["b"]);
        assert!(!ss.full());
        assert!(matches!(ss.get("b", at(61)), Lookup::Unknown));
        assert!(matches!(ss.get("a", at(89)), Lookup::Found(_)));
        // named after its idle time, before a sweep: expired, and gone after
        assert!(matches!(ss.get("a", at(149)), Lookup::Expired));
        assert!(matches!(ss.get("a", at(149)), Lookup::Unknown));
        // a clock that goes back never expires anything
        ss.adopt("c", &sess, at(200));
        assert!(ss.expire(at(100)).is_empty());
    }

    #[test]
    fn remote_headers_are_checked() {
        let h = remote_headers(
            r#"{"type":"http","url":"https://x/mcp","headers":{"Authorization":"Bearer t","X-Team":"a b"}}"#,
        )
        .unwrap();
        assert_eq!(
            h,
            [
                ("authorization".to_string(), "Bearer t".to_string()),
                ("x-team".to_string(), "a b".to_string())
            ]
        );
        assert!(remote_headers(r#"{"url":"https://x/"}"#)
            .unwrap()
            .is_empty());
        for bad in [
            "nope",
            "[]",
            r#"{"headers":[]}"#,
            r#"{"headers":{"A":1}}"#,
            r#"{"headers":{"A B":"x"}}"#,
            r#"{"headers":{"A":"x
Evil: 1"}}"#,
        ] {
            assert!(remote_headers(bad).is_err(), "{bad}");
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
