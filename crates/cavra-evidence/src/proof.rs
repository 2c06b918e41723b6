//! Merkle inclusion proofs of a record against a signed checkpoint, checkable offline.

use crate::error::{EvidenceError, Result};
use crate::keys::{Keyring, VerifyingKey};
use crate::log::{parse_hash, read_checkpoints, read_tombstone, Checkpoint, EvidenceLog};
use crate::merkle::{leaf_hash, verify_inclusion, Frontier, PartialTree};
use crate::record::RawRecord;
use crate::segments::{list_segments, SegmentData};
use crate::verify::check_sig;
use serde::{Deserialize, Serialize};

/// A self-contained inclusion proof (`cavra evidence prove`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InclusionProof {
    /// Always `cavra.inclusion-proof.v1`.
    pub proof_type: String,
    pub record_id: String,
    /// Leaf index (= record seq).
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The record exactly as stored (canonical JSON line).
    pub record_line: String,
    /// SHA-256(0x00 ‖ record_line), hex.
    pub leaf_hash: String,
    /// RFC 6962 audit path, hex, leaf to root.
    pub audit_path: Vec<String>,
    /// The signed tree head the path leads to.
    pub checkpoint: Checkpoint,
    /// Base64 Ed25519 public key of the checkpoint signer (a convenience: trust comes
    /// from a trust root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// Build a proof for `record` (a record id or a seq number) against the latest signed
/// checkpoint (the one over the most records) that covers it, writing a new checkpoint when
/// none does.
pub fn prove(log: &mut EvidenceLog, record: &str) -> Result<InclusionProof> {
    let dir = log.config().dir.clone();
    let tomb = read_tombstone(&dir)?;
    let prefix = match &tomb {
        Some(t) => t.frontier()?,
        None => Frontier::new(),
    };
    let mut leaves = Vec::new();
    let mut found: Option<(u64, String, String)> = None;
    for (_, path) in list_segments(&dir)? {
        let sd = SegmentData::read(&path)?;
        for i in 0..sd.lines.len() {
            let line = sd.line(i);
            let r = RawRecord::parse(line)
                .map_err(|e| EvidenceError::corrupt(&path, format!("line {}: {e}", i + 1)))?;
            if r.seq < prefix.size() {
                continue;
            }
            if found.is_none() && (r.record_id == record || r.seq.to_string() == record) {
                found = Some((
                    r.seq,
                    r.record_id.clone(),
                    String::from_utf8_lossy(line).to_string(),
                ));
            }
            leaves.push(leaf_hash(line));
        }
    }
    let Some((seq, record_id, record_line)) = found else {
        return Err(EvidenceError::RecordNotFound(record.to_string()));
    };
    let cp = match read_checkpoints(&dir)?
        .0
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| c.tree_size > seq && c.tree_size <= prefix.size() + leaves.len() as u64)
        .max_by_key(|c| c.tree_size)
    {
        Some(c) => c,
        None => {
            let c = log.checkpoint()?;
            // records appended meanwhile by others: include their leaves
            if c.tree_size > prefix.size() + leaves.len() as u64 {
                return prove(log, record);
            }
            c
        }
    };
    let upto = (cp.tree_size - prefix.size()) as usize;
    let tree = PartialTree {
        prefix: &prefix,
        leaves: leaves.get(..upto).unwrap_or(&leaves),
    };
    let root = tree
        .root()
        .ok_or_else(|| EvidenceError::Inconsistent("cannot compute the tree head".into()))?;
    if hex::encode(root) != cp.root_hash {
        return Err(EvidenceError::Inconsistent(format!(
            "checkpoint over {} records does not match the log; run `cavra evidence verify`",
            cp.tree_size
        )));
    }
    let path = tree.inclusion_proof(seq).ok_or_else(|| {
        EvidenceError::Inconsistent("record is in the pruned part of the log".into())
    })?;
    Ok(InclusionProof {
        proof_type: "cavra.inclusion-proof.v1".into(),
        record_id,
        leaf_index: seq,
        tree_size: cp.tree_size,
        leaf_hash: hex::encode(leaf_hash(record_line.as_bytes())),
        record_line,
        audit_path: path.iter().map(hex::encode).collect(),
        public_key: log.signing_key().public_key_b64(),
        checkpoint: cp,
    })
}

