//! Approval requests (pending → approved | denied | expired) and break-glass records.

use std::time::Duration;

#[cfg(feature = "sqlite")]
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use time::OffsetDateTime;

use crate::approver::Attestation;
use crate::approver::{ApproverKey, ApproverTrust, Signer};
use crate::config::Permission;
use crate::config::{ApprovalConfig, RouteQuery};
#[cfg(feature = "sqlite")]
use crate::db::{classify, Store};
use crate::error::StoreError;
use crate::tamper::Unverified;
use crate::timefmt::{add_secs, from_secs, rfc3339, secs};

/// `schema_version` of approval records.
pub const APPROVAL_SCHEMA_VERSION: &str = "cavra.approval.v1";
/// Default lifetime of a break-glass record.
pub const DEFAULT_BREAK_GLASS_TTL: Duration = Duration::from_secs(3600);
/// Upper bound for `--uses`.
pub const MAX_USES_LIMIT: u32 = 1000;
/// Group used when neither the engine nor routing names one.
pub const FALLBACK_GROUP: &str = "Repository Owners";

/// State of an approval record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Denied,
    Expired,
    BreakGlass,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
            ApprovalState::BreakGlass => "break_glass",
        }
    }

    /// Parse `pending|approved|denied|expired|break_glass` (also `break-glass`).
    pub fn parse(s: &str) -> Result<ApprovalState, StoreError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "pending" => ApprovalState::Pending,
            "approved" => ApprovalState::Approved,
            "denied" => ApprovalState::Denied,
            "expired" => ApprovalState::Expired,
            "break_glass" | "break-glass" => ApprovalState::BreakGlass,
            _ => {
                return Err(StoreError::input(
                    "status",
                    format!("`{s}` (expected pending, approved, denied, expired or break_glass)"),
                ))
            }
        })
    }

    fn is_live(self) -> bool {
        matches!(
            self,
            ApprovalState::Pending | ApprovalState::Approved | ApprovalState::BreakGlass
        )
    }
}

impl std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of an approval's history.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub at: String,
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An approval or break-glass record. Serialises as a superset of the reference
/// `approval.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    pub schema_version: &'static str,
    pub approval_id: String,
    pub decision_id: String,
    pub session_id: String,
    pub correlation_id: Option<String>,
    pub state: ApprovalState,
    pub approver_group: String,
    pub requested_by: String,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub requested_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub expires_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::timefmt::ser_opt"
    )]
    pub decided_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    pub break_glass: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass_reason: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub evidence_refs: Vec<String>,
    // CAVRA fields
    pub request_hash: String,
    pub action_type: String,
    pub target: String,
    pub rule_id: String,
    pub severity: String,
    pub agent_id: String,
    pub single_use: bool,
    pub uses: u32,
    pub max_uses: u32,
    pub repo: Option<String>,
    /// The signature of the approving identity (JSON [`Attestation`]); `None` on pending
    /// requests and on rows written by other means.
    #[serde(skip)]
    pub attestation: Option<String>,
}

impl Approval {
    /// The parsed attestation, if any (not verified: see [`Store::approval_verified`]).
    pub fn attestation(&self) -> Option<Attestation> {
        self.attestation.as_deref().and_then(Attestation::parse)
    }

    /// The state as seen at `now`: a live record past its expiry reads as expired even
    /// before [`Store::expire_due`] has persisted that.
    pub fn effective_state(&self, now: OffsetDateTime) -> ApprovalState {
        if self.state.is_live() && self.expires_at <= now {
            ApprovalState::Expired
        } else {
            self.state
        }
    }

    /// Approved but every use spent.
    pub fn exhausted(&self) -> bool {
        self.state == ApprovalState::Approved && self.uses >= self.max_uses
    }
}

/// A new approval request (from the hook, on a `require_approval` decision).
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// Hash of the exact normalized action; the approval is bound to it.
    pub request_hash: String,
    pub decision_id: String,
    pub session_id: String,
    pub agent_id: String,
    pub action_type: String,
    pub target: String,
    pub rule_id: String,
    pub severity: String,
    /// The engine's approver group; routing (if configured) may override it.
    pub approver_group: String,
    pub requested_by: String,
    pub repo: Option<String>,
    /// How long the request stays valid (pending, and once approved).
    pub ttl: Duration,
}

/// Options for [`Store::approve`].
#[derive(Debug, Clone, Default)]
pub struct ApproveOptions {
    /// Number of times the approval may be consumed (default 1: single use).
    pub max_uses: Option<u32>,
}

