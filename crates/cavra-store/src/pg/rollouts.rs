//! Policy publishing with review in PostgreSQL (the rows and SQL of [`crate::rollouts`],
//! as the SQLite store keeps them).

use time::OffsetDateTime;

use super::{json_row, json_rows, select_json, PgStore};
use crate::error::StoreError;
use crate::inventory::Repository;
use crate::rollouts::{
    at, change_refused, check_assignment, decode_assignment, decode_shadow, decode_step,
    decode_version, labels_json, list_assignments_sql, new_version_row, register_row, shadow_row,
    update_version_sql, AssignMode, Assignment, NewAssignment, NewPolicyVersion, NewRolloutStep,
    PolicyVersion, RawAssignment, RawShadow, RawStep, RawVersion, RolloutStep, ShadowResult,
    VersionChange, ASSIGNMENT_COLS, END_ASSIGNMENTS, INSERT_ASSIGNMENT, INSERT_SHADOW, INSERT_STEP,
    INSERT_VERSION, LIST_SHADOW, LIST_STEPS, MAX_SHADOW_RESULTS, REGISTER_REPO, SET_LABELS,
    SHADOW_COLS, STEP_COLS, VERSION_COLS,
};
use crate::timefmt::secs;

impl PgStore {
    /// See [`crate::RolloutStore::create_policy_version`].
    pub fn create_policy_version(
        &self,
        v: &NewPolicyVersion,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError> {
        let replay = new_version_row(v)?;
        let row = self.conn()?.query_one(
            INSERT_VERSION,
            &[
                &v.pack_id,
                &v.source_name,
                &v.source,
                &v.digest,
                &v.author,
                &replay,
                &at(now),
            ],
        )?;
        let id: String = row.try_get(0)?;
        self.policy_version(&id)?
            .ok_or(StoreError::UnknownPolicyVersion(id))
    }

    /// See [`crate::RolloutStore::policy_version`].
    pub fn policy_version(&self, id: &str) -> Result<Option<PolicyVersion>, StoreError> {
        let row: Option<RawVersion> = json_row(
            &mut *self.conn()?,
            &format!(
                "{} FROM policy_versions WHERE version_id = $1",
                select_json(VERSION_COLS)
            ),
            &[&id],
        )?;
        row.map(decode_version).transpose()
    }

    /// See [`crate::RolloutStore::list_policy_versions`].
    pub fn list_policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let rows: Vec<RawVersion> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM policy_versions ORDER BY created_at DESC, pack_id, version DESC",
                select_json(VERSION_COLS)
            ),
            &[],
        )?;
        rows.into_iter().map(decode_version).collect()
    }

    /// See [`crate::RolloutStore::change_policy_version`].
    pub fn change_policy_version(
        &self,
        c: &VersionChange<'_>,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError> {
        let n = self.conn()?.execute(
            &update_version_sql(c),
            &[
                &c.id,
                &c.to.as_str(),
                &at(now),
                &c.reviewed_by,
                &c.review_reason,
                &c.signed_pack,
            ],
        )?;
        match self.policy_version(c.id)? {
            Some(v) if n > 0 => Ok(v),
            other => Err(change_refused(c, other.as_ref())),
        }
    }

    /// See [`crate::RolloutStore::add_assignment`].
    pub fn add_assignment(
        &self,
        a: &NewAssignment,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        check_assignment(a)?;
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let row = tx.query_one(
            INSERT_ASSIGNMENT,
            &[
                &a.version_id,
                &a.target_kind.as_str(),
                &a.target,
                &a.mode.as_str(),
                &a.shadow_until.map(secs),
                &a.assigned_by,
                &at(now),
            ],
        )?;
        // delivered at commit: the replicas drop their cached assignments
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&super::LOOKUPS_CHANNEL, &"assignments"],
        )?;
        tx.commit()?;
        Ok(row.try_get(0)?)
    }

    /// See [`crate::RolloutStore::list_assignments`].
    pub fn list_assignments(&self, all: bool) -> Result<Vec<Assignment>, StoreError> {
        let sql = list_assignments_sql(all).replacen(
            &format!("SELECT {ASSIGNMENT_COLS}"),
            &select_json(ASSIGNMENT_COLS),
            1,
        );
        let rows: Vec<RawAssignment> = json_rows(&mut *self.conn()?, &sql, &[])?;
        rows.into_iter().map(decode_assignment).collect()
    }

    /// See [`crate::RolloutStore::end_assignments`].
    pub fn end_assignments(
        &self,
        version_id: &str,
        mode: Option<AssignMode>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        super::tokens::execute_notifying(
            &mut *self.conn()?,
            END_ASSIGNMENTS,
            &[&version_id, &at(now), &mode.map(AssignMode::as_str)],
            "assignments",
        )
    }

    /// See [`crate::RolloutStore::append_rollout_step`].
    pub fn append_rollout_step(
        &self,
        s: &NewRolloutStep,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let row = self.conn()?.query_one(
            INSERT_STEP,
            &[
                &s.version_id,
                &s.step,
                &s.actor,
                &at(now),
                &s.detail.to_string(),
                &s.evidence_record,
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    /// See [`crate::RolloutStore::rollout_history`].
    pub fn rollout_history(
        &self,
        version_id: Option<&str>,
    ) -> Result<Vec<RolloutStep>, StoreError> {
        let rows: Vec<RawStep> = json_rows(
            &mut *self.conn()?,
            &format!("{} {LIST_STEPS}", select_json(STEP_COLS)),
            &[&version_id],
        )?;
        rows.into_iter().map(decode_step).collect()
    }

    /// See [`crate::RolloutStore::record_shadow_result`].
    pub fn record_shadow_result(&self, r: &ShadowResult) -> Result<(), StoreError> {
        let r = shadow_row(r);
        self.conn()?.execute(
            INSERT_SHADOW,
            &[
                &r.version_id,
                &r.repo_id,
                &secs(r.at),
                &r.action,
                &r.target,
                &r.enforced,
                &r.enforced_rule,
                &r.shadow,
                &r.shadow_rule,
            ],
        )?;
        Ok(())
    }

    /// See [`crate::RolloutStore::shadow_results`].
    pub fn shadow_results(
        &self,
        version_id: &str,
        limit: u32,
    ) -> Result<Vec<ShadowResult>, StoreError> {
        let limit = i64::from(limit.min(MAX_SHADOW_RESULTS));
        let rows: Vec<RawShadow> = json_rows(
            &mut *self.conn()?,
            &format!("{} {LIST_SHADOW}", select_json(SHADOW_COLS)),
            &[&version_id, &limit],
        )?;
        rows.into_iter().map(decode_shadow).collect()
    }

    /// See [`crate::RolloutStore::register_repository`].
    pub fn register_repository(
        &self,
        path: &str,
        labels: &[String],
        now: OffsetDateTime,
    ) -> Result<Repository, StoreError> {
        let (id, path, labels) = register_row(path, labels)?;
        self.conn()?
            .execute(REGISTER_REPO, &[&id, &path, &at(now), &labels])?;
        self.repository(&id)?
            .ok_or_else(|| StoreError::input("repository", "not registered"))
    }

    /// See [`crate::RolloutStore::set_repository_labels`].
    pub fn set_repository_labels(
        &self,
        id: &str,
        labels: &[String],
    ) -> Result<Option<Repository>, StoreError> {
        let labels = labels_json(labels)?;
        let n = self.conn()?.execute(SET_LABELS, &[&id, &labels])?;
        if n == 0 {
            return Ok(None);
        }
        self.repository(id)
    }
}
