//! The decision log in PostgreSQL: the evidence file log's records (the same envelope,
//! [`cavra_evidence::record`]), hash-chained and signed in one order by every replica
//! writing to the database, with signed Merkle checkpoints.
//!
//! **Group commit.** A [`PgEvidenceLog`] is a handle (cheap to clone, used from many
//! threads) to one writer thread that owns a connection. [`PgEvidenceLog::append`] queues
//! the record and blocks until its batch is committed; the writer takes everything queued
//! (up to [`WriterConfig::max_batch`]) into one transaction: it locks the head row
//! (`SELECT … FOR UPDATE`: replicas' batches take turns), reads the head (next seq, last
//! hash, Merkle frontier), seals the batch's records in order with this replica's key,
//! inserts them in one statement, writes a signed [`Checkpoint`] at every multiple of
//! `checkpoint_every` the batch reaches, stores the head, `NOTIFY`s [`CHANNEL`] with the
//! seq range (delivered at commit) and commits. A failed transaction fails every waiter of
//! that batch (their decisions fail closed) and drops the connection; the next batch
//! reconnects and rereads the head, so nothing committed is lost and the chain never
//! breaks. (A commit whose acknowledgement is lost with the connection is reported as a
//! failure although its records are in the log: the log may hold a record of a decision
//! that failed closed, never miss one that was answered.)
//!
//! **Reading.** [`record`], [`decision`] and [`records_between`] read rows back;
//! [`export_log`] writes a log directory (segments, `checkpoints.jsonl`, `signers.json`)
//! that [`cavra_evidence::verify_log`] and `cavra evidence prove` work on offline;
//! [`listen`] follows [`CHANNEL`] and hands every new record to a callback (the server's
//! live stream across replicas).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cavra_evidence::canon::{canonical_json, write_value_redacted};
use cavra_evidence::keys::{SigningKey, TrustRoot, TrustedKey};
use cavra_evidence::log::{check_kind, Appended, Checkpoint};
use cavra_evidence::merkle::{leaf_hash, Frontier, Hash};
use cavra_evidence::record::{
    make_record_id, record_sig_message, Record, Unsigned, RECORD_VERSION,
};
use cavra_evidence::segments::{list_segments, segment_name};
use cavra_evidence::timeutil::{format_ts, now_ts, parse_since};
use cavra_evidence::{redact_str, EvidenceError};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Transaction};
use serde::Serialize;
use serde_json::Value;

use crate::error::StoreError;
use crate::search::{Hit, SearchQuery, SearchResult};

/// The `NOTIFY` channel of committed batches; the payload is `{"first":N,"last":M}`.
pub const CHANNEL: &str = "cavra_evidence";
/// Default largest batch (records per transaction).
pub const DEFAULT_MAX_BATCH: usize = 512;
/// `application_name` of the writer's connection.
pub const WRITER_APPLICATION: &str = "cavra-evidence-writer";
/// `application_name` of the listener's connection.
pub const LISTENER_APPLICATION: &str = "cavra-evidence-listener";

/// What can go wrong with the decision log in PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgEvidenceError {
    /// A record or key the evidence hub refuses.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The batch holding the record was rolled back (or its commit was not acknowledged).
    #[error("the evidence batch was not committed: {0}")]
    NotCommitted(String),
    /// The writer thread is gone.
    #[error("the evidence writer has stopped")]
    Stopped,
    /// The head row does not describe a log.
    #[error("the evidence head in the database is inconsistent: {0}")]
    Inconsistent(String),
    /// Writing an export failed.
    #[error("i/o error on `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<postgres::Error> for PgEvidenceError {
    fn from(e: postgres::Error) -> Self {
        PgEvidenceError::Store(super::classify(&e))
    }
}

type Result<T, E = PgEvidenceError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PgEvidenceError + '_ {
    move |source| PgEvidenceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| PgEvidenceError::Inconsistent(format!("{n} is out of range")))
}

fn to_u64(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| PgEvidenceError::Inconsistent(format!("{n} is negative")))
}

/// Where the writer connects and how it batches.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The database.
    pub db: postgres::Config,
    /// A signed checkpoint at every multiple of this many records (0: none).
    pub checkpoint_every: u64,
    /// At most this many records per transaction.
    pub max_batch: usize,
    /// How long a batch waits for the head lock (another replica's batch holds it for
    /// milliseconds) before it fails.
    pub lock_timeout: Duration,
}

