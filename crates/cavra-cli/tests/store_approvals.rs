//! `cavra approvals` through the real binary.

#![allow(clippy::unwrap_used)]

mod store_common;

use cavra_store::{ApprovalState, Store};
use store_common::*;
use tempfile::TempDir;

#[test]
fn list_show_approve_then_consume_once() {
    let d = TempDir::new().unwrap();
    let id = seed_pending(d.path(), "h1", 1);
    let schema = schema("approval.schema.json");

    let out = cavra(d.path(), &["approvals", "list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = out.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["approval_id"], id.as_str());
    assert_eq!(list[0]["state"], "pending");
    assert_valid(&schema, &list[0]);

    let out = cavra(d.path(), &["approvals", "list"]);
    assert_eq!(out.code, 0);
    for needle in [
        id.as_str(),
        "pending",
        "execute_command",
        "commands.default.require_approval",
        "claude-code",
        "EXPIRES",
    ] {
        assert!(
            out.stdout.contains(needle),
            "missing {needle}: {}",
            out.stdout
        );
    }

    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "alice",
            "--reason",
            "reviewed",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("approved"), "{}", out.stdout);

    let mut s = signed_store(d.path());
    assert!(s
        .consume_approval("h1", "claude-code", now())
        .unwrap()
        .is_some());
    assert!(s
        .consume_approval("h1", "claude-code", now())
        .unwrap()
        .is_none());

    let out = cavra(d.path(), &["approvals", "show", &id, "--json"]);
    assert_eq!(out.code, 0);
    let v = out.json();
    assert_eq!(v["state"], "approved");
    assert_eq!(v["decided_by"], "alice");
    assert_eq!(v["uses"], 1);
    assert_eq!(v["exhausted"], true);
    assert_valid(&schema, &v);

    let refs = v["evidence_refs"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{v}");
    assert_eq!(evidence_kinds(d.path()), ["approval.approved"]);

    let out = cavra(d.path(), &["approvals", "show", &id]);
    assert!(out.stdout.contains("approved (used)"), "{}", out.stdout);
    assert!(out.stdout.contains("consumed"), "{}", out.stdout);
}

#[test]
fn self_approval_is_refused() {
    let d = TempDir::new().unwrap();
    let id = seed_pending(d.path(), "h", 1);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "claude-code",
            "--reason",
            "trust me",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("self-approval"), "{}", out.stderr);
    let s = Store::open(db_path(d.path())).unwrap();
    assert_eq!(s.approval(&id).unwrap().state, ApprovalState::Pending);
}

#[test]
fn unknown_id_and_bad_input_are_clear_errors() {
    let d = TempDir::new().unwrap();
    for args in [
        vec!["approvals", "show", "apr-nope"],
        vec![
            "approvals",
            "approve",
            "apr-nope",
            "--as",
            "alice",
            "--reason",
            "x",
        ],
        vec![
            "approvals",
            "deny",
            "apr-nope",
            "--as",
            "alice",
            "--reason",
            "x",
        ],
    ] {
        let out = cavra(d.path(), &args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(
            out.stderr.contains("unknown approval `apr-nope`"),
            "{}",
            out.stderr
        );
    }
    let out = cavra(d.path(), &["approvals", "list", "--status", "maybe"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("`maybe`"), "{}", out.stderr);
    let id = seed_pending(d.path(), "h", 1);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "alice",
            "--reason",
            "  ",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("reason"), "{}", out.stderr);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "alice",
            "--reason",
            "x",
            "--uses",
            "0",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("uses"), "{}", out.stderr);
}

#[test]
fn deny_and_filter_by_status() {
    let d = TempDir::new().unwrap();
    let a = seed_pending(d.path(), "h1", 1);
    let b = seed_pending(d.path(), "h2", 1);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "deny",
            &a,
            "--as",
            "bob",
            "--reason",
            "no",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["state"], "denied");
    let denied = cavra(
        d.path(),
        &["approvals", "list", "--status", "denied", "--json"],
    )
    .json();
    let ids: Vec<&str> = denied
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str()]);
    let pending = cavra(
        d.path(),
        &["approvals", "list", "--status", "pending", "--json"],
    )
    .json();
    assert_eq!(pending[0]["id"], b.as_str());
    // Deciding twice is refused.
    let out = cavra(
        d.path(),
        &["approvals", "approve", &a, "--as", "alice", "--reason", "x"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is denied"), "{}", out.stderr);
}

#[test]
fn expire_marks_due_requests() {
    let d = TempDir::new().unwrap();
    let old = seed_pending(d.path(), "h-old", 120);
    let fresh = seed_pending(d.path(), "h-new", 1);
    // list already shows the effective state
    let out = cavra(
        d.path(),
        &["approvals", "list", "--status", "expired", "--json"],
    );
    assert_eq!(out.json().as_array().unwrap().len(), 1);
    let out = cavra(d.path(), &["approvals", "expire", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["count"], 1);
    let s = Store::open(db_path(d.path())).unwrap();
    assert_eq!(s.approval(&old).unwrap().state, ApprovalState::Expired);
    assert_eq!(s.approval(&fresh).unwrap().state, ApprovalState::Pending);
    assert_eq!(evidence_kinds(d.path()), ["approval.expired"]);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &old,
            "--as",
            "alice",
            "--reason",
            "late",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is expired"), "{}", out.stderr);
}

#[test]
fn break_glass_is_loud_and_validated() {
    let d = TempDir::new().unwrap();
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "break-glass",
            "--as",
            "alice",
            "--reason",
            "prod is down",
            "--action",
            "write_file",
            "--target",
            "infra/**",
            "--ttl",
            "30m",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("BREAK-GLASS"), "{}", out.stdout);
    let out = cavra(d.path(), &["approvals", "list"]);
    assert!(out.stdout.contains("BREAK-GLASS"), "{}", out.stdout);
    let list = cavra(
        d.path(),
        &["approvals", "list", "--status", "break_glass", "--json"],
    )
    .json();
    let entry = &list.as_array().unwrap()[0];
    assert_eq!(entry["break_glass"], true);
    assert_eq!(entry["break_glass_reason"], "prod is down");
    assert_valid(&schema("approval.schema.json"), entry);
    let id = entry["id"].as_str().unwrap();
    assert_eq!(evidence_kinds(d.path()), ["approval.break_glass"]);
    let out = cavra(d.path(), &["approvals", "show", id]);
    assert!(out.stdout.contains("!! BREAK-GLASS"), "{}", out.stdout);

    // No scope, empty reason, bad ttl: refused.
    let out = cavra(
        d.path(),
        &["approvals", "break-glass", "--as", "alice", "--reason", "x"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("scope"), "{}", out.stderr);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "break-glass",
            "--as",
            "alice",
            "--reason",
            " ",
            "--request-hash",
            "h",
        ],
    );
    assert_eq!(out.code, 1);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "break-glass",
            "--as",
            "alice",
            "--reason",
            "x",
            "--request-hash",
            "h",
            "--ttl",
            "soon",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("duration"), "{}", out.stderr);
}

