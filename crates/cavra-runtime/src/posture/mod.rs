//! Posture (AISPM): what the evidence log, the store and the installation say about how
//! well agents are governed here — findings (each with a severity, the evidence records it
//! rests on and the fix), control coverage (OWASP LLM Top 10, OWASP agentic threats, NIST AI
//! RMF, SOC 2, from the packs' control mappings) and a score from 0 to 100
//! (docs/posture.md has the formula).
//!
//! [`collect`] reads the facts (log, keys, store); [`compute`] is pure over [`Facts`], so
//! every finding is unit-tested from facts alone; [`Posture::to_json`] is the document of
//! `cavra posture --json` and `GET /v1/posture`, [`Posture::doc`] its text, [`html`] the
//! self-contained HTML report.

pub mod catalog;
pub mod collect;
pub mod html;
pub mod thresholds;

use std::collections::{BTreeMap, BTreeSet};

use cavra_core::model::Effect;
use cavra_evidence::KeyInfo;
use cavra_store::{AgentRecord, Approval, ApprovalState, McpServer, SessionState};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::views::{Block, Doc};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// `info`, `low`, `medium`, `high` or `critical`.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Points a finding of this severity takes off the score.
    pub fn penalty(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 2,
            Severity::Medium => 6,
            Severity::High => 15,
            Severity::Critical => 30,
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `kind:subject` (`hook.missing:claude-code`); the kind is what the score groups by.
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    /// Evidence record ids (and approval ids) the finding rests on.
    pub evidence: Vec<String>,
    pub fix: String,
}

impl Finding {
    /// The part of the id before `:`.
    pub fn kind(&self) -> &str {
        self.id.split(':').next().unwrap_or_default()
    }
}

/// Whether a control is enforced by a pack in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageStatus {
    /// A blocking or approval rule maps to it in an enforcing pack.
    Enforced,
    /// Only rules of a pack in shadow mode map to it: recorded, not stopped.
    Shadow,
    /// No stopping rule maps to it.
    Uncovered,
}

impl CoverageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageStatus::Enforced => "enforced",
            CoverageStatus::Shadow => "shadow",
            CoverageStatus::Uncovered => "uncovered",
        }
    }
}

/// One control of the coverage table.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub framework: String,
    pub control: String,
    pub title: String,
    pub status: CoverageStatus,
    /// The rules that map to it (`pack/rule` when several packs are in force).
    pub rules: Vec<String>,
}

/// Decisions of one time bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    pub start: i64,
    pub allow: u64,
    pub block: u64,
    pub require_approval: u64,
    pub shadow: u64,
    pub break_glass: u64,
}

/// A break-glass override in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakGlassUse {
    pub id: String,
    pub actor: String,
    pub reason: String,
    pub created_at: String,
    pub expires_at: String,
}

/// How long people took to decide approval requests (seconds, nearest rank; 0 when none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_seconds: u64,
    pub p90_seconds: u64,
    pub max_seconds: u64,
}

/// The numbers behind the charts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub bucket_seconds: i64,
    pub timeline: Vec<Bucket>,
    /// Stopped decisions (block, require approval, shadow) per rule, most first.
    pub top_rules: Vec<(String, u64)>,
    pub top_agents: Vec<(String, u64)>,
    pub top_sessions: Vec<(String, u64)>,
    pub break_glass: Vec<BreakGlassUse>,
    pub approvals_latency: Latency,
    /// Decisions in the window.
    pub decisions: u64,
}

/// A pack in force, as posture sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackFact {
    pub id: String,
    pub version: String,
    /// `enforce`, `shadow`, …
    pub mode: String,
    pub rules: Vec<(String, Effect, Vec<String>)>,
}

impl PackFact {
    pub fn of(p: &cavra_core::policy::CompiledPack) -> PackFact {
        PackFact {
            id: p.id.clone(),
            version: p.version.clone(),
            mode: p.mode.as_str().to_string(),
            rules: p
                .rules
                .iter()
                .map(|r| (r.id.clone(), r.effect, r.controls.clone()))
                .collect(),
        }
    }

    fn shadow(&self) -> bool {
        self.mode == "shadow"
    }
}

