//! Tests against a real PostgreSQL: the machine's (`127.0.0.1:5432`, trust auth, user
//! `postgres` or `root`, or the admin URL in `CAVRA_PG_URL`). Each test creates its own
//! database with a random name and drops it at the end, also when it fails. Without a
//! reachable server every test prints a line and passes; with `CAVRA_REQUIRE_PG=1` (CI)
//! it fails instead.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::approvals::{
    ApprovalState, ApproveOptions, BreakGlassQuery, NewApproval, NewBreakGlass,
};
use crate::approver::{ApproverKey, AuthMethod};
use crate::registry::{AgentStatus, McpServer, NewAgent};

#[path = "evidence_tests.rs"]
mod evidence;

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01T00:00:00Z
}

fn at(mins: i64) -> OffsetDateTime {
    t0() + time::Duration::minutes(mins)
}

fn test_key() -> &'static ApproverKey {
    static K: std::sync::OnceLock<ApproverKey> = std::sync::OnceLock::new();
    K.get_or_init(ApproverKey::generate)
}

fn signer() -> Signer {
    Signer {
        key: test_key().clone(),
        method: AuthMethod::Terminal,
        label: None,
    }
}

/// The admin connection strings tried, in order.
fn admin_urls() -> Vec<String> {
    match std::env::var("CAVRA_PG_URL") {
        Ok(u) if !u.trim().is_empty() => vec![u],
        _ => ["postgres", "root"]
            .iter()
            .map(|u| format!("host=127.0.0.1 port=5432 user={u} dbname=test connect_timeout=3"))
            .collect(),
    }
}

/// A database of its own for one test, dropped (with every connection to it) on drop.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    /// `None` (after a visible line) when PostgreSQL is not reachable, unless
    /// `CAVRA_REQUIRE_PG=1`.
    fn create(test: &str) -> Option<TestDb> {
        let mut last = String::new();
        for admin in admin_urls() {
            match postgres::Client::connect(&admin, postgres::NoTls) {
                Ok(mut c) => {
                    let name = format!(
                        "cavra_test_{}",
                        crate::approvals::new_id("db").unwrap().replace('-', "_")
                    );
                    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                    // a later `dbname=` wins (key=value connection strings only)
                    let url = format!("{admin} dbname={name}");
                    return Some(TestDb { admin, name, url });
                }
                Err(e) => last = format!("{admin}: {e}"),
            }
        }
        if std::env::var("CAVRA_REQUIRE_PG").is_ok_and(|v| v == "1") {
            panic!("CAVRA_REQUIRE_PG=1 but PostgreSQL is not reachable ({last})");
        }
        // written past the test harness's capture, so a skip is seen
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: PostgreSQL not reachable ({last}); set CAVRA_REQUIRE_PG=1 to fail instead"
        );
        None
    }

    /// A new "replica": its own pool, so its own connections.
    fn replica(&self) -> PgStore {
        PgStore::connect(&self.url)
            .unwrap()
            .with_signer(signer())
            .with_trust(test_key().trust())
    }

    fn admin_sql(&self, sql: &str) {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        c.batch_execute(sql).unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn req(hash: &str) -> NewApproval {
    NewApproval {
        request_hash: hash.into(),
        decision_id: "dec-1".into(),
        session_id: "sess-1".into(),
        agent_id: "claude-code".into(),
        action_type: "execute_command".into(),
        target: "terraform apply".into(),
        rule_id: "commands.default.require_approval".into(),
        severity: "high".into(),
        approver_group: "Platform".into(),
        requested_by: "claude-code".into(),
        repo: Some("acme/web".into()),
        ttl: Duration::from_secs(3600),
    }
}

#[test]
fn redacted_urls_name_no_password() {
    assert_eq!(
        redact_url("postgres://cavra:s3cret@db.internal:5432/cavra"),
        "postgres://cavra@db.internal:5432/cavra"
    );
    assert_eq!(
        redact_url("postgres://db.internal/cavra"),
        "postgres://db.internal/cavra"
    );
}

/// A server keeps one opener in its shared state and makes a store per request or thread.
#[test]
fn an_opener_is_shared_across_threads_and_a_store_moves_to_one() {
    fn shared<T: Send + Sync + Clone>() {}
    fn movable<T: Send>() {}
    shared::<PgOpener>();
    movable::<PgStore>();
}

#[cfg(feature = "sqlite")]
#[test]
fn the_migration_folders_are_in_step() {
    assert_eq!(PG_SCHEMA_VERSION, crate::SCHEMA_VERSION);
    // the same tables and columns, in PostgreSQL's types
    let sqlite = crate::db::embedded::migrations::runner();
    let pg = migrations::embedded::migrations::runner();
    assert_eq!(pg.get_migrations().len(), sqlite.get_migrations().len());
    let (pg, sqlite) = (by_version(&pg), by_version(&sqlite));
    for (pg, lite) in pg.iter().zip(sqlite) {
        let names = |sql: &str| -> Vec<String> {
            sql.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("seq ") && !l.starts_with("--"))
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        };
        assert_eq!((pg.version(), pg.name()), (lite.version(), lite.name()));
        assert_eq!(names(pg.sql().unwrap()), names(lite.sql().unwrap()));
    }
}