/// Default [`WriterConfig::lock_timeout`].
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// PostgreSQL ends a writer's transaction left open this long (a replica that stopped
/// answering mid-batch), so that a lost replica never holds the log.
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(10);

impl WriterConfig {
    /// The configuration for `url` (a `postgres://` URL or `key=value` string) with the
    /// default batch size.
    pub fn new(url: &str, checkpoint_every: u64) -> Result<WriterConfig> {
        let mut db: postgres::Config =
            url.parse().map_err(|e: postgres::Error| StoreError::Open {
                path: PathBuf::from(super::redact_url(url)),
                detail: format!("invalid connection string: {e}"),
            })?;
        db.connect_timeout(super::DEFAULT_CONNECT_TIMEOUT);
        Ok(WriterConfig {
            db,
            checkpoint_every,
            max_batch: DEFAULT_MAX_BATCH,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }
}

fn connect(db: &postgres::Config, app: &str) -> Result<Client> {
    let mut c = db.clone();
    c.application_name(app);
    Ok(c.connect(NoTls)?)
}

/// The writer's connection: [`connect`] with its lock and idle-in-transaction timeouts.
fn connect_writer(cfg: &WriterConfig) -> Result<Client> {
    let mut db = cfg.db.clone();
    let ms = |d: Duration| d.as_millis().max(1);
    let opts = format!(
        "-c lock_timeout={} -c idle_in_transaction_session_timeout={}",
        ms(cfg.lock_timeout),
        ms(IDLE_IN_TRANSACTION)
    );
    let opts = match db.get_options() {
        Some(o) if !o.trim().is_empty() => format!("{o} {opts}"),
        _ => opts,
    };
    db.options(&opts);
    connect(&db, WRITER_APPLICATION)
}

/// The columns copied out of a record body for lookups.
/// The lookup columns of a record (each string redacted as the record's body is).
#[derive(Debug, Default, Clone)]
pub struct Columns {
    session_id: Option<String>,
    agent_id: Option<String>,
    action_type: Option<String>,
    decision: Option<String>,
    rule_id: Option<String>,
    target: Option<String>,
    decision_id: Option<String>,
}

impl Columns {
    /// From the body as given: each string redacted as the record's body is.
    fn of(body: &Value) -> Columns {
        Columns::from_fields(|k| body.get(k).and_then(Value::as_str))
    }

    /// From `field(k)`, the record's top-level string member `k` (not yet redacted).
    pub fn from_fields<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Columns {
        let st = |k: &str| field(k).map(|s| redact_str(s).unwrap_or_else(|| s.to_string()));
        Columns {
            session_id: st("session_id"),
            agent_id: st("agent_id"),
            action_type: st("action_type"),
            decision: st("cavra_decision").or_else(|| st("decision")),
            rule_id: st("rule_id"),
            target: st("target"),
            decision_id: st("decision_id"),
        }
    }
}

/// One record to append: its kind, canonical (redacted) body and lookup columns.
#[derive(Debug, Clone)]
struct Item {
    kind: String,
    body: String,
    cols: Columns,
}

impl Item {
    fn new(kind: &str, body: &Value) -> Result<Item> {
        check_kind(kind)?;
        if !body.is_object() {
            return Err(EvidenceError::Invalid("record body must be a JSON object".into()).into());
        }
        let mut b = String::with_capacity(512);
        write_value_redacted(&mut b, body);
        Ok(Item {
            kind: kind.to_string(),
            body: b,
            cols: Columns::of(body),
        })
    }
}

/// The head row.
#[derive(Debug, Clone)]
struct Head {
    next_seq: u64,
    last_hash: String,
    frontier: Frontier,
    checkpoint_size: u64,
}

const HEAD_SQL: &str =
    "SELECT next_seq, last_hash, frontier, checkpoint_size FROM evidence_head WHERE id = 1";

impl Head {
    fn from_row(row: &postgres::Row) -> Result<Head> {
        let next_seq = to_u64(row.try_get(0)?)?;
        let frontier: Vec<u8> = row.try_get(2)?;
        let chunks = frontier.chunks_exact(32);
        if !chunks.remainder().is_empty() {
            return Err(PgEvidenceError::Inconsistent(
                "the Merkle frontier is not a list of 32-byte nodes".into(),
            ));
        }
        let nodes: Vec<Hash> = chunks.filter_map(|c| <Hash>::try_from(c).ok()).collect();
        let frontier = Frontier::from_parts(next_seq, nodes).ok_or_else(|| {
            PgEvidenceError::Inconsistent(format!(
                "the Merkle frontier does not match {next_seq} records"
            ))
        })?;
        Ok(Head {
            next_seq,
            last_hash: row.try_get(1)?,
            frontier,
            checkpoint_size: to_u64(row.try_get(3)?)?,
        })
    }

    fn store(&self, t: &mut Transaction<'_>) -> Result<()> {
        let frontier: Vec<u8> = self.frontier.nodes().concat();
        t.execute(
            "UPDATE evidence_head SET next_seq = $1, last_hash = $2, frontier = $3, \
             checkpoint_size = $4 WHERE id = 1",
            &[
                &to_i64(self.next_seq)?,
                &self.last_hash,
                &frontier,
                &to_i64(self.checkpoint_size)?,
            ],
        )?;
        Ok(())
    }

    /// A checkpoint over the whole head, signed by `key`.
    fn sign(&self, key: &SigningKey) -> Checkpoint {
        let mut cp = Checkpoint {
            alg: key.mode().as_str().to_string(),
            key_id: key.key_id().to_string(),
            last_hash: self.last_hash.clone(),
            root_hash: hex::encode(self.frontier.root()),
            sig: String::new(),
            timestamp: now_ts(),
            tree_size: self.frontier.size(),
            v: 1,
        };
        cp.sig = key.sign(&cp.signed_message());
        cp
    }
}

/// The head, locked until the end of the transaction (replicas' batches take turns).
fn lock_head(t: &mut Transaction<'_>) -> Result<Head> {
    Head::from_row(&t.query_one(&format!("{HEAD_SQL} FOR UPDATE"), &[])?)
}

fn checkpoint_line(cp: &Checkpoint) -> Result<String> {
    serde_json::to_value(cp)
        .map(|v| canonical_json(&v))
        .map_err(|e| EvidenceError::Invalid(e.to_string()).into())
}

fn insert_checkpoint(t: &mut Transaction<'_>, cp: &Checkpoint) -> Result<()> {
    t.execute(
        "INSERT INTO evidence_checkpoints (tree_size, key_id, line) VALUES ($1, $2, $3)",
        &[&to_i64(cp.tree_size)?, &cp.key_id, &checkpoint_line(cp)?],
    )?;
    Ok(())
}

/// Seal and insert `items` as one transaction (see the module docs).
fn append_batch(
    c: &mut Client,
    key: &SigningKey,
    every: u64,
    items: &[&Item],
) -> Result<Vec<Appended>> {
    let mut t = c.transaction()?;
    let mut head = lock_head(&mut t)?;
    let first = head.next_seq;
    let n = items.len();
    let mut out = Vec::with_capacity(n);
    let mut cps = Vec::new();
    let (mut seqs, mut ids, mut kinds, mut tss, mut hashes, mut lines) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut cols: [Vec<Option<String>>; 7] = Default::default();
    let (mut scratch, mut line) = (String::new(), String::new());
    let alg = key.mode().as_str();
    for it in items {
        let seq = head.next_seq;
        let ts = now_ts();
        let record_id = make_record_id(seq, &head.last_hash);
        let u = Unsigned {
            alg,
            body: &it.body,
            key_id: key.key_id(),
            kind: &it.kind,
            prev_hash: &head.last_hash,
            record_id: &record_id,
            seq,
            timestamp: &ts,
            v: RECORD_VERSION,
        };
        let (hash, _) = u.seal_into(
            |h| key.sign(&record_sig_message(h)),
            &mut scratch,
            &mut line,
        );
        head.frontier.push(leaf_hash(line.as_bytes()));
        head.next_seq = seq
            .checked_add(1)
            .ok_or_else(|| PgEvidenceError::Inconsistent("the log is full".into()))?;
        head.last_hash = hash.clone();
        if every > 0 && head.frontier.size().is_multiple_of(every) {
            cps.push(head.sign(key));
            head.checkpoint_size = head.frontier.size();
        }
        seqs.push(to_i64(seq)?);
        ids.push(record_id.clone());
        kinds.push(it.kind.clone());
        tss.push(ts);
        hashes.push(hash.clone());
        lines.push(line.clone());
        let c = &it.cols;
        for (v, x) in cols.iter_mut().zip([
            &c.session_id,
            &c.agent_id,
            &c.action_type,
            &c.decision,
            &c.rule_id,
            &c.target,
            &c.decision_id,
        ]) {
            v.push(x.clone());
        }
        out.push(Appended {
            record_id,
            seq,
            hash,
        });
    }
    let key_ids = vec![key.key_id().to_string(); n];
    let [session, agent, action, decision, rule, target, decision_id] = &cols;
    t.execute(
        "INSERT INTO evidence_records (seq, record_id, kind, ts, key_id, hash, session_id, \
         agent_id, action_type, decision, rule_id, target, decision_id, line) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
         $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], \
         $13::TEXT[], $14::TEXT[])",
        &[
            &seqs,
            &ids,
            &kinds,
            &tss,
            &key_ids,
            &hashes,
            session,
            agent,
            action,
            decision,
            rule,
            target,
            decision_id,
            &lines,
        ],
    )?;
    for cp in &cps {
        insert_checkpoint(&mut t, cp)?;
    }
    head.store(&mut t)?;
    if let Some(last) = out.last() {
        let payload = format!("{{\"first\":{first},\"last\":{}}}", last.seq);
        t.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
    }
    t.commit()?;
    Ok(out)
}

