//! Policy publishing with review (`cavra serve`, docs/rollout.md): pack versions drafted,
//! reviewed (never by their author), signed and assigned to repositories — all, a list,
//! or a label — in enforce or shadow mode; the append-only rollout history; the verdicts a
//! shadow version would have given beside the enforced ones. Both backends run the same
//! SQL (PostgreSQL placeholders; SQLite's are `?N`) and decode rows with the same
//! functions. Which version applies to a repository is [`resolve`]'s rule.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::inventory::clip;
use crate::timefmt::{from_secs, secs};

/// Largest pack source kept (bytes).
pub const MAX_SOURCE: usize = 256 * 1024;
/// Most labels a repository carries.
pub const MAX_LABELS: usize = 32;
/// Longest label.
pub const MAX_LABEL: usize = 64;
/// Most shadow results read back for one version.
pub const MAX_SHADOW_RESULTS: u32 = 10_000;
/// Longest target or rule kept in a shadow result.
const MAX_SHADOW_FIELD: usize = 512;

/// Where a pack version is in its review and rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// Drafted, waiting for review.
    Draft,
    /// Approved and signed by the server, not assigned yet.
    Approved,
    /// Refused in review.
    Rejected,
    /// Enforced where it is assigned.
    Active,
    /// Running in shadow beside the enforced version.
    Shadow,
    /// A newer version of its pack is enforced (its assignments still apply where the
    /// newer one does not reach).
    Superseded,
    /// Rolled back: its assignments ended.
    RolledBack,
}

impl VersionState {
    pub const ALL: [VersionState; 7] = [
        VersionState::Draft,
        VersionState::Approved,
        VersionState::Rejected,
        VersionState::Active,
        VersionState::Shadow,
        VersionState::Superseded,
        VersionState::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Draft => "draft",
            VersionState::Approved => "approved",
            VersionState::Rejected => "rejected",
            VersionState::Active => "active",
            VersionState::Shadow => "shadow",
            VersionState::Superseded => "superseded",
            VersionState::RolledBack => "rolled-back",
        }
    }

    pub fn parse(s: &str) -> Option<VersionState> {
        VersionState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Has it passed review (approved and signed)?
    pub fn reviewed(self) -> bool {
        !matches!(self, VersionState::Draft | VersionState::Rejected)
    }
}

/// A pack version.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersion {
    /// `pv-<pack id>-<version>`.
    pub id: String,
    pub pack_id: String,
    /// 1, 2, … per pack id.
    pub version: i64,
    /// The name the source was drafted under (its file name).
    pub source_name: String,
    /// The pack (YAML), as drafted.
    pub source: String,
    /// The compiled pack's digest.
    pub digest: String,
    /// Who drafted it (the authenticated identity).
    pub author: String,
    pub state: VersionState,
    /// The replay of the recorded decisions under it, attached when drafted.
    pub replay: Option<Value>,
    /// Who approved or rejected it, when and why.
    pub reviewed_by: Option<String>,
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub reviewed_at: Option<OffsetDateTime>,
    pub review_reason: Option<String>,
    /// The compiled pack signed by the server's pack key (JSON), once approved.
    #[serde(skip)]
    pub signed_pack: Option<String>,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub updated_at: OffsetDateTime,
}

impl PolicyVersion {
    pub fn json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["signed"] = Value::Bool(self.signed_pack.is_some());
        v
    }
}

/// A version to draft.
#[derive(Debug, Clone)]
pub struct NewPolicyVersion {
    pub pack_id: String,
    pub source_name: String,
    pub source: String,
    pub digest: String,
    pub author: String,
    pub replay: Option<Value>,
}

/// A state change of a version: only from one of `from`.
#[derive(Debug, Clone)]
pub struct VersionChange<'a> {
    pub id: &'a str,
    pub from: &'a [VersionState],
    pub to: VersionState,
    /// Set on review.
    pub reviewed_by: Option<&'a str>,
    pub review_reason: Option<&'a str>,
    pub signed_pack: Option<&'a str>,
}