/// A new break-glass record: a time-boxed, loudly flagged override.
#[derive(Debug, Clone)]
pub struct NewBreakGlass {
    /// Exact request to unblock (and/or an action type + target glob below).
    pub request_hash: Option<String>,
    pub action_type: Option<String>,
    /// A glob (`*` within a path segment, `**` across).
    pub target: Option<String>,
    pub identity: String,
    pub reason: String,
    pub ttl: Duration,
    /// The pack's `defaults.max_break_glass_ttl`: a longer `ttl` is refused.
    pub max_ttl: Duration,
}

impl NewBreakGlass {
    /// The scope as given, blank fields as absent: (request hash, action type, target).
    fn scope(&self) -> (Option<String>, Option<&str>, Option<&str>) {
        fn field(f: &Option<String>) -> Option<&str> {
            f.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        (
            field(&self.request_hash).map(str::to_string),
            field(&self.action_type),
            field(&self.target),
        )
    }

    /// The checks [`Store::break_glass`] makes before it writes anything: a reason, a
    /// scope that is not blanket (an exact request hash, or one action type and a target
    /// pattern that names something) and a TTL within the pack's maximum.
    pub fn validate(&self) -> Result<(), StoreError> {
        let new = self;
        require_text("reason", &new.reason)?;
        let (request_hash, action_type, target) = new.scope();
        if request_hash.is_none() && (action_type.is_none() || target.is_none()) {
            return Err(StoreError::input(
                "break-glass scope",
                "give a request hash, or both an action type and a target",
            ));
        }
        if new.ttl.is_zero() {
            return Err(StoreError::input("ttl", "must be greater than zero"));
        }
        if new.ttl > new.max_ttl {
            return Err(StoreError::input(
                "ttl",
                format!(
                    "{}s is longer than the pack's max_break_glass_ttl ({}s)",
                    new.ttl.as_secs(),
                    new.max_ttl.as_secs()
                ),
            ));
        }
        // never blanket: one action type (no glob), a target pattern that names something
        if let Some(a) = action_type {
            if !a.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(StoreError::input(
                    "break-glass action",
                    format!("`{a}`: name one action type (e.g. write_file), not a pattern"),
                ));
            }
        }
        if let Some(t) = target {
            if blanket_target(t) {
                return Err(StoreError::input(
                    "break-glass target",
                    format!("`{t}` matches everything: name the path, command or tool pattern to unblock"),
                ));
            }
        }
        Ok(())
    }
}
/// What [`Store::active_break_glass`] matches against.
#[derive(Debug, Clone, Copy)]
pub struct BreakGlassQuery<'a> {
    pub request_hash: Option<&'a str>,
    pub action_type: &'a str,
    pub target: &'a str,
}

pub(crate) const COLS: &str =
    "approval_id, request_hash, decision_id, session_id, correlation_id, agent_id, \
    action_type, target, rule_id, severity, approver_group, requested_by, repo, state, \
    requested_at, expires_at, decided_by, decided_at, decision_reason, break_glass, \
    break_glass_reason, single_use, uses, max_uses, history, evidence_refs, attestation";

/// The [`COLS`] of a row, in order (also read from a JSON array of them).
#[derive(serde::Deserialize)]
pub(crate) struct RawApproval {
    pub(crate) approval_id: String,
    pub(crate) request_hash: String,
    pub(crate) decision_id: String,
    pub(crate) session_id: String,
    pub(crate) correlation_id: Option<String>,
    pub(crate) agent_id: String,
    pub(crate) action_type: String,
    pub(crate) target: String,
    pub(crate) rule_id: String,
    pub(crate) severity: String,
    pub(crate) approver_group: String,
    pub(crate) requested_by: String,
    pub(crate) repo: Option<String>,
    pub(crate) state: String,
    pub(crate) requested_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) decided_by: Option<String>,
    pub(crate) decided_at: Option<i64>,
    pub(crate) decision_reason: Option<String>,
    pub(crate) break_glass: bool,
    pub(crate) break_glass_reason: Option<String>,
    pub(crate) single_use: bool,
    pub(crate) uses: i64,
    pub(crate) max_uses: Option<i64>,
    pub(crate) history: String,
    pub(crate) evidence_refs: String,
    pub(crate) attestation: Option<String>,
}

