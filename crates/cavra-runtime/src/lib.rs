//! cavra-runtime: turns a normalized request into a recorded decision, the same way for
//! every front end (the hook, `cavra evaluate`, the MCP server, a future HTTP server).
//!
//! - [`request`]: action requests from every input shape (the reference JSON shape, a
//!   structured action and target; tool calls are mapped by `cavra_core::hooks`).
//! - [`locate`]: where an action happens ([`Locator`] → [`Location`]), and [`place`].
//! - [`packs`]: pack resolution and the compiled-pack cache.
//! - [`Runtime::decide`]: the pipeline (evaluate → registry and session effects →
//!   approvals / break-glass → escalation → tamper report → evidence), and
//!   [`Runtime::decide_call`] for one agent tool call, with [`guidance`] text.
//! - [`evaluate`]: `Runtime::evaluate` / `Runtime::explain` — a request and the caller's
//!   choices to the `evaluate --json` / `explain --json` documents.
//! - [`control`]: the control actions' effects (approve, deny, break-glass, expire,
//!   release, registry changes) and their evidence; [`actions`]: the whole flows (check,
//!   authenticate through an [`authz::Authenticator`], sign, apply); [`views`]: approvals,
//!   sessions and registries as documents.
//! - [`replay`]: re-evaluating recorded decisions under another pack.
//! - [`policies`]: the documents of the pack commands (list, show, validate, diff, test,
//!   sign, verify); [`keys`]: those of the key commands; [`render`]: their human text.
//! - [`terminal`]: the person at the terminal: the OS user, their confirmation.
//! - [`tokens`]: the bearer tokens' control actions, evidence and listing.
//! - [`health`]: the project checks of `cavra doctor` (policy, evidence log, store audit).
//! - [`ci`]: `cavra ci check` — a git change judged as the hook judges an agent's actions.
//!
//! It works through traits: a store ([`cavra_store::StoreOpener`] /
//! [`cavra_store::DecisionStore`]), an [`EvidenceSink`], a [`Clock`] and a
//! [`ScriptReader`]. It reads no environment variable, parses no arguments and prints
//! nothing; errors are [`RuntimeError`].

pub mod actions;
pub mod authz;
pub mod call;
pub mod ci;
pub mod control;
pub mod decide;
pub mod error;
pub mod evaluate;
pub mod health;
pub mod keys;
pub mod locate;
pub mod mcp_gate;
pub mod org;
pub mod packs;
pub mod policies;
pub mod posture;
pub mod render;
pub mod replay;
pub mod request;
pub mod rollout;
pub mod services;
pub mod sync;
pub mod terminal;
pub mod tokens;
pub mod views;

pub use call::{guidance, person_must_approve, rank, ApprovalChannel, CallOptions, PackOverride};
pub use decide::{decision_record, new_decision_id, DecideOptions, Decided, DecisionRecord};
pub use error::{chain, RequestError, RuntimeError, SinkError};
pub use evaluate::{DecisionDocument, EvaluateOptions, Explanation};
pub use locate::{find_repo_root, place, Location, Locator};
pub use packs::{load_registry, Origin, PackChoice};
pub use services::{
    Clock, EvidenceSink, FsScriptReader, LogSink, Lookups, ScriptReader, SharedLogSink, SystemClock,
};

use cavra_store::StoreOpener;

/// The services one front end decides with. Build one per process and keep it: the
/// evidence sink holds its log writers open.
pub struct Runtime {
    stores: std::sync::Arc<dyn StoreOpener + Send + Sync>,
    evidence: Box<dyn EvidenceSink + Send>,
    clock: Box<dyn Clock + Send + Sync>,
    scripts: Box<dyn ScriptReader + Send>,
    org: Option<org::OrgPack>,
    packs: std::sync::Arc<packs::PackCache>,
    kept_store: Option<decide::KeptStore>,
    lookups: Option<std::sync::Arc<dyn Lookups + Send + Sync>>,
}

impl Runtime {
    /// A runtime over `stores` and `evidence`, with the system clock and scripts read from
    /// the file system.
    pub fn new(
        stores: impl StoreOpener + Send + Sync + 'static,
        evidence: impl EvidenceSink + Send + 'static,
    ) -> Runtime {
        Runtime {
            stores: std::sync::Arc::new(stores),
            evidence: Box::new(evidence),
            clock: Box::new(SystemClock),
            scripts: Box::new(FsScriptReader),
            org: None,
            packs: std::sync::Arc::default(),
            kept_store: None,
            lookups: None,
        }
    }

