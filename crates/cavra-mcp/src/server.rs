//! The MCP server: an rmcp `ServerHandler` over a [`Backend`].
//!
//! Protocol versions `2025-06-18` (the default, also answered to a version this server does
//! not know), `2025-03-26` and `2024-11-05`; capabilities: tools. rmcp runs the lifecycle
//! (`initialize`, `ping`, cancellation, unknown methods: `-32601`); this handler lists the
//! tools and runs them. A known method whose parameters do not parse is `-32602`.
//!
//! A tool runs on the thread the request arrived on (`cavra mcp serve`: one at a time, in
//! order), or, [`CavraServer::on_blocking_pool`], on the async runtime's blocking pool
//! (`cavra serve`'s `/mcp`: a slow store or evidence log never holds up the reactor).

use crate::backend::Backend;
use crate::tools::{self, Session, ToolOutput};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CustomRequest, CustomResult,
    ErrorCode, ErrorData, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion,
};
use rmcp::service::{MaybeSendFuture, RequestContext, RoleServer};
use rmcp::ServerHandler;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::future::{ready, Future};
use std::sync::Arc;

/// The protocol version this server speaks by default.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// Every protocol version this server accepts (echoed back when the client asks for one).
pub const SUPPORTED_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2024_11_05,
];

/// What the model is told in `initialize`.
const INSTRUCTIONS: &str = "CAVRA decides whether an action may proceed under the project's policy. Before reading secrets, running commands, pushing, deleting or calling other tools, call evaluate_action (or check_command, check_file_read, check_file_write, check_git_operation, check_mcp_tool_call) and do not proceed when `proceed` is false.";

/// Methods of the MCP specification: when one of them arrives with parameters that do not
/// parse, the answer is "invalid params", not "method not found".
const SPEC_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
];

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `serverInfo.version`.
    pub version: String,
    /// The session id of calls that name none (one per server process).
    pub session_id: String,
}

/// Who an HTTP request to the MCP service comes from, as the server in front of it
/// authenticated them: put in the request's extensions before the service sees it; the
/// tools' decisions record it as `requested_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester(pub String);

/// CAVRA's MCP server.
pub struct CavraServer<B> {
    backend: Arc<B>,
    options: ServerOptions,
    /// Tools run on the async runtime's blocking pool.
    blocking: bool,
}

/// What a tool call answers when its decision did not finish.
const FAILED: &str = "internal error: the decision failed; do not proceed";

/// Runs tool `name`; a panic in the backend is answered as a failed decision (with
/// `panic = "abort"`, as in release builds, it ends the process instead: fail closed
/// either way).
fn run<B: Backend>(backend: &B, session: &Session, name: &str, args: &Map<String, Value>) -> Value {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tools::call(backend, session, name, args)
    }))
    .unwrap_or_else(|_| ToolOutput::error(FAILED))
    .to_json()
}

impl<B: Backend> CavraServer<B> {
    pub fn new(backend: B, options: ServerOptions) -> Self {
        CavraServer {
            backend: Arc::new(backend),
            options,
            blocking: false,
        }
    }

    /// Tools run on the blocking pool of the async runtime serving the session
    /// (`tokio::task::spawn_blocking`) instead of on its worker: what a server that
    /// serves many sessions on a few workers needs.
    pub fn on_blocking_pool(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// The session defaults of a call: the agent is the client's `clientInfo.name`.
    fn session(&self, ctx: &RequestContext<RoleServer>) -> Session {
        let agent = ctx
            .peer
            .peer_info()
            .map(|p| p.client_info.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "mcp-client".to_string());
        // over Streamable HTTP, the mounting server's authentication names the caller
        let requested_by = ctx
            .extensions
            .get::<::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Requester>())
            .map(|r| r.0.clone());
        Session {
            session_id: self.options.session_id.clone(),
            agent_id: agent,
            requested_by,
        }
    }

    async fn run_tool(&self, session: Session, name: &str, args: Map<String, Value>) -> Value {
        if !self.blocking {
            return run(&*self.backend, &session, name, &args);
        }
        let backend = Arc::clone(&self.backend);
        let name = name.to_string();
        tokio::task::spawn_blocking(move || run(&*backend, &session, &name, &args))
            .await
            .unwrap_or_else(|_| ToolOutput::error(FAILED).to_json())
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(e.to_string(), None)
}

/// An unknown tool is a protocol error (invalid params), as the specification says, not
/// a tool result.
fn known(name: &str) -> Result<(), ErrorData> {
    if tools::is_tool(name) {
        Ok(())
    } else {
        Err(ErrorData::invalid_params(
            format!(
                "unknown tool `{}`; this server has: {}",
                cavra_core::text::truncate_chars(name, 100),
                tools::TOOL_NAMES.join(", ")
            ),
            None,
        ))
    }
}

fn call_result(v: Value) -> Result<CallToolResult, ErrorData> {
    serde_json::from_value(v).map_err(internal)
}

impl<B: Backend> ServerHandler for CavraServer<B> {
    fn get_info(&self) -> InitializeResult {
        let v = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "cavra", "version": self.options.version},
            "instructions": INSTRUCTIONS,
        });
        // the literal above always parses; a default result would only lose the details
        serde_json::from_value(v)
            .unwrap_or_else(|_| InitializeResult::new(rmcp::model::ServerCapabilities::default()))
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(SUPPORTED_VERSIONS)
    }

    fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, ErrorData>> + MaybeSendFuture + '_ {
        ready(serde_json::from_value(json!({"tools": tools::definitions()})).map_err(internal))
    }

    // the trait's signature (`MaybeSendFuture`), written out as rmcp's other handlers are
    #[allow(clippy::manual_async_fn)]
    fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + MaybeSendFuture + '_ {
        async move {
            known(&request.name)?;
            let args = request.arguments.unwrap_or_default();
            let session = self.session(&context);
            let out = self.run_tool(session, &request.name, args).await;
            call_result(out).map(CallToolResponse::from)
        }
    }

    fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CustomResult, ErrorData>> + MaybeSendFuture + '_ {
        let session = self.session(&context);
        self.custom(request, session)
    }
}

impl<B: Backend> CavraServer<B> {
    /// A request rmcp could not type: an unknown method, or a known one whose parameters
    /// do not parse.
    async fn custom(
        &self,
        request: CustomRequest,
        session: Session,
    ) -> Result<CustomResult, ErrorData> {
        let method = request.method.as_str();
        let params = request.params.unwrap_or(Value::Null);
        match method {
            "ping" => Ok(CustomResult::new(json!({}))),
            "tools/call" => {
                let name = params.get("name").and_then(Value::as_str).ok_or_else(|| {
                    ErrorData::invalid_params("tools/call needs `params.name` (a string)", None)
                })?;
                known(name)?;
                let out = match params.get("arguments") {
                    None | Some(Value::Null) => self.run_tool(session, name, Map::new()).await,
                    Some(Value::Object(m)) => self.run_tool(session, name, m.clone()).await,
                    Some(_) => ToolOutput::error("`arguments` must be an object").to_json(),
                };
                Ok(CustomResult::new(out))
            }
            m if SPEC_METHODS.contains(&m) => Err(ErrorData::invalid_params(
                format!("invalid params for `{m}`"),
                None,
            )),
            other => Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("method not found: `{other}`"),
                None,
            )),
        }
    }
}
