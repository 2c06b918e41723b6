//! The control actions' effects and their evidence: a person approves or denies an approval
//! request, records a break-glass override, expires what is due, releases a held session,
//! changes the agent or MCP registry.
//! Who the person is (terminal confirmation, approver token) is the front end's concern:
//! it authenticates them and sets their signer on the store before calling these.

use crate::error::RuntimeError;
use crate::Runtime;
use cavra_store::{
    AgentRecord, AgentStatus, Approval, ApproveOptions, ControlStore, McpRegistryFile, McpServer,
    NewAgent, NewBreakGlass, RegistryStore, SessionState,
};
use serde_json::{json, Value};
use std::path::Path;

type Result<T> = std::result::Result<T, RuntimeError>;

/// An approval as JSON: the record (a superset of `approval.schema.json`) plus `id`,
/// `exhausted` and, for a signed decision, how the person authenticated.
pub fn approval_json(a: &Approval) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert("id".into(), a.approval_id.clone().into());
        m.insert("exhausted".into(), a.exhausted().into());
        if let Some(att) = a.attestation() {
            m.insert("auth_method".into(), att.method.as_str().into());
            if let Some(l) = att.label {
                m.insert("approver_label".into(), l.into());
            }
        }
    }
    v
}

/// A session's escalation state as JSON.
pub fn session_json(s: &SessionState) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

impl Runtime {
    /// Records the evidence of an approval transition and links it from the approval;
    /// returns the approval as stored now.
    fn approval_evidence(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        kind: &str,
        a: &Approval,
    ) -> Result<Approval> {
        let record_id = self.record_transition(cavra_dir, kind, &approval_json(a))?;
        store.add_evidence_ref(&a.approval_id, &format!("evidence://record/{record_id}"))?;
        Ok(store.approval(&a.approval_id)?)
    }

    /// A person approves the pending request `id` (`approval.approved` evidence).
    pub fn approve(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        id: &str,
        identity: &str,
        reason: &str,
        opts: ApproveOptions,
    ) -> Result<Approval> {
        let a = store.approve(id, identity, reason, self.clock.now(), opts)?;
        self.approval_evidence(cavra_dir, store, "approval.approved", &a)
    }

    /// A person denies the pending request `id` (`approval.denied` evidence).
    pub fn deny(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        id: &str,
        identity: &str,
        reason: &str,
    ) -> Result<Approval> {
        let a = store.deny(id, identity, reason, self.clock.now())?;
        self.approval_evidence(cavra_dir, store, "approval.denied", &a)
    }

    /// A person records a break-glass override (`approval.break_glass` evidence).
    pub fn break_glass(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        new: NewBreakGlass,
    ) -> Result<Approval> {
        let a = store.break_glass(new, self.clock.now())?;
        self.approval_evidence(cavra_dir, store, "approval.break_glass", &a)
    }

    /// Expires every approval and override that is due (`approval.expired` evidence each).
    pub fn expire(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
    ) -> Result<Vec<Approval>> {
        let expired = store.expire_due(self.clock.now())?;
        expired
            .iter()
            .map(|a| self.approval_evidence(cavra_dir, store, "approval.expired", a))
            .collect()
    }

    /// A person lifts the hold on a session (`session.released` evidence).
    pub fn release(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        session_id: &str,
        identity: &str,
        reason: &str,
    ) -> Result<SessionState> {
        let s = store.release(session_id, identity, reason, self.clock.now())?;
        self.record_transition(cavra_dir, "session.released", &session_json(&s))?;
        Ok(s)
    }
}

/// Who made a control change: the identity and how they authenticated (recorded as is).
#[derive(Debug, Clone)]
pub struct Person {
    pub identity: String,
    /// The front end's account of the authentication (method, label).
    pub authenticated: Value,
}

/// A change to the agent or MCP registry.
#[derive(Debug, Clone)]
pub enum RegistryChange {
    /// Register an agent (`registry.agent.added`).
    AddAgent(NewAgent),
    /// Set an agent's status (`registry.agent.<status>`).
    SetAgentStatus {
        agent_id: String,
        status: AgentStatus,
        reason: Option<String>,
    },
    /// Remove an agent (`registry.agent.removed`).
    RemoveAgent(String),
    /// Add an MCP server (`registry.mcp.added`).
    AddMcpServer(McpServer),
    /// Approve an MCP server at a trust tier (`registry.mcp.approved`); without one, at
    /// [`approved_tier`].
    ApproveMcpServer {
        server_id: String,
        trust_tier: Option<String>,
        reason: Option<String>,
    },
    /// Block an MCP server (`registry.mcp.blocked`).
    BlockMcpServer {
        server_id: String,
        reason: Option<String>,
    },
    /// Remove an MCP server (`registry.mcp.removed`).
    RemoveMcpServer(String),
    /// Import a registry file (`registry.mcp.imported`); `file` names it in the evidence.
    ImportMcp {
        file: String,
        registry: McpRegistryFile,
    },
}

impl RegistryChange {
    /// What the change does, as its result is announced: `added`, `approved`, `blocked`,
    /// `removed`, `imported`.
    pub fn verb(&self) -> &'static str {
        match self {
            RegistryChange::AddAgent(_) | RegistryChange::AddMcpServer(_) => "added",
            RegistryChange::SetAgentStatus { status, .. } => match status {
                AgentStatus::Approved => "approved",
                AgentStatus::Blocked => "blocked",
                AgentStatus::Pending => "set pending",
            },
            RegistryChange::ApproveMcpServer { .. } => "approved",
            RegistryChange::BlockMcpServer { .. } => "blocked",
            RegistryChange::RemoveAgent(_) | RegistryChange::RemoveMcpServer(_) => "removed",
            RegistryChange::ImportMcp { .. } => "imported",
        }
    }
}

