//! Property tests: any single-byte change, removed, reordered or duplicated record, or
//! truncated tail of a log is detected by `verify_log`.
#![allow(clippy::unwrap_used, clippy::panic)]

use cavra_evidence::segments::{list_segments, SegmentData};
use cavra_evidence::{verify_log, EvidenceLog, KeyStore, LogConfig, VerifyOptions, VerifyReport};
use proptest::prelude::*;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const N: usize = 23;

fn template() -> &'static (tempfile::TempDir, PathBuf) {
    static T: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    T.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let mut c = LogConfig::new(d.path().join("evidence"), d.path().join("keys"));
        c.checkpoint_every = 8;
        c.segment_max_bytes = 1 << 20;
        let mut log = EvidenceLog::open(c).unwrap();
        for i in 0..N {
            log.append(
                "decision",
                &json!({"i": i, "session_id": "s1", "request": {"command": format!("echo {i}")}}),
            )
            .unwrap();
        }
        let seg = list_segments(&d.path().join("evidence")).unwrap()[0]
            .1
            .clone();
        (d, seg)
    })
}

fn copy_log() -> (tempfile::TempDir, PathBuf) {
    let (t, seg) = template();
    let d = tempfile::tempdir().unwrap();
    for sub in ["evidence", "keys"] {
        fs::create_dir_all(d.path().join(sub)).unwrap();
        for e in fs::read_dir(t.path().join(sub)).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), d.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    let seg = d.path().join("evidence").join(seg.file_name().unwrap());
    (d, seg)
}

fn verify(root: &Path, full: bool) -> VerifyReport {
    let ring = KeyStore::new(root.join("keys")).keyring().unwrap();
    verify_log(
        &root.join("evidence"),
        VerifyOptions {
            keyring: &ring,
            full_signatures: full,
            progress: None,
        },
    )
    .unwrap()
}

#[test]
fn untouched_log_verifies() {
    let (d, _) = copy_log();
    let r = verify(d.path(), false);
    assert!(r.ok, "{:?}", r.issues);
    assert_eq!(r.records, N as u64);
    assert_eq!(r.checkpoints_verified, 2);
    // only the records after the last checkpoint needed their own signature check
    assert_eq!(r.signatures_verified, (N - 16) as u64);
    let r = verify(d.path(), true);
    assert!(r.ok);
    assert_eq!(r.signatures_verified, N as u64);
}

fn lines(seg: &Path) -> Vec<Vec<u8>> {
    let sd = SegmentData::read(seg).unwrap();
    (0..sd.lines.len()).map(|i| sd.line(i).to_vec()).collect()
}