/// Records the public half of `key` (an HMAC key has none: its records verify only where
/// its secret is).
fn register_key(c: &mut impl GenericClient, key: &SigningKey) -> Result<()> {
    let now = crate::timefmt::secs(time::OffsetDateTime::now_utc());
    c.execute(
        "INSERT INTO evidence_keys (key_id, alg, public_key, registered_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING",
        &[
            &key.key_id(),
            &key.mode().as_str(),
            &key.public_key_b64(),
            &now,
        ],
    )?;
    Ok(())
}

struct Job {
    item: Item,
    reply: mpsc::SyncSender<Result<Appended>>,
}

/// A handle to this replica's evidence writer (see the module docs). Clones share the
/// writer; the writer stops once every clone is dropped, after the queued records.
#[derive(Clone)]
pub struct PgEvidenceLog {
    tx: mpsc::Sender<Job>,
    key_id: Arc<str>,
    batches: Arc<AtomicU64>,
}

impl std::fmt::Debug for PgEvidenceLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEvidenceLog")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PgEvidenceLog {
    /// Connect (so that a bad database fails here), record the public half of `key` and
    /// start the writer thread. The schema must be migrated ([`super::connect_pool`]).
    pub fn start(cfg: WriterConfig, key: Arc<SigningKey>) -> Result<PgEvidenceLog> {
        let mut c = connect_writer(&cfg)?;
        register_key(&mut c, &key)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let key_id: Arc<str> = key.key_id().into();
        let batches = Arc::new(AtomicU64::new(0));
        let mut w = Writer {
            cfg,
            key,
            conn: Some(c),
            batches: Arc::clone(&batches),
        };
        std::thread::Builder::new()
            .name("cavra-evidence-pg".into())
            .spawn(move || w.run(&rx))
            .map_err(|e| PgEvidenceError::NotCommitted(format!("cannot start the writer: {e}")))?;
        Ok(PgEvidenceLog {
            tx,
            key_id,
            batches,
        })
    }

    /// How many batches (transactions) the writer committed.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// The id of the key this replica signs with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Append one record (`body` a JSON object, secrets redacted in the record) and wait
    /// until its batch is committed.
    pub fn append(&self, kind: &str, body: &Value) -> Result<Appended> {
        self.send(Item::new(kind, body)?)
    }

    /// [`PgEvidenceLog::append`] of a body made ready beforehand, with its lookup columns.
    pub fn append_prepared(
        &self,
        kind: &str,
        body: &cavra_evidence::PreparedBody,
        cols: Columns,
    ) -> Result<Appended> {
        check_kind(kind)?;
        self.send(Item {
            kind: kind.to_string(),
            body: body.as_str().to_string(),
            cols,
        })
    }

    fn send(&self, item: Item) -> Result<Appended> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.tx
            .send(Job { item, reply })
            .map_err(|_| PgEvidenceError::Stopped)?;
        rx.recv().map_err(|_| PgEvidenceError::Stopped)?
    }
}

