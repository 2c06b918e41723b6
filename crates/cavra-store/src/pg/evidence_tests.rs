//! The decision log in PostgreSQL against a real server (see the parent module): replicas
//! writing concurrently keep one chain that exports and verifies; a writer losing its
//! connection mid-batch fails only that batch; a changed row is caught by the verifier;
//! the listener delivers every record once.

use std::collections::BTreeSet;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use cavra_evidence::keys::{Keyring, SigningKey, SigningMode, TrustRoot};
use cavra_evidence::{read_records, verify_log, VerifyOptions, VerifyReport};
use serde_json::json;

use super::{PgStore, TestDb};
use crate::pg::evidence::{self as ev, PgEvidenceLog, WriterConfig};
use crate::SearchQuery;

fn writer(db: &TestDb, key: &Arc<SigningKey>, every: u64) -> PgEvidenceLog {
    let cfg = WriterConfig::new(&db.url, every).unwrap();
    PgEvidenceLog::start(cfg, Arc::clone(key)).unwrap()
}

/// A migrated database and two replicas' keys.
fn setup(test: &str) -> Option<(TestDb, Arc<SigningKey>, Arc<SigningKey>)> {
    let db = TestDb::create(test)?;
    PgStore::connect(&db.url).unwrap();
    Some((
        db,
        Arc::new(SigningKey::generate(SigningMode::Ed25519)),
        Arc::new(SigningKey::generate(SigningMode::Ed25519)),
    ))
}

fn ring(keys: &[&SigningKey]) -> Keyring {
    let mut r = Keyring::new("the test's keys");
    for k in keys {
        r.insert(k.verifying_key());
    }
    r
}

fn client(db: &TestDb) -> postgres::Client {
    postgres::Client::connect(&db.url, postgres::NoTls).unwrap()
}

fn export_and_verify(db: &TestDb, keys: &Keyring, full: bool) -> (tempfile::TempDir, VerifyReport) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("log");
    ev::export_log(&mut client(db), &out, 4096).unwrap();
    let rep = verify_log(
        &out,
        VerifyOptions {
            keyring: keys,
            full_signatures: full,
            progress: None,
        },
    )
    .unwrap();
    (d, rep)
}