/// What an assignment targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Every repository.
    All,
    /// One repository, by id.
    Repository,
    /// The repositories carrying a label.
    Label,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::All => "all",
            TargetKind::Repository => "repository",
            TargetKind::Label => "label",
        }
    }

    pub fn parse(s: &str) -> Option<TargetKind> {
        [TargetKind::All, TargetKind::Repository, TargetKind::Label]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Enforced, or run in shadow (recorded beside the enforced verdict, never deciding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignMode {
    Enforce,
    Shadow,
}

impl AssignMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignMode::Enforce => "enforce",
            AssignMode::Shadow => "shadow",
        }
    }

    pub fn parse(s: &str) -> Option<AssignMode> {
        [AssignMode::Enforce, AssignMode::Shadow]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A version assigned to a target.
#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    /// Its order: of the open assignments that reach a repository, the highest wins.
    pub seq: i64,
    pub version_id: String,
    pub target_kind: TargetKind,
    /// The repository id or the label (empty for all).
    pub target: String,
    pub mode: AssignMode,
    /// A shadow run stops being recorded at this time (none: until promoted or ended).
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub shadow_until: Option<OffsetDateTime>,
    pub assigned_by: String,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub assigned_at: OffsetDateTime,
    /// Ended (promoted, rolled back): no longer applies.
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub ended_at: Option<OffsetDateTime>,
}

impl Assignment {
    /// Does it reach the repository `repo_id` carrying `labels`?
    pub fn reaches(&self, repo_id: &str, labels: &[String]) -> bool {
        match self.target_kind {
            TargetKind::All => true,
            TargetKind::Repository => self.target == repo_id,
            TargetKind::Label => labels.contains(&self.target),
        }
    }
}

/// An assignment to add.
#[derive(Debug, Clone)]
pub struct NewAssignment {
    pub version_id: String,
    pub target_kind: TargetKind,
    pub target: String,
    pub mode: AssignMode,
    pub shadow_until: Option<OffsetDateTime>,
    pub assigned_by: String,
}

/// One step of the rollout history.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutStep {
    pub seq: i64,
    pub version_id: String,
    /// `drafted`, `approved`, `rejected`, `assigned`, `promoted`, `rolled_back`, …
    pub step: String,
    pub actor: String,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub at: OffsetDateTime,
    pub detail: Value,
    /// The evidence record of the step in the server's log.
    pub evidence_record: Option<String>,
}

/// A step to append.
#[derive(Debug, Clone)]
pub struct NewRolloutStep {
    pub version_id: String,
    pub step: String,
    pub actor: String,
    pub detail: Value,
    pub evidence_record: Option<String>,
}

/// What a shadow version would have decided beside what was enforced, for one request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShadowResult {
    pub version_id: String,
    pub repo_id: String,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub at: OffsetDateTime,
    pub action: String,
    pub target: String,
    pub enforced: String,
    pub enforced_rule: String,
    pub shadow: String,
    pub shadow_rule: String,
}

/// The enforced and the shadow assignment reaching a repository: of the open assignments
/// reaching it, the newest (highest `seq`) of each mode; a shadow assignment whose period
/// has passed does not count.
pub fn resolve<'a>(
    assignments: &'a [Assignment],
    repo_id: &str,
    labels: &[String],
    now: OffsetDateTime,
) -> (Option<&'a Assignment>, Option<&'a Assignment>) {
    let newest = |mode: AssignMode| {
        assignments
            .iter()
            .filter(|a| a.ended_at.is_none() && a.mode == mode && a.reaches(repo_id, labels))
            .filter(|a| mode == AssignMode::Enforce || a.shadow_until.is_none_or(|u| u > now))
            .max_by_key(|a| a.seq)
    };
    (newest(AssignMode::Enforce), newest(AssignMode::Shadow))
}