#[test]
fn rbac_and_routing_files() {
    let d = TempDir::new().unwrap();
    let cfg = d.path().join("approvals");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("rbac.yaml"),
        "groups:\n  Repository Owners:\n    members: [carol]\n    permissions: [approve, deny]\n",
    )
    .unwrap();
    let id = seed_pending(d.path(), "h", 1);
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "mallory",
            "--reason",
            "x",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("not allowed to approve"),
        "{}",
        out.stderr
    );
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "break-glass",
            "--as",
            "carol",
            "--reason",
            "x",
            "--request-hash",
            "h",
        ],
    );
    assert_eq!(out.code, 1, "carol has no break_glass permission");
    let out = cavra(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "carol",
            "--reason",
            "ok",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Malformed files: clear error naming the file, nothing changes.
    std::fs::write(cfg.join("rbac.yaml"), "groups: [unclosed\n").unwrap();
    let out = cavra(d.path(), &["approvals", "list"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("rbac.yaml"), "{}", out.stderr);
    std::fs::remove_file(cfg.join("rbac.yaml")).unwrap();
    std::fs::write(
        cfg.join("routing.yaml"),
        "routes:\n  - path: \"infra/**\"\n",
    )
    .unwrap();
    let out = cavra(d.path(), &["approvals", "list"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("routing.yaml") && out.stderr.contains("group"),
        "{}",
        out.stderr
    );
}

#[test]
fn corrupt_database_is_reported_and_left_untouched() {
    let d = TempDir::new().unwrap();
    let db = db_path(d.path());
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    for args in [
        vec!["approvals", "list"],
        vec!["approvals", "expire"],
        vec!["registry", "agents", "list"],
        vec!["sessions", "list"],
    ] {
        let out = cavra(d.path(), &args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(
            out.stderr.contains("corrupt") && out.stderr.contains("untouched"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
    assert!(!d.path().join("cavra.db-wal").exists());
}

#[test]
fn locked_database_waits_then_fails_clearly() {
    let d = TempDir::new().unwrap();
    let id = seed_pending(d.path(), "h", 1);
    let holder = rusqlite::Connection::open(db_path(d.path())).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let env = [("CAVRA_BUSY_TIMEOUT_MS", "300")];
    let out = cavra_env(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "alice",
            "--reason",
            "ok",
        ],
        &env,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("locked by another process"),
        "{}",
        out.stderr
    );
    // Reads still work under WAL while a writer holds the lock.
    let out = cavra_env(d.path(), &["approvals", "list", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let out = cavra_env(
        d.path(),
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "alice",
            "--reason",
            "ok",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn cavra_db_env_overrides_the_path() {
    let d = TempDir::new().unwrap();
    let other = d.path().join("elsewhere/x.db");
    let mut s = Store::open(&other).unwrap();
    let id = s.create_approval(request("h"), now()).unwrap().approval_id;
    let out = cavra_env(
        d.path(),
        &["approvals", "show", &id],
        &[("CAVRA_DB", other.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = cavra(d.path(), &["approvals", "show", &id]);
    assert_eq!(out.code, 1);
}