#[cfg(feature = "sqlite")]
pub(crate) fn read_raw(r: &Row<'_>) -> rusqlite::Result<RawApproval> {
    Ok(RawApproval {
        approval_id: r.get(0)?,
        request_hash: r.get(1)?,
        decision_id: r.get(2)?,
        session_id: r.get(3)?,
        correlation_id: r.get(4)?,
        agent_id: r.get(5)?,
        action_type: r.get(6)?,
        target: r.get(7)?,
        rule_id: r.get(8)?,
        severity: r.get(9)?,
        approver_group: r.get(10)?,
        requested_by: r.get(11)?,
        repo: r.get(12)?,
        state: r.get(13)?,
        requested_at: r.get(14)?,
        expires_at: r.get(15)?,
        decided_by: r.get(16)?,
        decided_at: r.get(17)?,
        decision_reason: r.get(18)?,
        break_glass: r.get(19)?,
        break_glass_reason: r.get(20)?,
        single_use: r.get(21)?,
        uses: r.get(22)?,
        max_uses: r.get(23)?,
        history: r.get(24)?,
        evidence_refs: r.get(25)?,
        attestation: r.get(26)?,
    })
}

pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    field: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Decode {
        field: field.to_string(),
        detail: e.to_string(),
    })
}

pub(crate) fn to_u32(field: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Decode {
        field: field.to_string(),
        detail: format!("{v} out of range"),
    })
}

impl RawApproval {
    pub(crate) fn finish(self) -> Result<Approval, StoreError> {
        let state = ApprovalState::parse(&self.state).map_err(|_| StoreError::Decode {
            field: "state".into(),
            detail: format!("`{}`", self.state),
        })?;
        Ok(Approval {
            schema_version: APPROVAL_SCHEMA_VERSION,
            approval_id: self.approval_id,
            decision_id: self.decision_id,
            session_id: self.session_id,
            correlation_id: self.correlation_id,
            state,
            approver_group: self.approver_group,
            requested_by: self.requested_by,
            requested_at: from_secs("requested_at", self.requested_at)?,
            expires_at: from_secs("expires_at", self.expires_at)?,
            decided_by: self.decided_by,
            decided_at: self
                .decided_at
                .map(|s| from_secs("decided_at", s))
                .transpose()?,
            decision_reason: self.decision_reason,
            break_glass: self.break_glass,
            break_glass_reason: self.break_glass_reason,
            history: decode_json("history", &self.history)?,
            evidence_refs: decode_json("evidence_refs", &self.evidence_refs)?,
            request_hash: self.request_hash,
            action_type: self.action_type,
            target: self.target,
            rule_id: self.rule_id,
            severity: self.severity,
            agent_id: self.agent_id,
            single_use: self.single_use,
            uses: to_u32("uses", self.uses)?,
            max_uses: to_u32("max_uses", self.max_uses.unwrap_or(1))?,
            repo: self.repo,
            attestation: self.attestation,
        })
    }
}

pub(crate) fn history_json(
    mut h: Vec<HistoryEntry>,
    entry: HistoryEntry,
) -> Result<String, StoreError> {
    h.push(entry);
    encode_history(&h)
}

pub(crate) fn encode_history(h: &[HistoryEntry]) -> Result<String, StoreError> {
    serde_json::to_string(h).map_err(|e| StoreError::Decode {
        field: "history".into(),
        detail: e.to_string(),
    })
}

pub(crate) fn entry(
    now: OffsetDateTime,
    event: &str,
    by: Option<&str>,
    reason: Option<&str>,
) -> HistoryEntry {
    HistoryEntry {
        at: rfc3339(now.replace_nanosecond(0).unwrap_or(now)),
        event: event.to_string(),
        by: by.map(str::to_string),
        reason: reason.map(str::to_string),
    }
}

pub(crate) fn new_id(prefix: &str) -> Result<String, StoreError> {
    use rand_core::RngCore;
    let mut b = [0u8; 8];
    rand_core::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| StoreError::input("random id", e.to_string()))?;
    Ok(format!("{prefix}-{}", hex::encode(b)))
}

pub(crate) fn require_text(field: &'static str, v: &str) -> Result<String, StoreError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(StoreError::input(field, "must not be empty"));
    }
    Ok(t.to_string())
}

