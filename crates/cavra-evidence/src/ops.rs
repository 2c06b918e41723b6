//! The operations front ends offer over one evidence log — `cavra evidence …` and the HTTP
//! server's `/v1/evidence/…` — as options in, typed result out. Log-only: the search,
//! which needs the index, is `cavra_store::index::search_log`.

use crate::bundle::{build_bundle, verify_bundle, Selection};
use crate::error::{EvidenceError, Result};
use crate::export::{export, Format};
use crate::keys::{KeyStore, Keyring, TrustRoot};
use crate::log::{read_records, Checkpoint, EvidenceLog, LogConfig, PruneReport, RepairReport};
use crate::proof::{verify_proof, InclusionProof};
use crate::timeutil::{parse_since, parse_ts};
use crate::verify::{verify_log, VerifyOptions, VerifyReport};
use serde::Serialize;
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// The keys that verify: the trust root `trust_root`, else `<cavra_dir>/trust-root.json`
/// when that file exists, else the public keys of the key directory `key_dir`.
pub fn keyring(cavra_dir: &Path, key_dir: &Path, trust_root: Option<&Path>) -> Result<Keyring> {
    let default = cavra_dir.join("trust-root.json");
    let trust_root = trust_root.or_else(|| Some(default.as_path()).filter(|p| p.is_file()));
    match trust_root {
        Some(p) => TrustRoot::load(p)?.keyring(&format!("trust root `{}`", p.display())),
        None => KeyStore::new(key_dir).keyring(),
    }
}

/// The result of checking an inclusion proof.
#[derive(Debug, Clone, Serialize)]
pub struct ProofCheck {
    pub ok: bool,
    /// Always `proof`.
    pub kind: &'static str,
    pub record_id: String,
    pub tree_size: u64,
    /// The problems found (none: the record is in the signed checkpoint).
    pub issues: Vec<String>,
}

/// What [`verify`] checked: a log or a bundle (a [`VerifyReport`]), or an inclusion proof.
#[derive(Debug, Clone)]
pub enum Verified {
    Report(VerifyReport),
    Proof(ProofCheck),
}

impl Verified {
    /// Everything verified.
    pub fn ok(&self) -> bool {
        match self {
            Verified::Report(r) => r.ok,
            Verified::Proof(p) => p.ok,
        }
    }

    /// The text of the result (lines ending in newlines): `OK: …` or `FAILED: …` and the
    /// problems found, then the report's notes.
    pub fn text(&self) -> String {
        let mut t = match self {
            Verified::Report(r) if r.ok => {
                let last = r
                    .last_seq
                    .map(|s| format!(", last #{s}"))
                    .unwrap_or_default();
                let (n, s, c) = (r.records, r.signatures_verified, r.checkpoints_verified);
                let what = format!("{n} records{last}, {s} signatures, {c} checkpoints");
                let (kind, path, trust) = (&r.kind, &r.path, &r.trust);
                format!("OK: {kind} {path} verified ({what}); keys: {trust}\n")
            }
            Verified::Report(r) => {
                let (kind, path, trust, n) = (&r.kind, &r.path, &r.trust, r.issues.len());
                let head = format!("FAILED: {kind} {path}: {n} problem(s); keys: {trust}\n");
                head + &lines("  ", &r.issues)
            }
            Verified::Proof(p) if p.ok => format!(
                "OK: record {} is included in the signed checkpoint over {} records\n",
                p.record_id, p.tree_size
            ),
            Verified::Proof(p) => {
                format!("FAILED: proof for {}:\n", p.record_id) + &lines("  ", &p.issues)
            }
        };
        if let Verified::Report(r) = self {
            t += &lines("  note: ", &r.notes);
        }
        t
    }
}

/// One line per item, each after `prefix`.
fn lines(prefix: &str, items: &[impl std::fmt::Display]) -> String {
    items.iter().map(|i| format!("{prefix}{i}\n")).collect()
}

impl Checkpoint {
    /// `checkpoint over N records: root R (key K)`.
    pub fn text(&self) -> String {
        let (n, root, key) = (self.tree_size, &self.root_hash, &self.key_id);
        format!("checkpoint over {n} records: root {root} (key {key})")
    }
}

impl RepairReport {
    /// What the repair did, and the repair record when records were missing.
    pub fn text(&self) -> String {
        let (n, cut) = (self.next_seq, self.truncated_bytes);
        let mut text = format!("head rebuilt: {n} records, {cut} bytes of incomplete tail cut");
        if let Some(a) = &self.repair_record {
            let (id, seq) = (&a.record_id, a.seq);
            text += &format!("\nrecords were missing: recorded as repair record {id} (#{seq})");
        }
        text
    }
}

