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
use crate::deliveries::{DeliveryRecord, NewDelivery};
use crate::error::StoreError;
use crate::inventory::{RepoSighting, Repository};
use crate::registry::{AgentRecord, AgentStatus, McpRegistryFile, McpServer, NewAgent};
use crate::rollouts::{
    AssignMode, Assignment, NewAssignment, NewPolicyVersion, NewRolloutStep, PolicyVersion,
    RolloutStep, ShadowResult, VersionChange,
};
use crate::sessions::{EscalationPolicy, SessionState};
use crate::tamper::Unverified;
use crate::tokens::{ApiRole, ApiToken, IssuedToken};
use crate::websessions::{NewWebSession, WebSession};

/// Defines a backend trait from one list of signatures and implements it for each store
/// type by calling the type's inherent method named after `=>` (the backends implement
/// the inherent methods; this is the one place that wires them). A receiver is written
/// `[self]` or `[self mut]`.
macro_rules! delegating_trait {
    (
        $(#[$tm:meta])*
        pub trait $tr:ident $(: $sup:ident)?;
        impl for $($(#[$cfg:meta])* $ty:ty),*;
        $body:tt
    ) => {
        delegating_trait!(@trait [$(#[$tm])*] $tr [$($sup)?] $body);
        $(delegating_trait!(@impl [$(#[$cfg])*] $ty, $tr $body);)*
    };
    (@trait [$($attr:tt)*] $tr:ident [$($sup:ident)?] {
        $($(#[$m:meta])* fn $f:ident[$s:ident $($mu:ident)?]($($a:ident: $t:ty),*) $(-> $r:ty)? => $inh:ident;)*
    }) => {
        $($attr)*
        pub trait $tr $(: $sup)? {
            $($(#[$m])* fn $f(&$($mu)? $s $(, $a: $t)*) $(-> $r)?;)*
        }
    };
    (@impl [$($attr:tt)*] $ty:ty, $tr:ident {
        $($(#[$m:meta])* fn $f:ident[$s:ident $($mu:ident)?]($($a:ident: $t:ty),*) $(-> $r:ty)? => $inh:ident;)*
    }) => {
        $($attr)*
        impl $tr for $ty {
            $(fn $f(&$($mu)? $s $(, $a: $t)*) $(-> $r)? {
                <$ty>::$inh($s $(, $a)*)
            })*
        }
    };
}

delegating_trait! {
    /// What one decision reads and writes: the agent registry, session holds, break-glass
    /// records, approvals, and reports of rows whose signature does not verify.
    pub trait DecisionStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// The registered agent, if any.
        fn agent[self](id: &str) -> Result<Option<AgentRecord>, StoreError> => agent;
        /// The MCP trust registry as stored.
        fn mcp_registry[self]() -> Result<McpRegistryFile, StoreError> => export_mcp_registry;
        /// Count a blocked attempt; may put the session on hold ([`crate::rules::hold_reason`]).
        fn record_block[self mut](session_id: &str, agent_id: &str, severity: &str, now: OffsetDateTime) -> Result<SessionState, StoreError> => record_block;
        /// Is the session on hold (a release not signed by an approver does not count)?
        fn is_held[self](session_id: &str) -> Result<bool, StoreError> => is_held;
        /// Whether any break-glass record is unexpired (none: none covers any request).
        fn any_active_break_glass[self](now: OffsetDateTime) -> Result<bool, StoreError> => any_active_break_glass;
        /// The newest signed break-glass record covering the request.
        fn active_break_glass[self](q: &BreakGlassQuery<'_>, now: OffsetDateTime) -> Result<Option<Approval>, StoreError> => active_break_glass;
        /// Use a signed approval of this request once ([`crate::rules::consume`]).
        fn consume_approval[self mut](request_hash: &str, agent_id: &str, now: OffsetDateTime) -> Result<Option<Approval>, StoreError> => consume_approval;
        /// File a new approval request.
        fn create_approval[self mut](new: NewApproval, now: OffsetDateTime) -> Result<Approval, StoreError> => create_approval;
        /// Link an evidence record to an approval.
        fn add_evidence_ref[self mut](id: &str, reference: &str) -> Result<(), StoreError> => add_evidence_ref;
        /// Rows found unverified since the last call.
        fn take_unverified[self]() -> Vec<Unverified> => take_unverified;
        /// Use this routing / RBAC configuration for the approval requests filed from now on.
        fn set_approval_config[self mut](config: ApprovalConfig) => set_config;
        /// Remember that a tamper event for `u` was reported; `false` if it already was.
        fn mark_tamper_reported[self mut](u: &Unverified, now: OffsetDateTime) -> Result<bool, StoreError> => mark_tamper_reported;
        /// The MCP proxy's pinned tool definitions of one server.
        fn tool_pins[self](server_id: &str) -> Result<Vec<crate::pins::ToolPin>, StoreError> => tool_pins;
        /// Write (insert or replace) one pinned tool definition.
        fn put_tool_pin[self mut](pin: &crate::pins::ToolPin) -> Result<(), StoreError> => put_tool_pin;
    }
}

delegating_trait! {
    /// What the control actions write: a person's decision on an approval request, a
    /// break-glass override, expiry, the release of a held session. The caller has already
    /// authenticated the person and set their signer on the store; every rule (self-approval,
    /// RBAC, state, expiry) is the store's ([`crate::rules`]).
    pub trait ControlStore: DecisionStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// Sign the records written from now on with the authenticated person's `signer`.
        fn set_signer[self mut](signer: Signer) => set_signer;
        /// The approval request `id`.
        fn approval[self](id: &str) -> Result<Approval, StoreError> => approval;
        /// Every approval (newest first) with its state at `now`; only `status` when given.
        fn list_approvals[self](status: Option<ApprovalState>, now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> => list_approvals;
        /// Does a record that claims a decision carry a valid approver signature?
        fn approval_verified[self](a: &Approval) -> bool => approval_verified;
        /// The session `id`, if it has blocked attempts.
        fn session[self](id: &str) -> Result<Option<SessionState>, StoreError> => session;
        /// Every session with blocked attempts.
        fn list_sessions[self]() -> Result<Vec<SessionState>, StoreError> => list_sessions;
        /// Approve the pending request `id`.
        fn approve[self mut](id: &str, identity: &str, reason: &str, now: OffsetDateTime, opts: ApproveOptions) -> Result<Approval, StoreError> => approve;
        /// Deny the pending request `id`.
        fn deny[self mut](id: &str, identity: &str, reason: &str, now: OffsetDateTime) -> Result<Approval, StoreError> => deny;
        /// Record a break-glass override.
        fn break_glass[self mut](new: NewBreakGlass, now: OffsetDateTime) -> Result<Approval, StoreError> => break_glass;
        /// Expire what is due at `now`; returns the expired records.
        fn expire_due[self mut](now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> => expire_due;
        /// Lift the hold on a session.
        fn release[self mut](session_id: &str, identity: &str, reason: &str, now: OffsetDateTime) -> Result<SessionState, StoreError> => release;
    }
}

delegating_trait! {
    /// What the registry changes write (governed agents and MCP servers) and the registry
    /// listings read. As for [`ControlStore`], the caller has authenticated the person (admin
    /// role) before a change.
    pub trait RegistryStore: DecisionStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// Every registered agent.
        fn list_agents[self]() -> Result<Vec<AgentRecord>, StoreError> => list_agents;
        /// The MCP server `id`, if registered.
        fn mcp_server[self](id: &str) -> Result<Option<McpServer>, StoreError> => mcp_server;
        /// Every registered MCP server.
        fn list_mcp_servers[self]() -> Result<Vec<McpServer>, StoreError> => list_mcp_servers;
        /// Register an agent.
        fn add_agent[self mut](new: NewAgent, now: OffsetDateTime) -> Result<AgentRecord, StoreError> => add_agent;
        /// Change an agent's status.
        fn set_agent_status[self mut](id: &str, status: AgentStatus, now: OffsetDateTime) -> Result<AgentRecord, StoreError> => set_agent_status;
        /// Remove an agent.
        fn remove_agent[self mut](id: &str) -> Result<(), StoreError> => remove_agent;
        /// Add (or, with `replace`, replace) an MCP server.
        fn put_mcp_server[self mut](server: &McpServer, replace: bool, now: OffsetDateTime) -> Result<McpServer, StoreError> => put_mcp_server;
        /// Change an MCP server's trust tier and approval state.
        fn set_mcp_state[self mut](id: &str, trust_tier: &str, approval_state: &str, now: OffsetDateTime) -> Result<McpServer, StoreError> => set_mcp_state;
        /// Remove an MCP server.
        fn remove_mcp_server[self mut](id: &str) -> Result<(), StoreError> => remove_mcp_server;
        /// Import a registry file; returns how many servers it held.
        fn import_mcp_registry[self mut](file: &McpRegistryFile, now: OffsetDateTime) -> Result<usize, StoreError> => import_mcp_registry;
    }
}

/// Everything `cavra serve` reads and writes: the control actions, the registries and the
/// API tokens, on either backend ([`TeamOpener::open_team`]). Implemented by every store
/// that implements the three traits.
pub trait TeamStore:
    ControlStore
    + RegistryStore
    + TokenStore
    + WebSessionStore
    + InventoryStore
    + DeliveryStore
    + RolloutStore
{
}

impl<
        T: ControlStore
            + RegistryStore
            + TokenStore
            + WebSessionStore
            + InventoryStore
            + DeliveryStore
            + RolloutStore
            + ?Sized,
    > TeamStore for T
{
}

delegating_trait! {
    /// The connector deliveries of `cavra serve` ([`crate::deliveries`]), for either backend.
    pub trait DeliveryStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// Record one finished delivery (delivered or dead-lettered).
        fn record_delivery[self](d: &NewDelivery, now: OffsetDateTime) -> Result<(), StoreError> => record_delivery;
        /// The newest `limit` deliveries (1 to [`crate::MAX_DELIVERY_LIST`]), newest first.
        fn list_deliveries[self](limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> => list_deliveries;
        /// The ticket the connector `connector` opened for the approval `approval_id`, if
        /// any (the newest delivered one).
        fn ticket_for[self](connector: &str, approval_id: &str) -> Result<Option<String>, StoreError> => ticket_for;
    }
}

delegating_trait! {
    /// The repository inventory of `cavra serve` ([`crate::inventory`]), for either backend.
    pub trait InventoryStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// Record one sighting of a repository (one upsert, and one of its agent); returns
        /// the repository's id.
        fn record_repository[self](s: &RepoSighting, now: OffsetDateTime) -> Result<String, StoreError> => record_repository;
        /// The repository `id`, if seen.
        fn repository[self](id: &str) -> Result<Option<Repository>, StoreError> => repository;
        /// Every repository, the last seen first.
        fn list_repositories[self]() -> Result<Vec<Repository>, StoreError> => list_repositories;
    }
}

delegating_trait! {
    /// Policy publishing with review ([`crate::rollouts`]): pack versions, their
    /// assignments, the rollout history, shadow results and repository labels.
    pub trait RolloutStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// Draft a version (numbered one past its pack's newest).
        fn create_policy_version[self](v: &NewPolicyVersion, now: OffsetDateTime) -> Result<PolicyVersion, StoreError> => create_policy_version;
        /// The version `id`, if any.
        fn policy_version[self](id: &str) -> Result<Option<PolicyVersion>, StoreError> => policy_version;
        /// Every version, the newest first.
        fn list_policy_versions[self]() -> Result<Vec<PolicyVersion>, StoreError> => list_policy_versions;
        /// Change a version's state, only from the states the change names.
        fn change_policy_version[self](c: &VersionChange<'_>, now: OffsetDateTime) -> Result<PolicyVersion, StoreError> => change_policy_version;
        /// Assign a version to a target; returns its order.
        fn add_assignment[self](a: &NewAssignment, now: OffsetDateTime) -> Result<i64, StoreError> => add_assignment;
        /// The open assignments (with `all`, the ended ones too), in order.
        fn list_assignments[self](all: bool) -> Result<Vec<Assignment>, StoreError> => list_assignments;
        /// End a version's open assignments (of `mode` when given); returns how many.
        fn end_assignments[self](version_id: &str, mode: Option<AssignMode>, now: OffsetDateTime) -> Result<u64, StoreError> => end_assignments;
        /// Append a step to the rollout history.
        fn append_rollout_step[self](s: &NewRolloutStep, now: OffsetDateTime) -> Result<i64, StoreError> => append_rollout_step;
        /// The rollout history (of one version when given), oldest first.
        fn rollout_history[self](version_id: Option<&str>) -> Result<Vec<RolloutStep>, StoreError> => rollout_history;
        /// Record what a shadow version would have decided beside the enforced verdict.
        fn record_shadow_result[self](r: &ShadowResult) -> Result<(), StoreError> => record_shadow_result;
        /// The newest `limit` shadow results of a version, oldest first.
        fn shadow_results[self](version_id: &str, limit: u32) -> Result<Vec<ShadowResult>, StoreError> => shadow_results;
        /// Register a repository ahead of its first decision (or set a known one's labels).
        fn register_repository[self](path: &str, labels: &[String], now: OffsetDateTime) -> Result<Repository, StoreError> => register_repository;
        /// Set a repository's labels; `None` when it is unknown.
        fn set_repository_labels[self](id: &str, labels: &[String]) -> Result<Option<Repository>, StoreError> => set_repository_labels;
    }
}

delegating_trait! {
    /// The API tokens of `cavra serve`, for either backend.
    pub trait TokenStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// Issue a token named `name` with `role`, valid for `ttl` (none: until revoked),
        /// issued by `created_by`. The token is in the result only.
        fn issue_api_token[self mut](name: &str, role: ApiRole, ttl: Option<std::time::Duration>, created_by: &str, now: OffsetDateTime) -> Result<IssuedToken, StoreError> => issue_api_token;
        /// One token record.
        fn api_token[self](id: &str) -> Result<ApiToken, StoreError> => api_token;
        /// Every token, newest first.
        fn list_api_tokens[self]() -> Result<Vec<ApiToken>, StoreError> => list_api_tokens;
        /// Revoke the token `id` (revoking a revoked token changes nothing).
        fn revoke_api_token[self mut](id: &str, by: &str, now: OffsetDateTime) -> Result<ApiToken, StoreError> => revoke_api_token;
        /// The active token whose SHA-256 matches `token`; `None` for an unknown, revoked or
        /// expired token (or one that is not of the API token form).
        fn authenticate_api_token[self](token: &str, now: OffsetDateTime) -> Result<Option<ApiToken>, StoreError> => authenticate_api_token;
    }
}

delegating_trait! {
    /// The web console's sign-in sessions ([`crate::websessions`]), for either backend.
    pub trait WebSessionStore;
    impl for #[cfg(feature = "sqlite")] crate::db::Store, #[cfg(feature = "postgres")] crate::pg::PgStore;
    {
        /// A new session of `principal` (JSON) signed in with the server token `token_id`
        /// (none: at the OIDC issuer), valid for `ttl`; deletes sessions ended a day ago.
        fn create_web_session[self mut](principal: &str, token_id: Option<&str>, ttl: std::time::Duration, now: OffsetDateTime) -> Result<NewWebSession, StoreError> => create_web_session;
        /// The live session whose cookie is `secret`; `None` for an unknown, ended or
        /// expired one (or a value not of the session form).
        fn web_session[self](secret: &str, now: OffsetDateTime) -> Result<Option<WebSession>, StoreError> => web_session;
        /// Sign-out: end the session whose cookie is `secret` (false: none was live).
        fn end_web_session[self mut](secret: &str, now: OffsetDateTime) -> Result<bool, StoreError> => end_web_session;
    }
}

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
    ) -> Result<Box<dyn DecisionStore + Send>, StoreError>;
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
    ) -> Result<Box<dyn DecisionStore + Send>, StoreError> {
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
    ) -> Result<Box<dyn DecisionStore + Send>, StoreError> {
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