/// Labels, checked: letters, digits, `.`, `_`, `-`, `:`, `/`; at most [`MAX_LABELS`] of at
/// most [`MAX_LABEL`] characters; sorted, duplicates dropped.
pub fn check_labels(labels: &[String]) -> Result<Vec<String>, StoreError> {
    if labels.len() > MAX_LABELS {
        return Err(StoreError::input(
            "labels",
            format!("at most {MAX_LABELS} labels, not {}", labels.len()),
        ));
    }
    let mut out = Vec::with_capacity(labels.len());
    for l in labels {
        let ok = !l.is_empty()
            && l.len() <= MAX_LABEL
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'));
        if !ok {
            return Err(StoreError::input(
                "labels",
                format!(
                    "`{}` is not a label (1 to {MAX_LABEL} of letters, digits, `.`, `_`, `-`, `:`, `/`)",
                    l.escape_default()
                ),
            ));
        }
        out.push(l.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn check_new(v: &NewPolicyVersion) -> Result<(), StoreError> {
    let id_ok = !v.pack_id.is_empty()
        && v.pack_id.len() <= 128
        && v.pack_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !id_ok {
        return Err(StoreError::input("pack_id", "not a pack id"));
    }
    if v.source.len() > MAX_SOURCE {
        return Err(StoreError::input(
            "source",
            format!("larger than {} KiB", MAX_SOURCE / 1024),
        ));
    }
    if v.author.trim().is_empty() {
        return Err(StoreError::input("author", "empty"));
    }
    Ok(())
}

/// Drafts a version, numbered one past the pack's newest; its id is `pv-<pack>-<n>`.
pub(crate) const INSERT_VERSION: &str = "INSERT INTO policy_versions (version_id, pack_id, \
     version, source_name, source, digest, author, state, replay, created_at, updated_at) \
     SELECT 'pv-' || CAST($1 AS TEXT) || '-' || CAST(COALESCE(MAX(version), 0) + 1 AS TEXT), \
     $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, 'draft', $6, $7, $7 \
     FROM policy_versions WHERE pack_id = $1 RETURNING version_id";

pub(crate) const VERSION_COLS: &str = "version_id, pack_id, version, source_name, source, \
     digest, author, state, replay, reviewed_by, reviewed_at, review_reason, signed_pack, \
     created_at, updated_at";

pub(crate) type RawVersion = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

pub(crate) fn decode_version(r: RawVersion) -> Result<PolicyVersion, StoreError> {
    let state = VersionState::parse(&r.7).ok_or_else(|| StoreError::Decode {
        field: "policy_versions.state".into(),
        detail: format!("unknown state `{}`", r.7),
    })?;
    let replay =
        r.8.map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| StoreError::Decode {
                field: "policy_versions.replay".into(),
                detail: e.to_string(),
            })?;
    Ok(PolicyVersion {
        id: r.0,
        pack_id: r.1,
        version: r.2,
        source_name: r.3,
        source: r.4,
        digest: r.5,
        author: r.6,
        state,
        replay,
        reviewed_by: r.9,
        reviewed_at: r
            .10
            .map(|t| from_secs("policy_versions.reviewed_at", t))
            .transpose()?,
        review_reason: r.11,
        signed_pack: r.12,
        created_at: from_secs("policy_versions.created_at", r.13)?,
        updated_at: from_secs("policy_versions.updated_at", r.14)?,
    })
}

/// The `UPDATE` of a [`VersionChange`] (the `from` states inlined: fixed words).
pub(crate) fn update_version_sql(c: &VersionChange<'_>) -> String {
    let from: Vec<String> = c.from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!(
        "UPDATE policy_versions SET state = $2, updated_at = $3, \
         reviewed_by = COALESCE($4, reviewed_by), \
         reviewed_at = CASE WHEN CAST($4 AS TEXT) IS NULL THEN reviewed_at ELSE $3 END, \
         review_reason = COALESCE($5, review_reason), signed_pack = COALESCE($6, signed_pack) \
         WHERE version_id = $1 AND state IN ({})",
        from.join(", ")
    )
}

/// The error of a change that matched no row: the version is unknown, or in another state.
pub(crate) fn change_refused(c: &VersionChange<'_>, now: Option<&PolicyVersion>) -> StoreError {
    match now {
        None => StoreError::UnknownPolicyVersion(c.id.to_string()),
        Some(v) => StoreError::InvalidVersionTransition {
            id: c.id.to_string(),
            state: v.state.as_str().to_string(),
            to: c.to.as_str(),
        },
    }
}

pub(crate) const INSERT_ASSIGNMENT: &str = "INSERT INTO policy_assignments (version_id, \
     target_kind, target, mode, shadow_until, assigned_by, assigned_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq";

pub(crate) const ASSIGNMENT_COLS: &str =
    "seq, version_id, target_kind, target, mode, shadow_until, assigned_by, assigned_at, ended_at";

pub(crate) type RawAssignment = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    Option<i64>,
);

pub(crate) fn decode_assignment(r: RawAssignment) -> Result<Assignment, StoreError> {
    let bad = |field: &str, v: &str| StoreError::Decode {
        field: format!("policy_assignments.{field}"),
        detail: format!("unknown `{v}`"),
    };
    Ok(Assignment {
        seq: r.0,
        version_id: r.1,
        target_kind: TargetKind::parse(&r.2).ok_or_else(|| bad("target_kind", &r.2))?,
        target: r.3,
        mode: AssignMode::parse(&r.4).ok_or_else(|| bad("mode", &r.4))?,
        shadow_until: r
            .5
            .map(|t| from_secs("policy_assignments.shadow_until", t))
            .transpose()?,
        assigned_by: r.6,
        assigned_at: from_secs("policy_assignments.assigned_at", r.7)?,
        ended_at: r
            .8
            .map(|t| from_secs("policy_assignments.ended_at", t))
            .transpose()?,
    })
}

pub(crate) fn check_assignment(a: &NewAssignment) -> Result<(), StoreError> {
    match a.target_kind {
        TargetKind::All if !a.target.is_empty() => Err(StoreError::input(
            "target",
            "an assignment to all names no target",
        )),
        TargetKind::Repository | TargetKind::Label if a.target.is_empty() => {
            Err(StoreError::input("target", "empty"))
        }
        TargetKind::Label => check_labels(std::slice::from_ref(&a.target)).map(|_| ()),
        _ => Ok(()),
    }
}

/// The open assignments, in order; with `all`, the ended ones too.
pub(crate) fn list_assignments_sql(all: bool) -> String {
    let filter = if all { "" } else { " WHERE ended_at IS NULL" };
    format!("SELECT {ASSIGNMENT_COLS} FROM policy_assignments{filter} ORDER BY seq")
}

/// Ends the open assignments of `$1` (of mode `$3` when given) at `$2`.
pub(crate) const END_ASSIGNMENTS: &str = "UPDATE policy_assignments SET ended_at = $2 \
     WHERE version_id = $1 AND ended_at IS NULL AND (CAST($3 AS TEXT) IS NULL OR mode = $3)";

pub(crate) const INSERT_STEP: &str = "INSERT INTO rollout_history (version_id, step, actor, at, \
     detail, evidence_record) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq";

pub(crate) const STEP_COLS: &str = "seq, version_id, step, actor, at, detail, evidence_record";

pub(crate) type RawStep = (i64, String, String, String, i64, String, Option<String>);

pub(crate) fn decode_step(r: RawStep) -> Result<RolloutStep, StoreError> {
    Ok(RolloutStep {
        seq: r.0,
        version_id: r.1,
        step: r.2,
        actor: r.3,
        at: from_secs("rollout_history.at", r.4)?,
        detail: serde_json::from_str(&r.5).map_err(|e| StoreError::Decode {
            field: "rollout_history.detail".into(),
            detail: e.to_string(),
        })?,
        evidence_record: r.6,
    })
}

/// The history (of one version when `$1` is given), oldest first.
pub(crate) const LIST_STEPS: &str = "FROM rollout_history \
     WHERE (CAST($1 AS TEXT) IS NULL OR version_id = $1) ORDER BY seq";

pub(crate) const INSERT_SHADOW: &str = "INSERT INTO policy_shadow_results (version_id, repo_id, \
     at, action, target, enforced, enforced_rule, shadow, shadow_rule) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// A shadow result as stored: fields cut.
pub(crate) fn shadow_row(r: &ShadowResult) -> ShadowResult {
    let cut = |s: &str| clip(s, MAX_SHADOW_FIELD);
    ShadowResult {
        version_id: cut(&r.version_id),
        repo_id: cut(&r.repo_id),
        at: r.at,
        action: cut(&r.action),
        target: cut(&r.target),
        enforced: cut(&r.enforced),
        enforced_rule: cut(&r.enforced_rule),
        shadow: cut(&r.shadow),
        shadow_rule: cut(&r.shadow_rule),
    }
}

pub(crate) const SHADOW_COLS: &str =
    "version_id, repo_id, at, action, target, enforced, enforced_rule, shadow, shadow_rule";

pub(crate) type RawShadow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
);

