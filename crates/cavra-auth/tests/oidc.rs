//! OIDC validation end to end: keys generated here (RSA, P-256, Ed25519), tokens minted
//! here (signed with AWS-LC directly, not through the library under test), and the
//! issuer's discovery document and JWKS served on a loopback port by a std::net thread.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use cavra_auth::{At, AuthError, AuthMethod, OidcConfig, OidcValidator, Repositories, Role};
use serde_json::{json, Value};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://idp.example.com/realms/acme";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of the test, with its public JWK.
enum Key {
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair),
    Ed(sig::Ed25519KeyPair),
}

impl Key {
    fn rsa() -> Key {
        Key::Rsa(sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }
    fn ec() -> Key {
        Key::Ec(sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }
    fn ed() -> Key {
        Key::Ed(sig::Ed25519KeyPair::generate().unwrap())
    }

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
                assert_eq!(p.len(), 65);
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
}

/// `header.payload.signature`, signed by `sign`.
fn mint_with(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let s = sign(msg.as_bytes());
    format!("{msg}.{}", b64(&s))
}

fn mint(key: &Key, kid: &str, claims: &Value) -> String {
    mint_with(
        &json!({"alg": key.alg(), "typ": "JWT", "kid": kid}),
        claims,
        |m| key.sign(m),
    )
}

fn claims(sub: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISSUER, "aud": ["account", "cavra"], "sub": sub,
        "email": format!("{sub}@example.com"),
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600,
        "groups": groups,
    })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn without(mut c: Value, key: &str) -> Value {
    c.as_object_mut().unwrap().remove(key);
    c
}

/// The issuer on loopback: `/.well-known/openid-configuration` and `/jwks`.
struct Idp {
    port: u16,
    jwks: Arc<Mutex<Value>>,
    discovery_issuer: Arc<Mutex<String>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Idp {
    fn start(keys: Vec<Value>) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let jwks = Arc::new(Mutex::new(json!({ "keys": keys })));
        let discovery_issuer = Arc::new(Mutex::new(ISSUER.to_string()));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let discovery_hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (j, d, jh, dh, st) = (
            jwks.clone(),
            discovery_issuer.clone(),
            jwks_hits.clone(),
            discovery_hits.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let path = read_request_path(&mut conn);
                let (status, body) = match path.as_str() {
                    "/.well-known/openid-configuration" => {
                        dh.fetch_add(1, Ordering::SeqCst);
                        let iss = d.lock().unwrap().clone();
                        let doc = json!({"issuer": iss, "jwks_uri": format!("http://127.0.0.1:{port}/jwks")});
                        ("200 OK", doc.to_string())
                    }
                    "/jwks" => {
                        jh.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", j.lock().unwrap().to_string())
                    }
                    _ => ("404 Not Found", "{}".to_string()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Idp {
            port,
            jwks,
            discovery_issuer,
            jwks_hits,
            discovery_hits,
            stop,
            thread: Some(thread),
        }
    }

    fn serve(&self, keys: Vec<Value>) {
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    fn discovery_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/.well-known/openid-configuration",
            self.port
        )
    }

    fn jwks_fetches(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request_path(conn: &mut TcpStream) -> String {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1).unwrap_or("").to_string()
}

const ROLES: &str = r#"
  roles:
    admin: [cavra-admins]
    approver: [platform-security, web-owners]
    auditor: [auditors]
    agent: [ci-bots]
  repositories:
    platform-security: ["**"]
    web-owners: ["acme/web", "acme/web-*"]
"#;

fn validator(source: &str, extra: &str) -> OidcValidator {
    let text = format!("oidc:\n  issuer: {ISSUER}\n  audience: cavra\n  {source}\n{extra}{ROLES}");
    let cfg = OidcConfig::parse(&text, Path::new("server.yaml")).unwrap();
    OidcValidator::new(&cfg).unwrap()
}

fn at(t0: Instant, secs: u64) -> At {
    At {
        unix: NOW,
        instant: t0 + Duration::from_secs(secs),
    }
}

#[test]
fn rs256_es256_and_eddsa_tokens_validate_through_discovery() {
    let (rsa, ec, ed) = (Key::rsa(), Key::ec(), Key::ed());
    let idp = Idp::start(vec![rsa.jwk("r1"), ec.jwk("e1"), ed.jwk("d1")]);
    let v = validator(&format!("discovery_url: {}", idp.discovery_url()), "");
    let t0 = Instant::now();
    for (key, kid, sub) in [
        (&rsa, "r1", "alice"),
        (&ec, "e1", "bob"),
        (&ed, "d1", "carol"),
    ] {
        let token = mint(key, kid, &claims(sub, &["web-owners", "auditors"]));
        let p = v
            .validate_at(&token, at(t0, 1))
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!(p.subject, sub);
        assert_eq!(
            p.email.as_deref(),
            Some(format!("{sub}@example.com").as_str())
        );
        assert_eq!(p.issuer.as_deref(), Some(ISSUER));
        assert_eq!(p.method, AuthMethod::Oidc);
        assert_eq!(p.roles, BTreeSet::from([Role::Approver, Role::Auditor]));
        assert!(p.may_access_repo("acme/web") && !p.may_access_repo("acme/payments"));
    }
    // discovery once, the JWKS once: the cache served the other two
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(idp.jwks_fetches(), 1);
    // the validator is shared by the server's blocking threads
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&v);
}

#[test]
fn key_rotation_refreshes_once_for_an_unknown_kid() {
    let (a, b, c) = (Key::ec(), Key::rsa(), Key::ed());
    let idp = Idp::start(vec![a.jwk("A")]);
    let v = validator(&format!("discovery_url: {}", idp.discovery_url()), "");
    let t0 = Instant::now();
    let token_a = mint(&a, "A", &claims("alice", &["auditors"]));
    v.validate_at(&token_a, at(t0, 0)).unwrap();
    assert_eq!(idp.jwks_fetches(), 1);

    // the issuer rotates in key B
    idp.serve(vec![a.jwk("A"), b.jwk("B")]);
    let token_b = mint(&b, "B", &claims("bob", &["auditors"]));
    // within the refresh interval (30s) an unknown kid does not reach the issuer
    let e = v.validate_at(&token_b, at(t0, 5)).unwrap_err();
    assert_eq!(e, AuthError::UnknownKid("B".into()));
    assert_eq!(idp.jwks_fetches(), 1);
    // after it: one refresh, and B validates
    let p = v.validate_at(&token_b, at(t0, 31)).unwrap();
    assert_eq!(p.subject, "bob");
    assert_eq!(idp.jwks_fetches(), 2);
    // A is still served and still valid, from the cache
    v.validate_at(&token_a, at(t0, 32)).unwrap();
    // a kid nobody publishes: one refresh at most per interval, then unknown
    let token_c = mint(&c, "C", &claims("mallory", &["cavra-admins"]));
    assert_eq!(
        v.validate_at(&token_c, at(t0, 33)).unwrap_err(),
        AuthError::UnknownKid("C".into())
    );
    assert_eq!(
        v.validate_at(&token_c, at(t0, 34)).unwrap_err(),
        AuthError::UnknownKid("C".into())
    );
    assert_eq!(idp.jwks_fetches(), 2, "rate limited");

    // A is retired; once the cache time (5m) is up, A's tokens fail
    idp.serve(vec![b.jwk("B")]);
    v.validate_at(&token_a, at(t0, 200)).unwrap();
    let e = v.validate_at(&token_a, at(t0, 400)).unwrap_err();
    assert_eq!(e, AuthError::UnknownKid("A".into()));
    assert_eq!(idp.jwks_fetches(), 3);
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 1);
}

#[test]
fn threads_racing_on_first_use_fetch_once() {
    let key = Key::ed();
    let idp = Idp::start(vec![key.jwk("k")]);
    let v = Arc::new(validator(
        &format!("discovery_url: {}", idp.discovery_url()),
        "",
    ));
    let token = Arc::new(mint(&key, "k", &claims("alice", &["auditors"])));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (v, token) = (v.clone(), token.clone());
            std::thread::spawn(move || v.validate_at(&token, at(t0, 0)).map(|p| p.subject))
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap().unwrap(), "alice");
    }
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(v.key_fetches(), 1);
}

