//! API tokens of `cavra serve`: bearer credentials for people and machines, each with one
//! role. A token is shown once when issued (`cavra-api.v1.<id>.<secret>`); the store keeps
//! only its SHA-256, so a copy of the database grants nothing.

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::error::StoreError;

/// Prefix (format and version) of an API token.
pub const API_TOKEN_PREFIX: &str = "cavra-api.v1.";
/// Longest token accepted (bytes); anything longer is refused before hashing.
pub const MAX_API_TOKEN_LEN: usize = 256;
/// Longest token name.
const MAX_NAME_LEN: usize = 128;

/// The role an API token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiRole {
    /// Everything below.
    Admin,
    /// Reads, and approves or denies approval requests.
    Approver,
    /// Reads decisions and approvals.
    Auditor,
    /// Asks for decisions and hook answers; never approves.
    Agent,
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiPermission {
    /// Ask for a decision or a hook answer.
    Decide,
    /// Read decisions and approvals.
    Read,
    /// Approve or deny an approval request.
    Approve,
}

impl ApiPermission {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiPermission::Decide => "decide",
            ApiPermission::Read => "read",
            ApiPermission::Approve => "approve",
        }
    }
}

impl ApiRole {
    pub const ALL: [ApiRole; 4] = [
        ApiRole::Admin,
        ApiRole::Approver,
        ApiRole::Auditor,
        ApiRole::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Admin => "admin",
            ApiRole::Approver => "approver",
            ApiRole::Auditor => "auditor",
            ApiRole::Agent => "agent",
        }
    }

    /// Parse `admin|approver|auditor|agent`.
    pub fn parse(s: &str) -> Result<ApiRole, StoreError> {
        let t = s.trim().to_ascii_lowercase();
        ApiRole::ALL
            .into_iter()
            .find(|r| r.as_str() == t)
            .ok_or_else(|| {
                StoreError::input(
                    "role",
                    format!("`{s}` (expected admin, approver, auditor or agent)"),
                )
            })
    }

    /// Does this role grant `perm`? An agent decides and nothing else; an auditor reads;
    /// an approver reads and approves; an admin does everything.
    pub fn grants(self, perm: ApiPermission) -> bool {
        match self {
            ApiRole::Admin => true,
            ApiRole::Approver => matches!(perm, ApiPermission::Read | ApiPermission::Approve),
            ApiRole::Auditor => perm == ApiPermission::Read,
            ApiRole::Agent => perm == ApiPermission::Decide,
        }
    }
}

/// A stored API token (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub role: ApiRole,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_by: Option<String>,
}

impl ApiToken {
    /// Not revoked and not expired at `now`.
    pub fn active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// `active`, `revoked` or `expired` at `now`.
    pub fn state(&self, now: OffsetDateTime) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.active(now) {
            "active"
        } else {
            "expired"
        }
    }

    /// The record as JSON (never the token).
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A token just issued: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub record: ApiToken,
}

impl IssuedToken {
    /// What `cavra tokens issue --json` prints: `token` (shown this once), `id` and the
    /// rest of the record.
    pub fn document(&self) -> serde_json::Value {
        let mut v = self.record.json();
        v["token"] = self.token.clone().into();
        v
    }
}

