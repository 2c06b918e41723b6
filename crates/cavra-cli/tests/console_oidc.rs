//! Console sign-in at an OIDC issuer: the authorization code flow with PKCE against a
//! loopback issuer served here (discovery, JWKS, a token endpoint that checks the code
//! verifier against the challenge, ID tokens signed with Ed25519). The test plays the
//! browser: `/console/oidc/login` sends it to the issuer with state, nonce and an S256
//! challenge; the callback with the issuer's code opens a session of the person's verified
//! identity and roles. A wrong state, a wrong verifier and an ID token of another sign-in
//! (its nonce) are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "server_common.rs"]
mod server_common;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use serde_json::{json, Value};
use server_common::Srv;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the issuer issued a code for: the challenge and the nonce of that sign-in.
type Codes = Arc<Mutex<HashMap<String, (String, String)>>>;

fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.replace('+', " ");
    let mut out = Vec::new();
    let bytes = b.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&b[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn mint(key: &Ed25519KeyPair, claims: &Value) -> String {
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed-1"});
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{msg}.{}", b64(key.sign(msg.as_bytes()).as_ref()))
}

/// The issuer on a loopback port: its URL.
fn serve_issuer(key: Ed25519KeyPair, codes: Codes) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let iss = issuer.clone();
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64(key.public_key().as_ref())}]});
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, doc) = if path == "/.well-known/openid-configuration" {
                (
                    "200 OK",
                    json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks"),
                    "authorization_endpoint": format!("{iss}/authorize"), "token_endpoint": format!("{iss}/token")}),
                )
            } else if path == "/jwks" {
                ("200 OK", jwks.clone())
            } else if path == "/token" {
                let form = query(&format!("?{}", String::from_utf8_lossy(&body)));
                let found = codes.lock().unwrap().get(&form["code"]).cloned();
                match found {
                    Some((challenge, nonce))
                        if form["grant_type"] == "authorization_code"
                            && form["client_id"] == "cavra-console"
                            && b64(aws_lc_rs::digest::digest(
                                &aws_lc_rs::digest::SHA256,
                                form["code_verifier"].as_bytes(),
                            )
                            .as_ref())
                                == challenge =>
                    {
                        let t = i64::try_from(
                            std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_secs(),
                        )
                        .unwrap();
                        let claims = json!({"iss": iss, "aud": "cavra-console", "sub": "uid-carol",
                            "email": "carol@example.com", "email_verified": true, "nonce": nonce,
                            "iat": t - 5, "exp": t + 300, "groups": ["web-owners"]});
                        (
                            "200 OK",
                            json!({"id_token": mint(&key, &claims), "token_type": "Bearer"}),
                        )
                    }
                    _ => ("400 Bad Request", json!({"error": "invalid_grant"})),
                }
            } else {
                ("404 Not Found", json!({}))
            };
            let body = doc.to_string();
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

/// GET without following redirects: (status, Location, Set-Cookie values).
fn get(url: &str, cookie: Option<&str>) -> (u16, String, Vec<String>) {
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build()
        .into();
    let mut r = a.get(url);
    if let Some(c) = cookie {
        r = r.header("Cookie", c);
    }
    let res = r.call().unwrap();
    let h = res.headers();
    let location = h
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let cookies = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (res.status().as_u16(), location, cookies)
}

fn cookie_named(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {cookies:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn sign_in_at_the_issuer_with_pkce() {
    let codes: Codes = Arc::default();
    let key = Ed25519KeyPair::generate().unwrap();
    let issuer = serve_issuer(key, Arc::clone(&codes));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("server.yaml");
    std::fs::write(
        &cfg,
        format!(
            "auth:\n  oidc:\n    issuer: {issuer}\n    audience: cavra-console\n    discovery_url: {issuer}/.well-known/openid-configuration\n    roles:\n      approver: [web-owners]\n"
        ),
    )
    .unwrap();
    let s = Srv::start(&["--config", cfg.to_str().unwrap()], &[]);

    // the login sends the browser to the issuer with state, nonce and an S256 challenge
    let login = |next: &str| {
        let (st, location, cookies) =
            get(&s.url(&format!("/console/oidc/login?next={next}")), None);
        assert_eq!(st, 303);
        assert!(
            location.starts_with(&format!("{issuer}/authorize?")),
            "{location}"
        );
        let q = query(&location);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cavra-console");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["redirect_uri"], s.url("/console/oidc/callback"));
        assert!(q["scope"].split(' ').any(|x| x == "openid"), "{q:?}");
        let flow = cookies
            .iter()
            .find(|c| c.starts_with("cavra_oidc="))
            .unwrap()
            .clone();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/console/oidc"] {
            assert!(flow.contains(flag), "{flow}");
        }
        (q, flow.split(';').next().unwrap().to_string())
    };
    let (q, flow) = login("/approvals/apr-1");
    assert_ne!(q["state"], q["nonce"]);
    // the person signs in at the issuer, which sends the browser back with a code
    codes.lock().unwrap().insert(
        "code-1".into(),
        (q["code_challenge"].clone(), q["nonce"].clone()),
    );
    let back = |state: &str, code: &str, cookie: &str| {
        get(
            &s.url(&format!("/console/oidc/callback?code={code}&state={state}")),
            Some(cookie),
        )
    };
    // another state than this browser's sign-in: refused
    let (st, _, _) = back("forged", "code-1", &flow);
    assert_eq!(st, 401);
    // no sign-in cookie: refused
    let (st, _, _) = back(&q["state"], "code-1", "other=1");
    assert_eq!(st, 401);
    let (st, location, cookies) = back(&q["state"], "code-1", &flow);
    assert_eq!(st, 303, "{cookies:?}");
    assert_eq!(location, "/approvals/apr-1");
    let session = cookie_named(&cookies, "cavra_session");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("cavra_oidc=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    let (st, me) = server_common::call("GET", &s.url("/console/session"), None, None);
    assert_eq!(st, 401, "{me}");
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = a
        .get(s.url("/console/session"))
        .header("Cookie", &session)
        .call()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let me: Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(me["identity"], "carol@example.com", "{me}");
    assert_eq!(me["method"], "oidc");
    assert_eq!(me["roles"], json!(["approver"]));
    assert_eq!(me["may"]["approve"], true);
    assert!(me["token_id"].is_null());

    // a second sign-in that is handed the first one's code: the verifier does not match
    // that code's challenge, and the issuer refuses the exchange
    let (q2, flow2) = login("/");
    let (st, _, _) = back(&q2["state"], "code-1", &flow2);
    assert_eq!(st, 401);
    // an ID token minted for another sign-in (the first one's nonce) is refused
    codes.lock().unwrap().insert(
        "code-2".into(),
        (q2["code_challenge"].clone(), q["nonce"].clone()),
    );
    let (st, _, cookies) = back(&q2["state"], "code-2", &flow2);
    assert_eq!(st, 401, "{cookies:?}");
    assert!(cookies.is_empty());
}

#[test]
fn no_issuer_no_oidc_sign_in() {
    let s = Srv::start(&[], &[]);
    let (st, _, _) = get(&s.url("/console/oidc/login"), None);
    assert_eq!(st, 404);
}
