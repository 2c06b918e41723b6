//! The web console's sign-in sessions (`cavra serve` at `/`): a person signs in once
//! (with a server token or at the OIDC issuer) and the browser holds a random cookie for
//! it. The store keeps only the cookie's SHA-256, the per-session CSRF token every
//! mutation must echo, the authenticated principal (opaque JSON: the server's) and the
//! expiry, so every replica on one database sees the same sessions.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::tokens::{random_hex, token_hash};

/// Prefix (format and version) of a console session cookie value.
pub const WEB_SESSION_PREFIX: &str = "cavra-web.v1.";
/// Longest cookie value looked up (bytes).
const MAX_SECRET_LEN: usize = 128;
/// Longest principal document kept (bytes).
const MAX_PRINCIPAL_LEN: usize = 16 * 1024;
/// Ended or expired sessions are deleted this long after their end.
const KEEP_ENDED_SECS: i64 = 24 * 3600;

/// A console session as stored (never its cookie).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WebSession {
    pub id: String,
    /// The token every mutation of this session sends in `X-CSRF-Token`.
    pub csrf_token: String,
    /// The principal as the server wrote it (JSON).
    pub principal: String,
    /// The server token the person signed in with (checked again on every request).
    pub token_id: Option<String>,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub expires_at: OffsetDateTime,
}

/// A session just created: the cookie value is in this result only.
#[derive(Debug, Clone)]
pub struct NewWebSession {
    pub secret: String,
    pub session: WebSession,
}

/// The columns a session is read from, in the order of [`RawWebSession`].
pub(crate) const WEB_SESSION_COLS: &str =
    "session_id, csrf_token, principal, token_id, created_at, expires_at, ended_at";

