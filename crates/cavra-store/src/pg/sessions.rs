//! Session escalation in PostgreSQL: blocked attempts of one session are counted under a
//! lock of its row, so replicas recording blocks at once agree on when it is held.

use postgres::GenericClient;
use time::OffsetDateTime;

use super::{json_row, json_rows, select_json, PgStore};
use crate::approvals::require_text;
use crate::error::StoreError;
use crate::sessions::{
    attest_release, check_release, count_since, held_by, session_from, RawBlock, RawSession,
    ReleaseRow, SessionState, SessionTransition, RELEASE_COLS, SESSION_COLS,
};
use crate::tamper::Unverified;
use crate::timefmt::secs;

fn load(c: &mut impl GenericClient, id: &str) -> Result<Option<SessionState>, StoreError> {
    let raw: Option<RawSession> = json_row(
        c,
        &format!(
            "{} FROM sessions WHERE session_id = $1",
            select_json(SESSION_COLS)
        ),
        &[&id],
    )?;
    let Some(raw) = raw else { return Ok(None) };
    let blocks: Vec<RawBlock> = json_rows(
        c,
        &format!(
            "{} FROM session_blocks WHERE session_id = $1 ORDER BY at DESC, seq DESC LIMIT 100",
            select_json("at, severity, agent_id")
        ),
        &[&id],
    )?;
    session_from(raw, blocks).map(Some)
}

impl PgStore {
    /// Released sessions whose release is not signed by an approving identity.
    pub(crate) fn unverified_releases(&self) -> Result<Vec<Unverified>, StoreError> {
        let rows: Vec<ReleaseRow> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM sessions WHERE NOT held AND held_at IS NOT NULL ORDER BY session_id",
                select_json(RELEASE_COLS)
            ),
            &[],
        )?;
        let trust = self.trust();
        Ok(rows
            .iter()
            .filter_map(|r| check_release(trust, r))
            .collect())
    }

    /// Record a blocked attempt and apply the escalation policy
    /// ([`crate::rules::hold_reason`]).
    pub fn record_block(
        &mut self,
        session_id: &str,
        agent_id: &str,
        severity: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        let session_id = require_text("session_id", session_id)?;
        let agent_id = require_text("agent_id", agent_id)?;
        let severity = severity.trim().to_ascii_lowercase();
        let policy = self.escalation;
        let t = secs(now);
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        tx.execute(
            "INSERT INTO sessions (session_id, agent_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (session_id) DO NOTHING",
            &[&session_id, &agent_id, &t],
        )?;
        let row = tx.query_one(
            "SELECT held, released_at FROM sessions WHERE session_id = $1 FOR UPDATE",
            &[&session_id],
        )?;
        let (held, released_at): (bool, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        tx.execute(
            "INSERT INTO session_blocks (session_id, at, severity, agent_id) \
             VALUES ($1, $2, $3, $4)",
            &[&session_id, &t, &severity, &agent_id],
        )?;
        tx.execute(
            "UPDATE sessions SET total_blocks = total_blocks + 1, updated_at = $2 \
             WHERE session_id = $1",
            &[&session_id, &t],
        )?;
        let mut transition = None;
        if !held {
            let since = count_since(&policy, t, released_at);
            let count: i64 = tx
                .query_one(
                    "SELECT count(*) FROM session_blocks WHERE session_id = $1 AND at >= $2",
                    &[&session_id, &since],
                )?
                .try_get(0)?;
            let reason =
                crate::rules::hold_reason(&policy, &severity, u64::try_from(count).unwrap_or(0));
            if let Some(reason) = reason {
                tx.execute(
                    "UPDATE sessions SET held = TRUE, held_reason = $2, held_at = $3 \
                     WHERE session_id = $1",
                    &[&session_id, &reason, &t],
                )?;
                transition = Some(SessionTransition::Held);
            }
        }
        let mut state =
            load(&mut tx, &session_id)?.ok_or(StoreError::UnknownSession(session_id))?;
        tx.commit()?;
        state.transition = transition;
        Ok(state)
    }

    /// Is this session on hold? A release not signed by an approving identity leaves it
    /// held (and is noted).
    pub fn is_held(&self, session_id: &str) -> Result<bool, StoreError> {
        let row: Option<ReleaseRow> = json_row(
            &mut *self.conn()?,
            &format!(
                "{} FROM sessions WHERE session_id = $1",
                select_json(RELEASE_COLS)
            ),
            &[&session_id],
        )?;
        let (held, unverified) = held_by(self.trust(), row.as_ref());
        if let Some(u) = unverified {
            self.note_unverified(u);
        }
        Ok(held)
    }

    /// One session.
    pub fn session(&self, session_id: &str) -> Result<Option<SessionState>, StoreError> {
        load(&mut *self.conn()?, session_id)
    }

    /// Every known session, most recently active first.
    pub fn list_sessions(&self) -> Result<Vec<SessionState>, StoreError> {
        let mut c = self.conn()?;
        let ids: Vec<String> = c
            .query(
                "SELECT session_id FROM sessions ORDER BY updated_at DESC, session_id",
                &[],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        ids.iter()
            .filter_map(|id| load(&mut *c, id).transpose())
            .collect()
    }

    /// Release a held session ([`crate::rules::may_release`]), signed by the releasing
    /// identity.
    pub fn release(
        &mut self,
        session_id: &str,
        identity: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        let identity = require_text("identity", identity)?;
        let reason = require_text("reason", reason)?;
        let signer = self.signer.clone().ok_or(StoreError::NoSigner)?;
        let trust = self.trust().clone();
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let row: Option<ReleaseRow> = json_row(
            &mut tx,
            &format!(
                "{} FROM sessions WHERE session_id = $1 FOR UPDATE",
                select_json(RELEASE_COLS)
            ),
            &[&session_id],
        )?;
        let state = load(&mut tx, session_id)?
            .ok_or_else(|| StoreError::UnknownSession(session_id.to_string()))?;
        // a row set to "not held" by other means still counts as held
        let (held, unverified) = held_by(&trust, row.as_ref());
        if let Some(u) = unverified {
            self.note_unverified(u);
        }
        crate::rules::may_release(&state, held, &identity, self.config.rbac.as_ref())?;
        let t = secs(now);
        let att = attest_release(&state, &identity, t, &reason, &signer);
        let n = tx.execute(
            "UPDATE sessions SET held = FALSE, released_by = $2, released_at = $3, \
             release_reason = $4, updated_at = $3, release_attestation = $5 \
             WHERE session_id = $1",
            &[&session_id, &identity, &t, &reason, &att],
        )?;
        if n == 0 {
            return Err(StoreError::NotHeld(session_id.to_string()));
        }
        let mut state = load(&mut tx, session_id)?
            .ok_or_else(|| StoreError::UnknownSession(session_id.to_string()))?;
        tx.commit()?;
        state.transition = Some(SessionTransition::Released);
        Ok(state)
    }
}
