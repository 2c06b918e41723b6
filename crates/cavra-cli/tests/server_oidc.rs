//! `cavra serve` with OIDC people (the config file's `auth:` section): JWTs minted here
//! (RS256, ES256, EdDSA, signed with AWS-LC directly), the issuer's discovery document and
//! JWKS served by a std::net thread on loopback. Valid → 200; expired, wrong audience,
//! unknown kid, forged → 401; no role, wrong RBAC group, a repository outside the
//! person's groups → 403; the requester never approves their own request, even as an
//! admin. Approvals made by a person carry their verified identity and the server's
//! signature, and a row forged into the database without one does not allow. The same
//! people on `/mcp` (raw Streamable HTTP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "replica_common.rs"]
mod replica_common;
#[path = "store_common.rs"]
mod store_common;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use replica_common::{error_code, Srv};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{SystemTime, UNIX_EPOCH};
use store_common::{approver_dir, cavra};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

enum Key {
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair),
    Ed(sig::Ed25519KeyPair),
}

impl Key {
    fn alg(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "RS256",
            Key::Ec(_) => "ES256",
            Key::Ed(_) => "EdDSA",
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            Key::Rsa(k) => {
                let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(k.public_key());
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&c.n), "e": b64(&c.e)})
            }
            Key::Ec(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&p[1..33]), "y": b64(&p[33..])})
            }
            Key::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(k.public_key().as_ref())})
            }
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Key::Rsa(k) => {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(&sig::RSA_PKCS1_SHA256, &rng, msg, &mut out).unwrap();
                out
            }
            Key::Ec(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Key::Ed(k) => k.sign(msg).as_ref().to_vec(),
        }
    }

    fn mint(&self, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": kid});
        let msg = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let s = self.sign(msg.as_bytes());
        format!("{msg}.{}", b64(&s))
    }
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Serves `/.well-known/openid-configuration` and `/jwks` on a loopback port; returns the
/// issuer URL (`http://127.0.0.1:PORT`).
fn serve_issuer(jwks: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match path {
                "/.well-known/openid-configuration" => ("200 OK", discovery.to_string()),
                "/jwks" => ("200 OK", jwks.to_string()),
                _ => ("404 Not Found", "{}".to_string()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

struct People {
    rsa: Key,
    ec: Key,
    ed: Key,
    issuer: String,
}

impl People {
    fn claims(&self, who: &str, groups: &[&str]) -> Value {
        let t = now();
        json!({
            "iss": self.issuer, "aud": "cavra", "sub": format!("uid-{who}"),
            "email": format!("{who}@example.com"), "email_verified": true,
            "iat": t - 10, "nbf": t - 10, "exp": t + 600, "groups": groups,
        })
    }
    fn rs(&self, who: &str, groups: &[&str]) -> String {
        self.rsa.mint("rsa-1", &self.claims(who, groups))
    }
    fn es(&self, who: &str, groups: &[&str]) -> String {
        self.ec.mint("ec-1", &self.claims(who, groups))
    }
    fn ed(&self, who: &str, groups: &[&str]) -> String {
        self.ed.mint("ed-1", &self.claims(who, groups))
    }
}

const SERVER_YAML: &str = r#"
auth:
  rbac_file: rbac.yaml
  oidc:
    issuer: ISSUER
    audience: cavra
    discovery_url: ISSUER/.well-known/openid-configuration
    roles:
      admin: [cavra-admins]
      approver: [web-owners, platform-security]
      auditor: [auditors]
      agent: [ci-bots]
    repositories:
      web-owners: [acme/web, "acme/web-*"]
      platform-security: ["**"]
"#;

// RBAC groups named after IdP groups: membership is managed at the identity provider
const RBAC_YAML: &str = r#"
groups:
  Repository Owners:
    permissions: [approve, deny]
  Platform Security:
    permissions: [approve, deny, break_glass]
"#;

fn start() -> (tempfile::TempDir, Srv, People) {
    let people = People {
        rsa: Key::Rsa(sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap()),
        ec: Key::Ec(sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()),
        ed: Key::Ed(sig::Ed25519KeyPair::generate().unwrap()),
        issuer: String::new(),
    };
    let jwks =
        json!({"keys": [people.rsa.jwk("rsa-1"), people.ec.jwk("ec-1"), people.ed.jwk("ed-1")]});
    let issuer = serve_issuer(jwks);
    let people = People { issuer, ..people };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("server.yaml");
    std::fs::write(&cfg, SERVER_YAML.replace("ISSUER", &people.issuer)).unwrap();
    std::fs::write(tmp.path().join("rbac.yaml"), RBAC_YAML).unwrap();
    let approver = approver_dir(&tmp.path().join("state"));
    let s = Srv::start_in(
        tmp.path(),
        &approver,
        &["--non-interactive", "--config", cfg.to_str().unwrap()],
        &[],
    );
    (tmp, s, people)
}

/// A write outside the project: require_approval, routed to "Repository Owners".
fn ask(s: &Srv, token: &str, repo: &str, n: u32) -> (u16, Value) {
    let cwd = s.project.display().to_string();
    s.post(
        "/v1/decisions",
        Some(token),
        &json!({"action_type": "write_file", "target": format!("/work/elsewhere/oidc-{n}.txt"),
            "cwd": cwd, "repo_root": repo, "agent_id": "ci-agent", "session_id": format!("o{n}")}),
    )
}

fn approve(s: &Srv, token: &str, id: &str) -> (u16, Value) {
    s.post(
        &format!("/v1/approvals/{id}/approve"),
        Some(token),
        &json!({"reason": "reviewed"}),
    )
}

#[test]
fn oidc_people_roles_repositories_and_signed_approvals() {
    let (_tmp, s, p) = start();
    let (st, v) = s.get("/console/config", None);
    assert_eq!(st, 200);
    assert_eq!(v["auth"]["oidc"], true, "{v}");
    assert_eq!(v["auth"]["bearer_tokens"], true);
    assert_eq!(v["auth"]["oidc_issuer"], p.issuer.as_str());
    assert_eq!(v["auth"]["oidc_keys"], "discovery");
    assert_eq!(v["auth"]["repository_rbac"], true);
    assert!(v["auth"]["rbac_file"]
        .as_str()
        .unwrap()
        .ends_with("rbac.yaml"));

    // a server token still works beside OIDC
    let o = cavra(
        &s.dir,
        &[
            "--json", "tokens", "issue", "--name", "bot", "--role", "agent",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let bot = o.json()["token"].as_str().unwrap().to_string();

    // valid tokens of all three algorithms authenticate
    let auditor = p.es("erin", &["auditors"]);
    let (st, v) = s.get("/v1/approvals", Some(&auditor));
    assert_eq!(st, 200, "{v}");
    let carol = p.rs("carol", &["web-owners", "Repository Owners"]);
    let (st, _) = s.get("/v1/approvals", Some(&carol));
    assert_eq!(st, 200);
    let dave = p.ed("dave", &["cavra-admins", "Repository Owners"]);
    let (st, _) = s.get("/v1/approvals", Some(&dave));
    assert_eq!(st, 200);

    // refused credentials: 401 with the reason's code
    let t = now();
    let expired = p.rsa.mint(
        "rsa-1",
        &json!({"iss": p.issuer, "aud": "cavra", "sub": "x", "iat": t - 7200, "exp": t - 3600, "groups": ["auditors"]}),
    );
    let wrong_aud = p.rsa.mint(
        "rsa-1",
        &json!({"iss": p.issuer, "aud": "someone-else", "sub": "x", "exp": t + 600, "groups": ["auditors"]}),
    );
    let unknown_kid = p.rsa.mint("rsa-9", &p.claims("erin", &["auditors"]));
    let other_key = Key::Ed(sig::Ed25519KeyPair::generate().unwrap());
    let forged = other_key.mint("ed-1", &p.claims("erin", &["cavra-admins"]));
    for (tok, why) in [
        (expired.as_str(), "expired"),
        (wrong_aud.as_str(), "wrong_audience"),
        (unknown_kid.as_str(), "unknown_kid"),
        (forged.as_str(), "bad_signature"),
        ("not-a-jwt", "malformed_token"),
    ] {
        let (st, v) = s.get("/v1/approvals", Some(tok));
        assert_eq!(st, 401, "{why}: {v}");
        assert_eq!(error_code(&v), "unauthorized");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(why),
            "{why}: {v}"
        );
    }

    // a person with no mapped group authenticates but holds no role: 403
    let nobody = p.rs("nina", &["unrelated"]);
    let (st, v) = s.get("/v1/approvals", Some(&nobody));
    assert_eq!(st, 403, "{v}");
    assert_eq!(error_code(&v), "forbidden");

    // requests: one in acme/web, one in acme/payments, one by dave himself
    let (st, v) = ask(&s, &bot, "/srv/acme/web", 1);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["decision"], "require_approval", "{v}");
    let web = v["approval_id"].as_str().unwrap().to_string();
    let (_, one) = s.get(&format!("/v1/approvals/{web}"), Some(&auditor));
    assert_eq!(one["approver_group"], "Repository Owners", "{one}");
    let (_, v) = ask(&s, &bot, "/srv/acme/payments", 2);
    let payments = v["approval_id"].as_str().unwrap().to_string();
    let (st, v) = ask(&s, &dave, "/srv/acme/web", 3);
    assert_eq!(st, 200, "an admin may ask: {v}");
    let davids = v["approval_id"].as_str().unwrap().to_string();
    let (_, one) = s.get(&format!("/v1/approvals/{davids}"), Some(&auditor));
    assert_eq!(one["requested_by"], "dave@example.com", "{one}");

    // the wrong role, the wrong repository, not in the RBAC group: 403
    let (st, v) = approve(&s, &auditor, &web);
    assert_eq!((st, error_code(&v)), (403, "forbidden"), "{v}");
    let bots_person = p.es("ci", &["ci-bots"]);
    let (st, _) = approve(&s, &bots_person, &web);
    assert_eq!(st, 403, "an agent never approves");
    let (st, v) = approve(&s, &carol, &payments);
    assert_eq!((st, error_code(&v)), (403, "forbidden"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("repository"),
        "{v}"
    );
    let frank = p.rs("frank", &["web-owners"]);
    let (st, v) = approve(&s, &frank, &web);
    assert_eq!((st, error_code(&v)), (403, "forbidden"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Repository Owners"),
        "{v}"
    );

    // the requester never approves their own request, admin or not
    let (st, v) = approve(&s, &dave, &davids);
    assert_eq!((st, error_code(&v)), (403, "self_approval"), "{v}");

    // carol approves: the record names her verified identity and is signed
    let (st, v) = approve(&s, &carol, &web);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "approved");
    assert_eq!(v["decided_by"], "carol@example.com");
    assert_eq!(v["auth_method"], "oidc", "{v}");
    let (_, one) = s.get(&format!("/v1/approvals/{web}"), Some(&auditor));
    assert_eq!(one["signature_verified"], true, "{one}");
    // dave (admin: all repositories) decides what carol may not
    let (st, v) = approve(&s, &dave, &payments);
    assert_eq!(st, 200, "{v}");

    // the approved action passes once
    let (_, v) = ask(&s, &bot, "/srv/acme/web", 1);
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["rule_ids"][0], "approval.granted");
    let (_, v) = ask(&s, &bot, "/srv/acme/web", 1);
    assert_eq!(v["decision"], "require_approval", "used once: {v}");

    // a row approved behind the server's back (no valid signature) allows nothing
    let (_, v) = ask(&s, &bot, "/srv/acme/web", 4);
    let forged_id = v["approval_id"].as_str().unwrap().to_string();
    let db = rusqlite::Connection::open(s.dir.join("cavra.db")).unwrap();
    let n = db
        .execute(
            "UPDATE approvals SET state = 'approved', decided_by = 'mallory@example.com', \
             decided_at = requested_at, decision_reason = 'forged' WHERE approval_id = ?1",
            [&forged_id],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let (_, one) = s.get(&format!("/v1/approvals/{forged_id}"), Some(&auditor));
    assert_eq!(one["state"], "approved", "{one}");
    assert_eq!(one["signature_verified"], false, "{one}");
    let (_, v) = ask(&s, &bot, "/srv/acme/web", 4);
    assert_ne!(
        v["decision"], "allow",
        "a forged approval must not allow: {v}"
    );
}

/// Releasing a session and breaking the glass check what approving checks: the person's
/// RBAC view (their IdP groups as RBAC groups) and their repositories.
#[test]
fn release_and_break_glass_follow_the_persons_repositories_and_rbac_groups() {
    let (_tmp, s, p) = start();
    let o = cavra(
        &s.dir,
        &[
            "--json", "tokens", "issue", "--name", "bot", "--role", "agent",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let bot = o.json()["token"].as_str().unwrap().to_string();
    // a critical block holds its session at once: one in acme/web, one in acme/payments
    let cwd = s.project.display().to_string();
    for (session, repo) in [("hw", "/srv/acme/web"), ("hp", "/srv/acme/payments")] {
        let (st, v) = s.post(
            "/v1/decisions",
            Some(&bot),
            &json!({"action_type": "execute_command", "target": "rm -rf /", "cwd": cwd,
                "repo_root": repo, "agent_id": "ci-agent", "session_id": session,
                "policy_pack": "strict"}),
        );
        assert_eq!((st, v["decision"].as_str()), (200, Some("block")), "{v}");
    }
    let carol = p.rs("carol", &["web-owners", "Repository Owners"]);
    let why = json!({"reason": "reviewed the blocked attempts"});
    let (st, v) = s.post("/v1/sessions/hp/release", Some(&carol), &why);
    assert_eq!((st, error_code(&v)), (403, "forbidden"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acme/payments"),
        "{v}"
    );
    let (st, v) = s.post("/v1/sessions/hw/release", Some(&carol), &why);
    assert_eq!(st, 200, "her group covers acme/web and grants approve: {v}");
    assert_eq!(v["released_by"], "carol@example.com", "{v}");
    assert_eq!(v["held"], false);

    // break-glass: an admin whose groups hold no break_glass permission is refused; one in
    // Platform Security (break_glass in the RBAC file) breaks the glass
    let bg = json!({"reason": "incident 7", "action_type": "execute_command",
        "target": "terraform destroy*", "ttl": "30m"});
    let dave = p.ed("dave", &["cavra-admins", "Repository Owners"]);
    let (st, v) = s.post("/v1/break-glass", Some(&dave), &bg);
    assert_eq!((st, error_code(&v)), (403, "forbidden"), "{v}");
    let erin = p.rs("erin", &["cavra-admins", "Platform Security"]);
    let (st, v) = s.post("/v1/break-glass", Some(&erin), &bg);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["requested_by"], "erin@example.com", "{v}");
    assert_eq!(v["state"], "break_glass");
}

/// One JSON-RPC message to `/mcp` with `token` (and the session's id): the HTTP status,
/// the `Mcp-Session-Id` header, and the JSON-RPC answer (from the JSON body or the event
/// stream; the error document on a refusal).
fn mcp_post(
    s: &Srv,
    token: &str,
    session: Option<&str>,
    msg: &Value,
) -> (u16, Option<String>, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut r = agent
        .post(s.url("/mcp"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18");
    if let Some(id) = session {
        r = r.header("Mcp-Session-Id", id);
    }
    let mut res = r
        .content_type("application/json")
        .send(msg.to_string())
        .unwrap();
    let status = res.status().as_u16();
    let sid = res
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = res.body_mut().read_to_string().unwrap();
    let answer = serde_json::from_str(&text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v.get("id").is_some())
            .unwrap_or(Value::String(text.clone()))
    });
    (status, sid, answer)
}

/// An MCP session on `/mcp` opened with `token`: its id (after `initialize` and
/// `notifications/initialized`).
fn mcp_session(s: &Srv, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "oidc-agent", "version": "0"}}});
    let (st, sid, v) = mcp_post(s, token, None, &init);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["serverInfo"]["name"], "cavra", "{v}");
    let sid = sid.expect("an Mcp-Session-Id");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (st, _, v) = mcp_post(s, token, Some(&sid), &note);
    assert_eq!(st, 202, "{v}");
    sid
}

/// `/mcp` takes the same OIDC people as the REST API: a JWT of a group mapped to `agent`
/// (or `admin`) asks through the tools, and its decision is in the server's evidence; an
/// approval request it opens names the person (who then cannot approve it);
/// expired or for another audience: 401, also inside a session opened with a good token;
/// `auditor` or `approver`: 403.
#[test]
fn oidc_tokens_on_mcp() {
    let (_tmp, s, p) = start();
    let bot = p.rs("ci", &["ci-bots"]);
    let sid = mcp_session(&s, &bot);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "check_command", "arguments": {"command": "rm -rf /"}}});
    let (st, _, v) = mcp_post(&s, &bot, Some(&sid), &call);
    assert_eq!(st, 200, "{v}");
    let out = &v["result"]["structuredContent"];
    assert_eq!(out["decision"], "block", "{v}");
    assert_eq!(out["proceed"], false, "{v}");
    let id = out["decision_id"].as_str().unwrap();
    let auditor = p.es("erin", &["auditors"]);
    let (st, d) = s.get(&format!("/v1/decisions/{id}"), Some(&auditor));
    assert_eq!(
        st, 200,
        "the /mcp decision is in the server's evidence: {d}"
    );
    // an admin may ask too; the approval request a /mcp call opens names who asked, so
    // the asker cannot approve it (as with POST /v1/decisions)
    let dave = p.ed("dave", &["cavra-admins", "Repository Owners"]);
    let sid = mcp_session(&s, &dave);
    let write = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "check_file_write", "arguments": {"path": "/work/elsewhere/mcp-1.txt"}}});
    let (st, _, v) = mcp_post(&s, &dave, Some(&sid), &write);
    assert_eq!(st, 200, "{v}");
    let out = &v["result"]["structuredContent"];
    assert_eq!(out["decision"], "require_approval", "{v}");
    let held = out["approval_id"].as_str().unwrap();
    let (_, one) = s.get(&format!("/v1/approvals/{held}"), Some(&auditor));
    assert_eq!(one["requested_by"], "dave@example.com", "{one}");
    let (st, v) = approve(&s, &dave, held);
    assert_eq!((st, error_code(&v)), (403, "self_approval"), "{v}");

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "oidc-agent", "version": "0"}}});
    let t = now();
    let expired = p.rsa.mint(
        "rsa-1",
        &json!({"iss": p.issuer, "aud": "cavra", "sub": "uid-ci", "iat": t - 7200, "exp": t - 3600, "groups": ["ci-bots"]}),
    );
    let wrong_aud = p.rsa.mint(
        "rsa-1",
        &json!({"iss": p.issuer, "aud": "someone-else", "sub": "uid-ci", "exp": t + 600, "groups": ["ci-bots"]}),
    );
    for (tok, why) in [(&expired, "expired"), (&wrong_aud, "wrong_audience")] {
        let (st, sid, v) = mcp_post(&s, tok, None, &init);
        assert_eq!(st, 401, "{why}: {v}");
        assert_eq!(error_code(&v), "unauthorized", "{why}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(why),
            "{why}: {v}"
        );
        assert!(sid.is_none(), "no session for {why}");
        // every request is checked, not only the one that opened the session
        let (st, _, v) = mcp_post(&s, tok, Some(&mcp_session(&s, &bot)), &call);
        assert_eq!(st, 401, "{why} inside a session: {v}");
    }
    for (tok, role) in [
        (auditor, "auditor"),
        (p.rs("carol", &["web-owners"]), "approver"),
    ] {
        let (st, _, v) = mcp_post(&s, &tok, None, &init);
        assert_eq!(st, 403, "{role}: {v}");
        assert_eq!(error_code(&v), "forbidden", "{role}: {v}");
    }
}
