//! Agent registry (governed identities with capability profiles) and MCP trust registry.

#[cfg(feature = "sqlite")]
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::approvals::require_text;
#[cfg(feature = "sqlite")]
use crate::db::{classify, Store};
use crate::error::StoreError;
use crate::timefmt::from_secs;
#[cfg(feature = "sqlite")]
use crate::timefmt::secs;

// ---------------------------------------------------------------- profiles

/// A fine-grained operation that a capability profile may or may not allow, on top of
/// the coarse action type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// A shell command classified read-only (ls, cat, git status, ...).
    ReadOnlyCommand,
    /// Any other shell command.
    Command,
    /// git status/log/diff/fetch.
    GitRead,
    /// git commit/branch/merge locally.
    GitWrite,
    /// git push to a non-protected branch.
    GitPush,
    /// git push to a protected branch.
    GitPushProtected,
    /// git tag creation / push of tags.
    GitTag,
    /// Publishing packages or releases (cargo publish, npm publish, gh release, ...).
    Publish,
    /// MCP tool classified `read`.
    McpRead,
    /// MCP tool classified `write`.
    McpWrite,
    /// MCP tool classified `admin`.
    McpAdmin,
    /// MCP tool classified `exfil-capable`.
    McpExfil,
}

impl Operation {
    pub const ALL: [Operation; 12] = [
        Operation::ReadOnlyCommand,
        Operation::Command,
        Operation::GitRead,
        Operation::GitWrite,
        Operation::GitPush,
        Operation::GitPushProtected,
        Operation::GitTag,
        Operation::Publish,
        Operation::McpRead,
        Operation::McpWrite,
        Operation::McpAdmin,
        Operation::McpExfil,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ReadOnlyCommand => "read_only_command",
            Operation::Command => "command",
            Operation::GitRead => "git_read",
            Operation::GitWrite => "git_write",
            Operation::GitPush => "git_push",
            Operation::GitPushProtected => "git_push_protected",
            Operation::GitTag => "git_tag",
            Operation::Publish => "publish",
            Operation::McpRead => "mcp_read",
            Operation::McpWrite => "mcp_write",
            Operation::McpAdmin => "mcp_admin",
            Operation::McpExfil => "mcp_exfil",
        }
    }
}

/// A built-in capability profile: which action types and operations an agent may attempt
/// at all (policy still decides each one) and which policy packs apply to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentProfile {
    pub name: &'static str,
    pub description: &'static str,
    pub action_types: &'static [&'static str],
    pub operations: &'static [Operation],
    pub packs: &'static [&'static str],
}

const ALL_ACTIONS: &[&str] = &[
    "read_file",
    "write_file",
    "execute_command",
    "git_operation",
    "mcp_tool_call",
    "pull_request",
];

const PROFILES: &[AgentProfile] = &[
    AgentProfile {
        name: "read-only-reviewer",
        description: "reads files and runs read-only commands; never writes, pushes or publishes",
        action_types: &["read_file", "execute_command", "git_operation", "mcp_tool_call"],
        operations: &[Operation::ReadOnlyCommand, Operation::GitRead, Operation::McpRead],
        packs: &["cavra-ai-agent-baseline"],
    },
    AgentProfile {
        name: "builder",
        description: "everything the packs allow except pushing to protected branches, tagging and publishing",
        action_types: ALL_ACTIONS,
        operations: &[
            Operation::ReadOnlyCommand,
            Operation::Command,
            Operation::GitRead,
            Operation::GitWrite,
            Operation::GitPush,
            Operation::McpRead,
            Operation::McpWrite,
        ],
        packs: &["cavra-ai-agent-baseline", "cavra-agentic-delivery"],
    },
    AgentProfile {
        name: "release-agent",
        description: "builder plus push to protected branches, tags and publishing (still policy-checked)",
        action_types: ALL_ACTIONS,
        operations: &[
            Operation::ReadOnlyCommand,
            Operation::Command,
            Operation::GitRead,
            Operation::GitWrite,
            Operation::GitPush,
            Operation::GitPushProtected,
            Operation::GitTag,
            Operation::Publish,
            Operation::McpRead,
            Operation::McpWrite,
        ],
        packs: &[
            "cavra-ai-agent-baseline",
            "cavra-agentic-delivery",
            "cavra-sox-change-control",
        ],
    },
];

