//! A log written before RFC 8785 (envelope version 1, `tests/data/v1-log`: whole floats
//! as `12.0`, `1e-6`, integers beyond 2^53, keys whose UTF-8 and UTF-16 orders differ,
//! control characters, a redacted secret) still verifies, re-encodes byte for byte, and
//! takes new (version 2, JCS) records after it.
#![allow(clippy::unwrap_used, clippy::panic)]

use cavra_evidence::record::{RECORD_VERSION, RECORD_VERSION_V1};
use cavra_evidence::segments::{list_segments, SegmentData};
use cavra_evidence::{
    read_records, verify_log, EvidenceLog, KeyStore, LogConfig, Record, VerifyOptions,
};
use serde_json::json;
use std::fs;
use std::path::Path;

fn copy_fixture() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1-log");
    let d = tempfile::tempdir().unwrap();
    for sub in ["evidence", "keys"] {
        fs::create_dir_all(d.path().join(sub)).unwrap();
        for e in fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), d.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    d
}

fn verify_all(root: &Path) -> cavra_evidence::VerifyReport {
    let ring = KeyStore::new(root.join("keys")).keyring().unwrap();
    verify_log(
        &root.join("evidence"),
        VerifyOptions {
            keyring: &ring,
            full_signatures: true,
            progress: None,
        },
    )
    .unwrap()
}

fn stored_lines(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, seg) in list_segments(dir).unwrap() {
        let sd = SegmentData::read(&seg).unwrap();
        out.extend((0..sd.lines.len()).map(|i| sd.line(i).to_vec()));
    }
    out
}

#[test]
fn version_1_log_still_verifies() {
    let d = copy_fixture();
    let r = verify_all(d.path());
    assert!(r.ok, "{:?}", r.issues);
    assert_eq!(r.records, 6);
    assert_eq!(r.signatures_verified, 6);
    let lines = stored_lines(&d.path().join("evidence"));
    let text = String::from_utf8(lines.concat()).unwrap();
    // the fixture really is in the old form (where JCS would write `12`, `0.000001`)
    assert!(text.contains(r#""evaluation_us":12.0"#), "{text}");
    assert!(text.contains(r#""small":1e-6"#), "{text}");
    assert!(text.contains(r#""big_int":12345678901234567890"#), "{text}");
    for (rec, line) in read_records(&d.path().join("evidence"))
        .unwrap()
        .iter()
        .zip(&lines)
    {
        assert_eq!(rec.v, RECORD_VERSION_V1);
        // re-encoded in its own version's form, byte for byte
        assert_eq!(rec.to_line().as_bytes(), line.as_slice());
    }
}

#[test]
fn version_1_log_continues_with_version_2_records() {
    let d = copy_fixture();
    // the fixture keeps only the old public key: new records are signed with a new key
    fs::remove_file(d.path().join("keys/active-ed25519")).unwrap();
    let cfg = LogConfig::new(d.path().join("evidence"), d.path().join("keys"));
    let mut log = EvidenceLog::open(cfg).unwrap();
    log.append(
        "decision",
        &json!({"session_id": "s3", "evaluation_us": 12.0, "small": 0.000001}),
    )
    .unwrap();
    drop(log);
    let r = verify_all(d.path());
    assert!(r.ok, "{:?}", r.issues);
    assert_eq!(r.records, 7);
    let recs = read_records(&d.path().join("evidence")).unwrap();
    let last: &Record = recs.last().unwrap();
    assert_eq!(last.v, RECORD_VERSION);
    let lines = stored_lines(&d.path().join("evidence"));
    let line = String::from_utf8(lines.last().unwrap().clone()).unwrap();
    assert!(
        line.contains(r#""body":{"evaluation_us":12,"session_id":"s3","small":0.000001}"#),
        "{line}"
    );
    assert_eq!(last.to_line(), line);
}
