//! The control flows, whole: check the request, describe it to the person as a
//! [`ControlAction`], authenticate them ([`Authenticator`]), sign with their key, apply the
//! effect and record its evidence ([`crate::control`]). What the CLI's `approvals`,
//! `sessions` and `registry` commands do, and what a server's `POST /v1/approvals/{id}/approve`,
//! `POST /v1/sessions/{id}/release`, … do: a request in, the result and who acted out.
//! A request that cannot be acted on is refused before the person is asked.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cavra_store::{
    AgentStatus, ApprovalState, ApproveOptions, ControlStore, McpServer, NewBreakGlass,
    RegistryStore, Role, StoreError, ToolClass,
};

use crate::authz::{Authenticator, Authorized, ControlAction};
use crate::control::{approved_tier, RegistryChange, RegistryChanged};
use crate::error::RuntimeError;
use crate::Runtime;

type Result<T> = std::result::Result<T, RuntimeError>;

/// The result of a control action and the person who did it.
#[derive(Debug, Clone)]
pub struct Acted<T> {
    pub result: T,
    pub by: Authorized,
}

/// A person's decision on a pending approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

/// `approvals approve` / `deny`: decide the pending request `id`.
#[derive(Debug, Clone)]
pub struct DecideRequest {
    pub id: String,
    pub verdict: Verdict,
    pub reason: String,
    /// How many times an approval may be used (default 1).
    pub uses: Option<u32>,
}

/// `approvals break-glass`: a time-boxed override of one request or of an action type and
/// target pattern.
#[derive(Debug, Clone)]
pub struct BreakGlassRequest {
    pub reason: String,
    pub request_hash: Option<String>,
    pub action_type: Option<String>,
    pub target: Option<String>,
    /// Lifetime, e.g. `30m`.
    pub ttl: String,
    /// The longest lifetime the pack allows.
    pub max_ttl: Duration,
}

/// `sessions release`: lift the hold on a session.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    pub session_id: String,
    pub reason: String,
}

fn require_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(RuntimeError::Invalid(
            "invalid reason: must not be empty".into(),
        ));
    }
    Ok(())
}

impl Runtime {
    /// Authenticates the person for `action` and signs `store`'s records with their key.
    fn sign(
        &self,
        store: &mut dyn ControlStore,
        action: &ControlAction,
        auth: &dyn Authenticator,
    ) -> Result<Authorized> {
        let now = self.clock.now();
        let who = auth.authenticate(action, now)?;
        store.set_signer(auth.signer(&who, now)?);
        Ok(who)
    }

    /// A person approves or denies a pending request (never its own requester or agent).
    pub fn decide_approval(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        req: DecideRequest,
        auth: &dyn Authenticator,
    ) -> Result<Acted<cavra_store::Approval>> {
        let verdict = req.verdict.as_str();
        let a = store.approval(&req.id)?;
        let state = a.effective_state(self.clock.now());
        if state != ApprovalState::Pending {
            return Err(StoreError::InvalidTransition {
                id: req.id,
                state: state.to_string(),
                action: verdict,
            }
            .into());
        }
        require_reason(&req.reason)?;
        let role = match req.verdict {
            Verdict::Approve => Role::Approve,
            Verdict::Deny => Role::Deny,
        };
        let action = ControlAction::new(format!("cavra approvals {verdict} {}", req.id), role)
            .show("decision", format!("{verdict} this request"))
            .show("action", a.action_type.clone())
            .show("target", a.target.clone())
            .show(
                "requester",
                format!("{} (agent {})", a.requested_by, a.agent_id),
            )
            .show("rule", format!("{} ({})", a.rule_id, a.severity))
            .show("group", a.approver_group.clone())
            .show("expires", cavra_store::rfc3339(a.expires_at))
            .show("reason", req.reason.clone());
        let by = self.sign(store, &action, auth)?;
        let result = match req.verdict {
            Verdict::Approve => self.approve(
                cavra_dir,
                store,
                &req.id,
                &by.identity,
                &req.reason,
                ApproveOptions { max_uses: req.uses },
            )?,
            Verdict::Deny => self.deny(cavra_dir, store, &req.id, &by.identity, &req.reason)?,
        };
        Ok(Acted { result, by })
    }

