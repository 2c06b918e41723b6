//! One agent tool call → one [`Verdict`]: map the call to action requests, resolve where it
//! happens and which pack governs it, decide each request through the pipeline and keep
//! the strictest answer, with guidance text for the agent.

use crate::decide::{DecideOptions, Decided};
use crate::error::RuntimeError;
use crate::locate::{place, Locator};
use crate::packs::{self, PackChoice};
use crate::Runtime;
use cavra_core::hooks::{ToolCall, Verdict, VerdictKind};
use cavra_core::policy::CompiledPack;
use cavra_core::{Actor, Outcome};
use std::path::PathBuf;
use std::sync::Arc;

/// How a front end decides tool calls: its settings, resolved by the caller.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// Which pack (`--pack`, `--policy`, `--policy-dir`); none: the project's, else the
    /// bundled baseline.
    pub packs: PackChoice,
    /// An MCP trust registry file.
    pub registry: Option<PathBuf>,
    /// Headless: require-approval blocks with an approval request id instead of asking.
    pub non_interactive: bool,
    /// Append decisions to the evidence log.
    pub record: bool,
    /// A CAVRA directory named by the caller (`--cavra-dir`, `$CAVRA_DIR`); `None`: the
    /// project's CAVRA directory found from the call's working directory.
    pub cavra_dir: Option<PathBuf>,
    /// What a call's working directory is resolved against.
    pub locator: Locator,
    /// This machine's name, in the actor id (`<agent>@<host>`).
    pub host: String,
    /// The process exits after this call (a hook): the compiled pack is not freed, which
    /// would only cost time (thousands of small allocations).
    pub exit_after: bool,
    /// Called at each phase (for the CLI's `CAVRA_TIMING` output).
    pub on_phase: Option<fn(&str)>,
    /// The authenticated caller, as [`DecideOptions::requested_by`].
    pub requested_by: Option<String>,
    /// Where a person decides an approval request this call opens (what the agent is told).
    pub approvals: ApprovalChannel,
}

impl CallOptions {
    fn phase(&self, name: &str) {
        if let Some(f) = self.on_phase {
            f(name);
        }
    }
}

/// Strictness: an explicit allow only when every part of the call is explicitly allowed.
pub fn rank(v: VerdictKind) -> u8 {
    v.rank()
}

/// Where a person decides an open approval request, as the agent is told it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ApprovalChannel {
    /// At their own terminal, on this machine's store (`cavra approvals approve ID`).
    #[default]
    Terminal,
    /// Through the CAVRA server people reach at `public_url` (no trailing `/`), which holds
    /// the request.
    Server { public_url: String },
}

impl ApprovalChannel {
    /// The URL of request `id` on the server: the web console's page of it
    /// (`<public_url>/approvals/<id>`), where a signed-in approver approves or denies it.
    pub fn url(&self, id: &str) -> Option<String> {
        match self {
            ApprovalChannel::Terminal => None,
            ApprovalChannel::Server { public_url } => Some(format!("{public_url}/approvals/{id}")),
        }
    }

    /// What the person must do about the open request `id` (routed to `group`).
    pub fn person_must_approve(&self, id: &str, group: Option<&str>) -> String {
        let group = group
            .filter(|g| !g.is_empty())
            .map(|g| format!(" for group `{g}`"))
            .unwrap_or_default();
        match (self, self.url(id)) {
            (ApprovalChannel::Server { public_url }, Some(url)) => format!(
                "approval request {id} is open{group} on the CAVRA server: ask a person to approve it at {url} — an approver with their own CAVRA credential (not this agent's) approves it there, or runs `cavra approvals approve {id}` with CAVRA_SERVER={public_url}; once approved, the same action may be retried and passes once"
            ),
            _ => format!(
                "approval request {id} is open{group}: a person must approve it — they run `cavra approvals approve {id}` at their own terminal (it asks them to confirm) or with their approver credential; once approved, the same action may be retried and passes once"
            ),
        }
    }
}

