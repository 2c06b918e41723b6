//! The client side of `cavra serve` for `cavra hook <agent>` in server mode
//! (`CAVRA_SERVER=URL`): forward the agent's hook event and replay the server's answer,
//! fetch the server's signed pack for offline use, upload the decisions made offline; and
//! for a person's `cavra approvals …` / `cavra sessions …` through the server
//! ([`control`]).
//!
//! Blocking HTTP/1 over `ureq` with one global timeout per call (default 300 ms): the
//! hook's start-up path starts no async runtime. Plain `http://` only (no TLS stack in the
//! hook); a server elsewhere sits behind a local TLS-terminating proxy (docs/server.md).

pub mod control;
pub mod mode;
pub mod rollout;

use cavra_runtime::sync::{OfflineUpload, ProjectPolicy, SignedPack, HOOK_ENVELOPE_TYPE};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long the hook waits for the server by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(300);
/// The largest answer read from the server (a hook answer or a signed pack).
pub const MAX_BODY: u64 = 16 * 1024 * 1024;

/// The size of each of the connection's input and output buffers, and the largest header
/// of an answer (bytes). ureq's default of 128 KiB each is allocated and zeroed per
/// process: 64 page faults and ~260 K instructions of `memset` on every hook call, for
/// answers whose headers are a few hundred bytes. Bodies of any size pass through them
/// in pieces.
const IO_BUFFER: usize = 16 * 1024;

/// ureq's name resolution, except that a host that is an IP address is taken as it is.
/// With a timeout set, ureq's default resolver starts a thread for every lookup, also for
/// `127.0.0.1` (a thread per hook call, ~40 µs on a quiet machine and much more under load).
#[derive(Debug, Default)]
struct LiteralFirst(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        match literal_addr(uri) {
            Some(addr) => {
                let mut found = self.empty();
                found.push(addr);
                Ok(found)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The socket address of an `http://` URI whose host is an IPv4 or (bracketed) IPv6
/// address; `None` for a name (or any other scheme), left to the resolver.
fn literal_addr(uri: &ureq::http::Uri) -> Option<std::net::SocketAddr> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    Some(std::net::SocketAddr::new(ip, uri.port_u16().unwrap_or(80)))
}

/// Why the server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Not an `http://HOST:PORT` URL.
    #[error("`{0}` is not a CAVRA server URL (expected http://HOST:PORT)")]
    BadUrl(String),
    /// The server did not answer in time, refused the connection, or the connection broke.
    #[error("the CAVRA server at {url} is unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    /// The server answered with an error status (its error document's message and hint).
    #[error("the CAVRA server refused {path} ({status} {}): {message}{}", status_name(*.status), .hint.as_deref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
    Status {
        path: String,
        status: u16,
        message: String,
        hint: Option<String>,
    },
    /// The person's credential for the server is missing or unreadable.
    #[error("{0}")]
    Credential(String),
    /// The project policy to send with a hook event cannot be sent (unreadable, too
    /// large): the hook fails closed rather than let the server decide without it.
    #[error("{0}")]
    ProjectPolicy(String),
    /// The server's answer is not the document expected.
    #[error("the CAVRA server's answer to {path} is not valid: {detail}")]
    BadAnswer { path: String, detail: String },
}

/// The hook answer the server computed (`POST /v1/hooks/{agent}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HookAnswer {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// The repository the server decided the call for (a server of this version).
    #[serde(default)]
    pub repository: Option<String>,
    /// The digest of that repository's floor: a cached pack of another digest is fetched
    /// again.
    #[serde(default)]
    pub floor_digest: Option<String>,
}

impl From<HookAnswer> for cavra_agents::Answer {
    fn from(a: HookAnswer) -> cavra_agents::Answer {
        cavra_agents::Answer {
            stdout: a.stdout,
            stderr: a.stderr,
            exit_code: a.exit_code,
        }
    }
}

#[derive(Deserialize)]
struct ErrorDoc {
    error: ErrorBody,
}
#[derive(Deserialize)]
struct ErrorBody {
    message: String,
    hint: Option<String>,
}

/// What an error status means, in words.
fn status_name(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "not authenticated",
        403 => "forbidden",
        404 => "not found",
        409 => "conflict",
        413 => "too large",
        500..=599 => "server error",
        _ => "error",
    }
}