struct Writer {
    cfg: WriterConfig,
    key: Arc<SigningKey>,
    conn: Option<Client>,
    batches: Arc<AtomicU64>,
}

impl Writer {
    fn run(&mut self, rx: &mpsc::Receiver<Job>) {
        let max = self.cfg.max_batch.max(1);
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            match self.commit(&batch) {
                Ok(done) => {
                    self.batches.fetch_add(1, Ordering::Relaxed);
                    for (j, a) in batch.into_iter().zip(done) {
                        let _ = j.reply.send(Ok(a));
                    }
                }
                Err(e) => {
                    // reconnect for the next batch, which rereads the head
                    self.conn = None;
                    let msg = e.to_string();
                    for j in batch {
                        let _ = j
                            .reply
                            .send(Err(PgEvidenceError::NotCommitted(msg.clone())));
                    }
                }
            }
        }
    }

    fn commit(&mut self, batch: &[Job]) -> Result<Vec<Appended>> {
        // a connection known to be closed (the server went away while idle) is replaced
        // before the batch, which then needs no retry
        if self.conn.as_ref().is_some_and(Client::is_closed) {
            self.conn = None;
        }
        let c = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(connect_writer(&self.cfg)?),
        };
        let items: Vec<&Item> = batch.iter().map(|j| &j.item).collect();
        append_batch(c, &self.key, self.cfg.checkpoint_every, &items)
    }
}

