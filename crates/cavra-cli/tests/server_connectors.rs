//! `cavra serve` with a `connectors:` section: a decision made through the real server is
//! delivered to a signed webhook on loopback, its signature checks, and the webhook's key
//! is in no file the server wrote.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// A receiver on 127.0.0.1 answering 200: (URL, the (signature header, body) it gets).
fn receiver() -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut conn in l.incoming().flatten() {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let (mut sig, mut len) = (String::new(), 0usize);
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    match k.to_ascii_lowercase().as_str() {
                        "x-cavra-signature" => sig = v.trim().to_string(),
                        "content-length" => len = v.trim().parse().unwrap(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send((sig, body));
        }
    });
    (url, rx)
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    // HMAC-SHA256 by its definition (RFC 2104), independent of the server's code
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

#[test]
fn a_decision_reaches_the_signed_webhook() {
    let (url, rx) = receiver();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        format!("connectors:\n  max_attempts: 2\n  backoff_ms: 50\n  targets:\n    - {{name: soc, type: webhook, url: \"{url}/cavra\", secret_env: CAVRA_TEST_WEBHOOK_KEY, events: [decision.block]}}\n"),
    )
    .unwrap();
    let key = "whsec-e2e-7f3a9c";
    let s = Srv::start(
        &["--config", cfg.to_str().unwrap()],
        &[("CAVRA_TEST_WEBHOOK_KEY", key)],
    );
    let agent = s.token("bot", "agent");
    let allow = json!({"action_type": "read_file", "target": "README.md", "agent_id": "bot", "session_id": "s1"});
    let (st, _) = post(&s, "/v1/decisions", Some(&agent), &allow);
    assert_eq!(st, 200);
    let block = json!({"action_type": "read_file", "target": ".env", "agent_id": "bot", "session_id": "s1"});
    let (st, v) = post(&s, "/v1/decisions", Some(&agent), &block);
    assert_eq!((st, v["decision"].as_str()), (200, Some("block")), "{v}");
    let (sig, body) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the webhook got the block");
    assert_eq!(sig, format!("sha256={}", hmac_hex(key.as_bytes(), &body)));
    let d: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d["kind"], "decision");
    assert_eq!(d["record"]["record_id"], v["evidence_record"]);
    assert_eq!(d["record"]["body"]["rule_id"], "secrets.dotenv.read");
    // only the block was subscribed: the allowed read sent nothing
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    // the key is in no file of the server's state (evidence log, store)
    for e in walk(&s.dir) {
        let bytes = std::fs::read(&e).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(key),
            "the webhook key is in {}",
            e.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_bad_connectors_section_stops_the_server() {
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("serve.yaml");
    std::fs::write(&cfg, "connectors:\n  targets:\n    - {type: webhook, url: \"http://127.0.0.1:9/x\", secret: inline}\n").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let o = spawn(tmp.path(), &["--config", cfg.to_str().unwrap()], &[])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("secrets are never written in the config file"),
        "{err}"
    );
}

