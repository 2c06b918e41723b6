//! [`RuntimeBackend`]: the [`Backend`] over `cavra-runtime`, the pipeline every front end
//! decides with (the hook, `cavra evaluate`, this server).

use crate::backend::{ActivePolicy, Backend, BackendError, Decided, Explained};
use cavra_core::policy::CompiledPack;
use cavra_core::ActionRequest;
use cavra_runtime::packs::PackCache;
use cavra_runtime::{DecideOptions, Locator, Origin, PackChoice, Runtime};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a [`RuntimeBackend`] decides with, resolved by the front end (the runtime reads no
/// environment).
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// The CAVRA directory whose store and evidence log decisions use.
    pub cavra_dir: PathBuf,
    /// The project: the working directory of a request that names none, and where the
    /// project's `.cavra/policy.yaml` is looked for.
    pub project: PathBuf,
    /// Resolves a request's working directory (the process's cwd and `$HOME`).
    pub locator: Locator,
    /// The pack the user chose (none: the project's policy, else the bundled baseline).
    pub packs: PackChoice,
    /// An MCP trust registry file.
    pub registry: Option<PathBuf>,
    /// Append decisions to the evidence log.
    pub record: bool,
    /// Headless: a require-approval decision opens an approval request.
    pub non_interactive: bool,
}

impl RuntimeSettings {
    /// The settings of `cavra mcp proxy` in front of the server `server` (process `pid`).
    pub fn gate(self, server: String, pid: u32) -> cavra_runtime::mcp_gate::GateSettings {
        cavra_runtime::mcp_gate::GateSettings {
            session_id: format!("mcp-proxy-{pid}"),
            agent_id: "mcp-client".into(),
            server,
            cavra_dir: self.cavra_dir,
            project: self.project,
            locator: self.locator,
            packs: self.packs,
            registry: self.registry,
            record: self.record,
        }
    }
}

/// Where a [`RuntimeBackend`] gets the [`Runtime`] of a decision: one shared runtime (`cavra
/// mcp serve`) or a pool of them (`cavra serve`'s, for its `/mcp`).
pub trait RuntimeSource: Send + Sync + 'static {
    fn runtime(&self) -> MutexGuard<'_, Runtime>;
}

impl RuntimeSource for Mutex<Runtime> {
    fn runtime(&self) -> MutexGuard<'_, Runtime> {
        // a panic while deciding ends the process (fail closed)
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Decisions through a process's [`Runtime`] (shared: one evidence writer per log).
pub struct RuntimeBackend {
    runtime: Arc<dyn RuntimeSource>,
    settings: RuntimeSettings,
    /// Compiled packs kept between calls (`cavra serve`'s, shared with its REST API).
    packs: Option<Arc<PackCache>>,
}

impl RuntimeBackend {
    pub fn new(runtime: Arc<Mutex<Runtime>>, settings: RuntimeSettings) -> Self {
        RuntimeBackend::over(runtime, settings)
    }

    /// Decisions through the runtimes of `source`.
    pub fn over(source: Arc<dyn RuntimeSource>, settings: RuntimeSettings) -> Self {
        RuntimeBackend {
            runtime: source,
            settings,
            packs: None,
        }
    }

    /// Packs loaded through `cache` (kept compiled while their files are unchanged, as
    /// `POST /v1/decisions` loads them) instead of compiled on every call.
    pub fn with_pack_cache(mut self, cache: Arc<PackCache>) -> Self {
        self.packs = Some(cache);
        self
    }

    fn runtime(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.runtime()
    }

    /// The pack is loaded on every call, so policy edits apply without a restart (the
    /// runtime caches compiled project packs on disk; a [`PackCache`] rechecks the files
    /// it compiled from).
    fn load_pack(&self) -> Result<(Arc<CompiledPack>, Origin), BackendError> {
        let s = &self.settings;
        let project_cavra = s.locator.locate_path(Some(&s.project)).project_cavra_dir;
        match &self.packs {
            Some(cache) => cache.load(&s.packs, Some(&project_cavra)),
            None => cavra_runtime::packs::load(&s.packs, Some(&project_cavra))
                .map(|(p, o)| (Arc::new(p), o)),
        }
        .map_err(|e| BackendError::Policy(cavra_runtime::chain(&e)))
    }

    fn registry(&self) -> Result<Option<cavra_core::guard::McpRegistry>, BackendError> {
        self.settings
            .registry
            .as_deref()
            .map(cavra_runtime::load_registry)
            .transpose()
            .map_err(|e| BackendError::Failed(cavra_runtime::chain(&e)))
    }