/// Write a signed checkpoint over the whole log now, or return the newest one when it
/// already covers every record (`None`: the log is empty).
pub fn checkpoint(c: &mut Client, key: &SigningKey) -> Result<Option<Checkpoint>> {
    let mut t = c.transaction()?;
    let mut head = lock_head(&mut t)?;
    if head.next_seq == 0 {
        return Ok(None);
    }
    if head.checkpoint_size == head.next_seq {
        let row = t.query_opt(
            "SELECT line FROM evidence_checkpoints WHERE tree_size = $1",
            &[&to_i64(head.next_seq)?],
        )?;
        if let Some(row) = row {
            let line: String = row.try_get(0)?;
            return serde_json::from_str(&line).map(Some).map_err(|e| {
                StoreError::Decode {
                    field: "evidence_checkpoints.line".into(),
                    detail: e.to_string(),
                }
                .into()
            });
        }
    }
    register_key(&mut t, key)?;
    let cp = head.sign(key);
    insert_checkpoint(&mut t, &cp)?;
    head.checkpoint_size = cp.tree_size;
    head.store(&mut t)?;
    t.commit()?;
    Ok(Some(cp))
}

fn parse_line(line: &str) -> Result<Record> {
    Record::parse(line.as_bytes()).map_err(|detail| {
        StoreError::Decode {
            field: "evidence_records.line".into(),
            detail,
        }
        .into()
    })
}

fn first_record(c: &mut impl GenericClient, sql: &str, id: &str) -> Result<Option<Record>> {
    let seq = id.parse::<i64>().ok();
    match c.query_opt(sql, &[&id, &seq])? {
        Some(row) => parse_line(&row.try_get::<_, String>(0)?).map(Some),
        None => Ok(None),
    }
}

/// The record with the record id (`ev-…`) or sequence number `id`.
pub fn record(c: &mut impl GenericClient, id: &str) -> Result<Option<Record>> {
    first_record(
        c,
        "SELECT line FROM evidence_records WHERE record_id = $1 OR seq = $2 ORDER BY seq LIMIT 1",
        id,
    )
}

/// The decision record with the decision id (`dec-…`) or record id `id`.
pub fn decision(c: &mut impl GenericClient, id: &str) -> Result<Option<Record>> {
    first_record(
        c,
        "SELECT line FROM evidence_records WHERE kind = 'decision' \
         AND (record_id = $1 OR decision_id = $1 OR seq = $2) ORDER BY seq LIMIT 1",
        id,
    )
}

/// The records with `first <= seq <= last`, of `kind` when given, in order.
pub fn records_between(
    c: &mut impl GenericClient,
    first: u64,
    last: u64,
    kind: Option<&str>,
) -> Result<Vec<Record>> {
    c.query(
        "SELECT line FROM evidence_records WHERE seq >= $1 AND seq <= $2 \
         AND ($3::TEXT IS NULL OR kind = $3) ORDER BY seq",
        &[&to_i64(first)?, &to_i64(last)?, &kind],
    )?
    .iter()
    .map(|r| parse_line(&r.try_get::<_, String>(0)?))
    .collect()
}

