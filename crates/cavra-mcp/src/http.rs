//! The Streamable HTTP transport (rmcp's server side): what `cavra serve` mounts at `/mcp`.
//!
//! One MCP session per client (`Mcp-Session-Id`, kept in memory, ended after five idle
//! minutes); each session gets its own [`CavraServer`] and session id, and its tools run on
//! the serving runtime's blocking pool ([`CavraServer::on_blocking_pool`]), as the
//! server's other decisions do. Authentication is
//! the mounting server's: this service checks no credential, and it does not check the
//! `Host` header either (the server in front of it requires a bearer token, which a
//! rebinding page cannot send).

use crate::backend::Backend;
use crate::server::{CavraServer, ServerOptions};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The tower service of CAVRA's MCP server over Streamable HTTP: `make` gives each new
/// session its backend; sessions are named `<options.session_id>-<n>`; request bodies
/// over `body_limit` bytes are refused (413).
pub fn streamable_http<B: Backend>(
    make: impl Fn() -> B + Send + Sync + 'static,
    options: ServerOptions,
    body_limit: usize,
) -> StreamableHttpService<CavraServer<B>, LocalSessionManager> {
    let sessions = AtomicU64::new(0);
    let factory = move || {
        let n = sessions.fetch_add(1, Ordering::Relaxed);
        let options = ServerOptions {
            version: options.version.clone(),
            session_id: format!("{}-{n}", options.session_id),
        };
        Ok(CavraServer::new(make(), options).on_blocking_pool())
    };
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(body_limit);
    StreamableHttpService::new(factory, Arc::new(LocalSessionManager::default()), config)
}