impl AgentProfile {
    /// Every built-in profile.
    pub fn builtins() -> &'static [AgentProfile] {
        PROFILES
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<&'static AgentProfile, StoreError> {
        PROFILES
            .iter()
            .find(|p| p.name == name.trim())
            .ok_or_else(|| {
                StoreError::input(
                    "profile",
                    format!("`{name}` (expected read-only-reviewer, builder or release-agent)"),
                )
            })
    }

    /// May an agent with this profile attempt this action type at all?
    pub fn permits(&self, action_type: &str) -> bool {
        self.action_types.contains(&action_type)
    }

    /// May it perform this finer operation?
    pub fn permits_operation(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    /// The policy packs applied to agents of this profile.
    pub fn allowed_packs(&self) -> &'static [&'static str] {
        self.packs
    }
}

// ---------------------------------------------------------------- agents

/// Registration status of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Pending,
    Approved,
    Blocked,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Pending => "pending",
            AgentStatus::Approved => "approved",
            AgentStatus::Blocked => "blocked",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(AgentStatus::Pending),
            "approved" => Ok(AgentStatus::Approved),
            "blocked" => Ok(AgentStatus::Blocked),
            _ => Err(StoreError::Decode {
                field: "agents.status".into(),
                detail: format!("`{s}`"),
            }),
        }
    }
}

/// A governed agent identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRecord {
    pub agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// e.g. claude-code, codex, ci-runner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<String>,
    pub profile: String,
    pub status: AgentStatus,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub updated_at: OffsetDateTime,
}

impl AgentRecord {
    /// The agent's capability profile.
    pub fn profile(&self) -> Result<&'static AgentProfile, StoreError> {
        AgentProfile::builtin(&self.profile)
    }
}

/// A new agent to register.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub agent_id: String,
    pub vendor: Option<String>,
    pub kind: Option<String>,
    pub owner: Option<String>,
    pub risk_tier: Option<String>,
    pub profile: String,
    pub status: AgentStatus,
}

pub(crate) const AGENT_COLS: &str =
    "agent_id, vendor, kind, owner, risk_tier, profile, status, created_at, updated_at";

pub(crate) type RawAgent = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    i64,
);

#[cfg(feature = "sqlite")]
/// The `AGENT_COLS` of a row, in order.
fn read_agent(r: &Row<'_>) -> rusqlite::Result<RawAgent> {
    RawAgent::try_from(r)
}

pub(crate) fn finish_agent(r: RawAgent) -> Result<AgentRecord, StoreError> {
    Ok(AgentRecord {
        agent_id: r.0,
        vendor: r.1,
        kind: r.2,
        owner: r.3,
        risk_tier: r.4,
        profile: r.5,
        status: AgentStatus::parse(&r.6)?,
        created_at: from_secs("created_at", r.7)?,
        updated_at: from_secs("updated_at", r.8)?,
    })
}

