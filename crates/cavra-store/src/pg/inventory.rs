//! The repository inventory in PostgreSQL (the rows and SQL of [`crate::inventory`], as
//! the SQLite store keeps them).

use time::OffsetDateTime;

use super::{json_row, json_rows, select_json, PgStore};
use crate::error::StoreError;
use crate::inventory::{
    decode_all, RawRepo, RepoRow, RepoSighting, Repository, REPO_COLS, UPSERT_AGENT, UPSERT_REPO,
};

impl PgStore {
    /// See [`crate::InventoryStore::record_repository`].
    pub fn record_repository(
        &self,
        s: &RepoSighting,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let r = RepoRow::new(s, now)?;
        let mut c = self.conn()?;
        c.execute(
            UPSERT_REPO,
            &[
                &r.id,
                &r.path,
                &r.now,
                &r.last_decision,
                &r.decisions,
                &r.uploaded,
                &r.last_upload,
                &r.pack_id,
                &r.pack_digest,
                &r.version,
                &r.loosen,
                &r.loosen_at,
                &r.loosen_reason,
                &r.queued,
                &r.queued_at,
            ],
        )?;
        if let Some(agent) = &r.agent {
            c.execute(UPSERT_AGENT, &[&r.id, agent, &r.now])?;
        }
        Ok(r.id)
    }

    fn repo_agents(&self, id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM repository_agents WHERE repo_id = $1 ORDER BY agent",
                select_json("agent, last_seen")
            ),
            &[&id],
        )
    }

    /// See [`crate::InventoryStore::repository`].
    pub fn repository(&self, id: &str) -> Result<Option<Repository>, StoreError> {
        let row: Option<RawRepo> = json_row(
            &mut *self.conn()?,
            &format!(
                "{} FROM repositories WHERE repo_id = $1",
                select_json(REPO_COLS)
            ),
            &[&id],
        )?;
        Ok(decode_all(row, |id| self.repo_agents(id))?.pop())
    }

    /// See [`crate::InventoryStore::list_repositories`].
    pub fn list_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        let rows: Vec<RawRepo> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM repositories ORDER BY last_seen DESC, repo_id",
                select_json(REPO_COLS)
            ),
            &[],
        )?;
        decode_all(rows, |id| self.repo_agents(id))
    }
}