#[test]
fn replicas_appending_concurrently_keep_one_chain_that_exports_and_verifies() {
    let Some((db, ka, kb)) = setup("evidence_concurrent") else {
        return;
    };
    let (wa, wb) = (writer(&db, &ka, 16), writer(&db, &kb, 16));
    const THREADS: usize = 4;
    const EACH: usize = 60;
    let appended: Vec<cavra_evidence::Appended> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2 * THREADS)
            .map(|t| {
                let w = if t % 2 == 0 { wa.clone() } else { wb.clone() };
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let body = json!({"t": t, "i": i, "session_id": format!("s{t}"),
                                "decision_id": format!("dec-{t}-{i}"), "cavra_decision": "allow",
                                "rule_ids": ["any", format!("r{t}")],
                                "token": "hunter2"});
                            w.append("decision", &body).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let n = 2 * THREADS * EACH;
    let seqs: BTreeSet<u64> = appended.iter().map(|a| a.seq).collect();
    assert_eq!(seqs.len(), n, "every append got its own seq");
    assert_eq!(
        seqs.iter().copied().collect::<Vec<_>>(),
        (0..n as u64).collect::<Vec<_>>()
    );
    // group commit: concurrent appends shared transactions
    let batches = wa.batches() + wb.batches();
    assert!(batches < n as u64, "{batches} batches for {n} records");
    let mut c = client(&db);
    assert_eq!(ev::len(&mut c).unwrap(), n as u64);

    let keys = ring(&[&ka, &kb]);
    let (d, rep) = export_and_verify(&db, &keys, true);
    assert!(rep.ok, "{:?}", rep.issues);
    assert_eq!(rep.records, n as u64);
    assert_eq!(rep.checkpoints_verified, n / 16, "{rep:?}");
    assert!(rep.segments > 1, "segments roll at 4096 bytes");
    let recs = read_records(&d.path().join("log")).unwrap();
    let ids: Vec<&str> = recs.iter().map(|r| r.record_id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), n);
    for a in &appended {
        assert_eq!(
            ids.iter().filter(|i| **i == a.record_id).count(),
            1,
            "{a:?}"
        );
        assert_eq!(recs[a.seq as usize].hash, a.hash);
    }
    assert_eq!(recs[0].body["token"], "[REDACTED:field]");
    let signers: BTreeSet<&str> = recs.iter().map(|r| r.key_id.as_str()).collect();
    assert_eq!(signers, BTreeSet::from([ka.key_id(), kb.key_id()]));
    // checkpoints alone: signatures of covered records are not rechecked, roots are
    let (_, rep) = export_and_verify(&db, &keys, false);
    assert!(rep.ok, "{:?}", rep.issues);
    // the keys the database registered verify too; one replica's key alone does not
    let tr = TrustRoot::load(&d.path().join("log/signers.json")).unwrap();
    assert_eq!(tr.keys.len(), 2);
    let (_, rep) = export_and_verify(&db, &tr.keyring("signers").unwrap(), true);
    assert!(rep.ok, "{:?}", rep.issues);
    let (_, rep) = export_and_verify(&db, &ring(&[&ka]), true);
    assert!(!rep.ok);
    assert!(
        rep.issues
            .iter()
            .all(|i| i.code == "untrusted_key" || i.code == "bad_checkpoint_signature"),
        "{:?}",
        rep.issues
    );

    // lookups
    let r = ev::record(&mut c, &appended[7].record_id).unwrap().unwrap();
    assert_eq!(r.seq, appended[7].seq);
    assert_eq!(ev::record(&mut c, "5").unwrap().unwrap().seq, 5);
    assert!(ev::record(&mut c, "ev-nope").unwrap().is_none());
    let dec = ev::decision(&mut c, "dec-3-7").unwrap().unwrap();
    assert_eq!(
        (dec.body["t"].as_u64(), dec.body["i"].as_u64()),
        (Some(3), Some(7))
    );
    // the list of decisions, newest first
    let q = |g: fn(&mut SearchQuery)| {
        let mut q = SearchQuery {
            limit: 50,
            ..Default::default()
        };
        g(&mut q);
        ev::search(&mut client(&db), &q).unwrap()
    };
    let page = q(|q| {
        q.session = Some("s3".into());
        (q.limit, q.offset) = (5, 2);
    });
    assert_eq!((page.total, page.hits.len()), (EACH as u64, 5));
    assert!(page
        .hits
        .iter()
        .all(|h| h.session_id.as_deref() == Some("s3")));
    let mut s3: Vec<u64> = recs
        .iter()
        .filter(|r| r.session_id() == Some("s3"))
        .map(|r| r.seq)
        .collect();
    s3.reverse();
    let got: Vec<u64> = page.hits.iter().map(|h| h.seq).collect();
    assert_eq!(got, s3[2..7]);
    assert_eq!(q(|q| q.rule = Some("r5".into())).total, EACH as u64);
    assert_eq!(q(|q| q.rule = Some("any".into())).total, n as u64);
    let one = q(|q| q.text = Some("dec-3-7".into()));
    assert_eq!((one.total, one.hits[0].body["i"].as_u64()), (1, Some(7)));
    assert_eq!(one.hits[0].decision.as_deref(), Some("allow"));
    assert_eq!(q(|q| q.decision = Some("block".into())).total, 0);
    let since = recs[n - 10].timestamp.clone();
    let late = ev::search(
        &mut c,
        &SearchQuery {
            since: Some(since),
            kind: Some("decision".into()),
            limit: 50,
            ..Default::default()
        },
    )
    .unwrap();
    assert!((10..=n as u64).contains(&late.total), "{}", late.total);
    // a checkpoint on request covers the tail, once
    wa.append("note", &json!({"x": 1})).unwrap();
    let cp = ev::checkpoint(&mut c, &ka).unwrap().unwrap();
    assert_eq!(cp.tree_size, n as u64 + 1);
    assert_eq!(ev::checkpoint(&mut c, &kb).unwrap().unwrap(), cp);
    let (_, rep) = export_and_verify(&db, &keys, false);
    assert!(rep.ok && rep.checkpoints_verified == n / 16 + 1, "{rep:?}");
    // a bad kind or body is refused before it reaches the writer
    assert!(wa.append("Bad Kind", &json!({})).is_err());
    assert!(wa.append("x", &json!([1])).is_err());
}