pub(crate) fn decode_shadow(r: RawShadow) -> Result<ShadowResult, StoreError> {
    Ok(ShadowResult {
        version_id: r.0,
        repo_id: r.1,
        at: from_secs("policy_shadow_results.at", r.2)?,
        action: r.3,
        target: r.4,
        enforced: r.5,
        enforced_rule: r.6,
        shadow: r.7,
        shadow_rule: r.8,
    })
}

/// The newest `$2` shadow results of version `$1`, oldest first.
pub(crate) const LIST_SHADOW: &str = "FROM (SELECT * FROM policy_shadow_results \
     WHERE version_id = $1 ORDER BY seq DESC LIMIT $2) AS newest ORDER BY seq";

/// Registers a repository (or sets the labels of a known one).
pub(crate) const REGISTER_REPO: &str = "INSERT INTO repositories (repo_id, path, first_seen, \
     last_seen, labels) VALUES ($1, $2, $3, $3, $4) \
     ON CONFLICT (repo_id) DO UPDATE SET labels = excluded.labels";

pub(crate) const SET_LABELS: &str = "UPDATE repositories SET labels = $2 WHERE repo_id = $1";

/// The values of a draft's insert, checked.
pub(crate) fn new_version_row(v: &NewPolicyVersion) -> Result<Option<String>, StoreError> {
    check_new(v)?;
    Ok(v.replay.as_ref().map(Value::to_string))
}

