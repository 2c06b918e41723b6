//! CAVRA as a Model Context Protocol server, on the official Rust SDK (`rmcp`).
//!
//! - [`backend`]: the [`Backend`] trait the server gets its decisions from.
//! - [`runtime`]: [`RuntimeBackend`], the backend over `cavra-runtime` (what `cavra mcp
//!   serve` uses).
//! - [`tools`]: the four tools (`cavra_evaluate`, `cavra_explain`, `cavra_check_command`,
//!   `cavra_policy_summary`): schemas, argument checks, requests, results. Pure.
//! - [`server`]: the rmcp `ServerHandler`.
//! - [`stdio`]: newline-delimited JSON-RPC on stdin/stdout with bounded lines; framing
//!   errors are answered, never fatal.
//! - [`http`]: the Streamable HTTP transport (`cavra serve`'s `/mcp`).
//! - [`probe`]: a minimal client that checks `cavra mcp serve` answers `initialize` (for
//!   `cavra doctor`).
//!
//! An async runtime (tokio, current thread) exists only inside [`serve_stdio`] (and the
//! server's, for [`http`]). Over stdio the backend is called synchronously from the
//! handler, so requests are decided one at a time, in the order they arrive; over [`http`]
//! each tool call runs on the server's blocking pool.

pub mod backend;
pub mod http;
pub mod probe;
pub mod proxy;
pub mod runtime;
pub mod server;
pub mod stdio;
pub mod tools;

pub use backend::{ActivePolicy, Backend, BackendError, Decided, Explained};
pub use runtime::{RuntimeBackend, RuntimeSettings, RuntimeSource};
pub use server::{CavraServer, Requester, ServerOptions, PROTOCOL_VERSION, SUPPORTED_VERSIONS};

use rmcp::service::ServerInitializeError;
use rmcp::ServiceExt;
use std::io::{BufRead, Write};

/// Why serving stopped other than by the client closing the connection.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the MCP session did not start: {0}")]
    Initialize(String),
    #[error("the MCP session ended abnormally: {0}")]
    Session(String),
}

/// Serves MCP on the process's stdin and stdout until stdin closes.
pub fn serve_stdio<B: Backend>(backend: B, options: ServerOptions) -> Result<(), ServeError> {
    serve(
        backend,
        options,
        std::io::BufReader::new(std::io::stdin()),
        std::io::stdout(),
    )
}

/// Serves MCP on `reader` / `writer` until `reader` ends (every request read is answered
/// first).
pub fn serve<B: Backend>(
    backend: B,
    options: ServerOptions,
    reader: impl BufRead + Send + 'static,
    writer: impl Write + Send + 'static,
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let transport = stdio::StdioTransport::new(reader, writer);
    rt.block_on(async move {
        let running = match CavraServer::new(backend, options).serve(transport).await {
            Ok(r) => r,
            // input ended before `initialize`: nothing to serve
            Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(ServeError::Initialize(e.to_string())),
        };
        match running.waiting().await {
            Ok(_) => Ok(()),
            Err(e) => Err(ServeError::Session(e.to_string())),
        }
    })
}