#[test]
fn migrations_run_once_under_the_lock_and_refuse_foreign_or_newer_schemas() {
    let Some(db) = TestDb::create("migrations") else {
        return;
    };
    // replicas starting at the same moment: one migrates, the others wait and find it done
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (url, b) = (db.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                PgStore::connect(&url).map(|s| s.schema_version().unwrap())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), PG_SCHEMA_VERSION);
    }
    // the history is refinery's: one row per migration, each applied once
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let rows: i64 = c
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, PG_SCHEMA_VERSION);
    // a newer cavra's database is refused, not touched
    db.admin_sql(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')",
    );
    let e = PgStore::connect(&db.url).unwrap_err();
    assert!(
        matches!(e, StoreError::SchemaTooNew { found: 99, .. }),
        "{e}"
    );
    // tables of another application: refused
    db.admin_sql("DROP TABLE refinery_schema_history");
    let e = PgStore::connect(&db.url).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
}

/// A database migrated by cavra's runner before refinery (`cavra_schema`, version 1 or 2)
/// is adopted: no row is lost, the missing migrations run, the old counter goes.
#[test]
fn a_database_of_the_earlier_runner_is_adopted_with_its_rows() {
    for version in [1_usize, 2] {
        let Some(db) = TestDb::create("adopt") else {
            return;
        };
        let runner = migrations::embedded::migrations::runner();
        let mut sql: String = by_version(&runner)[..version]
            .iter()
            .map(|m| m.sql().unwrap().to_string())
            .collect();
        sql.push_str(&format!(
            "CREATE TABLE cavra_schema (id INT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL); \
             INSERT INTO cavra_schema (id, version) VALUES (1, {version}); \
             INSERT INTO agents (agent_id, profile, status, created_at, updated_at) \
             VALUES ('codex', 'builder', 'approved', 1, 1);"
        ));
        db.admin_sql(&sql);
        for _ in 0..2 {
            let s = db.replica();
            assert_eq!(s.schema_version().unwrap(), PG_SCHEMA_VERSION, "v{version}");
            assert_eq!(s.list_agents().unwrap().len(), 1, "v{version}");
        }
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        let gone: bool = c
            .query_one("SELECT to_regclass('cavra_schema') IS NULL", &[])
            .unwrap()
            .get(0);
        assert!(gone, "v{version}");
        let rows: i64 = c
            .query_one("SELECT count(*) FROM refinery_schema_history", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, PG_SCHEMA_VERSION, "v{version}");
        // the later migrations ran: the v3 table is there
        let mut s = db.replica();
        crate::tokens::tests::token_lifecycle(&mut s, &|name| {
            postgres::Client::connect(&db.url, postgres::NoTls)
                .unwrap()
                .query_one(
                    "SELECT token_hash FROM api_tokens WHERE name = $1",
                    &[&name],
                )
                .unwrap()
                .get(0)
        });
    }
}

#[test]
fn an_unreachable_database_is_a_clear_open_error() {
    let opts = PgOptions {
        pool_size: 1,
        connect_timeout: Duration::from_secs(2),
    };
    let e = connect_pool("postgres://nobody:hunter2@127.0.0.1:1/none", &opts).unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}