pub(crate) fn opt(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

// ---------------------------------------------------------------- mcp

pub use cavra_core::guard::{McpRegistry as McpRegistryFile, McpServer, ToolClass};

/// A tool class typed by a person (`read`, `write`, `admin`, `exfil-capable`; also
/// `exfil_capable`, `exfil`).
pub fn parse_tool_class(s: &str) -> Result<ToolClass, StoreError> {
    ToolClass::from_name(s).ok_or_else(|| {
        StoreError::input(
            "tool class",
            format!("`{s}` (expected read, write, admin or exfil-capable)"),
        )
    })
}

/// Approval states an MCP server can be in.
pub const MCP_APPROVAL_STATES: &[&str] = &["approved", "pending", "denied", "blocked"];

/// The checks of a server before it is stored: an id, a lowercase tier, a known state.
pub(crate) fn validate_mcp_server(s: &McpServer) -> Result<(), StoreError> {
    require_text("server_id", &s.server_id)?;
    let v = &s.trust_tier;
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(StoreError::input(
            "trust_tier",
            format!("`{v}` (lowercase word expected)"),
        ));
    }
    if !MCP_APPROVAL_STATES.contains(&s.approval_state.as_str()) {
        return Err(StoreError::input(
            "approval_state",
            format!(
                "`{}` (expected approved, pending, denied or blocked)",
                s.approval_state
            ),
        ));
    }
    Ok(())
}

/// Where a server being written goes: the position it has (`None`: it is new); an
/// existing server is only replaced with `replace`.
pub(crate) fn kept_position(
    existing: Option<i64>,
    replace: bool,
    id: &str,
) -> Result<Option<i64>, StoreError> {
    match existing {
        Some(_) if !replace => Err(StoreError::AlreadyExists {
            kind: "mcp server",
            id: id.to_string(),
        }),
        other => Ok(other),
    }
}

/// Every server valid, no server id twice (checked before an import writes anything).
pub(crate) fn validate_registry(file: &McpRegistryFile) -> Result<(), StoreError> {
    let mut seen = std::collections::BTreeSet::new();
    for s in &file.mcp_servers {
        validate_mcp_server(s)?;
        if !seen.insert(s.server_id.as_str()) {
            return Err(StoreError::input(
                "mcp_servers",
                format!("duplicate server_id `{}`", s.server_id),
            ));
        }
    }
    Ok(())
}

pub(crate) const MCP_COLS: &str =
    "server_id, name, trust_tier, approval_state, capabilities, allowed_tools, tool_classes, extra";

pub(crate) type RawMcp = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
);

#[cfg(feature = "sqlite")]
/// The `MCP_COLS` of a row, in order.
fn read_mcp(r: &Row<'_>) -> rusqlite::Result<RawMcp> {
    RawMcp::try_from(r)
}

pub(crate) fn dec<T: serde::de::DeserializeOwned>(field: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Decode {
        field: field.into(),
        detail: e.to_string(),
    })
}

pub(crate) fn enc<T: Serialize>(field: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Decode {
        field: field.into(),
        detail: e.to_string(),
    })
}

pub(crate) fn finish_mcp(r: RawMcp) -> Result<McpServer, StoreError> {
    Ok(McpServer {
        server_id: r.0,
        name: r.1,
        trust_tier: r.2,
        approval_state: r.3,
        capabilities: dec("capabilities", &r.4)?,
        allowed_tools: dec("allowed_tools", &r.5)?,
        tool_classifications: dec("tool_classes", &r.6)?,
        extra: dec("extra", &r.7)?,
    })
}

#[cfg(feature = "sqlite")]
impl Store {
    // ----- agents

    /// Register an agent. Its profile must be a built-in one.
    pub fn add_agent(
        &mut self,
        new: NewAgent,
        now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError> {
        let id = require_text("agent_id", &new.agent_id)?;
        let profile = AgentProfile::builtin(&new.profile)?.name;
        let map = self.detached_classify();
        let tx = self.write_tx()?;
        let exists: Option<String> = tx
            .query_row(
                "SELECT agent_id FROM agents WHERE agent_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(&map)?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists { kind: "agent", id });
        }
        tx.execute(
            &format!(
                "INSERT INTO agents ({AGENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"
            ),
            params![
                id,
                opt(&new.vendor),
                opt(&new.kind),
                opt(&new.owner),
                opt(&new.risk_tier),
                profile,
                new.status.as_str(),
                secs(now)
            ],
        )
        .map_err(&map)?;
        tx.commit().map_err(&map)?;
        self.agent(&id)?.ok_or(StoreError::UnknownAgent(id))
    }

    /// One agent, if registered.
    pub fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.select_one(
            &format!("SELECT {AGENT_COLS} FROM agents WHERE agent_id = ?1"),
            id,
            read_agent,
            finish_agent,
        )
    }