/// The records `q` selects (the evidence index's filters; `text` is a substring of the
/// body as PostgreSQL prints it), newest first, paged, with how many match in all.
pub fn search(c: &mut impl GenericClient, q: &SearchQuery) -> Result<SearchResult> {
    const WHERE: &str = " WHERE ($1::TEXT IS NULL OR session_id = $1) \
        AND ($2::TEXT IS NULL OR agent_id = $2) AND ($3::TEXT IS NULL OR action_type = $3) \
        AND ($4::TEXT IS NULL OR decision = $4) AND ($5::TEXT IS NULL OR kind = $5) \
        AND ($6::TEXT IS NULL OR ts >= $6) AND ($7::TEXT IS NULL OR ts < $7) \
        AND ($8::TEXT IS NULL OR rule_id = $8 OR (line::JSONB -> 'body' -> 'rule_ids') ? $8) \
        AND ($9::TEXT IS NULL OR strpos(line::JSONB ->> 'body', $9) > 0)";
    let bound = |t: &Option<String>| -> Result<Option<String>> {
        Ok(t.as_deref().map(parse_since).transpose()?.map(format_ts))
    };
    let (since, until) = (bound(&q.since)?, bound(&q.until)?);
    let p: [&(dyn postgres::types::ToSql + Sync); 9] = [
        &q.session,
        &q.agent,
        &q.action_type,
        &q.decision,
        &q.kind,
        &since,
        &until,
        &q.rule,
        &q.text,
    ];
    let total: i64 = c
        .query_one(&format!("SELECT count(*) FROM evidence_records{WHERE}"), &p)?
        .try_get(0)?;
    let limit = if q.limit == 0 { 50 } else { q.limit };
    let (lim, off) = (i64::from(limit), i64::from(q.offset));
    let mut all: Vec<&(dyn postgres::types::ToSql + Sync)> = p.to_vec();
    all.push(&lim);
    all.push(&off);
    let rows = c.query(
        &format!("SELECT line FROM evidence_records{WHERE} ORDER BY seq DESC LIMIT $10 OFFSET $11"),
        &all,
    )?;
    let hits = rows
        .iter()
        .map(|r| parse_line(&r.try_get::<_, String>(0)?).map(Hit::of_record))
        .collect::<Result<Vec<_>>>()?;
    Ok(SearchResult {
        total: to_u64(total)?,
        offset: q.offset,
        limit,
        hits,
    })
}

/// The number of records (the next seq).
pub fn len(c: &mut impl GenericClient) -> Result<u64> {
    Ok(Head::from_row(&c.query_one(HEAD_SQL, &[])?)?.next_seq)
}

/// The Ed25519 keys the writers registered, as a trust-root document. What the database
/// says: it checks integrity; trust comes from a trust root made from the replicas' keys.
pub fn signers(c: &mut impl GenericClient) -> Result<TrustRoot> {
    let rows = c.query(
        "SELECT key_id, alg, public_key FROM evidence_keys \
         WHERE public_key IS NOT NULL ORDER BY key_id",
        &[],
    )?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        keys.push(TrustedKey {
            key_id: r.try_get(0)?,
            alg: r.try_get(1)?,
            public_key: r.try_get(2)?,
            not_before: None,
            not_after: None,
            comment: Some("registered in the database by an evidence writer".into()),
        });
    }
    Ok(TrustRoot { version: 1, keys })
}

/// What [`export_log`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct LogExport {
    pub output: PathBuf,
    pub records: u64,
    pub segments: usize,
    pub checkpoints: usize,
    /// Keys in `signers.json`.
    pub signers: usize,
    /// The hash of the last record.
    pub last_hash: Option<String>,
}

impl LogExport {
    /// One line for people.
    pub fn text(&self) -> String {
        format!(
            "exported {} records ({} segment(s), {} checkpoint(s), {} signer key(s) in signers.json) to {}",
            self.records,
            self.segments,
            self.checkpoints,
            self.signers,
            self.output.display()
        )
    }
}

/// Rows fetched at a time by [`export_log`].
const EXPORT_CHUNK: i32 = 2000;