/// Check a proof. With `keyring` the checkpoint signer must be in it; without, the
/// embedded public key is used (integrity only, not trust). Returns the problems found.
pub fn verify_proof(p: &InclusionProof, keyring: Option<&Keyring>) -> Vec<String> {
    let mut issues = Vec::new();
    let leaf = leaf_hash(p.record_line.as_bytes());
    if hex::encode(leaf) != p.leaf_hash {
        issues.push("leaf_hash does not match record_line".to_string());
    }
    match RawRecord::parse(p.record_line.as_bytes()) {
        Ok(r) => {
            if r.unsigned().hash() != r.hash {
                issues.push(format!(
                    "record #{}: content does not match its hash",
                    r.seq
                ));
            }
            if r.seq != p.leaf_index || r.record_id != p.record_id {
                issues.push("record_id / leaf_index do not match the record".to_string());
            }
        }
        Err(e) => issues.push(format!("record_line: {e}")),
    }
    if p.tree_size != p.checkpoint.tree_size {
        issues.push("tree_size differs from the checkpoint's".to_string());
    }
    let path: Option<Vec<_>> = p.audit_path.iter().map(|h| parse_hash(h)).collect();
    match (path, parse_hash(&p.checkpoint.root_hash)) {
        (Some(path), Some(root)) => {
            if !verify_inclusion(&leaf, p.leaf_index, p.tree_size, &path, &root) {
                issues.push("audit path does not lead to the checkpoint root".to_string());
            }
        }
        _ => issues.push("audit_path or root_hash is not hex".to_string()),
    }
    let c = &p.checkpoint;
    let own;
    let ring = match keyring {
        Some(k) => k,
        None => {
            let mut r = Keyring::new("key embedded in the proof");
            if let Some(pk) = &p.public_key {
                if let Ok(k) = VerifyingKey::ed25519_from_b64(pk) {
                    r.insert(k);
                }
            }
            own = r;
            &own
        }
    };
    if let Err((m, f)) = check_sig(
        ring,
        &c.key_id,
        &c.alg,
        &c.timestamp,
        &c.signed_message(),
        &c.sig,
    ) {
        issues.push(format!("checkpoint {f}: {m}"));
    }
    issues
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::LogConfig;
    use serde_json::json;

    /// With two checkpoints covering a record, the proof leads to the later one (over
    /// more records), and it verifies.
    #[test]
    fn a_proof_uses_the_latest_covering_checkpoint() {
        let d = tempfile::tempdir().unwrap();
        let mut c = LogConfig::new(d.path().join("evidence"), d.path().join("keys"));
        c.checkpoint_every = 1_000;
        let mut log = EvidenceLog::open(c).unwrap();
        let body = json!({"decision": "allow"});
        for _ in 0..3 {
            log.append("decision", &body).unwrap();
        }
        let first = log.checkpoint().unwrap();
        for _ in 0..2 {
            log.append("decision", &body).unwrap();
        }
        let second = log.checkpoint().unwrap();
        assert_eq!((first.tree_size, second.tree_size), (3, 5));
        let p = prove(&mut log, "1").unwrap();
        assert_eq!(p.tree_size, 5);
        assert_eq!(p.checkpoint.root_hash, second.root_hash);
        assert!(
            verify_proof(&p, None).is_empty(),
            "{:?}",
            verify_proof(&p, None)
        );
        // a record after the latest checkpoint gets a new one over the whole log
        log.append("decision", &body).unwrap();
        let p = prove(&mut log, "5").unwrap();
        assert_eq!(p.tree_size, 6);
    }
}
