//! The append-only, hash-chained, signed evidence log.
//!
//! Directory layout (`<cavra_dir>/evidence` by default):
//! - `segment-NNNNNNNN.jsonl`: records, one canonical-JSON line each (see [`crate::record`]);
//! - `HEAD`: lock file and head state (next seq, last hash, segment, offset, Merkle
//!   frontier). Derived data: the segments are the truth, `HEAD` only makes `open` and
//!   `append` O(1) and detects a log that became shorter than it was;
//! - `checkpoints.jsonl`: signed Merkle tree heads (see [`Checkpoint`]);
//! - `tombstone.json`: signed record of pruned history (see [`Tombstone`]);
//! - `index.sqlite`: the search index (rebuildable; owned by `cavra-store`, not read here).

use crate::canon::{canonical_json, sha256_hex};
use crate::error::{EvidenceError, Result};
use crate::keys::{KeyStore, SigningKey, SigningMode};
use crate::merkle::{leaf_hash, Frontier, Hash};
use crate::record::{
    make_record_id, record_sig_message, RawRecord, Unsigned, GENESIS_HASH, RECORD_VERSION,
};
use crate::segments::{list_segments, read_at, segment_name, write_at, SegmentData};
use crate::timeutil::{format_ts, now_ts, parse_ts};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// How hard each append pushes the record to storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `write(2)` each record: survives a process crash (kill -9), not a power loss.
    #[default]
    Flush,
    /// `fdatasync(2)` after each record: survives a power loss too.
    Fsync,
}

impl Durability {
    /// Parse `flush` or `fsync`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "flush" => Ok(Durability::Flush),
            "fsync" => Ok(Durability::Fsync),
            _ => Err(EvidenceError::Invalid(format!(
                "unknown durability `{s}` (expected `flush` or `fsync`)"
            ))),
        }
    }
}

/// Where and how the log is written.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Log directory.
    pub dir: PathBuf,
    /// Flush or fsync per record.
    pub durability: Durability,
    /// A segment is closed once the next record would take it over this size.
    pub segment_max_bytes: u64,
    /// A signed checkpoint every this many records (0: only on request).
    pub checkpoint_every: u64,
    /// Key directory.
    pub key_dir: PathBuf,
    /// Signature algorithm for new records.
    pub signing: SigningMode,
}

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default checkpoint interval.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1000;

impl LogConfig {
    /// A config with defaults for the given directories.
    pub fn new(dir: impl Into<PathBuf>, key_dir: impl Into<PathBuf>) -> Self {
        LogConfig {
            dir: dir.into(),
            durability: Durability::Flush,
            segment_max_bytes: DEFAULT_SEGMENT_MAX_BYTES,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            key_dir: key_dir.into(),
            signing: SigningMode::Ed25519,
        }
    }

    /// `<cavra_dir>/evidence` and `<cavra_dir>/keys`, with environment overrides
    /// `CAVRA_EVIDENCE_DIR`, `CAVRA_EVIDENCE_DURABILITY=flush|fsync`, `CAVRA_KEY_DIR`,
    /// `CAVRA_EVIDENCE_SIGNING=ed25519|hmac-sha256`, `CAVRA_EVIDENCE_SEGMENT_BYTES`,
    /// `CAVRA_EVIDENCE_CHECKPOINT_EVERY`. Invalid values fall back to the defaults.
    pub fn for_cavra_dir(cavra_dir: &Path) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|s| !s.is_empty());
        let mut c = LogConfig::new(
            env("CAVRA_EVIDENCE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| cavra_dir.join("evidence")),
            env("CAVRA_KEY_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| cavra_dir.join("keys")),
        );
        if let Some(d) = env("CAVRA_EVIDENCE_DURABILITY").and_then(|s| Durability::parse(&s).ok()) {
            c.durability = d;
        }
        if let Some(m) = env("CAVRA_EVIDENCE_SIGNING").and_then(|s| SigningMode::parse(&s).ok()) {
            c.signing = m;
        }
        if let Some(n) = env("CAVRA_EVIDENCE_SEGMENT_BYTES").and_then(|s| s.parse().ok()) {
            c.segment_max_bytes = n;
        }
        if let Some(n) = env("CAVRA_EVIDENCE_CHECKPOINT_EVERY").and_then(|s| s.parse().ok()) {
            c.checkpoint_every = n;
        }
        c
    }
}

/// What `append` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appended {
    pub record_id: String,
    pub seq: u64,
    pub hash: String,
}

/// A signed Merkle tree head over the first `tree_size` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub alg: String,
    pub key_id: String,
    /// `hash` of record `tree_size - 1`.
    pub last_hash: String,
    /// RFC 6962 root over the record lines `[0, tree_size)`, hex.
    pub root_hash: String,
    pub sig: String,
    pub timestamp: String,
    pub tree_size: u64,
    pub v: u32,
}

/// Domain-separation prefix of checkpoint signatures.
pub const CHECKPOINT_SIG_PREFIX: &[u8] = b"CAVRA-CHECKPOINT-V1\n";
/// Domain-separation prefix of tombstone signatures.
pub const TOMBSTONE_SIG_PREFIX: &[u8] = b"CAVRA-TOMBSTONE-V1\n";

fn signed_message<T: Serialize>(prefix: &[u8], v: &T) -> Vec<u8> {
    let mut val = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Some(m) = val.as_object_mut() {
        m.remove("sig");
    }
    let mut out = prefix.to_vec();
    out.extend_from_slice(canonical_json(&val).as_bytes());
    out
}

impl Checkpoint {
    /// The bytes its signature covers: prefix + canonical JSON without `sig`.
    pub fn signed_message(&self) -> Vec<u8> {
        signed_message(CHECKPOINT_SIG_PREFIX, self)
    }
}

/// Signed statement that records `[0, pruned_before_seq)` were deliberately removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    pub alg: String,
    /// `hash` of the last removed record: the `prev_hash` of the first kept one.
    pub anchor_hash: String,
    /// RFC 3339 cutoff of the latest prune.
    pub cutoff: String,
    /// Merkle frontier of the removed prefix (hex), so tree heads still compute.
    pub frontier: Vec<String>,
    pub key_id: String,
    pub pruned_before_seq: u64,
    /// Records removed by all prunes.
    pub records_removed: u64,
    /// Segment files removed by all prunes.
    pub segments_removed: Vec<String>,
    pub sig: String,
    pub timestamp: String,
    pub v: u32,
}