/// Write the log as a log directory `dir` (created; it must not hold a log yet): the
/// records in seq order in segments of at most `segment_max_bytes`, `checkpoints.jsonl`,
/// and `signers.json` (the keys the writers registered, as a trust-root document), all
/// from one snapshot of the database.
pub fn export_log(c: &mut Client, dir: &Path, segment_max_bytes: u64) -> Result<LogExport> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let cp_path = dir.join("checkpoints.jsonl");
    if !list_segments(dir)?.is_empty() || cp_path.exists() {
        return Err(EvidenceError::Invalid(format!(
            "`{}` already holds a log: export into a new directory",
            dir.display()
        ))
        .into());
    }
    let mut t = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let mut rep = LogExport {
        output: dir.to_path_buf(),
        records: 0,
        segments: 0,
        checkpoints: 0,
        signers: 0,
        last_hash: None,
    };
    let portal = t.bind("SELECT line, hash FROM evidence_records ORDER BY seq", &[])?;
    let mut seg: Option<(BufWriter<fs::File>, PathBuf, u64)> = None;
    loop {
        let rows = t.query_portal(&portal, EXPORT_CHUNK)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let line: String = row.try_get(0)?;
            let len = line.len() as u64 + 1;
            let roll = seg
                .as_ref()
                .is_none_or(|(_, _, at)| *at > 0 && at.saturating_add(len) > segment_max_bytes);
            if roll {
                if let Some((mut w, p, _)) = seg.take() {
                    w.flush().map_err(io(&p))?;
                }
                rep.segments += 1;
                let idx = u32::try_from(rep.segments)
                    .map_err(|_| PgEvidenceError::Inconsistent("too many segments".into()))?;
                let p = dir.join(segment_name(idx));
                let f = fs::File::create(&p).map_err(io(&p))?;
                seg = Some((BufWriter::new(f), p, 0));
            }
            if let Some((w, p, at)) = seg.as_mut() {
                w.write_all(line.as_bytes())
                    .and_then(|_| w.write_all(b"\n"))
                    .map_err(io(p))?;
                *at += len;
            }
            rep.records += 1;
            rep.last_hash = Some(row.try_get(1)?);
        }
    }
    if let Some((mut w, p, _)) = seg.take() {
        w.flush().map_err(io(&p))?;
    }
    let mut cps = String::new();
    for row in t.query(
        "SELECT line FROM evidence_checkpoints ORDER BY tree_size",
        &[],
    )? {
        cps.push_str(&row.try_get::<_, String>(0)?);
        cps.push('\n');
        rep.checkpoints += 1;
    }
    fs::write(&cp_path, cps).map_err(io(&cp_path))?;
    let tr = signers(&mut t)?;
    rep.signers = tr.keys.len();
    let sp = dir.join("signers.json");
    let text =
        serde_json::to_string_pretty(&tr).map_err(|e| EvidenceError::Invalid(e.to_string()))?;
    fs::write(&sp, text + "\n").map_err(io(&sp))?;
    t.commit()?;
    Ok(rep)
}

/// Follows the log: started by [`listen`]; stops (within a poll interval) when dropped.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How long the listener waits for a notification before it looks at its stop flag.
const POLL: Duration = Duration::from_millis(250);

/// What the listener tells about the store's lookups ([`super::LOOKUPS_CHANNEL`]): what a
/// replica's lookup cache (tokens, agents, rollout assignments) needs to never outlive a
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupSignal {
    /// A lookup changed (a token revocation, an agent or an assignment was committed).
    Changed,
    /// The listening connection was lost: notifications may be missed until
    /// [`LookupSignal::Listening`].
    Lost,
    /// Listening again after [`LookupSignal::Lost`] (what changed in between was not
    /// heard).
    Listening,
}

/// The `LISTEN`s of the listener's connection: the log's batches and the lookup changes.
fn listen_sql() -> String {
    format!("LISTEN {CHANNEL}; LISTEN {}", super::LOOKUPS_CHANNEL)
}

/// Hand every record committed from now on (of `kind`, when given) to `on`, in seq
/// order, from a thread of its own with a connection that `LISTEN`s on [`CHANNEL`]. After
/// a lost connection it reconnects and, at the next notification, delivers what it
/// missed: each record once, none skipped.
pub fn listen(
    db: &postgres::Config,
    kind: Option<&str>,
    on: impl FnMut(Record) + Send + 'static,
) -> Result<Listener> {
    listen_with_tokens(db, kind, on, |_| {})
}

/// [`listen`], and on the same connection [`super::LOOKUPS_CHANNEL`]: `tokens` hears
/// of every lookup change, of a lost connection and of listening again.
pub fn listen_with_tokens(
    db: &postgres::Config,
    kind: Option<&str>,
    on: impl FnMut(Record) + Send + 'static,
    tokens: impl FnMut(LookupSignal) + Send + 'static,
) -> Result<Listener> {
    let mut c = connect(db, LISTENER_APPLICATION)?;
    c.batch_execute(&listen_sql())?;
    let next = len(&mut c)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower {
        db: db.clone(),
        kind: kind.map(str::to_string),
        next,
        on,
        tokens,
    };
    let flag = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("cavra-evidence-listen".into())
        .spawn(move || f.run(Some(c), &flag))
        .map_err(|e| PgEvidenceError::NotCommitted(format!("cannot start the listener: {e}")))?;
    Ok(Listener { stop })
}

struct Follower<F, T> {
    db: postgres::Config,
    kind: Option<String>,
    /// The first seq not delivered yet.
    next: u64,
    on: F,
    tokens: T,
}