/// A transaction of another session holding the head row (writers' batches wait for it).
fn hold_head(c: &mut postgres::Client) -> postgres::Transaction<'_> {
    let mut t = c.transaction().unwrap();
    t.query_one(
        "SELECT next_seq FROM evidence_head WHERE id = 1 FOR UPDATE",
        &[],
    )
    .unwrap();
    t
}

/// The backend pid of the evidence writer waiting for a lock (within 10 s).
fn waiting_writer(db: &TestDb) -> i32 {
    let mut c = client(db);
    let t0 = Instant::now();
    loop {
        let row = c
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
                 AND wait_event_type = 'Lock' AND datname = current_database()",
                &[&ev::WRITER_APPLICATION],
            )
            .unwrap();
        if let Some(r) = row {
            return r.get(0);
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no writer waits");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_writer_losing_its_connection_mid_batch_fails_that_batch_only_and_the_chain_goes_on() {
    let Some((db, ka, kb)) = setup("evidence_lost_writer") else {
        return;
    };
    let (wa, wb) = (writer(&db, &ka, 4), writer(&db, &kb, 4));
    let mut committed = Vec::new();
    for i in 0..6 {
        committed.push(wa.append("decision", &json!({"i": i})).unwrap());
    }
    // another session holds the head: A's next batch waits inside its transaction
    let mut holder = client(&db);
    let t = hold_head(&mut holder);
    let (tx, rx) = mpsc::channel();
    let hs: Vec<_> = (0..5)
        .map(|i| {
            let (w, tx) = (wa.clone(), tx.clone());
            std::thread::spawn(move || {
                tx.send(w.append("decision", &json!({"lost": i}))).unwrap();
            })
        })
        .collect();
    drop(tx);
    let pid = waiting_writer(&db);
    let mut admin = client(&db);
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    // the replica is gone mid-batch; the holder lets go afterwards
    std::thread::sleep(Duration::from_millis(200));
    t.rollback().unwrap();
    for h in hs {
        h.join().unwrap();
    }
    let results: Vec<_> = rx.iter().collect();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(failed >= 1, "the batch in flight failed: {results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(e.to_string().contains("not committed"), "{e}");
        }
    }
    committed.extend(results.into_iter().filter_map(Result::ok));
    // the writer reconnects; both replicas chain on
    for i in 0..5 {
        committed.push(wa.append("decision", &json!({"after": i})).unwrap());
        committed.push(wb.append("decision", &json!({"after": i})).unwrap());
    }
    let (d, rep) = export_and_verify(&db, &ring(&[&ka, &kb]), true);
    assert!(rep.ok, "{:?}", rep.issues);
    assert_eq!(
        rep.records,
        committed.len() as u64,
        "exactly the committed records"
    );
    let recs = read_records(&d.path().join("log")).unwrap();
    for a in &committed {
        assert_eq!(recs[a.seq as usize].record_id, a.record_id);
    }
    let lost = recs.iter().filter(|r| r.body.get("lost").is_some()).count();
    assert_eq!(lost, 5 - failed, "a failed append left no record");
}

#[test]
fn a_row_changed_or_removed_in_the_database_is_caught_by_verifying_the_export() {
    let Some((db, ka, _)) = setup("evidence_tamper") else {
        return;
    };
    let w = writer(&db, &ka, 8);
    for i in 0..20 {
        w.append("decision", &json!({"i": i, "cavra_decision": "block"}))
            .unwrap();
    }
    let keys = ring(&[&ka]);
    db.admin_sql(
        "UPDATE evidence_records SET line = replace(line, '\"cavra_decision\":\"block\"', \
         '\"cavra_decision\":\"allow\"') WHERE seq = 3",
    );
    let (_, rep) = export_and_verify(&db, &keys, false);
    assert!(!rep.ok);
    let codes: Vec<(&str, Option<u64>)> = rep
        .issues
        .iter()
        .map(|i| (i.code.as_str(), i.record))
        .collect();
    assert!(codes.contains(&("hash_mismatch", Some(3))), "{codes:?}");
    db.admin_sql("DELETE FROM evidence_records WHERE seq = 11");
    let (_, rep) = export_and_verify(&db, &keys, false);
    let codes: Vec<(&str, Option<u64>)> = rep
        .issues
        .iter()
        .map(|i| (i.code.as_str(), i.record))
        .collect();
    assert!(codes.contains(&("missing_records", Some(12))), "{codes:?}");
    // an export never overwrites a log
    let d = tempfile::tempdir().unwrap();
    ev::export_log(&mut client(&db), d.path(), 1 << 20).unwrap();
    let e = ev::export_log(&mut client(&db), d.path(), 1 << 20).unwrap_err();
    assert!(e.to_string().contains("already holds a log"), "{e}");
}