/// `s` as one path segment or query value: every byte but `A-Z a-z 0-9 - _ ~`
/// percent-encoded (`.` too, so that no id reads as `..`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client of one server, with one agent token.
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
    /// Every call's bound.
    timeout: Duration,
    /// The server's address when its URL names an IP address (checked by
    /// [`Client::check_reachable`]; a name is left to the resolver).
    literal: Option<std::net::SocketAddr>,
    /// Sent as `X-Cavra-Queued` when set ([`NO_QUEUE`] when not): the hook's offline
    /// decisions waiting for upload.
    queued: AtomicU64,
}

/// [`Client`]'s `queued` when the client reports no queue.
const NO_QUEUE: u64 = u64::MAX;

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client of the server at `url` (`http://HOST:PORT`, a trailing `/` ignored), each
    /// call bounded by `timeout`.
    pub fn new(url: &str, token: &str, timeout: Duration) -> Result<Client, ClientError> {
        Client::with_agent(
            url,
            token,
            timeout,
            concat!("cavra-hook/", env!("CARGO_PKG_VERSION")),
        )
    }

    /// [`Client::new`] with its own `User-Agent`.
    pub fn with_agent(
        url: &str,
        token: &str,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<Client, ClientError> {
        let base = url.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| ClientError::BadUrl(url.to_string()))?;
        if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
            return Err(ClientError::BadUrl(url.to_string()));
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(user_agent)
            .input_buffer_size(IO_BUFFER)
            .output_buffer_size(IO_BUFFER)
            .max_response_header_size(IO_BUFFER)
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            LiteralFirst::default(),
        );
        Ok(Client {
            base: base.to_string(),
            token: token.trim().to_string(),
            agent,
            timeout,
            literal: format!("{base}/")
                .parse::<ureq::http::Uri>()
                .ok()
                .as_ref()
                .and_then(literal_addr),
            queued: AtomicU64::new(NO_QUEUE),
        })
    }

    /// From now on, every call tells the server that `n` offline decisions wait in the
    /// hook's queue (`X-Cavra-Queued: n`, beside `X-Cavra-Version`); `None`: not said.
    pub fn set_queued(&self, n: Option<usize>) {
        let n = n.map_or(NO_QUEUE, |n| u64::try_from(n).unwrap_or(NO_QUEUE - 1));
        self.queued.store(n, Ordering::Relaxed);
    }

    /// The queue count the calls send, if any.
    pub fn queued(&self) -> Option<u64> {
        Some(self.queued.load(Ordering::Relaxed)).filter(|n| *n != NO_QUEUE)
    }

    /// `req` with the headers every call carries: the token, the version, the queue.
    fn headers<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let req = req
            .header("authorization", self.auth())
            .header("x-cavra-version", env!("CARGO_PKG_VERSION"));
        match self.queued() {
            Some(n) => req.header("x-cavra-queued", n.to_string()),
            None => req,
        }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether the server takes a connection, within the call timeout: an error when it
    /// refuses it or does not answer in time; else what remains of the timeout, for the
    /// call that follows ([`Client::hook_within`]: the check and the call share one
    /// timeout, a slow connect is not waited for twice). Only for a server whose host is
    /// an IP address (a name is left to the call: it would be resolved twice; the whole
    /// timeout remains). The hook asks this before it reads and sends anything, so that a
    /// server that is down costs it only the refused connection; the connection is closed
    /// at once (the server sees a client that sent nothing).
    pub fn check_reachable(&self) -> Result<Duration, ClientError> {
        let Some(addr) = self.literal else {
            return Ok(self.timeout);
        };
        let t0 = std::time::Instant::now();
        std::net::TcpStream::connect_timeout(&addr, self.timeout)
            .map(drop)
            .map_err(|e| self.unreachable(format!("cannot connect to {addr}: {e}")))?;
        match self.timeout.checked_sub(t0.elapsed()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(self.unreachable(format!(
                "connecting to {addr} took the whole timeout ({} ms)",
                self.timeout.as_millis()
            ))),
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            detail: e.to_string(),
        }
    }

    /// Reads a response: 2xx → the body as `T`; else the error document's message.
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut resp = resp.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        if !(200..300).contains(&status) {
            let (message, hint) = serde_json::from_slice::<ErrorDoc>(&body)
                .map(|d| (d.error.message, d.error.hint))
                .unwrap_or_else(|_| {
                    let text = String::from_utf8_lossy(&body).chars().take(200).collect();
                    (text, None)
                });
            return Err(ClientError::Status {
                path: path.to_string(),
                status,
                message,
                hint,
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            path: path.to_string(),
            detail: e.to_string(),
        })
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `GET path` (a path and query, encoded) → its JSON document as `T`.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let resp = self
            .headers(self.agent.get(format!("{}{path}", self.base)))
            .call();
        self.read(path, resp)
    }

    /// `POST path` with `body` as JSON → the answer's JSON document as `T`.
    pub fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::BadAnswer {
            path: path.to_string(),
            detail: format!("the request could not be written: {e}"),
        })?;
        self.post_bytes(path, &body)
    }

    /// `POST path` with a JSON body as bytes.
    fn post_bytes<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<T, ClientError> {
        self.post_typed(path, "application/json", body, self.timeout)
    }

    /// `POST path` with a body of `content_type`, bounded by `timeout`.
    fn post_typed<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let mut req = self
            .headers(self.agent.post(format!("{}{path}", self.base)))
            .header("content-type", content_type);
        if timeout != self.timeout {
            req = req.config().timeout_global(Some(timeout)).build();
        }
        let resp = req.send(body);
        self.read(path, resp)
    }

    /// Forwards one hook event of `agent`; the server decides and records.
    pub fn hook(&self, agent: &str, event: &[u8]) -> Result<HookAnswer, ClientError> {
        self.hook_within(agent, event, None, self.timeout)
    }

    /// [`Client::hook`] with the project policy the event is decided under: the envelope
    /// `{"event": <event, as read>, "project_policy": …}` ([`HOOK_ENVELOPE_TYPE`]).
    /// `event` must be one JSON document (the hook has parsed it).
    pub fn hook_with_policy(
        &self,
        agent: &str,
        event: &[u8],
        policy: &ProjectPolicy,
    ) -> Result<HookAnswer, ClientError> {
        self.hook_within(agent, event, Some(policy), self.timeout)
    }

    /// [`Client::hook`] (with the project policy when there is one), bounded by `timeout`
    /// instead of the client's: what [`Client::check_reachable`] left of it.
    pub fn hook_within(
        &self,
        agent: &str,
        event: &[u8],
        policy: Option<&ProjectPolicy>,
        timeout: Duration,
    ) -> Result<HookAnswer, ClientError> {
        let path = format!("/v1/hooks/{agent}");
        let Some(policy) = policy else {
            return self.post_typed(&path, "application/json", event, timeout);
        };
        let policy = serde_json::to_vec(policy).map_err(|e| {
            ClientError::ProjectPolicy(format!("the project policy cannot be sent: {e}"))
        })?;
        let mut body = Vec::with_capacity(event.len() + policy.len() + 32);
        body.extend_from_slice(b"{\"event\":");
        body.extend_from_slice(event);
        body.extend_from_slice(b",\"project_policy\":");
        body.extend_from_slice(&policy);
        body.push(b'}');
        self.post_typed(&path, HOOK_ENVELOPE_TYPE, &body, timeout)
    }

    /// The server's current pack, signed by the server's pack key.
    pub fn pack(&self) -> Result<SignedPack, ClientError> {
        self.get("/v1/sync/pack")
    }

    /// The floor of `repository` (an id or a path in it: the policy version published
    /// there), else the server's pack, signed.
    pub fn pack_for(&self, repository: Option<&str>) -> Result<SignedPack, ClientError> {
        match repository {
            Some(r) => self.get(&format!("/v1/sync/pack?repository={}", encode(r))),
            None => self.pack(),
        }
    }

    /// Uploads decisions made offline (and damaged queue entries); what the server
    /// recorded.
    pub fn upload(&self, upload: &OfflineUpload) -> Result<UploadReceipt, ClientError> {
        self.post("/v1/sync/evidence", upload)
    }
}