fn write_lines(seg: &Path, ls: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in ls {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    fs::write(seg, out).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_byte_change_is_detected(pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let (d, seg) = copy_log();
        let mut data = fs::read(&seg).unwrap();
        let i = pos.index(data.len());
        data[i] ^= x;
        fs::write(&seg, &data).unwrap();
        let r = verify(d.path(), false);
        prop_assert!(!r.ok, "byte {} ^ {} not detected", i, x);
        prop_assert!(r.issues.iter().all(|i| i.file.is_some()), "issue without location: {:?}", r.issues);
    }

    #[test]
    fn truncation_is_detected(cut in any::<prop::sample::Index>()) {
        let (d, seg) = copy_log();
        let data = fs::read(&seg).unwrap();
        let n = cut.index(data.len());
        fs::write(&seg, &data[..n]).unwrap();
        let r = verify(d.path(), false);
        prop_assert!(!r.ok, "truncation to {} bytes not detected", n);
    }

    #[test]
    fn removed_duplicated_or_swapped_records_are_detected(a in 0..N, b in 0..N, op in 0..3u8) {
        let (d, seg) = copy_log();
        let mut ls = lines(&seg);
        match op {
            0 => { ls.remove(a); }
            1 => { let l = ls[a].clone(); ls.insert(b, l); }
            _ => { prop_assume!(a != b); ls.swap(a, b); }
        }
        write_lines(&seg, &ls);
        let r = verify(d.path(), false);
        prop_assert!(!r.ok, "op {} at {}/{} not detected", op, a, b);
    }
}

#[test]
fn error_says_where() {
    let (d, seg) = copy_log();
    let mut ls = lines(&seg);
    let s = String::from_utf8(ls[5].clone())
        .unwrap()
        .replace("echo 5", "echo 6");
    ls[5] = s.into_bytes();
    write_lines(&seg, &ls);
    let r = verify(d.path(), false);
    let i = r.issues.iter().find(|i| i.code == "hash_mismatch").unwrap();
    assert_eq!(i.record, Some(5));
    assert_eq!(i.line, Some(6));
    assert_eq!(i.field.as_deref(), Some("hash"));
    assert!(i.to_string().contains("record #5"), "{i}");
}

#[test]
fn signature_change_in_covered_record_is_pinpointed() {
    let (d, seg) = copy_log();
    let mut ls = lines(&seg);
    let s = String::from_utf8(ls[3].clone()).unwrap();
    let p = s.find("\"sig\":\"").unwrap() + 7;
    let mut b = s.into_bytes();
    b[p] = if b[p] == b'A' { b'B' } else { b'A' };
    ls[3] = b;
    write_lines(&seg, &ls);
    let r = verify(d.path(), false);
    assert!(
        r.issues
            .iter()
            .any(|i| i.code == "bad_signature" && i.record == Some(3)),
        "{:?}",
        r.issues
    );
}

#[test]
fn trust_root_must_list_the_key() {
    let (d, _) = copy_log();
    let other = tempfile::tempdir().unwrap();
    let ks = KeyStore::new(other.path());
    ks.generate(cavra_evidence::SigningMode::Ed25519).unwrap();
    let ring = ks
        .export_public(None)
        .unwrap()
        .keyring("trust root")
        .unwrap();
    let r = verify_log(
        &d.path().join("evidence"),
        VerifyOptions {
            keyring: &ring,
            full_signatures: false,
            progress: None,
        },
    )
    .unwrap();
    assert!(r
        .issues
        .iter()
        .any(|i| i.code == "untrusted_key" || i.code == "bad_checkpoint_signature"));
    let good = KeyStore::new(d.path().join("keys"))
        .export_public(None)
        .unwrap();
    let ring = good.keyring("trust root").unwrap();
    let r = verify_log(
        &d.path().join("evidence"),
        VerifyOptions {
            keyring: &ring,
            full_signatures: true,
            progress: None,
        },
    )
    .unwrap();
    assert!(r.ok, "{:?}", r.issues);
}

/// A bundle verifies against a trust root made by `export_public` (whose keys carry a
/// validity window: every signature, the attestation's included, is checked against it).
#[test]
fn a_bundle_verifies_against_a_trust_root_with_validity_windows() {
    let (d, _) = copy_log();
    let cfg = LogConfig::new(d.path().join("evidence"), d.path().join("keys"));
    let req = cavra_evidence::ops::BundleRequest {
        all: true,
        ..Default::default()
    };
    let files = cavra_evidence::ops::bundle(&cfg, &req).unwrap();
    let out = d.path().join("bundle");
    cavra_evidence::bundle::write_bundle(&out, &files).unwrap();
    let tr = KeyStore::new(d.path().join("keys"))
        .export_public(None)
        .unwrap();
    assert!(tr.keys.iter().all(|k| k.not_before.is_some()));
    let ring = tr.keyring("trust root").unwrap();
    let r = cavra_evidence::bundle::verify_bundle(&out, Some(&ring)).unwrap();
    assert!(r.ok, "{:?}", r.issues);
    // a window that ends before the bundle was made refuses it
    let mut late = tr.clone();
    for k in &mut late.keys {
        k.not_after = Some("2001-01-01T00:00:00Z".into());
    }
    let ring = late.keyring("trust root").unwrap();
    let r = cavra_evidence::bundle::verify_bundle(&out, Some(&ring)).unwrap();
    assert!(!r.ok);
}