    /// Every registered agent, by id.
    pub fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.select_all(
            &format!("SELECT {AGENT_COLS} FROM agents ORDER BY agent_id"),
            read_agent,
            finish_agent,
        )
    }

    /// Set an agent's status (approve / block).
    pub fn set_agent_status(
        &mut self,
        id: &str,
        status: AgentStatus,
        now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError> {
        self.execute_for(
            "UPDATE agents SET status = ?2, updated_at = ?3 WHERE agent_id = ?1",
            params![id, status.as_str(), secs(now)],
            id,
            StoreError::UnknownAgent,
        )?;
        self.agent(id)?
            .ok_or_else(|| StoreError::UnknownAgent(id.to_string()))
    }

    /// Remove an agent from the registry.
    pub fn remove_agent(&mut self, id: &str) -> Result<(), StoreError> {
        self.execute_for(
            "DELETE FROM agents WHERE agent_id = ?1",
            params![id],
            id,
            StoreError::UnknownAgent,
        )
    }

    // ----- mcp

    /// Add a server; refuses an existing id unless `replace`.
    pub fn put_mcp_server(
        &mut self,
        server: &McpServer,
        replace: bool,
        now: OffsetDateTime,
    ) -> Result<McpServer, StoreError> {
        validate_mcp_server(server)?;
        let map = self.detached_classify();
        let tx = self.write_tx()?;
        put_mcp_in(&tx, server, replace, now, &map)?;
        tx.commit().map_err(&map)?;
        self.mcp_server(&server.server_id)?
            .ok_or_else(|| StoreError::UnknownMcpServer(server.server_id.clone()))
    }

    /// One server, if registered.
    pub fn mcp_server(&self, id: &str) -> Result<Option<McpServer>, StoreError> {
        self.select_one(
            &format!("SELECT {MCP_COLS} FROM mcp_servers WHERE server_id = ?1"),
            id,
            read_mcp,
            finish_mcp,
        )
    }

    /// Every server, in registration (import) order.
    pub fn list_mcp_servers(&self) -> Result<Vec<McpServer>, StoreError> {
        self.select_all(
            &format!("SELECT {MCP_COLS} FROM mcp_servers ORDER BY position, server_id"),
            read_mcp,
            finish_mcp,
        )
    }

    /// Remove a server.
    pub fn remove_mcp_server(&mut self, id: &str) -> Result<(), StoreError> {
        self.execute_for(
            "DELETE FROM mcp_servers WHERE server_id = ?1",
            params![id],
            id,
            StoreError::UnknownMcpServer,
        )
    }

    /// Import a registry file (`{"mcp_servers": [...]}`); servers with known ids are
    /// replaced, others added, all in one transaction. Returns the number imported.
    pub fn import_mcp_registry(
        &mut self,
        file: &McpRegistryFile,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        validate_registry(file)?;
        let map = self.detached_classify();
        let tx = self.write_tx()?;
        for s in &file.mcp_servers {
            put_mcp_in(&tx, s, true, now, &map)?;
        }
        tx.commit().map_err(&map)?;
        Ok(file.mcp_servers.len())
    }

    /// Export the registry in the reference shape.
    pub fn export_mcp_registry(&self) -> Result<McpRegistryFile, StoreError> {
        Ok(McpRegistryFile {
            mcp_servers: self.list_mcp_servers()?,
            extra: serde_json::Map::new(),
        })
    }

    // ----- shared by agents and mcp

    /// An error mapping that owns what it needs, so it can be used while a write
    /// transaction borrows the store.
    fn detached_classify(&self) -> impl Fn(rusqlite::Error) -> StoreError {
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        move |e| classify(&path, busy, e)
    }

    /// The row selected by `sql` (which takes the id as `?1`), if any: `read` takes the
    /// columns, `finish` decodes them.
    fn select_one<R, T>(
        &self,
        sql: &str,
        id: &str,
        read: fn(&Row<'_>) -> rusqlite::Result<R>,
        finish: fn(R) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row(params![id], read))
            .optional()
            .map_err(|e| self.classify(e))?
            .map(finish)
            .transpose()
    }

    /// Every row selected by `sql` (no parameters), read and decoded as in `select_one`.
    fn select_all<R, T>(
        &self,
        sql: &str,
        read: fn(&Row<'_>) -> rusqlite::Result<R>,
        finish: fn(R) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.classify(e))?;
        let raws = stmt
            .query_map([], read)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.classify(e))?;
        raws.into_iter().map(finish).collect()
    }

    /// Run a statement that must change the row of `id`; `unknown(id)` when it changed
    /// none.
    fn execute_for(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        id: &str,
        unknown: fn(String) -> StoreError,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(sql, params)
            .map_err(|e| self.classify(e))?;
        if n == 0 {
            return Err(unknown(id.to_string()));
        }
        Ok(())
    }
}

