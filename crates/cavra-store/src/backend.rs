//! The storage the decision pipeline needs, as a trait: the SQLite [`Store`] implements it
//! now, a PostgreSQL store will next. Every rule behind these calls lives in
//! [`crate::rules`], so backends differ only in how they load and write rows.

use time::OffsetDateTime;

use crate::approvals::{Approval, BreakGlassQuery, NewApproval};
use crate::db::Store;
use crate::error::StoreError;
use crate::registry::{AgentRecord, McpRegistryFile};
use crate::sessions::SessionState;
use crate::tamper::Unverified;

/// What one decision reads and writes: the agent registry, session holds, break-glass
/// records, approvals, and reports of rows whose signature does not verify.
pub trait DecisionStore {
    /// The registered agent, if any.
    fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError>;
    /// The MCP trust registry as stored.
    fn mcp_registry(&self) -> Result<McpRegistryFile, StoreError>;
    /// Count a blocked attempt; may put the session on hold ([`crate::rules::hold_reason`]).
    fn record_block(
        &mut self,
        session_id: &str,
        agent_id: &str,
        severity: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError>;
    /// Is the session on hold (a release not signed by an approver does not count)?
    fn is_held(&self, session_id: &str) -> Result<bool, StoreError>;
    /// The newest signed break-glass record covering the request.
    fn active_break_glass(
        &self,
        q: &BreakGlassQuery<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError>;
    /// Use a signed approval of this request once ([`crate::rules::consume`]).
    fn consume_approval(
        &mut self,
        request_hash: &str,
        agent_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError>;
    /// File a new approval request.
    fn create_approval(
        &mut self,
        new: NewApproval,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError>;
    /// Link an evidence record to an approval.
    fn add_evidence_ref(&mut self, id: &str, reference: &str) -> Result<(), StoreError>;
    /// Rows found unverified since the last call.
    fn take_unverified(&self) -> Vec<Unverified>;
    /// Remember that a tamper event for `u` was reported; `false` if it already was.
    fn mark_tamper_reported(
        &mut self,
        u: &Unverified,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

impl DecisionStore for Store {
    fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        Store::agent(self, id)
    }
    fn mcp_registry(&self) -> Result<McpRegistryFile, StoreError> {
        Store::export_mcp_registry(self)
    }
    fn record_block(
        &mut self,
        session_id: &str,
        agent_id: &str,
        severity: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        Store::record_block(self, session_id, agent_id, severity, now)
    }
    fn is_held(&self, session_id: &str) -> Result<bool, StoreError> {
        Store::is_held(self, session_id)
    }
    fn active_break_glass(
        &self,
        q: &BreakGlassQuery<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        Store::active_break_glass(self, q, now)
    }
    fn consume_approval(
        &mut self,
        request_hash: &str,
        agent_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        Store::consume_approval(self, request_hash, agent_id, now)
    }
    fn create_approval(
        &mut self,
        new: NewApproval,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        Store::create_approval(self, new, now)
    }
    fn add_evidence_ref(&mut self, id: &str, reference: &str) -> Result<(), StoreError> {
        Store::add_evidence_ref(self, id, reference)
    }
    fn take_unverified(&self) -> Vec<Unverified> {
        Store::take_unverified(self)
    }
    fn mark_tamper_reported(
        &mut self,
        u: &Unverified,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Store::mark_tamper_reported(self, u, now)
    }
}