#[test]
fn an_approval_made_on_one_replica_is_honoured_by_another_once() {
    let Some(db) = TestDb::create("approval_across_replicas") else {
        return;
    };
    let mut hook = db.replica();
    let mut console = db.replica();
    let a = hook.create_approval(req("h1"), t0()).unwrap();
    // the same request filed again (another replica) is the same record
    let again = console.create_approval(req("h1"), at(1)).unwrap();
    assert_eq!(again.approval_id, a.approval_id);
    assert!(hook
        .consume_approval("h1", "claude-code", at(1))
        .unwrap()
        .is_none());
    // self-approval refused, also across replicas
    let e = console
        .approve(
            &a.approval_id,
            "claude-code",
            "mine",
            at(2),
            ApproveOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::SelfApproval { .. }), "{e}");
    let ok = console
        .approve(
            &a.approval_id,
            "alice",
            "looks fine",
            at(2),
            ApproveOptions::default(),
        )
        .unwrap();
    assert_eq!(ok.state, ApprovalState::Approved);
    assert!(console.approval_verified(&ok));
    // honoured by the other replica, once
    let used = hook
        .consume_approval("h1", "claude-code", at(3))
        .unwrap()
        .unwrap();
    assert_eq!(used.uses, 1);
    assert!(hook
        .consume_approval("h1", "claude-code", at(4))
        .unwrap()
        .is_none());
    assert!(console
        .consume_approval("h1", "claude-code", at(4))
        .unwrap()
        .is_none());
    // another agent or request: never
    let b = hook.create_approval(req("h2"), at(5)).unwrap();
    console
        .approve(
            &b.approval_id,
            "alice",
            "ok",
            at(5),
            ApproveOptions { max_uses: Some(2) },
        )
        .unwrap();
    assert!(hook
        .consume_approval("h2", "codex", at(6))
        .unwrap()
        .is_none());
    // expiry: past its time nothing grants, and expire_due marks it (both records)
    assert!(hook
        .consume_approval("h2", "claude-code", at(66))
        .unwrap()
        .is_none());
    let expired = console.expire_due(at(66)).unwrap();
    assert_eq!(expired.len(), 2);
    assert!(expired.iter().all(|e| e.state == ApprovalState::Expired));
    assert!(console.expire_due(at(67)).unwrap().is_empty());
    assert_eq!(
        hook.approval(&b.approval_id).unwrap().state,
        ApprovalState::Expired
    );
}

#[test]
fn a_row_approved_by_other_means_is_not_honoured_and_reported_once() {
    let Some(db) = TestDb::create("forged_approval") else {
        return;
    };
    let mut s = db.replica();
    let a = s.create_approval(req("h1"), t0()).unwrap();
    db.admin_sql(&format!(
        "UPDATE approvals SET state = 'approved', decided_by = 'mallory', decided_at = 1 \
         WHERE approval_id = '{}'",
        a.approval_id
    ));
    assert!(s
        .consume_approval("h1", "claude-code", at(1))
        .unwrap()
        .is_none());
    let u = s.take_unverified();
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(u[0].id, a.approval_id);
    assert!(s.mark_tamper_reported(&u[0], at(1)).unwrap());
    // another replica does not report it again
    let mut other = db.replica();
    assert!(!other.mark_tamper_reported(&u[0], at(2)).unwrap());
    assert_eq!(other.audit_records().unwrap().len(), 1);
    // a record signed by a key the store does not trust does not count either
    let mut untrusted = PgStore::connect(&db.url).unwrap().with_signer(Signer {
        key: ApproverKey::generate(),
        method: AuthMethod::Terminal,
        label: None,
    });
    let b = untrusted.create_approval(req("h9"), t0()).unwrap();
    untrusted
        .approve(
            &b.approval_id,
            "alice",
            "ok",
            at(1),
            ApproveOptions::default(),
        )
        .unwrap();
    assert!(s
        .consume_approval("h9", "claude-code", at(2))
        .unwrap()
        .is_none());
}

#[test]
fn an_approval_is_consumed_exactly_once_when_replicas_race() {
    let Some(db) = TestDb::create("consume_race") else {
        return;
    };
    for (round, max_uses) in [(0, 1u32), (1, 1), (2, 3)] {
        let hash = format!("race-{round}");
        let mut console = db.replica();
        let a = console.create_approval(req(&hash), t0()).unwrap();
        console
            .approve(
                &a.approval_id,
                "alice",
                "ok",
                at(1),
                ApproveOptions {
                    max_uses: Some(max_uses),
                },
            )
            .unwrap();
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (mut s, b, h) = (db.replica(), barrier.clone(), hash.clone());
                std::thread::spawn(move || {
                    b.wait();
                    s.consume_approval(&h, "claude-code", at(2))
                        .unwrap()
                        .is_some()
                })
            })
            .collect();
        let won = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count();
        assert_eq!(won, max_uses as usize, "round {round}");
        assert_eq!(console.approval(&a.approval_id).unwrap().uses, max_uses);
    }
}

