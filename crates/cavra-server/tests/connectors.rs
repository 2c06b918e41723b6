//! Connectors against local receivers on loopback: each connector's payload shape and
//! authentication, the webhook's HMAC signature, retries with backoff, then the
//! dead-letter file.
#![allow(clippy::unwrap_used, clippy::panic)]

use cavra_evidence::Record;
use cavra_server::connectors::{sign, Delivery, Dispatcher, Settings};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1: answers the statuses in `statuses` in turn (the
/// last one from then on) and keeps what it got.
fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Got>>>) {
    answering(move |i, _| (*statuses.get(i).or(statuses.last()).unwrap(), "ok".into()))
}

type Answer = dyn Fn(usize, &Got) -> (u16, String) + Send;

/// [`receiver`] whose answer (status, body) to the `i`-th request is `answer`'s; the
/// method is kept as the first word of `path` (`POST /x`).
fn answering(
    answer: impl Fn(usize, &Got) -> (u16, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<Got>>>) {
    let answer: Box<Answer> = Box::new(answer);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for (i, conn) in l.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut words = line.split_whitespace();
            let method = words.next().unwrap_or("").to_string();
            let path = words.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let g = Got {
                method,
                path,
                headers,
                body,
            };
            let (status, text) = answer(i, &g);
            seen.lock().unwrap().push(g);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, got)
}

fn record(kind: &str, outcome: &str) -> Record {
    Record {
        alg: "ed25519".into(),
        body: json!({
            "decision_id": "d1", "session_id": "s1", "agent_id": "claude-code",
            "action_type": "execute_command", "target": "git push --force origin main",
            "cavra_decision": outcome, "rule_id": "git.force_push", "severity": "high",
            "reason": "a force push rewrites shared history", "policy_id": "cavra-coding-baseline",
            "policy_digest": "sha256:00", "timestamp": "2026-12-01T10:00:00Z",
        }),
        hash: "h".repeat(64),
        key_id: "ed25519-test".into(),
        kind: kind.into(),
        prev_hash: "0".repeat(64),
        record_id: "rec-1".into(),
        seq: 7,
        sig: "sig".into(),
        timestamp: "2026-12-01T10:00:00Z".into(),
        v: 2,
    }
}

/// Delivers `records` through a dispatcher over `targets`; returns the deliveries.
fn run(cfg: Value, records: Vec<Record>) -> Vec<Delivery> {
    let env = |k: &str| match k {
        "HOOK_KEY" => Some("whsec-test".to_string()),
        "TOKEN" => Some("tok-123".to_string()),
        "SLACK_URL" | "TEAMS_URL" => std::env::var(format!("T_{k}")).ok(),
        _ => None,
    };
    let settings = Settings::parse(&cfg, std::path::Path::new("/"), &env).unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    let d = Dispatcher::start(settings, move |d| o.lock().unwrap().push(d.clone()));
    for r in records {
        d.send(r);
    }
    d.finish();
    let v = out.lock().unwrap().clone();
    v
}

#[test]
fn the_webhook_body_is_signed() {
    let (url, got) = receiver(vec![200]);
    let ds = run(
        json!({"targets": [{"type": "webhook", "url": format!("{url}/hook"), "secret_env": "HOOK_KEY"}]}),
        vec![record("decision", "block"), record("decision", "allow")],
    );
    assert_eq!(ds.len(), 2);
    assert!(
        ds.iter()
            .all(|d| d.status == "delivered" && d.attempts == 1),
        "{ds:?}"
    );
    let got = got.lock().unwrap();
    let g = &got[0];
    assert_eq!(g.path, "/hook");
    let sig = g.header("x-cavra-signature").unwrap();
    assert_eq!(sig, format!("sha256={}", sign(b"whsec-test", &g.body)));
    // a forged body does not match the signature
    assert_ne!(sig, format!("sha256={}", sign(b"whsec-test", b"{}")));
    let v = g.json();
    assert_eq!(v["kind"], "decision");
    assert_eq!(v["record"]["record_id"], "rec-1");
    assert_eq!(v["delivery_id"], g.header("x-cavra-delivery").unwrap());
    assert!(!String::from_utf8_lossy(&g.body).contains("whsec-test"));
}

