//! `cavra sessions` through the real binary.

#![allow(clippy::unwrap_used)]

mod store_common;

use cavra_store::Store;
use store_common::*;
use tempfile::TempDir;

#[test]
fn held_session_list_show_release() {
    let d = TempDir::new().unwrap();
    {
        let mut s = Store::open(db_path(d.path())).unwrap();
        s.record_block("sess-a", "codex", "high", minutes_ago(3))
            .unwrap();
        let st = s
            .record_block("sess-b", "codex", "critical", minutes_ago(2))
            .unwrap();
        assert!(st.held);
    }
    let out = cavra(d.path(), &["sessions", "list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("sess-b") && out.stdout.contains("HELD"),
        "{}",
        out.stdout
    );
    let held = cavra(d.path(), &["sessions", "list", "--held", "--json"]).json();
    assert_eq!(held.as_array().unwrap().len(), 1);
    assert_valid(&schema("session.schema.json"), &held[0]);
    let v = cavra(d.path(), &["sessions", "show", "sess-b", "--json"]).json();
    assert_eq!(v["held"], true);
    assert_eq!(v["blocks"][0]["severity"], "critical");

    let out = cavra(
        d.path(),
        &[
            "sessions", "release", "sess-b", "--as", "codex", "--reason", "me",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot release"), "{}", out.stderr);
    let out = cavra(
        d.path(),
        &[
            "sessions",
            "release",
            "sess-b",
            "--as",
            "alice",
            "--reason",
            "false positive",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["held"], false);
    assert_eq!(out.json()["transition"], "released");
    assert!(!signed_store(d.path()).is_held("sess-b").unwrap());
    let out = cavra(
        d.path(),
        &[
            "sessions", "release", "sess-b", "--as", "alice", "--reason", "again",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not on hold"), "{}", out.stderr);
    for args in [
        vec!["sessions", "show", "nope"],
        vec!["sessions", "release", "nope", "--as", "a", "--reason", "r"],
    ] {
        let out = cavra(d.path(), &args);
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("unknown session `nope`"),
            "{}",
            out.stderr
        );
    }
}