/// `now` as stored.
pub(crate) fn at(now: OffsetDateTime) -> i64 {
    secs(now)
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use crate::db::Store;
    use crate::inventory::Repository;
    use rusqlite::{params, OptionalExtension as _};

    fn lite(sql: &str) -> String {
        sql.replace('$', "?")
    }

    impl Store {
        /// See [`crate::RolloutStore::create_policy_version`].
        pub fn create_policy_version(
            &self,
            v: &NewPolicyVersion,
            now: OffsetDateTime,
        ) -> Result<PolicyVersion, StoreError> {
            let replay = new_version_row(v)?;
            let id: String = self
                .conn
                .query_row(
                    &lite(INSERT_VERSION),
                    params![
                        v.pack_id,
                        v.source_name,
                        v.source,
                        v.digest,
                        v.author,
                        replay,
                        at(now)
                    ],
                    |r| r.get(0),
                )
                .map_err(|e| self.classify(e))?;
            self.policy_version(&id)?
                .ok_or(StoreError::UnknownPolicyVersion(id))
        }

        /// See [`crate::RolloutStore::policy_version`].
        pub fn policy_version(&self, id: &str) -> Result<Option<PolicyVersion>, StoreError> {
            let row: Option<RawVersion> = self
                .conn
                .query_row(
                    &format!("SELECT {VERSION_COLS} FROM policy_versions WHERE version_id = ?1"),
                    [id],
                    |r| RawVersion::try_from(r),
                )
                .optional()
                .map_err(|e| self.classify(e))?;
            row.map(decode_version).transpose()
        }

        /// See [`crate::RolloutStore::list_policy_versions`].
        pub fn list_policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT {VERSION_COLS} FROM policy_versions ORDER BY created_at DESC, pack_id, version DESC"
                ))
                .map_err(|e| self.classify(e))?;
            let rows: Vec<RawVersion> = st
                .query_map([], |r| RawVersion::try_from(r))
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e))?;
            rows.into_iter().map(decode_version).collect()
        }

        /// See [`crate::RolloutStore::change_policy_version`].
        pub fn change_policy_version(
            &self,
            c: &VersionChange<'_>,
            now: OffsetDateTime,
        ) -> Result<PolicyVersion, StoreError> {
            let n = self
                .conn
                .execute(
                    &lite(&update_version_sql(c)),
                    params![
                        c.id,
                        c.to.as_str(),
                        at(now),
                        c.reviewed_by,
                        c.review_reason,
                        c.signed_pack
                    ],
                )
                .map_err(|e| self.classify(e))?;
            let v = self.policy_version(c.id)?;
            match v {
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
            self.conn
                .query_row(
                    &lite(INSERT_ASSIGNMENT),
                    params![
                        a.version_id,
                        a.target_kind.as_str(),
                        a.target,
                        a.mode.as_str(),
                        a.shadow_until.map(secs),
                        a.assigned_by,
                        at(now)
                    ],
                    |r| r.get(0),
                )
                .map_err(|e| self.classify(e))
        }

        /// See [`crate::RolloutStore::list_assignments`].
        pub fn list_assignments(&self, all: bool) -> Result<Vec<Assignment>, StoreError> {
            let mut st = self
                .conn
                .prepare_cached(&list_assignments_sql(all))
                .map_err(|e| self.classify(e))?;
            let rows: Vec<RawAssignment> = st
                .query_map([], |r| RawAssignment::try_from(r))
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e))?;
            rows.into_iter().map(decode_assignment).collect()
        }

        /// See [`crate::RolloutStore::end_assignments`].
        pub fn end_assignments(
            &self,
            version_id: &str,
            mode: Option<AssignMode>,
            now: OffsetDateTime,
        ) -> Result<u64, StoreError> {
            let n = self
                .conn
                .execute(
                    &lite(END_ASSIGNMENTS),
                    params![version_id, at(now), mode.map(AssignMode::as_str)],
                )
                .map_err(|e| self.classify(e))?;
            Ok(u64::try_from(n).unwrap_or(0))
        }

        /// See [`crate::RolloutStore::append_rollout_step`].
        pub fn append_rollout_step(
            &self,
            s: &NewRolloutStep,
            now: OffsetDateTime,
        ) -> Result<i64, StoreError> {
            self.conn
                .query_row(
                    &lite(INSERT_STEP),
                    params![
                        s.version_id,
                        s.step,
                        s.actor,
                        at(now),
                        s.detail.to_string(),
                        s.evidence_record
                    ],
                    |r| r.get(0),
                )
                .map_err(|e| self.classify(e))
        }

        /// See [`crate::RolloutStore::rollout_history`].
        pub fn rollout_history(
            &self,
            version_id: Option<&str>,
        ) -> Result<Vec<RolloutStep>, StoreError> {
            let mut st = self
                .conn
                .prepare(&lite(&format!("SELECT {STEP_COLS} {LIST_STEPS}")))
                .map_err(|e| self.classify(e))?;
            let rows: Vec<RawStep> = st
                .query_map([version_id], |r| RawStep::try_from(r))
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e))?;
            rows.into_iter().map(decode_step).collect()
        }

        /// See [`crate::RolloutStore::record_shadow_result`].
        pub fn record_shadow_result(&self, r: &ShadowResult) -> Result<(), StoreError> {
            let r = shadow_row(r);
            self.conn
                .prepare_cached(&lite(INSERT_SHADOW))
                .and_then(|mut st| {
                    st.execute(params![
                        r.version_id,
                        r.repo_id,
                        secs(r.at),
                        r.action,
                        r.target,
                        r.enforced,
                        r.enforced_rule,
                        r.shadow,
                        r.shadow_rule
                    ])
                })
                .map_err(|e| self.classify(e))?;
            Ok(())
        }

        /// See [`crate::RolloutStore::shadow_results`].
        pub fn shadow_results(
            &self,
            version_id: &str,
            limit: u32,
        ) -> Result<Vec<ShadowResult>, StoreError> {
            let limit = i64::from(limit.min(MAX_SHADOW_RESULTS));
            let mut st = self
                .conn
                .prepare(&lite(&format!("SELECT {SHADOW_COLS} {LIST_SHADOW}")))
                .map_err(|e| self.classify(e))?;
            let rows: Vec<RawShadow> = st
                .query_map(params![version_id, limit], |r| RawShadow::try_from(r))
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e))?;
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
            self.conn
                .execute(&lite(REGISTER_REPO), params![id, path, at(now), labels])
                .map_err(|e| self.classify(e))?;
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
            let n = self
                .conn
                .execute(&lite(SET_LABELS), params![id, labels])
                .map_err(|e| self.classify(e))?;
            if n == 0 {
                return Ok(None);
            }
            self.repository(id)
        }
    }
}

