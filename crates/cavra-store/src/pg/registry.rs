//! The agent and MCP trust registries in PostgreSQL.

use postgres::GenericClient;
use time::OffsetDateTime;

use super::{json_row, json_rows, select_json, PgStore};
use crate::approvals::require_text;
use crate::error::StoreError;
use crate::registry::{
    enc, finish_agent, finish_mcp, opt, AgentProfile, AgentRecord, AgentStatus, McpRegistryFile,
    McpServer, NewAgent, RawAgent, RawMcp, AGENT_COLS, MCP_COLS,
};
use crate::timefmt::secs;

/// The advisory lock key of MCP registry writes ("CAVR" "MCPS"): the next `position` is
/// taken under it.
const MCP_LOCK: i64 = 0x4341_5652_4d43_5053;

fn put_mcp_in(
    tx: &mut impl GenericClient,
    s: &McpServer,
    replace: bool,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MCP_LOCK])?;
    let existing: Option<i64> = tx
        .query_opt(
            "SELECT position FROM mcp_servers WHERE server_id = $1",
            &[&s.server_id],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let position = match crate::registry::kept_position(existing, replace, &s.server_id)? {
        Some(p) => p,
        None => tx
            .query_one(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM mcp_servers",
                &[],
            )?
            .try_get(0)?,
    };
    tx.execute(
        &format!(
            "INSERT INTO mcp_servers ({MCP_COLS}, position, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (server_id) DO UPDATE SET name = EXCLUDED.name, \
             trust_tier = EXCLUDED.trust_tier, approval_state = EXCLUDED.approval_state, \
             capabilities = EXCLUDED.capabilities, allowed_tools = EXCLUDED.allowed_tools, \
             tool_classes = EXCLUDED.tool_classes, extra = EXCLUDED.extra, \
             position = EXCLUDED.position, updated_at = EXCLUDED.updated_at"
        ),
        &[
            &s.server_id,
            &s.name,
            &s.trust_tier,
            &s.approval_state,
            &enc("capabilities", &s.capabilities)?,
            &enc("allowed_tools", &s.allowed_tools)?,
            &enc("tool_classifications", &s.tool_classifications)?,
            &enc("extra", &s.extra)?,
            &position,
            &secs(now),
        ],
    )?;
    Ok(())
}

impl PgStore {
    /// Register an agent (a built-in profile).
    pub fn add_agent(
        &mut self,
        new: NewAgent,
        now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError> {
        let id = require_text("agent_id", &new.agent_id)?;
        let profile = AgentProfile::builtin(&new.profile)?.name;
        let n = super::tokens::execute_notifying(
            &mut *self.conn()?,
            &format!(
                "INSERT INTO agents ({AGENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (agent_id) DO NOTHING"
            ),
            &[
                &id,
                &opt(&new.vendor),
                &opt(&new.kind),
                &opt(&new.owner),
                &opt(&new.risk_tier),
                &profile,
                &new.status.as_str(),
                &secs(now),
            ],
            "agents",
        )?;
        if n == 0 {
            return Err(StoreError::AlreadyExists { kind: "agent", id });
        }
        self.agent(&id)?.ok_or(StoreError::UnknownAgent(id))
    }

    /// One agent, if registered.
    pub fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        json_row::<RawAgent>(
            &mut *self.conn()?,
            &format!(
                "{} FROM agents WHERE agent_id = $1",
                select_json(AGENT_COLS)
            ),
            &[&id],
        )?
        .map(finish_agent)
        .transpose()
    }

    /// Every registered agent, by id.
    pub fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        json_rows::<RawAgent>(
            &mut *self.conn()?,
            &format!("{} FROM agents ORDER BY agent_id", select_json(AGENT_COLS)),
            &[],
        )?
        .into_iter()
        .map(finish_agent)
        .collect()
    }

    /// Set an agent's status.
    pub fn set_agent_status(
        &mut self,
        id: &str,
        status: AgentStatus,
        now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError> {
        let n = super::tokens::execute_notifying(
            &mut *self.conn()?,
            "UPDATE agents SET status = $2, updated_at = $3 WHERE agent_id = $1",
            &[&id, &status.as_str(), &secs(now)],
            "agents",
        )?;
        if n == 0 {
            return Err(StoreError::UnknownAgent(id.to_string()));
        }
        self.agent(id)?
            .ok_or_else(|| StoreError::UnknownAgent(id.to_string()))
    }

    /// Remove an agent.
    pub fn remove_agent(&mut self, id: &str) -> Result<(), StoreError> {
        let n = super::tokens::execute_notifying(
            &mut *self.conn()?,
            "DELETE FROM agents WHERE agent_id = $1",
            &[&id],
            "agents",
        )?;
        if n == 0 {
            return Err(StoreError::UnknownAgent(id.to_string()));
        }
        Ok(())
    }

    /// Add a server; refuses an existing id unless `replace`.
    pub fn put_mcp_server(
        &mut self,
        server: &McpServer,
        replace: bool,
        now: OffsetDateTime,
    ) -> Result<McpServer, StoreError> {
        crate::registry::validate_mcp_server(server)?;
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        put_mcp_in(&mut tx, server, replace, now)?;
        tx.commit()?;
        drop(c);
        self.mcp_server(&server.server_id)?
            .ok_or_else(|| StoreError::UnknownMcpServer(server.server_id.clone()))
    }

    /// One server, if registered.
    pub fn mcp_server(&self, id: &str) -> Result<Option<McpServer>, StoreError> {
        json_row::<RawMcp>(
            &mut *self.conn()?,
            &format!(
                "{} FROM mcp_servers WHERE server_id = $1",
                select_json(MCP_COLS)
            ),
            &[&id],
        )?
        .map(finish_mcp)
        .transpose()
    }

    /// Every server, in registration (import) order.
    pub fn list_mcp_servers(&self) -> Result<Vec<McpServer>, StoreError> {
        json_rows::<RawMcp>(
            &mut *self.conn()?,
            &format!(
                "{} FROM mcp_servers ORDER BY position, server_id",
                select_json(MCP_COLS)
            ),
            &[],
        )?
        .into_iter()
        .map(finish_mcp)
        .collect()
    }

    /// Remove a server.
    pub fn remove_mcp_server(&mut self, id: &str) -> Result<(), StoreError> {
        let n = self
            .conn()?
            .execute("DELETE FROM mcp_servers WHERE server_id = $1", &[&id])?;
        if n == 0 {
            return Err(StoreError::UnknownMcpServer(id.to_string()));
        }
        Ok(())
    }

    /// Import a registry file in one transaction; returns the number imported.
    pub fn import_mcp_registry(
        &mut self,
        file: &McpRegistryFile,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        crate::registry::validate_registry(file)?;
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        for s in &file.mcp_servers {
            put_mcp_in(&mut tx, s, true, now)?;
        }
        tx.commit()?;
        Ok(file.mcp_servers.len())
    }

    /// Export the registry in the reference shape.
    pub fn export_mcp_registry(&self) -> Result<McpRegistryFile, StoreError> {
        Ok(McpRegistryFile {
            mcp_servers: self.list_mcp_servers()?,
            extra: serde_json::Map::new(),
        })
    }
}
