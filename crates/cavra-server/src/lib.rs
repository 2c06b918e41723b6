//! cavra-server: CAVRA's HTTP server (`cavra serve`) as a library — axum on a multi-thread
//! tokio runtime over `cavra-runtime`, the pipeline every front end decides with.
//!
//! - [`meta`]: `/health`, `/version`, `/console/config`, `/metrics`, `/openapi.json`
//!   (unauthenticated).
//! - [`decisions`]: `POST /v1/decisions` (decide and record), `GET /v1/decisions`,
//!   `GET /v1/decisions/{id}` (the evidence search index).
//! - [`hooks`]: `POST /v1/hooks/{agent}` (the `cavra-agents` adapters, as `cavra hook`).
//! - [`approvals`]: `GET /v1/approvals`, `GET /v1/approvals/{id}`,
//!   `POST /v1/approvals/{id}/approve|deny`.
//! - [`breakglass`]: `POST /v1/break-glass`.
//! - [`sessions`]: `GET /v1/sessions`, `GET /v1/sessions/{id}`,
//!   `POST /v1/sessions/{id}/release`.
//! - [`registry`]: `GET|POST /v1/registry/agents`, `GET|POST /v1/registry/mcp-servers`,
//!   one entry, `POST …/{id}/approve|block`.
//! - [`policies`]: `GET /v1/policies`, `GET /v1/policies/{id}`,
//!   `POST /v1/policies/validate|diff|replay`.
//! - [`rollouts`]: `POST /v1/policies/drafts`, `GET /v1/rollouts[/{id}[/shadow]]`,
//!   `POST /v1/rollouts/{id}/approve|reject|assign|promote`, `POST /v1/rollouts/rollback`,
//!   `POST /v1/repositories`, `PUT /v1/repositories/{id}/labels`: policy publishing with
//!   review (docs/rollout.md).
//! - [`evidence`]: `GET /v1/evidence/verify`, `GET /v1/evidence/records/{id}[/proof]`,
//!   `POST /v1/evidence/bundles`, `GET /v1/evidence/export`.
//! - [`control`]: the caller as the runtime's authenticator, the roles of control actions,
//!   typed bodies.
//! - [`auth`]: bearer tokens (`cavra tokens issue`) and OIDC JWTs (cavra-auth), their
//!   roles and repositories on every `/v1` route; [`lookupcache`]: the server tokens
//!   looked up recently, never used past a revocation.
//! - [`console`]: the web console at `/` (embedded pages and assets, sign-in with a token
//!   or at the OIDC issuer, session cookies with CSRF tokens, the proof check), and the
//!   security headers (CSP, nosniff, no referrer) on every answer.
//! - [`error`]: every error is a JSON document `{"error": {"code", "message", "hint"}}`.
//!
//! The front end resolves a [`ServerConfig`]; [`Server::bind`] binds the address (so the
//! caller can print it), [`Server::run`] serves until SIGTERM or SIGINT, finishes the
//! requests it accepted and drops the runtime, which writes out the evidence logs' state.

#[macro_use]
pub mod control;
pub mod api;
pub mod approvals;
pub mod auth;
pub mod breakglass;
pub mod config;
pub mod connectors;
pub mod console;
pub mod decisions;
pub mod deliveries;
pub mod error;
pub mod evidence;
pub mod hooks;
pub mod inventory;
pub mod lookupcache;
pub mod mcp;
pub mod meta;
pub mod metrics;
#[cfg(feature = "postgres")]
pub mod pglog;
pub mod policies;
pub mod posture;
pub mod registry;
pub mod rollouts;
pub mod sessions;
pub mod slack;
pub mod state;
pub mod stream;
pub mod sync;

pub use config::{AuthSettings, Database, FileConfig, LogFormat, ServerConfig};
pub use error::{ApiError, ServerError};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use state::{AppState, Shared};
use std::net::SocketAddr;
use std::sync::Arc;

/// Unknown routes: a JSON 404.
async fn not_found() -> ApiError {
    ApiError::for_status(StatusCode::NOT_FOUND)
}

/// Counts every answer, and turns an error answer that carries no JSON document (a body
/// over the limit, a timeout, a wrong method) into one.
async fn json_errors(state: axum::extract::State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let status = res.status();
    state.metrics.answered(&method, &route, status.as_u16());
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut out = ApiError::for_status(status).into_response();
        if let Some(allow) = res.headers().get(header::ALLOW) {
            out.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return out;
    }
    res
}

/// The span of a request's log line: its method and the route it matched (`/v1/approvals/{id}`,
/// `unmatched`), never the URI, whose path and query may carry ids and secrets.
fn request_span(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str());
    tracing::info_span!("request", method = %req.method(), route = %route)
}

