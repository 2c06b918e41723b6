//! Search index over an evidence log (`<log dir>/index.sqlite`, created on demand,
//! rebuildable). It lives in the store, not in cavra-evidence: the log verifies without
//! any database, and the index is only a disposable view of it.

use crate::db::classify;
use crate::error::StoreError;
use cavra_evidence::log::{for_each_record, read_tombstone};
use cavra_evidence::timeutil::{format_ts, parse_since};
use cavra_evidence::Record;
use rusqlite::{params, Connection};
use serde_json::Value;

pub use crate::search::{Hit, SearchQuery, SearchResult};
use std::path::Path;

type Result<T> = std::result::Result<T, StoreError>;

/// File name of the index inside the log directory.
pub const INDEX_FILE: &str = "index.sqlite";

const BUSY: std::time::Duration = std::time::Duration::from_secs(10);

/// The index of one log directory.
pub struct EvidenceIndex {
    conn: Connection,
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY, record_id TEXT NOT NULL, kind TEXT NOT NULL, ts TEXT NOT NULL,
  session_id TEXT, agent_id TEXT, action_type TEXT, decision TEXT, rule_id TEXT,
  rule_ids TEXT, target TEXT, hash TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS r_session ON records(session_id);
CREATE INDEX IF NOT EXISTS r_ts ON records(ts);
CREATE INDEX IF NOT EXISTS r_decision ON records(decision);
";

fn st(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Searches the log in `dir`: its index (`<dir>/index.sqlite`, created when missing) is
/// brought up to date first, so the newest records are found.
pub fn search_log(dir: &Path, q: &SearchQuery) -> Result<SearchResult> {
    let mut idx = EvidenceIndex::open(dir)?;
    idx.update(None)?;
    idx.search(q)
}

impl EvidenceIndex {
    /// Open (creating) the index of the log in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Config {
            path: dir.to_path_buf(),
            detail: format!("cannot create directory: {e}"),
        })?;
        let path = dir.join(INDEX_FILE);
        let conn = Connection::open(&path).map_err(|e| classify(&path, BUSY, e))?;
        let idx = EvidenceIndex {
            conn,
            dir: dir.to_path_buf(),
            path,
        };
        idx.conn.busy_timeout(BUSY).map_err(|e| idx.err(e))?;
        idx.conn.execute_batch(SCHEMA).map_err(|e| idx.err(e))?;
        Ok(idx)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path, BUSY, e)
    }

    fn meta(&self, k: &str) -> Result<Option<String>> {
        let mut s = self
            .conn
            .prepare_cached("SELECT v FROM meta WHERE k = ?1")?;
        let mut rows = s.query(params![k])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }

    /// Drop everything and index the whole log again.
    pub fn rebuild(&mut self, progress: Option<&mut dyn FnMut(u64)>) -> Result<u64> {
        self.conn
            .execute_batch("DELETE FROM records; DELETE FROM meta;")?;
        self.update(progress)
    }

    /// Index records appended since the last update (rebuilding when the log was rewritten
    /// under the index). Returns the number of records added.
    pub fn update(&mut self, mut progress: Option<&mut dyn FnMut(u64)>) -> Result<u64> {
        let last: Option<u64> = self.meta("last_seq")?.and_then(|s| s.parse().ok());
        let last_hash = self.meta("last_hash")?;
        // the indexed tail must still be in the log
        if let (Some(ls), Some(lh)) = (last, &last_hash) {
            let mut still = false;
            for_each_record(&self.dir, |_, _, _, r| {
                if r.seq == ls {
                    still = r.hash == *lh;
                    return Ok(false);
                }
                Ok(true)
            })?;
            if !still && read_tombstone(&self.dir)?.is_none_or(|t| t.pruned_before_seq <= ls) {
                self.conn
                    .execute_batch("DELETE FROM records; DELETE FROM meta;")?;
                return self.update(progress);
            }
        }
        let tx = self.conn.transaction()?;
        let mut added = 0u64;
        let mut tail: Option<(u64, String)> = None;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO records (seq, record_id, kind, ts, session_id, agent_id, action_type, decision, rule_id, rule_ids, target, hash, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            // a database failure inside the log walk stops the walk and is reported after it
            let mut failed: Option<rusqlite::Error> = None;
            for_each_record(&self.dir, |_, _, _, r: Record| {
                if last.is_some_and(|l| r.seq <= l) {
                    return Ok(true);
                }
                let b = &r.body;
                let decision = st(b, "cavra_decision").or_else(|| st(b, "decision"));
                let rule_ids = b.get("rule_ids").map(|v| v.to_string());
                let res = ins.execute(params![
                    i64::try_from(r.seq).unwrap_or(i64::MAX),
                    r.record_id,
                    r.kind,
                    r.timestamp,
                    st(b, "session_id"),
                    st(b, "agent_id"),
                    st(b, "action_type"),
                    decision,
                    st(b, "rule_id"),
                    rule_ids,
                    st(b, "target"),
                    r.hash,
                    b.to_string()
                ]);
                if let Err(e) = res {
                    failed = Some(e);
                    return Ok(false);
                }
                added = added.saturating_add(1);
                if added.is_multiple_of(10_000) {
                    if let Some(p) = progress.as_mut() {
                        p(added);
                    }
                }
                tail = Some((r.seq, r.hash.clone()));
                Ok(true)
            })?;
            if let Some(e) = failed {
                return Err(classify(&self.path, BUSY, e));
            }
            if let Some((s, h)) = &tail {
                tx.execute(
                    "INSERT OR REPLACE INTO meta (k, v) VALUES ('last_seq', ?1)",
                    params![s.to_string()],
                )?;
                tx.execute(
                    "INSERT OR REPLACE INTO meta (k, v) VALUES ('last_hash', ?1)",
                    params![h],
                )?;
            }
            if let Some(t) = read_tombstone(&self.dir)? {
                tx.execute(
                    "DELETE FROM records WHERE seq < ?1",
                    params![i64::try_from(t.pruned_before_seq).unwrap_or(i64::MAX)],
                )?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Run a query (call [`EvidenceIndex::update`] first to see the newest records).
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResult> {
        let bound = |t: &Option<String>| -> Result<Option<String>> {
            Ok(t.as_deref().map(parse_since).transpose()?.map(format_ts))
        };
        let (since, until) = (bound(&q.since)?, bound(&q.until)?);
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<String> = Vec::new();
        let mut add = |c: &str, v: &Option<String>, args: &mut Vec<String>| {
            if let Some(v) = v {
                args.push(v.clone());
                conds.push(c.replace('?', &format!("?{}", args.len())));
            }
        };
        add("session_id = ?", &q.session, &mut args);
        add("agent_id = ?", &q.agent, &mut args);
        add("action_type = ?", &q.action_type, &mut args);
        add("decision = ?", &q.decision, &mut args);
        add("kind = ?", &q.kind, &mut args);
        add("ts >= ?", &since, &mut args);
        add("ts < ?", &until, &mut args);
        if let Some(r) = &q.rule {
            args.push(r.clone());
            let n = args.len();
            args.push(format!(
                "%\"{}\"%",
                r.replace('%', "\\%").replace('_', "\\_")
            ));
            conds.push(format!(
                "(rule_id = ?{n} OR rule_ids LIKE ?{} ESCAPE '\\')",
                n + 1
            ));
        }
        if let Some(t) = &q.text {
            args.push(format!(
                "%{}%",
                t.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            ));
            conds.push(format!("body LIKE ?{} ESCAPE '\\'", args.len()));
        }
        let wh = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let p = rusqlite::params_from_iter(args.iter());
        let total: i64 =
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM records{wh}"), p, |r| {
                    r.get(0)
                })?;
        let limit = if q.limit == 0 { 50 } else { q.limit };
        let sql = format!(
            "SELECT seq, record_id, kind, ts, session_id, agent_id, action_type, decision, rule_id, target, body FROM records{wh} ORDER BY seq DESC LIMIT {limit} OFFSET {}",
            q.offset
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let body: String = r.get(10)?;
            Ok(Hit {
                seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                record_id: r.get(1)?,
                kind: r.get(2)?,
                timestamp: r.get(3)?,
                session_id: r.get(4)?,
                agent_id: r.get(5)?,
                action_type: r.get(6)?,
                decision: r.get(7)?,
                rule_id: r.get(8)?,
                target: r.get(9)?,
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            })
        })?;
        let hits = rows.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(SearchResult {
            total: u64::try_from(total).unwrap_or(0),
            offset: q.offset,
            limit,
            hits,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cavra_evidence::{EvidenceLog, LogConfig};
    use serde_json::json;

    fn log_with(dir: &Path, n: usize) -> EvidenceLog {
        let c = LogConfig::new(dir.join("evidence"), dir.join("keys"));
        let mut log = EvidenceLog::open(c).unwrap();
        for i in 0..n {
            let decision = if i % 2 == 0 { "allow" } else { "block" };
            log.append(
                "decision",
                &json!({"session_id": format!("s{}", i % 3), "cavra_decision": decision,
                        "rule_ids": ["a_b", "c"], "target": format!("file{i}.txt 100%")}),
            )
            .unwrap();
        }
        log
    }

    #[test]
    fn index_updates_incrementally_and_filters() {
        let d = tempfile::tempdir().unwrap();
        let mut log = log_with(d.path(), 5);
        let ev = d.path().join("evidence");
        let mut idx = EvidenceIndex::open(&ev).unwrap();
        assert_eq!(idx.update(None).unwrap(), 5);
        assert_eq!(idx.update(None).unwrap(), 0, "nothing new");
        log.append("decision", &json!({"cavra_decision": "block"}))
            .unwrap();
        assert_eq!(idx.update(None).unwrap(), 1);
        let all = idx.search(&SearchQuery::default()).unwrap();
        assert_eq!(all.total, 6);
        let q = SearchQuery {
            decision: Some("block".into()),
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&q).unwrap().total, 3);
        // `_` and `%` are literal in rule and text filters
        let q = SearchQuery {
            rule: Some("a_b".into()),
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&q).unwrap().total, 5);
        let q = SearchQuery {
            rule: Some("a%".into()),
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&q).unwrap().total, 0);
        let q = SearchQuery {
            text: Some("file3.txt 100%".into()),
            ..SearchQuery::default()
        };
        let r = idx.search(&q).unwrap();
        assert_eq!(r.total, 1);
        assert_eq!(r.hits.first().map(|h| h.seq), Some(3));
    }

    #[test]
    fn search_log_sees_new_records_newest_first_within_time_bounds() {
        let d = tempfile::tempdir().unwrap();
        let mut log = log_with(d.path(), 3);
        let ev = d.path().join("evidence");
        let q = |since: &str, until: Option<&str>| SearchQuery {
            since: Some(since.into()),
            until: until.map(str::to_string),
            ..SearchQuery::default()
        };
        let r = search_log(&ev, &q("1h", None)).unwrap();
        assert_eq!(r.hits.iter().map(|h| h.seq).collect::<Vec<_>>(), [2, 1, 0]);
        log.append("decision", &json!({})).unwrap();
        assert_eq!(search_log(&ev, &q("2000-01-01", None)).unwrap().total, 4);
        assert_eq!(search_log(&ev, &q("1h", Some("2h"))).unwrap().total, 0);
        let future = "2999-01-01T00:00:00Z";
        assert_eq!(search_log(&ev, &q(future, None)).unwrap().total, 0);
        let e = search_log(&ev, &q("yesterday", None)).unwrap_err();
        assert!(e.to_string().contains("neither an RFC 3339 time"), "{e}");
    }

    #[test]
    fn index_rebuilds_when_the_log_was_replaced_under_it() {
        let d = tempfile::tempdir().unwrap();
        drop(log_with(d.path(), 4));
        let ev = d.path().join("evidence");
        let mut idx = EvidenceIndex::open(&ev).unwrap();
        assert_eq!(idx.update(None).unwrap(), 4);
        drop(idx);
        // a different log of two records in the same place
        std::fs::remove_dir_all(&ev).unwrap();
        std::fs::remove_dir_all(d.path().join("keys")).unwrap();
        drop(log_with(d.path(), 2));
        let mut idx = EvidenceIndex::open(&ev).unwrap();
        idx.update(None).unwrap();
        assert_eq!(idx.search(&SearchQuery::default()).unwrap().total, 2);
        assert_eq!(idx.rebuild(None).unwrap(), 2);
    }

    #[test]
    fn a_foreign_index_file_is_a_typed_store_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(INDEX_FILE), b"not a database at all, no").unwrap();
        let e = EvidenceIndex::open(d.path()).err().unwrap();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    }
}