#[test]
fn claims_are_checked() {
    let (key, other) = (Key::ec(), Key::ec());
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk("k")]}).to_string()).unwrap();
    let v = validator(&format!("jwks_file: {}", jwks.display()), "");
    let t0 = Instant::now();
    let check = |c: Value| v.validate_at(&mint(&key, "k", &c), at(t0, 0));
    let base = claims("alice", &["web-owners"]);
    check(base.clone()).unwrap();

    // expiry, with the 60s leeway
    let e = check(with(base.clone(), "exp", json!(NOW - 61))).unwrap_err();
    assert_eq!(
        e,
        AuthError::Expired {
            exp: NOW - 61,
            now: NOW
        }
    );
    assert_eq!(e.code(), "expired");
    check(with(base.clone(), "exp", json!(NOW - 30))).unwrap();
    assert!(matches!(
        check(without(base.clone(), "exp")).unwrap_err(),
        AuthError::BadClaim { claim, .. } if claim == "exp"
    ));
    // not before
    let e = check(with(base.clone(), "nbf", json!(NOW + 120))).unwrap_err();
    assert_eq!(
        e,
        AuthError::NotYetValid {
            nbf: NOW + 120,
            now: NOW
        }
    );
    check(with(base.clone(), "nbf", json!(NOW + 30))).unwrap();
    assert!(matches!(
        check(with(base.clone(), "iat", json!(NOW + 3600))).unwrap_err(),
        AuthError::NotYetValid { .. }
    ));
    // audience
    let e = check(with(base.clone(), "aud", json!("someone-else"))).unwrap_err();
    assert!(
        matches!(&e, AuthError::WrongAudience { found, .. } if found == &vec!["someone-else".to_string()]),
        "{e}"
    );
    check(with(base.clone(), "aud", json!("cavra"))).unwrap();
    assert!(matches!(
        check(without(base.clone(), "aud")).unwrap_err(),
        AuthError::BadClaim { .. }
    ));
    // issuer
    let e = check(with(base.clone(), "iss", json!("https://evil.example.com"))).unwrap_err();
    assert!(matches!(e, AuthError::WrongIssuer { .. }), "{e}");
    assert!(e.to_string().contains("evil.example.com"));
    // subject
    assert!(check(without(base.clone(), "sub")).is_err());
    assert!(check(with(base.clone(), "sub", json!(""))).is_err());
    // an unverified email is not an identity
    let p = check(with(base.clone(), "email_verified", json!(false))).unwrap();
    assert_eq!(p.identity(), "alice");
    assert_eq!(p.email, None);

    // signatures: another key under the same kid; a changed payload
    let forged = mint(&other, "k", &base);
    assert_eq!(
        v.validate_at(&forged, at(t0, 0)).unwrap_err(),
        AuthError::BadSignature
    );
    let good = mint(&key, "k", &base);
    let (msg, s) = good.rsplit_once('.').unwrap();
    let (h, _) = msg.split_once('.').unwrap();
    let admin = b64(claims("alice", &["cavra-admins"]).to_string().as_bytes());
    let tampered = format!("{h}.{admin}.{s}");
    assert_eq!(
        v.validate_at(&tampered, at(t0, 0)).unwrap_err(),
        AuthError::BadSignature
    );
    // an expired token with a bad signature reports the signature, not the claims
    let forged_old = mint(&other, "k", &with(base.clone(), "exp", json!(1)));
    assert_eq!(
        v.validate_at(&forged_old, at(t0, 0)).unwrap_err(),
        AuthError::BadSignature
    );
    // errors about the token are credential errors (401)
    assert!(AuthError::BadSignature.is_credential_error());
}

