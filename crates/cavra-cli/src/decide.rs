//! The decision pipeline shared by `cavra evaluate` and `cavra hook`: evaluate, apply
//! approvals and break-glass from the store, open approval requests when headless, and
//! append the decision to the evidence log before the answer is returned.

use crate::ctx::Ctx;
use anyhow::{Context, Result};
use cavra_core::guard::{evaluate, BreakGlass, EvalEnv, McpRegistry};
use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, Decision, Outcome};
use serde_json::{json, Value};
use std::time::Instant;

/// Reads script files for the engine, bounded in size.
#[derive(Debug, Default)]
pub struct FsScriptReader;

/// Largest script CAVRA reads to inspect.
pub const MAX_SCRIPT_BYTES: u64 = 256 * 1024;

impl cavra_core::guard::scripts::ScriptReader for FsScriptReader {
    fn read_script(&self, path: &str) -> std::result::Result<String, String> {
        use std::io::Read;
        let f = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => format!("cannot open: {e}"),
        })?;
        let meta = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        if meta.len() > MAX_SCRIPT_BYTES {
            return Err(format!("larger than {} KiB", MAX_SCRIPT_BYTES / 1024));
        }
        let mut buf = Vec::new();
        f.take(MAX_SCRIPT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read: {e}"))?;
        if buf.len() as u64 > MAX_SCRIPT_BYTES {
            return Err(format!("larger than {} KiB", MAX_SCRIPT_BYTES / 1024));
        }
        String::from_utf8(buf).map_err(|_| "not UTF-8 text".to_string())
    }
}

/// Options for one decision.
#[derive(Debug, Default)]
pub struct DecideOptions {
    /// Append the decision to the evidence log.
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

fn now() -> cavra_store::OffsetDateTime {
    cavra_store::OffsetDateTime::now_utc()
}

fn rfc3339(t: cavra_store::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The decision record written to the evidence log (a superset of the reference
/// `decision.schema.json`).
pub fn decision_record(req: &ActionRequest, d: &Decision, decision_id: &str) -> Value {
    let session = if req.session_id.is_empty() {
        "default"
    } else {
        req.session_id.as_str()
    };
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
        "evaluation_us": d.evaluation_us,
        "timestamp": rfc3339(now()),
        "correlation_id": req.session_id,
        "evidence_refs": [format!("evidence://{session}/{decision_id}")],
    })
}

fn store_path(ctx: &Ctx) -> std::path::PathBuf {
    cavra_store::default_db_path(&ctx.cavra_dir)
}

/// The approvals/registry database, opened at most once per decision and only when needed.
struct LazyStore {
    path: std::path::PathBuf,
    escalation: Option<cavra_store::EscalationPolicy>,
    store: Option<cavra_store::Store>,
}

impl LazyStore {
    fn exists(&self) -> bool {
        self.store.is_some() || self.path.is_file()
    }

    fn get(&mut self) -> Result<&mut cavra_store::Store> {
        if self.store.is_none() {
            let mut s = cavra_store::Store::open(&self.path).with_context(|| {
                format!(
                    "cannot open the approvals database `{}`",
                    self.path.display()
                )
            })?;
            if let Some(e) = self.escalation {
                s = s.with_escalation(e);
            }
            // approvals, break-glass and releases count only when signed by an approving
            // identity: verified against the approver public key (outside the repository)
            if let Some(dir) = cavra_store::approver_dir() {
                s = s.with_trust_dir(dir);
            }
            self.store = Some(s);
        }
        self.store
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the approvals database is not open"))
    }