/// What the server recorded of an [`OfflineUpload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct UploadReceipt {
    /// Decisions recorded.
    pub accepted: usize,
    /// Damaged entries recorded (a server from before records none: it does not read them).
    #[serde(default)]
    pub unreadable: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_server_urls_are_accepted() {
        for bad in ["https://h:1", "h:1", "http://", "http://h:1/x", "ftp://h"] {
            assert!(
                matches!(
                    Client::new(bad, "t", DEFAULT_TIMEOUT),
                    Err(ClientError::BadUrl(_))
                ),
                "{bad}"
            );
        }
        let c = Client::new("http://127.0.0.1:8700/", "t", DEFAULT_TIMEOUT).expect("ok");
        assert_eq!(c.url(), "http://127.0.0.1:8700");
    }

    #[test]
    fn ip_literal_hosts_are_resolved_in_place_and_names_are_left_to_the_resolver() {
        let addr = |u: &str| literal_addr(&u.parse::<ureq::http::Uri>().expect("uri"));
        assert_eq!(
            addr("http://127.0.0.1:8700/v1/hooks/claude-code"),
            Some("127.0.0.1:8700".parse().expect("addr"))
        );
        assert_eq!(
            addr("http://[::1]:8700/health"),
            Some("[::1]:8700".parse().expect("addr"))
        );
        assert_eq!(
            addr("http://10.0.0.7/x"),
            Some("10.0.0.7:80".parse().expect("addr"))
        );
        assert_eq!(addr("http://localhost:8700/x"), None);
        assert_eq!(addr("http://cavra.internal:8700/x"), None);
        assert_eq!(addr("https://127.0.0.1:8700/x"), None);
        assert_eq!(addr("http://127.0.0.1.evil:8700/x"), None);
    }

    #[test]
    fn a_large_body_and_a_large_answer_pass_through_the_small_buffers() {
        // a one-shot server on loopback that reads the whole request and answers with a
        // body many times the buffer size
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            use std::io::{BufRead, BufReader, Read, Write};
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("length");
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("body");
            let answer = format!(
                "{{\"echoed\":{},\"pad\":\"{}\"}}",
                body.len(),
                "x".repeat(200_000)
            );
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .expect("answer");
            body.len()
        });
        let c = Client::new(
            &format!("http://127.0.0.1:{port}"),
            "t",
            Duration::from_secs(10),
        )
        .expect("client");
        let big = serde_json::json!({ "command": "x".repeat(300_000) }).to_string();
        let answer: serde_json::Value = c
            .post_typed("/echo", "application/json", big.as_bytes(), c.timeout)
            .expect("answer");
        let sent = server.join().expect("server");
        assert_eq!(answer["echoed"].as_u64(), Some(sent as u64));
        assert!(sent > 300_000, "{sent}");
        assert_eq!(answer["pad"].as_str().map(str::len), Some(200_000));
    }

    #[test]
    fn a_server_that_is_not_there_is_unreachable_not_a_panic() {
        let c = Client::new("http://127.0.0.1:1", "t", Duration::from_millis(200)).expect("ok");
        assert!(matches!(
            c.hook("claude-code", b"{}"),
            Err(ClientError::Unreachable { .. })
        ));
        assert!(matches!(c.pack(), Err(ClientError::Unreachable { .. })));
        let e = c.check_reachable().expect_err("refused");
        assert!(
            e.to_string().contains("cannot connect to 127.0.0.1:1"),
            "{e}"
        );
        // a server that listens is reachable; a name is left to the call itself
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let up = format!("http://{}", l.local_addr().expect("addr"));
        let c = Client::new(&up, "t", Duration::from_millis(200)).expect("ok");
        c.check_reachable().expect("reachable");
        let named = Client::new("http://cavra.invalid:1", "t", Duration::from_millis(200));
        let left = named.expect("ok").check_reachable().expect("not checked");
        assert_eq!(
            left,
            Duration::from_millis(200),
            "a name is not checked: all is left"
        );
    }

    /// A server that takes every connection and never answers (until the process ends).
    fn silent_server() -> std::net::SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok(c) = l.accept() {
                held.push(c);
            }
        });
        addr
    }

    /// `call` on a thread of its own, with a hang guard (not a timing claim: a call that
    /// is not bounded by its timeout never returns from a silent server).
    fn bounded<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(call());
        });
        result
            .recv_timeout(Duration::from_secs(30))
            .expect("the call returns although the server never answers")
    }

    #[test]
    fn the_call_after_the_reachability_check_gets_what_the_check_left_of_the_timeout() {
        let addr = silent_server();
        let got = bounded(move || {
            // the client's own timeout (120 s) is far beyond the hang guard
            let whole = Duration::from_secs(120);
            let c = Client::new(&format!("http://{addr}"), "t", whole).expect("ok");
            let left = c
                .check_reachable()
                .expect("the listener takes the connection");
            assert!(left <= whole, "{left:?}");
            c.hook_within("claude-code", b"{}", None, Duration::from_millis(100))
        });
        assert!(
            matches!(got, Err(ClientError::Unreachable { .. })),
            "{got:?}"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let addr = silent_server();
        let got = bounded(move || {
            let c = Client::new(&format!("http://{addr}"), "t", Duration::from_millis(200))
                .expect("ok");
            c.hook("claude-code", b"{}")
        });
        assert!(
            matches!(got, Err(ClientError::Unreachable { .. })),
            "{got:?}"
        );
    }
}