#[test]
fn a_session_hold_recorded_on_one_replica_is_seen_by_every_other() {
    let Some(db) = TestDb::create("session_hold") else {
        return;
    };
    let mut hook = db.replica();
    let mut console = db.replica();
    let s = hook
        .record_block("s1", "claude-code", "critical", t0())
        .unwrap();
    assert!(s.held);
    assert!(console.is_held("s1").unwrap());
    assert!(!console.is_held("s2").unwrap());
    let e = console
        .release("s1", "claude-code", "mine", at(1))
        .unwrap_err();
    assert!(matches!(e, StoreError::SelfRelease { .. }), "{e}");
    let r = console.release("s1", "alice", "checked", at(1)).unwrap();
    assert!(!r.held);
    assert!(!hook.is_held("s1").unwrap());
    // a release written by other means does not count
    hook.record_block("s1", "claude-code", "critical", at(2))
        .unwrap();
    db.admin_sql("UPDATE sessions SET held = FALSE, released_by = 'mallory', released_at = 999 WHERE session_id = 's1'");
    assert!(console.is_held("s1").unwrap());
    assert_eq!(console.take_unverified().len(), 1);
    // blocks counted concurrently from many replicas: the threshold holds the session once
    let policy = EscalationPolicy {
        max_blocks: 5,
        window: Duration::from_secs(600),
        hold_on_critical: true,
    };
    let barrier = Arc::new(Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let (mut s, b) = (db.replica().with_escalation(policy), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                s.record_block("s3", "codex", "medium", at(3))
                    .unwrap()
                    .transition
            })
        })
        .collect();
    let held = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|t| *t == Some(crate::sessions::SessionTransition::Held))
        .count();
    assert_eq!(held, 1);
    let s3 = console.session("s3").unwrap().unwrap();
    assert!(s3.held);
    assert_eq!(s3.total_blocks, 10);
    assert_eq!(console.list_sessions().unwrap().len(), 2);
}

#[test]
fn break_glass_on_one_replica_covers_requests_on_another() {
    let Some(db) = TestDb::create("break_glass") else {
        return;
    };
    let mut hook = db.replica();
    let mut console = db.replica();
    let pending = hook.create_approval(req("h1"), t0()).unwrap();
    let new = |identity: &str| NewBreakGlass {
        request_hash: Some("h1".into()),
        action_type: None,
        target: None,
        identity: identity.into(),
        reason: "prod is down".into(),
        ttl: Duration::from_secs(900),
        max_ttl: Duration::from_secs(3600),
    };
    let e = console.break_glass(new("claude-code"), at(1)).unwrap_err();
    assert!(matches!(e, StoreError::SelfApproval { .. }), "{e}");
    assert!(
        !hook.any_active_break_glass(at(1)).unwrap(),
        "none recorded yet"
    );
    let bg = console.break_glass(new("alice"), at(1)).unwrap();
    assert!(hook.any_active_break_glass(at(2)).unwrap());
    assert!(!hook.any_active_break_glass(at(20)).unwrap(), "expired");
    assert_eq!(bg.state, ApprovalState::BreakGlass);
    assert_eq!(bg.session_id, pending.session_id);
    assert!(!bg.single_use);
    let q = BreakGlassQuery {
        request_hash: Some("h1"),
        action_type: "execute_command",
        target: "terraform apply",
    };
    assert_eq!(
        hook.active_break_glass(&q, at(2))
            .unwrap()
            .map(|a| a.approval_id),
        Some(bg.approval_id.clone())
    );
    assert!(hook.active_break_glass(&q, at(20)).unwrap().is_none());
    hook.add_evidence_ref(&bg.approval_id, "evidence://s/d")
        .unwrap();
    hook.add_evidence_ref(&bg.approval_id, "evidence://s/d")
        .unwrap();
    assert_eq!(
        console.approval(&bg.approval_id).unwrap().evidence_refs,
        ["evidence://s/d"]
    );
}

