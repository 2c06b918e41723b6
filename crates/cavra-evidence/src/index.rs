//! SQLite search index over the log (`index.sqlite`, created on demand, rebuildable).

use crate::error::{EvidenceError, Result};
use crate::log::{for_each_record, read_tombstone};
use crate::record::Record;
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// Search filters; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub session: Option<String>,
    pub agent: Option<String>,
    pub action_type: Option<String>,
    /// Matches `cavra_decision` or `decision`.
    pub decision: Option<String>,
    /// Matches `rule_id` or any of `rule_ids`.
    pub rule: Option<String>,
    pub kind: Option<String>,
    /// RFC 3339 bounds (inclusive since, exclusive until).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Substring of the record body.
    pub text: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One search hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub seq: u64,
    pub record_id: String,
    pub kind: String,
    pub timestamp: String,
    pub session_id: Option<String>,
    pub agent_id: Option<String>,
    pub action_type: Option<String>,
    pub decision: Option<String>,
    pub rule_id: Option<String>,
    pub target: Option<String>,
    pub body: Value,
}

/// Search results with the total count (for paging).
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub total: u64,
    pub offset: u32,
    pub limit: u32,
    pub hits: Vec<Hit>,
}

/// The index of one log directory.
pub struct Index {
    conn: Connection,
    dir: std::path::PathBuf,
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

impl Index {
    /// Open (creating) the index of the log in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| EvidenceError::io(dir, e))?;
        let conn = Connection::open(dir.join("index.sqlite"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Index {
            conn,
            dir: dir.to_path_buf(),
        })
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
            for_each_record(&self.dir, |_, _, _, r: Record| {
                if last.is_some_and(|l| r.seq <= l) {
                    return Ok(true);
                }
                let b = &r.body;
                let decision = st(b, "cavra_decision").or_else(|| st(b, "decision"));
                let rule_ids = b.get("rule_ids").map(|v| v.to_string());
                ins.execute(params![
                    r.seq as i64,
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
                ])?;
                added += 1;
                if added.is_multiple_of(10_000) {
                    if let Some(p) = progress.as_mut() {
                        p(added);
                    }
                }
                tail = Some((r.seq, r.hash.clone()));
                Ok(true)
            })?;
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
                    params![t.pruned_before_seq as i64],
                )?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Run a query (call [`Index::update`] first to see the newest records).
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResult> {
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
        add("ts >= ?", &q.since, &mut args);
        add("ts < ?", &q.until, &mut args);
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
            "SELECT seq, record_id, kind, ts, session_id, agent_id, action_type, decision, rule_id, target, body FROM records{wh} ORDER BY seq LIMIT {limit} OFFSET {}",
            q.offset
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let body: String = r.get(10)?;
            Ok(Hit {
                seq: r.get::<_, i64>(0)? as u64,
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
            total: total as u64,
            offset: q.offset,
            limit,
            hits,
        })
    }
}
