//! cavra-store: the state store of CAVRA (backend-neutral rules in [`rules`], the
//! pipeline's storage as the [`DecisionStore`] trait, SQLite implementation [`Store`]).
//!
//! One file (`.cavra/cavra.db` by default) holds approval requests and break-glass
//! records, the agent and MCP trust registries, and session escalation state. WAL mode
//! and a busy timeout let concurrent hook processes wait for each other instead of
//! failing; schema changes are migrations keyed on `PRAGMA user_version`; an existing
//! file is never deleted or recreated. All functions take `now` explicitly.

// Without a backend, the backend-neutral helpers (signing, time columns, validation) that
// every implementation shares have no caller yet.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

mod approvals;
pub mod approver;
mod backend;
mod config;
#[cfg(feature = "sqlite")]
mod db;
mod deliveries;
mod error;
mod glob;
#[cfg(feature = "sqlite")]
pub mod index;
mod inventory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrate;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod pins;
mod registry;
pub mod rollouts;
pub mod rules;
mod search;
mod sessions;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod settings;
mod tamper;
mod timefmt;
pub mod tokens;
pub mod websessions;

pub use approvals::{
    Approval, ApprovalState, ApproveOptions, BreakGlassQuery, HistoryEntry, NewApproval,
    NewBreakGlass, APPROVAL_SCHEMA_VERSION, DEFAULT_BREAK_GLASS_TTL, FALLBACK_GROUP,
    MAX_USES_LIMIT,
};
pub use approver::{
    approver_dir, ApproverKey, ApproverTrust, AuthMethod, Role, Signer, TokenClaims, TokenError,
};
#[cfg(feature = "sqlite")]
pub use backend::SqliteOpener;
pub use backend::{
    ControlStore, DecisionStore, DeliveryStore, InventoryStore, RegistryStore, RolloutStore,
    StoreOpener, TeamOpener, TeamStore,
};
pub use config::{ApprovalConfig, GroupRbac, Permission, Rbac, Route, RouteQuery, Routing};
#[cfg(feature = "sqlite")]
pub use db::{
    DataVersion, OpenOptions, Store, APPLICATION_ID, DEFAULT_BUSY_TIMEOUT, SCHEMA_VERSION,
};
pub use deliveries::{DeliveryRecord, NewDelivery, DELIVERY_OUTCOMES, MAX_DELIVERY_LIST};
pub use error::{BackendKind, StoreError};
pub use glob::glob_match;
#[cfg(feature = "sqlite")]
pub use index::EvidenceIndex;
pub use inventory::{repository_id, RepoAgent, RepoSighting, Repository};
#[cfg(feature = "postgres")]
pub use pg::{PgOpener, PgOptions, PgStore};
pub use registry::{
    parse_mcp_registry, parse_tool_class, AgentProfile, AgentRecord, AgentStatus, McpRegistryFile,
    McpServer, NewAgent, Operation, ToolClass, MCP_APPROVAL_STATES,
};
pub use rollouts::{
    AssignMode, Assignment, NewAssignment, NewPolicyVersion, NewRolloutStep, PolicyVersion,
    RolloutStep, ShadowResult, TargetKind, VersionChange, VersionState,
};
pub use search::{Hit, SearchQuery, SearchResult};
pub use sessions::{BlockEntry, EscalationPolicy, SessionState, SessionTransition};
pub use tamper::Unverified;
pub use time::OffsetDateTime;
pub use timefmt::{parse_duration, rfc3339};
pub use tokens::{ApiPermission, ApiRole, ApiToken, IssuedToken, TokenStore};
pub use websessions::{NewWebSession, WebSession, WebSessionStore};

/// File name of the database inside the CAVRA directory.
pub const DB_FILE: &str = "cavra.db";

/// The database path: `db_file` when the front end names one (it resolves `$CAVRA_DB`),
/// else `<cavra_dir>/cavra.db`.
pub fn db_path(
    cavra_dir: &std::path::Path,
    db_file: Option<&std::path::Path>,
) -> std::path::PathBuf {
    db_file.map_or_else(|| cavra_dir.join(DB_FILE), std::path::Path::to_path_buf)
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests;
