//! Approval requests and break-glass records in PostgreSQL: the SQLite store's flow, with
//! the rows a change decides on locked `FOR UPDATE`.

use postgres::GenericClient;
use time::OffsetDateTime;

use super::{json_row, json_rows, select_json, PgStore};
use crate::approvals::{
    attest_approval, break_glass_record, decision_verified, encode_history, entry, first_granting,
    history_json, new_id, require_text, route_new, unverified_of, use_once, Approval,
    ApprovalState, BreakGlassQuery, DecideWrite, Decider, NewApproval, NewBreakGlass, RawApproval,
    COLS,
};
use crate::config::Permission;
use crate::error::StoreError;
use crate::tamper::Unverified;
use crate::timefmt::{add_secs, secs};

/// The record `id`, locked for this transaction when `lock`.
fn get_in(
    c: &mut impl GenericClient,
    id: &str,
    lock: bool,
) -> Result<Option<Approval>, StoreError> {
    let sql = format!(
        "{} FROM approvals WHERE approval_id = $1{}",
        select_json(COLS),
        if lock { " FOR UPDATE" } else { "" }
    );
    json_row::<RawApproval>(c, &sql, &[&id])?
        .map(RawApproval::finish)
        .transpose()
}

/// Sign the record `id` as it is now in `tx` and store the attestation.
fn sign_in(
    tx: &mut impl GenericClient,
    id: &str,
    signer: &crate::approver::Signer,
) -> Result<(), StoreError> {
    let a = get_in(tx, id, false)?.ok_or_else(|| StoreError::UnknownApproval(id.to_string()))?;
    tx.execute(
        "UPDATE approvals SET attestation = $2 WHERE approval_id = $1",
        &[&id, &attest_approval(&a, signer)],
    )?;
    Ok(())
}

fn finish_all(raws: Vec<RawApproval>) -> Result<Vec<Approval>, StoreError> {
    raws.into_iter().map(RawApproval::finish).collect()
}

impl PgStore {
    /// Does this record carry a valid signature of an approving identity?
    pub fn approval_verified(&self, a: &Approval) -> bool {
        decision_verified(self.trust(), a)
    }

    /// One approval by id.
    pub fn approval(&self, id: &str) -> Result<Approval, StoreError> {
        get_in(&mut *self.conn()?, id, false)?
            .ok_or_else(|| StoreError::UnknownApproval(id.to_string()))
    }

