//! Verification of a log directory: chain, hashes, canonical form, signatures, Merkle
//! checkpoints, tombstone, head state and trust root.
//!
//! Signatures: every checkpoint signature is checked; record signatures are checked for
//! records not covered by a checkpoint whose Merkle root matched (a matching signed root
//! covers every byte of every covered line, signatures included), and for all records
//! with `full_signatures` or when a checkpoint does not match (to pinpoint the record).

use crate::error::Result;
use crate::keys::{Keyring, VerifyingKey};
use crate::log::{parse_hash, read_checkpoints, read_head, read_tombstone, Checkpoint};
use crate::merkle::{leaf_hash, Frontier};
use crate::record::{record_sig_message, RawRecord, GENESIS_HASH};
use crate::segments::{list_segments, total_bytes, SegmentData};
use crate::timeutil::parse_ts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One problem found, located as precisely as possible.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Issue {
    /// Stable machine code, e.g. `hash_mismatch`, `chain_broken`, `bad_signature`.
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Record sequence number concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]", self.code)?;
        if let Some(r) = self.record {
            write!(f, " record #{r}")?;
        }
        if let Some(p) = &self.file {
            write!(f, " {p}")?;
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
            }
        }
        if let Some(fl) = &self.field {
            write!(f, " field `{fl}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Result of a verification.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    pub ok: bool,
    pub kind: String,
    pub path: String,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub last_hash: Option<String>,
    pub segments: usize,
    pub checkpoints_verified: usize,
    pub signatures_verified: u64,
    pub trust: String,
    pub issues: Vec<Issue>,
    pub notes: Vec<String>,
}

const MAX_ISSUES: usize = 200;

impl VerifyReport {
    pub(crate) fn issue(
        &mut self,
        code: &str,
        message: impl Into<String>,
        file: Option<&Path>,
        line: Option<usize>,
        record: Option<u64>,
        field: Option<&str>,
    ) {
        if self.issues.len() == MAX_ISSUES {
            self.notes
                .push(format!("more than {MAX_ISSUES} issues: list cut"));
        }
        if self.issues.len() >= MAX_ISSUES {
            return;
        }
        self.issues.push(Issue {
            code: code.to_string(),
            message: message.into(),
            file: file.map(|p| p.display().to_string()),
            line,
            record,
            field: field.map(str::to_string),
        });
    }
}

/// Options of [`verify_log`].
pub struct VerifyOptions<'a> {
    pub keyring: &'a Keyring,
    /// Check every record signature even where a checkpoint covers it.
    pub full_signatures: bool,
    /// Called with (bytes done, bytes total).
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
}

pub(crate) fn check_sig(
    keyring: &Keyring,
    key_id: &str,
    alg: &str,
    ts: &str,
    msg: &[u8],
    sig: &str,
) -> std::result::Result<(), (String, &'static str)> {
    let k: &VerifyingKey = keyring.get(key_id).ok_or_else(|| {
        (
            format!("key `{key_id}` is not in the {}", keyring.source),
            "key_id",
        )
    })?;
    if k.mode.as_str() != alg {
        return Err((
            format!(
                "alg `{alg}` does not match key `{key_id}` ({})",
                k.mode.as_str()
            ),
            "alg",
        ));
    }
    if k.not_before.is_some() || k.not_after.is_some() {
        let t = parse_ts(ts).map_err(|e| (e.to_string(), "timestamp"))?;
        if !k.valid_at(t) {
            return Err((
                format!("signed at {ts}, outside the validity window of key `{key_id}`"),
                "timestamp",
            ));
        }
    }
    k.verify(msg, sig).map_err(|e| (e, "sig"))
}

/// Verify the log in `dir`.
pub fn verify_log(dir: &Path, opts: VerifyOptions<'_>) -> Result<VerifyReport> {
    let mut rep = run(dir, opts.keyring, opts.full_signatures, opts.progress)?;
    if !opts.full_signatures
        && rep
            .issues
            .iter()
            .any(|i| i.code == "checkpoint_root_mismatch")
    {
        // pinpoint: re-run checking every record signature
        rep = run(dir, opts.keyring, true, None)?;
        rep.notes
            .push("a checkpoint did not match: every record signature was checked".into());
    }
    Ok(rep)
}