#[test]
fn alg_none_and_hmac_with_the_public_key_are_refused() {
    let rsa = Key::rsa();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let jwk = rsa.jwk("r");
    std::fs::write(&jwks, json!({"keys": [jwk.clone()]}).to_string()).unwrap();
    let v = validator(&format!("jwks_file: {}", jwks.display()), "");
    let t0 = Instant::now();
    let c = claims("mallory", &["cavra-admins"]);

    // alg: none, with an empty and with a junk signature
    let none = mint_with(&json!({"alg": "none", "kid": "r"}), &c, |_| Vec::new());
    assert!(matches!(
        v.validate_at(&none, at(t0, 0)),
        Err(AuthError::Malformed(_))
    ));
    let none = mint_with(&json!({"alg": "none", "kid": "r"}), &c, |_| b"x".to_vec());
    assert_eq!(
        v.validate_at(&none, at(t0, 0)).unwrap_err(),
        AuthError::AlgorithmNotAllowed("none".into())
    );
    // HS256 keyed with the public key (the classic confusion): the n bytes, the JWK text
    for secret in [
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().unwrap())
            .unwrap(),
        jwk.to_string().into_bytes(),
    ] {
        for (alg, h) in [
            ("HS256", aws_lc_rs::hmac::HMAC_SHA256),
            ("HS512", aws_lc_rs::hmac::HMAC_SHA512),
        ] {
            let key = aws_lc_rs::hmac::Key::new(h, &secret);
            let t = mint_with(&json!({"alg": alg, "kid": "r"}), &c, |m| {
                aws_lc_rs::hmac::sign(&key, m).as_ref().to_vec()
            });
            assert_eq!(
                v.validate_at(&t, at(t0, 0)).unwrap_err(),
                AuthError::AlgorithmNotAllowed(alg.into())
            );
        }
    }
    // an allowed algorithm the key is not for
    let ec = Key::ec();
    let t = mint_with(&json!({"alg": "ES256", "kid": "r"}), &c, |m| ec.sign(m));
    assert_eq!(
        v.validate_at(&t, at(t0, 0)).unwrap_err(),
        AuthError::KeyMismatch {
            kid: "r".into(),
            alg: "ES256".into()
        }
    );
    // PS256 and other algorithms are not allowed at all
    let t = mint_with(&json!({"alg": "PS256", "kid": "r"}), &c, |m| rsa.sign(m));
    assert_eq!(
        v.validate_at(&t, at(t0, 0)).unwrap_err(),
        AuthError::AlgorithmNotAllowed("PS256".into())
    );
    // a configuration that allows ES256 only refuses RS256
    let only_es = validator(
        &format!("jwks_file: {}", jwks.display()),
        "  algorithms: [ES256]\n",
    );
    let t = mint(&rsa, "r", &claims("alice", &[]));
    v.validate_at(&t, at(t0, 0)).unwrap();
    assert_eq!(
        only_es.validate_at(&t, at(t0, 0)).unwrap_err(),
        AuthError::AlgorithmNotAllowed("RS256".into())
    );
}