#[test]
fn each_connector_sends_its_own_shape() {
    let (url, got) = receiver(vec![200]);
    // Slack and Teams webhook URLs are secrets: from the environment here
    std::env::set_var("T_SLACK_URL", format!("{url}/slack/T0/B0/x"));
    std::env::set_var("T_TEAMS_URL", format!("{url}/teams"));
    let cfg = json!({"targets": [
        {"type": "slack", "url_env": "SLACK_URL"},
        {"type": "teams", "url_env": "TEAMS_URL"},
        {"type": "jira", "url": url, "user": "bot@example.com", "secret_env": "TOKEN", "project": "SEC"},
        {"type": "servicenow", "url": url, "user": "svc", "secret_env": "TOKEN"},
        {"type": "splunk_hec", "url": format!("{url}/services/collector/event"), "secret_env": "TOKEN"},
        {"type": "datadog", "url": format!("{url}/api/v2/logs"), "secret_env": "TOKEN"},
        {"type": "sentinel", "url": format!("{url}/dataCollectionRules/dcr-1/streams/Custom-Cavra?api-version=2023-01-01"), "secret_env": "TOKEN"},
    ]});
    // an allowed decision reaches only the SIEMs; a block every connector
    let ds = run(
        cfg,
        vec![record("decision", "allow"), record("decision", "block")],
    );
    assert_eq!(ds.len(), 3 + 7, "{ds:?}");
    assert!(ds.iter().all(|d| d.status == "delivered"), "{ds:?}");
    let got = got.lock().unwrap();
    let by = |p: &str| {
        got.iter()
            .filter(|g| g.path.starts_with(p))
            .cloned()
            .collect::<Vec<_>>()
    };
    let slack = &by("/slack")[0];
    let v = slack.json();
    assert_eq!(v["blocks"][0]["type"], "section");
    assert!(v["text"]
        .as_str()
        .unwrap()
        .contains("block execute_command"));
    let teams = by("/teams")[0].json();
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
    let jira = &by("/rest/api/2/issue")[0];
    assert_eq!(
        jira.header("authorization").unwrap(),
        "Basic Ym90QGV4YW1wbGUuY29tOnRvay0xMjM="
    );
    assert_eq!(jira.json()["fields"]["project"]["key"], "SEC");
    assert_eq!(jira.json()["fields"]["issuetype"]["name"], "Task");
    let snow = &by("/api/now/table/incident")[0];
    assert_eq!(snow.json()["urgency"], "1");
    assert_eq!(snow.json()["correlation_id"], "rec-1");
    let hec = by("/services/collector/event");
    assert_eq!(hec.len(), 2);
    assert_eq!(hec[0].header("authorization").unwrap(), "Splunk tok-123");
    assert_eq!(hec[0].json()["source"], "cavra");
    assert_eq!(hec[0].json()["sourcetype"], "cavra:decision");
    let dd = by("/api/v2/logs");
    assert_eq!(dd[0].header("dd-api-key").unwrap(), "tok-123");
    assert_eq!(dd[0].json()[0]["ddsource"], "cavra");
    let sentinel = by("/dataCollectionRules/dcr-1/streams/Custom-Cavra");
    assert_eq!(
        sentinel[0].header("authorization").unwrap(),
        "Bearer tok-123"
    );
    assert!(sentinel[0].json()[0]["TimeGenerated"].is_string());
}

#[test]
fn failures_are_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let (url, got) = receiver(vec![500]);
    let ds = run(
        json!({"max_attempts": 3, "backoff_ms": 20, "dead_letter_file": dead.to_str().unwrap(),
               "targets": [{"type": "webhook", "url": url, "secret_env": "HOOK_KEY"}]}),
        vec![record("decision", "block")],
    );
    assert_eq!(got.lock().unwrap().len(), 3);
    assert_eq!(ds[0].status, "dead_letter");
    assert_eq!(ds[0].attempts, 3);
    assert_eq!(ds[0].error.as_deref(), Some("HTTP 500"));
    let text = std::fs::read_to_string(&dead).unwrap();
    assert_eq!(text.lines().count(), 1);
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["delivery"]["status"], "dead_letter");
    assert_eq!(line["record"]["record_id"], "rec-1");
    assert!(
        !text.contains("whsec-test"),
        "a secret in the dead-letter file"
    );

    // a receiver that recovers: delivered on the second attempt, nothing dead-lettered
    let (url, got) = receiver(vec![503, 200]);
    let ds = run(
        json!({"backoff_ms": 10, "dead_letter_file": dead.to_str().unwrap(),
               "targets": [{"type": "webhook", "url": url, "secret_env": "HOOK_KEY"}]}),
        vec![record("decision", "block")],
    );
    assert_eq!((ds[0].status, ds[0].attempts), ("delivered", 2));
    assert_eq!(got.lock().unwrap().len(), 2);
    assert_eq!(std::fs::read_to_string(&dead).unwrap().lines().count(), 1);

    // nobody listening: a transport error, retried, dead-lettered
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let ds = run(
        json!({"max_attempts": 2, "backoff_ms": 5, "timeout_ms": 2000,
               "targets": [{"type": "webhook", "url": url, "secret_env": "HOOK_KEY"}]}),
        vec![record("decision", "block")],
    );
    assert_eq!((ds[0].status, ds[0].attempts), ("dead_letter", 2));
    assert!(ds[0].error.is_some());
}