pub(crate) type RawWebSession = (
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

/// What a backend writes for a new session.
pub(crate) struct NewRow {
    pub id: String,
    pub secret: String,
    pub hash: String,
    pub csrf: String,
    pub expires: i64,
    /// Rows that ended before this are deleted.
    pub prune_before: i64,
}

impl NewRow {
    pub(crate) fn new(
        principal: &str,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<NewRow, StoreError> {
        if principal.is_empty() || principal.len() > MAX_PRINCIPAL_LEN {
            return Err(StoreError::input(
                "principal",
                format!("a session's principal is 1 to {MAX_PRINCIPAL_LEN} bytes of JSON"),
            ));
        }
        if ttl.is_zero() {
            return Err(StoreError::input(
                "ttl",
                "a console session lasts more than 0 seconds",
            ));
        }
        let secret = format!("{WEB_SESSION_PREFIX}{}", random_hex(32));
        let now_s = crate::timefmt::secs(now);
        Ok(NewRow {
            id: format!("web-{}", random_hex(8)),
            hash: token_hash(&secret),
            secret,
            csrf: random_hex(32),
            expires: crate::timefmt::add_secs(now, ttl),
            prune_before: now_s.saturating_sub(KEEP_ENDED_SECS),
        })
    }

    pub(crate) fn session(
        &self,
        principal: &str,
        token_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<WebSession, StoreError> {
        Ok(WebSession {
            id: self.id.clone(),
            csrf_token: self.csrf.clone(),
            principal: principal.to_string(),
            token_id: token_id.map(str::to_string),
            created_at: now,
            expires_at: crate::timefmt::from_secs("console_sessions.expires_at", self.expires)?,
        })
    }
}

/// The hash a presented cookie is looked up by; `None` for a value not of the session
/// form, refused without a lookup.
pub(crate) fn lookup_hash(secret: &str) -> Option<String> {
    (secret.len() <= MAX_SECRET_LEN && secret.starts_with(WEB_SESSION_PREFIX))
        .then(|| token_hash(secret))
}

/// A stored row as a session, `None` when it has ended or expired at `now`.
pub(crate) fn decode(
    row: RawWebSession,
    now: OffsetDateTime,
) -> Result<Option<WebSession>, StoreError> {
    use crate::timefmt::from_secs;
    let (id, csrf_token, principal, token_id, created, expires, ended) = row;
    let s = WebSession {
        id,
        csrf_token,
        principal,
        token_id,
        created_at: from_secs("console_sessions.created_at", created)?,
        expires_at: from_secs("console_sessions.expires_at", expires)?,
    };
    Ok((ended.is_none() && s.expires_at > now).then_some(s))
}

pub use crate::backend::WebSessionStore;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use crate::db::Store;
    use crate::timefmt::secs;
    use rusqlite::{params, OptionalExtension as _};

    impl Store {
        /// See [`WebSessionStore::create_web_session`].
        pub fn create_web_session(
            &mut self,
            principal: &str,
            token_id: Option<&str>,
            ttl: std::time::Duration,
            now: OffsetDateTime,
        ) -> Result<NewWebSession, StoreError> {
            let row = NewRow::new(principal, ttl, now)?;
            self.conn
                .execute(
                    "DELETE FROM console_sessions WHERE expires_at < ?1 OR ended_at < ?1",
                    params![row.prune_before],
                )
                .map_err(|e| self.classify(e))?;
            self.conn
                .execute(
                    "INSERT INTO console_sessions (session_id, secret_hash, csrf_token, principal, token_id, created_at, expires_at, ended_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
                    params![row.id, row.hash, row.csrf, principal, token_id, secs(now), row.expires],
                )
                .map_err(|e| self.classify(e))?;
            Ok(NewWebSession {
                session: row.session(principal, token_id, now)?,
                secret: row.secret,
            })
        }

        /// See [`WebSessionStore::web_session`].
        pub fn web_session(
            &self,
            secret: &str,
            now: OffsetDateTime,
        ) -> Result<Option<WebSession>, StoreError> {
            let Some(hash) = lookup_hash(secret) else {
                return Ok(None);
            };
            let row = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {WEB_SESSION_COLS} FROM console_sessions WHERE secret_hash = ?1"
                ))
                .and_then(|mut st| st.query_row(params![hash], |r| RawWebSession::try_from(r)))
                .optional()
                .map_err(|e| self.classify(e))?;
            row.map_or(Ok(None), |r| decode(r, now))
        }

        /// See [`WebSessionStore::end_web_session`].
        pub fn end_web_session(
            &mut self,
            secret: &str,
            now: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            let Some(hash) = lookup_hash(secret) else {
                return Ok(false);
            };
            let n = self
                .conn
                .execute(
                    "UPDATE console_sessions SET ended_at = ?2 WHERE secret_hash = ?1 AND ended_at IS NULL",
                    params![hash, secs(now)],
                )
                .map_err(|e| self.classify(e))?;
            Ok(n > 0)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The session life cycle on any backend.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn web_session_lifecycle(s: &mut dyn WebSessionStore) {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let hour = std::time::Duration::from_secs(3600);
        let p = r#"{"subject":"alice"}"#;
        let a = s.create_web_session(p, Some("tok-1"), hour, now).unwrap();
        let b = s.create_web_session(p, None, hour, now).unwrap();
        assert!(a.secret.starts_with(WEB_SESSION_PREFIX));
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.session.csrf_token, b.session.csrf_token);
        let got = s.web_session(&a.secret, now).unwrap().unwrap();
        assert_eq!(got, a.session);
        assert_eq!(got.token_id.as_deref(), Some("tok-1"));
        assert_eq!(got.principal, p);
        // expiry
        let later = now + time::Duration::seconds(3601);
        assert!(s.web_session(&a.secret, later).unwrap().is_none());
        // unknown, malformed
        assert!(s.web_session("cavra-web.v1.0000", now).unwrap().is_none());
        assert!(s.web_session("other", now).unwrap().is_none());
        // sign-out ends one session, not the other
        assert!(s.end_web_session(&a.secret, now).unwrap());
        assert!(!s.end_web_session(&a.secret, now).unwrap());
        assert!(s.web_session(&a.secret, now).unwrap().is_none());
        assert!(s.web_session(&b.secret, now).unwrap().is_some());
        // bad input
        assert!(s.create_web_session("", None, hour, now).is_err());
        assert!(s
            .create_web_session(p, None, std::time::Duration::ZERO, now)
            .is_err());
        // a day later, creating a session prunes the ended and expired ones
        let next_day = now + time::Duration::days(2);
        let c = s.create_web_session(p, None, hour, next_day).unwrap();
        assert!(s.web_session(&c.secret, next_day).unwrap().is_some());
        assert!(s.web_session(&b.secret, next_day).unwrap().is_none());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn create_look_up_expire_end() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("c.db");
        let mut s = crate::Store::open(&db).unwrap();
        web_session_lifecycle(&mut s);
        // the database holds the hash of the cookie, never the cookie
        let n = s
            .create_web_session(
                "{}",
                None,
                std::time::Duration::from_secs(60),
                OffsetDateTime::now_utc(),
            )
            .unwrap();
        let stored: String = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT secret_hash FROM console_sessions WHERE session_id = ?1",
                [&n.session.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, token_hash(&n.secret));
    }
}