/// The application: every route, the body limit, the request timeout, request traces and
/// JSON errors.
pub fn app(state: Shared) -> Router {
    use tower_http::limit::RequestBodyLimitLayer;
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    let limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/health", get(meta::health))
        .route("/version", get(meta::version))
        .route("/console/config", get(meta::console_config))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi))
        .route(
            "/v1/decisions",
            post(decisions::post_decision).get(decisions::list_decisions),
        )
        .route("/v1/decisions/stream", get(stream::decision_stream))
        .route("/v1/decisions/{id}", get(decisions::get_decision))
        .route("/v1/hooks/{agent}", post(hooks::post_hook))
        .route("/v1/approvals", get(approvals::list_approvals))
        .route("/v1/approvals/{id}", get(approvals::get_approval))
        .route("/v1/approvals/{id}/approve", post(approvals::approve))
        .route("/v1/approvals/{id}/deny", post(approvals::deny))
        .route("/v1/sync/pack", get(sync::get_pack))
        .route("/v1/sync/evidence", post(sync::post_evidence))
        .route("/v1/break-glass", post(breakglass::post_break_glass))
        .route("/v1/sessions", get(sessions::list_sessions))
        .route("/v1/sessions/{id}", get(sessions::get_session))
        .route("/v1/sessions/{id}/release", post(sessions::release_session))
        .route(
            "/v1/registry/agents",
            get(registry::list_agents).post(registry::add_agent),
        )
        .route("/v1/registry/agents/{id}", get(registry::get_agent))
        .route(
            "/v1/registry/agents/{id}/approve",
            post(registry::approve_agent),
        )
        .route(
            "/v1/registry/agents/{id}/block",
            post(registry::block_agent),
        )
        .route(
            "/v1/registry/mcp-servers",
            get(registry::list_mcp_servers).post(registry::add_mcp_server),
        )
        .route(
            "/v1/registry/mcp-servers/{id}",
            get(registry::get_mcp_server),
        )
        .route(
            "/v1/registry/mcp-servers/{id}/approve",
            post(registry::approve_mcp_server),
        )
        .route(
            "/v1/registry/mcp-servers/{id}/block",
            post(registry::block_mcp_server),
        )
        .route("/v1/policies", get(policies::list_policies))
        .route("/v1/policies/validate", post(policies::validate_policy))
        .route("/v1/policies/diff", post(policies::diff_policies))
        .route("/v1/policies/replay", post(policies::replay_policy))
        .route("/v1/policies/drafts", post(rollouts::post_draft))
        .route("/v1/policies/{id}", get(policies::get_policy))
        .route("/v1/rollouts", get(rollouts::list_rollouts))
        .route("/v1/rollouts/rollback", post(rollouts::rollback_rollout))
        .route("/v1/rollouts/{id}", get(rollouts::get_rollout))
        .route("/v1/rollouts/{id}/approve", post(rollouts::approve_rollout))
        .route("/v1/rollouts/{id}/reject", post(rollouts::reject_rollout))
        .route("/v1/rollouts/{id}/assign", post(rollouts::assign_rollout))
        .route("/v1/rollouts/{id}/promote", post(rollouts::promote_rollout))
        .route("/v1/rollouts/{id}/shadow", get(rollouts::get_shadow))
        .route("/v1/evidence/verify", get(evidence::verify))
        .route("/v1/evidence/records/{id}", get(evidence::get_record))
        .route("/v1/evidence/records/{id}/proof", get(evidence::get_proof))
        .route("/v1/evidence/bundles", post(evidence::post_bundle))
        .route("/v1/evidence/export", get(evidence::export))
        .route("/v1/posture", get(posture::get_posture))
        .route(
            "/v1/connectors/slack/interactions",
            post(slack::interactions),
        )
        .merge(console::routes())
        .merge(mcp::routes(&state))
        .route(
            "/v1/repositories",
            get(inventory::list_repositories).post(rollouts::register_repository),
        )
        .route("/v1/repositories/{id}/labels", put(rollouts::put_labels))
        .route(
            "/v1/connectors/deliveries",
            get(deliveries::list_deliveries),
        )
        .route("/v1/repositories/{id}", get(inventory::get_repository))
        .fallback(not_found)
        // the tower-http limit below is the one that applies
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            json_errors,
        ))
        .layer(axum::middleware::from_fn(console::security_headers))
        .with_state(state)
}

/// Sets up log lines on stderr (text or one JSON object per line). Once per process;
/// later calls change nothing.
pub fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

/// A bound server, not serving yet.
pub struct Server {
    listener: std::net::TcpListener,
    state: Shared,
}