    /// A person records a break-glass override, loudly flagged everywhere.
    pub fn break_glass_as(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        req: BreakGlassRequest,
        auth: &dyn Authenticator,
    ) -> Result<Acted<cavra_store::Approval>> {
        let ttl = cavra_store::parse_duration(&req.ttl)?;
        if let Some(a) = req.action_type.as_deref() {
            if cavra_core::ActionType::parse(a.trim()).is_none() {
                return Err(RuntimeError::Invalid(format!(
                    "invalid break-glass action: `{a}` is not an action type (read_file, write_file, delete_file, execute_command, git_operation, mcp_tool_call, network_request, pull_request)"
                )));
            }
        }
        let mut new = NewBreakGlass {
            request_hash: req.request_hash,
            action_type: req.action_type,
            target: req.target,
            identity: String::new(),
            reason: req.reason,
            ttl,
            max_ttl: req.max_ttl,
        };
        new.validate()?;
        let scope = match (&new.request_hash, &new.action_type, &new.target) {
            (Some(h), _, _) => format!("the exact request {h}"),
            (None, Some(a), Some(t)) => format!("{a} matching `{t}`"),
            _ => "-".into(),
        };
        let action = ControlAction::new("cavra approvals break-glass", Role::BreakGlass)
            .show("override", "BREAK-GLASS: a time-boxed override of policy")
            .show("scope", scope)
            .show("reason", new.reason.clone())
            .show(
                "ttl",
                format!(
                    "{}s (pack maximum {}s)",
                    ttl.as_secs(),
                    new.max_ttl.as_secs()
                ),
            );
        let by = self.sign(store, &action, auth)?;
        new.identity = by.identity.clone();
        let result = self.break_glass(cavra_dir, store, new)?;
        Ok(Acted { result, by })
    }

    /// A person releases a held session (never its own agent).
    pub fn release_as(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        req: ReleaseRequest,
        auth: &dyn Authenticator,
    ) -> Result<Acted<cavra_store::SessionState>> {
        let cur = crate::views::session(store, &req.session_id)?;
        if !cur.held && !store.is_held(&req.session_id)? {
            return Err(StoreError::NotHeld(req.session_id).into());
        }
        require_reason(&req.reason)?;
        let action = ControlAction::new(
            format!("cavra sessions release {}", req.session_id),
            Role::Release,
        )
        .show("release", "lift the hold on this session")
        .show("agent", cur.agent_id.clone())
        .show(
            "held",
            cur.held_reason.clone().unwrap_or_else(|| "-".into()),
        )
        .show("blocks", cur.total_blocks.to_string())
        .show("reason", req.reason.clone());
        let by = self.sign(store, &action, auth)?;
        let result = self.release(cavra_dir, store, &req.session_id, &by.identity, &req.reason)?;
        Ok(Acted { result, by })
    }

    /// A person changes the agent or MCP registry (admin role). An approval of an MCP
    /// server without a tier keeps its tier, except that a blocked tier becomes approved.
    pub fn change_registry_as(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn RegistryStore,
        mut change: RegistryChange,
        auth: &dyn Authenticator,
    ) -> Result<Acted<RegistryChanged>> {
        let action = registry_action(store, &mut change)?;
        let by = auth.authenticate(&action, self.clock.now())?;
        let result = self.change_registry(cavra_dir, store, change, &by.person())?;
        Ok(Acted { result, by })
    }
}