fn run(
    dir: &Path,
    keyring: &Keyring,
    full: bool,
    mut progress: Option<&mut dyn FnMut(u64, u64)>,
) -> Result<VerifyReport> {
    let mut rep = VerifyReport {
        kind: "log".into(),
        path: dir.display().to_string(),
        trust: keyring.source.clone(),
        ..Default::default()
    };
    let segs = list_segments(dir)?;
    rep.segments = segs.len();
    let total = total_bytes(&segs);
    let mut done = 0u64;

    // where the kept log starts
    let mut expected = 0u64;
    let mut prev = GENESIS_HASH.to_string();
    let mut frontier = Frontier::new();
    let tomb_path = dir.join("tombstone.json");
    match read_tombstone(dir) {
        Ok(Some(t)) => match check_sig(
            keyring,
            &t.key_id,
            &t.alg,
            &t.timestamp,
            &t.signed_message(),
            &t.sig,
        ) {
            Ok(()) => match t.frontier() {
                Ok(f) => {
                    expected = t.pruned_before_seq;
                    prev = t.anchor_hash.clone();
                    frontier = f;
                    rep.notes.push(format!(
                        "records before #{} were pruned (cutoff {}); tombstone signature valid",
                        t.pruned_before_seq, t.cutoff
                    ));
                }
                Err(e) => rep.issue(
                    "bad_tombstone",
                    e.to_string(),
                    Some(&tomb_path),
                    None,
                    None,
                    Some("frontier"),
                ),
            },
            Err((m, f)) => rep.issue("bad_tombstone", m, Some(&tomb_path), None, None, Some(f)),
        },
        Ok(None) => {}
        Err(e) => rep.issue(
            "bad_tombstone",
            e.to_string(),
            Some(&tomb_path),
            None,
            None,
            None,
        ),
    }

    // checkpoints: signatures first
    let cp_path = dir.join("checkpoints.jsonl");
    let (cps, bad) = read_checkpoints(dir)?;
    for (line, e) in bad {
        rep.issue(
            "bad_checkpoint",
            format!("unparsable checkpoint: {e}"),
            Some(&cp_path),
            Some(line),
            None,
            None,
        );
    }
    let mut by_size: BTreeMap<u64, (usize, Checkpoint)> = BTreeMap::new();
    for (line, c) in cps {
        match check_sig(
            keyring,
            &c.key_id,
            &c.alg,
            &c.timestamp,
            &c.signed_message(),
            &c.sig,
        ) {
            Ok(()) => {
                by_size.insert(c.tree_size, (line, c));
            }
            Err((m, f)) => rep.issue(
                "bad_checkpoint_signature",
                m,
                Some(&cp_path),
                Some(line),
                None,
                Some(f),
            ),
        }
    }
    let covered_below = if full {
        0
    } else {
        by_size.keys().next_back().copied().unwrap_or(0)
    };
    if let Some((_, (line, c))) = by_size.range(..=frontier.size()).next_back() {
        if c.tree_size == frontier.size() && c.tree_size > 0 {
            if hex::encode(frontier.root()) == c.root_hash {
                rep.checkpoints_verified += 1;
            } else {
                rep.issue(
                    "checkpoint_root_mismatch",
                    format!(
                        "checkpoint over {} records does not match the tombstone",
                        c.tree_size
                    ),
                    Some(&cp_path),
                    Some(*line),
                    None,
                    Some("root_hash"),
                );
            }
        }
    }
    let pruned = frontier.size();
    if pruned > 0 {
        let skipped = by_size.range(..pruned).count();
        if skipped > 0 {
            rep.notes.push(format!(
                "{skipped} checkpoint(s) cover only pruned records and were not recomputed"
            ));
        }
    }

    let nsegs = segs.len();
    for (k, (_, path)) in segs.iter().enumerate() {
        let sd = SegmentData::read(path)?;
        for i in 0..sd.lines.len() {
            let line = sd.line(i);
            let ln = Some(i + 1);
            let r = match RawRecord::parse(line) {
                Ok(r) => r,
                Err(e) => {
                    rep.issue("unparsable_record", e, Some(path), ln, Some(expected), None);
                    expected += 1;
                    frontier.push(leaf_hash(line));
                    continue;
                }
            };
            if r.seq < expected && pruned > r.seq && rep.records == 0 {
                rep.notes.push(format!(
                    "record #{} in {} is before the tombstone: ignored",
                    r.seq,
                    path.display()
                ));
                continue;
            }
            let seq = r.seq;
            if seq != expected {
                let (code, msg) = if seq < expected {
                    ("duplicate_or_reordered", format!("seq {seq} appears where seq {expected} was expected (duplicated or reordered record)"))
                } else {
                    ("missing_records", format!("seq {seq} appears where seq {expected} was expected: {} record(s) missing", seq - expected))
                };
                rep.issue(code, msg, Some(path), ln, Some(seq), Some("seq"));
            }
            let u = r.unsigned();
            let computed = u.hash();
            if computed != r.hash {
                rep.issue("hash_mismatch", format!("content does not match its hash (stored {}, computed {computed}): the record was altered", r.hash), Some(path), ln, Some(seq), Some("hash"));
            }
            if r.prev_hash != prev {
                rep.issue(
                    "chain_broken",
                    format!(
                        "prev_hash {} does not match the hash of the previous record {prev}",
                        r.prev_hash
                    ),
                    Some(path),
                    ln,
                    Some(seq),
                    Some("prev_hash"),
                );
            }
            if u.line(&r.hash, &r.sig).as_bytes() != line {
                rep.issue(
                    "not_canonical",
                    "line is not in canonical form (bytes were altered)",
                    Some(path),
                    ln,
                    Some(seq),
                    None,
                );
            }
            if crate::record::form_of(r.v).is_none() {
                rep.issue(
                    "bad_version",
                    format!("unknown record version {}", r.v),
                    Some(path),
                    ln,
                    Some(seq),
                    Some("v"),
                );
            }
            if full || seq >= covered_below {
                match check_sig(
                    keyring,
                    &r.key_id,
                    &r.alg,
                    &r.timestamp,
                    &record_sig_message(&r.hash),
                    &r.sig,
                ) {
                    Ok(()) => rep.signatures_verified += 1,
                    Err((m, f)) => rep.issue(
                        if f == "sig" {
                            "bad_signature"
                        } else {
                            "untrusted_key"
                        },
                        m,
                        Some(path),
                        ln,
                        Some(seq),
                        Some(f),
                    ),
                }
            }
            frontier.push(leaf_hash(line));
            if rep.first_seq.is_none() {
                rep.first_seq = Some(seq);
            }
            rep.last_seq = Some(seq);
            rep.records += 1;
            prev = r.hash.clone();
            expected = seq + 1;
            if let Some((cl, c)) = by_size.get(&frontier.size()) {
                if hex::encode(frontier.root()) == c.root_hash && c.last_hash == prev {
                    rep.checkpoints_verified += 1;
                } else {
                    rep.issue("checkpoint_root_mismatch", format!("signed checkpoint over the first {} records does not match the log: a record at or before #{seq} was altered, removed or inserted", c.tree_size), Some(&cp_path), Some(*cl), Some(seq), Some("root_hash"));
                }
            }
        }
        if let Some(p) = sd.partial {
            let last = k + 1 == nsegs;
            rep.issue(
                if last {
                    "incomplete_tail"
                } else {
                    "incomplete_record"
                },
                format!(
                    "{} bytes at the end are an incomplete record{}",
                    sd.data.len() - p,
                    if last {
                        " (interrupted write or truncated tail; the next append repairs it)"
                    } else {
                        ""
                    }
                ),
                Some(path),
                Some(sd.lines.len() + 1),
                Some(expected),
                None,
            );
        }
        done += sd.data.len() as u64;
        if let Some(cb) = progress.as_mut() {
            cb(done, total);
        }
    }
    rep.last_hash = rep.last_seq.map(|_| prev.clone());
    let size = frontier.size();
    if let Some((_, (line, c))) = by_size.range(size + 1..).next_back() {
        rep.issue("truncated", format!("signed checkpoint covers {} records but the log has only {size}: records were removed from the end", c.tree_size), Some(&cp_path), Some(*line), Some(size), Some("tree_size"));
    }
    if let Some(h) = read_head(dir) {
        if h.next_seq > expected {
            rep.issue("truncated", format!("head state says the log had {} records but it ends at {expected}: records were removed from the end", h.next_seq), Some(&dir.join("HEAD")), None, Some(expected), Some("next_seq"));
        } else if h.next_seq == expected && rep.records > 0 && h.last_hash != prev {
            rep.issue("head_mismatch", "head state's last hash differs from the last record's hash: the tail was rewritten", Some(&dir.join("HEAD")), None, Some(expected.saturating_sub(1)), Some("last_hash"));
        }
    }
    if rep.records == 0 && segs.is_empty() {
        rep.notes.push("no records".into());
    }
    let _ = parse_hash;
    rep.ok = rep.issues.is_empty();
    Ok(rep)
}
