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
use cavra_evidence::PreparedBody;
use cavra_store::{AgentRecord, DecisionStore, StoreOpener};
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
/// `decision.schema.json`), stamped `now`; `approval_id` names the approval request the
/// decision opened. The log sinks do not build this tree: they write the same record
/// straight to its bytes ([`DecisionRecord::prepared`]); a test checks that the two agree.
pub fn decision_record(
    req: &ActionRequest,
    d: &Decision,
    decision_id: &str,
    approval_id: Option<&str>,
    now: OffsetDateTime,
) -> Value {
    let session = session_of(req);
    let mut body = json!({
        "decision_id": decision_id,
        "session_id": session,
        "agent_id": req.actor.agent_id,
        "actor": req.actor.kind,
        "action_type": d.action_type,
        "target": req.target,
        "requested_operation": req.operation.as_deref().unwrap_or(&req.target),
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
        "matches": d.matches,
        "evaluation_us": d.evaluation_us,
        "timestamp": rfc3339(now),
        "correlation_id": req.session_id,
        "evidence_refs": [format!("evidence://{session}/{decision_id}")],
    });
    if let Some(id) = approval_id {
        body["approval_id"] = json!(id);
    }
    body
}

/// A decision record on its way to the evidence log: written straight to its canonical,
/// redacted bytes the first time a sink asks for them ([`DecisionRecord::prepared`]; the
/// same bytes as [`decision_record`] encoded, no JSON tree built and dropped), or built as
/// the JSON tree for a sink that takes one ([`DecisionRecord::to_value`]).
#[derive(Debug)]
pub struct DecisionRecord<'a> {
    pub request: &'a ActionRequest,
    pub decision: &'a Decision,
    pub decision_id: &'a str,
    pub approval_id: Option<&'a str>,
    pub now: OffsetDateTime,
    prepared: std::cell::OnceCell<PreparedBody>,
}