    /// Answers registry lookups from `lookups` before the store (a server's runtimes share
    /// one cache).
    pub fn with_lookups(mut self, lookups: std::sync::Arc<dyn Lookups + Send + Sync>) -> Runtime {
        self.lookups = Some(lookups);
        self
    }

    /// Shares `cache` for the packs decisions are made under (a server's runtimes share
    /// one, so a pack is compiled once, not once per runtime).
    pub fn with_pack_cache(mut self, cache: std::sync::Arc<packs::PackCache>) -> Runtime {
        self.packs = cache;
        self
    }

    /// Tightens every decision by an organisation pack ([`org`]): each is the stricter of
    /// the decision pack's and the organisation pack's.
    pub fn with_org_pack(mut self, org: org::OrgPack) -> Runtime {
        self.org = Some(org);
        self
    }

    /// [`Runtime::with_org_pack`] with the pack file `file`, when there is one.
    pub fn with_org_pack_file(self, file: Option<std::path::PathBuf>) -> Runtime {
        match file {
            Some(f) => self.with_org_pack(org::OrgPack::File(f)),
            None => self,
        }
    }

    /// Sets or clears the organisation pack.
    pub fn set_org_pack(&mut self, org: Option<org::OrgPack>) {
        self.org = org;
    }

    /// The organisation pack that tightens decisions under `deciding`, loaded (an error
    /// when it does not load: fail closed); none when there is none or it is `deciding`.
    pub fn org_pack(
        &mut self,
        deciding: &cavra_core::policy::CompiledPack,
    ) -> Result<Option<std::sync::Arc<cavra_core::policy::CompiledPack>>, RuntimeError> {
        match self.org.as_mut() {
            Some(o) => o.load_for(deciding),
            None => Ok(None),
        }
    }

    /// The organisation pack, loaded (an error when it does not load: fail closed); none
    /// when there is none.
    pub fn org_pack_loaded(
        &mut self,
    ) -> Result<Option<std::sync::Arc<cavra_core::policy::CompiledPack>>, RuntimeError> {
        self.org.as_mut().map(org::OrgPack::load).transpose()
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: impl Clock + Send + Sync + 'static) -> Runtime {
        self.clock = Box::new(clock);
        self
    }

    /// Replaces the script reader.
    pub fn with_scripts(mut self, scripts: impl ScriptReader + Send + 'static) -> Runtime {
        self.scripts = Box::new(scripts);
        self
    }

    /// The script reader (for evaluations outside the pipeline, such as `explain`).
    pub fn scripts(&self) -> &dyn ScriptReader {
        self.scripts.as_ref()
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The store opener.
    pub fn stores(&self) -> &dyn StoreOpener {
        &*self.stores
    }

    /// Records a state change (approve, deny, break-glass, release, registry change, hold,
    /// tamper report) in the evidence log of `cavra_dir`; returns the record id.
    pub fn record_transition(
        &mut self,
        cavra_dir: &std::path::Path,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<String, RuntimeError> {
        self.evidence
            .append(cavra_dir, kind, body)
            .map_err(|source| RuntimeError::TransitionEvidence {
                kind: kind.to_string(),
                source,
            })
    }

    /// Records a decision, or an event that is not one (an agent's post-tool or session
    /// event), in the evidence log of `cavra_dir`; returns the record id.
    /// Appends a decision record to the evidence log of `cavra_dir`.
    pub fn record_decision(
        &mut self,
        cavra_dir: &std::path::Path,
        record: &DecisionRecord<'_>,
    ) -> Result<String, RuntimeError> {
        self.evidence
            .append_decision(cavra_dir, record)
            .map_err(|source| RuntimeError::Evidence {
                cavra_dir: cavra_dir.to_path_buf(),
                source,
            })
    }

    pub fn record_event(
        &mut self,
        cavra_dir: &std::path::Path,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<String, RuntimeError> {
        let dir = cavra_dir.to_path_buf();
        self.evidence
            .append(cavra_dir, kind, body)
            .map_err(|source| RuntimeError::Evidence {
                cavra_dir: dir,
                source,
            })
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}