fn slack_signed(secret: &str, ts: i64, body: &str) -> String {
    format!(
        "v0={}",
        hmac_hex(secret.as_bytes(), format!("v0:{ts}:{body}").as_bytes())
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A Slack button callback: (status, answer).
fn callback(s: &Srv, ts: i64, sig: &str, body: &str) -> (u16, Value) {
    let resp = agent()
        .post(&s.url("/v1/connectors/slack/interactions"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", &ts.to_string())
        .header("X-Slack-Signature", sig)
        .send(body)
        .unwrap();
    let st = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap();
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn form(user: &str, action: &str, approval: &str) -> String {
    let payload = json!({"type": "block_actions", "user": {"id": user},
        "actions": [{"action_id": action, "value": approval}]})
    .to_string();
    let enc: String = payload
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("payload={enc}")
}

/// The out-of-band round trip: a held decision is posted to Slack with Approve / Deny
/// buttons, a signed callback of a mapped approver approves it, the agent's retry passes
/// once and the next retry is held again; forged, replayed, stale, unmapped and
/// under-privileged callbacks are refused.
#[test]
fn slack_approval_round_trip() {
    let (url, rx) = receiver();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        "connectors:\n  targets:\n    - {type: slack, url_env: CAVRA_TEST_SLACK_URL}\n  slack_interactions:\n    signing_secret_env: CAVRA_TEST_SLACK_SIGNING\n    approvers:\n      U0ALICE: {identity: alice@example.com, role: approver}\n      U0AUDIT: {identity: audit@example.com, role: auditor}\n",
    )
    .unwrap();
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let slack_url = format!("{url}/services/T0/B0/xyz");
    let s = Srv::start(
        &["--config", cfg.to_str().unwrap(), "--non-interactive"],
        &[
            ("CAVRA_TEST_SLACK_URL", &slack_url),
            ("CAVRA_TEST_SLACK_SIGNING", secret),
        ],
    );
    let bot = s.token("bot", "agent");
    let cwd = s.project.display().to_string();
    let req = json!({"action_type": "write_file", "target": "/work/elsewhere/slack-approval.txt",
        "cwd": cwd, "agent_id": "ci-agent", "session_id": "sl1"});
    let (st, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(
        (st, v["decision"].as_str()),
        (200, Some("require_approval")),
        "{v}"
    );
    let id = v["approval_id"].as_str().unwrap().to_string();

    // the held decision reached Slack with the two buttons, carrying the approval id only
    let (_, body) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("posted to Slack");
    let msg: Value = serde_json::from_slice(&body).unwrap();
    let actions = msg["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .expect("buttons");
    assert_eq!(actions["elements"][0]["action_id"], "cavra_approve");
    assert_eq!(actions["elements"][0]["value"], id.as_str());
    assert_eq!(actions["elements"][1]["action_id"], "cavra_deny");

    let approve = form("U0ALICE", "cavra_approve", &id);
    let t = now();
    // forged (another secret), stale, unsigned: 401, nothing decided
    let (st, v) = callback(
        &s,
        t,
        &slack_signed("not-the-secret", t, &approve),
        &approve,
    );
    assert_eq!(st, 401, "{v}");
    let old = t - 600;
    let (st, _) = callback(&s, old, &slack_signed(secret, old, &approve), &approve);
    assert_eq!(st, 401);
    let (st, _) = callback(&s, t, "v0=00", &approve);
    assert_eq!(st, 401);
    // an unmapped Slack user, a mapped auditor: 403
    let stranger = form("U0MALLORY", "cavra_approve", &id);
    let (st, v) = callback(&s, t, &slack_signed(secret, t, &stranger), &stranger);
    assert_eq!(st, 403, "{v}");
    let audit = form("U0AUDIT", "cavra_approve", &id);
    let (st, _) = callback(&s, t, &slack_signed(secret, t, &audit), &audit);
    assert_eq!(st, 403);
    // still held
    let (_, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(v["decision"], "require_approval", "{v}");
    let id2 = v["approval_id"].as_str().unwrap().to_string();
    assert_eq!(id2, id, "the same pending request");

    // alice's signed click approves
    let sig = slack_signed(secret, t, &approve);
    let (st, v) = callback(&s, t, &sig, &approve);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["cavra"]["state"], "approved", "{v}");
    // the same callback again: a replay
    let (st, v) = callback(&s, t, &sig, &approve);
    assert_eq!(st, 401, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("replay"));
    // the agent's retry passes once, the next is held again
    let (_, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(v["decision"], "allow", "approved: {v}");
    let (_, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(v["decision"], "require_approval", "used once: {v}");
    // the approval names alice, approved in Slack
    let admin = s.token("root", "admin");
    let (_, a) = get(&s, &format!("/v1/approvals/{id}"), Some(&admin));
    assert_eq!(a["decided_by"], "alice@example.com", "{a}");
}

/// Every finished delivery is a row of `GET /v1/connectors/deliveries`: the delivered one
/// and the dead-lettered one (a closed port, its URL carrying credentials), with the
/// target's host only — no key, password, token or path in any row.
#[test]
fn deliveries_are_recorded_without_secrets() {
    let (url, rx) = receiver();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("serve.yaml");
    let yaml = format!("connectors:\n  max_attempts: 2\n  backoff_ms: 50\n  timeout_ms: 2000\n  targets:\n    - {{name: soc, type: webhook, url: \"{url}/cavra-path-p4th\", secret_env: CAVRA_TEST_WEBHOOK_KEY, events: [decision.block]}}\n    - {{name: gone, type: webhook, url_env: CAVRA_TEST_DEAD_URL, secret_env: CAVRA_TEST_WEBHOOK_KEY, events: [decision.block]}}\n");
    std::fs::write(&cfg, yaml).unwrap();
    let key = "whsec-deliv-55aa";
    let dead = format!("http://user:pa55word-x@127.0.0.1:{closed}/hook-p4th?token=tok-s3cret");
    let s = Srv::start(
        &["--config", cfg.to_str().unwrap()],
        &[
            ("CAVRA_TEST_WEBHOOK_KEY", key),
            ("CAVRA_TEST_DEAD_URL", &dead),
        ],
    );
    let agent = s.token("bot", "agent");
    let reader = s.token("audit", "auditor");
    let (st, v) = get(&s, "/v1/connectors/deliveries", Some(&reader));
    assert_eq!((st, v), (200, json!([])));
    let block = json!({"action_type": "read_file", "target": ".env", "agent_id": "bot", "session_id": "s1"});
    let (st, v) = post(&s, "/v1/decisions", Some(&agent), &block);
    assert_eq!((st, v["decision"].as_str()), (200, Some("block")), "{v}");
    let record = v["evidence_record"].as_str().unwrap().to_string();
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the webhook got the block");
    let mut rows = Vec::new();
    for _ in 0..200 {
        let (st, v) = get(&s, "/v1/connectors/deliveries?limit=10", Some(&reader));
        assert_eq!(st, 200, "{v}");
        rows = v.as_array().unwrap().clone();
        if rows.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    let by = |name: &str| {
        rows.iter()
            .find(|r| r["connector"] == name)
            .unwrap()
            .clone()
    };
    let (ok, gone) = (by("soc"), by("gone"));
    assert_eq!(ok["outcome"], "delivered");
    assert_eq!(ok["attempts"], 1);
    assert_eq!(ok["kind"], "webhook");
    assert_eq!(ok["record_id"], record.as_str());
    assert_eq!(ok["record_kind"], "decision");
    assert_eq!(ok["target_host"], url.trim_start_matches("http://"));
    assert_eq!(ok["last_error"], Value::Null);
    assert_eq!(gone["outcome"], "dead_lettered");
    assert_eq!(gone["attempts"], 2);
    assert_eq!(gone["target_host"], format!("127.0.0.1:{closed}").as_str());
    assert!(
        gone["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{gone}"
    );
    assert!(gone["finished_at"].as_str().is_some(), "{gone}");
    let text = serde_json::to_string(&rows).unwrap();
    for secret in [key, "pa55word-x", "tok-s3cret", "p4th", "user:"] {
        assert!(!text.contains(secret), "`{secret}` in {text}");
    }
    let (st, v) = get(&s, "/v1/connectors/deliveries?limit=1", Some(&reader));
    assert_eq!((st, v.as_array().map(Vec::len)), (200, Some(1)));
    let (st, v) = get(&s, "/v1/connectors/deliveries?limit=0", Some(&reader));
    assert_eq!(st, 400, "{v}");
    is_error_doc(&v, "bad_request");
    let (st, _) = get(&s, "/v1/connectors/deliveries?limit=nope", Some(&reader));
    assert_eq!(st, 400);
    let (st, _) = get(&s, "/v1/connectors/deliveries", None);
    assert_eq!(st, 401);
    let (st, _) = get(&s, "/v1/connectors/deliveries", Some(&agent));
    assert_eq!(st, 403);
}