impl<'a> DecisionRecord<'a> {
    pub fn new(
        request: &'a ActionRequest,
        decision: &'a Decision,
        decision_id: &'a str,
        approval_id: Option<&'a str>,
        now: OffsetDateTime,
    ) -> DecisionRecord<'a> {
        DecisionRecord {
            request,
            decision,
            decision_id,
            approval_id,
            now,
            prepared: std::cell::OnceCell::new(),
        }
    }

    /// The record as a JSON tree ([`decision_record`]), not redacted.
    pub fn to_value(&self) -> Value {
        decision_record(
            self.request,
            self.decision,
            self.decision_id,
            self.approval_id,
            self.now,
        )
    }

    /// The record's top-level string member `k` (not redacted), if it has one (all but
    /// `timestamp`, which is formatted as the record is written).
    pub fn field(&self, k: &str) -> Option<&'a str> {
        let (req, d) = (self.request, self.decision);
        Some(match k {
            "action_type" => &d.action_type,
            "actor" => &req.actor.kind,
            "alternative" => d.alternative.as_deref()?,
            "approver_group" => d.approver_group.as_deref()?,
            "agent_id" => &req.actor.agent_id,
            "approval_id" => self.approval_id?,
            "cavra_decision" => d.decision.as_str(),
            "correlation_id" => &req.session_id,
            "decision" => d.decision.reference_name(),
            "decision_id" => self.decision_id,
            "enforced_decision" => d.enforced_decision.as_str(),
            "mode" => d.mode.as_str(),
            "policy_digest" => &d.policy.digest,
            "policy_id" | "policy_pack" => &d.policy.id,
            "policy_version" => &d.policy.version,
            "reason" => &d.reason,
            "request_hash" => &d.request_hash,
            "requested_operation" => req.operation.as_deref().unwrap_or(&req.target),
            "rule_id" => &d.rule_id,
            "scope" => d.scope.as_deref()?,
            "session_id" => session_of(req),
            "severity" => d.severity.as_str(),
            "target" => &req.target,
            _ => return None,
        })
    }

    /// The record as the log writes it: canonical and redacted (written once, then kept).
    pub fn prepared(&self) -> &PreparedBody {
        self.prepared.get_or_init(|| self.write())
    }

    /// [`decision_record`]'s members, written in the same order with the same values.
    fn write(&self) -> PreparedBody {
        let (req, d, decision_id) = (self.request, self.decision, self.decision_id);
        let session = session_of(req);
        PreparedBody::write(|w| {
            w.str("action_type", &d.action_type);
            w.str("actor", &req.actor.kind);
            w.str("agent_id", &req.actor.agent_id);
            w.str_or_null("alternative", d.alternative.as_deref());
            w.str_if("approval_id", self.approval_id);
            w.str_or_null("approver_group", d.approver_group.as_deref());
            w.str("cavra_decision", d.decision.as_str());
            w.strs("controls", &d.controls);
            w.str("correlation_id", &req.session_id);
            w.str("decision", d.decision.reference_name());
            w.str("decision_id", decision_id);
            w.str("enforced_decision", d.enforced_decision.as_str());
            w.f64("evaluation_us", d.evaluation_us);
            w.strs(
                "evidence_refs",
                &[format!("evidence://{session}/{decision_id}")],
            );
            w.objects("matches", &d.matches, ordered::write_match);
            w.str("mode", d.mode.as_str());
            w.str("policy_digest", &d.policy.digest);
            w.str("policy_id", &d.policy.id);
            w.str("policy_pack", &d.policy.id);
            w.str("policy_version", &d.policy.version);
            w.bool("proceed", d.proceed);
            w.str("reason", &d.reason);
            w.object("request", |w| ordered::write_request(w, req));
            w.str("request_hash", &d.request_hash);
            w.str(
                "requested_operation",
                req.operation.as_deref().unwrap_or(&req.target),
            );
            w.str("rule_id", &d.rule_id);
            w.strs("rule_ids", &d.rule_ids);
            w.str_or_null("scope", d.scope.as_deref());
            w.str("session_id", session);
            w.str("severity", d.severity.as_str());
            w.str("target", &req.target);
            w.str("timestamp", &rfc3339(self.now));
        })
    }
}

/// The parts of a decision record written as `serde_json` serializes them (the same
/// members and values, in canonical order). Each destructures its type without `..`: a
/// field added to the type does not compile here until it is written too.
mod ordered {
    use cavra_core::model::{McpCall, RuleMatch};
    use cavra_core::{ActionRequest, Actor};
    use cavra_evidence::canon::ObjectWriter;

    /// [`ActionRequest`] as serialized.
    pub(super) fn write_request(w: &mut ObjectWriter<'_>, req: &ActionRequest) {
        let ActionRequest {
            actor,
            session_id,
            action,
            target,
            operation,
            mcp,
            cwd,
            repo_root,
            home,
            git_branch,
            policy_pack,
            mode,
        } = req;
        w.str_or_null("action", action.map(|a| a.as_str()));
        w.object("actor", |w| {
            let Actor { agent_id, kind } = actor;
            w.str("agent_id", agent_id);
            w.str("kind", kind);
        });
        w.str_if("cwd", cwd.as_deref());
        w.str_if("git_branch", git_branch.as_deref());
        w.str_if("home", home.as_deref());
        if let Some(c) = mcp {
            w.object("mcp", |w| {
                let McpCall {
                    server,
                    tool,
                    arguments,
                    capability,
                } = c;
                w.value("arguments", arguments);
                w.str_if("capability", capability.as_deref());
                w.str("server", server);
                w.str("tool", tool);
            });
        }
        w.str_if("mode", mode.map(|m| m.as_str()));
        w.str_if("operation", operation.as_deref());
        w.str_if("policy_pack", policy_pack.as_deref());
        w.str_if("repo_root", repo_root.as_deref());
        w.str("session_id", session_id);
        w.str("target", target);
    }

