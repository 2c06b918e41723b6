//! Session escalation: count blocked attempts per session; too many in a window, or any
//! critical one, puts the session on hold until a human releases it.

use std::time::Duration;

#[cfg(feature = "sqlite")]
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use time::OffsetDateTime;

#[cfg(feature = "sqlite")]
use crate::approvals::require_text;
use crate::approver::{ApproverTrust, Attestation, Signer};
#[cfg(feature = "sqlite")]
use crate::db::{classify, Store};
use crate::error::StoreError;
use crate::tamper::Unverified;
use crate::timefmt::{from_secs, secs};

/// When a session is put on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// Blocked attempts within `window` that put the session on hold.
    pub max_blocks: u32,
    pub window: Duration,
    /// A critical-severity blocked attempt holds the session at once.
    pub hold_on_critical: bool,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        EscalationPolicy {
            max_blocks: 5,
            window: Duration::from_secs(600),
            hold_on_critical: true,
        }
    }
}

/// One blocked attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockEntry {
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub at: OffsetDateTime,
    pub severity: String,
    pub agent_id: String,
}

/// What changed in the last call, for the caller to record as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionTransition {
    Held,
    Released,
}

/// A session's escalation state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionState {
    pub session_id: String,
    pub agent_id: String,
    pub held: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_reason: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::timefmt::ser_opt"
    )]
    pub held_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::timefmt::ser_opt"
    )]
    pub released_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_reason: Option<String>,
    pub total_blocks: u32,
    /// Blocked attempts (newest first, at most 100).
    pub blocks: Vec<BlockEntry>,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub updated_at: OffsetDateTime,
    /// Set when this call put the session on hold or released it (evidence it!).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition: Option<SessionTransition>,
}