/// What the person must do about an open approval request on this machine's store.
pub fn person_must_approve(id: &str, group: Option<&str>) -> String {
    ApprovalChannel::Terminal.person_must_approve(id, group)
}

/// Guidance text for the agent: what matched, why, what CAVRA inspected, what to do
/// instead, and where a person decides an approval request it opened.
pub fn guidance(d: &Decided, approvals: &ApprovalChannel) -> String {
    let dec = &d.decision;
    let mut s = format!(
        "CAVRA {}: {}",
        dec.decision.as_str().replace('_', " "),
        dec.reason
    );
    s.push_str(&format!(
        " [rule {}, severity {}",
        dec.rule_id,
        dec.severity.as_str()
    ));
    if let Some(scope) = &dec.scope {
        s.push_str(&format!("; inspected {scope}"));
    }
    s.push(']');
    if let Some(alt) = &dec.alternative {
        s.push_str(&format!(". Safer alternative: {alt}"));
    }
    if let Some(id) = &d.approval_id {
        s.push_str(". ");
        s.push_str(&approvals.person_must_approve(id, dec.approver_group.as_deref()));
    }
    s
}

/// What the agent is told about one decided request.
fn verdict_kind(d: &Decided) -> VerdictKind {
    match d.decision.decision {
        Outcome::Allow if d.decision.no_rule_applies() => VerdictKind::NoOpinion,
        // shadow mode enforces nothing: the agent's own settings decide
        Outcome::Shadow => VerdictKind::NoOpinion,
        Outcome::Allow | Outcome::BreakGlass => VerdictKind::Allow,
        Outcome::Block => VerdictKind::Deny,
        Outcome::RequireApproval => {
            if d.approval_id.is_some() {
                VerdictKind::Deny
            } else {
                VerdictKind::Ask
            }
        }
    }
}

/// A pack the caller hands over to decide a call with, instead of the one
/// [`CallOptions::packs`] chooses, and the floor that tightens it in place of the runtime's
/// organisation pack (the server deciding under a project policy a hook sent: the floor
/// is its organisation pack, else its own pack — docs/server.md).
#[derive(Debug, Clone)]
pub struct PackOverride {
    /// The pack that decides (its id is the request's `policy_pack`).
    pub pack: Arc<CompiledPack>,
    /// Every decision is the stricter of `pack`'s and this pack's ([`crate::org`]).
    pub floor: Arc<CompiledPack>,
}

impl PackOverride {
    /// The floor to tighten with: none when it is the deciding pack itself (same digest).
    fn floor(&self) -> Option<&CompiledPack> {
        Some(&*self.floor).filter(|f| f.digest != self.pack.digest)
    }
}

