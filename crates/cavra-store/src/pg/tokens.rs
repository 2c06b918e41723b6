//! The API tokens of `cavra serve` in PostgreSQL (the rows and checks of
//! [`crate::tokens`], as the SQLite store keeps them).

use time::OffsetDateTime;

use super::{json_row, json_rows, select_json, PgStore};
use crate::error::StoreError;
use crate::timefmt::secs;
use crate::tokens::{decode_token, ApiRole, ApiToken, IssuedToken, NewToken, RawToken, TOKEN_COLS};

/// The `NOTIFY` channel of the changes a replica's lookup cache must not outlive: a token
/// revocation (payload: the token id), an agent registered, its status changed or removed
/// (`agents`), a rollout assignment started or ended (`assignments`), a break-glass
/// override recorded (`break_glass`), each sent in the
/// changing transaction. `cavra serve` replicas `LISTEN` (on the connection that follows
/// the decision log) and drop what they cached.
pub const LOOKUPS_CHANNEL: &str = "cavra_lookups";

/// Runs `sql` and notifies [`LOOKUPS_CHANNEL`] with `what`, in one transaction (the
/// notification is delivered at commit, with the change).
pub(crate) fn execute_notifying(
    c: &mut impl postgres::GenericClient,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    what: &str,
) -> Result<u64, StoreError> {
    let mut tx = c.transaction()?;
    let n = tx.execute(sql, params)?;
    tx.execute("SELECT pg_notify($1, $2)", &[&LOOKUPS_CHANNEL, &what])?;
    tx.commit()?;
    Ok(n)
}

impl PgStore {
    /// See [`crate::TokenStore::issue_api_token`].
    pub fn issue_api_token(
        &mut self,
        name: &str,
        role: ApiRole,
        ttl: Option<std::time::Duration>,
        created_by: &str,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, StoreError> {
        let new = NewToken::new(name, ttl, now)?;
        self.conn()?.execute(
            &format!(
                "INSERT INTO api_tokens ({TOKEN_COLS}, token_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7)"
            ),
            &[
                &new.id,
                &new.name,
                &role.as_str(),
                &secs(now),
                &created_by,
                &new.expires,
                &new.hash,
            ],
        )?;
        Ok(IssuedToken {
            record: self.api_token(&new.id)?,
            token: new.token,
        })
    }

    pub(crate) fn token_row(&self, key: &str, value: &str) -> Result<Option<RawToken>, StoreError> {
        json_row(
            &mut *self.conn()?,
            &format!(
                "{} FROM api_tokens WHERE {key} = $1",
                select_json(TOKEN_COLS)
            ),
            &[&value],
        )
    }

    /// See [`crate::TokenStore::list_api_tokens`].
    pub fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        json_rows::<RawToken>(
            &mut *self.conn()?,
            &format!(
                "{} FROM api_tokens ORDER BY created_at DESC, token_id",
                select_json(TOKEN_COLS)
            ),
            &[],
        )?
        .into_iter()
        .map(decode_token)
        .collect()
    }

    /// See [`crate::TokenStore::revoke_api_token`].
    pub fn revoke_api_token(
        &mut self,
        id: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<ApiToken, StoreError> {
        self.api_token(id)?;
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        tx.execute(
            "UPDATE api_tokens SET revoked_at = $2, revoked_by = $3 \
             WHERE token_id = $1 AND revoked_at IS NULL",
            &[&id, &secs(now), &by],
        )?;
        // delivered at commit: the replicas drop their cached tokens
        tx.execute("SELECT pg_notify($1, $2)", &[&LOOKUPS_CHANNEL, &id])?;
        tx.commit()?;
        drop(c);
        self.api_token(id)
    }
}