    /// [`RuleMatch`] as serialized.
    pub(super) fn write_match(w: &mut ObjectWriter<'_>, r: &RuleMatch) {
        let RuleMatch {
            rule_id,
            effect,
            severity,
            reason,
            matched,
            approver_group,
            controls,
            alternative,
        } = r;
        w.str_if("alternative", alternative.as_deref());
        w.str_if("approver_group", approver_group.as_deref());
        if !controls.is_empty() {
            w.strs("controls", controls);
        }
        w.str("effect", effect.as_str());
        w.str_if("matched", matched.as_deref());
        w.str("reason", reason);
        w.str("rule_id", rule_id);
        w.str("severity", severity.as_str());
    }
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
fn apply_agent_registry(agent: Option<AgentRecord>, d: &mut Decision) -> Result<()> {
    let Some(agent) = agent else {
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
            let id = &req.actor.agent_id;
            let agent = match &self.lookups {
                Some(l) => l.agent(id, &mut || Ok(db.get()?.agent(id)?))?,
                None => db.get()?.agent(id)?,
            };
            apply_agent_registry(agent, &mut d)?;
        }
        // approvals and break-glass live in the store; only consult it when it exists
        if matches!(d.decision, Outcome::Block | Outcome::RequireApproval) && db.exists() {
            let now = self.clock.now();
            // the server caches whether any break-glass is active (most often none is)
            let any = match &self.lookups {
                Some(l) => {
                    l.break_glass_active(&mut || Ok(db.get()?.any_active_break_glass(now)?))?
                }
                None => true,
            };
            let store = db.get()?;
            let bg = if any {
                store.active_break_glass(
                    &cavra_store::BreakGlassQuery {
                        request_hash: Some(&d.request_hash),
                        action_type: &d.action_type,
                        target: &req.target,
                    },
                    now,
                )?
            } else {
                None
            };
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
            let rec = DecisionRecord::new(
                req,
                &d,
                &decision_id,
                approval_id.as_deref(),
                self.clock.now(),
            );
            record_id = Some(self.record_decision(cavra_dir, &rec)?);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cavra_core::model::{Effect, McpCall, Mode, PolicyRef, RuleMatch, Severity};
    use cavra_core::{ActionType, Actor};
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z./ _-]{0,8}",
            "\\PC{0,6}",
            Just("tok=hunter2 AKIAIOSFODNN7EXAMPLE".to_string())
        ]
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn severity() -> impl Strategy<Value = Severity> {
        proptest::sample::select(vec![
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ])
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        proptest::sample::select(vec![
            Outcome::Allow,
            Outcome::Block,
            Outcome::RequireApproval,
            Outcome::Shadow,
            Outcome::BreakGlass,
        ])
    }

    fn mode() -> impl Strategy<Value = Mode> {
        proptest::sample::select(vec![
            Mode::Enforce,
            Mode::Shadow,
            Mode::StrictRegulated,
            Mode::BreakGlass,
        ])
    }

