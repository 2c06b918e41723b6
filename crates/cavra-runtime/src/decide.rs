//! The decision pipeline: evaluate, apply the agent registry, break-glass and approvals
//! from the store, count blocked attempts and hold sessions, open approval requests when
//! headless, report unverified rows, and append the decision to the evidence log before
//! the answer is returned.

use crate::error::RuntimeError;
use crate::org::evaluate_tightened;
use crate::Runtime;
use cavra_core::guard::{BreakGlass, EvalEnv, McpRegistry};
use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, Decision, Outcome};
use cavra_store::{DecisionStore, StoreOpener};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use time::OffsetDateTime;

type Result<T> = std::result::Result<T, RuntimeError>;

/// Options for one decision.
#[derive(Debug, Default)]
pub struct DecideOptions {
    /// Append the decision to the evidence log (the CLI clears it for `--no-record` and
    /// `$CAVRA_NO_EVIDENCE`).
    pub record: bool,
    /// Headless: a require-approval decision opens an approval request and blocks.
    pub non_interactive: bool,
    pub registry: Option<McpRegistry>,
    /// May create the CAVRA directory (evidence log, key, approvals database) when it does
    /// not exist yet; read-only commands pass `false` and then record nothing without one.
    pub create_state: bool,
    /// Open an approval request for a require-approval decision (agents with no native
    /// "ask": the person needs something to approve).
    pub open_approval: bool,
    /// Who asked, when the front end authenticated them (the HTTP server: the token's
    /// name); an approval request opened for the decision names them as its requester, who
    /// can never approve it. `None`: the request's agent.
    pub requested_by: Option<String>,
}

/// A decision and what happened around it.
#[derive(Debug)]
pub struct Decided {
    pub decision: Decision,
    /// This decision's id (unique per decision).
    pub decision_id: String,
    /// The evidence record id, when recorded.
    pub record_id: Option<String>,
    /// A pending approval request opened for this action (headless mode).
    pub approval_id: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn session_of(req: &ActionRequest) -> &str {
    if req.session_id.is_empty() {
        "default"
    } else {
        req.session_id.as_str()
    }
}

/// The decision record written to the evidence log (a superset of the reference
/// `decision.schema.json`), stamped `now`.
pub fn decision_record(
    req: &ActionRequest,
    d: &Decision,
    decision_id: &str,
    now: OffsetDateTime,
) -> Value {
    let session = session_of(req);
    json!({
        "decision_id": decision_id,
        "session_id": session,
        "agent_id": req.actor.agent_id,
        "actor": req.actor.kind,
        "action_type": d.action_type,
        "target": req.target,
        "requested_operation": req.operation.clone().unwrap_or_else(|| req.target.clone()),
        "policy_pack": d.policy.id,
        "policy_id": d.policy.id,
        "policy_version": d.policy.version,
        "policy_digest": d.policy.digest,
        "rule_id": d.rule_id,
        "rule_ids": d.rule_ids,
        "decision": d.decision.reference_name(),
        "cavra_decision": d.decision.as_str(),
        "enforced_decision": d.enforced_decision.as_str(),
        "proceed": d.proceed,
        "severity": d.severity.as_str(),
        "reason": d.reason,
        "approver_group": d.approver_group,
        "controls": d.controls,
        "request_hash": d.request_hash,
        "request": req,
        "mode": d.mode.as_str(),
        "scope": d.scope,
        "alternative": d.alternative,
        // every rule that matched with what exactly it matched (the console shows them)
        "matches": d.matches,
        "evaluation_us": d.evaluation_us,
        "timestamp": rfc3339(now),
        "correlation_id": req.session_id,
        "evidence_refs": [format!("evidence://{session}/{decision_id}")],
    })
}

/// The store of one decision, opened at most once and only when needed.
struct LazyStore {
    opener: std::sync::Arc<dyn StoreOpener + Send + Sync>,
    cavra_dir: PathBuf,
    escalation: Option<cavra_store::EscalationPolicy>,
    store: Option<Box<dyn DecisionStore + Send>>,
}

/// The store the last decision opened, kept for the next one of the same CAVRA directory
/// and escalation policy (opening a store costs more than deciding). Used for at most
/// [`STORE_REUSE`], so a new approver trust root is picked up within that time; a
/// decision that failed does not give its store back.
pub(crate) struct KeptStore {
    cavra_dir: PathBuf,
    escalation: Option<cavra_store::EscalationPolicy>,
    store: Box<dyn DecisionStore + Send>,
    opened: Instant,
}

/// How long a kept store is reused.
pub(crate) const STORE_REUSE: std::time::Duration = std::time::Duration::from_secs(5);

impl LazyStore {
    fn exists(&self) -> bool {
        self.store.is_some() || self.opener.exists(&self.cavra_dir)
    }