impl Tombstone {
    /// The bytes its signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signed_message(TOMBSTONE_SIG_PREFIX, self)
    }
    /// The removed prefix's frontier.
    pub fn frontier(&self) -> Result<Frontier> {
        let nodes = self
            .frontier
            .iter()
            .map(|h| parse_hash(h))
            .collect::<Option<Vec<Hash>>>()
            .ok_or_else(|| EvidenceError::Invalid("tombstone frontier is not hex".into()))?;
        Frontier::from_parts(self.pruned_before_seq, nodes).ok_or_else(|| {
            EvidenceError::Invalid("tombstone frontier does not match its size".into())
        })
    }
}

pub(crate) fn parse_hash(h: &str) -> Option<Hash> {
    let v = hex::decode(h).ok()?;
    v.try_into().ok()
}

/// Load `tombstone.json` if present.
pub fn read_tombstone(dir: &Path) -> Result<Option<Tombstone>> {
    let p = dir.join("tombstone.json");
    match fs::read_to_string(&p) {
        Ok(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| EvidenceError::corrupt(&p, format!("not a tombstone: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EvidenceError::io(&p, e)),
    }
}

/// Checkpoints of `dir` with the line number of each; unparsable lines are returned as
/// `(line_number, error)`. An incomplete last line (crash) is ignored.
#[allow(clippy::type_complexity)]
pub fn read_checkpoints(dir: &Path) -> Result<(Vec<(usize, Checkpoint)>, Vec<(usize, String)>)> {
    let p = dir.join("checkpoints.jsonl");
    let data = match fs::read(&p) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(EvidenceError::io(&p, e)),
    };
    let sd = SegmentData::from_bytes(p, data);
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for i in 0..sd.lines.len() {
        match serde_json::from_slice::<Checkpoint>(sd.line(i)) {
            Ok(c) => ok.push((i + 1, c)),
            Err(e) => bad.push((i + 1, e.to_string())),
        }
    }
    Ok((ok, bad))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HeadFile {
    v: u32,
    next_seq: u64,
    last_hash: String,
    segment: u32,
    offset: u64,
    tree_size: u64,
    frontier: Vec<String>,
    checkpoint_size: u64,
}

/// The head state (see module docs).
#[derive(Debug, Clone)]
pub struct Head {
    pub next_seq: u64,
    pub last_hash: String,
    pub segment: u32,
    pub offset: u64,
    pub frontier: Frontier,
    pub checkpoint_size: u64,
}

/// Size of a version-1 (JSON, space-padded) `HEAD` file.
const HEAD_V1_SIZE: usize = 8192;
/// Magic of the version-2 (binary) `HEAD` state.
const HEAD_MAGIC: &[u8; 8] = b"CAVRAHD2";
/// magic, next_seq, last_hash, segment, offset, tree_size, checkpoint_size
const HEAD_FIXED: usize = 8 + 8 + 32 + 4 + 8 + 8 + 8;
/// Largest version-2 state: fixed part, 64 frontier nodes, checksum.
const HEAD_MAX: usize = HEAD_FIXED + 64 * 32 + 8;
/// The head state is written to `HEAD` at least every this many appends of one handle
/// (and on the first append, roll-over, checkpoint, repair, prune and close). In between,
/// the newest segment's tail is the truth: `load_head` adopts records written after the
/// stored state, so a stale `HEAD` is always a valid (older) state of the log.
const HEAD_WRITE_EVERY: u32 = 64;

/// FNV-1a (64-bit): detects a torn or garbled `HEAD` (not a security check).
fn fnv64(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn take<const N: usize>(b: &[u8], at: &mut usize) -> Option<[u8; N]> {
    let v = b.get(*at..*at + N)?.try_into().ok()?;
    *at += N;
    Some(v)
}

impl Head {
    fn genesis() -> Self {
        Head {
            next_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            segment: 1,
            offset: 0,
            frontier: Frontier::new(),
            checkpoint_size: 0,
        }
    }

    /// Version-2 encoding (little-endian): `CAVRAHD2`, next_seq u64, last_hash 32 bytes,
    /// segment u32, offset u64, tree_size u64, checkpoint_size u64, the frontier nodes
    /// (32 bytes each, `popcount(tree_size)` of them), FNV-1a 64 of everything before.
    fn encode(&self) -> Vec<u8> {
        let mut last = [0u8; 32];
        if hex::decode_to_slice(&self.last_hash, &mut last).is_err() {
            return self.encode_v1();
        }
        let mut b = Vec::with_capacity(HEAD_MAX);
        b.extend_from_slice(HEAD_MAGIC);
        b.extend_from_slice(&self.next_seq.to_le_bytes());
        b.extend_from_slice(&last);
        b.extend_from_slice(&self.segment.to_le_bytes());
        b.extend_from_slice(&self.offset.to_le_bytes());
        b.extend_from_slice(&self.frontier.size().to_le_bytes());
        b.extend_from_slice(&self.checkpoint_size.to_le_bytes());
        for n in self.frontier.nodes() {
            b.extend_from_slice(n);
        }
        let sum = fnv64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        // fixed size: one `pread` of HEAD_MAX bytes always reads the whole state
        b.resize(HEAD_MAX, 0);
        b
    }

    /// Version-1 encoding (JSON padded to 8 KiB), only for a head whose last hash is not
    /// hex (never written by `append`).
    fn encode_v1(&self) -> Vec<u8> {
        let hf = HeadFile {
            v: 1,
            next_seq: self.next_seq,
            last_hash: self.last_hash.clone(),
            segment: self.segment,
            offset: self.offset,
            tree_size: self.frontier.size(),
            frontier: self.frontier.nodes().iter().map(hex::encode).collect(),
            checkpoint_size: self.checkpoint_size,
        };
        let mut b = serde_json::to_vec(&hf).unwrap_or_default();
        if b.len() < HEAD_V1_SIZE {
            b.resize(HEAD_V1_SIZE - 1, b' ');
            b.push(b'\n');
        }
        b
    }

    /// Length of the version-2 state at the start of `b` (checked), if it is one.
    fn v2_len(b: &[u8]) -> Option<usize> {
        if !b.starts_with(HEAD_MAGIC) {
            return None;
        }
        let ts = u64::from_le_bytes(b.get(HEAD_FIXED - 16..HEAD_FIXED - 8)?.try_into().ok()?);
        let len = HEAD_FIXED + ts.count_ones() as usize * 32;
        let sum = u64::from_le_bytes(b.get(len..len + 8)?.try_into().ok()?);
        (fnv64(b.get(..len)?) == sum).then_some(len + 8)
    }

    fn decode(b: &[u8]) -> Option<Self> {
        if b.first() == Some(&b'{') {
            return Self::decode_v1(b);
        }
        Self::v2_len(b)?;
        let mut at = HEAD_MAGIC.len();
        let next_seq = u64::from_le_bytes(take(b, &mut at)?);
        let last: [u8; 32] = take(b, &mut at)?;
        let segment = u32::from_le_bytes(take(b, &mut at)?);
        let offset = u64::from_le_bytes(take(b, &mut at)?);
        let tree_size = u64::from_le_bytes(take(b, &mut at)?);
        let checkpoint_size = u64::from_le_bytes(take(b, &mut at)?);
        let nodes = (0..tree_size.count_ones())
            .map(|_| take::<32>(b, &mut at))
            .collect::<Option<Vec<Hash>>>()?;
        Some(Head {
            next_seq,
            last_hash: hex::encode(last),
            segment,
            offset,
            frontier: Frontier::from_parts(tree_size, nodes)?,
            checkpoint_size,
        })
    }

    fn decode_v1(b: &[u8]) -> Option<Self> {
        let hf: HeadFile = serde_json::from_slice(b).ok()?;
        let nodes = hf
            .frontier
            .iter()
            .map(|h| parse_hash(h))
            .collect::<Option<Vec<_>>>()?;
        Some(Head {
            next_seq: hf.next_seq,
            last_hash: hf.last_hash,
            segment: hf.segment,
            offset: hf.offset,
            frontier: Frontier::from_parts(hf.tree_size, nodes)?,
            checkpoint_size: hf.checkpoint_size,
        })
    }
}

/// Read the head state of a log without locking (for verification).
pub fn read_head(dir: &Path) -> Option<Head> {
    let b = fs::read(dir.join("HEAD")).ok()?;
    Head::decode(&b)
}

/// What `repair` did.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub records: u64,
    pub truncated_bytes: u64,
    pub previous_next_seq: Option<u64>,
    pub next_seq: u64,
    pub repair_record: Option<Appended>,
}

/// What `prune` did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub cutoff: String,
    pub segments_removed: Vec<String>,
    pub records_removed: u64,
    pub pruned_before_seq: u64,
    pub tombstone_record: Option<Appended>,
}

/// An open evidence log.
pub struct EvidenceLog {
    cfg: LogConfig,
    key: SigningKey,
    key_created: bool,
    head_file: File,
    seg: Option<(u32, File)>,
    /// `HEAD` bytes as this handle last read or wrote them.
    head_disk: Vec<u8>,
    /// Newest state this handle knows (valid while `HEAD` still equals `head_disk`).
    head_cached: Option<Head>,
    /// Stores since `HEAD` was last written by this handle.
    head_unsaved: u32,
    /// Whether this handle wrote `HEAD` at least once.
    head_written: bool,
    /// Encoding buffers reused from one append to the next: the canonical body, the
    /// unsigned envelope and the line.
    bufs: [String; 3],
}

impl Drop for EvidenceLog {
    /// Write the newest state of the log to `HEAD` (under the lock, caught up from the
    /// segment like an append would). Best effort: a stale `HEAD` is still valid.
    fn drop(&mut self) {
        if self.head_unsaved == 0 {
            return;
        }
        if fs4::fs_std::FileExt::lock_exclusive(&self.head_file).is_err() {
            return;
        }
        // the newest state of the log (stored or cached state + verified tail)
        if let Ok(h) = self.load_head() {
            let b = h.encode();
            if b != self.head_disk {
                let _ = write_at(&self.head_file, &b, 0);
            }
        }
        let _ = fs4::fs_std::FileExt::unlock(&self.head_file);
    }
}

impl std::fmt::Debug for EvidenceLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceLog")
            .field("dir", &self.cfg.dir)
            .field("key_id", &self.key.key_id())
            .finish()
    }
}