/// What the approving identity signs of an approval or break-glass record: everything
/// that decides what the record unblocks, for how long and for whom.
pub(crate) fn approval_fields(a: &Approval) -> serde_json::Value {
    serde_json::json!([
        a.approval_id,
        a.request_hash,
        a.decision_id,
        a.session_id,
        a.agent_id,
        a.action_type,
        a.target,
        a.rule_id,
        a.state.as_str(),
        a.break_glass,
        a.requested_by,
        a.decided_by,
        a.decided_at.map(secs),
        secs(a.expires_at),
        a.max_uses,
        a.decision_reason,
        a.break_glass_reason,
    ])
}

const APPROVAL_KIND: &str = "cavra.approval.v1";

pub(crate) fn verify_approval(trust: &ApproverTrust, a: &Approval) -> bool {
    a.attestation()
        .is_some_and(|att| trust.verify_attestation(APPROVAL_KIND, &approval_fields(a), &att))
}

/// Does the record claim a decision (approved, denied, break-glass) signed by an approving
/// identity of `trust`? (Pending and expired records: irrelevant, `false`.)
pub(crate) fn decision_verified(trust: &ApproverTrust, a: &Approval) -> bool {
    matches!(
        a.state,
        ApprovalState::Approved | ApprovalState::Denied | ApprovalState::BreakGlass
    ) && verify_approval(trust, a)
}

/// The report of a record that did not verify.
pub(crate) fn unverified_of(a: &Approval) -> Unverified {
    Unverified::new(
        "approvals",
        &a.approval_id,
        a.state.as_str(),
        a.decided_at.map(secs),
        a.attestation.as_deref(),
    )
}

/// The first of `raws` (candidates in order) that grants the request and is signed by an
/// approving identity; the granting ones that are not signed are added to `noted`.
pub(crate) fn first_granting(
    raws: Vec<RawApproval>,
    trust: &ApproverTrust,
    request_hash: &str,
    agent_id: &str,
    now: OffsetDateTime,
    noted: &mut Vec<Unverified>,
) -> Result<Option<Approval>, StoreError> {
    for raw in raws {
        let a = raw.finish()?;
        if !crate::rules::grants(&a, request_hash, agent_id, now) {
            continue;
        }
        if verify_approval(trust, &a) {
            return Ok(Some(a));
        }
        noted.push(unverified_of(&a));
    }
    Ok(None)
}

/// One use of the granting record `a` ([`crate::rules::consume`]): the new use count and
/// the history (JSON) that records it.
pub(crate) fn use_once(
    a: &Approval,
    request_hash: &str,
    agent_id: &str,
    now: OffsetDateTime,
) -> Result<(u32, String), StoreError> {
    let uses = crate::rules::consume(a, request_hash, agent_id, now)?;
    let history = history_json(
        a.history.clone(),
        entry(
            now,
            "consumed",
            Some(&a.agent_id),
            Some(&format!("use {uses} of {}", a.max_uses)),
        ),
    )?;
    Ok((uses, history))
}

/// A person's decision (approve / deny) on a request, checked before any row is read.
pub(crate) struct Decider {
    pub(crate) identity: String,
    pub(crate) reason: String,
    pub(crate) signer: Signer,
    pub(crate) perm: Permission,
    /// Uses the approval grants ([`crate::rules::check_max_uses`]).
    pub(crate) max: u32,
}

/// What deciding a record writes.
pub(crate) enum DecideWrite {
    /// The new state and history (then the record is signed).
    Decide {
        state: ApprovalState,
        history: String,
    },
    /// Its time ran out: the history of its expiry (and the decision is refused).
    Expire { history: String },
}

impl Decider {
    pub(crate) fn new(
        identity: &str,
        reason: &str,
        signer: Option<&Signer>,
        perm: Permission,
        max_uses: Option<u32>,
    ) -> Result<Decider, StoreError> {
        Ok(Decider {
            identity: require_text("identity", identity)?,
            reason: require_text("reason", reason)?,
            signer: signer.cloned().ok_or(StoreError::NoSigner)?,
            perm,
            max: crate::rules::check_max_uses(max_uses)?,
        })
    }

    /// The write for the record `a` as stored ([`crate::rules::decide`]).
    pub(crate) fn write(
        &self,
        a: &Approval,
        rbac: Option<&crate::config::Rbac>,
        now: OffsetDateTime,
    ) -> Result<DecideWrite, StoreError> {
        Ok(
            match crate::rules::decide(a, &self.identity, self.perm, rbac, now)? {
                crate::rules::DecideOutcome::Decided(state) => DecideWrite::Decide {
                    state,
                    history: history_json(
                        a.history.clone(),
                        entry(
                            now,
                            state.as_str(),
                            Some(&self.identity),
                            Some(&self.reason),
                        ),
                    )?,
                },
                crate::rules::DecideOutcome::Expire => DecideWrite::Expire {
                    history: history_json(
                        a.history.clone(),
                        entry(now, "expired", None, Some("was pending")),
                    )?,
                },
            },
        )
    }
}