/// What a registry change left.
#[derive(Debug, Clone)]
pub enum RegistryChanged {
    Agent(AgentRecord),
    McpServer(McpServer),
    /// `what` was removed: `agent` or `mcp server`.
    Removed {
        what: &'static str,
        id: String,
    },
    /// `count` servers were imported from `file`.
    Imported {
        count: usize,
        file: String,
    },
}

impl RegistryChanged {
    /// The agent the change left, if it was an agent change.
    pub fn agent(self) -> Option<AgentRecord> {
        match self {
            RegistryChanged::Agent(a) => Some(a),
            _ => None,
        }
    }

    /// The document of what the change left: the agent or server, `{"removed": id}` or
    /// `{"imported": n}`.
    pub fn json(&self) -> Value {
        match self {
            RegistryChanged::Agent(a) => agent_json(a),
            RegistryChanged::McpServer(m) => mcp_json(m),
            RegistryChanged::Removed { id, .. } => json!({ "removed": id }),
            RegistryChanged::Imported { count, .. } => json!({ "imported": count }),
        }
    }

    /// The MCP server the change left, if it was a server change.
    pub fn mcp_server(self) -> Option<McpServer> {
        match self {
            RegistryChanged::McpServer(m) => Some(m),
            _ => None,
        }
    }
}

/// An agent as JSON, with its profile's capabilities.
pub fn agent_json(a: &AgentRecord) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let (Some(m), Ok(p)) = (v.as_object_mut(), a.profile()) {
        m.insert(
            "capabilities".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    v
}

/// The tier an approval without one gives a server: its own, except that a blocked tier
/// becomes approved.
pub fn approved_tier(current: &McpServer) -> String {
    if current.trust_tier == "blocked" {
        "approved".into()
    } else {
        current.trust_tier.clone()
    }
}

/// An MCP server as JSON.
pub fn mcp_json(m: &McpServer) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

impl Runtime {
    /// Applies a registry change and records it with who made it.
    pub fn change_registry(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn RegistryStore,
        change: RegistryChange,
        by: &Person,
    ) -> Result<RegistryChanged> {
        let now = self.clock.now();
        let (kind, body, changed) = match change {
            RegistryChange::AddAgent(new) => {
                let a = store.add_agent(new, now)?;
                (
                    "registry.agent.added".to_string(),
                    json!({"agent": agent_json(&a), "by": by.identity, "authenticated": by.authenticated}),
                    RegistryChanged::Agent(a),
                )
            }
            RegistryChange::SetAgentStatus {
                agent_id,
                status,
                reason,
            } => {
                let a = store.set_agent_status(&agent_id, status, now)?;
                (
                    format!("registry.agent.{}", status.as_str()),
                    decision_body("agent", agent_json(&a), by, reason),
                    RegistryChanged::Agent(a),
                )
            }
            RegistryChange::RemoveAgent(id) => {
                store.remove_agent(&id)?;
                (
                    "registry.agent.removed".to_string(),
                    json!({"agent_id": id, "by": by.identity, "authenticated": by.authenticated}),
                    RegistryChanged::Removed { what: "agent", id },
                )
            }
            RegistryChange::AddMcpServer(server) => {
                let m = store.put_mcp_server(&server, false, now)?;
                (
                    "registry.mcp.added".to_string(),
                    json!({"server": mcp_json(&m), "by": by.identity, "authenticated": by.authenticated}),
                    RegistryChanged::McpServer(m),
                )
            }
            RegistryChange::ApproveMcpServer {
                server_id,
                trust_tier,
                reason,
            } => {
                let tier = match trust_tier {
                    Some(t) => t,
                    None => approved_tier(&crate::views::mcp_server(store, &server_id)?),
                };
                let m = store.set_mcp_state(&server_id, &tier, "approved", now)?;
                (
                    "registry.mcp.approved".to_string(),
                    decision_body("server", mcp_json(&m), by, reason),
                    RegistryChanged::McpServer(m),
                )
            }
            RegistryChange::BlockMcpServer { server_id, reason } => {
                let m = store.set_mcp_state(&server_id, "blocked", "denied", now)?;
                (
                    "registry.mcp.blocked".to_string(),
                    decision_body("server", mcp_json(&m), by, reason),
                    RegistryChanged::McpServer(m),
                )
            }
            RegistryChange::RemoveMcpServer(id) => {
                store.remove_mcp_server(&id)?;
                (
                    "registry.mcp.removed".to_string(),
                    json!({"server_id": id, "by": by.identity, "authenticated": by.authenticated}),
                    RegistryChanged::Removed {
                        what: "mcp server",
                        id,
                    },
                )
            }
            RegistryChange::ImportMcp { file, registry } => {
                let n = store.import_mcp_registry(&registry, now)?;
                (
                    "registry.mcp.imported".to_string(),
                    json!({"file": file, "count": n, "by": by.identity, "authenticated": by.authenticated}),
                    RegistryChanged::Imported { count: n, file },
                )
            }
        };
        self.record_transition(cavra_dir, &kind, &body)?;
        Ok(changed)
    }
}

/// The evidence of a person approving or blocking a registry entry (under `key`).
fn decision_body(key: &str, entry: Value, by: &Person, reason: Option<String>) -> Value {
    json!({key: entry, "by": by.identity, "authenticated": by.authenticated, "reason": reason})
}
