//! `/v1/registry`: the agent registry (governed identities and capability profiles) and
//! the MCP trust registry — read by auditors, changed by admins, each change recorded
//! with who made it as `cavra registry …` records it (the runtime's `change_registry_as`).

use crate::auth::Caller;
use crate::control::{act, require_role, typed, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use cavra_runtime::actions::parse_tools;
use cavra_runtime::control::RegistryChange;
use cavra_runtime::views;
use cavra_store::{AgentStatus, McpServer, NewAgent, Role};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Applies a registry change as the caller (admin) and answers the `--json` document of
/// what it left.
async fn change(
    state: &Shared,
    caller: Caller,
    change: RegistryChange,
) -> Result<Json<Value>, ApiError> {
    act(state, caller, move |s, auth| {
        let mut store = s.store(false)?;
        let verb = change.verb();
        let done =
            s.runtime()
                .change_registry_as(&s.config.cavra_dir, &mut *store, change, auth)?;
        Ok(views::registry_doc(verb, &done.result))
    })
    .await
}

get_list!(
    /// List registered agents (`cavra registry agents list`).
    list_agents,
    "/v1/registry/agents",
    "registry",
    |s| Ok(views::agents_doc(&views::agents(&*s.store(false)?)?))
);

get_one!(
    /// One registered agent and its profile (`cavra registry agents show`).
    get_agent,
    "/v1/registry/agents/{id}",
    "registry",
    "The agent id",
    |s, id| Ok(views::agent_doc(&views::agent(&*s.store(false)?, &id)?))
);

/// An agent to register (`cavra registry agents add`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgentBody {
    pub agent_id: String,
    /// read-only-reviewer, builder or release-agent.
    pub profile: String,
    pub vendor: Option<String>,
    /// e.g. claude-code, codex, ci-runner.
    pub kind: Option<String>,
    /// The person or team answerable for it.
    pub owner: Option<String>,
    pub risk_tier: Option<String>,
    /// Register as approved at once (default: pending).
    pub approved: Option<bool>,
}

/// Register an agent (admin).
#[utoipa::path(post, path = "/v1/registry/agents", tag = "registry",
    request_body = NewAgentBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The agent as registered", body = Object),
        (status = 400, description = "A malformed body or an unknown profile", body = ErrorDocument),
        (status = 409, description = "The agent is registered already", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn add_agent(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let hint = "send {\"agent_id\": \"…\", \"profile\": \"read-only-reviewer|builder|release-agent\"} (vendor, kind, owner, risk_tier, approved are optional)";
    let b: NewAgentBody = typed_body(&body, hint)?;
    let status = match b.approved {
        Some(true) => AgentStatus::Approved,
        _ => AgentStatus::Pending,
    };
    let new = NewAgent {
        agent_id: b.agent_id,
        vendor: b.vendor,
        kind: b.kind,
        owner: b.owner,
        risk_tier: b.risk_tier,
        profile: b.profile,
        status,
    };
    change(&state, caller, RegistryChange::AddAgent(new)).await
}

/// Approving or blocking an entry: an optional reason (recorded); MCP approvals may name
/// the trust tier.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryDecision {
    /// Why (recorded).
    pub reason: Option<String>,
    /// MCP servers, approve only: the tier to approve at (default: its own; a blocked
    /// tier becomes `approved`).
    pub trust_tier: Option<String>,
}

/// An empty body is `{}`.
fn decision_body(body: &Bytes) -> Result<RegistryDecision, ApiError> {
    let hint = "send {\"reason\": \"…\"} (MCP approvals also take \"trust_tier\")";
    if body.iter().all(u8::is_ascii_whitespace) {
        return typed(&serde_json::json!({}), hint);
    }
    typed_body(body, hint)
}