/// The attestation (JSON) of `signer` over the record `a` as it is stored.
pub(crate) fn attest_approval(a: &Approval, signer: &Signer) -> String {
    ApproverKey::attest(
        &signer.key,
        APPROVAL_KIND,
        &approval_fields(a),
        signer.method,
        signer.label.as_deref(),
    )
    .to_json()
}

#[cfg(feature = "sqlite")]
/// Sign the record `id` as it is now in `tx` and store the attestation.
fn sign_in(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    signer: &crate::approver::Signer,
    map: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<(), StoreError> {
    let a = get_in(tx, id, map)?.ok_or_else(|| StoreError::UnknownApproval(id.to_string()))?;
    tx.execute(
        "UPDATE approvals SET attestation = ?2 WHERE approval_id = ?1",
        params![id, attest_approval(&a, signer)],
    )
    .map_err(map)?;
    Ok(())
}

/// The approver group and the requester of a new request: routing (if configured) over
/// the engine's group, [`FALLBACK_GROUP`] last; the agent when no requester is named.
pub(crate) fn route_new(
    config: &ApprovalConfig,
    new: &NewApproval,
    agent_id: &str,
) -> (String, String) {
    let routed = config.routing.as_ref().and_then(|r| {
        r.route(&RouteQuery {
            repo: new.repo.as_deref(),
            target: &new.target,
            rule_id: &new.rule_id,
            action_type: &new.action_type,
            severity: &new.severity,
        })
        .map(str::to_string)
    });
    let group = routed
        .or_else(|| Some(new.approver_group.trim().to_string()).filter(|g| !g.is_empty()))
        .unwrap_or_else(|| FALLBACK_GROUP.to_string());
    let requested_by = Some(new.requested_by.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| agent_id.to_string());
    (group, requested_by)
}

/// The break-glass record `id` that `identity` writes for `new` (validated), taking its
/// context from the pending request of the same hash (`linked`), if any. Stored with no
/// `max_uses` (it reads as 1) and no attestation yet.
pub(crate) fn break_glass_record(
    id: String,
    new: &NewBreakGlass,
    identity: &str,
    reason: &str,
    linked: Option<&Approval>,
    now: OffsetDateTime,
) -> Result<Approval, StoreError> {
    let (request_hash, action_type, target) = new.scope();
    let l = linked;
    let at = from_secs("requested_at", secs(now))?;
    Ok(Approval {
        schema_version: APPROVAL_SCHEMA_VERSION,
        decision_id: l
            .map(|l| l.decision_id.clone())
            .unwrap_or_else(|| format!("break-glass:{id}")),
        approval_id: id,
        request_hash: request_hash.unwrap_or_default(),
        session_id: l.map(|l| l.session_id.clone()).unwrap_or_default(),
        correlation_id: None,
        agent_id: l.map(|l| l.agent_id.clone()).unwrap_or_default(),
        action_type: action_type
            .map(str::to_string)
            .or_else(|| l.map(|l| l.action_type.clone()))
            .unwrap_or_default(),
        target: target
            .map(str::to_string)
            .or_else(|| l.map(|l| l.target.clone()))
            .unwrap_or_default(),
        rule_id: l
            .map(|l| l.rule_id.clone())
            .unwrap_or_else(|| "break_glass".into()),
        severity: l
            .map(|l| l.severity.clone())
            .unwrap_or_else(|| "critical".into()),
        approver_group: l
            .map(|l| l.approver_group.clone())
            .unwrap_or_else(|| "break-glass".into()),
        requested_by: identity.to_string(),
        repo: l.and_then(|l| l.repo.clone()),
        state: ApprovalState::BreakGlass,
        requested_at: at,
        expires_at: from_secs("expires_at", add_secs(now, new.ttl))?,
        decided_by: Some(identity.to_string()),
        decided_at: Some(at),
        decision_reason: Some(reason.to_string()),
        break_glass: true,
        break_glass_reason: Some(reason.to_string()),
        single_use: false,
        uses: 0,
        max_uses: 1,
        history: vec![entry(now, "break_glass", Some(identity), Some(reason))],
        evidence_refs: Vec::new(),
        attestation: None,
    })
}

/// Is `p` a target pattern that matches (nearly) everything? Only glob and separator
/// characters, e.g. `*`, `**`, `/**`, `**/*`, `~/**`; or a pattern that matches every one
/// of a set of unrelated targets (e.g. the alternative in `{**,x}`).
fn blanket_target(p: &str) -> bool {
    const PROBES: &[&str] = &[
        "cavra-probe",
        "src/cavra-probe.rs",
        "/etc/cavra-probe",
        "rm -rf cavra-probe",
    ];
    p.chars().all(|c| {
        matches!(
            c,
            '*' | '?' | '/' | '\\' | '.' | '~' | ' ' | '[' | ']' | '!'
        )
    }) || PROBES.iter().all(|t| crate::glob::glob_match(p, t))
}

#[cfg(feature = "sqlite")]
fn get_in(
    conn: &rusqlite::Connection,
    id: &str,
    map: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<Option<Approval>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLS} FROM approvals WHERE approval_id = ?1"),
        params![id],
        read_raw,
    )
    .optional()
    .map_err(map)?
    .map(RawApproval::finish)
    .transpose()
}