/// One recorded decision (the fields posture reads).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionFact {
    pub record_id: String,
    pub at: i64,
    pub agent_id: String,
    /// The agent kind (`claude-code`, …, `human`).
    pub actor: String,
    pub session: String,
    pub rule_id: String,
    /// `allow`, `block`, `require_approval`, `shadow`, `break_glass`.
    pub decision: String,
    pub mode: String,
    pub policy_id: String,
    pub action_type: String,
    pub target: String,
}

impl DecisionFact {
    fn stopped(&self) -> bool {
        matches!(
            self.decision.as_str(),
            "block" | "require_approval" | "shadow"
        )
    }
}

/// What the evidence log's verification found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvidenceFacts {
    /// A log with records exists.
    pub present: bool,
    pub records: u64,
    pub verified: bool,
    /// What does not verify (or why verification could not run).
    pub issues: Vec<String>,
    /// Records after the last signed checkpoint.
    pub after_checkpoint: u64,
    /// The log's checkpoint interval (0: on request only).
    pub checkpoint_every: u64,
}

/// What the store holds.
#[derive(Debug, Clone, Default)]
pub struct StoreFacts {
    pub approvals: Vec<Approval>,
    pub sessions: Vec<SessionState>,
    pub agents: Vec<AgentRecord>,
    pub mcp_servers: Vec<McpServer>,
}

/// Everything a posture is computed from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Decisions in the window, in log order.
    pub decisions: Vec<DecisionFact>,
    /// `tamper.*` records in the window: (record id, kind).
    pub tamper: Vec<(String, String)>,
    pub evidence: EvidenceFacts,
    /// `None`: there is no store.
    pub store: Option<StoreFacts>,
    /// The packs in force (the project's, the organisation's).
    pub packs: Vec<PackFact>,
    /// The agents whose settings run CAVRA's hook; `None` when the installation is not
    /// visible (the server).
    pub hooked_agents: Option<Vec<String>>,
    /// The evidence signing keys.
    pub keys: Vec<KeyInfo>,
    /// What could not be looked at (said in the report).
    pub notes: Vec<String>,
}

/// The window and the thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
    /// A pending approval older than this is overdue.
    pub approval_sla_secs: i64,
    /// An active evidence key older than this is due for rotation.
    pub key_max_age_days: i64,
    /// Blocked attempts (per agent, per rule) from which a trend finding is reported.
    pub block_threshold: usize,
}

impl Options {
    /// The window `[since, until]` with the default thresholds: approvals overdue after 4
    /// hours, keys due after 90 days, trends from 5 blocked attempts.
    pub fn new(since: OffsetDateTime, until: OffsetDateTime) -> Options {
        Options {
            since,
            until,
            approval_sla_secs: 4 * 3600,
            key_max_age_days: 90,
            block_threshold: 5,
        }
    }
}

/// A posture report.
#[derive(Debug, Clone)]
pub struct Posture {
    pub generated_at: OffsetDateTime,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
    pub score: u32,
    pub findings: Vec<Finding>,
    pub coverage: Vec<Coverage>,
    pub stats: Stats,
    pub packs: Vec<PackFact>,
    pub notes: Vec<String>,
}

/// RFC 3339, whole seconds.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn at_secs(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_default()
}

/// At most this many evidence references per finding.
const MAX_REFS: usize = 20;

fn refs<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    ids.take(MAX_REFS).map(str::to_string).collect()
}

fn finding(
    id: String,
    severity: Severity,
    title: String,
    detail: String,
    evidence: Vec<String>,
    fix: String,
) -> Finding {
    Finding {
        id,
        severity,
        title,
        detail,
        evidence,
        fix,
    }
}

/// The posture of `facts` over the window of `o`.
pub fn compute(facts: &Facts, o: &Options) -> Posture {
    let mut findings = Vec::new();
    hooks(facts, &mut findings);
    shadow_packs(facts, &mut findings);
    mcp(facts, &mut findings);
    if let Some(store) = &facts.store {
        store_findings(store, o, &mut findings);
    }
    trends(facts, o, &mut findings);
    evidence(facts, &mut findings);
    keys(facts, o, &mut findings);
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let coverage = coverage(&facts.packs);
    let score = score(&findings, &coverage);
    Posture {
        generated_at: o.until,
        since: o.since,
        until: o.until,
        score,
        findings,
        coverage,
        stats: stats(facts, o),
        packs: facts.packs.clone(),
        notes: facts.notes.clone(),
    }
}