#[test]
fn the_listener_delivers_each_committed_record_of_its_kind_once_in_order() {
    let Some((db, ka, kb)) = setup("evidence_listen") else {
        return;
    };
    let (wa, wb) = (writer(&db, &ka, 0), writer(&db, &kb, 0));
    wa.append("decision", &json!({"before": true})).unwrap();
    let cfg = WriterConfig::new(&db.url, 0).unwrap();
    let (tx, rx) = mpsc::channel();
    let l = ev::listen(&cfg.db, Some("decision"), move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    let mut want = Vec::new();
    for i in 0..10 {
        want.push(wa.append("decision", &json!({"i": i})).unwrap().seq);
        want.push(wb.append("decision", &json!({"i": i})).unwrap().seq);
        wb.append("session.held", &json!({"i": i})).unwrap();
        if i == 4 {
            // the listener's connection dies: what it misses comes at the next notification
            let mut admin = client(&db);
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND datname = current_database()",
                    &[&ev::LISTENER_APPLICATION],
                )
                .unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    // after the reconnect, one more batch announces everything since
    std::thread::sleep(Duration::from_millis(1500));
    want.push(wa.append("decision", &json!({"last": true})).unwrap().seq);
    let mut got = Vec::new();
    while got.len() < want.len() {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(r) => {
                assert_eq!(r.kind, "decision");
                got.push(r.seq);
            }
            Err(e) => panic!("got {got:?} of {want:?}: {e}"),
        }
    }
    assert_eq!(got, want);
    drop(l);
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing twice"
    );
}

#[test]
fn a_batch_that_cannot_get_the_head_lock_in_time_fails_and_the_next_one_goes_on() {
    let Some((db, ka, _)) = setup("evidence_lock_timeout") else {
        return;
    };
    let mut cfg = WriterConfig::new(&db.url, 0).unwrap();
    cfg.lock_timeout = Duration::from_millis(300);
    let w = PgEvidenceLog::start(cfg, Arc::clone(&ka)).unwrap();
    w.append("decision", &json!({"i": 0})).unwrap();
    let mut holder = client(&db);
    let t = hold_head(&mut holder);
    let (tx, rx) = mpsc::channel();
    let w2 = w.clone();
    std::thread::spawn(move || tx.send(w2.append("decision", &json!({"i": 1}))));
    // without the timeout the append would wait for the holder: fail instead of hanging
    let got = rx.recv_timeout(Duration::from_secs(5));
    t.rollback().unwrap();
    let e = got.expect("the append gave up within 5 s").unwrap_err();
    assert!(e.to_string().contains("lock timeout"), "{e}");
    assert_eq!(w.append("decision", &json!({"i": 2})).unwrap().seq, 1);
    let (_, rep) = export_and_verify(&db, &ring(&[&ka]), true);
    assert!(rep.ok && rep.records == 2, "{rep:?}");
}