impl<F: FnMut(Record), T: FnMut(LookupSignal)> Follower<F, T> {
    fn run(&mut self, mut conn: Option<Client>, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let c = match &mut conn {
                Some(c) => c,
                None => match connect(&self.db, LISTENER_APPLICATION).and_then(|mut c| {
                    c.batch_execute(&listen_sql())?;
                    Ok(c)
                }) {
                    Ok(c) => {
                        (self.tokens)(LookupSignal::Listening);
                        conn.insert(c)
                    }
                    Err(_) => {
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                },
            };
            if self.poll(c).is_err() || c.is_closed() {
                conn = None;
                (self.tokens)(LookupSignal::Lost);
            }
        }
    }

    /// Wait for notifications, then deliver the records up to the newest one named.
    fn poll(&mut self, c: &mut Client) -> Result<()> {
        let mut upto: Option<u64> = None;
        {
            let tokens = &mut self.tokens;
            let mut n = c.notifications();
            let mut seen = |channel: &str, payload: &str| {
                if channel == super::LOOKUPS_CHANNEL {
                    tokens(LookupSignal::Changed);
                    return;
                }
                let last = serde_json::from_str::<Value>(payload)
                    .ok()
                    .and_then(|v| v.get("last").and_then(Value::as_u64));
                upto = upto.max(last);
            };
            let got = n.timeout_iter(POLL).next()?;
            if let Some(x) = got {
                seen(x.channel(), x.payload());
                let mut more = n.iter();
                while let Some(x) = more.next()? {
                    seen(x.channel(), x.payload());
                }
            }
        }
        let Some(upto) = upto.filter(|u| *u >= self.next) else {
            return Ok(());
        };
        for r in records_between(c, self.next, upto, self.kind.as_deref())? {
            (self.on)(r);
        }
        self.next = upto.saturating_add(1);
        Ok(())
    }
}

/// Connect to `url` and [`export_log`] into `dir` (segments of the file log's default
/// size).
pub fn export_url(url: &str, dir: &Path) -> Result<LogExport> {
    let cfg = WriterConfig::new(url, 0)?;
    let mut c = connect(&cfg.db, "cavra-evidence-export")?;
    export_log(&mut c, dir, cavra_evidence::log::DEFAULT_SEGMENT_MAX_BYTES)
}

/// Reads the log (and writes checkpoints on request) through a small pool of its own.
#[derive(Clone)]
pub struct PgEvidenceReader {
    pool: super::PgPool,
    label: String,
}

impl std::fmt::Debug for PgEvidenceReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEvidenceReader")
            .field("database", &self.label)
            .finish_non_exhaustive()
    }
}

impl PgEvidenceReader {
    /// At most `pool_size` connections to `url` (the schema migrated, as every store does).
    pub fn connect(url: &str, pool_size: u32) -> Result<PgEvidenceReader> {
        let opts = super::PgOptions {
            pool_size,
            ..super::PgOptions::default()
        };
        Ok(PgEvidenceReader {
            pool: super::connect_pool(url, &opts)?,
            label: super::redact_url(url),
        })
    }

    /// The database, for messages (no password).
    pub fn label(&self) -> &str {
        &self.label
    }

    fn conn(&self) -> Result<super::Conn> {
        self.pool.get().map_err(|e| {
            StoreError::Open {
                path: PathBuf::from(&self.label),
                detail: e.to_string(),
            }
            .into()
        })
    }

    /// [`record`].
    pub fn record(&self, id: &str) -> Result<Option<Record>> {
        record(&mut *self.conn()?, id)
    }
    /// [`decision`].
    pub fn decision(&self, id: &str) -> Result<Option<Record>> {
        decision(&mut *self.conn()?, id)
    }
    /// [`search`].
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResult> {
        search(&mut *self.conn()?, q)
    }
    /// [`signers`].
    pub fn signers(&self) -> Result<TrustRoot> {
        signers(&mut *self.conn()?)
    }
    /// [`checkpoint`].
    pub fn checkpoint(&self, key: &SigningKey) -> Result<Option<Checkpoint>> {
        checkpoint(&mut *self.conn()?, key)
    }
    /// [`export_log`] with the file log's segment size.
    pub fn export(&self, dir: &Path) -> Result<LogExport> {
        export_log(
            &mut *self.conn()?,
            dir,
            cavra_evidence::log::DEFAULT_SEGMENT_MAX_BYTES,
        )
    }
}