    /// The store with the approval routing/RBAC configuration applied.
    fn with_config(&mut self, cavra_dir: &std::path::Path) -> Result<&mut cavra_store::Store> {
        self.get()?;
        let cfg = cavra_store::ApprovalConfig::load(cavra_dir)
            .context("the approval routing/RBAC configuration is not valid")?;
        if let Some(s) = self.store.take() {
            self.store = Some(s.with_config(cfg));
        }
        self.get()
    }
}

fn store_mcp_registry(store: &dyn cavra_store::DecisionStore) -> Result<Option<McpRegistry>> {
    let file = store.mcp_registry()?;
    if file.mcp_servers.is_empty() {
        return Ok(None);
    }
    let v = serde_json::to_value(&file)?;
    Ok(Some(
        serde_json::from_value(v).context("the stored MCP registry is not readable")?,
    ))
}

/// Governed agent identities: a blocked agent, or an action type outside the agent's
/// capability profile, is blocked whatever the pack says.
fn apply_agent_registry(
    store: &dyn cavra_store::DecisionStore,
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

/// Session escalation: blocked attempts are counted per session; once the pack's threshold
/// is reached (or on any critical attempt), the session is held and every action other
/// than reading a file needs approval until a person releases it.
fn escalate(ctx: &Ctx, req: &ActionRequest, d: &mut Decision, db: &mut LazyStore) -> Result<()> {
    let blocked = d.enforced_decision == Outcome::Block;
    if !blocked && !db.exists() {
        return Ok(());
    }
    let store = db.get()?;
    let session = if req.session_id.is_empty() {
        "default"
    } else {
        req.session_id.as_str()
    };
    if blocked {
        let state = store.record_block(session, &req.actor.agent_id, d.severity.as_str(), now())?;
        crate::cmd::sessions::record_hold_if_new(ctx, &state)?;
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

/// Rows that claimed authority but carry no valid signature were ignored above; each is
/// recorded once as a tamper event in the evidence log.
fn report_tamper(ctx: &Ctx, db: &mut LazyStore) -> Result<()> {
    let Some(store) = db.store.as_mut() else {
        return Ok(());
    };
    let found = store.take_unverified();
    record_tamper(ctx, store, found)
}

/// Record `found` as `tamper.unverified_record` evidence, each row version once.
pub(crate) fn record_tamper(
    ctx: &Ctx,
    store: &mut dyn cavra_store::DecisionStore,
    found: Vec<cavra_store::Unverified>,
) -> Result<()> {
    for u in found {
        if store.mark_tamper_reported(&u, now())? {
            crate::cmd::approvals::record_transition(
                ctx,
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

/// Runs the pipeline.
pub fn decide(
    ctx: &Ctx,
    pack: &CompiledPack,
    req: &ActionRequest,
    opts: &DecideOptions,
) -> Result<Decided> {
    let t0 = Instant::now();
    let reader = FsScriptReader;
    let mut db = LazyStore {
        path: store_path(ctx),
        escalation: pack
            .defaults
            .escalation
            .map(
                |(max_blocks, window, hold_on_critical)| cavra_store::EscalationPolicy {
                    max_blocks,
                    window: std::time::Duration::from_secs(window),
                    hold_on_critical,
                },
            ),
        store: None,
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
    let env = EvalEnv {
        registry: opts.registry.as_ref().or(store_registry.as_ref()),
        scripts: Some(&reader),
        ..Default::default()
    };
    let mut d = evaluate(pack, req, &env);
    let mut approval_id = None;
    if db.exists() {
        apply_agent_registry(db.get()?, req, &mut d)?;
    }
    // approvals and break-glass live in the store; only consult it when it exists
    if matches!(d.decision, Outcome::Block | Outcome::RequireApproval) && db.exists() {
        let store = db.get()?;
        let now = now();
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
                registry: opts.registry.as_ref().or(store_registry.as_ref()),
                break_glass: Some(BreakGlass {
                    id: bg.approval_id.clone(),
                    identity: bg.decided_by.clone().unwrap_or_default(),
                    reason: bg.break_glass_reason.clone().unwrap_or_default(),
                }),
                scripts: Some(&reader),
                ..Default::default()
            };
            d = evaluate(pack, req, &env);
        } else if d.decision == Outcome::RequireApproval {
            if let Some(a) = store.consume_approval(&d.request_hash, &req.actor.agent_id, now)? {
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
    let state = opts.create_state || ctx.cavra_dir.is_dir();
    if pack.defaults.escalation.is_some() && state {
        escalate(ctx, req, &mut d, &mut db)?;
    }
    report_tamper(ctx, &mut db)?;
    // unique per decision: a repeated identical request gets a new id (its request hash
    // stays the same)
    let decision_id = new_decision_id();
    if d.decision == Outcome::RequireApproval
        && (opts.non_interactive || pack.defaults.non_interactive || opts.open_approval)
    {
        let store = db.with_config(&ctx.cavra_dir)?;
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
                requested_by: req.actor.agent_id.clone(),
                repo: req.repo_root.clone().or_else(|| req.cwd.clone()),
                ttl: std::time::Duration::from_secs(pack.defaults.approval_ttl_secs),
            },
            now(),
        )?;
        approval_id = Some(a.approval_id.clone());
    }
    d.evaluation_us = t0.elapsed().as_secs_f64() * 1e6;
    let mut record_id = None;
    if opts.record && state && std::env::var_os("CAVRA_NO_EVIDENCE").is_none() {
        let mut body = decision_record(req, &d, &decision_id);
        if let Some(id) = &approval_id {
            body["approval_id"] = json!(id);
        }
        let cfg = cavra_evidence::LogConfig::for_cavra_dir(&ctx.cavra_dir);
        let mut log = cavra_evidence::EvidenceLog::open(cfg).with_context(|| {
            format!(
                "cannot open the evidence log under `{}`",
                ctx.cavra_dir.display()
            )
        })?;
        let appended = log
            .append("decision", &body)
            .context("cannot append to the evidence log")?;
        record_id = Some(appended.record_id);
    }
    Ok(Decided {
        decision: d,
        decision_id,
        record_id,
        approval_id,
    })
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