    fn arguments() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(json!({"z": 1, "a": {"y": [true, "x"], "b": null}, "token": "s3cret"})),
            Just(json!({"path": "/etc/passwd"})),
            text().prop_map(Value::from),
        ]
    }

    fn request() -> impl Strategy<Value = ActionRequest> {
        let mcp = proptest::option::of((text(), text(), arguments(), opt_text()).prop_map(
            |(server, tool, arguments, capability)| McpCall {
                server,
                tool,
                arguments,
                capability,
            },
        ));
        (
            (
                text(),
                text(),
                text(),
                proptest::option::of(proptest::sample::select(ActionType::ALL.to_vec())),
            ),
            (text(), opt_text(), mcp, opt_text(), opt_text()),
            (
                opt_text(),
                opt_text(),
                opt_text(),
                proptest::option::of(mode()),
            ),
        )
            .prop_map(
                |(
                    (agent_id, kind, session_id, action),
                    (target, operation, mcp, cwd, repo_root),
                    (home, git_branch, policy_pack, mode),
                )| ActionRequest {
                    actor: Actor { agent_id, kind },
                    session_id,
                    action,
                    target,
                    operation,
                    mcp,
                    cwd,
                    repo_root,
                    home,
                    git_branch,
                    policy_pack,
                    mode,
                },
            )
    }

    fn rule_match() -> impl Strategy<Value = RuleMatch> {
        (
            (
                text(),
                proptest::sample::select(vec![
                    Effect::Allow,
                    Effect::RequireApproval,
                    Effect::Block,
                ]),
                severity(),
                text(),
            ),
            (
                opt_text(),
                opt_text(),
                proptest::collection::vec(text(), 0..3),
                opt_text(),
            ),
        )
            .prop_map(
                |(
                    (rule_id, effect, severity, reason),
                    (matched, approver_group, controls, alternative),
                )| RuleMatch {
                    rule_id,
                    effect,
                    severity,
                    reason,
                    matched,
                    approver_group,
                    controls,
                    alternative,
                },
            )
    }

    fn decision() -> impl Strategy<Value = Decision> {
        (
            (
                outcome(),
                any::<bool>(),
                text(),
                proptest::collection::vec(text(), 0..3),
                severity(),
                text(),
            ),
            (
                opt_text(),
                proptest::collection::vec(text(), 0..3),
                (text(), text(), text()),
                text(),
                text(),
                text(),
            ),
            (
                mode(),
                opt_text(),
                opt_text(),
                outcome(),
                proptest::collection::vec(rule_match(), 0..4),
                0.0f64..1e6,
            ),
        )
            .prop_map(
                |(
                    (decision, proceed, rule_id, rule_ids, severity, reason),
                    (
                        approver_group,
                        controls,
                        (id, version, digest),
                        request_hash,
                        action_type,
                        target,
                    ),
                    (mode, scope, alternative, enforced_decision, matches, evaluation_us),
                )| Decision {
                    decision,
                    proceed,
                    rule_id,
                    rule_ids,
                    severity,
                    reason,
                    approver_group,
                    controls,
                    policy: PolicyRef {
                        id,
                        version,
                        digest,
                    },
                    request_hash,
                    action_type,
                    target,
                    mode,
                    scope,
                    alternative,
                    enforced_decision,
                    matches,
                    evaluation_us,
                },
            )
    }

    /// The record written straight to its bytes is, byte for byte, the JSON tree of
    /// [`decision_record`] redacted and encoded by the generic encoder (what the log wrote
    /// before), and the tree is the record's JSON.
    #[test]
    fn the_written_record_is_the_tree_redacted_and_encoded() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        proptest!(ProptestConfig::with_cases(512), |(
            req in request(),
            d in decision(),
            approval in proptest::option::of("apr-[0-9a-f]{8}"),
        )| {
            let id = "dec-0123456789abcdef";
            let tree = decision_record(&req, &d, id, approval.as_deref(), now);
            let mut want = String::new();
            cavra_evidence::canon::write_value_redacted(&mut want, &tree);
            let rec = DecisionRecord::new(&req, &d, id, approval.as_deref(), now);
            prop_assert_eq!(rec.prepared().as_str(), want.as_str());
            prop_assert_eq!(&rec.to_value(), &tree);
            for (k, v) in tree.as_object().unwrap() {
                if k != "timestamp" {
                    prop_assert_eq!(rec.field(k), v.as_str(), "{}", k);
                }
            }
            // the tree is the request and the decision as serde writes them
            prop_assert_eq!(&tree["request"], &serde_json::to_value(&req).unwrap());
            prop_assert_eq!(&tree["matches"], &serde_json::to_value(&d.matches).unwrap());
        });
    }
}