/// The pack a call's requests are decided under: loaded for the call (tightened by the
/// runtime's organisation pack), or given with its floor.
#[derive(Clone, Copy)]
enum Under<'a> {
    Loaded(&'a CompiledPack),
    Given(&'a PackOverride),
}

impl Runtime {
    /// Decides a tool call; every failure is a deny ("CAVRA failed closed: …").
    pub fn decide_call(&mut self, call: &ToolCall, opts: &CallOptions) -> Verdict {
        self.decide_call_with(call, opts, None)
    }

    /// [`Runtime::decide_call`] under `given` when there is one (the pack that decides and
    /// its floor), else under the pack `opts` chooses and the runtime's organisation pack.
    pub fn decide_call_with(
        &mut self,
        call: &ToolCall,
        opts: &CallOptions,
        given: Option<&PackOverride>,
    ) -> Verdict {
        match self.try_decide_call_with(call, opts, given) {
            Ok(v) => v,
            Err(e) => Verdict::deny(format!("CAVRA failed closed: {}", crate::error::chain(&e))),
        }
    }

    /// [`Runtime::decide_call`], with the failure as an error.
    pub fn try_decide_call(
        &mut self,
        call: &ToolCall,
        opts: &CallOptions,
    ) -> Result<Verdict, RuntimeError> {
        self.try_decide_call_with(call, opts, None)
    }

    /// [`Runtime::decide_call_with`], with the failure as an error.
    pub fn try_decide_call_with(
        &mut self,
        call: &ToolCall,
        opts: &CallOptions,
        given: Option<&PackOverride>,
    ) -> Result<Verdict, RuntimeError> {
        // a relative or missing cwd is taken against the front end's working directory, so
        // relative paths in the tool input reach the rules as the paths they are
        let loc = opts.locator.locate(call.cwd.as_deref());
        let cwd = loc.cwd.display().to_string();
        let reqs = cavra_core::hooks::map_tool(&call.tool, &call.input, Some(&cwd))
            .map_err(RuntimeError::ToolCall)?;
        let cavra_dir = opts
            .cavra_dir
            .clone()
            .unwrap_or_else(|| loc.project_cavra_dir.clone());
        opts.phase("payload read and mapped");
        if let Some(g) = given {
            return self.decide_requests(call, opts, &loc, &cavra_dir, Under::Given(g), reqs);
        }
        let project_cavra = opts.locator.pack_cavra_dir(&loc);
        // a process that exits after this call (the hook) neither keeps nor frees the pack
        let loaded = if opts.exit_after {
            packs::load(&opts.packs, Some(&project_cavra)).map(|(p, o)| (Arc::new(p), o))
        } else {
            self.packs.load(&opts.packs, Some(&project_cavra))
        };
        let (pack, _) = loaded.map_err(|e| RuntimeError::PolicyNotLoaded(Box::new(e)))?;
        let pack = std::mem::ManuallyDrop::new(pack);
        opts.phase("pack loaded");
        let result = self.decide_requests(call, opts, &loc, &cavra_dir, Under::Loaded(&pack), reqs);
        if !opts.exit_after {
            drop(std::mem::ManuallyDrop::into_inner(pack));
        }
        result
    }

    fn decide_requests(
        &mut self,
        call: &ToolCall,
        opts: &CallOptions,
        loc: &crate::Location,
        cavra_dir: &std::path::Path,
        under: Under<'_>,
        reqs: Vec<cavra_core::ActionRequest>,
    ) -> Result<Verdict, RuntimeError> {
        let pack = match under {
            Under::Loaded(p) => p,
            Under::Given(g) => &*g.pack,
        };
        let registry = opts
            .registry
            .as_deref()
            .map(packs::load_registry)
            .transpose()?;
        let dopts = DecideOptions {
            record: opts.record,
            non_interactive: opts.non_interactive,
            registry,
            create_state: true,
            open_approval: !call.agent.has_native_ask(),
            requested_by: opts.requested_by.clone(),
        };
        if reqs.is_empty() {
            return Ok(Verdict {
                kind: VerdictKind::NoOpinion,
                reason: format!("CAVRA: tool `{}` touches nothing CAVRA guards", call.tool),
            });
        }
        let mut best: Option<Verdict> = None;
        for mut req in reqs {
            req.session_id = call.session_id.clone();
            req.actor = Actor {
                agent_id: format!("{}@{}", call.agent.kind(), opts.host),
                kind: call.agent.kind().to_string(),
            };
            place(&mut req, loc);
            req.policy_pack = Some(pack.id.clone());
            let decided = match under {
                Under::Given(g) => {
                    self.decide_tightened(cavra_dir, pack, g.floor(), &req, &dopts)?
                }
                Under::Loaded(_) => self.decide(cavra_dir, pack, &req, &dopts)?,
            };
            opts.phase("decided and recorded");
            let v = Verdict {
                kind: verdict_kind(&decided),
                reason: guidance(&decided, &opts.approvals),
            };
            if best.as_ref().is_none_or(|b| rank(v.kind) > rank(b.kind)) {
                best = Some(v);
            }
        }
        Ok(best.unwrap_or_else(|| Verdict::deny("CAVRA failed closed: no decision")))
    }
}