/// Checks that the entry a change names exists, resolves an MCP approval's tier, and
/// describes the change to the person.
fn registry_action(
    store: &dyn RegistryStore,
    change: &mut RegistryChange,
) -> Result<ControlAction> {
    let agent = |id: &str| crate::views::agent(store, id).map(drop);
    let (command, summary): (String, Vec<(&'static str, String)>) = match change {
        RegistryChange::AddAgent(new) => (
            format!("cavra registry agents add {}", new.agent_id),
            vec![
                (
                    "change",
                    format!(
                        "register agent `{}` with profile `{}`",
                        new.agent_id, new.profile
                    ),
                ),
                ("status", new.status.as_str().to_string()),
            ],
        ),
        RegistryChange::SetAgentStatus {
            agent_id, status, ..
        } => {
            agent(agent_id)?;
            let verb = match status {
                AgentStatus::Approved => "approve",
                AgentStatus::Blocked => "block",
                AgentStatus::Pending => "mark pending",
            };
            (
                format!("cavra registry agents {verb} {agent_id}"),
                vec![("change", format!("{verb} agent `{agent_id}`"))],
            )
        }
        RegistryChange::RemoveAgent(agent_id) => {
            agent(agent_id)?;
            (
                format!("cavra registry agents remove {agent_id}"),
                vec![(
                    "change",
                    format!("remove agent `{agent_id}` from the registry"),
                )],
            )
        }
        RegistryChange::AddMcpServer(m) => (
            format!("cavra registry mcp add {}", m.server_id),
            vec![
                ("change", format!("register MCP server `{}`", m.server_id)),
                (
                    "trust",
                    format!("tier `{}`, state `{}`", m.trust_tier, m.approval_state),
                ),
                ("tools", tool_specs(m).join(", ")),
            ],
        ),
        RegistryChange::ApproveMcpServer {
            server_id,
            trust_tier,
            ..
        } => {
            let cur = crate::views::mcp_server(store, server_id)?;
            let tier = trust_tier.get_or_insert_with(|| approved_tier(&cur));
            (
                format!("cavra registry mcp approve {server_id}"),
                vec![
                    ("change", format!("approve MCP server `{server_id}`")),
                    ("trust", format!("tier `{}` -> `{tier}`", cur.trust_tier)),
                ],
            )
        }
        RegistryChange::BlockMcpServer { server_id, .. } => {
            crate::views::mcp_server(store, server_id)?;
            (
                format!("cavra registry mcp block {server_id}"),
                vec![("change", format!("block MCP server `{server_id}`"))],
            )
        }
        RegistryChange::RemoveMcpServer(server_id) => {
            crate::views::mcp_server(store, server_id)?;
            (
                format!("cavra registry mcp remove {server_id}"),
                vec![("change", format!("remove MCP server `{server_id}`"))],
            )
        }
        RegistryChange::ImportMcp { file, registry } => {
            let ids: Vec<&str> = registry
                .mcp_servers
                .iter()
                .map(|m| m.server_id.as_str())
                .collect();
            (
                format!("cavra registry mcp import {file}"),
                vec![
                    (
                        "change",
                        format!("import {} MCP server(s) with their trust", ids.len()),
                    ),
                    ("servers", ids.join(", ")),
                ],
            )
        }
    };
    Ok(ControlAction {
        command,
        summary,
        role: Role::Admin,
        terminal_only: false,
    })
}

/// The tools of a server as given on the command line: `NAME` or `NAME=CLASS`.
fn tool_specs(m: &McpServer) -> Vec<String> {
    m.allowed_tools
        .iter()
        .map(|t| match m.tool_classifications.get(t) {
            Some(c) => format!("{t}={}", crate::views::tool_class_name(c)),
            None => t.clone(),
        })
        .collect()
}

/// Allowed tools from `NAME` or `NAME=read|write|admin|exfil-capable` specs.
pub fn parse_tools(specs: &[String]) -> Result<(Vec<String>, BTreeMap<String, ToolClass>)> {
    let mut allowed = Vec::new();
    let mut classes = BTreeMap::new();
    for t in specs {
        match t.split_once('=') {
            Some((name, class)) => {
                let name = name.trim().to_string();
                classes.insert(name.clone(), cavra_store::parse_tool_class(class)?);
                allowed.push(name);
            }
            None => allowed.push(t.trim().to_string()),
        }
    }
    Ok((allowed, classes))
}