    /// The request, acted by an agent, placed where it happens exactly as the hook places
    /// it (default working directory: the project).
    fn request(&self, v: &Value) -> Result<ActionRequest, BackendError> {
        let mut req = cavra_runtime::request::from_json(v)
            .map_err(|e| BackendError::Request(cavra_runtime::chain(&e)))?;
        req.actor.kind = "agent".into();
        let cwd = req
            .cwd
            .clone()
            .unwrap_or_else(|| self.settings.project.display().to_string());
        cavra_runtime::place(&mut req, &self.settings.locator.locate(Some(&cwd)));
        Ok(req)
    }
}

impl Backend for RuntimeBackend {
    fn decide(&self, request: &Value) -> Result<Decided, BackendError> {
        self.decide_as(request, None)
    }

    fn decide_as(
        &self,
        request: &Value,
        requested_by: Option<&str>,
    ) -> Result<Decided, BackendError> {
        let mut req = self.request(request)?;
        let (pack, _) = self.load_pack()?;
        req.policy_pack = Some(pack.id.clone());
        let opts = DecideOptions {
            record: self.settings.record,
            non_interactive: self.settings.non_interactive,
            registry: self.registry()?,
            create_state: true,
            open_approval: false,
            requested_by: requested_by.map(str::to_string),
        };
        let d = self
            .runtime()
            .decide(&self.settings.cavra_dir, &pack, &req, &opts)
            .map_err(|e| BackendError::Failed(cavra_runtime::chain(&e)))?;
        let approval_note = d
            .approval_id
            .as_deref()
            .map(|id| cavra_runtime::person_must_approve(id, d.decision.approver_group.as_deref()));
        Ok(Decided {
            decision: d.decision,
            decision_id: d.decision_id,
            record_id: d.record_id,
            approval_id: d.approval_id,
            approval_note,
        })
    }

    fn explain(&self, request: &Value) -> Result<Explained, BackendError> {
        let mut req = self.request(request)?;
        let (pack, origin) = self.load_pack()?;
        req.policy_pack = Some(pack.id.clone());
        let registry = self.registry()?;
        let rt = self.runtime();
        let env = cavra_core::guard::EvalEnv {
            registry: registry.as_ref(),
            scripts: Some(rt.scripts()),
            ..Default::default()
        };
        Ok(Explained {
            decision: cavra_core::guard::evaluate(&pack, &req, &env),
            pack_source: origin.describe(),
        })
    }

    fn packs(&self) -> Result<Vec<Value>, BackendError> {
        let rows = cavra_runtime::policies::list(&self.settings.packs.policy_dirs)
            .map_err(|e| BackendError::Policy(cavra_runtime::chain(&e)))?;
        rows.iter()
            .map(|r| serde_json::to_value(r).map_err(|e| BackendError::Failed(e.to_string())))
            .collect()
    }

    fn validate(&self, name: &str, source: &str) -> Result<Value, BackendError> {
        let dirs = &self.settings.packs.policy_dirs;
        let v = cavra_runtime::policies::validate_source(std::path::Path::new(name), source, dirs);
        let mut doc = serde_json::to_value(&v).map_err(|e| BackendError::Failed(e.to_string()))?;
        if v.valid {
            doc["rules"] = v.rules.into();
        }
        Ok(doc)
    }

    fn export(
        &self,
        session: &str,
        format: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Value>, usize), BackendError> {
        let dir = cavra_evidence::LogConfig::for_cavra_dir(&self.settings.cavra_dir).dir;
        if !dir.exists() {
            return Ok((Vec::new(), 0));
        }
        let req = cavra_evidence::ops::ExportRequest {
            format: format.to_string(),
            session: Some(session.to_string()),
            since: since.map(str::to_string),
            host: cavra_evidence::export::host_name(),
        };
        let text = cavra_evidence::ops::export_log(&dir, &req)
            .map_err(|e| BackendError::Request(cavra_runtime::chain(&e)))?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let total = lines.len();
        let records = lines
            .iter()
            .skip(total.saturating_sub(limit))
            .map(|l| serde_json::from_str(l).map_err(|e| BackendError::Failed(e.to_string())))
            .collect::<Result<Vec<Value>, _>>()?;
        Ok((records, total))
    }

    fn policy(&self) -> Result<ActivePolicy, BackendError> {
        let (pack, origin) = self.load_pack()?;
        Ok(ActivePolicy {
            pack: CompiledPack::clone(&pack),
            source: origin.describe(),
        })
    }
}