    fn get(&mut self) -> Result<&mut dyn DecisionStore> {
        let s = match self.store.take() {
            Some(s) => s,
            None => self
                .opener
                .open(&self.cavra_dir, self.escalation)
                .map_err(|source| RuntimeError::StoreOpen {
                    store: self.opener.describe(&self.cavra_dir),
                    source,
                })?,
        };
        Ok(&mut **self.store.insert(s))
    }

    /// The store with the approval routing/RBAC configuration applied.
    fn with_config(&mut self) -> Result<&mut dyn DecisionStore> {
        let cfg = {
            self.get()?;
            self.opener
                .approval_config(&self.cavra_dir)
                .map_err(RuntimeError::ApprovalConfig)?
        };
        let s = self.get()?;
        s.set_approval_config(cfg);
        Ok(s)
    }
}

fn store_mcp_registry(store: &dyn DecisionStore) -> Result<Option<McpRegistry>> {
    let registry = store.mcp_registry()?;
    Ok(Some(registry).filter(|r| !r.mcp_servers.is_empty()))
}

/// Governed agent identities: a blocked agent, or an action type outside the agent's
/// capability profile, is blocked whatever the pack says.
fn apply_agent_registry(
    store: &dyn DecisionStore,
    req: &ActionRequest,
    d: &mut Decision,
) -> Result<()> {
    let Some(agent) = store.agent(&req.actor.agent_id)? else {
        return Ok(());
    };
    let profile = agent.profile()?;
    let refusal = if agent.status == cavra_store::AgentStatus::Blocked {
        Some((
            "registry.agent.blocked",
            format!(
                "agent `{}` is blocked in the agent registry",
                agent.agent_id
            ),
        ))
    } else if !profile.permits(&d.action_type) {
        Some((
            "registry.agent.profile",
            format!(
                "agent `{}` has profile `{}`, which does not permit `{}`",
                agent.agent_id, agent.profile, d.action_type
            ),
        ))
    } else {
        None
    };
    if let Some((rule, reason)) = refusal {
        override_decision(d, Outcome::Block, rule, None, reason);
    }
    Ok(())
}

/// Replaces the engine's decision with one the store imposes (a registry refusal, a held
/// session): the imposing rule decides and is listed first.
fn override_decision(
    d: &mut Decision,
    outcome: Outcome,
    rule: &str,
    approver_group: Option<&str>,
    reason: String,
) {
    d.decision = outcome;
    d.enforced_decision = outcome;
    d.proceed = outcome.proceeds();
    d.rule_ids.insert(0, rule.into());
    d.rule_id = rule.into();
    d.severity = cavra_core::Severity::High;
    d.approver_group = approver_group.map(str::to_string);
    d.reason = reason;
}

impl Runtime {
    /// Session escalation: blocked attempts are counted per session; once the pack's
    /// threshold is reached (or on any critical attempt), the session is held and every
    /// action other than reading a file needs approval until a person releases it.
    fn escalate(
        &mut self,
        cavra_dir: &Path,
        req: &ActionRequest,
        d: &mut Decision,
        db: &mut LazyStore,
    ) -> Result<()> {
        let blocked = d.enforced_decision == Outcome::Block;
        if !blocked && !db.exists() {
            return Ok(());
        }
        let store = db.get()?;
        let session = session_of(req);
        if blocked {
            let state = store.record_block(
                session,
                &req.actor.agent_id,
                d.severity.as_str(),
                self.clock.now(),
            )?;
            if state.transition == Some(cavra_store::SessionTransition::Held) {
                let body = serde_json::to_value(&state).unwrap_or(Value::Null);
                self.record_transition(cavra_dir, "session.held", &body)?;
            }
        } else if store.is_held(session)?
            && d.decision == Outcome::Allow
            && req.action != Some(cavra_core::ActionType::ReadFile)
        {
            let reason = format!(
                "session `{session}` is on hold after repeated or critical blocked attempts; a person must release it — they run `cavra sessions release {session}` at their own terminal (it asks them to confirm) or with their approver credential — otherwise: {}",
                d.reason
            );
            override_decision(
                d,
                Outcome::RequireApproval,
                "session.held",
                Some("Security Operations"),
                reason,
            );
        }
        Ok(())
    }