#[test]
fn groups_map_to_roles_and_repositories() {
    let key = Key::ed();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk("k")]}).to_string()).unwrap();
    let t0 = Instant::now();
    let v = validator(&format!("jwks_file: {}", jwks.display()), "");
    let who = |groups: &[&str]| {
        v.validate_at(&mint(&key, "k", &claims("u", groups)), at(t0, 0))
            .unwrap()
    };
    let admin = who(&["cavra-admins"]);
    assert!(Role::ALL.iter().all(|r| admin.has_role(*r)));
    assert_eq!(admin.repositories, Repositories::All);
    let bot = who(&["ci-bots"]);
    assert_eq!(bot.roles, BTreeSet::from([Role::Agent]));
    assert!(!bot.has_role(Role::Approver));
    let sec = who(&["platform-security"]);
    assert!(sec.has_role(Role::Approver) && sec.may_access_repo("acme/payments"));
    let nobody = who(&["marketing"]);
    assert!(nobody.roles.is_empty());
    assert!(!nobody.may_access_repo("acme/web"));

    // a nested groups claim (Keycloak's realm roles)
    let nested = validator(
        &format!("jwks_file: {}", jwks.display()),
        "  groups_claim: realm_access.roles\n",
    );
    let c = with(
        without(claims("kc", &[]), "groups"),
        "realm_access",
        json!({"roles": ["auditors", "offline_access"]}),
    );
    let p = nested.validate_at(&mint(&key, "k", &c), at(t0, 0)).unwrap();
    assert_eq!(p.roles, BTreeSet::from([Role::Auditor]));
    assert_eq!(p.groups, vec!["auditors", "offline_access"]);
    // a groups claim of the wrong type is an error, not "no groups"
    let c = with(claims("x", &[]), "groups", json!({"a": 1}));
    assert!(matches!(
        v.validate_at(&mint(&key, "k", &c), at(t0, 0)).unwrap_err(),
        AuthError::BadClaim { claim, .. } if claim == "groups"
    ));
}