fn not_an_object() -> EvidenceError {
    EvidenceError::Invalid("record body must be a JSON object".into())
}

/// A record body made ready to append: checked to be a JSON object, its secrets redacted,
/// in canonical form — the work of an append that needs no log, done before the log is
/// locked ([`EvidenceLog::append_prepared`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedBody(String);

impl PreparedBody {
    /// `body` made ready; an error when it is not a JSON object.
    pub fn new(body: &Value) -> Result<PreparedBody> {
        if !body.is_object() {
            return Err(not_an_object());
        }
        let mut out = String::new();
        crate::canon::write_value_redacted(&mut out, body);
        Ok(PreparedBody(out))
    }

    /// A body written member by member ([`crate::canon::ObjectWriter`]: in canonical
    /// order, redacted as it is written).
    pub fn write(f: impl FnOnce(&mut crate::canon::ObjectWriter<'_>)) -> PreparedBody {
        let mut out = String::with_capacity(2048);
        let mut w = crate::canon::ObjectWriter::open(&mut out);
        f(&mut w);
        w.close();
        PreparedBody(out)
    }

    /// The body as it is recorded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A record kind is 1-64 characters of `a-z`, `0-9`, `_`, `.`, `-`.
pub fn check_kind(kind: &str) -> Result<()> {
    if kind.is_empty()
        || kind.len() > 64
        || !kind.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-'
        })
    {
        return Err(EvidenceError::Invalid(format!(
            "record kind `{kind}` must be 1-64 characters of a-z, 0-9, `_`, `.`, `-`"
        )));
    }
    Ok(())
}