    /// Records `found` (rows that claimed authority but carry no valid signature, ignored
    /// by the store) as `tamper.unverified_record` evidence, each row version once.
    pub fn record_tamper(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn DecisionStore,
        found: Vec<cavra_store::Unverified>,
    ) -> Result<()> {
        for u in found {
            if store.mark_tamper_reported(&u, self.clock.now())? {
                self.record_transition(
                    cavra_dir,
                    "tamper.unverified_record",
                    &json!({
                        "table": u.table,
                        "id": u.id,
                        "claimed_state": u.state,
                        "detail": u.detail,
                        "row_key": u.row_key,
                        "effect": "ignored: it changes no decision",
                    }),
                )?;
            }
        }
        Ok(())
    }

    /// Runs the pipeline for `req` under `pack`, with the state (store, evidence log) of
    /// the CAVRA directory `cavra_dir`.
    pub fn decide(
        &mut self,
        cavra_dir: &Path,
        pack: &CompiledPack,
        req: &ActionRequest,
        opts: &DecideOptions,
    ) -> Result<Decided> {
        let org = self.org_pack(pack)?;
        self.decide_tightened(cavra_dir, pack, org.as_deref(), req, opts)
    }

    /// [`Runtime::decide`] tightened by `org` instead of the runtime's organisation pack
    /// (none: not tightened).
    pub fn decide_tightened(
        &mut self,
        cavra_dir: &Path,
        pack: &CompiledPack,
        org: Option<&CompiledPack>,
        req: &ActionRequest,
        opts: &DecideOptions,
    ) -> Result<Decided> {
        let t0 = Instant::now();
        let escalation = pack
            .defaults
            .escalation
            .map(
                |(max_blocks, window, hold_on_critical)| cavra_store::EscalationPolicy {
                    max_blocks,
                    window: std::time::Duration::from_secs(window),
                    hold_on_critical,
                },
            );
        let kept = self.kept_store.take().filter(|k| {
            k.cavra_dir == cavra_dir
                && k.escalation == escalation
                && k.opened.elapsed() < STORE_REUSE
        });
        let opened = kept.as_ref().map_or_else(Instant::now, |k| k.opened);
        let mut db = LazyStore {
            opener: std::sync::Arc::clone(&self.stores),
            cavra_dir: cavra_dir.to_path_buf(),
            escalation,
            store: kept.map(|k| k.store),
        };
        // the MCP trust registry of the store, when no registry file was given
        let store_registry = if opts.registry.is_none()
            && req.action == Some(cavra_core::ActionType::McpToolCall)
            && db.exists()
        {
            store_mcp_registry(db.get()?)?
        } else {
            None
        };
        let registry = opts.registry.as_ref().or(store_registry.as_ref());
        let env = EvalEnv {
            registry,
            scripts: Some(&*self.scripts),
            ..Default::default()
        };
        let mut d = evaluate_tightened(pack, org, req, &env);
        let mut approval_id = None;
        if db.exists() {
            apply_agent_registry(db.get()?, req, &mut d)?;
        }
        // approvals and break-glass live in the store; only consult it when it exists
        if matches!(d.decision, Outcome::Block | Outcome::RequireApproval) && db.exists() {
            let now = self.clock.now();
            let store = db.get()?;
            let bg = store.active_break_glass(
                &cavra_store::BreakGlassQuery {
                    request_hash: Some(&d.request_hash),
                    action_type: &d.action_type,
                    target: &req.target,
                },
                now,
            )?;
            if let Some(bg) = bg {
                let env = EvalEnv {
                    registry,
                    break_glass: Some(BreakGlass {
                        id: bg.approval_id.clone(),
                        identity: bg.decided_by.clone().unwrap_or_default(),
                        reason: bg.break_glass_reason.clone().unwrap_or_default(),
                    }),
                    scripts: Some(&*self.scripts),
                    ..Default::default()
                };
                d = evaluate_tightened(pack, org, req, &env);
            } else if d.decision == Outcome::RequireApproval {
                if let Some(a) =
                    store.consume_approval(&d.request_hash, &req.actor.agent_id, now)?
                {
                    d.decision = Outcome::Allow;
                    d.proceed = true;
                    d.reason = format!(
                        "approved by `{}` (approval {}): {}",
                        a.decided_by.clone().unwrap_or_default(),
                        a.approval_id,
                        d.reason
                    );
                    d.rule_ids.insert(0, "approval.granted".into());
                }
            }
        }
        let state = opts.create_state || cavra_dir.is_dir();
        if pack.defaults.escalation.is_some() && state {
            self.escalate(cavra_dir, req, &mut d, &mut db)?;
        }
        // rows that claimed authority but carry no valid signature were ignored above; each
        // is recorded once as a tamper event
        if let Some(store) = db.store.as_deref_mut() {
            let found = store.take_unverified();
            self.record_tamper(cavra_dir, store, found)?;
        }
        // unique per decision: a repeated identical request gets a new id (its request hash
        // stays the same)
        let decision_id = new_decision_id();
        if d.decision == Outcome::RequireApproval
            && (opts.non_interactive || pack.defaults.non_interactive || opts.open_approval)
        {
            let now = self.clock.now();
            let store = db.with_config()?;
            let a = store.create_approval(
                cavra_store::NewApproval {
                    request_hash: d.request_hash.clone(),
                    decision_id: decision_id.clone(),
                    session_id: req.session_id.clone(),
                    agent_id: req.actor.agent_id.clone(),
                    action_type: d.action_type.clone(),
                    target: req.target.clone(),
                    rule_id: d.rule_id.clone(),
                    severity: d.severity.as_str().into(),
                    approver_group: d
                        .approver_group
                        .clone()
                        .unwrap_or_else(|| pack.defaults.approver_group.clone()),
                    requested_by: opts
                        .requested_by
                        .clone()
                        .unwrap_or_else(|| req.actor.agent_id.clone()),
                    repo: req.repo_root.clone().or_else(|| req.cwd.clone()),
                    ttl: std::time::Duration::from_secs(pack.defaults.approval_ttl_secs),
                },
                now,
            )?;
            approval_id = Some(a.approval_id.clone());
        }
        d.evaluation_us = t0.elapsed().as_secs_f64() * 1e6;
        let mut record_id = None;
        if opts.record && state {
            let mut body = decision_record(req, &d, &decision_id, self.clock.now());
            if let Some(id) = &approval_id {
                body["approval_id"] = json!(id);
            }
            record_id = Some(self.record_event(cavra_dir, "decision", &body)?);
        }
        if let Some(store) = db.store.take() {
            self.kept_store = Some(KeptStore {
                cavra_dir: db.cavra_dir,
                escalation,
                store,
                opened,
            });
        }
        Ok(Decided {
            decision: d,
            decision_id,
            record_id,
            approval_id,
        })
    }
}

/// A fresh decision id: `dec-` and 16 random hex digits.
pub fn new_decision_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut b);
    let mut s = String::with_capacity(20);
    s.push_str("dec-");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}