fn hooks(facts: &Facts, out: &mut Vec<Finding>) {
    let Some(hooked) = &facts.hooked_agents else {
        return;
    };
    let mut in_use: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for d in &facts.decisions {
        if cavra_core::hooks::AgentKind::from_name(&d.actor).is_some() {
            in_use
                .entry(d.actor.clone())
                .or_default()
                .push(&d.record_id);
        }
    }
    for a in facts.store.iter().flat_map(|s| &s.agents) {
        let kind = a
            .kind
            .as_deref()
            .and_then(cavra_core::hooks::AgentKind::from_name);
        if let Some(k) = kind {
            in_use.entry(k.as_str().to_string()).or_default();
        }
    }
    for (agent, ids) in &in_use {
        if hooked.contains(agent) {
            continue;
        }
        let seen = match ids.len() {
            0 => "it is registered".to_string(),
            n => format!("{n} of its actions were decided in the window"),
        };
        out.push(finding(
            format!("hook.missing:{agent}"),
            Severity::High,
            format!("`{agent}` is in use but CAVRA's hook is not installed for it"),
            format!("{seen}, but neither the project's nor the user's `{agent}` settings run `cavra hook {agent}`: its tool calls outside those recorded reach the system undecided"),
            refs(ids.iter().copied()),
            format!("run `cavra init {agent}` in the project (or `cavra init {agent} --user`), then `cavra doctor`"),
        ));
    }
    if hooked.is_empty() && in_use.is_empty() {
        out.push(finding(
            "hook.none".into(),
            Severity::Medium,
            "no agent has CAVRA's hook installed".into(),
            "no agent settings file of this project or user runs `cavra hook`: nothing an agent does here is decided".into(),
            vec![],
            "run `cavra init <agent>` for each agent used here (claude-code, codex, gemini, cursor, copilot)".into(),
        ));
    }
}

fn shadow_packs(facts: &Facts, out: &mut Vec<Finding>) {
    let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in facts.decisions.iter().filter(|d| d.mode == "shadow") {
        seen.entry(&d.policy_id).or_default().push(&d.record_id);
    }
    let in_force: BTreeSet<&str> = facts
        .packs
        .iter()
        .filter(|p| p.shadow())
        .map(|p| p.id.as_str())
        .collect();
    for id in in_force.iter().chain(seen.keys()).collect::<BTreeSet<_>>() {
        let ids = seen.get(id).cloned().unwrap_or_default();
        let would = ids.len();
        let (severity, now) = if in_force.contains(id) {
            (Severity::High, "is in force in shadow mode")
        } else {
            (Severity::Medium, "decided in shadow mode during the window")
        };
        out.push(finding(
            format!("pack.shadow:{id}"),
            severity,
            format!("pack `{id}` {now}: what it matches is recorded, not stopped"),
            format!("{would} decision(s) in the window would have been blocked or held and were allowed"),
            refs(ids.into_iter()),
            format!("review what shadow mode recorded (`cavra evidence search --decision shadow`), then set `mode: enforce` in the pack (or decide with an enforcing pack instead of `{id}`)"),
        ));
    }
}

/// The MCP server of a recorded `mcp_tool_call` target (`server:tool`, `mcp__server__tool`).
pub fn mcp_server_of(target: &str) -> &str {
    if let Some(rest) = target.strip_prefix("mcp__") {
        return rest.split("__").next().unwrap_or(rest);
    }
    target.split([':', '/']).next().unwrap_or(target)
}

/// Registry fields that pin what a server runs.
const PIN_FIELDS: &[&str] = &[
    "version",
    "digest",
    "sha256",
    "pinned_version",
    "image_digest",
];