impl PruneReport {
    /// What the prune removed (or that there was nothing old enough).
    pub fn text(&self) -> String {
        let (n, segs, from) = (
            self.records_removed,
            self.segments_removed.len(),
            self.pruned_before_seq,
        );
        if segs == 0 {
            let cutoff = &self.cutoff;
            format!("nothing older than {cutoff} to prune (pruning removes whole segments)")
        } else {
            format!("pruned {n} records in {segs} segment(s); signed tombstone written, records now start at #{from}")
        }
    }
}

/// Is `p` an evidence bundle: a ZIP file, or a directory with a `manifest.json`.
pub fn is_bundle(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        || p.join("manifest.json").is_file()
}

/// Verifies what `path` is — a bundle (directory or ZIP), an inclusion proof (a JSON file)
/// or a log directory — against `keyring`. A bundle and a proof use the keys they carry
/// when `keyring` is empty and no trust root (integrity only, noted in the report). `full`
/// checks every record signature of a log, also where a signed checkpoint covers it;
/// `progress` is told (done, total) while a log is read.
pub fn verify<'a>(
    path: &Path,
    keyring: &'a Keyring,
    full: bool,
    progress: Option<&'a mut dyn FnMut(u64, u64)>,
) -> Result<Verified> {
    if !path.exists() {
        return Err(EvidenceError::NotFound(path.to_path_buf()));
    }
    let own_keys = keyring.is_trust_root || !keyring.is_empty();
    if is_bundle(path) {
        return Ok(Verified::Report(verify_bundle(
            path,
            own_keys.then_some(keyring),
        )?));
    }
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|source| EvidenceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let p: InclusionProof =
            serde_json::from_str(&text).map_err(|source| EvidenceError::NotAProof {
                path: path.to_path_buf(),
                source,
            })?;
        let issues = verify_proof(&p, (!keyring.is_empty()).then_some(keyring));
        return Ok(Verified::Proof(ProofCheck {
            ok: issues.is_empty(),
            kind: "proof",
            record_id: p.record_id,
            tree_size: p.tree_size,
            issues,
        }));
    }
    let opts = VerifyOptions {
        keyring,
        full_signatures: full,
        progress,
    };
    Ok(Verified::Report(verify_log(path, opts)?))
}

/// Which records an evidence bundle holds: one session, the records from a time on, or
/// the whole log (`all`). One of the three must be given.
#[derive(Debug, Clone, Default)]
pub struct BundleRequest {
    pub session: Option<String>,
    /// RFC 3339 time, date (`YYYY-MM-DD`) or duration ago (`24h`).
    pub since: Option<String>,
    pub all: bool,
}

/// The files (name → bytes) of an evidence bundle of the log `cfg`, signed with the log's
/// active key (created when there is none); write them with
/// [`crate::bundle::write_bundle`].
pub fn bundle(cfg: &LogConfig, req: &BundleRequest) -> Result<Vec<(String, Vec<u8>)>> {
    if req.session.is_none() && req.since.is_none() && !req.all {
        return Err(EvidenceError::NoSelection);
    }
    let (key, _) = KeyStore::new(&cfg.key_dir).load_or_create_active(cfg.signing)?;
    let sel = Selection {
        session: req.session.clone(),
        since: req.since.as_deref().map(parse_since).transpose()?,
    };
    build_bundle(&cfg.dir, &sel, &key)
}

/// An export of the log for a SIEM.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// `ocsf`, `splunk-hec`, `sentinel`, `datadog`, `cef` or `jsonl`.
    pub format: String,
    /// Only the records of this session.
    pub session: Option<String>,
    /// Only records from this time on: RFC 3339 time, date or duration ago.
    pub since: Option<String>,
    /// The host name the records are attributed to ([`crate::export::host_name`]).
    pub host: String,
}

/// The records of the log in `dir` that `req` selects, in its format (one line each).
pub fn export_log(dir: &Path, req: &ExportRequest) -> Result<String> {
    let fmt = Format::parse(&req.format)?;
    let since = req.since.as_deref().map(parse_since).transpose()?;
    let recs: Vec<_> = read_records(dir)?
        .into_iter()
        .filter(|r| {
            req.session
                .as_deref()
                .is_none_or(|x| r.session_id() == Some(x))
        })
        .filter(|r| since.is_none_or(|t| parse_ts(&r.timestamp).is_ok_and(|x| x >= t)))
        .collect();
    Ok(export(&recs, fmt, &req.host))
}

