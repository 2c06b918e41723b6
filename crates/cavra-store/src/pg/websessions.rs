//! The web console's sessions in PostgreSQL (the rows and checks of
//! [`crate::websessions`], as the SQLite store keeps them).

use time::OffsetDateTime;

use super::{json_row, select_json, PgStore};
use crate::error::StoreError;
use crate::timefmt::secs;
use crate::websessions::{
    decode, lookup_hash, NewRow, NewWebSession, RawWebSession, WebSession, WEB_SESSION_COLS,
};

impl PgStore {
    /// See [`crate::WebSessionStore::create_web_session`].
    pub fn create_web_session(
        &mut self,
        principal: &str,
        token_id: Option<&str>,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<NewWebSession, StoreError> {
        let row = NewRow::new(principal, ttl, now)?;
        let mut c = self.conn()?;
        c.execute(
            "DELETE FROM console_sessions WHERE expires_at < $1 OR ended_at < $1",
            &[&row.prune_before],
        )?;
        c.execute(
            "INSERT INTO console_sessions (session_id, secret_hash, csrf_token, principal, token_id, created_at, expires_at, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
            &[&row.id, &row.hash, &row.csrf, &principal, &token_id, &secs(now), &row.expires],
        )?;
        Ok(NewWebSession {
            session: row.session(principal, token_id, now)?,
            secret: row.secret,
        })
    }

    /// See [`crate::WebSessionStore::web_session`].
    pub fn web_session(
        &self,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<Option<WebSession>, StoreError> {
        let Some(hash) = lookup_hash(secret) else {
            return Ok(None);
        };
        let row: Option<RawWebSession> = json_row(
            &mut *self.conn()?,
            &format!(
                "{} FROM console_sessions WHERE secret_hash = $1",
                select_json(WEB_SESSION_COLS)
            ),
            &[&hash],
        )?;
        row.map_or(Ok(None), |r| decode(r, now))
    }

    /// See [`crate::WebSessionStore::end_web_session`].
    pub fn end_web_session(
        &mut self,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let Some(hash) = lookup_hash(secret) else {
            return Ok(false);
        };
        let n = self.conn()?.execute(
            "UPDATE console_sessions SET ended_at = $2 WHERE secret_hash = $1 AND ended_at IS NULL",
            &[&hash, &secs(now)],
        )?;
        Ok(n > 0)
    }
}