    /// All approvals (newest first) with their state at `now`; only `status` when given.
    pub fn list_approvals(
        &self,
        status: Option<ApprovalState>,
        now: OffsetDateTime,
    ) -> Result<Vec<Approval>, StoreError> {
        let raws: Vec<RawApproval> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM approvals ORDER BY requested_at DESC, seq DESC",
                select_json(COLS)
            ),
            &[],
        )?;
        let mut out = Vec::new();
        for mut a in finish_all(raws)? {
            a.state = a.effective_state(now);
            if status.is_none() || status == Some(a.state) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Record a request for approval; a live pending request of the same hash and session
    /// is returned instead of a duplicate, also when two replicas file it at once (they
    /// queue on an advisory lock of the pair).
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
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(10) || $2, 0))",
            &[&request_hash, &session_id],
        )?;
        let existing = tx.query_opt(
            "SELECT approval_id FROM approvals WHERE request_hash = $1 AND session_id = $2 \
             AND state = 'pending' AND expires_at > $3 ORDER BY requested_at DESC LIMIT 1",
            &[&request_hash, &session_id, &secs(now)],
        )?;
        let id = match existing {
            Some(row) => row.try_get(0)?,
            None => {
                tx.execute(
                    "INSERT INTO approvals (approval_id, request_hash, decision_id, session_id, \
                     agent_id, action_type, target, rule_id, severity, approver_group, \
                     requested_by, repo, state, requested_at, expires_at, single_use, uses, \
                     max_uses, history) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                     $12, 'pending', $13, $14, TRUE, 0, 1, $15)",
                    &[
                        &id,
                        &request_hash,
                        &new.decision_id,
                        &session_id,
                        &agent_id,
                        &new.action_type,
                        &new.target,
                        &new.rule_id,
                        &new.severity,
                        &group,
                        &requested_by,
                        &new.repo,
                        &secs(now),
                        &add_secs(now, new.ttl),
                        &history,
                    ],
                )?;
                id
            }
        };
        tx.commit()?;
        drop(c);
        self.approval(&id)
    }

    /// Use an approval once: an approved, unexpired, signed record of this request and
    /// agent with uses left. Two replicas racing for the last use: the candidates are
    /// locked `FOR UPDATE`, so the second waits, re-reads the spent row and gets `None`.
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
        let trust = self.trust().clone();
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let raws: Vec<RawApproval> = json_rows(
            &mut tx,
            &format!(
                "{} FROM approvals WHERE request_hash = $1 AND agent_id = $2 \
                 AND state = 'approved' AND expires_at > $3 AND uses < COALESCE(max_uses, 1) \
                 ORDER BY decided_at ASC, seq ASC FOR UPDATE",
                select_json(COLS)
            ),
            &[&request_hash, &agent_id, &secs(now)],
        )?;
        let Some(a) = first_granting(raws, &trust, request_hash, agent_id, now, noted)? else {
            return Ok(None);
        };
        let (uses, history) = use_once(&a, request_hash, agent_id, now)?;
        let changed = tx.execute(
            "UPDATE approvals SET uses = $2, history = $3 WHERE approval_id = $1 AND uses = $4",
            &[
                &a.approval_id,
                &i64::from(uses),
                &history,
                &i64::from(a.uses),
            ],
        )?;
        if changed != 1 {
            return Ok(None);
        }
        tx.commit()?;
        drop(c);
        self.approval(&a.approval_id).map(Some)
    }

    /// Mark every live record whose time is up as expired; returns them.
    pub fn expire_due(&mut self, now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let raws: Vec<RawApproval> = json_rows(
            &mut tx,
            &format!(
                "{} FROM approvals WHERE state IN ('pending', 'approved', 'break_glass') \
                 AND expires_at <= $1 ORDER BY seq FOR UPDATE",
                select_json(COLS)
            ),
            &[&secs(now)],
        )?;
        let mut ids = Vec::new();
        for a in finish_all(raws)? {
            let history = history_json(
                a.history.clone(),
                entry(now, "expired", None, Some(&format!("was {}", a.state))),
            )?;
            tx.execute(
                "UPDATE approvals SET state = 'expired', history = $2 WHERE approval_id = $1",
                &[&a.approval_id, &history],
            )?;
            ids.push(a.approval_id);
        }
        tx.commit()?;
        drop(c);
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
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let a = get_in(&mut tx, id, true)?
            .ok_or_else(|| StoreError::UnknownApproval(id.to_string()))?;
        let (state, history) = match d.write(&a, rbac.as_ref(), now)? {
            DecideWrite::Decide { state, history } => (state, history),
            DecideWrite::Expire { history } => {
                tx.execute(
                    "UPDATE approvals SET state = 'expired', history = $2 WHERE approval_id = $1",
                    &[&id, &history],
                )?;
                tx.commit()?;
                return Err(StoreError::Expired(id.to_string()));
            }
        };
        tx.execute(
            "UPDATE approvals SET state = $2, decided_by = $3, decided_at = $4, \
             decision_reason = $5, max_uses = $6, single_use = $7, history = $8 \
             WHERE approval_id = $1",
            &[
                &id,
                &state.as_str(),
                &d.identity,
                &secs(now),
                &d.reason,
                &i64::from(d.max),
                &(d.max == 1),
                &history,
            ],
        )?;
        sign_in(&mut tx, id, &d.signer)?;
        tx.commit()?;
        drop(c);
        self.approval(id)
    }

    /// Record a break-glass override (checks of [`NewBreakGlass::validate`] and
    /// [`crate::rules::may_break_glass`]).
    pub fn break_glass(
        &mut self,
        new: NewBreakGlass,
        now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        let identity = require_text("identity", &new.identity)?;
        let reason = require_text("reason", &new.reason)?;
        let signer = self.signer.clone().ok_or(StoreError::NoSigner)?;
        new.validate()?;
        let mut c = self.conn()?;
        let linked = match new.request_hash.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => json_row::<RawApproval>(
                &mut *c,
                &format!(
                    "{} FROM approvals WHERE request_hash = $1 AND NOT break_glass \
                     ORDER BY requested_at DESC, seq DESC LIMIT 1",
                    select_json(COLS)
                ),
                &[&h],
            )?
            .map(RawApproval::finish)
            .transpose()?,
            _ => None,
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
        let mut tx = c.transaction()?;
        tx.execute(
            "INSERT INTO approvals (approval_id, request_hash, decision_id, session_id, \
             agent_id, action_type, target, rule_id, severity, approver_group, requested_by, \
             repo, state, requested_at, expires_at, decided_by, decided_at, decision_reason, \
             break_glass, break_glass_reason, single_use, uses, max_uses, history) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'break_glass', $13, $14, $11, \
             $13, $15, TRUE, $15, FALSE, 0, NULL, $16)",
            &[
                &r.approval_id,
                &r.request_hash,
                &r.decision_id,
                &r.session_id,
                &r.agent_id,
                &r.action_type,
                &r.target,
                &r.rule_id,
                &r.severity,
                &r.approver_group,
                &r.requested_by,
                &r.repo,
                &secs(r.requested_at),
                &secs(r.expires_at),
                &reason,
                &encode_history(&r.history)?,
            ],
        )?;
        sign_in(&mut tx, &r.approval_id, &signer)?;
        // replicas that cached "no break-glass is active" forget it at commit
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&super::tokens::LOOKUPS_CHANNEL, &"break_glass"],
        )?;
        tx.commit()?;
        drop(c);
        self.approval(&r.approval_id)
    }

    /// Whether any break-glass record is unexpired (signed or not): when none is, no
    /// request is covered and [`PgStore::active_break_glass`] need not be asked.
    pub fn any_active_break_glass(&self, now: OffsetDateTime) -> Result<bool, StoreError> {
        let row = self.conn()?.query_one(
            "SELECT EXISTS (SELECT 1 FROM approvals WHERE state = 'break_glass' AND expires_at > $1)",
            &[&secs(now)],
        )?;
        Ok(row.get::<_, bool>(0))
    }

    /// The newest unexpired, signed break-glass record covering this request.
    pub fn active_break_glass(
        &self,
        q: &BreakGlassQuery<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        let raws: Vec<RawApproval> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM approvals WHERE state = 'break_glass' AND expires_at > $1 \
                 ORDER BY requested_at DESC, seq DESC",
                select_json(COLS)
            ),
            &[&secs(now)],
        )?;
        for a in finish_all(raws)? {
            if crate::rules::break_glass_covers(&a, q, now) {
                if self.approval_verified(&a) {
                    return Ok(Some(a));
                }
                self.note_unverified(unverified_of(&a));
            }
        }
        Ok(None)
    }

    /// Link an evidence record to an approval.
    pub fn add_evidence_ref(&mut self, id: &str, reference: &str) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let a = get_in(&mut tx, id, true)?
            .ok_or_else(|| StoreError::UnknownApproval(id.to_string()))?;
        let mut refs = a.evidence_refs;
        if !refs.iter().any(|r| r == reference) {
            refs.push(reference.to_string());
        }
        let json = serde_json::to_string(&refs).map_err(|e| StoreError::Decode {
            field: "evidence_refs".into(),
            detail: e.to_string(),
        })?;
        tx.execute(
            "UPDATE approvals SET evidence_refs = $2 WHERE approval_id = $1",
            &[&id, &json],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every row that claims authority without a valid signature.
    pub fn audit_records(&self) -> Result<Vec<Unverified>, StoreError> {
        let raws: Vec<RawApproval> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM approvals WHERE state IN ('approved', 'denied', 'break_glass') \
                 ORDER BY requested_at, seq",
                select_json(COLS)
            ),
            &[],
        )?;
        let mut out: Vec<Unverified> = finish_all(raws)?
            .iter()
            .filter(|a| !self.approval_verified(a))
            .map(unverified_of)
            .collect();
        out.extend(self.unverified_releases()?);
        Ok(out)
    }
}