async fn decide_agent(
    state: Shared,
    caller: Caller,
    agent_id: String,
    body: Bytes,
    status: AgentStatus,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let d = decision_body(&body)?;
    if d.trust_tier.is_some() {
        return Err(ApiError::bad_request(
            "invalid request: field `trust_tier` is for MCP servers, not agents",
        ));
    }
    let c = RegistryChange::SetAgentStatus {
        agent_id,
        status,
        reason: d.reason,
    };
    change(&state, caller, c).await
}

post_on_id!(
    /// Approve a registered agent (admin).
    approve_agent,
    "/v1/registry/agents/{id}/approve",
    "registry",
    RegistryDecision,
    decide_agent,
    AgentStatus::Approved
);

post_on_id!(
    /// Block an agent (admin).
    block_agent,
    "/v1/registry/agents/{id}/block",
    "registry",
    RegistryDecision,
    decide_agent,
    AgentStatus::Blocked
);

get_list!(
    /// List MCP servers and their trust (`cavra registry mcp list`).
    list_mcp_servers,
    "/v1/registry/mcp-servers",
    "registry",
    |s| Ok(views::mcp_servers_doc(&views::mcp_servers(&*s.store(false)?)?))
);

get_one!(
    /// One MCP server (`cavra registry mcp show`).
    get_mcp_server,
    "/v1/registry/mcp-servers/{id}",
    "registry",
    "The server id",
    |s, id| Ok(views::mcp_server_doc(&views::mcp_server(&*s.store(false)?, &id)?))
);

/// An MCP server to register (`cavra registry mcp add`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMcpServerBody {
    pub server_id: String,
    /// A display name.
    pub name: Option<String>,
    /// approved, experimental, restricted, blocked, … (default experimental).
    pub trust_tier: Option<String>,
    /// approved, pending, denied or blocked (default pending).
    pub approval_state: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Allowed tools, optionally classified: `NAME` or `NAME=read|write|admin|exfil-capable`.
    #[serde(default)]
    pub tools: Vec<String>,
}

/// Register an MCP server (admin).
#[utoipa::path(post, path = "/v1/registry/mcp-servers", tag = "registry",
    request_body = NewMcpServerBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The server as registered", body = Object),
        (status = 400, description = "A malformed body, tier, state or tool class", body = ErrorDocument),
        (status = 409, description = "The server is registered already", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn add_mcp_server(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let hint = "send {\"server_id\": \"…\"} (name, trust_tier, approval_state, capabilities, tools [\"NAME=read\", …] are optional)";
    let b: NewMcpServerBody = typed_body(&body, hint)?;
    let (allowed_tools, tool_classifications) = parse_tools(&b.tools)?;
    let server = McpServer {
        server_id: b.server_id,
        name: b.name,
        trust_tier: b.trust_tier.unwrap_or_else(|| "experimental".into()),
        approval_state: b.approval_state.unwrap_or_else(|| "pending".into()),
        capabilities: b.capabilities,
        allowed_tools,
        tool_classifications,
        extra: serde_json::Map::new(),
    };
    change(&state, caller, RegistryChange::AddMcpServer(server)).await
}

async fn decide_mcp(
    state: Shared,
    caller: Caller,
    server_id: String,
    body: Bytes,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let d = decision_body(&body)?;
    let c = match (approve, d.trust_tier) {
        (true, trust_tier) => RegistryChange::ApproveMcpServer {
            server_id,
            trust_tier,
            reason: d.reason,
        },
        (false, None) => RegistryChange::BlockMcpServer {
            server_id,
            reason: d.reason,
        },
        (false, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid request: field `trust_tier` is for approvals (a block sets the tier `blocked`)",
            ))
        }
    };
    change(&state, caller, c).await
}

post_on_id!(
    /// Approve an MCP server (admin).
    approve_mcp_server,
    "/v1/registry/mcp-servers/{id}/approve",
    "registry",
    RegistryDecision,
    decide_mcp,
    true
);

post_on_id!(
    /// Block an MCP server: tier blocked, state denied (admin).
    block_mcp_server,
    "/v1/registry/mcp-servers/{id}/block",
    "registry",
    RegistryDecision,
    decide_mcp,
    false
);
