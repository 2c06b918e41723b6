//! Two `cavra serve` replicas on one PostgreSQL database (the machine's, 127.0.0.1:5432,
//! trust auth, user root or postgres; a database created and dropped per test): an
//! approval requested through replica A and approved through replica B is honoured by a
//! decision on A; two replicas racing to consume one approval — exactly one wins; a
//! session hold set through one is seen by the other; tokens issued with `cavra tokens
//! --database` authenticate on both; both record into the one decision log in the
//! database, which streams across replicas, reads back on either and exports to a log
//! directory that verifies offline. Without PostgreSQL each test says SKIPPED and
//! passes; with CAVRA_REQUIRE_PG=1 it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "replica_common.rs"]
mod replica_common;
#[path = "store_common.rs"]
mod store_common;

use replica_common::Srv;
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use store_common::{approver_dir, cavra};

/// A database of its own for one test, dropped (with its connections) on drop.
struct TestDb {
    user: String,
    name: String,
}

fn psql(user: &str, db: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            &format!("host=127.0.0.1 port=5432 user={user} dbname={db} connect_timeout=3"),
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

impl TestDb {
    fn create(test: &str) -> Option<TestDb> {
        let name = format!(
            "cavra_srv_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let mut last = String::new();
        for user in ["root", "postgres"] {
            match psql(user, "postgres", &format!("CREATE DATABASE {name}")) {
                Ok(()) => {
                    return Some(TestDb {
                        user: user.into(),
                        name,
                    })
                }
                Err(e) => last = format!("user {user}: {e}"),
            }
        }
        if std::env::var("CAVRA_REQUIRE_PG").is_ok_and(|v| v == "1") {
            panic!("CAVRA_REQUIRE_PG=1 but PostgreSQL is not reachable ({last})");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: PostgreSQL not reachable ({last}); set CAVRA_REQUIRE_PG=1 to fail instead"
        );
        None
    }

    fn url(&self) -> String {
        format!("postgres://{}@127.0.0.1:5432/{}", self.user, self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = psql(
            &self.user,
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Two replicas on `db`, signing with one approver key (the key of replica A's directory,
/// which also authenticates `cavra tokens`), and the tokens bot (agent), alice (admin),
/// bob (approver).
struct Pair {
    a: Srv,
    b: Srv,
    bot: String,
    alice: String,
    bob: String,
    /// The working directory the requests name (the same on both replicas).
    cwd: PathBuf,
    _tmp: tempfile::TempDir,
}

fn token(dir: &Path, url: &str, name: &str, role: &str) -> String {
    let o = cavra(
        dir,
        &[
            "--json",
            "tokens",
            "issue",
            "--database",
            url,
            "--name",
            name,
            "--role",
            role,
        ],
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    o.json()["token"].as_str().unwrap().to_string()
}

/// `extra`: more `cavra serve` flags for both replicas.
fn pair(db: &TestDb, extra: &[&str]) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let (ra, rb) = (tmp.path().join("a"), tmp.path().join("b"));
    let approver = approver_dir(&ra.join("state"));
    let url = db.url();
    let mut args = vec!["--non-interactive", "--database", url.as_str()];
    args.extend_from_slice(extra);
    // issued before the replicas start: `cavra tokens` migrates the database too
    std::fs::create_dir_all(ra.join("state")).unwrap();
    let bot = token(&ra.join("state"), &url, "bot", "agent");
    let a = Srv::start_in(&ra, &approver, &args, &[]);
    let b = Srv::start_in(&rb, &approver, &args, &[]);
    let alice = token(&a.dir, &url, "alice", "admin");
    let bob = token(&a.dir, &url, "bob", "approver");
    let cwd = tmp.path().join("work");
    std::fs::create_dir_all(&cwd).unwrap();
    Pair {
        a,
        b,
        bot,
        alice,
        bob,
        cwd,
        _tmp: tmp,
    }
}

impl Pair {
    fn request(&self, target: &str, session: &str) -> Value {
        json!({"action_type": "write_file", "target": target, "cwd": self.cwd.display().to_string(),
            "agent_id": "ci-agent", "session_id": session})
    }
}

fn decide(s: &Srv, token: &str, req: &Value) -> Value {
    let (st, v) = s.post("/v1/decisions", Some(token), req);
    assert_eq!(st, 200, "{v}");
    v
}

#[test]
fn an_approval_made_on_one_replica_is_honoured_by_another() {
    let Some(db) = TestDb::create("an_approval_made_on_one_replica_is_honoured_by_another") else {
        return;
    };
    let p = pair(&db, &[]);
    let (_, v) = p.a.get("/console/config", None);
    assert_eq!(v["backends"]["database"]["kind"], "postgres", "{v}");
    assert!(!v["backends"]["database"]["location"]
        .as_str()
        .unwrap()
        .contains("password"));

    // tokens live in the database: every replica authenticates them
    for s in [&p.a, &p.b] {
        let (st, _) = s.get("/v1/approvals", Some(&p.bob));
        assert_eq!(st, 200);
    }
    let req = p.request("/work/elsewhere/pg-1.txt", "pg1");
    let v = decide(&p.a, &p.alice, &req);
    assert_eq!(v["decision"], "require_approval", "{v}");
    let id = v["approval_id"].as_str().unwrap().to_string();
    // B lists what A filed; the requester cannot approve it on either
    let (st, list) = p.b.get("/v1/approvals?status=pending", Some(&p.bob));
    assert_eq!(st, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str()),
        "{list}"
    );
    let path = format!("/v1/approvals/{id}/approve");
    let (st, _) = p.b.post(&path, Some(&p.alice), &json!({"reason": "mine"}));
    assert_eq!(st, 403);
    let (st, v) =
        p.b.post(&path, Some(&p.bob), &json!({"reason": "reviewed"}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["decided_by"], "bob");
    // A sees the signature verify, and honours the approval once
    let (_, one) = p.a.get(&format!("/v1/approvals/{id}"), Some(&p.bob));
    assert_eq!(one["signature_verified"], true, "{one}");
    let v = decide(&p.a, &p.bot, &req);
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["rule_ids"][0], "approval.granted");
    let v = decide(&p.b, &p.bot, &req);
    assert_eq!(v["decision"], "require_approval", "used once: {v}");

    // a row approved in the database behind the servers' backs allows nothing
    let v = decide(
        &p.a,
        &p.bot,
        &p.request("/work/elsewhere/pg-forged.txt", "pg1"),
    );
    let forged = v["approval_id"].as_str().unwrap().to_string();
    psql(
        &db.user,
        &db.name,
        &format!(
            "UPDATE approvals SET state = 'approved', decided_by = 'mallory', decided_at = requested_at \
             WHERE approval_id = '{forged}'"
        ),
    )
    .unwrap();
    let (_, one) = p.b.get(&format!("/v1/approvals/{forged}"), Some(&p.bob));
    assert_eq!(
        (one["state"].as_str(), one["signature_verified"].as_bool()),
        (Some("approved"), Some(false)),
        "{one}"
    );
    let v = decide(
        &p.b,
        &p.bot,
        &p.request("/work/elsewhere/pg-forged.txt", "pg1"),
    );
    assert_ne!(v["decision"], "allow", "{v}");
}

#[test]
fn two_replicas_racing_for_one_approval_consume_it_once() {
    let Some(db) = TestDb::create("two_replicas_racing_for_one_approval_consume_it_once") else {
        return;
    };
    let p = pair(&db, &[]);
    for round in 0..3 {
        let req = p.request(&format!("/work/elsewhere/race-{round}.txt"), "race");
        let v = decide(&p.a, &p.alice, &req);
        let id = v["approval_id"].as_str().unwrap().to_string();
        let (st, v) = p.b.post(
            &format!("/v1/approvals/{id}/approve"),
            Some(&p.bob),
            &json!({"reason": "once"}),
        );
        assert_eq!(st, 200, "{v}");
        let barrier = std::sync::Barrier::new(4);
        let answers: Vec<Value> = std::thread::scope(|sc| {
            let hs: Vec<_> = [&p.a, &p.b, &p.a, &p.b]
                .into_iter()
                .map(|s| {
                    let (req, bot, barrier) = (&req, &p.bot, &barrier);
                    sc.spawn(move || {
                        barrier.wait();
                        decide(s, bot, req)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let allowed = answers.iter().filter(|v| v["decision"] == "allow").count();
        assert_eq!(allowed, 1, "round {round}: {answers:?}");
    }
}

#[test]
fn a_session_hold_set_through_one_replica_is_seen_by_the_other() {
    let Some(db) = TestDb::create("a_session_hold_set_through_one_replica_is_seen_by_the_other")
    else {
        return;
    };
    // the strict pack escalates: 5 blocked attempts (or one critical) hold the session
    let p = pair(&db, &["--pack", "cavra-strict"]);
    let cwd = p.cwd.display().to_string();
    let ok = json!({"action_type": "execute_command", "target": "ls -la", "cwd": cwd,
        "agent_id": "ci-agent", "session_id": "held-1"});
    assert_eq!(decide(&p.b, &p.bot, &ok)["decision"], "allow");
    // blocked attempts on A until the session is held (a critical one holds at once)
    let bad = json!({"action_type": "execute_command", "target": "rm -rf /", "cwd": cwd,
        "agent_id": "ci-agent", "session_id": "held-1"});
    for _ in 0..5 {
        assert_eq!(decide(&p.a, &p.bot, &bad)["decision"], "block");
    }
    let v = decide(&p.b, &p.bot, &ok);
    assert_eq!(v["decision"], "require_approval", "held on B too: {v}");
    assert!(v.to_string().contains("session.held"), "{v}");
    // another session is not held
    let other = json!({"action_type": "execute_command", "target": "ls -la", "cwd": cwd,
        "agent_id": "ci-agent", "session_id": "held-2"});
    assert_eq!(decide(&p.b, &p.bot, &other)["decision"], "allow");
}

/// `cavra evidence verify PATH [--trust-root T] [extra…]` in `dir`.
fn verify(dir: &Path, path: &Path, trust: Option<&Path>, extra: &[&str]) -> store_common::Out {
    let mut args = vec!["evidence", "verify", path.to_str().unwrap()];
    if let Some(t) = trust {
        args.extend(["--trust-root", t.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    cavra(dir, &args)
}

/// `cavra --json evidence export --format log --database URL --output OUT` in `dir`.
fn export(dir: &Path, url: &str, out: &Path) -> store_common::Out {
    let args = [
        "--json",
        "evidence",
        "export",
        "--format",
        "log",
        "--database",
        url,
    ];
    cavra(
        dir,
        &[&args[..], &["--output", out.to_str().unwrap()]].concat(),
    )
}

/// `cavra keys export-public` of both replicas' CAVRA directories as one trust root.
fn replicas_trust_root(p: &Pair, out: &Path) {
    let mut keys = Vec::new();
    for s in [&p.a, &p.b] {
        let o = cavra(&s.dir, &["keys", "export-public"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let tr: Value = serde_json::from_str(&o.stdout).unwrap();
        keys.extend(tr["keys"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(keys.len(), 2, "one key per replica");
    std::fs::write(out, json!({"version": 1, "keys": keys}).to_string()).unwrap();
}

#[test]
fn both_replicas_record_into_one_log_that_streams_exports_and_verifies() {
    let Some(db) = TestDb::create("both_replicas_record_into_one_log") else {
        return;
    };
    let p = pair(&db, &[]);
    let client: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let resp = client
        .get(p.a.url("/v1/decisions/stream"))
        .header("authorization", format!("Bearer {}", p.bob))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(resp.into_body().into_reader()).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let read = |i: usize| {
        json!({"action_type": "read_file", "target": format!("/work/elsewhere/r{i}.txt"),
            "cwd": p.cwd.display().to_string(), "agent_id": "ci-agent", "session_id": "ev"})
    };
    // decisions on B appear on A's stream (its subscription may lag its headers a moment)
    let mut on_b = Vec::new();
    let mut streamed = None;
    for i in 0..20 {
        let v = decide(&p.b, &p.bot, &read(i));
        on_b.push(v["evidence_record"].as_str().unwrap().to_string());
        if let Ok(mut line) = lines.recv_timeout(std::time::Duration::from_millis(500)) {
            while !line.starts_with("id:") {
                line = lines
                    .recv_timeout(std::time::Duration::from_secs(10))
                    .unwrap();
            }
            streamed = Some(line.trim_start_matches("id:").trim().to_string());
            break;
        }
    }
    let streamed = streamed.expect("A streamed a decision made on B");
    assert!(on_b.contains(&streamed), "{streamed} not among {on_b:?}");
    let mut on_a = Vec::new();
    for i in 0..4 {
        let v = decide(&p.a, &p.bot, &read(100 + i));
        on_a.push((
            v["evidence_record"].as_str().unwrap().to_string(),
            v["decision_id"].as_str().unwrap().to_string(),
        ));
    }
    // A's own decisions reach its stream once each (from the notifications only)
    let mut ids = Vec::new();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while on_a.iter().any(|(r, _)| !ids.contains(r)) && std::time::Instant::now() < until {
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(200)) {
            if let Some(id) = line.strip_prefix("id:") {
                ids.push(id.trim().to_string());
            }
        }
    }
    while let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(700)) {
        if let Some(id) = line.strip_prefix("id:") {
            ids.push(id.trim().to_string());
        }
    }
    for (r, _) in &on_a {
        assert_eq!(ids.iter().filter(|i| *i == r).count(), 1, "{r} in {ids:?}");
    }
    // group commit is visible: appends and batches
    let (_, m) = p.b.get("/metrics", None);
    let m = m.as_str().unwrap_or_default().to_string();
    let gauge = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{m}"))
    };
    let batches = gauge("cavra_evidence_batches ");
    assert!(
        batches >= 1 && batches <= gauge("cavra_evidence_appends_total "),
        "{m}"
    );
    let (_, v) = p.b.get("/console/config", None);
    assert_eq!(v["backends"]["evidence"]["kind"], "postgres", "{v}");
    // every replica reads every replica's records
    let (rid, did) = &on_a[0];
    let (st, hit) = p.b.get(&format!("/v1/decisions/{did}"), Some(&p.bob));
    assert_eq!(st, 200, "{hit}");
    assert_eq!(hit["record_id"], rid.as_str());
    let (st, page) = p.b.get("/v1/decisions?session=ev&limit=500", Some(&p.bob));
    assert_eq!(st, 200, "{page}");
    let total = (on_a.len() + on_b.len()) as u64;
    assert_eq!(page["total"].as_u64(), Some(total), "{page}");
    assert_eq!(
        page["hits"][0]["record_id"],
        on_a[3].0.as_str(),
        "newest first: {page}"
    );
    let (st, rec) =
        p.b.get(&format!("/v1/evidence/records/{rid}"), Some(&p.bob));
    assert_eq!(
        (st, rec["record_id"].as_str()),
        (200, Some(rid.as_str())),
        "{rec}"
    );
    let (st, rec) =
        p.a.get(&format!("/v1/evidence/records/{}", on_b[0]), Some(&p.bob));
    assert_eq!(st, 200, "{rec}");
    let (st, _) =
        p.a.get("/v1/evidence/records/ev-000000999999-none", Some(&p.bob));
    assert_eq!(st, 404);
    let (st, rep) = p.a.get("/v1/evidence/verify?full=true", Some(&p.bob));
    assert_eq!((st, rep["ok"].as_bool()), (200, Some(true)), "{rep}");
    let n = (on_a.len() + on_b.len()) as u64;
    assert!(rep["records"].as_u64().unwrap() >= n, "{rep}");
    let (st, proof) =
        p.b.get(&format!("/v1/evidence/records/{rid}/proof"), Some(&p.bob));
    assert_eq!(st, 200, "{proof}");
    // replays, SIEM exports and bundles come from the same log
    let (st, rp) = p.a.post(
        "/v1/policies/replay",
        Some(&p.bob),
        &json!({"pack": "cavra-strict", "session": "ev"}),
    );
    assert_eq!((st, rp["records"].as_u64()), (200, Some(n)), "{rp}");
    assert!(
        rp["log"].as_str().unwrap().starts_with("postgres://"),
        "{rp}"
    );
    let (st, text) =
        p.a.get("/v1/evidence/export?format=jsonl&session=ev", Some(&p.bob));
    assert_eq!(st, 200);
    assert_eq!(
        text.as_str().map(|t| t.lines().count() as u64),
        Some(n),
        "{text}"
    );
    let mut zip = client
        .post(p.b.url("/v1/evidence/bundles"))
        .header("authorization", format!("Bearer {}", p.bob))
        .content_type("application/json")
        .send(json!({"session": "ev"}).to_string())
        .unwrap();
    assert_eq!(zip.status().as_u16(), 200);
    let bundle = p._tmp.path().join("ev.zip");
    std::fs::write(&bundle, zip.body_mut().read_to_vec().unwrap()).unwrap();

    // the export verifies offline against the replicas' keys, not against one replica's
    let out = p._tmp.path().join("export");
    let url = db.url();
    let o = export(&p.a.dir, &url, &out);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.json()["records"], rep["records"], "{}", o.stdout);
    let trust = p._tmp.path().join("replicas.json");
    replicas_trust_root(&p, &trust);
    let o = verify(&p.a.dir, &out, Some(trust.as_path()), &[]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert!(o.stdout.starts_with("OK: log "), "{}", o.stdout);
    let o = verify(&p.a.dir, &out, None, &[]);
    assert_eq!(
        o.code, 1,
        "A's key directory alone does not know B's key: {}",
        o.stdout
    );
    assert!(
        o.stdout.contains("untrusted_key") || o.stdout.contains("is not in the"),
        "{}",
        o.stdout
    );
    // the HTTP proof and one made from the export verify offline
    let pf = p._tmp.path().join("proof.json");
    std::fs::write(&pf, proof.to_string()).unwrap();
    let o = verify(&p.a.dir, &pf, Some(trust.as_path()), &[]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let pf2 = p._tmp.path().join("proof2.json");
    let o = store_common::cavra_env(
        &p.b.dir,
        &[
            "evidence",
            "prove",
            &on_b[0],
            "--output",
            pf2.to_str().unwrap(),
        ],
        &[("CAVRA_EVIDENCE_DIR", out.to_str().unwrap())],
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let o = verify(&p.a.dir, &pf2, Some(trust.as_path()), &[]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let o = verify(&p.a.dir, &bundle, Some(trust.as_path()), &[]);
    assert_eq!(o.code, 0, "the bundle: {} {}", o.stdout, o.stderr);
    // an export needs a database and a directory; never over an existing log
    let o = export(&p.a.dir, &url, &out);
    assert_ne!(o.code, 0);
    let said = format!("{}{}", o.stdout, o.stderr);
    assert!(said.contains("already holds a log"), "{said}");
    let o = cavra(
        &p.a.dir,
        &["evidence", "export", "--format", "log", "--output", "x"],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("--database"), "{}", o.stderr);
}

#[test]
fn a_replica_killed_while_deciding_loses_no_answered_decision_and_breaks_no_chain() {
    let Some(db) = TestDb::create("a_replica_killed_while_deciding") else {
        return;
    };
    let mut p = pair(&db, &[]);
    let url = p.b.url("/v1/decisions");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let answered: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let (url, bot, cwd, stop) = (&url, &p.bot, p.cwd.display().to_string(), &stop);
                sc.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(std::time::Duration::from_secs(20)))
                        .build()
                        .into();
                    let mut ids = Vec::new();
                    for i in 0.. {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) && i > 0 {
                            break;
                        }
                        let body = json!({"action_type": "read_file", "cwd": cwd,
                            "target": format!("/work/elsewhere/k{t}-{i}.txt"),
                            "agent_id": "ci-agent", "session_id": "killed"});
                        let r = agent
                            .post(url)
                            .header("Authorization", &format!("Bearer {bot}"))
                            .content_type("application/json")
                            .send(body.to_string());
                        let Ok(mut r) = r else { break };
                        if r.status().as_u16() != 200 {
                            break;
                        }
                        let v: Value = r.body_mut().read_json().unwrap();
                        ids.push(v["evidence_record"].as_str().unwrap().to_string());
                    }
                    ids
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(700));
        p.b.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answered.len() > 4,
        "B answered while alive: {}",
        answered.len()
    );
    // A goes on recording into the same chain
    for i in 0..3 {
        let v = decide(
            &p.a,
            &p.bot,
            &json!({"action_type": "read_file", "cwd": p.cwd.display().to_string(),
            "target": format!("/work/elsewhere/after-{i}.txt"), "agent_id": "ci-agent", "session_id": "killed"}),
        );
        assert_eq!(v["decision"], "allow", "{v}");
    }
    let out = p._tmp.path().join("after-kill");
    let o = export(&p.a.dir, &db.url(), &out);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let trust = p._tmp.path().join("replicas.json");
    replicas_trust_root(&p, &trust);
    let o = verify(&p.a.dir, &out, Some(&trust), &["--full"]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    let recs = cavra_evidence::read_records(&out).unwrap();
    let ids: std::collections::BTreeSet<&str> = recs.iter().map(|r| r.record_id.as_str()).collect();
    for a in &answered {
        assert!(ids.contains(a.as_str()), "answered {a} is not in the log");
    }
}

/// Policy publishing across replicas: a version drafted on one replica, approved on the
/// other, assigned to a label on the first, decides on both for that repository only, and
/// a rollback through either restores the old decision on both (the replicas share the
/// server's pack key, as docs/rollout.md says they must).
#[test]
fn a_policy_version_published_through_one_replica_decides_on_both() {
    const V1: &str = "metadata: {id: cavra-acme, title: Acme floor, version: \"1\"}\nrules:\n  - id: acme.no_figlet\n    effect: block\n    severity: high\n    reason: no figlet here\n    match:\n      command: {program: [figlet]}\n";
    const V2: &str = "metadata: {id: cavra-acme, title: Acme floor, version: \"2\"}\nrules: []\n";
    let Some(db) = TestDb::create("policy_rollouts") else {
        return;
    };
    let p = pair(&db, &[]);
    // one pack key for both replicas: created by A, copied to B
    let (st, _) = p.a.get("/v1/sync/pack", Some(&p.bot));
    assert_eq!(st, 200);
    std::fs::create_dir_all(p.b.dir.join("server")).unwrap();
    for f in ["pack.key", "pack.key.pub"] {
        let from = p.a.dir.join("server").join(f);
        if from.exists() {
            std::fs::copy(&from, p.b.dir.join("server").join(f)).unwrap();
        }
    }
    let prod = p.cwd.join("pay");
    let dev = p.cwd.join("web");
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::create_dir_all(&dev).unwrap();
    let (st, r) = p.a.post(
        "/v1/repositories",
        Some(&p.alice),
        &json!({"path": prod, "labels": ["prod"]}),
    );
    assert_eq!(st, 200, "{r}");
    let figlet = |cwd: &Path| {
        json!({"action_type": "execute_command", "target": "figlet hi", "cwd": cwd,
            "repo_root": cwd, "agent_id": "ci-agent", "session_id": "s-roll"})
    };
    let publish = |src: &str| {
        let (st, v) = p.a.post(
            "/v1/policies/drafts",
            Some(&p.alice),
            &json!({"source": src}),
        );
        assert_eq!(st, 200, "{v}");
        let id = v["id"].as_str().unwrap().to_string();
        let (st, v) = p.b.post(
            &format!("/v1/rollouts/{id}/approve"),
            Some(&p.bob),
            &json!({}),
        );
        assert_eq!(st, 200, "{v}");
        let (st, v) = p.a.post(
            &format!("/v1/rollouts/{id}/assign"),
            Some(&p.alice),
            &json!({"labels": ["prod"]}),
        );
        assert_eq!(st, 200, "{v}");
        id
    };
    let v1 = publish(V1);
    for s in [&p.a, &p.b] {
        assert_eq!(decide(s, &p.bot, &figlet(&prod))["decision"], "block");
        assert_eq!(decide(s, &p.bot, &figlet(&dev))["decision"], "allow");
    }
    let v2 = publish(V2);
    for s in [&p.a, &p.b] {
        assert_eq!(decide(s, &p.bot, &figlet(&prod))["decision"], "allow");
    }
    let (st, v) =
        p.b.post("/v1/rollouts/rollback", Some(&p.alice), &json!({"to": v1}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rolled_back"], json!([v2]), "{v}");
    for s in [&p.a, &p.b] {
        assert_eq!(decide(s, &p.bot, &figlet(&prod))["decision"], "block");
    }
    let (_, h) = p.a.get(&format!("/v1/rollouts/{v1}"), Some(&p.bob));
    let steps: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["drafted", "approved", "assigned", "restored"],
        "{h}"
    );
}

/// Each replica caches the tokens it looked up; `cavra tokens revoke --database` (which
/// `NOTIFY`s the replicas in its transaction) ends that on both: after requests that
/// cached the token on both replicas, each answers 401 — waited for in a bounded loop, as
/// the notification reaches each replica on its own — while another token keeps working.
#[test]
fn a_token_revoked_in_the_database_is_refused_by_both_replicas() {
    let Some(db) = TestDb::create("a_token_revoked_in_the_database_is_refused_by_both_replicas")
    else {
        return;
    };
    let p = pair(&db, &[]);
    let url = db.url();
    let carl = token(&p.a.dir, &url, "carl", "agent");
    let req = p.request("notes.md", "tokens-1");
    for _ in 0..3 {
        for s in [&p.a, &p.b] {
            decide(s, &carl, &req);
            decide(s, &p.bot, &req);
        }
    }
    let id = carl.split('.').nth(2).unwrap();
    let o = cavra(&p.a.dir, &["tokens", "revoke", "--database", &url, id]);
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    for s in [&p.b, &p.a] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (st, v) = s.post("/v1/decisions", Some(&carl), &req);
            if st == 401 {
                break;
            }
            assert_eq!(st, 200, "{v}");
            assert!(
                std::time::Instant::now() < deadline,
                "{}: the revoked token is still accepted 30 s later",
                s.url("")
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        decide(s, &p.bot, &req);
        let (st, _) = s.post("/v1/decisions", Some(&carl), &req);
        assert_eq!(st, 401, "and stays refused");
    }
}

/// Each replica caches the agents its decisions ask the registry for; an agent registered
/// through replica A (which `NOTIFY`s `cavra_lookups` in its transaction; that the
/// notification is sent is tested in cavra-store) decides the next decisions of both
/// replicas — waited for in a bounded loop, as the notification reaches each replica on
/// its own — and a block through replica B then blocks its reads on both.
#[test]
fn an_agent_registered_or_blocked_through_one_replica_decides_on_both() {
    let Some(db) = TestDb::create("an_agent_registered_or_blocked_through_one_replica") else {
        return;
    };
    let p = pair(&db, &[]);
    let write = p.request("notes.md", "registry-1");
    let mut read = write.clone();
    read["action_type"] = json!("read_file");
    for _ in 0..3 {
        for s in [&p.a, &p.b] {
            assert_eq!(decide(s, &p.bot, &write)["decision"], "allow");
        }
    }
    let until = |s: &Srv, req: &Value, rule: &str| {
        let v = decide_until(s, &p.bot, || req.clone(), "allow", |v| v["rule_id"] == rule);
        assert_eq!(v["decision"], "block", "{v}");
    };
    let new = json!({"agent_id": "ci-agent", "profile": "read-only-reviewer"});
    let (st, v) = p.a.post("/v1/registry/agents", Some(&p.alice), &new);
    assert_eq!(st, 200, "{v}");
    for s in [&p.b, &p.a] {
        until(s, &write, "registry.agent.profile");
        assert_eq!(decide(s, &p.bot, &read)["decision"], "allow");
    }
    let block = json!({"reason": "compromised"});
    let (st, v) =
        p.b.post("/v1/registry/agents/ci-agent/block", Some(&p.alice), &block);
    assert_eq!(st, 200, "{v}");
    for s in [&p.a, &p.b] {
        until(s, &read, "registry.agent.blocked");
    }
}

/// A break-glass override recorded through one replica covers the next decisions on the
/// other, which had just decided a block (and so knew — and cached — that no override
/// was active): its lookup cache hears `NOTIFY cavra_lookups` from the override's
/// transaction.
#[test]
fn a_break_glass_recorded_through_one_replica_covers_decisions_on_the_other() {
    let Some(db) = TestDb::create("a_break_glass_recorded_through_one_replica") else {
        return;
    };
    let p = pair(&db, &[]);
    let req = |session: &str| {
        json!({"action_type": "execute_command", "target": "terraform destroy -auto-approve",
            "cwd": p.cwd.display().to_string(), "agent_id": "ci-agent", "session_id": session,
            "policy_pack": "strict"})
    };
    for s in [&p.a, &p.b] {
        let v = decide(s, &p.bot, &req("bg-before"));
        assert_eq!(v["decision"], "block", "{v}");
    }
    let bg = json!({"reason": "incident 42", "action_type": "execute_command",
        "target": "terraform destroy*", "ttl": "30m"});
    let (st, v) = p.a.post("/v1/break-glass", Some(&p.alice), &bg);
    assert_eq!(st, 200, "{v}");
    for (i, s) in [&p.b, &p.a].into_iter().enumerate() {
        let session = format!("bg-after-{i}");
        decide_until(
            s,
            &p.bot,
            || req(&session),
            "block",
            |v| v["decision"] == "break_glass",
        );
    }
}

/// Decides `req()` on `s` until `done` says the answer shows the change a replica must see
/// (at most 30 s: the replica hears of it, or its cache's 1 s backstop passes); until then
/// every answer is `before`. Returns the first answer that shows it.
fn decide_until(
    s: &Srv,
    token: &str,
    req: impl Fn() -> Value,
    before: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = decide(s, token, &req());
        if done(&v) {
            return v;
        }
        assert_eq!(v["decision"], before, "{v}");
        assert!(
            std::time::Instant::now() < deadline,
            "{}: the change is still not seen 30 s later: {v}",
            s.url("")
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