fn mcp(facts: &Facts, out: &mut Vec<Finding>) {
    let registered: BTreeMap<&str, &McpServer> = facts
        .store
        .iter()
        .flat_map(|s| &s.mcp_servers)
        .map(|m| (m.server_id.as_str(), m))
        .collect();
    let mut unknown: BTreeMap<&str, (Vec<&str>, bool)> = BTreeMap::new();
    for d in facts
        .decisions
        .iter()
        .filter(|d| d.action_type == "mcp_tool_call")
    {
        let server = mcp_server_of(&d.target);
        if registered.contains_key(server) || server.is_empty() {
            continue;
        }
        let e = unknown.entry(server).or_default();
        e.0.push(&d.record_id);
        e.1 |= !d.stopped() && d.decision != "block";
    }
    for (server, (ids, proceeded)) in unknown {
        let (severity, what) = if proceeded {
            (Severity::High, "some of its calls proceeded")
        } else {
            (Severity::Medium, "every call was stopped")
        };
        out.push(finding(
            format!("mcp.unknown:{server}"),
            severity,
            format!("unknown MCP server `{server}`"),
            format!("{} tool call(s) to `{server}`, which is not in the MCP trust registry; {what}", ids.len()),
            refs(ids.into_iter()),
            format!("review `{server}`, then register it (`cavra registry mcp add {server} --tier … --state approved`) or block it (`cavra registry mcp block {server}`), and remove it from agents' MCP configuration if it is not wanted"),
        ));
    }
    for m in registered.values().filter(|m| !m.is_blocked()) {
        let id = &m.server_id;
        if m.approval_state != "approved" {
            out.push(finding(
                format!("mcp.unapproved:{id}"),
                Severity::Medium,
                format!("MCP server `{id}` is registered but not approved"),
                format!("its approval state is `{}` (trust tier `{}`)", m.approval_state, m.trust_tier),
                vec![],
                format!("approve it after review (`cavra registry mcp approve {id} --as you@example.com`) or block it"),
            ));
        }
        if !PIN_FIELDS.iter().any(|f| m.extra.contains_key(*f)) {
            out.push(finding(
                format!("mcp.unpinned:{id}"),
                Severity::Low,
                format!("MCP server `{id}` is not pinned to a version"),
                "its registry entry names no `version` or `digest`: an update of the server changes what agents can call without a review".into(),
                vec![],
                format!("record the reviewed `version` (or image `digest`) in the registry entry of `{id}` and re-import it"),
            ));
        }
    }
}

fn ts(t: OffsetDateTime) -> String {
    rfc3339(t)
}

fn store_findings(store: &StoreFacts, o: &Options, out: &mut Vec<Finding>) {
    let now = o.until;
    for a in &store.approvals {
        let id = &a.approval_id;
        if a.break_glass && a.requested_at >= o.since && a.requested_at <= o.until {
            let active = a.expires_at > now;
            let reason = a.break_glass_reason.as_deref().unwrap_or("-");
            out.push(finding(
                format!("break_glass.used:{id}"),
                if active { Severity::High } else { Severity::Medium },
                format!("break-glass override by `{}`{}", a.requested_by, if active { " (still active)" } else { "" }),
                format!("`{}` on `{}` (rule `{}`) overridden at {} until {}: {reason}", a.action_type, a.target, a.rule_id, ts(a.requested_at), ts(a.expires_at)),
                std::iter::once(id.clone()).chain(a.evidence_refs.iter().cloned()).take(MAX_REFS).collect(),
                "review the override with the person who used it; if the action is routine, allow it in the pack or approve it through an approval request instead".into(),
            ));
        }
        let waited = (now - a.requested_at).whole_seconds();
        if a.effective_state(now) == ApprovalState::Pending && waited > o.approval_sla_secs {
            out.push(finding(
                format!("approval.overdue:{id}"),
                Severity::Medium,
                format!("approval request `{id}` has waited {} (SLA {})", span(waited), span(o.approval_sla_secs)),
                format!("`{}` on `{}` by `{}` (rule `{}`), waiting for group `{}` since {}", a.action_type, a.target, a.agent_id, a.rule_id, a.approver_group, ts(a.requested_at)),
                std::iter::once(id.clone()).chain(a.evidence_refs.iter().cloned()).take(MAX_REFS).collect(),
                format!("decide it: `cavra approvals show {id}`, then `cavra approvals approve {id}` or `cavra approvals deny {id}`; add approvers to group `{}` if requests keep waiting", a.approver_group),
            ));
        }
    }
    for s in store.sessions.iter().filter(|s| s.held) {
        let id = &s.session_id;
        let since = s.held_at.map(ts).unwrap_or_default();
        out.push(finding(
            format!("session.held:{id}"),
            Severity::High,
            format!("session `{id}` of `{}` is on hold", s.agent_id),
            format!("held since {since} after {} blocked attempt(s): {}", s.total_blocks, s.held_reason.as_deref().unwrap_or("-")),
            vec![],
            format!("look at what it attempted (`cavra sessions show {id}`, `cavra evidence search --session {id}`), then release it (`cavra sessions release {id} --reason …`) or stop the agent"),
        ));
    }
}