impl Server {
    /// Sets up logging, binds the listen address, and opens the store (PostgreSQL:
    /// connects and migrates) so that a bad database fails here rather than on the first
    /// request. Without a public URL, people are sent to `http://` and the bound address.
    pub fn bind(mut config: ServerConfig) -> Result<Server, ServerError> {
        init_logging(config.log_format);
        let addr = config.listen.to_string();
        let bind_error = |source| ServerError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = std::net::TcpListener::bind(config.listen).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        // the address people are sent to for approvals: the bound one (the port chosen
        // for `:0`) unless a public URL is configured
        let bound = listener.local_addr().map_err(bind_error)?;
        if config.public_url.is_none() {
            if bound.ip().is_unspecified() {
                tracing::warn!(%bound, "no public_url is configured: held agents are told to have a person approve at http://{bound}, which people cannot reach; set public_url (or --public-url)");
            }
            config.public_url = Some(format!("http://{bound}"));
        }
        let state = AppState::new(config)?;
        let config = &state.config;
        tracing::info!(database = %config.database.describe(), "cavra serve: store open");
        if let Some(oidc) = state.oidc() {
            // a start-up check that does not stop the server: server tokens keep working,
            // and OIDC tokens are checked once the issuer answers
            let issuer = &oidc.settings().issuer;
            match oidc.refresh_keys() {
                Ok(keys) => {
                    tracing::info!(%issuer, keys = keys.len(), "OIDC: the issuer's keys are loaded")
                }
                Err(e) => {
                    tracing::warn!(%issuer, error = %e, "OIDC: the issuer's keys cannot be had yet; OIDC tokens are refused until they can")
                }
            }
        }
        Ok(Server {
            listener,
            state: Arc::new(state),
        })
    }

    /// The bound address (the port chosen for `:0`).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Serves until SIGTERM or SIGINT; then stops accepting, finishes the requests in
    /// flight and drops the runtime (the evidence logs write out their state).
    pub fn run(self) -> Result<(), ServerError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("cavra-serve")
            // requests beyond this many store and decision calls wait in the queue, not in
            // a new thread each (with the default 512, a burst left ~200 threads and their
            // allocator arenas behind: memory crept up over a soak)
            .max_blocking_threads(state::blocking_threads(&self.state.config.database))
            .build()
            .map_err(ServerError::Runtime)?;
        let Server { listener, state } = self;
        let app = app(Arc::clone(&state));
        let feed = state.metrics.feed.clone();
        let header_timeout = state.config.request_timeout.min(HEADER_READ_TIMEOUT);
        let addr = listener.local_addr().map_err(ServerError::Serve)?;
        // the inventory's waiting decision sightings are written every FLUSH_EVERY
        let weak = Arc::downgrade(&state);
        rt.spawn(async move {
            let mut every = tokio::time::interval(inventory::FLUSH_EVERY);
            loop {
                every.tick().await;
                let Some(s) = weak.upgrade() else { break };
                let _ = tokio::task::spawn_blocking(move || inventory::flush(&s)).await;
            }
        });
        let served: Result<(), ServerError> = rt.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(ServerError::Serve)?;
            tracing::info!(%addr, "cavra serve: listening");
            serve(listener, app, header_timeout, async move {
                shutdown_signal().await;
                // open decision streams end, so they do not hold the shutdown
                feed.close();
            })
            .await;
            Ok(())
        });
        // the blocking workers finish what they were given before the runtime is dropped
        rt.shutdown_timeout(std::time::Duration::from_secs(30));
        inventory::flush(&state);
        drop(state);
        tracing::info!("cavra serve: stopped; evidence written out");
        served
    }
}

/// A client has this long (or the request timeout, when shorter) to send a complete
/// request head: a connection that sends nothing, or dribbles its head, is closed, so slow
/// clients do not hold connections.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// At shutdown, accepted requests have this long to finish.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Accepts connections until `shutdown`, each served by hyper's HTTP/1 with a header read
/// timeout of `header_timeout` (axum's own `serve` sets none); then stops accepting and
/// lets the accepted connections finish their requests (up to [`DRAIN_TIMEOUT`]).
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of file descriptors and the like: wait, do not spin
                    tracing::warn!(error = %e, "cavra serve: cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "cavra serve: connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("cavra serve: connections still open after {DRAIN_TIMEOUT:?}; stopping");
        }
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<&'static str>(2);
    let on_interrupt = tx.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = on_interrupt.send("SIGINT").await;
        }
    });
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut s) = signal(SignalKind::terminate()) {
            if s.recv().await.is_some() {
                let _ = tx.send("SIGTERM").await;
            }
        }
    });
    let which = rx.recv().await.unwrap_or("a signal");
    tracing::info!(
        signal = which,
        "cavra serve: shutting down, finishing accepted requests"
    );
}