#[test]
fn the_issuer_must_be_reachable_and_consistent() {
    let key = Key::ec();
    let idp = Idp::start(vec![key.jwk("k")]);
    *idp.discovery_issuer.lock().unwrap() = "https://other-issuer".into();
    let v = validator(&format!("discovery_url: {}", idp.discovery_url()), "");
    let token = mint(&key, "k", &claims("alice", &[]));
    let e = v.validate_at(&token, at(Instant::now(), 0)).unwrap_err();
    assert!(matches!(e, AuthError::BadKeySet { .. }), "{e}");
    assert!(e.to_string().contains("other-issuer"), "{e}");
    assert!(!e.is_credential_error());
    assert_eq!(idp.jwks_fetches(), 0);

    // nothing listening: a fetch error naming the URL, and a start-up check that fails
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/jwks");
    let v = validator(&format!("jwks_url: {url}"), "  http_timeout: 2s\n");
    let e = v.refresh_keys().unwrap_err();
    assert!(
        matches!(&e, AuthError::Fetch { url: u, .. } if *u == url),
        "{e}"
    );
    let e = v.validate_at(&token, at(Instant::now(), 0)).unwrap_err();
    assert_eq!(e.code(), "jwks_unavailable");

    // a JWKS URL that answers 404
    let v = validator(&format!("jwks_url: http://127.0.0.1:{}/nope", idp.port), "");
    assert!(matches!(
        v.refresh_keys().unwrap_err(),
        AuthError::Fetch { .. }
    ));
    // and the real one, directly
    let v = validator(&format!("jwks_url: http://127.0.0.1:{}/jwks", idp.port), "");
    assert_eq!(v.refresh_keys().unwrap().kids(), vec!["k"]);
    v.validate_at(&token, at(Instant::now(), 0)).unwrap();
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn file_validator() -> (OidcValidator, Key, tempfile::TempDir) {
        let key = Key::ec();
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(&jwks, json!({"keys": [key.jwk("k")]}).to_string()).unwrap();
        (
            validator(&format!("jwks_file: {}", jwks.display()), ""),
            key,
            dir,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_are_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (v, _, _dir) = file_validator();
            let text = String::from_utf8_lossy(&bytes);
            prop_assert!(v.validate_at(&text, at(Instant::now(), 0)).is_err());
        }

        #[test]
        fn three_random_parts_are_refused(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,80}", c in "[A-Za-z0-9_-]{0,120}") {
            let (v, _, _dir) = file_validator();
            let token = [a, b, c].join(".");
            prop_assert!(v.validate_at(&token, at(Instant::now(), 0)).is_err());
        }

        #[test]
        fn a_changed_byte_breaks_a_valid_token(pos in any::<prop::sample::Index>(), to in any::<u8>()) {
            let (v, key, _dir) = file_validator();
            let token = mint(&key, "k", &claims("alice", &["auditors"]));
            let mut bytes = token.clone().into_bytes();
            let i = pos.index(bytes.len());
            prop_assume!(bytes[i] != to);
            bytes[i] = to;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            prop_assume!(changed != token);
            // the signature covers the text: any change (even in base64's spare bits,
            // which a strict decoder refuses) fails
            prop_assert!(v.validate_at(&changed, at(Instant::now(), 0)).is_err());
        }
    }
}
