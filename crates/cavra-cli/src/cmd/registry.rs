//! `cavra registry`: the agent registry (governed identities and capability profiles)
//! and the MCP trust registry, both in the store.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use cavra_store::{AgentProfile, AgentRecord, AgentStatus, McpServer, NewAgent, ToolClass};
use clap::{Args, Subcommand};

use crate::control::{authorize, AuthArgs, Authorized, Control};
use crate::ctx::open_store;
use crate::ctx::Ctx;
use crate::output::{clip, emit, print_json, print_list};
use cavra_runtime::control::{agent_json, mcp_json, Person, RegistryChange, RegistryChanged};

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
        #[arg(long)]
        vendor: Option<String>,
        /// e.g. claude-code, codex, ci-runner.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        owner: Option<String>,
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
    Approve {
        agent_id: String,
        /// A display label (the recorded identity is the authenticated one).
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Block an agent.
    Block {
        agent_id: String,
        /// A display label (the recorded identity is the authenticated one).
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove an agent from the registry.
    Remove {
        agent_id: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List MCP servers.
    List,
    /// Add an MCP server.
    Add {
        server_id: String,
        #[arg(long)]
        name: Option<String>,
        /// approved, experimental, restricted, blocked, ...
        #[arg(long = "tier", default_value = "experimental")]
        trust_tier: String,
        /// approved, pending, denied or blocked.
        #[arg(long = "state", default_value = "pending")]
        approval_state: String,
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
        server_id: String,
        /// A display label (the recorded identity is the authenticated one).
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long = "tier")]
        trust_tier: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Block a server (tier blocked, state denied).
    Block {
        server_id: String,
        /// A display label (the recorded identity is the authenticated one).
        #[arg(long = "as", value_name = "LABEL")]
        identity: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a server.
    Remove {
        server_id: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Import a registry file (`{"mcp_servers": [...]}`, the reference format).
    Import {
        file: PathBuf,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Export the registry in the same format (to stdout without FILE).
    Export { file: Option<PathBuf> },
}

pub fn run(args: RegistryArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    match args.command {
        RegistryCommand::Agents(cmd) => agents(cmd, ctx),
        RegistryCommand::Mcp(cmd) => mcp(cmd, ctx),
    }
}

fn agents(cmd: AgentsCommand, ctx: &Ctx) -> anyhow::Result<i32> {
    if let AgentsCommand::Profiles = cmd {
        let profiles = AgentProfile::builtins();
        if ctx.json {
            print_json(&serde_json::to_value(profiles)?)?;
        } else {
            for p in profiles {
                println!("{}: {}", p.name, p.description);
                println!("  action types: {}", p.action_types.join(", "));
                println!("  operations:   {}", operation_names(p));
                println!("  packs:        {}", p.packs.join(", "));
            }
        }
        return Ok(0);
    }
    let mut store = open_store(ctx, false)?;
    let unknown = |id: &str| cavra_store::StoreError::UnknownAgent(id.to_string());
    match cmd {
        AgentsCommand::Profiles => {}
        AgentsCommand::List => {
            print_list(
                ctx.json,
                &store.list_agents()?,
                agent_json,
                "no agents registered",
                &[
                    "AGENT", "STATUS", "PROFILE", "KIND", "VENDOR", "OWNER", "RISK",
                ],
                |a| {
                    vec![
                        a.agent_id.clone(),
                        a.status.as_str().to_uppercase(),
                        a.profile.clone(),
                        dash(&a.kind),
                        dash(&a.vendor),
                        dash(&a.owner),
                        dash(&a.risk_tier),
                    ]
                },
            )?;
        }
        AgentsCommand::Add {
            agent_id,
            profile,
            vendor,
            kind,
            owner,
            risk_tier,
            approved,
            auth,
        } => {
            let who = trust_change(
                &format!("cavra registry agents add {agent_id}"),
                &[
                    (
                        "change",
                        format!("register agent `{agent_id}` with profile `{profile}`"),
                    ),
                    (
                        "status",
                        if approved {
                            "approved".into()
                        } else {
                            "pending".into()
                        },
                    ),
                ],
                &auth,
                None,
            )?;
            let a = agent_change(
                ctx,
                &mut store,
                RegistryChange::AddAgent(NewAgent {
                    agent_id,
                    vendor,
                    kind,
                    owner,
                    risk_tier,
                    profile,
                    status: if approved {
                        AgentStatus::Approved
                    } else {
                        AgentStatus::Pending
                    },
                }),
                &who,
            )?;
            emit(
                ctx.json,
                &agent_json(&a),
                &format!(
                    "added agent {} ({}, {})",
                    a.agent_id,
                    a.profile,
                    a.status.as_str()
                ),
            )?;
        }
        AgentsCommand::Show { agent_id } => {
            let a = store.agent(&agent_id)?.ok_or_else(|| unknown(&agent_id))?;
            if ctx.json {
                print_json(&agent_json(&a))?;
            } else {
                println!("agent_id   {}", a.agent_id);
                println!("status     {}", a.status.as_str());
                println!("profile    {}", a.profile);
                println!("kind       {}", dash(&a.kind));
                println!("vendor     {}", dash(&a.vendor));
                println!("owner      {}", dash(&a.owner));
                println!("risk_tier  {}", dash(&a.risk_tier));
                if let Ok(p) = a.profile() {
                    println!("may        {}", p.action_types.join(", "));
                    println!("operations {}", operation_names(p));
                    println!("packs      {}", p.packs.join(", "));
                }
            }
        }
        AgentsCommand::Approve {
            agent_id,
            identity,
            reason,
            auth,
        } => {
            store.agent(&agent_id)?.ok_or_else(|| unknown(&agent_id))?;
            let who = trust_change(
                &format!("cavra registry agents approve {agent_id}"),
                &[("change", format!("approve agent `{agent_id}`"))],
                &auth,
                identity.as_deref(),
            )?;
            let a = agent_change(
                ctx,
                &mut store,
                RegistryChange::SetAgentStatus {
                    agent_id,
                    status: AgentStatus::Approved,
                    reason,
                },
                &who,
            )?;
            emit(
                ctx.json,
                &agent_json(&a),
                &format!("approved agent {}", a.agent_id),
            )?;
        }
        AgentsCommand::Block {
            agent_id,
            identity,
            reason,
            auth,
        } => {
            store.agent(&agent_id)?.ok_or_else(|| unknown(&agent_id))?;
            let who = trust_change(
                &format!("cavra registry agents block {agent_id}"),
                &[("change", format!("block agent `{agent_id}`"))],
                &auth,
                identity.as_deref(),
            )?;
            let a = agent_change(
                ctx,
                &mut store,
                RegistryChange::SetAgentStatus {
                    agent_id,
                    status: AgentStatus::Blocked,
                    reason,
                },
                &who,
            )?;
            emit(
                ctx.json,
                &agent_json(&a),
                &format!("blocked agent {}", a.agent_id),
            )?;
        }
        AgentsCommand::Remove { agent_id, auth } => {
            store.agent(&agent_id)?.ok_or_else(|| unknown(&agent_id))?;
            let who = trust_change(
                &format!("cavra registry agents remove {agent_id}"),
                &[(
                    "change",
                    format!("remove agent `{agent_id}` from the registry"),
                )],
                &auth,
                None,
            )?;
            removal(
                ctx,
                &mut store,
                RegistryChange::RemoveAgent(agent_id.clone()),
                &who,
                &format!("removed agent {agent_id}"),
            )?;
        }
    }
    Ok(0)
}

/// A registry trust change is a control action: authenticate the person (admin role).
fn trust_change(
    command: &str,
    summary: &[(&'static str, String)],
    auth: &AuthArgs,
    label: Option<&str>,
) -> anyhow::Result<Authorized> {
    let mut ctrl = Control::new(command, cavra_store::Role::Admin);
    for (k, v) in summary {
        ctrl = ctrl.show(k, v.clone());
    }
    authorize(&ctrl, auth, label)
}

/// The person behind a registry change, as the runtime records them.
fn person(who: &Authorized) -> Person {
    Person {
        identity: who.identity.clone(),
        authenticated: who.json(),
    }
}

/// Applies a change through the runtime, which records it with the person.
fn change(
    ctx: &Ctx,
    store: &mut cavra_store::Store,
    change: RegistryChange,
    who: &Authorized,
) -> anyhow::Result<RegistryChanged> {
    Ok(ctx
        .runtime()
        .change_registry(&ctx.cavra_dir, store, change, &person(who))?)
}

/// Applies a change that leaves an agent.
fn agent_change(
    ctx: &Ctx,
    store: &mut cavra_store::Store,
    c: RegistryChange,
    who: &Authorized,
) -> anyhow::Result<AgentRecord> {
    change(ctx, store, c, who)?
        .agent()
        .context("the registry did not return the agent")
}

/// Applies a change that leaves an MCP server.
fn mcp_change(
    ctx: &Ctx,
    store: &mut cavra_store::Store,
    c: RegistryChange,
    who: &Authorized,
) -> anyhow::Result<McpServer> {
    change(ctx, store, c, who)?
        .mcp_server()
        .context("the registry did not return the server")
}

/// Applies a removal and confirms it.
fn removal(
    ctx: &Ctx,
    store: &mut cavra_store::Store,
    c: RegistryChange,
    who: &Authorized,
    human: &str,
) -> anyhow::Result<()> {
    if let RegistryChanged::Removed(id) = change(ctx, store, c, who)? {
        emit(ctx.json, &serde_json::json!({"removed": id}), human)?;
    }
    Ok(())
}

/// A listing: a JSON array, `empty` when there is nothing, else a table.
fn dash(o: &Option<String>) -> String {
    o.clone().unwrap_or_else(|| "-".into())
}

fn operation_names(p: &AgentProfile) -> String {
    let ops: Vec<&str> = p.operations.iter().map(|o| o.as_str()).collect();
    ops.join(", ")
}

fn mcp(cmd: McpCommand, ctx: &Ctx) -> anyhow::Result<i32> {
    let mut store = open_store(ctx, false)?;
    let unknown = |id: &str| cavra_store::StoreError::UnknownMcpServer(id.to_string());
    match cmd {
        McpCommand::List => {
            print_list(
                ctx.json,
                &store.list_mcp_servers()?,
                mcp_json,
                "no mcp servers registered",
                &["SERVER", "TIER", "STATE", "CAPABILITIES", "TOOLS"],
                |m| {
                    vec![
                        m.server_id.clone(),
                        if m.is_blocked() {
                            format!("{} (BLOCKED)", m.trust_tier)
                        } else {
                            m.trust_tier.clone()
                        },
                        m.approval_state.clone(),
                        clip(&m.capabilities.join(","), 30),
                        clip(&m.allowed_tools.join(","), 40),
                    ]
                },
            )?;
        }
        McpCommand::Add {
            server_id,
            name,
            trust_tier,
            approval_state,
            capabilities,
            tools,
            auth,
        } => {
            let who = trust_change(
                &format!("cavra registry mcp add {server_id}"),
                &[
                    ("change", format!("register MCP server `{server_id}`")),
                    (
                        "trust",
                        format!("tier `{trust_tier}`, state `{approval_state}`"),
                    ),
                    ("tools", tools.join(", ")),
                ],
                &auth,
                None,
            )?;
            let mut allowed_tools = Vec::new();
            let mut tool_classifications = BTreeMap::new();
            for t in tools {
                match t.split_once('=') {
                    Some((name, class)) => {
                        let name = name.trim().to_string();
                        tool_classifications.insert(name.clone(), ToolClass::parse(class)?);
                        allowed_tools.push(name);
                    }
                    None => allowed_tools.push(t.trim().to_string()),
                }
            }
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
            let m = mcp_change(ctx, &mut store, RegistryChange::AddMcpServer(server), &who)?;
            emit(
                ctx.json,
                &mcp_json(&m),
                &format!("added mcp server {}", m.server_id),
            )?;
        }
        McpCommand::Show { server_id } => {
            let m = store
                .mcp_server(&server_id)?
                .ok_or_else(|| unknown(&server_id))?;
            if ctx.json {
                print_json(&mcp_json(&m))?;
            } else {
                if m.is_blocked() {
                    println!("!! BLOCKED server");
                }
                println!("server_id       {}", m.server_id);
                println!("name            {}", m.name.as_deref().unwrap_or("-"));
                println!("trust_tier      {}", m.trust_tier);
                println!("approval_state  {}", m.approval_state);
                println!("capabilities    {}", m.capabilities.join(", "));
                println!("allowed_tools   {}", m.allowed_tools.join(", "));
                for (tool, class) in &m.tool_classifications {
                    println!(
                        "  {tool}: {}",
                        serde_json::to_value(class)?.as_str().unwrap_or("?")
                    );
                }
            }
        }
        McpCommand::Approve {
            server_id,
            identity,
            trust_tier,
            reason,
            auth,
        } => {
            let cur = store
                .mcp_server(&server_id)?
                .ok_or_else(|| unknown(&server_id))?;
            let tier = trust_tier.unwrap_or_else(|| {
                if cur.trust_tier == "blocked" {
                    "approved".into()
                } else {
                    cur.trust_tier.clone()
                }
            });
            let who = trust_change(
                &format!("cavra registry mcp approve {server_id}"),
                &[
                    ("change", format!("approve MCP server `{server_id}`")),
                    ("trust", format!("tier `{}` -> `{tier}`", cur.trust_tier)),
                ],
                &auth,
                identity.as_deref(),
            )?;
            let m = mcp_change(
                ctx,
                &mut store,
                RegistryChange::ApproveMcpServer {
                    server_id,
                    trust_tier: tier,
                    reason,
                },
                &who,
            )?;
            emit(
                ctx.json,
                &mcp_json(&m),
                &format!(
                    "approved mcp server {} (tier {})",
                    m.server_id, m.trust_tier
                ),
            )?;
        }
        McpCommand::Block {
            server_id,
            identity,
            reason,
            auth,
        } => {
            store
                .mcp_server(&server_id)?
                .ok_or_else(|| unknown(&server_id))?;
            let who = trust_change(
                &format!("cavra registry mcp block {server_id}"),
                &[("change", format!("block MCP server `{server_id}`"))],
                &auth,
                identity.as_deref(),
            )?;
            let m = mcp_change(
                ctx,
                &mut store,
                RegistryChange::BlockMcpServer { server_id, reason },
                &who,
            )?;
            emit(
                ctx.json,
                &mcp_json(&m),
                &format!("blocked mcp server {}", m.server_id),
            )?;
        }
        McpCommand::Remove { server_id, auth } => {
            store
                .mcp_server(&server_id)?
                .ok_or_else(|| unknown(&server_id))?;
            let who = trust_change(
                &format!("cavra registry mcp remove {server_id}"),
                &[("change", format!("remove MCP server `{server_id}`"))],
                &auth,
                None,
            )?;
            removal(
                ctx,
                &mut store,
                RegistryChange::RemoveMcpServer(server_id.clone()),
                &who,
                &format!("removed mcp server {server_id}"),
            )?;
        }
        McpCommand::Import { file, auth } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let reg = cavra_store::parse_mcp_registry(&text, &file)?;
            let ids: Vec<&str> = reg
                .mcp_servers
                .iter()
                .map(|m| m.server_id.as_str())
                .collect();
            let who = trust_change(
                &format!("cavra registry mcp import {}", file.display()),
                &[
                    (
                        "change",
                        format!("import {} MCP server(s) with their trust", ids.len()),
                    ),
                    ("servers", ids.join(", ")),
                ],
                &auth,
                None,
            )?;
            let import = RegistryChange::ImportMcp {
                file: file.display().to_string(),
                registry: reg,
            };
            let RegistryChanged::Imported(n) = change(ctx, &mut store, import, &who)? else {
                anyhow::bail!("the registry did not return the import count");
            };
            emit(
                ctx.json,
                &serde_json::json!({"imported": n}),
                &format!("imported {n} mcp server(s) from {}", file.display()),
            )?;
        }
        McpCommand::Export { file } => {
            let reg = store.export_mcp_registry()?;
            let text = serde_json::to_string_pretty(&reg)? + "\n";
            match file {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write `{}`", path.display()))?;
                    if !ctx.json {
                        println!(
                            "exported {} mcp server(s) to {}",
                            reg.mcp_servers.len(),
                            path.display()
                        );
                    } else {
                        print_json(
                            &serde_json::json!({"exported": reg.mcp_servers.len(), "file": path.display().to_string()}),
                        )?;
                    }
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(0)
}