/// `90s`, `12m`, `5h`, `3d`.
pub fn span(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn trends(facts: &Facts, o: &Options, out: &mut Vec<Finding>) {
    let mid = o.since.unix_timestamp() + (o.until - o.since).whole_seconds() / 2;
    let blocks: Vec<&DecisionFact> = facts
        .decisions
        .iter()
        .filter(|d| d.decision == "block")
        .collect();
    for (what, key) in [
        (
            "agent",
            (|d: &DecisionFact| d.agent_id.clone()) as fn(&DecisionFact) -> String,
        ),
        ("rule", |d: &DecisionFact| d.rule_id.clone()),
    ] {
        let mut by: BTreeMap<String, Vec<&DecisionFact>> = BTreeMap::new();
        for d in &blocks {
            by.entry(key(d)).or_default().push(d);
        }
        for (name, ds) in by {
            if ds.len() < o.block_threshold || name.is_empty() {
                continue;
            }
            let late = ds.iter().filter(|d| d.at >= mid).count();
            let early = ds.len() - late;
            let (severity, trend) = if late > early {
                (Severity::Medium, "rising")
            } else {
                (
                    Severity::Low,
                    if late < early { "falling" } else { "steady" },
                )
            };
            let fix = match what {
                "agent" => format!("look at what `{name}` keeps attempting (`cavra evidence search --agent {name} --decision block`); tell it the alternatives in its instructions, or narrow its task"),
                _ => format!("see why agents keep hitting `{name}`: the rule's alternative may be missing or unclear, or the agents' instructions should name the allowed way (`cavra explain`)"),
            };
            out.push(finding(
                format!("blocks.{what}:{name}"),
                severity,
                format!(
                    "{} blocked attempts {}by {what} `{name}` ({trend})",
                    ds.len(),
                    if what == "rule" { "stopped " } else { "" }
                ),
                format!("{early} in the first half of the window, {late} in the second"),
                refs(ds.iter().map(|d| d.record_id.as_str())),
                fix,
            ));
        }
    }
}

fn evidence(facts: &Facts, out: &mut Vec<Finding>) {
    let e = &facts.evidence;
    if e.present && !e.verified {
        let issues: Vec<&str> = e.issues.iter().take(3).map(String::as_str).collect();
        out.push(finding(
            "evidence.unverified".into(),
            Severity::Critical,
            "the evidence log does not verify".into(),
            format!("{} issue(s): {}", e.issues.len(), issues.join("; ")),
            vec![],
            "run `cavra evidence verify` to locate the break; keep a copy of the log as it is, find out who or what changed it, and do not repair it before that".into(),
        ));
    }
    if e.checkpoint_every > 0 && e.after_checkpoint > e.checkpoint_every {
        out.push(finding(
            "evidence.checkpoint_gap".into(),
            Severity::Medium,
            format!("{} records are not covered by a signed checkpoint", e.after_checkpoint),
            format!("a checkpoint is due every {} records; the records after the last one can be rewritten without breaking a signed checkpoint", e.checkpoint_every),
            vec![],
            "write one (`cavra evidence checkpoint`) and check that the process appending to the log can write `checkpoints.jsonl`".into(),
        ));
    }
    if !facts.tamper.is_empty() {
        out.push(finding(
            "tamper.reported".into(),
            Severity::High,
            format!("{} tamper report(s) in the window", facts.tamper.len()),
            "records of the store claimed a person's decision without a valid signature (written by other means) and were ignored by every decision".into(),
            refs(facts.tamper.iter().map(|(id, _)| id.as_str())),
            "run `cavra doctor` to list them; find out who wrote them, then remove them from the store".into(),
        ));
    }
    if !e.present {
        out.push(finding(
            "evidence.none".into(),
            Severity::Info,
            "no evidence log yet".into(),
            "no decision has been recorded here: the report has no activity to show".into(),
            vec![],
            "install a hook (`cavra init <agent>`), or point at the project's CAVRA directory with `--cavra-dir`".into(),
        ));
    }
}

fn keys(facts: &Facts, o: &Options, out: &mut Vec<Finding>) {
    for k in facts.keys.iter().filter(|k| k.active) {
        let Ok(created) = cavra_evidence::timeutil::parse_ts(&k.created_at) else {
            continue;
        };
        let age = (o.until - created).whole_days();
        if age > o.key_max_age_days {
            out.push(finding(
                format!("key.rotation:{}", k.key_id),
                Severity::Medium,
                format!("evidence signing key `{}` is {age} days old", k.key_id),
                format!("created {}; keys are due for rotation after {} days", k.created_at, o.key_max_age_days),
                vec![],
                "rotate it (`cavra keys rotate`) and publish the new trust root (`cavra keys export`) to whoever verifies bundles".into(),
            ));
        }
    }
}

/// Coverage of the catalog (and of every other control a pack maps) by `packs`.
pub fn coverage(packs: &[PackFact]) -> Vec<Coverage> {
    let many = packs.len() > 1;
    let mut mapped: BTreeMap<&str, (Vec<String>, CoverageStatus)> = BTreeMap::new();
    for p in packs {
        for (rule, effect, controls) in &p.rules {
            for c in controls {
                let e = mapped
                    .entry(c.as_str())
                    .or_insert((vec![], CoverageStatus::Uncovered));
                let name = if many {
                    format!("{}/{rule}", p.id)
                } else {
                    rule.clone()
                };
                if !e.0.contains(&name) {
                    e.0.push(name);
                }
                let status = match (effect, p.shadow()) {
                    (Effect::Allow, _) => CoverageStatus::Uncovered,
                    (_, true) => CoverageStatus::Shadow,
                    (_, false) => CoverageStatus::Enforced,
                };
                e.1 = strongest(e.1, status);
            }
        }
    }
    let mut out = Vec::new();
    for (framework, controls) in catalog::FRAMEWORKS {
        for (id, title) in *controls {
            let (rules, status) = mapped
                .remove(id)
                .unwrap_or((vec![], CoverageStatus::Uncovered));
            out.push(Coverage {
                framework: (*framework).to_string(),
                control: (*id).to_string(),
                title: (*title).to_string(),
                status,
                rules,
            });
        }
    }
    for (id, (rules, status)) in mapped {
        out.push(Coverage {
            framework: catalog::framework_of(id),
            control: id.to_string(),
            title: catalog::title_of(id).unwrap_or(id).to_string(),
            status,
            rules,
        });
    }
    out
}

fn strongest(a: CoverageStatus, b: CoverageStatus) -> CoverageStatus {
    use CoverageStatus::*;
    match (a, b) {
        (Enforced, _) | (_, Enforced) => Enforced,
        (Shadow, _) | (_, Shadow) => Shadow,
        _ => Uncovered,
    }
}

/// The score: 100 minus the findings' penalties (per finding kind at most twice the
/// penalty of its most severe finding) minus up to 20 points for coverage (uncovered
/// catalog controls count fully, shadow ones half), never below 0.
pub fn score(findings: &[Finding], coverage: &[Coverage]) -> u32 {
    let mut kinds: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for f in findings {
        let e = kinds.entry(f.kind()).or_default();
        e.0 = e.0.saturating_add(f.severity.penalty());
        e.1 = e.1.max(f.severity.penalty());
    }
    let from_findings: u32 = kinds
        .values()
        .map(|(sum, max)| (*sum).min(max.saturating_mul(2)))
        .fold(0, u32::saturating_add);
    let catalog: Vec<&Coverage> = coverage
        .iter()
        .filter(|c| catalog::title_of(&c.control).is_some())
        .collect();
    let weight: usize = catalog
        .iter()
        .map(|c| match c.status {
            CoverageStatus::Uncovered => 2,
            CoverageStatus::Shadow => 1,
            CoverageStatus::Enforced => 0,
        })
        .sum();
    let total = catalog.len().saturating_mul(2).max(1);
    let from_coverage = u32::try_from(weight.saturating_mul(20) / total).unwrap_or(20);
    100u32.saturating_sub(from_findings.saturating_add(from_coverage))
}

/// The bucket width for a window: the smallest of 1m, 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1d,
/// 7d giving at most 48 buckets, else the window / 48.
pub fn bucket_seconds(window: i64) -> i64 {
    const STEPS: [i64; 10] = [60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 604800];
    let window = window.max(1);
    STEPS
        .into_iter()
        .find(|b| window / b <= 48)
        .unwrap_or_else(|| window / 48 + 1)
}

fn top(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(10);
    v
}

fn stats(facts: &Facts, o: &Options) -> Stats {
    let (since, until) = (o.since.unix_timestamp(), o.until.unix_timestamp());
    let b = bucket_seconds(until.saturating_sub(since));
    let first = since.div_euclid(b).saturating_mul(b);
    let n = usize::try_from((until.saturating_sub(first)) / b + 1).unwrap_or(1);
    let mut timeline: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start: first.saturating_add(b.saturating_mul(i64::try_from(i).unwrap_or(0))),
            ..Bucket::default()
        })
        .collect();
    let (mut rules, mut agents, mut sessions) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for d in &facts.decisions {
        let i = usize::try_from(d.at.saturating_sub(first) / b).unwrap_or(0);
        if let Some(bucket) = timeline.get_mut(i) {
            let c = match d.decision.as_str() {
                "allow" => &mut bucket.allow,
                "block" => &mut bucket.block,
                "require_approval" => &mut bucket.require_approval,
                "shadow" => &mut bucket.shadow,
                _ => &mut bucket.break_glass,
            };
            *c = c.saturating_add(1);
        }
        if d.stopped() {
            for (m, k) in [
                (&mut rules, &d.rule_id),
                (&mut agents, &d.agent_id),
                (&mut sessions, &d.session),
            ] {
                let c: &mut u64 = m.entry(k.clone()).or_default();
                *c = c.saturating_add(1);
            }
        }
    }
    let store = facts.store.as_ref();
    let approvals = store.map(|s| s.approvals.as_slice()).unwrap_or_default();
    let in_window = |t: OffsetDateTime| t >= o.since && t <= o.until;
    let break_glass = approvals
        .iter()
        .filter(|a| a.break_glass && in_window(a.requested_at))
        .map(|a| BreakGlassUse {
            id: a.approval_id.clone(),
            actor: a.requested_by.clone(),
            reason: a.break_glass_reason.clone().unwrap_or_default(),
            created_at: ts(a.requested_at),
            expires_at: ts(a.expires_at),
        })
        .collect();
    let mut waits: Vec<u64> = approvals
        .iter()
        .filter(|a| !a.break_glass)
        .filter_map(|a| Some((a.decided_at.filter(|t| in_window(*t))?, a)))
        .map(|(t, a)| u64::try_from((t - a.requested_at).whole_seconds()).unwrap_or(0))
        .collect();
    waits.sort_unstable();
    let rank = |p: usize| {
        let i = (waits.len().saturating_mul(p))
            .div_ceil(100)
            .saturating_sub(1);
        waits.get(i).copied().unwrap_or(0)
    };
    let approvals_latency = Latency {
        count: u64::try_from(waits.len()).unwrap_or(u64::MAX),
        p50_seconds: rank(50),
        p90_seconds: rank(90),
        max_seconds: waits.last().copied().unwrap_or(0),
    };
    Stats {
        bucket_seconds: b,
        timeline,
        top_rules: top(rules),
        top_agents: top(agents),
        top_sessions: top(sessions),
        break_glass,
        approvals_latency,
        decisions: u64::try_from(facts.decisions.len()).unwrap_or(u64::MAX),
    }
}