#[test]
fn the_registries_round_trip() {
    let Some(db) = TestDb::create("registries") else {
        return;
    };
    let mut s = db.replica();
    let new = NewAgent {
        agent_id: "claude-code".into(),
        vendor: Some("anthropic".into()),
        kind: None,
        owner: Some(" ".into()),
        risk_tier: None,
        profile: "builder".into(),
        status: AgentStatus::Pending,
    };
    let a = s.add_agent(new.clone(), t0()).unwrap();
    assert_eq!(a.owner, None);
    let e = db.replica().add_agent(new, t0()).unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e}");
    let a = s
        .set_agent_status("claude-code", AgentStatus::Approved, at(1))
        .unwrap();
    assert_eq!(a.status, AgentStatus::Approved);
    assert_eq!(s.list_agents().unwrap().len(), 1);
    assert!(matches!(
        s.remove_agent("nope"),
        Err(StoreError::UnknownAgent(_))
    ));
    let file = crate::parse_mcp_registry(
        r#"{"mcp_servers": [
            {"server_id": "github", "trust_tier": "approved", "approval_state": "approved", "allowed_tools": ["search"], "owner": "platform"},
            {"server_id": "shell", "trust_tier": "restricted"}
        ]}"#,
        std::path::Path::new("r.json"),
    )
    .unwrap();
    assert_eq!(s.import_mcp_registry(&file, t0()).unwrap(), 2);
    let m = s
        .set_mcp_state("shell", "blocked", "blocked", at(1))
        .unwrap();
    assert!(m.is_blocked());
    let out = db.replica().export_mcp_registry().unwrap();
    let ids: Vec<_> = out
        .mcp_servers
        .iter()
        .map(|m| m.server_id.as_str())
        .collect();
    assert_eq!(ids, ["github", "shell"]);
    assert_eq!(out.mcp_servers[0].extra["owner"], "platform");
    let dup = McpServer {
        name: None,
        ..out.mcp_servers[0].clone()
    };
    let e = s.put_mcp_server(&dup, false, at(2)).unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e}");
    s.remove_mcp_server("github").unwrap();
    assert_eq!(s.list_mcp_servers().unwrap().len(), 1);
}

/// The same story told to the SQLite store and to the PostgreSQL store through the
/// backend traits gives the same records (ids and signatures aside).
#[cfg(feature = "sqlite")]
#[test]
fn both_backends_tell_the_same_story() {
    use crate::backend::TeamStore;

    /// Anything the story returns, as JSON.
    fn j<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }

    fn story(s: &mut dyn TeamStore) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        /// Ids are random per store: leave them out, wherever they are.
        fn without_ids(v: &mut serde_json::Value) {
            if let Some(o) = v.as_object_mut() {
                o.remove("approval_id");
                let bg = o.get("decision_id").and_then(|d| d.as_str());
                if bg.is_some_and(|d| d.starts_with("break-glass:")) {
                    o.remove("decision_id");
                }
            }
            if let Some(items) = v.as_array_mut() {
                items.iter_mut().for_each(without_ids);
            }
        }
        let mut push = |mut v: serde_json::Value| {
            without_ids(&mut v);
            out.push(v);
        };
        let a = s.create_approval(req("h1"), t0()).unwrap();
        push(j(&a));
        push(j(&s
            .approve(
                &a.approval_id,
                "alice",
                "ok",
                at(1),
                ApproveOptions { max_uses: Some(2) },
            )
            .unwrap()));
        push(j(&s.consume_approval("h1", "claude-code", at(2)).unwrap()));
        push(j(&s.consume_approval("h1", "claude-code", at(3)).unwrap()));
        push(j(&s.consume_approval("h1", "claude-code", at(4)).unwrap()));
        let b = s
            .create_approval(
                NewApproval {
                    session_id: "sess-2".into(),
                    ..req("h2")
                },
                at(5),
            )
            .unwrap();
        push(j(&s.deny(&b.approval_id, "bob", "no", at(6)).unwrap()));
        let e = s
            .approve(
                &b.approval_id,
                "bob",
                "yes",
                at(6),
                ApproveOptions::default(),
            )
            .unwrap_err();
        push(j(&e.to_string().replace(&b.approval_id, "<id>")));
        push(j(&s.expire_due(at(120)).unwrap()));
        for sev in ["low", "low", "critical", "low"] {
            push(j(&s.record_block("s1", "codex", sev, at(7)).unwrap()));
        }
        push(j(&s.release("s1", "alice", "fine", at(8)).unwrap()));
        push(j(&s.is_held("s1").unwrap()));
        push(j(&s
            .break_glass(
                NewBreakGlass {
                    request_hash: None,
                    action_type: Some("write_file".into()),
                    target: Some("infra/**".into()),
                    identity: "alice".into(),
                    reason: "incident".into(),
                    ttl: Duration::from_secs(600),
                    max_ttl: Duration::from_secs(3600),
                },
                at(9),
            )
            .unwrap()));
        push(j(&s.mcp_registry().unwrap()));
        out
    }

    let Some(db) = TestDb::create("parity") else {
        return;
    };
    let dir = tempfile::TempDir::new().unwrap();
    let mut lite = crate::Store::open(dir.path().join("cavra.db"))
        .unwrap()
        .with_signer(signer())
        .with_trust(test_key().trust());
    let mut pg = db.replica();
    let (a, b) = (story(&mut lite), story(&mut pg));
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "step {i}");
    }
    // the story is not empty: the approval was used twice, then refused
    assert_eq!(a[3]["uses"], 2);
    assert!(a[4].is_null());
}

