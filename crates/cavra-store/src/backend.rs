//! The storage the decision pipeline needs, as a trait: the SQLite [`Store`] implements it
//! now, a PostgreSQL store will next. Every rule behind these calls lives in
//! [`crate::rules`], so backends differ only in how they load and write rows.

use std::path::Path;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::approvals::{
    Approval, ApprovalState, ApproveOptions, BreakGlassQuery, NewApproval, NewBreakGlass,
};
use crate::approver::Signer;
use crate::config::ApprovalConfig;
#[cfg(feature = "sqlite")]
use crate::db::{OpenOptions, Store};
use crate::error::StoreError;
use crate::registry::{AgentRecord, AgentStatus, McpRegistryFile, McpServer, NewAgent};
use crate::sessions::{EscalationPolicy, SessionState};
use crate::tamper::Unverified;
use crate::tokens::TokenStore;

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
    /// Use this routing / RBAC configuration for the approval requests filed from now on.
    fn set_approval_config(&mut self, config: ApprovalConfig);
    /// Remember that a tamper event for `u` was reported; `false` if it already was.
    fn mark_tamper_reported(
        &mut self,
        u: &Unverified,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// What the control actions write: a person's decision on an approval request, a
/// break-glass override, expiry, the release of a held session. The caller has already
/// authenticated the person and set their signer on the store; every rule (self-approval,
/// RBAC, state, expiry) is the store's ([`crate::rules`]).
pub trait ControlStore: DecisionStore {
    /// Sign the records written from now on with the authenticated person's `signer`.
    fn set_signer(&mut self, signer: Signer);
    /// The approval request `id`.
    fn approval(&self, id: &str) -> Result<Approval, StoreError>;
    /// Every approval (newest first) with its state at `now`; only `status` when given.
    fn list_approvals(
        &self,
        status: Option<ApprovalState>,
        now: OffsetDateTime,
    ) -> Result<Vec<Approval>, StoreError>;
    /// Does a record that claims a decision carry a valid approver signature?
    fn approval_verified(&self, a: &Approval) -> bool;
    /// The session `id`, if it has blocked attempts.
    fn session(&self, id: &str) -> Result<Option<SessionState>, StoreError>;
    /// Every session with blocked attempts.
    fn list_sessions(&self) -> Result<Vec<SessionState>, StoreError>;
    /// Approve the pending request `id`.
    fn approve(
        &mut self,
        id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
        opts: ApproveOptions,
    ) -> Result<Approval, StoreError>;
    /// Deny the pending request `id`.
    fn deny(
        &mut self,
        id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError>;
    /// Record a break-glass override.
    fn break_glass(
        &mut self,
        new: NewBreakGlass,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError>;
    /// Expire what is due at `now`; returns the expired records.
    fn expire_due(&mut self, now: OffsetDateTime) -> Result<Vec<Approval>, StoreError>;
    /// Lift the hold on a session.
    fn release(
        &mut self,
        session_id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError>;
}

/// What the registry changes write (governed agents and MCP servers) and the registry
/// listings read. As for [`ControlStore`], the caller has authenticated the person (admin
/// role) before a change.
pub trait RegistryStore: DecisionStore {
    /// Every registered agent.
    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError>;
    /// The MCP server `id`, if registered.
    fn mcp_server(&self, id: &str) -> Result<Option<McpServer>, StoreError>;
    /// Every registered MCP server.
    fn list_mcp_servers(&self) -> Result<Vec<McpServer>, StoreError>;
    /// Register an agent.
    fn add_agent(&mut self, new: NewAgent, now: OffsetDateTime) -> Result<AgentRecord, StoreError>;
    /// Change an agent's status.
    fn set_agent_status(
        &mut self,
        id: &str,
        status: AgentStatus,
        now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError>;
    /// Remove an agent.
    fn remove_agent(&mut self, id: &str) -> Result<(), StoreError>;
    /// Add (or, with `replace`, replace) an MCP server.
    fn put_mcp_server(
        &mut self,
        server: &McpServer,
        replace: bool,
        now: OffsetDateTime,
    ) -> Result<McpServer, StoreError>;
    /// Change an MCP server's trust tier and approval state.
    fn set_mcp_state(
        &mut self,
        id: &str,
        trust_tier: &str,
        approval_state: &str,
        now: OffsetDateTime,
    ) -> Result<McpServer, StoreError>;
    /// Remove an MCP server.
    fn remove_mcp_server(&mut self, id: &str) -> Result<(), StoreError>;
    /// Import a registry file; returns how many servers it held.
    fn import_mcp_registry(
        &mut self,
        file: &McpRegistryFile,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError>;
}

/// Everything `cavra serve` reads and writes: the control actions, the registries and the
/// API tokens, on either backend ([`TeamOpener::open_team`]). Implemented by every store
/// that implements the three traits.
pub trait TeamStore: ControlStore + RegistryStore + TokenStore {}

impl<T: ControlStore + RegistryStore + TokenStore + ?Sized> TeamStore for T {}

/// Implements [`DecisionStore`], [`ControlStore`], [`RegistryStore`] and [`TokenStore`] for
/// a store type by calling its inherent methods of the same names (two differ:
/// `mcp_registry` is `export_mcp_registry`, `set_approval_config` is `set_config`). Each
/// backend implements the inherent methods; this is the one place that wires them.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! impl_store_traits {
    ($t:ty) => {
        const _: () = {
            use time::OffsetDateTime;
            use $crate::approvals::{
                Approval, ApprovalState, ApproveOptions, BreakGlassQuery, NewApproval,
                NewBreakGlass,
            };
            use $crate::approver::Signer;
            use $crate::config::ApprovalConfig;
            use $crate::error::StoreError;
            use $crate::registry::{
                AgentRecord, AgentStatus, McpRegistryFile, McpServer, NewAgent,
            };
            use $crate::sessions::SessionState;
            use $crate::tamper::Unverified;
            use $crate::tokens::{ApiRole, ApiToken, IssuedToken};

            impl $crate::backend::DecisionStore for $t {
                fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
                    <$t>::agent(self, id)
                }
                fn mcp_registry(&self) -> Result<McpRegistryFile, StoreError> {
                    <$t>::export_mcp_registry(self)
                }
                fn record_block(
                    &mut self,
                    session_id: &str,
                    agent_id: &str,
                    severity: &str,
                    now: OffsetDateTime,
                ) -> Result<SessionState, StoreError> {
                    <$t>::record_block(self, session_id, agent_id, severity, now)
                }
                fn is_held(&self, session_id: &str) -> Result<bool, StoreError> {
                    <$t>::is_held(self, session_id)
                }
                fn active_break_glass(
                    &self,
                    q: &BreakGlassQuery<'_>,
                    now: OffsetDateTime,
                ) -> Result<Option<Approval>, StoreError> {
                    <$t>::active_break_glass(self, q, now)
                }
                fn consume_approval(
                    &mut self,
                    request_hash: &str,
                    agent_id: &str,
                    now: OffsetDateTime,
                ) -> Result<Option<Approval>, StoreError> {
                    <$t>::consume_approval(self, request_hash, agent_id, now)
                }
                fn create_approval(
                    &mut self,
                    new: NewApproval,
                    now: OffsetDateTime,
                ) -> Result<Approval, StoreError> {
                    <$t>::create_approval(self, new, now)
                }
                fn add_evidence_ref(
                    &mut self,
                    id: &str,
                    reference: &str,
                ) -> Result<(), StoreError> {
                    <$t>::add_evidence_ref(self, id, reference)
                }
                fn take_unverified(&self) -> Vec<Unverified> {
                    <$t>::take_unverified(self)
                }
                fn set_approval_config(&mut self, config: ApprovalConfig) {
                    <$t>::set_config(self, config)
                }
                fn mark_tamper_reported(
                    &mut self,
                    u: &Unverified,
                    now: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    <$t>::mark_tamper_reported(self, u, now)
                }
            }

            impl $crate::backend::ControlStore for $t {
                fn set_signer(&mut self, signer: Signer) {
                    <$t>::set_signer(self, signer)
                }
                fn approval(&self, id: &str) -> Result<Approval, StoreError> {
                    <$t>::approval(self, id)
                }
                fn list_approvals(
                    &self,
                    status: Option<ApprovalState>,
                    now: OffsetDateTime,
                ) -> Result<Vec<Approval>, StoreError> {
                    <$t>::list_approvals(self, status, now)
                }
                fn approval_verified(&self, a: &Approval) -> bool {
                    <$t>::approval_verified(self, a)
                }
                fn session(&self, id: &str) -> Result<Option<SessionState>, StoreError> {
                    <$t>::session(self, id)
                }
                fn list_sessions(&self) -> Result<Vec<SessionState>, StoreError> {
                    <$t>::list_sessions(self)
                }
                fn approve(
                    &mut self,
                    id: &str,
                    identity: &str,
                    reason: &str,
                    now: OffsetDateTime,
                    opts: ApproveOptions,
                ) -> Result<Approval, StoreError> {
                    <$t>::approve(self, id, identity, reason, now, opts)
                }
                fn deny(
                    &mut self,
                    id: &str,
                    identity: &str,
                    reason: &str,
                    now: OffsetDateTime,
                ) -> Result<Approval, StoreError> {
                    <$t>::deny(self, id, identity, reason, now)
                }
                fn break_glass(
                    &mut self,
                    new: NewBreakGlass,
                    now: OffsetDateTime,
                ) -> Result<Approval, StoreError> {
                    <$t>::break_glass(self, new, now)
                }
                fn expire_due(&mut self, now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> {
                    <$t>::expire_due(self, now)
                }
                fn release(
                    &mut self,
                    session_id: &str,
                    identity: &str,
                    reason: &str,
                    now: OffsetDateTime,
                ) -> Result<SessionState, StoreError> {
                    <$t>::release(self, session_id, identity, reason, now)
                }
            }

            impl $crate::backend::RegistryStore for $t {
                fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
                    <$t>::list_agents(self)
                }
                fn mcp_server(&self, id: &str) -> Result<Option<McpServer>, StoreError> {
                    <$t>::mcp_server(self, id)
                }
                fn list_mcp_servers(&self) -> Result<Vec<McpServer>, StoreError> {
                    <$t>::list_mcp_servers(self)
                }
                fn add_agent(
                    &mut self,
                    new: NewAgent,
                    now: OffsetDateTime,
                ) -> Result<AgentRecord, StoreError> {
                    <$t>::add_agent(self, new, now)
                }
                fn set_agent_status(
                    &mut self,
                    id: &str,
                    status: AgentStatus,
                    now: OffsetDateTime,
                ) -> Result<AgentRecord, StoreError> {
                    <$t>::set_agent_status(self, id, status, now)
                }
                fn remove_agent(&mut self, id: &str) -> Result<(), StoreError> {
                    <$t>::remove_agent(self, id)
                }
                fn put_mcp_server(
                    &mut self,
                    server: &McpServer,
                    replace: bool,
                    now: OffsetDateTime,
                ) -> Result<McpServer, StoreError> {
                    <$t>::put_mcp_server(self, server, replace, now)
                }
                fn set_mcp_state(
                    &mut self,
                    id: &str,
                    trust_tier: &str,
                    approval_state: &str,
                    now: OffsetDateTime,
                ) -> Result<McpServer, StoreError> {
                    <$t>::set_mcp_state(self, id, trust_tier, approval_state, now)
                }
                fn remove_mcp_server(&mut self, id: &str) -> Result<(), StoreError> {
                    <$t>::remove_mcp_server(self, id)
                }
                fn import_mcp_registry(
                    &mut self,
                    file: &McpRegistryFile,
                    now: OffsetDateTime,
                ) -> Result<usize, StoreError> {
                    <$t>::import_mcp_registry(self, file, now)
                }
            }

            impl $crate::tokens::TokenStore for $t {
                fn issue_api_token(
                    &mut self,
                    name: &str,
                    role: ApiRole,
                    ttl: Option<std::time::Duration>,
                    created_by: &str,
                    now: OffsetDateTime,
                ) -> Result<IssuedToken, StoreError> {
                    <$t>::issue_api_token(self, name, role, ttl, created_by, now)
                }
                fn api_token(&self, id: &str) -> Result<ApiToken, StoreError> {
                    <$t>::api_token(self, id)
                }
                fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
                    <$t>::list_api_tokens(self)
                }
                fn revoke_api_token(
                    &mut self,
                    id: &str,
                    by: &str,
                    now: OffsetDateTime,
                ) -> Result<ApiToken, StoreError> {
                    <$t>::revoke_api_token(self, id, by, now)
                }
                fn authenticate_api_token(
                    &self,
                    token: &str,
                    now: OffsetDateTime,
                ) -> Result<Option<ApiToken>, StoreError> {
                    <$t>::authenticate_api_token(self, token, now)
                }
            }
        };
    };
}
#[cfg(feature = "postgres")]
pub(crate) use impl_store_traits;

#[cfg(feature = "sqlite")]
impl_store_traits!(Store);

/// Finds and opens the [`DecisionStore`] of a CAVRA directory. The decision pipeline asks
/// [`StoreOpener::exists`] first and opens a store only when one is there or when it must
/// write (a blocked attempt, an approval request).
pub trait StoreOpener {
    /// Is there a store for the CAVRA directory `cavra_dir`? Asking creates nothing.
    fn exists(&self, cavra_dir: &Path) -> bool;
    /// Open (creating when missing) the store of `cavra_dir`, counting blocked attempts by
    /// `escalation` (the store's default when `None`).
    fn open(
        &self,
        cavra_dir: &Path,
        escalation: Option<EscalationPolicy>,
    ) -> Result<Box<dyn DecisionStore>, StoreError>;
    /// The approval routing / RBAC configuration of `cavra_dir`.
    fn approval_config(&self, cavra_dir: &Path) -> Result<ApprovalConfig, StoreError>;
    /// Where the store of `cavra_dir` is, for messages.
    fn describe(&self, cavra_dir: &Path) -> String;
}

/// Opens the [`TeamStore`] of a CAVRA directory: what `cavra serve` works on, SQLite
/// ([`SqliteOpener`]) or PostgreSQL (`PgOpener`). The store verifies records against the
/// opener's trust root; the caller sets the approval configuration
/// ([`DecisionStore::set_approval_config`] with [`StoreOpener::approval_config`]) and the
/// authenticated person's signer ([`ControlStore::set_signer`]) when it needs them.
pub trait TeamOpener: StoreOpener {
    /// Open (creating when missing) the store of `cavra_dir`.
    fn open_team(&self, cavra_dir: &Path) -> Result<Box<dyn TeamStore + Send>, StoreError>;
}

/// An opener shared by reference count (a server's state) opens as the one it holds.
impl<T: StoreOpener + ?Sized> StoreOpener for std::sync::Arc<T> {
    fn exists(&self, cavra_dir: &Path) -> bool {
        (**self).exists(cavra_dir)
    }
    fn open(
        &self,
        cavra_dir: &Path,
        escalation: Option<EscalationPolicy>,
    ) -> Result<Box<dyn DecisionStore>, StoreError> {
        (**self).open(cavra_dir, escalation)
    }
    fn approval_config(&self, cavra_dir: &Path) -> Result<ApprovalConfig, StoreError> {
        (**self).approval_config(cavra_dir)
    }
    fn describe(&self, cavra_dir: &Path) -> String {
        (**self).describe(cavra_dir)
    }
}

impl<T: TeamOpener + ?Sized> TeamOpener for std::sync::Arc<T> {
    fn open_team(&self, cavra_dir: &Path) -> Result<Box<dyn TeamStore + Send>, StoreError> {
        (**self).open_team(cavra_dir)
    }
}

#[cfg(feature = "sqlite")]
/// The SQLite store: `<cavra_dir>/cavra.db` (or one fixed file), rows verified against the
/// approver trust root in `trust_dir`. The caller resolves both (from flags, environment).
#[derive(Debug, Clone, Default)]
pub struct SqliteOpener {
    /// One database file for every CAVRA directory (the CLI resolves it from `$CAVRA_DB`),
    /// instead of `<cavra_dir>/cavra.db`.
    pub db_file: Option<PathBuf>,
    /// The approver trust root ([`crate::approver_dir`]); without one nothing verifies.
    pub trust_dir: Option<PathBuf>,
    /// Busy timeout and other connection options.
    pub options: OpenOptions,
}

#[cfg(feature = "sqlite")]
impl SqliteOpener {
    /// The database file of `cavra_dir`.
    pub fn path(&self, cavra_dir: &Path) -> PathBuf {
        crate::db_path(cavra_dir, self.db_file.as_deref())
    }

    /// Open (creating when missing) the store of `cavra_dir`, verified against the trust
    /// root, counting blocked attempts by `escalation` (the store's default when `None`).
    pub fn store(
        &self,
        cavra_dir: &Path,
        escalation: Option<EscalationPolicy>,
    ) -> Result<Store, StoreError> {
        let mut s = Store::open_with(self.path(cavra_dir), self.options.clone())?;
        if let Some(e) = escalation {
            s = s.with_escalation(e);
        }
        if let Some(dir) = &self.trust_dir {
            s = s.with_trust_dir(dir.clone());
        }
        Ok(s)
    }
}

#[cfg(feature = "sqlite")]
impl StoreOpener for SqliteOpener {
    fn exists(&self, cavra_dir: &Path) -> bool {
        self.path(cavra_dir).is_file()
    }
    fn open(
        &self,
        cavra_dir: &Path,
        escalation: Option<EscalationPolicy>,
    ) -> Result<Box<dyn DecisionStore>, StoreError> {
        Ok(Box::new(self.store(cavra_dir, escalation)?))
    }
    fn approval_config(&self, cavra_dir: &Path) -> Result<ApprovalConfig, StoreError> {
        ApprovalConfig::load(cavra_dir)
    }
    fn describe(&self, cavra_dir: &Path) -> String {
        self.path(cavra_dir).display().to_string()
    }
}

#[cfg(feature = "sqlite")]
impl TeamOpener for SqliteOpener {
    fn open_team(&self, cavra_dir: &Path) -> Result<Box<dyn TeamStore + Send>, StoreError> {
        Ok(Box::new(self.store(cavra_dir, None)?))
    }
}