impl EvidenceLog {
    /// Open (creating if needed) the log. Cheap: reads no records. A missing signing
    /// key is generated (0600) silently; see [`EvidenceLog::key_created`].
    pub fn open(cfg: LogConfig) -> Result<Self> {
        fs::create_dir_all(&cfg.dir).map_err(|e| EvidenceError::io(&cfg.dir, e))?;
        let (key, key_created) = KeyStore::new(&cfg.key_dir).load_or_create_active(cfg.signing)?;
        let hp = cfg.dir.join("HEAD");
        let head_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&hp)
            .map_err(|e| EvidenceError::io(&hp, e))?;
        Ok(EvidenceLog {
            cfg,
            key,
            key_created,
            head_file,
            seg: None,
            head_disk: Vec::new(),
            head_cached: None,
            head_unsaved: 0,
            head_written: false,
            bufs: Default::default(),
        })
    }

    /// Whether `open` generated a new signing key.
    pub fn key_created(&self) -> bool {
        self.key_created
    }
    /// The signing key id.
    pub fn key_id(&self) -> &str {
        self.key.key_id()
    }
    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.cfg
    }

    fn with_lock<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        fs4::fs_std::FileExt::lock_exclusive(&self.head_file)
            .map_err(|e| EvidenceError::io(&self.cfg.dir.join("HEAD"), e))?;
        let r = f(self);
        let _ = fs4::fs_std::FileExt::unlock(&self.head_file);
        r
    }

    /// Append one record. `body` must be a JSON object; secrets in it are redacted in
    /// the record (`body` itself is left as it is).
    /// Returns after the record is written (and fsynced with [`Durability::Fsync`]).
    pub fn append(&mut self, kind: &str, body: &Value) -> Result<Appended> {
        check_kind(kind)?;
        if !body.is_object() {
            return Err(not_an_object());
        }
        let mut body_c = std::mem::take(&mut self.bufs[0]);
        body_c.clear();
        crate::canon::write_value_redacted(&mut body_c, body);
        let r = self.append_canonical(kind, &body_c);
        self.bufs[0] = body_c;
        r
    }

    /// [`EvidenceLog::append`] of a body made ready beforehand ([`PreparedBody`]: outside
    /// whatever lock the caller shares the log under).
    pub fn append_prepared(&mut self, kind: &str, body: &PreparedBody) -> Result<Appended> {
        check_kind(kind)?;
        self.append_canonical(kind, &body.0)
    }

    /// Appends `body_c`, a redacted body in canonical form.
    fn append_canonical(&mut self, kind: &str, body_c: &str) -> Result<Appended> {
        self.with_lock(|l| {
            let mut head = l.load_head()?;
            // on failure the state (advanced only by what reached the disk) stays cached
            let a = match l.write_record(&mut head, kind, body_c) {
                Ok(a) => a,
                Err(e) => {
                    l.head_cached = Some(head);
                    return Err(e);
                }
            };
            let cp = match l.maybe_checkpoint(&mut head) {
                Ok(cp) => cp,
                Err(e) => {
                    l.head_cached = Some(head);
                    return Err(e);
                }
            };
            l.store_head(head, cp)?;
            Ok(a)
        })
    }

    /// Current head (locks, repairs an interrupted write).
    pub fn head(&mut self) -> Result<Head> {
        self.with_lock(|l| {
            let h = l.load_head()?;
            l.store_head(h.clone(), true)?;
            Ok(h)
        })
    }

    /// Write a checkpoint when one is due; whether it did.
    fn maybe_checkpoint(&mut self, head: &mut Head) -> Result<bool> {
        let every = self.cfg.checkpoint_every;
        if every > 0
            && head.frontier.size().is_multiple_of(every)
            && head.checkpoint_size != head.frontier.size()
        {
            self.write_checkpoint(head)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn segment_file(&mut self, idx: u32) -> Result<&File> {
        if self.seg.as_ref().map(|(i, _)| *i) != Some(idx) {
            let p = self.cfg.dir.join(segment_name(idx));
            let f = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&p)
                .map_err(|e| EvidenceError::io(&p, e))?;
            self.seg = Some((idx, f));
        }
        match &self.seg {
            Some((_, f)) => Ok(f),
            None => Err(EvidenceError::Inconsistent("segment not open".into())),
        }
    }

    /// The raw `HEAD` state: `HEAD_MAX` bytes (one `pread`), or the whole file for a
    /// version-1 (JSON) head.
    fn read_head_raw(&self) -> Result<Vec<u8>> {
        let hp = || self.cfg.dir.join("HEAD");
        let mut buf = vec![0u8; HEAD_MAX];
        let n = read_at(&self.head_file, &mut buf, 0).map_err(|e| EvidenceError::io(&hp(), e))?;
        buf.truncate(n);
        if buf.first() == Some(&b'{') && n == HEAD_MAX {
            let mut all = vec![0u8; HEAD_V1_SIZE];
            let n =
                read_at(&self.head_file, &mut all, 0).map_err(|e| EvidenceError::io(&hp(), e))?;
            all.truncate(n);
            return Ok(all);
        }
        Ok(buf)
    }

    /// The newest head state this handle knows that is still valid: its cached state if
    /// `HEAD` is unchanged since this handle last read or wrote it, else the stored one.
    /// Records the bytes read as the handle's view of `HEAD`.
    /// The cached state is handed out (taken): `store_head` puts the new one back, and
    /// after an error the next load simply re-reads `HEAD` and the segment tail.
    fn known_head(&mut self) -> Result<Option<Head>> {
        // Fast path: the fixed part (sequence, last hash, segment, offset, tree and
        // checkpoint sizes) is what this handle last read or wrote, so `HEAD` states
        // the same log; the frontier that follows is determined by it.
        if self.head_cached.is_some() && self.head_disk.starts_with(HEAD_MAGIC) {
            let mut fixed = [0u8; HEAD_FIXED];
            let n = read_at(&self.head_file, &mut fixed, 0)
                .map_err(|e| EvidenceError::io(&self.cfg.dir.join("HEAD"), e))?;
            if n == HEAD_FIXED && self.head_disk.get(..HEAD_FIXED) == Some(&fixed[..]) {
                return Ok(self.head_cached.take());
            }
        }
        let disk = self.read_head_raw()?;
        if disk == self.head_disk {
            if let Some(h) = self.head_cached.take() {
                return Ok(Some(h));
            }
        }
        self.head_cached = None;
        self.head_unsaved = 0;
        self.head_disk = disk;
        if self.head_disk.is_empty() {
            return Ok(None);
        }
        Ok(Head::decode(&self.head_disk))
    }

    fn read_head_file(&mut self) -> Result<Option<Head>> {
        self.known_head()
    }

    /// Record `h` as the current state; write it to `HEAD` when `force`d, on the first
    /// store of this handle, or every `HEAD_WRITE_EVERY` stores.
    fn store_head(&mut self, h: Head, force: bool) -> Result<()> {
        self.head_unsaved += 1;
        if force || !self.head_written || self.head_unsaved >= HEAD_WRITE_EVERY {
            self.write_head(&h)?;
        }
        self.head_cached = Some(h);
        Ok(())
    }

    fn write_head(&mut self, h: &Head) -> Result<()> {
        let b = h.encode();
        // forget the cache first: if the write fails, the next load re-reads `HEAD`
        self.head_cached = None;
        write_at(&self.head_file, &b, 0)
            .map_err(|e| EvidenceError::io(&self.cfg.dir.join("HEAD"), e))?;
        self.head_disk = b;
        self.head_unsaved = 0;
        self.head_written = true;
        Ok(())
    }

    /// Head state checked against the newest segment: fast path when they agree,
    /// otherwise adopt complete records written after it and cut an incomplete tail.
    fn load_head(&mut self) -> Result<Head> {
        let Some(known) = self.known_head()? else {
            return self.rebuild_head(false).map(|(h, _)| h);
        };
        let len = match self.segment_end(known.segment) {
            Ok(len) if len == known.offset => return Ok(known),
            Ok(len) => len,
            Err(e) => {
                self.head_cached = Some(known);
                return Err(e);
            }
        };
        // records appended by another handle (or a cut tail): whatever happens, this
        // handle keeps what it knew, so a failed load loses nothing (e.g. the number of
        // records `repair` reports as missing)
        let mut h = known.clone();
        self.head_cached = Some(known);
        self.adopt_tail(&mut h, len)?;
        Ok(h)
    }

    /// Length of segment `idx` (an `lseek` to its end: cheaper than a `stat`).
    fn segment_end(&mut self, idx: u32) -> Result<u64> {
        use std::io::{Seek, SeekFrom};
        let mut f = self.segment_file(idx)?;
        f.seek(SeekFrom::End(0))
            .map_err(|e| EvidenceError::io(&self.cfg.dir.join(segment_name(idx)), e))
    }

    /// Move `h` over the complete records written after it in its segment (checking
    /// that they continue the chain) and cut an incomplete tail; `len` is the segment's
    /// length.
    fn adopt_tail(&mut self, h: &mut Head, len: u64) -> Result<()> {
        let seg_path = self.cfg.dir.join(segment_name(h.segment));
        if len < h.offset {
            return Err(EvidenceError::Inconsistent(format!(
                "`{}` is {len} bytes but the head state says {} (records were removed from the end of the log?); run `cavra evidence verify`, then `cavra evidence repair` to continue on the remaining log",
                seg_path.display(),
                h.offset
            )));
        }
        let mut buf = vec![0u8; (len - h.offset) as usize];
        let f = self.segment_file(h.segment)?;
        let n = read_at(f, &mut buf, h.offset).map_err(|e| EvidenceError::io(&seg_path, e))?;
        buf.truncate(n);
        let sd = SegmentData::from_bytes(seg_path.clone(), buf);
        for i in 0..sd.lines.len() {
            let line = sd.line(i);
            let r = RawRecord::parse(line).map_err(|e| {
                EvidenceError::Inconsistent(format!(
                    "`{}` at byte {}: {e}; run `cavra evidence verify`",
                    seg_path.display(),
                    h.offset
                ))
            })?;
            if r.seq != h.next_seq || r.prev_hash != h.last_hash || r.unsigned().hash() != r.hash {
                return Err(EvidenceError::Inconsistent(format!(
                    "`{}` at byte {}: record does not continue the chain; run `cavra evidence verify`",
                    seg_path.display(),
                    h.offset
                )));
            }
            h.next_seq += 1;
            h.last_hash = r.hash.clone();
            h.frontier.push(leaf_hash(line));
            h.offset += line.len() as u64 + 1;
        }
        if sd.partial.is_some() {
            // a record cut by a crash: drop it, the next append takes its place
            let f = self.segment_file(h.segment)?;
            f.set_len(h.offset)
                .map_err(|e| EvidenceError::io(&seg_path, e))?;
        }
        Ok(())
    }

    /// Rebuild the head state from the segments. With `repair`, cut an incomplete tail.
    fn rebuild_head(&mut self, repair: bool) -> Result<(Head, u64)> {
        let mut h = Head::genesis();
        if let Some(t) = read_tombstone(&self.cfg.dir)? {
            h.next_seq = t.pruned_before_seq;
            h.last_hash = t.anchor_hash.clone();
            h.frontier = t.frontier()?;
        }
        let segs = list_segments(&self.cfg.dir)?;
        let mut truncated = 0;
        let nsegs = segs.len();
        for (k, (idx, path)) in segs.into_iter().enumerate() {
            let sd = SegmentData::read(&path)?;
            for i in 0..sd.lines.len() {
                let line = sd.line(i);
                let r = RawRecord::parse(line)
                    .map_err(|e| EvidenceError::corrupt(&path, format!("line {}: {e}", i + 1)))?;
                if r.seq < h.next_seq && h.frontier.size() > r.seq {
                    continue; // left over from an interrupted prune
                }
                h.next_seq = r.seq + 1;
                h.last_hash = r.hash.clone();
                h.frontier.push(leaf_hash(line));
            }
            h.segment = idx;
            h.offset = sd.lines.last().map(|(_, e)| *e as u64 + 1).unwrap_or(0);
            if let Some(p) = sd.partial {
                if k + 1 == nsegs || repair {
                    truncated += (sd.data.len() - p) as u64;
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| EvidenceError::io(&path, e))?;
                    f.set_len(p as u64)
                        .map_err(|e| EvidenceError::io(&path, e))?;
                }
            }
        }
        self.seg = None;
        if let Some(t) = read_checkpoints(&self.cfg.dir)?.0.last() {
            h.checkpoint_size = t.1.tree_size;
        }
        Ok((h, truncated))
    }

    fn write_record(&mut self, head: &mut Head, kind: &str, body_c: &str) -> Result<Appended> {
        let seq = head.next_seq;
        let ts = now_ts();
        let record_id = make_record_id(seq, &head.last_hash);
        let u = Unsigned {
            alg: self.key.mode().as_str(),
            body: body_c,
            key_id: self.key.key_id(),
            kind,
            prev_hash: &head.last_hash,
            record_id: &record_id,
            seq,
            timestamp: &ts,
            v: RECORD_VERSION,
        };
        let key = &self.key;
        let mut scratch = std::mem::take(&mut self.bufs[1]);
        let mut line = std::mem::take(&mut self.bufs[2]);
        let (hash, _sig) = u.seal_into(
            |h| key.sign(&record_sig_message(h)),
            &mut scratch,
            &mut line,
        );
        let leaf = leaf_hash(line.as_bytes());
        line.push('\n');
        let r = self.write_line(head, &line);
        self.bufs[1] = scratch;
        self.bufs[2] = line;
        r?;
        head.next_seq += 1;
        head.last_hash = hash.clone();
        head.frontier.push(leaf);
        Ok(Appended {
            record_id,
            seq,
            hash,
        })
    }

    /// Write one record line (with its newline) at the end of the log, rolling to a new
    /// segment first when it would not fit; moves `head.offset` (and segment).
    fn write_line(&mut self, head: &mut Head, line: &str) -> Result<()> {
        if head.offset > 0 && head.offset + line.len() as u64 > self.cfg.segment_max_bytes {
            // move the head first: a crash now leaves an empty new segment, never a fork
            head.segment += 1;
            head.offset = 0;
            self.store_head(head.clone(), true)?;
        }
        let durability = self.cfg.durability;
        let seg_path = |l: &Self| l.cfg.dir.join(segment_name(head.segment));
        let mut f = self.segment_file(head.segment)?;
        let mut r = f.write_all(line.as_bytes());
        if r.is_ok() && durability == Durability::Fsync {
            r = f.sync_data();
        }
        r.map_err(|e| EvidenceError::io(&seg_path(self), e))?;
        head.offset += line.len() as u64;
        Ok(())
    }

    fn write_checkpoint(&mut self, head: &mut Head) -> Result<Checkpoint> {
        let mut cp = Checkpoint {
            alg: self.key.mode().as_str().to_string(),
            key_id: self.key.key_id().to_string(),
            last_hash: head.last_hash.clone(),
            root_hash: hex::encode(head.frontier.root()),
            sig: String::new(),
            timestamp: now_ts(),
            tree_size: head.frontier.size(),
            v: 1,
        };
        cp.sig = self.key.sign(&cp.signed_message());
        let p = self.cfg.dir.join("checkpoints.jsonl");
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&p)
            .map_err(|e| EvidenceError::io(&p, e))?;
        let len = f.metadata().map_err(|e| EvidenceError::io(&p, e))?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            read_at(&f, &mut last, len - 1).map_err(|e| EvidenceError::io(&p, e))?;
            if last[0] != b'\n' {
                // an interrupted checkpoint write: cut it
                let data = fs::read(&p).map_err(|e| EvidenceError::io(&p, e))?;
                let keep = data
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map(|i| i + 1)
                    .unwrap_or(0);
                f.set_len(keep as u64)
                    .map_err(|e| EvidenceError::io(&p, e))?;
            }
        }
        let mut line = canonical_json(&serde_json::to_value(&cp).unwrap_or(Value::Null));
        line.push('\n');
        f.write_all(line.as_bytes())
            .map_err(|e| EvidenceError::io(&p, e))?;
        if self.cfg.durability == Durability::Fsync {
            f.sync_data().map_err(|e| EvidenceError::io(&p, e))?;
        }
        head.checkpoint_size = cp.tree_size;
        Ok(cp)
    }

    /// Write a signed checkpoint over the whole log now (or return the latest one if it
    /// already covers every record).
    pub fn checkpoint(&mut self) -> Result<Checkpoint> {
        self.with_lock(|l| {
            let mut head = l.load_head()?;
            // `HEAD` may lag (written every few appends): the checkpoint file decides
            if head.frontier.size() > 0 {
                if let Some((_, c)) = read_checkpoints(&l.cfg.dir)?.0.pop() {
                    if c.tree_size == head.frontier.size() {
                        return Ok(c);
                    }
                }
            }
            let c = l.write_checkpoint(&mut head)?;
            l.store_head(head, true)?;
            Ok(c)
        })
    }

    /// Rebuild `HEAD` from the segments (after a truncation or lost head), cutting an
    /// incomplete tail. When records the head knew about are gone, a `repair` record
    /// saying so is appended, so the loss stays on the record.
    pub fn repair(&mut self) -> Result<RepairReport> {
        self.with_lock(|l| {
            let prev = l.read_head_file()?;
            let (mut h, truncated) = l.rebuild_head(true)?;
            let mut rec = None;
            if let Some(p) = &prev {
                if p.next_seq != h.next_seq {
                    let body = json!({
                        "reason": "log head rebuilt from segments",
                        "previous_next_seq": p.next_seq,
                        "previous_last_hash": p.last_hash,
                        "recovered_next_seq": h.next_seq,
                        "missing_records": p.next_seq.saturating_sub(h.next_seq),
                    });
                    rec = Some(l.write_record(&mut h, "repair", &canonical_json(&body))?);
                }
            }
            l.store_head(h.clone(), true)?;
            Ok(RepairReport {
                records: h.next_seq,
                truncated_bytes: truncated,
                previous_next_seq: prev.map(|p| p.next_seq),
                next_seq: h.next_seq,
                repair_record: rec,
            })
        })
    }

    /// Remove whole segments whose records are all older than `cutoff`, leaving a signed
    /// tombstone (`tombstone.json`) and a `tombstone` record so the rest still verifies.
    pub fn prune(&mut self, cutoff: OffsetDateTime) -> Result<PruneReport> {
        let cutoff_s = format_ts(cutoff);
        self.with_lock(|l| {
            let mut head = l.load_head()?;
            let old = read_tombstone(&l.cfg.dir)?;
            let mut frontier = match &old {
                Some(t) => t.frontier()?,
                None => Frontier::new(),
            };
            let mut pruned_before = old.as_ref().map(|t| t.pruned_before_seq).unwrap_or(0);
            let mut anchor = old
                .as_ref()
                .map(|t| t.anchor_hash.clone())
                .unwrap_or_else(|| GENESIS_HASH.to_string());
            let mut removed_names = Vec::new();
            let mut removed_paths = Vec::new();
            let mut removed = 0u64;
            for (idx, path) in list_segments(&l.cfg.dir)? {
                let sd = SegmentData::read(&path)?;
                let Some(last) = sd.lines.len().checked_sub(1) else {
                    if idx < head.segment {
                        removed_names.push(segment_name(idx));
                        removed_paths.push(path);
                    }
                    continue;
                };
                let lr = RawRecord::parse(sd.line(last))
                    .map_err(|e| EvidenceError::corrupt(&path, e))?;
                let newest = parse_ts(&lr.timestamp)?;
                if newest >= cutoff {
                    break;
                }
                if idx == head.segment {
                    // every record of the active segment is old: start a new one
                    head.segment += 1;
                    head.offset = 0;
                    l.store_head(head.clone(), true)?;
                    l.seg = None;
                }
                let mut segment_records = 0;
                for i in 0..sd.lines.len() {
                    let r = RawRecord::parse(sd.line(i)).map_err(|e| {
                        EvidenceError::corrupt(&path, format!("line {}: {e}", i + 1))
                    })?;
                    if r.seq < pruned_before {
                        continue;
                    }
                    frontier.push(leaf_hash(sd.line(i)));
                    pruned_before = r.seq + 1;
                    anchor = r.hash.clone();
                    segment_records += 1;
                }
                removed += segment_records;
                removed_names.push(segment_name(idx));
                removed_paths.push(path);
            }
            if removed_paths.is_empty() {
                return Ok(PruneReport {
                    cutoff: cutoff_s.clone(),
                    segments_removed: Vec::new(),
                    records_removed: 0,
                    pruned_before_seq: pruned_before,
                    tombstone_record: None,
                });
            }
            let mut all_names = old
                .as_ref()
                .map(|t| t.segments_removed.clone())
                .unwrap_or_default();
            all_names.extend(removed_names.iter().cloned());
            let mut t = Tombstone {
                alg: l.key.mode().as_str().to_string(),
                anchor_hash: anchor.clone(),
                cutoff: cutoff_s.clone(),
                frontier: frontier.nodes().iter().map(hex::encode).collect(),
                key_id: l.key.key_id().to_string(),
                pruned_before_seq: pruned_before,
                records_removed: old.as_ref().map(|t| t.records_removed).unwrap_or(0) + removed,
                segments_removed: all_names,
                sig: String::new(),
                timestamp: now_ts(),
                v: 1,
            };
            t.sig = l.key.sign(&t.signed_message());
            let tp = l.cfg.dir.join("tombstone.json");
            let tmp = l.cfg.dir.join("tombstone.json.tmp");
            let text = serde_json::to_string_pretty(&t)
                .map_err(|e| EvidenceError::Invalid(e.to_string()))?;
            {
                let mut f = File::create(&tmp).map_err(|e| EvidenceError::io(&tmp, e))?;
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| EvidenceError::io(&tmp, e))?;
            }
            fs::rename(&tmp, &tp).map_err(|e| EvidenceError::io(&tp, e))?;
            for p in &removed_paths {
                fs::remove_file(p).map_err(|e| EvidenceError::io(p, e))?;
            }
            let body = json!({
                "action": "prune",
                "cutoff": cutoff_s,
                "pruned_before_seq": pruned_before,
                "anchor_hash": anchor,
                "records_removed": removed,
                "segments_removed": removed_names,
                "tombstone_sha256": sha256_hex(text.as_bytes()),
            });
            let a = l.write_record(&mut head, "tombstone", &canonical_json(&body))?;
            l.store_head(head.clone(), true)?;
            Ok(PruneReport {
                cutoff: cutoff_s.clone(),
                segments_removed: removed_names,
                records_removed: removed,
                pruned_before_seq: pruned_before,
                tombstone_record: Some(a),
            })
        })
    }
}