/// The labels as stored: checked, a JSON array.
pub(crate) fn labels_json(labels: &[String]) -> Result<String, StoreError> {
    Ok(serde_json::Value::from(check_labels(labels)?).to_string())
}

/// The id, path and labels of a registration, checked.
pub(crate) fn register_row(
    path: &str,
    labels: &[String],
) -> Result<(String, String, String), StoreError> {
    let path = clip(path.trim(), 4096);
    if path.is_empty() {
        return Err(StoreError::input("path", "a repository path is empty"));
    }
    Ok((
        crate::inventory::repository_id(&path),
        path,
        labels_json(labels)?,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::{InventoryStore, RolloutStore};

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    fn draft(pack: &str, author: &str) -> NewPolicyVersion {
        NewPolicyVersion {
            pack_id: pack.into(),
            source_name: "org.yaml".into(),
            source: "id: org\n".into(),
            digest: "sha256:aa".into(),
            author: author.into(),
            replay: Some(serde_json::json!({"changes": {"newly_blocked": 1}})),
        }
    }

    /// What both backends must do: versions are numbered per pack, state changes only
    /// from the states named, assignments resolve newest first, the history and shadow
    /// results read back in order, repositories are registered with labels.
    pub(crate) fn rollout_lifecycle<S: RolloutStore + InventoryStore + ?Sized>(s: &S) {
        let v1 = s
            .create_policy_version(&draft("org", "alice"), t(0))
            .unwrap();
        assert_eq!((v1.id.as_str(), v1.version), ("pv-org-1", 1));
        assert_eq!(v1.state, VersionState::Draft);
        assert_eq!(v1.replay.as_ref().unwrap()["changes"]["newly_blocked"], 1);
        let v2 = s
            .create_policy_version(&draft("org", "alice"), t(1))
            .unwrap();
        assert_eq!(v2.id, "pv-org-2");
        let other = s.create_policy_version(&draft("web", "bob"), t(2)).unwrap();
        assert_eq!(other.id, "pv-web-1");
        assert!(s.create_policy_version(&draft("../x", "a"), t(2)).is_err());
        assert_eq!(s.list_policy_versions().unwrap().len(), 3);
        assert!(s.policy_version("pv-none-1").unwrap().is_none());

        let approve = VersionChange {
            id: "pv-org-1",
            from: &[VersionState::Draft],
            to: VersionState::Approved,
            reviewed_by: Some("bob"),
            review_reason: Some("ok"),
            signed_pack: Some("{\"signed\":1}"),
        };
        let a = s.change_policy_version(&approve, t(3)).unwrap();
        assert_eq!(a.state, VersionState::Approved);
        assert_eq!(a.reviewed_by.as_deref(), Some("bob"));
        assert_eq!(a.reviewed_at, Some(t(3)));
        assert_eq!(a.signed_pack.as_deref(), Some("{\"signed\":1}"));
        // not from approved again
        let e = s.change_policy_version(&approve, t(4)).unwrap_err();
        assert!(
            matches!(e, StoreError::InvalidVersionTransition { .. }),
            "{e:?}"
        );
        let unknown = VersionChange {
            id: "pv-nope-9",
            ..approve.clone()
        };
        assert!(matches!(
            s.change_policy_version(&unknown, t(4)).unwrap_err(),
            StoreError::UnknownPolicyVersion(_)
        ));
        // a state change without review fields keeps them
        let activate = VersionChange {
            id: "pv-org-1",
            from: &[VersionState::Approved],
            to: VersionState::Active,
            reviewed_by: None,
            review_reason: None,
            signed_pack: None,
        };
        let act = s.change_policy_version(&activate, t(5)).unwrap();
        assert_eq!(act.reviewed_by.as_deref(), Some("bob"));
        assert_eq!(act.reviewed_at, Some(t(3)));

        // repositories and labels
        let r = s
            .register_repository(
                "/src/pay",
                &["prod".into(), "pci".into(), "prod".into()],
                t(6),
            )
            .unwrap();
        assert_eq!(r.labels, ["pci", "prod"]);
        assert_eq!(r.decisions, 0);
        assert!(s
            .register_repository("/src/x", &["bad label".into()], t(6))
            .is_err());
        let r2 = s
            .set_repository_labels(&r.id, &["dev".into()])
            .unwrap()
            .unwrap();
        assert_eq!(r2.labels, ["dev"]);
        assert!(s
            .set_repository_labels("repo-0000000000000000", &[])
            .unwrap()
            .is_none());
        // a sighting keeps the labels
        s.record_repository(
            &crate::RepoSighting {
                path: "/src/pay".into(),
                decisions: 1,
                ..Default::default()
            },
            t(7),
        )
        .unwrap();
        let r3 = s.repository(&r.id).unwrap().unwrap();
        assert_eq!(
            (r3.labels.clone(), r3.decisions),
            (vec!["dev".to_string()], 1)
        );

        // assignments
        let new = |v: &str, kind, target: &str, mode, until| NewAssignment {
            version_id: v.into(),
            target_kind: kind,
            target: target.into(),
            mode,
            shadow_until: until,
            assigned_by: "carol".into(),
        };
        let all = s
            .add_assignment(
                &new("pv-org-1", TargetKind::All, "", AssignMode::Enforce, None),
                t(8),
            )
            .unwrap();
        let lab = s
            .add_assignment(
                &new(
                    "pv-org-2",
                    TargetKind::Label,
                    "dev",
                    AssignMode::Enforce,
                    None,
                ),
                t(9),
            )
            .unwrap();
        assert!(lab > all);
        s.add_assignment(
            &new(
                "pv-web-1",
                TargetKind::Repository,
                &r.id,
                AssignMode::Shadow,
                Some(t(100)),
            ),
            t(10),
        )
        .unwrap();
        assert!(s
            .add_assignment(
                &new("pv-org-1", TargetKind::All, "x", AssignMode::Enforce, None),
                t(8)
            )
            .is_err());
        let open = s.list_assignments(false).unwrap();
        assert_eq!(open.len(), 3);
        let labels = r3.labels.clone();
        let (e, sh) = resolve(&open, &r.id, &labels, t(11));
        assert_eq!(e.unwrap().version_id, "pv-org-2");
        assert_eq!(sh.unwrap().version_id, "pv-web-1");
        // past the shadow period: no shadow
        assert!(resolve(&open, &r.id, &labels, t(100)).1.is_none());
        // another repository: the assignment to all
        let (e, sh) = resolve(&open, "repo-other", &[], t(11));
        assert_eq!(e.unwrap().version_id, "pv-org-1");
        assert!(sh.is_none());
        assert_eq!(
            s.end_assignments("pv-org-2", Some(AssignMode::Shadow), t(12))
                .unwrap(),
            0
        );
        assert_eq!(s.end_assignments("pv-org-2", None, t(12)).unwrap(), 1);
        let open = s.list_assignments(false).unwrap();
        assert_eq!(
            resolve(&open, &r.id, &labels, t(13)).0.unwrap().version_id,
            "pv-org-1"
        );
        let every = s.list_assignments(true).unwrap();
        assert_eq!(every.len(), 3);
        assert_eq!(every[1].ended_at, Some(t(12)));

        // history
        for (v, step) in [
            ("pv-org-1", "drafted"),
            ("pv-org-2", "drafted"),
            ("pv-org-1", "approved"),
        ] {
            s.append_rollout_step(
                &NewRolloutStep {
                    version_id: v.into(),
                    step: step.into(),
                    actor: "alice".into(),
                    detail: serde_json::json!({"n": 1}),
                    evidence_record: Some("rec-1".into()),
                },
                t(14),
            )
            .unwrap();
        }
        let h = s.rollout_history(Some("pv-org-1")).unwrap();
        let steps: Vec<_> = h.iter().map(|x| x.step.as_str()).collect();
        assert_eq!(steps, ["drafted", "approved"]);
        assert_eq!(h[0].detail["n"], 1);
        assert_eq!(h[0].evidence_record.as_deref(), Some("rec-1"));
        assert_eq!(s.rollout_history(None).unwrap().len(), 3);

        // shadow results: the newest, oldest first
        for i in 0..5 {
            s.record_shadow_result(&ShadowResult {
                version_id: "pv-web-1".into(),
                repo_id: r.id.clone(),
                at: t(20 + i),
                action: "execute_command".into(),
                target: format!("cmd {i}"),
                enforced: "allow".into(),
                enforced_rule: "default".into(),
                shadow: "block".into(),
                shadow_rule: "web.no".into(),
            })
            .unwrap();
        }
        let got = s.shadow_results("pv-web-1", 3).unwrap();
        let targets: Vec<_> = got.iter().map(|x| x.target.as_str()).collect();
        assert_eq!(targets, ["cmd 2", "cmd 3", "cmd 4"]);
        assert!(s.shadow_results("pv-org-1", 10).unwrap().is_empty());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_rollouts() {
        let d = tempfile::tempdir().unwrap();
        let s = crate::Store::open(d.path().join("c.db")).unwrap();
        rollout_lifecycle(&s);
    }

    #[test]
    fn labels_are_checked_sorted_and_deduplicated() {
        assert_eq!(
            check_labels(&["b".into(), "a".into(), "b".into()]).unwrap(),
            ["a", "b"]
        );
        assert!(check_labels(&["".into()]).is_err());
        assert!(check_labels(&["a b".into()]).is_err());
        assert!(check_labels(&vec!["a".to_string(); MAX_LABELS + 1]).is_err());
        assert_eq!(
            VersionState::parse("rolled-back"),
            Some(VersionState::RolledBack)
        );
        for s in VersionState::ALL {
            assert_eq!(VersionState::parse(s.as_str()), Some(s));
        }
    }
}