/// The server's view: a team store opened through the opener (a trait object) issues,
/// authenticates and revokes API tokens as the SQLite store does.
#[test]
fn api_tokens_through_the_team_opener() {
    use crate::backend::TeamOpener;
    let Some(db) = TestDb::create("tokens") else {
        return;
    };
    let opener: std::sync::Arc<dyn TeamOpener + Send + Sync> =
        std::sync::Arc::new(PgOpener::connect(&db.url, &PgOptions::default(), None).unwrap());
    let mut s = opener.open_team(std::path::Path::new(".")).unwrap();
    crate::tokens::tests::token_lifecycle(&mut *s, &|name| {
        postgres::Client::connect(&db.url, postgres::NoTls)
            .unwrap()
            .query_one(
                "SELECT token_hash FROM api_tokens WHERE name = $1",
                &[&name],
            )
            .unwrap()
            .get(0)
    });
    crate::websessions::tests::web_session_lifecycle(&mut *s);
    // the same store object also answers the control and registry calls
    assert!(s.list_approvals(None, t0()).unwrap().is_empty());
    assert!(s.list_mcp_servers().unwrap().is_empty());
    assert_eq!(opener.describe(std::path::Path::new(".")), db.url);
}

#[test]
fn tool_pins_round_trip() {
    let Some(db) = TestDb::create("pins") else {
        return;
    };
    let mut s = db.replica();
    crate::pins::tests::pin_round_trip(&mut s);
}

/// The repository inventory in PostgreSQL, through the team opener as the server uses it.
#[test]
fn repository_inventory() {
    use crate::backend::TeamOpener;
    let Some(db) = TestDb::create("inventory") else {
        return;
    };
    let opener = PgOpener::connect(&db.url, &PgOptions::default(), None).unwrap();
    let s = opener.open_team(std::path::Path::new(".")).unwrap();
    crate::inventory::tests::inventory_lifecycle(&*s);
}

/// The connector deliveries in PostgreSQL, through the team opener as the server uses it.
#[test]
fn connector_deliveries() {
    use crate::backend::TeamOpener;
    let Some(db) = TestDb::create("deliveries") else {
        return;
    };
    let opener = PgOpener::connect(&db.url, &PgOptions::default(), None).unwrap();
    let s = opener.open_team(std::path::Path::new(".")).unwrap();
    crate::deliveries::tests::delivery_lifecycle(&*s);
}

/// Policy publishing with review in PostgreSQL, through the team opener as the server
/// uses it.
#[test]
fn policy_rollouts() {
    use crate::backend::TeamOpener;
    let Some(db) = TestDb::create("rollouts") else {
        return;
    };
    let opener = PgOpener::connect(&db.url, &PgOptions::default(), None).unwrap();
    let s = opener.open_team(std::path::Path::new(".")).unwrap();
    crate::rollouts::tests::rollout_lifecycle(&*s);
}

/// A runner's migrations by version (refinery lists embedded ones in file-name order:
/// `V10` before `V2`).
fn by_version(r: &refinery::Runner) -> Vec<&refinery::Migration> {
    let mut v: Vec<&refinery::Migration> = r.get_migrations().iter().collect();
    v.sort_by_key(|m| m.version());
    v
}