/// An approval's record: `kind` (`approval.approved`, …) about `apr-7`.
fn approval_record(kind: &str) -> Record {
    let mut r = record(kind, "");
    r.record_id = format!("rec-{kind}");
    r.body = json!({"approval_id": "apr-7", "id": "apr-7", "state": kind.trim_start_matches("approval."),
        "decided_by": "alice@acme.com", "decision_reason": "ticket CHG-1 covers it"});
    r
}

fn held() -> Record {
    let mut r = record("decision", "require_approval");
    r.body["approval_id"] = json!("apr-7");
    r
}

#[test]
fn jira_tickets_are_commented_and_transitioned_when_the_approval_is_decided() {
    // Jira: the creation answers the issue key; the transitions list names "Done"
    let (url, got) = answering(|_, g| match (g.method.as_str(), g.path.as_str()) {
        ("POST", "/rest/api/2/issue") => {
            (201, r#"{"id":"10001","key":"SEC-12","self":"x"}"#.into())
        }
        ("GET", "/rest/api/2/issue/SEC-12/transitions") => (
            200,
            r#"{"transitions":[{"id":"11","name":"In Progress"},{"id":"31","name":"Done"}]}"#
                .into(),
        ),
        ("POST", "/rest/api/2/issue/SEC-12/comment") => (201, "{}".into()),
        ("POST", "/rest/api/2/issue/SEC-12/transitions") => (204, String::new()),
        _ => (404, "{}".into()),
    });
    let ds = run(
        json!({"targets": [{"type": "jira", "url": url, "user": "cavra@acme.com", "secret_env": "TOKEN"}]}),
        vec![held(), approval_record("approval.approved")],
    );
    assert_eq!(ds.len(), 2, "{ds:?}");
    assert_eq!(
        (ds[0].status, ds[0].ticket.as_deref()),
        ("delivered", Some("SEC-12"))
    );
    assert_eq!(ds[1].status, "delivered", "{ds:?}");
    assert_eq!(ds[1].ticket.as_deref(), Some("SEC-12"));
    assert_eq!(ds[1].record_kind, "approval.approved");
    assert_eq!(ds[1].attempts, 3, "comment, transitions list, transition");
    let got = got.lock().unwrap();
    let calls: Vec<String> = got
        .iter()
        .map(|g| format!("{} {}", g.method, g.path))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /rest/api/2/issue",
            "POST /rest/api/2/issue/SEC-12/comment",
            "GET /rest/api/2/issue/SEC-12/transitions",
            "POST /rest/api/2/issue/SEC-12/transitions",
        ]
    );
    let comment = got[1].json();
    let text = comment["body"].as_str().unwrap();
    assert!(
        text.contains("apr-7 was approved by alice@acme.com: ticket CHG-1 covers it"),
        "{text}"
    );
    assert_eq!(got[3].json(), json!({"transition": {"id": "31"}}));
    let auth = got[3].header("authorization").unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");

    // a transition given by id is used as is; an approval with no ticket opens nothing
    let (url, got) = answering(|_, g| match g.path.as_str() {
        "/rest/api/2/issue" => (201, r#"{"key":"SEC-13"}"#.into()),
        _ => (204, String::new()),
    });
    let ds = run(
        json!({"targets": [{"type": "jira", "url": url, "user": "u", "secret_env": "TOKEN", "transition": "41"}]}),
        vec![held(), approval_record("approval.denied"), {
            let mut other = approval_record("approval.expired");
            other.body["approval_id"] = json!("apr-unknown");
            other
        }],
    );
    assert_eq!(
        ds.len(),
        2,
        "the unknown approval's end is not delivered: {ds:?}"
    );
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 3, "create, comment, transition");
    assert_eq!(got[2].json(), json!({"transition": {"id": "41"}}));
    assert!(got[1].json()["body"]
        .as_str()
        .unwrap()
        .contains("denied by alice@acme.com"));

    // a transition the issue does not have: a dead letter naming the ones it has
    let (url, _) = answering(|_, g| match (g.method.as_str(), g.path.as_str()) {
        ("POST", "/rest/api/2/issue") => (201, r#"{"key":"SEC-14"}"#.into()),
        ("GET", _) => (
            200,
            r#"{"transitions":[{"id":"5","name":"Resolve"}]}"#.into(),
        ),
        _ => (201, "{}".into()),
    });
    let ds = run(
        json!({"max_attempts": 1, "targets": [{"type": "jira", "url": url, "user": "u", "secret_env": "TOKEN", "transition": "Close"}]}),
        vec![held(), approval_record("approval.expired")],
    );
    assert_eq!(ds[1].status, "dead_letter");
    let e = ds[1].error.clone().unwrap();
    assert!(
        e.contains("no transition `Close`") && e.contains("Resolve"),
        "{e}"
    );
}

