//! [`PgStore`] behind the backend traits: every call is the inherent method of the same
//! name (the SQLite [`crate::Store`] is wired the same way in `backend.rs`).

use time::OffsetDateTime;

use super::PgStore;
use crate::approvals::{
    Approval, ApprovalState, ApproveOptions, BreakGlassQuery, NewApproval, NewBreakGlass,
};
use crate::approver::Signer;
use crate::backend::{ControlStore, DecisionStore, RegistryStore};
use crate::config::ApprovalConfig;
use crate::error::StoreError;
use crate::registry::{AgentRecord, AgentStatus, McpRegistryFile, McpServer, NewAgent};
use crate::sessions::SessionState;
use crate::tamper::Unverified;

impl DecisionStore for PgStore {
    fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        PgStore::agent(self, id)
    }
    fn mcp_registry(&self) -> Result<McpRegistryFile, StoreError> {
        PgStore::export_mcp_registry(self)
    }
    fn record_block(
        &mut self,
        session_id: &str,
        agent_id: &str,
        severity: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        PgStore::record_block(self, session_id, agent_id, severity, now)
    }
    fn is_held(&self, session_id: &str) -> Result<bool, StoreError> {
        PgStore::is_held(self, session_id)
    }
    fn active_break_glass(
        &self,
        q: &BreakGlassQuery<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        PgStore::active_break_glass(self, q, now)
    }
    fn consume_approval(
        &mut self,
        request_hash: &str,
        agent_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        PgStore::consume_approval(self, request_hash, agent_id, now)
    }
    fn create_approval(
        &mut self,
        new: NewApproval,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        PgStore::create_approval(self, new, now)
    }
    fn add_evidence_ref(&mut self, id: &str, reference: &str) -> Result<(), StoreError> {
        PgStore::add_evidence_ref(self, id, reference)
    }
    fn take_unverified(&self) -> Vec<Unverified> {
        PgStore::take_unverified(self)
    }
    fn set_approval_config(&mut self, config: ApprovalConfig) {
        PgStore::set_config(self, config)
    }
    fn mark_tamper_reported(
        &mut self,
        u: &Unverified,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        PgStore::mark_tamper_reported(self, u, now)
    }
}

impl ControlStore for PgStore {
    fn set_signer(&mut self, signer: Signer) {
        PgStore::set_signer(self, signer)
    }
    fn approval(&self, id: &str) -> Result<Approval, StoreError> {
        PgStore::approval(self, id)
    }
    fn list_approvals(
        &self,
        status: Option<ApprovalState>,
        now: OffsetDateTime,
    ) -> Result<Vec<Approval>, StoreError> {
        PgStore::list_approvals(self, status, now)
    }
    fn approval_verified(&self, a: &Approval) -> bool {
        PgStore::approval_verified(self, a)
    }
    fn session(&self, id: &str) -> Result<Option<SessionState>, StoreError> {
        PgStore::session(self, id)
    }
    fn list_sessions(&self) -> Result<Vec<SessionState>, StoreError> {
        PgStore::list_sessions(self)
    }
    fn approve(
        &mut self,
        id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
        opts: ApproveOptions,
    ) -> Result<Approval, StoreError> {
        PgStore::approve(self, id, identity, reason, now, opts)
    }
    fn deny(
        &mut self,
        id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        PgStore::deny(self, id, identity, reason, now)
    }
    fn break_glass(
        &mut self,
        new: NewBreakGlass,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        PgStore::break_glass(self, new, now)
    }
    fn expire_due(&mut self, now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> {
        PgStore::expire_due(self, now)
    }
    fn release(
        &mut self,
        session_id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        PgStore::release(self, session_id, identity, reason, now)
    }
}

impl RegistryStore for PgStore {
    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        PgStore::list_agents(self)
    }
    fn mcp_server(&self, id: &str) -> Result<Option<McpServer>, StoreError> {
        PgStore::mcp_server(self, id)
    }
    fn list_mcp_servers(&self) -> Result<Vec<McpServer>, StoreError> {
        PgStore::list_mcp_servers(self)
    }
    fn add_agent(&mut self, new: NewAgent, now: OffsetDateTime) -> Result<AgentRecord, StoreError> {
        PgStore::add_agent(self, new, now)
    }
    fn set_agent_status(
        &mut self,
        id: &str,
        status: AgentStatus,
        now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError> {
        PgStore::set_agent_status(self, id, status, now)
    }
    fn remove_agent(&mut self, id: &str) -> Result<(), StoreError> {
        PgStore::remove_agent(self, id)
    }
    fn put_mcp_server(
        &mut self,
        server: &McpServer,
        replace: bool,
        now: OffsetDateTime,
    ) -> Result<McpServer, StoreError> {
        PgStore::put_mcp_server(self, server, replace, now)
    }
    fn set_mcp_state(
        &mut self,
        id: &str,
        trust_tier: &str,
        approval_state: &str,
        now: OffsetDateTime,
    ) -> Result<McpServer, StoreError> {
        PgStore::set_mcp_state(self, id, trust_tier, approval_state, now)
    }
    fn remove_mcp_server(&mut self, id: &str) -> Result<(), StoreError> {
        PgStore::remove_mcp_server(self, id)
    }
    fn import_mcp_registry(
        &mut self,
        file: &McpRegistryFile,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        PgStore::import_mcp_registry(self, file, now)
    }
}