#[cfg(feature = "sqlite")]
impl Store {
    /// Does this approval or break-glass record carry a valid signature of an approving
    /// identity (pending and expired records: irrelevant, `false`)?
    pub fn approval_verified(&self, a: &Approval) -> bool {
        decision_verified(self.trust(), a)
    }

    pub(crate) fn unverified_approval(&self, a: &Approval) -> Unverified {
        unverified_of(a)
    }

    /// One approval by id.
    pub fn approval(&self, id: &str) -> Result<Approval, StoreError> {
        get_in(&self.conn, id, &|e| self.classify(e))?
            .ok_or_else(|| StoreError::UnknownApproval(id.to_string()))
    }

    /// All approvals (newest first), optionally only those whose state at `now` is
    /// `status`. Returned records carry their effective state at `now`.
    pub fn list_approvals(
        &self,
        status: Option<ApprovalState>,
        now: OffsetDateTime,
    ) -> Result<Vec<Approval>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLS} FROM approvals ORDER BY requested_at DESC, rowid DESC"
            ))
            .map_err(|e| self.classify(e))?;
        let raws = stmt
            .query_map([], read_raw)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.classify(e))?;
        let mut out = Vec::new();
        for raw in raws {
            let mut a = raw.finish()?;
            a.state = a.effective_state(now);
            if status.is_none() || status == Some(a.state) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Record a request for approval. If a live pending request with the same
    /// `request_hash` and `session_id` exists, it is returned instead of a duplicate.
    /// Routing (if configured) picks the approver group.
    pub fn create_approval(
        &mut self,
        new: NewApproval,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        let request_hash = require_text("request_hash", &new.request_hash)?;
        let session_id = require_text("session_id", &new.session_id)?;
        let agent_id = require_text("agent_id", &new.agent_id)?;
        let (group, requested_by) = route_new(&self.config, &new, &agent_id);
        let id = new_id("apr")?;
        let history = history_json(
            Vec::new(),
            entry(now, "requested", Some(&requested_by), None),
        )?;
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let tx = self.write_tx()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT approval_id FROM approvals WHERE request_hash = ?1 AND session_id = ?2 \
                 AND state = 'pending' AND expires_at > ?3 ORDER BY requested_at DESC LIMIT 1",
                params![request_hash, session_id, secs(now)],
                |r| r.get(0),
            )
            .optional()
            .map_err(&map)?;
        let id = match existing {
            Some(existing) => existing,
            None => {
                tx.execute(
                    "INSERT INTO approvals (approval_id, request_hash, decision_id, session_id, \
                     agent_id, action_type, target, rule_id, severity, approver_group, \
                     requested_by, repo, state, requested_at, expires_at, single_use, uses, \
                     max_uses, history) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                     ?12, 'pending', ?13, ?14, 1, 0, 1, ?15)",
                    params![
                        id,
                        request_hash,
                        new.decision_id,
                        session_id,
                        agent_id,
                        new.action_type,
                        new.target,
                        new.rule_id,
                        new.severity,
                        group,
                        requested_by,
                        new.repo,
                        secs(now),
                        add_secs(now, new.ttl),
                        history,
                    ],
                )
                .map_err(&map)?;
                id
            }
        };
        tx.commit().map_err(&map)?;
        self.approval(&id)
    }

    /// Use an approval: returns an approved, unexpired approval for `request_hash`
    /// requested by `agent_id` that has uses left, and records one use atomically.
    /// A spent single-use approval (a replay) gives `None`.
    pub fn consume_approval(
        &mut self,
        request_hash: &str,
        agent_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        let mut noted = Vec::new();
        let r = self.consume_inner(request_hash, agent_id, now, &mut noted);
        for u in noted {
            self.note_unverified(u);
        }
        r
    }

    fn consume_inner(
        &mut self,
        request_hash: &str,
        agent_id: &str,
        now: OffsetDateTime,
        noted: &mut Vec<Unverified>,
    ) -> Result<Option<Approval>, StoreError> {
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let trust = self.trust().clone();
        let tx = self.write_tx()?;
        let raws = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {COLS} FROM approvals WHERE request_hash = ?1 AND agent_id = ?2 \
                     AND state = 'approved' AND expires_at > ?3 AND uses < COALESCE(max_uses, 1) \
                     ORDER BY decided_at ASC, rowid ASC"
                ))
                .map_err(&map)?;
            let rows = stmt
                .query_map(params![request_hash, agent_id, secs(now)], read_raw)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(&map)?;
            rows
        };
        let Some(a) = first_granting(raws, &trust, request_hash, agent_id, now, noted)? else {
            return Ok(None);
        };
        let (uses, history) = use_once(&a, request_hash, agent_id, now)?;
        let changed = tx
            .execute(
                "UPDATE approvals SET uses = ?2, history = ?3 WHERE approval_id = ?1 AND uses = ?4",
                params![a.approval_id, uses, history, a.uses],
            )
            .map_err(&map)?;
        if changed != 1 {
            return Ok(None);
        }
        tx.commit().map_err(&map)?;
        self.approval(&a.approval_id).map(Some)
    }

    /// Mark every live record whose time is up as expired; returns them.
    pub fn expire_due(&mut self, now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> {
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let tx = self.write_tx()?;
        let raws = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {COLS} FROM approvals WHERE state IN ('pending', 'approved', \
                     'break_glass') AND expires_at <= ?1"
                ))
                .map_err(&map)?;
            let rows = stmt
                .query_map(params![secs(now)], read_raw)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(&map)?;
            rows
        };
        let mut ids = Vec::new();
        for raw in raws {
            let a = raw.finish()?;
            let history = history_json(
                a.history.clone(),
                entry(now, "expired", None, Some(&format!("was {}", a.state))),
            )?;
            tx.execute(
                "UPDATE approvals SET state = 'expired', history = ?2 WHERE approval_id = ?1",
                params![a.approval_id, history],
            )
            .map_err(&map)?;
            ids.push(a.approval_id);
        }
        tx.commit().map_err(&map)?;
        ids.iter().map(|id| self.approval(id)).collect()
    }

    pub(crate) fn decide(
        &mut self,
        id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
        perm: Permission,
        max_uses: Option<u32>,
    ) -> Result<Approval, StoreError> {
        let d = Decider::new(identity, reason, self.signer.as_ref(), perm, max_uses)?;
        let rbac = self.config.rbac.clone();
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let tx = self.write_tx()?;
        let a =
            get_in(&tx, id, &map)?.ok_or_else(|| StoreError::UnknownApproval(id.to_string()))?;
        let (state, history) = match d.write(&a, rbac.as_ref(), now)? {
            DecideWrite::Decide { state, history } => (state, history),
            DecideWrite::Expire { history } => {
                tx.execute(
                    "UPDATE approvals SET state = 'expired', history = ?2 WHERE approval_id = ?1",
                    params![id, history],
                )
                .map_err(&map)?;
                tx.commit().map_err(&map)?;
                return Err(StoreError::Expired(id.to_string()));
            }
        };
        tx.execute(
            "UPDATE approvals SET state = ?2, decided_by = ?3, decided_at = ?4, \
             decision_reason = ?5, max_uses = ?6, single_use = ?7, history = ?8 \
             WHERE approval_id = ?1",
            params![
                id,
                state.as_str(),
                d.identity,
                secs(now),
                d.reason,
                d.max,
                d.max == 1,
                history
            ],
        )
        .map_err(&map)?;
        sign_in(&tx, id, &d.signer, &map)?;
        tx.commit().map_err(&map)?;
        self.approval(id)
    }

    /// Record a break-glass override: needs an identity and a reason, is scoped to a
    /// request hash and/or an action type + target glob, and expires after `ttl`.
    pub fn break_glass(
        &mut self,
        new: NewBreakGlass,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        let identity = require_text("identity", &new.identity)?;
        let reason = require_text("reason", &new.reason)?;
        let signer = self.signer.clone().ok_or(StoreError::NoSigner)?;
        new.validate()?;
        let (request_hash, _, _) = new.scope();
        // A pending request for the same hash lends its context (and its requester, who
        // may not break the glass for themselves).
        let linked = match &request_hash {
            Some(h) => self
                .conn
                .query_row(
                    &format!(
                        "SELECT {COLS} FROM approvals WHERE request_hash = ?1 AND break_glass = 0 \
                         ORDER BY requested_at DESC LIMIT 1"
                    ),
                    params![h],
                    read_raw,
                )
                .optional()
                .map_err(|e| self.classify(e))?
                .map(RawApproval::finish)
                .transpose()?,
            None => None,
        };
        crate::rules::may_break_glass(&identity, linked.as_ref(), self.config.rbac.as_ref())?;
        let r = break_glass_record(
            new_id("bg")?,
            &new,
            &identity,
            &reason,
            linked.as_ref(),
            now,
        )?;
        let id = r.approval_id.clone();
        let history = encode_history(&r.history)?;
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO approvals (approval_id, request_hash, decision_id, session_id, \
             agent_id, action_type, target, rule_id, severity, approver_group, requested_by, \
             repo, state, requested_at, expires_at, decided_by, decided_at, decision_reason, \
             break_glass, break_glass_reason, single_use, uses, max_uses, history) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'break_glass', ?13, ?14, ?11, \
             ?13, ?15, 1, ?15, 0, 0, NULL, ?16)",
            params![
                id,
                r.request_hash,
                r.decision_id,
                r.session_id,
                r.agent_id,
                r.action_type,
                r.target,
                r.rule_id,
                r.severity,
                r.approver_group,
                r.requested_by,
                r.repo,
                secs(r.requested_at),
                secs(r.expires_at),
                reason,
                history,
            ],
        )
        .map_err(&map)?;
        sign_in(&tx, &id, &signer, &map)?;
        tx.commit().map_err(&map)?;
        self.approval(&id)
    }

    /// Whether any break-glass record is unexpired (signed or not): when none is, no
    /// request is covered and [`Store::active_break_glass`] need not be asked.
    pub fn any_active_break_glass(&self, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM approvals WHERE state = 'break_glass' AND expires_at > ?1)",
            )
            .and_then(|mut stmt| stmt.query_row(params![secs(now)], |r| r.get::<_, bool>(0)))
            .map_err(|e| self.classify(e))
    }

    /// The newest unexpired break-glass record covering this request: same request hash,
    /// or same action type (glob) and a target glob that matches.
    pub fn active_break_glass(
        &self,
        q: &BreakGlassQuery<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        // asked on every decision: the prepared statement is kept with the connection
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM approvals WHERE state = 'break_glass' AND expires_at > ?1 \
                 ORDER BY requested_at DESC, rowid DESC"
            ))
            .map_err(|e| self.classify(e))?;
        let raws = stmt
            .query_map(params![secs(now)], read_raw)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.classify(e))?;
        for raw in raws {
            let a = raw.finish()?;
            if crate::rules::break_glass_covers(&a, q, now) {
                if self.approval_verified(&a) {
                    return Ok(Some(a));
                }
                self.note_unverified(self.unverified_approval(&a));
            }
        }
        Ok(None)
    }

    /// Link an evidence record (e.g. `evidence://<session>/<decision_id>`) to an approval.
    pub fn add_evidence_ref(&mut self, id: &str, reference: &str) -> Result<(), StoreError> {
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let tx = self.write_tx()?;
        let a =
            get_in(&tx, id, &map)?.ok_or_else(|| StoreError::UnknownApproval(id.to_string()))?;
        let mut refs = a.evidence_refs;
        if !refs.iter().any(|r| r == reference) {
            refs.push(reference.to_string());
        }
        let json = serde_json::to_string(&refs).map_err(|e| StoreError::Decode {
            field: "evidence_refs".into(),
            detail: e.to_string(),
        })?;
        tx.execute(
            "UPDATE approvals SET evidence_refs = ?2 WHERE approval_id = ?1",
            params![id, json],
        )
        .map_err(&map)?;
        tx.commit().map_err(&map)?;
        Ok(())
    }
}
