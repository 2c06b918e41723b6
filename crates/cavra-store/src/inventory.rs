//! The repository inventory of `cavra serve`: every repository that sent a decision (a
//! hook call, `POST /v1/decisions`, an upload of offline decisions), its agents, the pack
//! in force, hook health, and attempts of its project pack to loosen the server's floor.
//! Each sighting is one upsert of the repository row and one of the agent row; both
//! backends run the same SQL ([`UPSERT_REPO`], [`UPSERT_AGENT`]).

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::timefmt::{from_secs, secs};

/// Longest repository path kept (bytes); a longer one is cut.
const MAX_PATH: usize = 4096;
/// Longest agent name, pack id, digest or version kept.
const MAX_FIELD: usize = 256;
/// Longest loosening reason kept.
const MAX_REASON: usize = 1024;

/// What one call tells about a repository.
#[derive(Debug, Clone, Default)]
pub struct RepoSighting {
    /// The repository's path as the caller sees it (its id is derived from it).
    pub path: String,
    /// The agent that called (claude-code, codex, …).
    pub agent: Option<String>,
    /// The pack that decided.
    pub pack_id: Option<String>,
    pub pack_digest: Option<String>,
    /// The calling binary's version (`X-Cavra-Version`).
    pub client_version: Option<String>,
    /// Decisions made online in this call.
    pub decisions: i64,
    /// Offline decisions uploaded in this call.
    pub uploaded: i64,
    /// The floor decided stricter than the project pack would have: why.
    pub loosened: Option<String>,
    /// Offline decisions waiting in the calling hook's queue (`X-Cavra-Queued`), when it
    /// said.
    pub offline_queued: Option<i64>,
}

/// An agent seen in a repository.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RepoAgent {
    pub agent: String,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub last_seen: OffsetDateTime,
}

/// A repository of the inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Repository {
    /// `repo-` and 16 hex digits of the SHA-256 of the path.
    pub id: String,
    pub path: String,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub first_seen: OffsetDateTime,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub last_seen: OffsetDateTime,
    pub agents: Vec<RepoAgent>,
    /// The pack last seen deciding.
    pub pack_id: Option<String>,
    pub pack_digest: Option<String>,
    /// Hook health: the last online decision, how many, offline decisions uploaded.
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub last_decision_at: Option<OffsetDateTime>,
    pub decisions: i64,
    pub offline_uploaded: i64,
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub last_upload_at: Option<OffsetDateTime>,
    /// Offline decisions the hook last said were waiting in its queue (`X-Cavra-Queued`:
    /// before an upload, what it holds; with an upload, what the upload leaves), and when.
    pub offline_queued: Option<i64>,
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub queued_reported_at: Option<OffsetDateTime>,
    /// The binary version the hook last sent (`X-Cavra-Version`).
    pub client_version: Option<String>,
    /// Calls where the project pack would have been looser than the floor (the floor won).
    pub loosen_attempts: i64,
    #[serde(serialize_with = "crate::timefmt::ser_opt")]
    pub last_loosen_at: Option<OffsetDateTime>,
    pub last_loosen_reason: Option<String>,
    /// Its labels (`POST /v1/repositories`, `PUT /v1/repositories/{id}/labels`): policy
    /// versions are assigned to the repositories of a label.
    pub labels: Vec<String>,
}