/// All complete records of the log in `dir`, in order (an incomplete tail is skipped).
pub fn read_records(dir: &Path) -> Result<Vec<crate::record::Record>> {
    let mut out = Vec::new();
    for_each_record(dir, |_, _, _, r| {
        out.push(r);
        Ok(true)
    })?;
    Ok(out)
}

/// Call `f(path, line_number, raw_line, record)` for each complete record, in order,
/// until it returns `false`.
pub fn for_each_record(
    dir: &Path,
    mut f: impl FnMut(&Path, usize, &[u8], crate::record::Record) -> Result<bool>,
) -> Result<()> {
    for (_, path) in list_segments(dir)? {
        let sd = SegmentData::read(&path)?;
        for i in 0..sd.lines.len() {
            let line = sd.line(i);
            let r = crate::record::Record::parse(line)
                .map_err(|e| EvidenceError::corrupt(&path, format!("line {}: {e}", i + 1)))?;
            if !f(&path, i + 1, line, r)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn cfg(d: &Path) -> LogConfig {
        LogConfig::new(d.join("evidence"), d.join("keys"))
    }

    #[test]
    fn append_chains_and_checkpoints() {
        let d = tempfile::tempdir().unwrap();
        let mut c = cfg(d.path());
        c.checkpoint_every = 4;
        c.segment_max_bytes = 2000;
        let mut log = EvidenceLog::open(c.clone()).unwrap();
        assert!(log.key_created());
        let mut prev = GENESIS_HASH.to_string();
        for i in 0..10 {
            let a = log
                .append("test", &json!({"i": i, "password": "x"}))
                .unwrap();
            assert_eq!(a.seq, i);
            let recs = read_records(&c.dir).unwrap();
            assert_eq!(recs[i as usize].prev_hash, prev);
            prev = a.hash;
        }
        let recs = read_records(&c.dir).unwrap();
        assert_eq!(recs.len(), 10);
        assert_eq!(recs[0].body["password"], "[REDACTED:field]");
        assert!(list_segments(&c.dir).unwrap().len() > 1, "rolled over");
        let (cps, bad) = read_checkpoints(&c.dir).unwrap();
        assert!(bad.is_empty());
        assert_eq!(
            cps.iter().map(|c| c.1.tree_size).collect::<Vec<_>>(),
            vec![4, 8]
        );
        // a second handle continues the same chain
        let mut log2 = EvidenceLog::open(c.clone()).unwrap();
        assert!(!log2.key_created());
        assert_eq!(log2.append("test", &json!({})).unwrap().seq, 10);
        assert_eq!(log.append("test", &json!({})).unwrap().seq, 11);
    }

    #[test]
    fn rejects_bad_kind_and_non_object() {
        let d = tempfile::tempdir().unwrap();
        let mut log = EvidenceLog::open(cfg(d.path())).unwrap();
        assert!(log.append("Bad Kind", &json!({})).is_err());
        assert!(log.append("x", &json!([1])).is_err());
        assert!(PreparedBody::new(&json!("text")).is_err());
        let p = PreparedBody::new(&json!({})).unwrap();
        assert!(log.append_prepared("Bad Kind", &p).is_err());
    }

    #[test]
    fn a_prepared_body_is_recorded_as_append_records_it() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        let mut log = EvidenceLog::open(c.clone()).unwrap();
        let body = json!({"z": [1, {"b": 2, "a": "x"}], "token": "s3cret", "a": null});
        let prepared = PreparedBody::new(&body).unwrap();
        assert_eq!(
            prepared.as_str(),
            r#"{"a":null,"token":"[REDACTED:field]","z":[1,{"a":"x","b":2}]}"#
        );
        log.append("test", &body).unwrap();
        let a = log.append_prepared("test", &prepared).unwrap();
        assert_eq!(a.seq, 1, "one chain");
        let recs = read_records(&c.dir).unwrap();
        assert_eq!(recs[0].body, recs[1].body);
        assert_eq!(recs[1].prev_hash, recs[0].hash);
    }

    #[test]
    fn partial_tail_is_cut_on_next_append() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        let mut log = EvidenceLog::open(c.clone()).unwrap();
        for i in 0..3 {
            log.append("test", &json!({ "i": i })).unwrap();
        }
        let seg = c.dir.join(segment_name(1));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"alg\":\"ed25519\",\"bo").unwrap();
        drop(f);
        let mut log2 = EvidenceLog::open(c.clone()).unwrap();
        assert_eq!(log2.append("test", &json!({})).unwrap().seq, 3);
        assert_eq!(read_records(&c.dir).unwrap().len(), 4);
    }

    #[test]
    fn truncation_is_refused_until_repair() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        let mut log = EvidenceLog::open(c.clone()).unwrap();
        for i in 0..5 {
            log.append("test", &json!({ "i": i })).unwrap();
        }
        let seg = c.dir.join(segment_name(1));
        let data = fs::read(&seg).unwrap();
        let cut = SegmentData::from_bytes(seg.clone(), data.clone()).lines[2].1 + 1;
        fs::write(&seg, &data[..cut]).unwrap();
        let err = log.append("test", &json!({})).unwrap_err();
        assert!(err.to_string().contains("removed from the end"), "{err}");
        let rep = log.repair().unwrap();
        assert_eq!(rep.previous_next_seq, Some(5));
        assert_eq!(rep.repair_record.as_ref().unwrap().seq, 3);
        assert_eq!(log.append("test", &json!({})).unwrap().seq, 4);
    }

    #[test]
    fn head_v2_round_trips_and_v1_still_decodes() {
        let mut h = Head::genesis();
        for i in 0..13u8 {
            h.frontier.push([i; 32]);
        }
        h.next_seq = 13;
        h.last_hash = "ab".repeat(32);
        h.segment = 3;
        h.offset = 4567;
        h.checkpoint_size = 8;
        let b = h.encode();
        assert_eq!(b.len(), HEAD_MAX);
        assert!(b.starts_with(HEAD_MAGIC));
        let back = Head::decode(&b).unwrap();
        assert_eq!(
            (back.next_seq, &back.last_hash, back.segment, back.offset),
            (13, &h.last_hash, 3, 4567)
        );
        assert_eq!(back.frontier, h.frontier);
        assert_eq!(back.checkpoint_size, 8);
        // a flipped byte is noticed (checksum), not silently used
        let mut bad = b.clone();
        bad[20] ^= 1;
        assert!(Head::decode(&bad).is_none());
        // old JSON heads still decode
        let v1 = h.encode_v1();
        assert_eq!(v1.len(), HEAD_V1_SIZE);
        let back1 = Head::decode(&v1).unwrap();
        assert_eq!(back1.frontier, h.frontier);
        assert_eq!(back1.next_seq, 13);
    }

    #[test]
    fn lagging_head_is_caught_up_by_other_handles_and_written_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        let mut a = EvidenceLog::open(c.clone()).unwrap();
        let mut b = EvidenceLog::open(c.clone()).unwrap();
        for i in 0..10u64 {
            assert_eq!(a.append("test", &json!({ "i": i })).unwrap().seq, 2 * i);
            assert_eq!(b.append("test", &json!({ "i": i })).unwrap().seq, 2 * i + 1);
        }
        // `a` wrote HEAD only on its first append; `b` caught up from the segment
        assert!(read_head(&c.dir).unwrap().next_seq < 20);
        drop(a);
        drop(b);
        let h = read_head(&c.dir).unwrap();
        assert_eq!(h.next_seq, 20);
        let recs = read_records(&c.dir).unwrap();
        assert_eq!(h.last_hash, recs[19].hash);
        // an old-format HEAD keeps working
        let mut log = EvidenceLog::open(c.clone()).unwrap();
        let hp = c.dir.join("HEAD");
        fs::write(&hp, h.encode_v1()).unwrap();
        assert_eq!(log.append("test", &json!({})).unwrap().seq, 20);
        drop(log);
        assert_eq!(read_head(&c.dir).unwrap().next_seq, 21);
        assert!(fs::read(&hp).unwrap().starts_with(HEAD_MAGIC));
    }

    /// Several handles appending in a pseudo-random interleaving, with segments that roll
    /// every few records and frequent checkpoints: every handle sees the others' records
    /// (through `HEAD` or the segment tail), so the log stays one verified chain.
    #[test]
    fn interleaved_handles_across_segment_rolls_keep_one_chain() {
        let d = tempfile::tempdir().unwrap();
        let mut c = cfg(d.path());
        c.segment_max_bytes = 1500;
        c.checkpoint_every = 3;
        let mut logs: Vec<EvidenceLog> = (0..4)
            .map(|_| EvidenceLog::open(c.clone()).unwrap())
            .collect();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..300u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 4) as usize;
            assert_eq!(logs[k].append("test", &json!({ "i": i })).unwrap().seq, i);
        }
        drop(logs);
        assert!(list_segments(&c.dir).unwrap().len() > 10);
        let ring = KeyStore::new(&c.key_dir).keyring().unwrap();
        let rep = crate::verify::verify_log(
            &c.dir,
            crate::verify::VerifyOptions {
                keyring: &ring,
                full_signatures: true,
                progress: None,
            },
        )
        .unwrap();
        assert!(rep.ok, "{:?}", rep.issues);
        assert_eq!(rep.records, 300);
        assert_eq!(read_head(&c.dir).unwrap().next_seq, 300);
    }
}