/// The SHA-256 (hex) a token is stored and looked up by.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `n` random bytes (the OS's generator), hex.
pub(crate) fn random_hex(n: usize) -> String {
    use rand_core::RngCore as _;
    let mut b = vec![0u8; n];
    rand_core::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A new token for `id`: `cavra-api.v1.<id>.<64 hex digits of randomness>`.
fn new_token(id: &str) -> String {
    format!("{API_TOKEN_PREFIX}{id}.{}", random_hex(32))
}

fn check_name(name: &str) -> Result<String, StoreError> {
    let n = name.trim();
    if n.is_empty() || n.len() > MAX_NAME_LEN || n.chars().any(char::is_control) {
        return Err(StoreError::input(
            "name",
            format!("a token name is 1 to {MAX_NAME_LEN} printable characters"),
        ));
    }
    Ok(n.to_string())
}

/// The columns a token record is read from, in the order of [`RawToken`].
pub(crate) const TOKEN_COLS: &str =
    "token_id, name, role, created_at, created_by, expires_at, revoked_at, revoked_by";

/// A token row as stored ([`TOKEN_COLS`]), before it is checked.
pub(crate) type RawToken = (
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// A stored token row as a record; a role or time the store cannot read is a decode error.
pub(crate) fn decode_token(row: RawToken) -> Result<ApiToken, StoreError> {
    use crate::timefmt::from_secs;
    let (id, name, role, created, created_by, expires, revoked, revoked_by) = row;
    Ok(ApiToken {
        role: ApiRole::parse(&role).map_err(|e| StoreError::Decode {
            field: "api_tokens.role".into(),
            detail: e.to_string(),
        })?,
        id,
        name,
        created_at: from_secs("api_tokens.created_at", created)?,
        created_by,
        expires_at: expires
            .map(|s| from_secs("api_tokens.expires_at", s))
            .transpose()?,
        revoked_at: revoked
            .map(|s| from_secs("api_tokens.revoked_at", s))
            .transpose()?,
        revoked_by,
    })
}

/// What a backend writes for a token being issued: the checked name, a new id, the token
/// (returned once) and its hash, the expiry.
pub(crate) struct NewToken {
    pub id: String,
    pub name: String,
    pub token: String,
    pub hash: String,
    pub expires: Option<i64>,
}

impl NewToken {
    /// Check `name` and make the token and its id.
    pub(crate) fn new(
        name: &str,
        ttl: Option<std::time::Duration>,
        now: OffsetDateTime,
    ) -> Result<NewToken, StoreError> {
        let name = check_name(name)?;
        let id = format!("tok-{}", random_hex(8));
        let token = new_token(&id);
        Ok(NewToken {
            hash: token_hash(&token),
            expires: ttl.map(|t| crate::timefmt::add_secs(now, t)),
            id,
            name,
            token,
        })
    }
}

/// The hash a presented token is looked up by; `None` for a token not of the API token
/// form (or too long), which is refused without a lookup.
pub fn lookup_hash(token: &str) -> Option<String> {
    (token.len() <= MAX_API_TOKEN_LEN && token.starts_with(API_TOKEN_PREFIX))
        .then(|| token_hash(token))
}

/// The active token whose hash matches `token`, read by `row(hash)`; `None` for a token
/// not of the API token form (no lookup), an unknown, revoked or expired one.
pub(crate) fn authenticate_with(
    token: &str,
    now: OffsetDateTime,
    row: impl FnOnce(&str) -> Result<Option<RawToken>, StoreError>,
) -> Result<Option<ApiToken>, StoreError> {
    let Some(hash) = lookup_hash(token) else {
        return Ok(None);
    };
    Ok(row(&hash)?
        .map(decode_token)
        .transpose()?
        .filter(|t| t.active(now)))
}

/// The error for an unknown token id.
pub(crate) fn unknown_token(id: &str) -> StoreError {
    StoreError::input("token", format!("no token `{id}`"))
}

pub use crate::backend::TokenStore;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use crate::db::Store;
    use crate::timefmt::secs;
    use rusqlite::{params, OptionalExtension as _};

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawToken> {
        RawToken::try_from(r)
    }

    impl Store {
        /// See [`TokenStore::issue_api_token`].
        pub fn issue_api_token(
            &mut self,
            name: &str,
            role: ApiRole,
            ttl: Option<std::time::Duration>,
            created_by: &str,
            now: OffsetDateTime,
        ) -> Result<IssuedToken, StoreError> {
            let new = NewToken::new(name, ttl, now)?;
            self.conn
                .execute(
                    &format!(
                        "INSERT INTO api_tokens ({TOKEN_COLS}, token_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7)"
                    ),
                    params![
                        new.id,
                        new.name,
                        role.as_str(),
                        secs(now),
                        created_by,
                        new.expires,
                        new.hash
                    ],
                )
                .map_err(|e| self.classify(e))?;
            Ok(IssuedToken {
                record: self.api_token(&new.id)?,
                token: new.token,
            })
        }

        pub(crate) fn token_row(
            &self,
            key: &str,
            value: &str,
        ) -> Result<Option<RawToken>, StoreError> {
            // cached: a lookup per request
            self.conn
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE {key} = ?1"
                ))
                .and_then(|mut st| st.query_row(params![value], read))
                .optional()
                .map_err(|e| self.classify(e))
        }

        /// See [`TokenStore::list_api_tokens`].
        pub fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_at DESC, token_id"
                ))
                .map_err(|e| self.classify(e))?;
            let rows = stmt
                .query_map([], read)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.classify(e))?;
            rows.into_iter().map(decode_token).collect()
        }

        /// See [`TokenStore::revoke_api_token`].
        pub fn revoke_api_token(
            &mut self,
            id: &str,
            by: &str,
            now: OffsetDateTime,
        ) -> Result<ApiToken, StoreError> {
            self.api_token(id)?;
            self.conn
                .execute(
                    "UPDATE api_tokens SET revoked_at = ?2, revoked_by = ?3 \
                     WHERE token_id = ?1 AND revoked_at IS NULL",
                    params![id, secs(now), by],
                )
                .map_err(|e| self.classify(e))?;
            self.api_token(id)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_table_says() {
        use ApiPermission::*;
        let g = |r: ApiRole| [Decide, Read, Approve].map(|p| r.grants(p));
        assert_eq!(g(ApiRole::Admin), [true, true, true]);
        assert_eq!(g(ApiRole::Approver), [false, true, true]);
        assert_eq!(g(ApiRole::Auditor), [false, true, false]);
        assert_eq!(g(ApiRole::Agent), [true, false, false]);
        assert_eq!(ApiRole::parse(" Agent ").unwrap(), ApiRole::Agent);
        assert!(ApiRole::parse("root").is_err());
    }

    #[test]
    fn names_are_checked_and_tokens_are_random() {
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").is_err());
        assert_eq!(check_name(" ci-bot ").unwrap(), "ci-bot");
        let (a, b) = (new_token("tok-1"), new_token("tok-1"));
        assert_ne!(a, b);
        assert!(a.starts_with("cavra-api.v1.tok-1."));
        assert_eq!(token_hash(&a).len(), 64);
    }

    /// The token life cycle on any backend: `stored_hash(name)` reads the stored hash of
    /// the token named `name` past the store.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn token_lifecycle(s: &mut dyn TokenStore, stored_hash: &dyn Fn(&str) -> String) {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t = s
            .issue_api_token("alice", ApiRole::Approver, None, "root", now)
            .unwrap();
        let short = s
            .issue_api_token(
                "bot",
                ApiRole::Agent,
                Some(std::time::Duration::from_secs(60)),
                "root",
                now,
            )
            .unwrap();
        assert!(s
            .issue_api_token(" ", ApiRole::Agent, None, "root", now)
            .is_err());
        let got = s.authenticate_api_token(&t.token, now).unwrap().unwrap();
        assert_eq!((got.name.as_str(), got.role), ("alice", ApiRole::Approver));
        assert_eq!(got.created_by, "root");
        // the database holds the hash, never the token
        let stored = stored_hash("alice");
        assert_eq!(stored, token_hash(&t.token));
        assert!(!stored.contains(&t.token));
        let later = now + time::Duration::seconds(61);
        assert!(s
            .authenticate_api_token(&short.token, now)
            .unwrap()
            .is_some());
        assert!(s
            .authenticate_api_token(&short.token, later)
            .unwrap()
            .is_none());
        assert!(s
            .authenticate_api_token("cavra-api.v1.x.y", now)
            .unwrap()
            .is_none());
        assert!(s.authenticate_api_token("other", now).unwrap().is_none());
        let revoked = s.revoke_api_token(&t.record.id, "root", now).unwrap();
        assert_eq!(revoked.revoked_by.as_deref(), Some("root"));
        assert!(s.authenticate_api_token(&t.token, now).unwrap().is_none());
        let ids: Vec<String> = s
            .list_api_tokens()
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&t.record.id) && ids.contains(&short.record.id));
        assert_eq!(s.api_token(&t.record.id).unwrap().state(now), "revoked");
        assert_eq!(short.record.state(later), "expired");
        assert_eq!(short.document()["token"], short.token.as_str());
        assert_eq!(short.document()["id"], short.record.id.as_str());
        assert!(s.revoke_api_token("tok-none", "root", now).is_err());
        assert!(s.api_token("tok-none").is_err());
    }

    /// A revocation through another connection changes what [`crate::DataVersion`]
    /// reads; reads do not, and neither does looking again.
    #[cfg(feature = "sqlite")]
    #[test]
    fn data_version_sees_the_commits_of_other_connections() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("c.db");
        let mut s = crate::Store::open(&db).unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t = s
            .issue_api_token("bot", ApiRole::Agent, None, "root", now)
            .unwrap();
        let v = crate::DataVersion::open(&db).unwrap();
        let a = v.get().unwrap();
        assert_eq!(v.get().unwrap(), a, "no commit, no change");
        assert!(s.authenticate_api_token(&t.token, now).unwrap().is_some());
        assert_eq!(v.get().unwrap(), a, "a read is no change");
        s.revoke_api_token(&t.record.id, "root", now).unwrap();
        let b = v.get().unwrap();
        assert_ne!(b, a, "the revocation is seen");
        assert_eq!(v.get().unwrap(), b);
        assert!(
            crate::DataVersion::open(d.path().join("none.db")).is_err(),
            "never creates a database"
        );
        assert!(!d.path().join("none.db").exists());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn issue_authenticate_expire_revoke() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("c.db");
        let mut s = crate::Store::open(&db).unwrap();
        token_lifecycle(&mut s, &|name| {
            rusqlite::Connection::open(&db)
                .unwrap()
                .query_row(
                    "SELECT token_hash FROM api_tokens WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .unwrap()
        });
    }
}