impl Repository {
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The id of the repository at `path`.
pub fn repository_id(path: &str) -> String {
    let h = hex::encode(Sha256::digest(path.as_bytes()));
    format!("repo-{}", &h[..16])
}

/// `s` cut to at most `max` bytes (on a character boundary), control characters dropped.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

fn clip_opt(s: Option<&String>, max: usize) -> Option<String> {
    s.map(|v| clip(v, max)).filter(|v| !v.is_empty())
}

/// The values of [`UPSERT_REPO`] (`$1`…`$15`), checked and cut.
pub(crate) struct RepoRow {
    pub id: String,
    pub path: String,
    pub now: i64,
    pub last_decision: Option<i64>,
    pub decisions: i64,
    pub uploaded: i64,
    pub last_upload: Option<i64>,
    pub pack_id: Option<String>,
    pub pack_digest: Option<String>,
    pub version: Option<String>,
    pub loosen: i64,
    pub loosen_at: Option<i64>,
    pub loosen_reason: Option<String>,
    pub queued: Option<i64>,
    pub queued_at: Option<i64>,
    pub agent: Option<String>,
}

impl RepoRow {
    pub(crate) fn new(s: &RepoSighting, now: OffsetDateTime) -> Result<RepoRow, StoreError> {
        let path = clip(s.path.trim(), MAX_PATH);
        if path.is_empty() {
            return Err(StoreError::input(
                "repository",
                "a repository path is empty",
            ));
        }
        if s.decisions < 0 || s.uploaded < 0 || s.offline_queued.is_some_and(|q| q < 0) {
            return Err(StoreError::input("repository", "a negative count"));
        }
        let t = secs(now);
        Ok(RepoRow {
            id: repository_id(&path),
            path,
            now: t,
            last_decision: (s.decisions > 0).then_some(t),
            decisions: s.decisions,
            uploaded: s.uploaded,
            last_upload: (s.uploaded > 0).then_some(t),
            pack_id: clip_opt(s.pack_id.as_ref(), MAX_FIELD),
            pack_digest: clip_opt(s.pack_digest.as_ref(), MAX_FIELD),
            version: clip_opt(s.client_version.as_ref(), MAX_FIELD),
            loosen: i64::from(s.loosened.is_some()),
            loosen_at: s.loosened.as_ref().map(|_| t),
            loosen_reason: clip_opt(s.loosened.as_ref(), MAX_REASON),
            queued: s.offline_queued,
            queued_at: s.offline_queued.map(|_| t),
            agent: clip_opt(s.agent.as_ref(), MAX_FIELD),
        })
    }
}

/// One sighting of a repository (PostgreSQL placeholders; SQLite's are `?N`).
pub(crate) const UPSERT_REPO: &str = "INSERT INTO repositories (repo_id, path, first_seen, \
     last_seen, last_decision_at, decisions, offline_uploaded, last_upload_at, pack_id, \
     pack_digest, client_version, loosen_attempts, last_loosen_at, last_loosen_reason, \
     offline_queued, queued_reported_at) \
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT (repo_id) DO UPDATE SET last_seen = excluded.last_seen, \
     last_decision_at = COALESCE(excluded.last_decision_at, repositories.last_decision_at), \
     decisions = repositories.decisions + excluded.decisions, \
     offline_uploaded = repositories.offline_uploaded + excluded.offline_uploaded, \
     last_upload_at = COALESCE(excluded.last_upload_at, repositories.last_upload_at), \
     pack_id = COALESCE(excluded.pack_id, repositories.pack_id), \
     pack_digest = COALESCE(excluded.pack_digest, repositories.pack_digest), \
     client_version = COALESCE(excluded.client_version, repositories.client_version), \
     loosen_attempts = repositories.loosen_attempts + excluded.loosen_attempts, \
     last_loosen_at = COALESCE(excluded.last_loosen_at, repositories.last_loosen_at), \
     last_loosen_reason = COALESCE(excluded.last_loosen_reason, repositories.last_loosen_reason), \
     offline_queued = COALESCE(excluded.offline_queued, repositories.offline_queued), \
     queued_reported_at = COALESCE(excluded.queued_reported_at, repositories.queued_reported_at)";

/// One sighting of an agent in a repository.
pub(crate) const UPSERT_AGENT: &str = "INSERT INTO repository_agents (repo_id, agent, last_seen) \
     VALUES ($1, $2, $3) ON CONFLICT (repo_id, agent) DO UPDATE SET last_seen = excluded.last_seen";

/// The columns a repository is read from, in the order of [`RawRepo`].
pub(crate) const REPO_COLS: &str = "repo_id, path, first_seen, last_seen, last_decision_at, \
     decisions, offline_uploaded, last_upload_at, pack_id, pack_digest, client_version, \
     loosen_attempts, last_loosen_at, last_loosen_reason, labels, offline_queued, queued_reported_at";

/// A repository row as stored ([`REPO_COLS`]): a tuple struct (17 columns, more than
/// the tuples rusqlite and serde read), read from PostgreSQL's JSON array by serde and
/// from SQLite by [`RawRepo::from_sqlite`].
#[derive(Debug, serde::Deserialize)]
pub(crate) struct RawRepo(
    pub(crate) String,
    pub(crate) String,
    pub(crate) i64,
    pub(crate) i64,
    pub(crate) Option<i64>,
    pub(crate) i64,
    pub(crate) i64,
    pub(crate) Option<i64>,
    pub(crate) Option<String>,
    pub(crate) Option<String>,
    pub(crate) Option<String>,
    pub(crate) i64,
    pub(crate) Option<i64>,
    pub(crate) Option<String>,
    pub(crate) String,
    pub(crate) Option<i64>,
    pub(crate) Option<i64>,
);

#[cfg(feature = "sqlite")]
impl RawRepo {
    /// A row of `SELECT {REPO_COLS}`.
    pub(crate) fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRepo> {
        Ok(RawRepo(
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
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
            r.get(15)?,
            r.get(16)?,
        ))
    }
}

fn opt_time(field: &str, t: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    t.map(|s| from_secs(field, s)).transpose()
}

/// A stored row and its agents (`(agent, last_seen)`) as a record.
fn decode_repo(r: RawRepo, agents: Vec<(String, i64)>) -> Result<Repository, StoreError> {
    let (id, path, first, last, last_dec, decisions, uploaded, last_up, pack_id, pack_digest) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9);
    Ok(Repository {
        id,
        path,
        first_seen: from_secs("repositories.first_seen", first)?,
        last_seen: from_secs("repositories.last_seen", last)?,
        agents: agents
            .into_iter()
            .map(|(agent, t)| {
                Ok(RepoAgent {
                    agent,
                    last_seen: from_secs("repository_agents.last_seen", t)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        pack_id,
        pack_digest,
        last_decision_at: opt_time("repositories.last_decision_at", last_dec)?,
        decisions,
        offline_uploaded: uploaded,
        last_upload_at: opt_time("repositories.last_upload_at", last_up)?,
        client_version: r.10,
        loosen_attempts: r.11,
        last_loosen_at: opt_time("repositories.last_loosen_at", r.12)?,
        last_loosen_reason: r.13,
        labels: serde_json::from_str(&r.14).map_err(|e| StoreError::Decode {
            field: "repositories.labels".into(),
            detail: e.to_string(),
        })?,
        offline_queued: r.15,
        queued_reported_at: opt_time("repositories.queued_reported_at", r.16)?,
    })
}

/// Stored rows as records, each with its agents as `agents(id)` reads them.
pub(crate) fn decode_all(
    rows: impl IntoIterator<Item = RawRepo>,
    agents: impl Fn(&str) -> Result<Vec<(String, i64)>, StoreError>,
) -> Result<Vec<Repository>, StoreError> {
    rows.into_iter()
        .map(|r| {
            let a = agents(&r.0)?;
            decode_repo(r, a)
        })
        .collect()
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use crate::db::Store;
    use rusqlite::{params, OptionalExtension as _};

    impl Store {
        /// See [`crate::InventoryStore::record_repository`].
        pub fn record_repository(
            &self,
            s: &RepoSighting,
            now: OffsetDateTime,
        ) -> Result<String, StoreError> {
            let r = RepoRow::new(s, now)?;
            let c = &self.conn;
            c.prepare_cached(&UPSERT_REPO.replace('$', "?"))
                .and_then(|mut st| {
                    st.execute(params![
                        r.id,
                        r.path,
                        r.now,
                        r.last_decision,
                        r.decisions,
                        r.uploaded,
                        r.last_upload,
                        r.pack_id,
                        r.pack_digest,
                        r.version,
                        r.loosen,
                        r.loosen_at,
                        r.loosen_reason,
                        r.queued,
                        r.queued_at
                    ])
                })
                .map_err(|e| self.classify(e))?;
            if let Some(agent) = &r.agent {
                c.prepare_cached(&UPSERT_AGENT.replace('$', "?"))
                    .and_then(|mut st| st.execute(params![r.id, agent, r.now]))
                    .map_err(|e| self.classify(e))?;
            }
            Ok(r.id)
        }

        fn repo_agents(&self, id: &str) -> Result<Vec<(String, i64)>, StoreError> {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT agent, last_seen FROM repository_agents WHERE repo_id = ?1 ORDER BY agent",
                )
                .map_err(|e| self.classify(e))?;
            let rows = st
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e));
            rows
        }

        /// See [`crate::InventoryStore::repository`].
        pub fn repository(&self, id: &str) -> Result<Option<Repository>, StoreError> {
            let row: Option<RawRepo> = self
                .conn
                .query_row(
                    &format!("SELECT {REPO_COLS} FROM repositories WHERE repo_id = ?1"),
                    [id],
                    RawRepo::from_sqlite,
                )
                .optional()
                .map_err(|e| self.classify(e))?;
            Ok(decode_all(row, |id| self.repo_agents(id))?.pop())
        }

        /// See [`crate::InventoryStore::list_repositories`].
        pub fn list_repositories(&self) -> Result<Vec<Repository>, StoreError> {
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT {REPO_COLS} FROM repositories ORDER BY last_seen DESC, repo_id"
                ))
                .map_err(|e| self.classify(e))?;
            let rows: Vec<RawRepo> = st
                .query_map([], RawRepo::from_sqlite)
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e))?;
            decode_all(rows, |id| self.repo_agents(id))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::InventoryStore;

    /// What both backends must do: sightings add up, the newest pack and version win,
    /// agents are listed once each, a loosening attempt is kept with its reason.
    pub(crate) fn inventory_lifecycle(s: &dyn InventoryStore) {
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t1 = OffsetDateTime::from_unix_timestamp(1_800_000_060).unwrap();
        assert!(s.list_repositories().unwrap().is_empty());
        let hook = RepoSighting {
            path: "/src/app".into(),
            agent: Some("claude-code".into()),
            pack_id: Some("project".into()),
            pack_digest: Some("sha256:aa".into()),
            client_version: Some("0.8.0".into()),
            decisions: 2,
            ..Default::default()
        };
        let id = s.record_repository(&hook, t0).unwrap();
        assert_eq!(id, repository_id("/src/app"));
        let loosen = RepoSighting {
            agent: Some("codex".into()),
            client_version: Some("0.9.0".into()),
            decisions: 1,
            loosened: Some("organisation policy `org` blocked".into()),
            ..hook.clone()
        };
        s.record_repository(&loosen, t1).unwrap();
        let upload = RepoSighting {
            path: "/src/app".into(),
            agent: Some("claude-code".into()),
            uploaded: 3,
            offline_queued: Some(4),
            ..Default::default()
        };
        s.record_repository(&upload, t0).unwrap();
        let r = s.repository(&id).unwrap().unwrap();
        assert_eq!(
            (r.offline_queued, r.queued_reported_at),
            (Some(4), Some(t0))
        );
        // a later call that says nothing of its queue keeps the last report
        s.record_repository(&upload_later(&upload), t1).unwrap();
        s.record_repository(
            &RepoSighting {
                path: "/src/other".into(),
                ..Default::default()
            },
            t0,
        )
        .unwrap();
        let r = s.repository(&id).unwrap().unwrap();
        assert_eq!((r.first_seen, r.last_seen), (t0, t1));
        assert_eq!((r.decisions, r.offline_uploaded), (3, 6));
        assert_eq!(
            (r.offline_queued, r.queued_reported_at),
            (Some(4), Some(t0))
        );
        let mut drained = upload.clone();
        drained.offline_queued = Some(0);
        drained.uploaded = 0;
        s.record_repository(&drained, t1).unwrap();
        let r2 = s.repository(&id).unwrap().unwrap();
        assert_eq!(
            (r2.offline_queued, r2.queued_reported_at),
            (Some(0), Some(t1))
        );
        assert_eq!((r.last_decision_at, r.last_upload_at), (Some(t1), Some(t1)));
        assert_eq!(r.client_version.as_deref(), Some("0.9.0"));
        assert_eq!(r.pack_digest.as_deref(), Some("sha256:aa"));
        assert_eq!(r.loosen_attempts, 1);
        assert_eq!(r.last_loosen_at, Some(t1));
        assert!(r
            .last_loosen_reason
            .unwrap()
            .contains("organisation policy"));
        let agents: Vec<_> = r
            .agents
            .iter()
            .map(|a| (a.agent.as_str(), a.last_seen))
            .collect();
        assert_eq!(agents, [("claude-code", t1), ("codex", t1)]);
        let all = s.list_repositories().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, id, "the last seen first");
        assert_eq!(all[1].decisions, 0);
        assert!(all[1].agents.is_empty());
        assert!(s.repository("repo-0000000000000000").unwrap().is_none());
    }

    fn upload_later(u: &RepoSighting) -> RepoSighting {
        RepoSighting {
            offline_queued: None,
            ..u.clone()
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_inventory() {
        let d = tempfile::tempdir().unwrap();
        let s = crate::Store::open(d.path().join("c.db")).unwrap();
        inventory_lifecycle(&s);
    }

    #[test]
    fn a_sighting_is_checked_and_cut() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let empty = RepoSighting::default();
        assert!(RepoRow::new(&empty, now).is_err());
        let s = RepoSighting {
            path: "/work/p".into(),
            agent: Some("claude\u{7}-code".into()),
            client_version: Some("x".repeat(1000)),
            decisions: 2,
            loosened: Some("org".into()),
            ..Default::default()
        };
        let r = RepoRow::new(&s, now).unwrap();
        assert_eq!(r.id, repository_id("/work/p"));
        assert_eq!(r.agent.as_deref(), Some("claude-code"));
        assert_eq!(r.version.map(|v| v.len()), Some(MAX_FIELD));
        assert_eq!(
            (r.loosen, r.last_decision, r.last_upload),
            (1, Some(r.now), None)
        );
        assert_eq!((r.queued, r.queued_at), (None, None));
        let queued = RepoSighting {
            offline_queued: Some(2),
            ..s.clone()
        };
        let r = RepoRow::new(&queued, now).unwrap();
        assert_eq!((r.queued, r.queued_at), (Some(2), Some(r.now)));
        let negq = RepoSighting {
            offline_queued: Some(-1),
            ..s.clone()
        };
        assert!(RepoRow::new(&negq, now).is_err());
        let neg = RepoSighting { uploaded: -1, ..s };
        assert!(RepoRow::new(&neg, now).is_err());
    }
}