/// Removes the segments of the log `cfg` whose records are all older than `older_than`
/// before `now`, leaving a signed tombstone.
pub fn prune(cfg: LogConfig, older_than: Duration, now: OffsetDateTime) -> Result<PruneReport> {
    let cutoff = now.checked_sub(older_than).ok_or_else(|| {
        EvidenceError::Invalid("the retention reaches before the representable time range".into())
    })?;
    EvidenceLog::open(cfg)?.prune(cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log(dir: &Path) -> LogConfig {
        let cfg = LogConfig::new(dir.join("evidence"), dir.join("keys"));
        let mut log = EvidenceLog::open(cfg.clone()).unwrap();
        log.append(
            "decision",
            &json!({"session_id": "s1", "decision": "block"}),
        )
        .unwrap();
        log.append(
            "decision",
            &json!({"session_id": "s2", "decision": "allow"}),
        )
        .unwrap();
        cfg
    }

    #[test]
    fn verify_tells_a_log_a_proof_and_a_missing_path_apart() {
        let d = tempfile::tempdir().unwrap();
        let cfg = log(d.path());
        let ring = keyring(d.path(), &cfg.key_dir, None).unwrap();
        let v = verify(&cfg.dir, &ring, true, None).unwrap();
        assert!(matches!(&v, Verified::Report(r) if r.kind == "log" && r.records == 2));
        assert!(v.ok());
        assert!(v.text().starts_with("OK: log "), "{}", v.text());
        assert!(v.text().contains("(2 records, last #"), "{}", v.text());
        let mut l = EvidenceLog::open(cfg.clone()).unwrap();
        let p = crate::proof::prove(&mut l, "1").unwrap();
        let f = d.path().join("proof.json");
        std::fs::write(&f, serde_json::to_string(&p).unwrap()).unwrap();
        let v = verify(&f, &ring, false, None).unwrap();
        assert!(
            matches!(&v, Verified::Proof(p) if p.ok && p.tree_size == 2),
            "{v:?}"
        );
        let t = v.text();
        assert!(
            t.starts_with("OK: record ") && t.ends_with(" over 2 records\n"),
            "{t}"
        );
        let bad = ProofCheck {
            ok: false,
            kind: "proof",
            record_id: "ev-1".into(),
            tree_size: 2,
            issues: vec!["root differs".into()],
        };
        let t = Verified::Proof(bad).text();
        assert_eq!(t, "FAILED: proof for ev-1:\n  root differs\n");
        let report = VerifyReport {
            kind: "log".into(),
            path: "p".into(),
            trust: "k".into(),
            notes: vec!["n".into()],
            ..Default::default()
        };
        let t = Verified::Report(report).text();
        assert_eq!(t, "FAILED: log p: 0 problem(s); keys: k\n  note: n\n");
        std::fs::write(&f, "{}").unwrap();
        let e = verify(&f, &ring, false, None).unwrap_err();
        assert!(e.to_string().contains("neither a bundle nor"), "{e}");
        let e = verify(&d.path().join("nope"), &ring, false, None).unwrap_err();
        assert!(matches!(e, EvidenceError::NotFound(_)), "{e}");
    }

    #[test]
    fn a_bundle_needs_a_selection_and_an_export_filters() {
        let d = tempfile::tempdir().unwrap();
        let cfg = log(d.path());
        let e = bundle(&cfg, &BundleRequest::default()).unwrap_err();
        assert!(matches!(e, EvidenceError::NoSelection), "{e}");
        let one = BundleRequest {
            session: Some("s1".into()),
            ..Default::default()
        };
        let files = bundle(&cfg, &one).unwrap();
        assert!(files.iter().any(|(n, _)| n == "manifest.json"));
        let req = |session: Option<&str>| ExportRequest {
            format: "jsonl".into(),
            session: session.map(str::to_string),
            since: Some("1h".into()),
            host: "h".into(),
        };
        assert_eq!(export_log(&cfg.dir, &req(None)).unwrap().lines().count(), 2);
        assert_eq!(
            export_log(&cfg.dir, &req(Some("s2")))
                .unwrap()
                .lines()
                .count(),
            1
        );
        let mut bad = req(None);
        bad.format = "xml".into();
        assert!(export_log(&cfg.dir, &bad).is_err());
    }

    #[test]
    fn prune_refuses_a_cutoff_out_of_range() {
        let d = tempfile::tempdir().unwrap();
        let cfg = log(d.path());
        let now = OffsetDateTime::now_utc();
        assert!(prune(cfg.clone(), Duration::MAX, now).is_err());
        let r = prune(cfg, Duration::days(1), now).unwrap();
        assert!(r.segments_removed.is_empty());
        assert!(r.text().starts_with("nothing older than "), "{}", r.text());
    }
}