/// Parse a registry file's text for an import: a server listed without an approval state
/// is filed as `pending` (a file used as is, without the store, counts it approved).
pub fn parse_mcp_registry(
    text: &str,
    path: &std::path::Path,
) -> Result<McpRegistryFile, StoreError> {
    let bad = |detail: String| StoreError::Config {
        path: path.to_path_buf(),
        detail,
    };
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if let Some(servers) = v.get_mut("mcp_servers").and_then(|s| s.as_array_mut()) {
        for s in servers.iter_mut().filter_map(|s| s.as_object_mut()) {
            s.entry("approval_state")
                .or_insert_with(|| "pending".into());
        }
    }
    serde_json::from_value(v).map_err(|e| bad(e.to_string()))
}

#[cfg(feature = "sqlite")]
fn put_mcp_in(
    tx: &rusqlite::Transaction<'_>,
    s: &McpServer,
    replace: bool,
    now: OffsetDateTime,
    map: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<(), StoreError> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT position FROM mcp_servers WHERE server_id = ?1",
            params![s.server_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(map)?;
    let position = match kept_position(existing, replace, &s.server_id)? {
        Some(p) => p,
        None => tx
            .query_row(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM mcp_servers",
                [],
                |r| r.get(0),
            )
            .map_err(map)?,
    };
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO mcp_servers ({MCP_COLS}, position, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            s.server_id,
            s.name,
            s.trust_tier,
            s.approval_state,
            enc("capabilities", &s.capabilities)?,
            enc("allowed_tools", &s.allowed_tools)?,
            enc("tool_classifications", &s.tool_classifications)?,
            enc("extra", &s.extra)?,
            position,
            secs(now)
        ],
    )
    .map_err(map)?;
    Ok(())
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn profiles_restrict_actions_and_operations() {
        let ro = AgentProfile::builtin("read-only-reviewer").expect("builtin");
        assert!(ro.permits("read_file"));
        assert!(!ro.permits("write_file"));
        assert!(ro.permits_operation(Operation::ReadOnlyCommand));
        assert!(!ro.permits_operation(Operation::Command));
        let b = AgentProfile::builtin("builder").expect("builtin");
        assert!(b.permits("write_file"));
        assert!(b.permits_operation(Operation::GitPush));
        assert!(!b.permits_operation(Operation::GitPushProtected));
        assert!(!b.permits_operation(Operation::Publish));
        let r = AgentProfile::builtin("release-agent").expect("builtin");
        assert!(r.permits_operation(Operation::Publish));
        assert!(r.permits_operation(Operation::GitTag));
        assert!(!r.permits_operation(Operation::McpExfil));
        assert!(r.allowed_packs().contains(&"cavra-ai-agent-baseline"));
        assert!(AgentProfile::builtin("god-mode").is_err());
    }
}