fn pairs(v: &[(String, u64)], key: &str) -> Value {
    Value::Array(
        v.iter()
            .map(|(k, n)| {
                let mut m = serde_json::Map::new();
                m.insert(key.to_string(), json!(k));
                m.insert("count".into(), json!(n));
                Value::Object(m)
            })
            .collect(),
    )
}

impl Posture {
    /// The document of `cavra posture --json` and `GET /v1/posture`.
    pub fn to_json(&self) -> Value {
        let s = &self.stats;
        let l = &s.approvals_latency;
        json!({
            "generated_at": rfc3339(self.generated_at),
            "since": rfc3339(self.since),
            "until": rfc3339(self.until),
            "score": self.score,
            "findings": self.findings.iter().map(|f| json!({
                "id": f.id, "severity": f.severity.as_str(), "title": f.title,
                "detail": f.detail, "evidence": f.evidence, "fix": f.fix,
            })).collect::<Vec<_>>(),
            "coverage": self.coverage.iter().map(|c| json!({
                "framework": c.framework, "control": c.control, "title": c.title,
                "status": c.status.as_str(), "rules": c.rules,
            })).collect::<Vec<_>>(),
            "stats": {
                "bucket_seconds": s.bucket_seconds,
                "decisions": s.decisions,
                "timeline": s.timeline.iter().map(|b| json!({
                    "bucket": at_secs(b.start), "allow": b.allow, "block": b.block,
                    "require_approval": b.require_approval, "shadow": b.shadow,
                    "break_glass": b.break_glass,
                })).collect::<Vec<_>>(),
                "top_rules": pairs(&s.top_rules, "rule"),
                "top_agents": pairs(&s.top_agents, "agent"),
                "top_sessions": pairs(&s.top_sessions, "session"),
                "break_glass": s.break_glass.iter().map(|b| json!({
                    "id": b.id, "actor": b.actor, "reason": b.reason,
                    "created_at": b.created_at, "expires_at": b.expires_at,
                })).collect::<Vec<_>>(),
                "approvals_latency": {
                    "count": l.count, "p50_seconds": l.p50_seconds,
                    "p90_seconds": l.p90_seconds, "max_seconds": l.max_seconds,
                },
            },
            "packs": self.packs.iter().map(|p| json!({
                "id": p.id, "version": p.version, "mode": p.mode,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }

    /// Coverage counts per framework: (framework, enforced, shadow, uncovered).
    pub fn coverage_summary(&self) -> Vec<(String, usize, usize, usize)> {
        let mut out: Vec<(String, usize, usize, usize)> = Vec::new();
        for c in &self.coverage {
            if out.last().is_none_or(|l| l.0 != c.framework) {
                out.push((c.framework.clone(), 0, 0, 0));
            }
            if let Some(l) = out.last_mut() {
                match c.status {
                    CoverageStatus::Enforced => l.1 += 1,
                    CoverageStatus::Shadow => l.2 += 1,
                    CoverageStatus::Uncovered => l.3 += 1,
                }
            }
        }
        out
    }

    /// The JSON and the text of `cavra posture`.
    pub fn doc(&self) -> Doc {
        let s = &self.stats;
        let mut text = vec![Block::Fields {
            width: 10,
            fields: vec![
                ("score", format!("{}/100", self.score)),
                (
                    "window",
                    format!("{} .. {}", rfc3339(self.since), rfc3339(self.until)),
                ),
                ("decisions", s.decisions.to_string()),
                (
                    "packs",
                    self.packs
                        .iter()
                        .map(|p| format!("{} {} ({})", p.id, p.version, p.mode))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ],
        }];
        text.push(Block::Line(String::new()));
        text.push(Block::Table {
            headers: &["SEVERITY", "FINDING", "TITLE"],
            rows: self
                .findings
                .iter()
                .map(|f| {
                    vec![
                        f.severity.as_str().to_string(),
                        f.id.clone(),
                        f.title.clone(),
                    ]
                })
                .collect(),
            empty: "no findings",
        });
        for f in self
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
        {
            text.push(Block::Line(format!(
                "- {}: {}\n  fix: {}",
                f.id, f.detail, f.fix
            )));
        }
        text.push(Block::Line(String::new()));
        text.push(Block::Table {
            headers: &["FRAMEWORK", "ENFORCED", "SHADOW", "UNCOVERED"],
            rows: self
                .coverage_summary()
                .into_iter()
                .map(|(f, e, sh, u)| vec![f, e.to_string(), sh.to_string(), u.to_string()])
                .collect(),
            empty: "no controls",
        });
        for n in &self.notes {
            text.push(Block::Line(format!("note: {n}")));
        }
        Doc {
            json: self.to_json(),
            text,
        }
    }

    /// Why the gate fails (empty: it passes): a score below `min_score`, a finding at or
    /// above `fail_on`.
    pub fn gate(&self, min_score: Option<u32>, fail_on: Option<Severity>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(min) = min_score.filter(|m| self.score < *m) {
            out.push(format!("score {} is below the minimum {min}", self.score));
        }
        if let Some(sev) = fail_on {
            for f in self.findings.iter().filter(|f| f.severity >= sev) {
                out.push(format!(
                    "{} finding `{}`: {}",
                    f.severity.as_str(),
                    f.id,
                    f.title
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
