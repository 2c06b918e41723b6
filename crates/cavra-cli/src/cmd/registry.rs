//! `cavra registry`: the agent registry (governed identities and capability profiles)
//! and the MCP trust registry, both in the store (the runtime's `views` and `actions`).

use std::path::PathBuf;

use anyhow::Context;
use cavra_runtime::actions::parse_tools;
use cavra_runtime::control::RegistryChange;
use cavra_runtime::views::{self, Doc};
use cavra_store::{AgentStatus, McpServer, NewAgent};
use clap::{Args, Subcommand};

use crate::control::{ActorArgs, AuthArgs};
use crate::ctx::{open_store, Ctx};
use crate::output::print_view;

/// Manage the agent and MCP trust registries.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    pub command: RegistryCommand,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Governed agent identities.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// MCP servers and their trust.
    #[command(subcommand)]
    Mcp(McpCommand),
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List registered agents.
    List,
    /// List the built-in capability profiles.
    Profiles,
    /// Register an agent (status pending unless --approved).
    Add {
        agent_id: String,
        /// read-only-reviewer, builder or release-agent.
        #[arg(long)]
        profile: String,
        /// The agent's vendor.
        #[arg(long)]
        vendor: Option<String>,
        /// e.g. claude-code, codex, ci-runner.
        #[arg(long)]
        kind: Option<String>,
        /// The person or team answerable for it.
        #[arg(long)]
        owner: Option<String>,
        /// A risk tier label.
        #[arg(long)]
        risk_tier: Option<String>,
        /// Register as approved at once.
        #[arg(long)]
        approved: bool,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Show one agent and its profile.
    Show { agent_id: String },
    /// Approve a registered agent.
    Approve(Decide),
    /// Block an agent.
    Block(Decide),
    /// Remove an agent from the registry.
    Remove(Remove),
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List MCP servers.
    List,
    /// Add an MCP server.
    Add {
        server_id: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// approved, experimental, restricted, blocked, ...
        #[arg(long = "tier", default_value = "experimental")]
        trust_tier: String,
        /// approved, pending, denied or blocked.
        #[arg(long = "state", default_value = "pending")]
        approval_state: String,
        /// A capability the server has (repeatable).
        #[arg(long = "capability", value_name = "CAP")]
        capabilities: Vec<String>,
        /// An allowed tool, optionally classified: NAME or NAME=read|write|admin|exfil-capable.
        #[arg(long = "tool", value_name = "NAME[=CLASS]")]
        tools: Vec<String>,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Show one server.
    Show { server_id: String },
    /// Approve a server (state approved; a blocked tier becomes approved unless --tier).
    Approve {
        #[command(flatten)]
        decide: Decide,
        /// The trust tier to approve it at.
        #[arg(long = "tier")]
        trust_tier: Option<String>,
    },
    /// Block a server (tier blocked, state denied).
    Block(Decide),
    /// Remove a server.
    Remove(Remove),
    /// Import a registry file (`{"mcp_servers": [...]}`, the reference format).
    Import {
        file: PathBuf,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Export the registry in the same format (to stdout without FILE).
    Export { file: Option<PathBuf> },
}

/// Approving or blocking one entry.
#[derive(Debug, Args)]
pub struct Decide {
    /// The agent or server id.
    id: String,
    #[command(flatten)]
    by: ActorArgs,
    /// Why (recorded).
    #[arg(long)]
    reason: Option<String>,
}

/// Removing one entry.
#[derive(Debug, Args)]
pub struct Remove {
    /// The agent or server id.
    id: String,
    #[command(flatten)]
    auth: AuthArgs,
}

pub fn run(args: RegistryArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    use {AgentsCommand as A, McpCommand as M, RegistryChange as C, RegistryCommand as R};
    if let R::Agents(A::Profiles) = args.command {
        return print_view(ctx, &views::profiles_doc()).map(|()| 0);
    }
    let mut store = open_store(ctx, false)?;
    let (change, who): (C, ActorArgs) = match args.command {
        R::Agents(A::Profiles) => return Ok(0),
        R::Agents(A::List) => return show(ctx, views::agents_doc(&views::agents(&store)?)),
        R::Agents(A::Show { agent_id }) => {
            return show(ctx, views::agent_doc(&views::agent(&store, &agent_id)?))
        }
        R::Mcp(M::List) => return show(ctx, views::mcp_servers_doc(&views::mcp_servers(&store)?)),
        R::Mcp(M::Show { server_id }) => {
            return show(
                ctx,
                views::mcp_server_doc(&views::mcp_server(&store, &server_id)?),
            )
        }
        R::Mcp(M::Export { file }) => return export(ctx, &store, file),
        R::Agents(A::Add {
            agent_id,
            profile,
            vendor,
            kind,
            owner,
            risk_tier,
            approved,
            auth,
        }) => {
            let status = if approved {
                AgentStatus::Approved
            } else {
                AgentStatus::Pending
            };
            let new = NewAgent {
                agent_id,
                vendor,
                kind,
                owner,
                risk_tier,
                profile,
                status,
            };
            (C::AddAgent(new), auth.person())
        }
        R::Agents(A::Approve(d)) => (d.status(AgentStatus::Approved), d.by),
        R::Agents(A::Block(d)) => (d.status(AgentStatus::Blocked), d.by),
        R::Agents(A::Remove(r)) => (C::RemoveAgent(r.id), r.auth.person()),
        R::Mcp(M::Add {
            server_id,
            name,
            trust_tier,
            approval_state,
            capabilities,
            tools,
            auth,
        }) => {
            let (allowed_tools, tool_classifications) = parse_tools(&tools)?;
            let server = McpServer {
                server_id,
                name,
                trust_tier,
                approval_state,
                capabilities,
                allowed_tools,
                tool_classifications,
                extra: serde_json::Map::new(),
            };
            (C::AddMcpServer(server), auth.person())
        }
        R::Mcp(M::Approve {
            decide: d,
            trust_tier,
        }) => {
            let (server_id, reason) = (d.id, d.reason);
            (
                C::ApproveMcpServer {
                    server_id,
                    trust_tier,
                    reason,
                },
                d.by,
            )
        }
        R::Mcp(M::Block(d)) => {
            let (server_id, reason) = (d.id, d.reason);
            (C::BlockMcpServer { server_id, reason }, d.by)
        }
        R::Mcp(M::Remove(r)) => (C::RemoveMcpServer(r.id), r.auth.person()),
        R::Mcp(M::Import { file, auth }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let registry = cavra_store::parse_mcp_registry(&text, &file)?;
            let file = file.display().to_string();
            (C::ImportMcp { file, registry }, auth.person())
        }
    };
    let verb = change.verb();
    let done = ctx
        .runtime()
        .change_registry_as(&ctx.cavra_dir, &mut store, change, &who)?;
    show(ctx, views::registry_doc(verb, &done.result))
}

fn show(ctx: &Ctx, doc: Doc) -> anyhow::Result<i32> {
    print_view(ctx, &doc).map(|()| 0)
}

impl Decide {
    fn status(&self, status: AgentStatus) -> RegistryChange {
        let (agent_id, reason) = (self.id.clone(), self.reason.clone());
        RegistryChange::SetAgentStatus {
            agent_id,
            status,
            reason,
        }
    }
}

/// `registry mcp export`: the registry file, to stdout or to `file`.
fn export(ctx: &Ctx, store: &cavra_store::Store, file: Option<PathBuf>) -> anyhow::Result<i32> {
    let reg = store.export_mcp_registry()?;
    let text = serde_json::to_string_pretty(&reg)? + "\n";
    let Some(path) = file else {
        print!("{text}");
        return Ok(0);
    };
    std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    let n = reg.mcp_servers.len();
    let json = serde_json::json!({"exported": n, "file": path.display().to_string()});
    let text = format!("exported {n} mcp server(s) to {}", path.display());
    crate::output::show(ctx.json, &json, &text)
}