/// A revocation `NOTIFY`s the listener (`LookupSignal::Changed`, what a replica's token
/// cache empties on); a lost listening connection is told (`Lost`), then `Listening` once
/// it listens again, and revocations are heard after that too.
#[test]
fn the_listener_hears_token_revocations_and_its_own_reconnects() {
    use crate::{ApiRole, OffsetDateTime};
    let Some((db, _, _)) = setup("evidence_listen_tokens") else {
        return;
    };
    let cfg = WriterConfig::new(&db.url, 0).unwrap();
    let (tx, rx) = mpsc::channel();
    let _l = ev::listen_with_tokens(
        &cfg.db,
        None,
        |_| {},
        move |s| {
            let _ = tx.send(s);
        },
    )
    .unwrap();
    let mut store = PgStore::connect(&db.url).unwrap();
    let now = OffsetDateTime::now_utc();
    let t = store
        .issue_api_token("bot", ApiRole::Agent, None, "root", now)
        .unwrap();
    let u = store
        .issue_api_token("bot2", ApiRole::Agent, None, "root", now)
        .unwrap();
    let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap();
    store.revoke_api_token(&t.record.id, "root", now).unwrap();
    assert_eq!(
        next(),
        ev::LookupSignal::Changed,
        "issuing sends nothing, revoking does"
    );
    client(&db)
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
            &[&ev::LISTENER_APPLICATION],
        )
        .unwrap();
    assert_eq!(next(), ev::LookupSignal::Lost);
    assert_eq!(next(), ev::LookupSignal::Listening);
    store.revoke_api_token(&u.record.id, "root", now).unwrap();
    assert_eq!(next(), ev::LookupSignal::Changed);
}

/// An agent registered, its status changed and its removal, and a rollout assignment
/// started and ended, each `NOTIFY` the listener (`LookupSignal::Changed`: what a
/// replica's lookup cache empties on); reads send nothing.
#[test]
fn the_listener_hears_registry_assignment_and_break_glass_changes() {
    use crate::{AgentStatus, AssignMode, NewAgent, NewAssignment, OffsetDateTime, TargetKind};
    let Some((db, _, _)) = setup("evidence_listen_lookups") else {
        return;
    };
    let cfg = WriterConfig::new(&db.url, 0).unwrap();
    let (tx, rx) = mpsc::channel();
    let _l = ev::listen_with_tokens(
        &cfg.db,
        None,
        |_| {},
        move |s| {
            let _ = tx.send(s);
        },
    )
    .unwrap();
    // the listener is listening once it says so or once a first change is heard; a
    // first revocation makes sure of it
    let mut store = PgStore::connect(&db.url).unwrap();
    let now = OffsetDateTime::now_utc();
    let t = store
        .issue_api_token("bot", crate::ApiRole::Agent, None, "root", now)
        .unwrap();
    store.revoke_api_token(&t.record.id, "root", now).unwrap();
    let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(next(), ev::LookupSignal::Changed);
    let heard = |what: &str| {
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(ev::LookupSignal::Changed),
            "{what}"
        );
    };
    store
        .add_agent(
            NewAgent {
                agent_id: "ci-bot".into(),
                vendor: None,
                kind: None,
                owner: None,
                risk_tier: None,
                profile: "builder".into(),
                status: AgentStatus::Pending,
            },
            now,
        )
        .unwrap();
    heard("an agent registered");
    store
        .set_agent_status("ci-bot", AgentStatus::Blocked, now)
        .unwrap();
    heard("an agent blocked");
    assert!(store.agent("ci-bot").unwrap().is_some());
    assert!(store.list_agents().unwrap().len() == 1);
    store.remove_agent("ci-bot").unwrap();
    heard("an agent removed");
    store
        .add_assignment(
            &NewAssignment {
                version_id: "pv-org-1".into(),
                target_kind: TargetKind::All,
                target: String::new(),
                mode: AssignMode::Enforce,
                shadow_until: None,
                assigned_by: "carol".into(),
            },
            now,
        )
        .unwrap();
    heard("an assignment started");
    assert_eq!(store.list_assignments(false).unwrap().len(), 1);
    assert_eq!(store.end_assignments("pv-org-1", None, now).unwrap(), 1);
    heard("an assignment ended");
    let mut console = db.replica();
    console
        .break_glass(
            crate::NewBreakGlass {
                request_hash: Some("h-listen".into()),
                action_type: None,
                target: None,
                identity: "alice".into(),
                reason: "prod is down".into(),
                ttl: Duration::from_secs(900),
                max_ttl: Duration::from_secs(3600),
            },
            now,
        )
        .unwrap();
    heard("a break-glass recorded");
    assert!(store.any_active_break_glass(now).unwrap());
    // the reads above sent nothing
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "a read notified"
    );
}
