//! `evaluate` and `explain` for a front end: a request (reference JSON shape or a
//! structured action) with the caller's choices in, the documents `cavra evaluate --json`
//! and `cavra explain --json` print out — the HTTP server's `POST /v1/decisions` returns
//! the same [`DecisionDocument`].

use crate::decide::{DecideOptions, Decided};
use crate::error::RuntimeError;
use crate::locate::Locator;
use crate::packs::{self, PackChoice};
use crate::request::Placement;
use crate::Runtime;
use cavra_core::policy::compile::CompiledPack;
use cavra_core::{ActionRequest, Decision, Effect, Outcome};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What the caller chose around one request.
#[derive(Debug, Clone, Default)]
pub struct EvaluateOptions {
    /// The pack; without a choice, the request's `policy_pack`, else the project's
    /// `.cavra/policy.yaml`, else the bundled baseline.
    pub packs: PackChoice,
    /// An MCP trust registry file (reference shape).
    pub registry: Option<PathBuf>,
    /// Where and how the action happens, over what the request says.
    pub placement: Placement,
    /// Append the decision to the evidence log.
    pub record: bool,
    /// Headless: a require-approval decision opens an approval request and blocks.
    pub non_interactive: bool,
    /// May create the CAVRA directory (log, key, store) when it does not exist yet.
    pub create_state: bool,
}

/// The `evaluate --json` document: the decision, its id, and the evidence record and
/// approval request made for it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionDocument<'a> {
    #[serde(flatten)]
    pub decision: &'a Decision,
    pub decision_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_record: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<&'a str>,
}

impl Decided {
    /// This decision as the `evaluate --json` document.
    pub fn document(&self) -> DecisionDocument<'_> {
        DecisionDocument {
            decision: &self.decision,
            decision_id: &self.decision_id,
            evidence_record: self.record_id.as_deref(),
            approval_id: self.approval_id.as_deref(),
        }
    }
}

/// The `explain --json` document: the decision, where the pack came from, and what would
/// change the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub decision: Decision,
    pub pack_source: String,
    pub what_would_change_it: Vec<String>,
    /// The id of the pack that decided.
    #[serde(skip)]
    pub pack_id: String,
}

impl Explanation {
    /// The text below the decision: the pack, the rules that matched, what would change
    /// the outcome (lines ending in newlines).
    pub fn text(&self) -> String {
        let matches = &self.decision.matches;
        let mut t = format!("\nPack: {} from {}\n", self.pack_id, self.pack_source);
        t += &format!("Rules that matched ({}):\n", matches.len());
        if matches.is_empty() {
            t += "  (none)\n";
        }
        for m in matches {
            let (effect, severity) = (m.effect.as_str(), m.severity.as_str());
            t += &format!("  - {} [{effect} / {severity}] {}\n", m.rule_id, m.reason);
            if let Some(x) = &m.matched {
                t += &format!("      matched: {x}\n");
            }
        }
        t += "What would change the outcome:\n";
        let changes = self
            .what_would_change_it
            .iter()
            .map(|c| format!("  - {c}\n"));
        t + &changes.collect::<String>()
    }
}

impl Runtime {
    /// Places `req` (`opts.placement`, resolved by `locator`), loads its pack and decides it
    /// through the pipeline ([`Runtime::decide`]), recording it when `opts.record`.
    pub fn evaluate(
        &mut self,
        cavra_dir: &Path,
        mut req: ActionRequest,
        locator: &Locator,
        opts: &EvaluateOptions,
    ) -> Result<Decided, RuntimeError> {
        let (pack, _) = prepare(&mut req, locator, opts)?;
        req.policy_pack = Some(pack.id.clone());
        let decide = DecideOptions {
            record: opts.record,
            non_interactive: opts.non_interactive,
            registry: registry(opts)?,
            create_state: opts.create_state,
            open_approval: false,
            requested_by: None,
        };
        self.decide(cavra_dir, &pack, &req, &decide)
    }

    /// Why `req` gets its decision: it is evaluated under its pack (scripts read through
    /// the runtime's reader), nothing is recorded and no store is consulted.
    pub fn explain(
        &mut self,
        mut req: ActionRequest,
        locator: &Locator,
        opts: &EvaluateOptions,
    ) -> Result<Explanation, RuntimeError> {
        let (pack, origin) = prepare(&mut req, locator, opts)?;
        let org = self.org_pack(&pack)?;
        let registry = registry(opts)?;
        let env = cavra_core::guard::EvalEnv {
            registry: registry.as_ref(),
            scripts: Some(self.scripts()),
            ..Default::default()
        };
        let decision = crate::org::evaluate_tightened(&pack, org.as_deref(), &req, &env);
        Ok(Explanation {
            what_would_change_it: what_would_change(&decision),
            decision,
            pack_source: origin.describe(),
            pack_id: pack.id,
        })
    }
}

/// Places the request and loads its pack, from the project of the request's working
/// directory when that exists, else of the process's (as the hook does).
fn prepare(
    req: &mut ActionRequest,
    locator: &Locator,
    opts: &EvaluateOptions,
) -> Result<(CompiledPack, packs::Origin), RuntimeError> {
    opts.placement.apply(req, locator)?;
    let mut choice = opts.packs.clone();
    if choice.pack.is_none() && choice.policy.is_none() {
        choice.pack = req.policy_pack.clone();
    }
    let project = req
        .cwd
        .as_deref()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| locator.locate(None).project);
    let cavra = locator.locate_path(Some(&project)).project_cavra_dir;
    packs::load(&choice, Some(&cavra))
}

fn registry(
    opts: &EvaluateOptions,
) -> Result<Option<cavra_core::guard::McpRegistry>, RuntimeError> {
    opts.registry
        .as_deref()
        .map(packs::load_registry)
        .transpose()
}

/// What would change the outcome of `d`, one sentence each.
pub fn what_would_change(d: &Decision) -> Vec<String> {
    let mut changes = Vec::new();
    if !matches!(
        d.enforced_decision,
        Outcome::Block | Outcome::RequireApproval
    ) {
        changes.push("no rule restricts this action; adding a block or require_approval rule that matches it to the pack would change that".into());
        return changes;
    }
    let mut ids: Vec<&str> = d
        .matches
        .iter()
        .filter(|m| m.effect != Effect::Allow)
        .map(|m| m.rule_id.as_str())
        .collect();
    ids.dedup();
    if let Some(alt) = &d.alternative {
        changes.push(format!("do this instead: {alt}"));
    }
    changes.push(format!(
        "the outcome changes only if every one of these rules stops matching or is overridden in the pack (`overrides:`): {}",
        ids.join(", ")
    ));
    if d.enforced_decision == Outcome::RequireApproval {
        changes.push("a person approves the request (`cavra approvals approve <id>`); the approved action then passes once".into());
    }
    changes.push("a break-glass override with a reason and an identity (`cavra approvals break-glass`) lets it through, loudly recorded".into());
    changes.push(
        "shadow mode (`--mode shadow` or the `cavra-observe` pack) records it without enforcing"
            .into(),
    );
    changes
}