/// The [`SESSION_COLS`] of a row, in order.
pub(crate) type RawSession = (
    String,
    String,
    bool,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

#[cfg(feature = "sqlite")]
fn load(
    conn: &rusqlite::Connection,
    id: &str,
    map: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<Option<SessionState>, StoreError> {
    let raw: Option<RawSession> = conn
        .query_row(
            &format!("SELECT {SESSION_COLS} FROM sessions WHERE session_id = ?1"),
            params![id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )
        .optional()
        .map_err(map)?;
    let Some(r) = raw else { return Ok(None) };
    let mut stmt = conn
        .prepare(
            "SELECT at, severity, agent_id FROM session_blocks WHERE session_id = ?1 \
             ORDER BY at DESC, rowid DESC LIMIT 100",
        )
        .map_err(map)?;
    let blocks = stmt
        .query_map(params![id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(map)?;
    session_from(r, blocks).map(Some)
}

/// The columns of a session row, in [`RawSession`] order.
pub(crate) const SESSION_COLS: &str = "session_id, agent_id, held, held_reason, held_at, \
    released_by, released_at, release_reason, total_blocks, updated_at";

/// A blocked attempt as stored: (at, severity, agent id).
pub(crate) type RawBlock = (i64, String, String);

/// Decode a session row and its blocked attempts (newest first).
pub(crate) fn session_from(
    r: RawSession,
    blocks: Vec<RawBlock>,
) -> Result<SessionState, StoreError> {
    let blocks = blocks
        .into_iter()
        .map(|(at, severity, agent_id)| {
            Ok(BlockEntry {
                at: from_secs("session_blocks.at", at)?,
                severity,
                agent_id,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(SessionState {
        session_id: r.0,
        agent_id: r.1,
        held: r.2,
        held_reason: r.3,
        held_at: r.4.map(|s| from_secs("held_at", s)).transpose()?,
        released_by: r.5,
        released_at: r.6.map(|s| from_secs("released_at", s)).transpose()?,
        release_reason: r.7,
        total_blocks: u32::try_from(r.8).unwrap_or(u32::MAX),
        blocks,
        updated_at: from_secs("updated_at", r.9)?,
        transition: None,
    })
}

/// Where the blocks that count towards a hold start at `t` (unix seconds): the window,
/// and never before the last release (blocks before it do not count again).
pub(crate) fn count_since(policy: &EscalationPolicy, t: i64, released_at: Option<i64>) -> i64 {
    let window = i64::try_from(policy.window.as_secs()).unwrap_or(i64::MAX);
    t.saturating_sub(window)
        .max(released_at.map_or(i64::MIN, |r| r.saturating_add(1)))
}

/// Is the session of `row` (`None`: unknown) held? A release that does not verify leaves
/// it held; the unverified release is returned to be noted.
pub(crate) fn held_by(
    trust: &ApproverTrust,
    row: Option<&ReleaseRow>,
) -> (bool, Option<Unverified>) {
    let Some(row) = row else { return (false, None) };
    if row.2 {
        return (true, None);
    }
    match check_release(trust, row) {
        Some(u) => (true, Some(u)),
        None => (false, None),
    }
}

/// The signature of `signer` over the release of `state` by `identity` at `t`.
pub(crate) fn attest_release(
    state: &SessionState,
    identity: &str,
    t: i64,
    reason: &str,
    signer: &Signer,
) -> String {
    signer
        .key
        .attest(
            RELEASE_KIND,
            &release_fields(
                &state.session_id,
                &state.agent_id,
                state.held_at.map(secs),
                Some(identity),
                Some(t),
                Some(reason),
            ),
            signer.method,
            signer.label.as_deref(),
        )
        .to_json()
}

pub(crate) const RELEASE_KIND: &str = "cavra.session.release.v1";

/// What the releasing identity signs: the session, the hold it lifts (`held_at`) and the
/// release itself.
pub(crate) fn release_fields(
    session_id: &str,
    agent_id: &str,
    held_at: Option<i64>,
    released_by: Option<&str>,
    released_at: Option<i64>,
    reason: Option<&str>,
) -> serde_json::Value {
    serde_json::json!([
        session_id,
        agent_id,
        held_at,
        released_by,
        released_at,
        reason
    ])
}

/// A session row as far as the release check needs it.
pub(crate) type ReleaseRow = (
    String,
    String,
    bool,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

pub(crate) const RELEASE_COLS: &str =
    "session_id, agent_id, held, held_at, released_by, released_at, \
    release_reason, release_attestation";

#[cfg(feature = "sqlite")]
fn read_release(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReleaseRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

/// `None` when the row is consistent (held, never held, or released with a valid
/// signature); else the unverified release.
pub(crate) fn check_release(trust: &ApproverTrust, r: &ReleaseRow) -> Option<Unverified> {
    let (id, agent, held, held_at, by, at, reason, att) = r;
    if *held || held_at.is_none() {
        return None;
    }
    let fields = release_fields(id, agent, *held_at, by.as_deref(), *at, reason.as_deref());
    let ok = att
        .as_deref()
        .and_then(Attestation::parse)
        .is_some_and(|a| trust.verify_attestation(RELEASE_KIND, &fields, &a));
    (!ok).then(|| Unverified::new("sessions", id, "released", *at, att.as_deref()))
}

#[cfg(feature = "sqlite")]
impl Store {
    /// Released sessions whose release is not signed by an approving identity.
    pub(crate) fn unverified_releases(&self) -> Result<Vec<Unverified>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {RELEASE_COLS} FROM sessions WHERE held = 0 AND held_at IS NOT NULL"
            ))
            .map_err(|e| self.classify(e))?;
        let rows = stmt
            .query_map([], read_release)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.classify(e))?;
        let trust = self.trust();
        Ok(rows
            .iter()
            .filter_map(|r| check_release(trust, r))
            .collect())
    }

    /// Record a blocked attempt in a session and apply the escalation policy. The
    /// returned state has `transition == Some(Held)` when this call put it on hold.
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
        let (path, busy) = (self.path.clone(), self.busy_timeout);
        let map = move |e| classify(&path, busy, e);
        let t = secs(now);
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO sessions (session_id, agent_id, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?3) ON CONFLICT(session_id) DO NOTHING",
            params![session_id, agent_id, t],
        )
        .map_err(&map)?;
        tx.execute(
            "INSERT INTO session_blocks (session_id, at, severity, agent_id) VALUES (?1, ?2, ?3, ?4)",
            params![session_id, t, severity, agent_id],
        )
        .map_err(&map)?;
        tx.execute(
            "UPDATE sessions SET total_blocks = total_blocks + 1, updated_at = ?2 WHERE session_id = ?1",
            params![session_id, t],
        )
        .map_err(&map)?;
        let (held, released_at): (bool, Option<i64>) = tx
            .query_row(
                "SELECT held, released_at FROM sessions WHERE session_id = ?1",
                params![session_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&map)?;
        let mut transition = None;
        if !held {
            let since = count_since(&policy, t, released_at);
            let count: i64 = tx
                .query_row(
                    "SELECT count(*) FROM session_blocks WHERE session_id = ?1 AND at >= ?2",
                    params![session_id, since],
                    |r| r.get(0),
                )
                .map_err(&map)?;
            let reason =
                crate::rules::hold_reason(&policy, &severity, u64::try_from(count).unwrap_or(0));
            if let Some(reason) = reason {
                tx.execute(
                    "UPDATE sessions SET held = 1, held_reason = ?2, held_at = ?3 WHERE session_id = ?1",
                    params![session_id, reason, t],
                )
                .map_err(&map)?;
                transition = Some(SessionTransition::Held);
            }
        }
        tx.commit().map_err(&map)?;
        let mut state = self
            .session(&session_id)?
            .ok_or(StoreError::UnknownSession(session_id))?;
        state.transition = transition;
        Ok(state)
    }

    /// Is this session on hold? (Unknown sessions are not.) A session that was held and
    /// whose release is not signed by an approving identity is still held (the forged
    /// release is noted, see [`Store::take_unverified`]).
    pub fn is_held(&self, session_id: &str) -> Result<bool, StoreError> {
        let row: Option<ReleaseRow> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLS} FROM sessions WHERE session_id = ?1"
            ))
            .and_then(|mut st| st.query_row(params![session_id], read_release))
            .optional()
            .map_err(|e| self.classify(e))?;
        let (held, unverified) = held_by(self.trust(), row.as_ref());
        if let Some(u) = unverified {
            self.note_unverified(u);
        }
        Ok(held)
    }

    /// One session.
    pub fn session(&self, session_id: &str) -> Result<Option<SessionState>, StoreError> {
        load(&self.conn, session_id, &|e| self.classify(e))
    }

    /// Every known session, most recently active first.
    pub fn list_sessions(&self) -> Result<Vec<SessionState>, StoreError> {
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT session_id FROM sessions ORDER BY updated_at DESC, session_id")
                .map_err(|e| self.classify(e))?;
            let rows = stmt
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.classify(e))?;
            rows
        };
        ids.iter()
            .filter_map(|id| self.session(id).transpose())
            .collect()
    }

    /// Release a held session. The agent of the session cannot release it; with an RBAC
    /// file, `identity` must be allowed to approve in some group.
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
        let state = self
            .session(session_id)?
            .ok_or_else(|| StoreError::UnknownSession(session_id.to_string()))?;
        // a row set to "not held" by other means still counts as held
        let held = state.held || self.is_held(session_id)?;
        crate::rules::may_release(&state, held, &identity, self.config.rbac.as_ref())?;
        let t = secs(now);
        let att = attest_release(&state, &identity, t, &reason, &signer);
        let n = self
            .conn
            .execute(
                "UPDATE sessions SET held = 0, released_by = ?2, released_at = ?3, \
                 release_reason = ?4, updated_at = ?3, release_attestation = ?5 \
                 WHERE session_id = ?1",
                params![session_id, identity, t, reason, att],
            )
            .map_err(|e| self.classify(e))?;
        if n == 0 {
            return Err(StoreError::NotHeld(session_id.to_string()));
        }
        let mut state = self
            .session(session_id)?
            .ok_or_else(|| StoreError::UnknownSession(session_id.to_string()))?;
        state.transition = Some(SessionTransition::Released);
        Ok(state)
    }
}