#[test]
fn servicenow_tickets_are_resolved_with_a_work_note() {
    let (url, got) = answering(|_, g| match (g.method.as_str(), g.path.as_str()) {
        ("POST", "/api/now/table/incident") => (
            201,
            r#"{"result":{"sys_id":"9d385017c611228701d22104cc95c371","number":"INC0010001"}}"#
                .into(),
        ),
        ("PATCH", "/api/now/table/incident/9d385017c611228701d22104cc95c371") => {
            (200, r#"{"result":{}}"#.into())
        }
        _ => (404, "{}".into()),
    });
    // the ticket was opened in an earlier run: found through the lookup (the store's rows)
    let env = |k: &str| (k == "TOKEN").then(|| "tok-123".to_string());
    let settings = Settings::parse(
        &json!({"targets": [{"name": "snow", "type": "servicenow", "url": url, "user": "cavra", "secret_env": "TOKEN", "close_state": "7"}]}),
        std::path::Path::new("/"),
        &env,
    )
    .unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let d = Dispatcher::start_with(
        settings,
        move |d| o.lock().unwrap().push(d.clone()),
        move |c: &str, approval: &str| {
            a.lock().unwrap().push(format!("{c}/{approval}"));
            (approval == "apr-7").then(|| "9d385017c611228701d22104cc95c371".to_string())
        },
    );
    d.send(approval_record("approval.expired"));
    d.finish();
    let ds = out.lock().unwrap().clone();
    assert_eq!(asked.lock().unwrap().as_slice(), ["snow/apr-7"]);
    assert_eq!(ds.len(), 1);
    assert_eq!((ds[0].status, ds[0].attempts), ("delivered", 1), "{ds:?}");
    assert_eq!(
        ds[0].ticket.as_deref(),
        Some("9d385017c611228701d22104cc95c371")
    );
    let got = got.lock().unwrap();
    assert_eq!(got[0].method, "PATCH");
    let b = got[0].json();
    assert_eq!(b["state"], "7");
    assert!(
        b["work_notes"]
            .as_str()
            .unwrap()
            .contains("apr-7 was expired without a decision"),
        "{b}"
    );
    assert_eq!(b["close_notes"], b["work_notes"]);
    assert!(got[0]
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));

    // opened in this run: the creation answer's sys_id is kept and the PATCH goes to it
    let (url, got) = answering(|_, g| match g.method.as_str() {
        "POST" => (201, r#"{"result":{"sys_id":"abc123"}}"#.into()),
        _ => (200, "{}".into()),
    });
    let ds = run(
        json!({"targets": [{"type": "servicenow", "url": url, "user": "cavra", "secret_env": "TOKEN"}]}),
        vec![held(), approval_record("approval.approved")],
    );
    assert_eq!(ds[0].ticket.as_deref(), Some("abc123"));
    assert_eq!(ds[1].status, "delivered");
    let got = got.lock().unwrap();
    assert_eq!(
        (got[1].method.as_str(), got[1].path.as_str()),
        ("PATCH", "/api/now/table/incident/abc123")
    );
    assert_eq!(got[1].json()["state"], "6", "Resolved by default");
}
