//! Connectors over TLS: a loopback HTTPS receiver whose certificate a test CA (made per
//! run with rcgen) signs. With the CA configured (`ca_file`) the webhook is delivered over
//! TLS; without it the receiver is not trusted: every attempt fails on the certificate, the
//! delivery is dead-lettered, and its error says so.
#![allow(clippy::unwrap_used, clippy::panic)]

use cavra_evidence::Record;
use cavra_server::connectors::{Delivery, Dispatcher, Settings};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A CA, and a server certificate for 127.0.0.1 it signed: (CA PEM, server config).
fn test_pki() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "CAVRA connectors test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca_cert.pem(), Arc::new(cfg))
}

/// A receiver's URL, the bodies it got, and its count of failed handshakes.
type Receiver = (String, Arc<Mutex<Vec<Vec<u8>>>>, Arc<Mutex<u32>>);

/// An HTTPS server on 127.0.0.1 answering 200 to each request it can read; returns its
/// URL, the bodies it got, and how many handshakes failed.
fn tls_receiver(cfg: Arc<rustls::ServerConfig>) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(Mutex::new(0u32));
    let (seen, refused) = (got.clone(), failed.clone());
    std::thread::spawn(move || {
        for tcp in l.incoming() {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut r = BufReader::new(&mut tls);
            let mut line = String::new();
            if r.read_line(&mut line).is_err() || line.is_empty() {
                *refused.lock().unwrap() += 1;
                continue;
            }
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() {
                    break;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            seen.lock().unwrap().push(body);
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (url, got, failed)
}

fn record() -> Record {
    Record {
        alg: "ed25519".into(),
        body: json!({"cavra_decision": "block", "rule_id": "git.force_push", "target": "git push -f"}),
        hash: "h".repeat(64),
        key_id: "k".into(),
        kind: "decision".into(),
        prev_hash: "0".repeat(64),
        record_id: "rec-tls".into(),
        seq: 1,
        sig: "s".into(),
        timestamp: "2026-12-01T10:00:00Z".into(),
        v: 2,
    }
}

fn run(cfg: Value) -> Vec<Delivery> {
    let env = |k: &str| (k == "HOOK_KEY").then(|| "whsec-tls".to_string());
    let settings = Settings::parse(&cfg, std::path::Path::new("/"), &env).unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    let d = Dispatcher::start(settings, move |d| o.lock().unwrap().push(d.clone()));
    d.send(record());
    d.finish();
    let v = out.lock().unwrap().clone();
    v
}

#[test]
fn a_webhook_is_delivered_over_tls_to_a_receiver_the_configured_ca_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, server) = test_pki();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let (url, got, failed) = tls_receiver(server);
    let ds = run(
        json!({"targets": [{"type": "webhook", "url": format!("{url}/hook"),
        "secret_env": "HOOK_KEY", "ca_file": ca_file.to_str().unwrap()}]}),
    );
    assert_eq!(ds.len(), 1);
    assert_eq!((ds[0].status, ds[0].attempts), ("delivered", 1), "{ds:?}");
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0]).unwrap();
    assert_eq!(body["record"]["record_id"], "rec-tls");
    assert_eq!(*failed.lock().unwrap(), 0);
    drop(got);

    // the CA under the section applies to every target that names none
    let ds = run(json!({"ca_file": ca_file.to_str().unwrap(), "targets": [
        {"type": "webhook", "url": url, "secret_env": "HOOK_KEY"}]}));
    assert_eq!(ds[0].status, "delivered", "{ds:?}");
}

#[test]
fn an_untrusted_certificate_is_a_dead_letter_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let (_, server) = test_pki();
    let (url, got, failed) = tls_receiver(server);
    // the system's roots only: the test CA is not among them
    let ds = run(
        json!({"max_attempts": 2, "backoff_ms": 5, "dead_letter_file": dead.to_str().unwrap(),
        "targets": [{"type": "webhook", "url": format!("{url}/hook?token=s3cret"), "secret_env": "HOOK_KEY"}]}),
    );
    assert_eq!((ds[0].status, ds[0].attempts), ("dead_letter", 2), "{ds:?}");
    let err = ds[0].error.clone().unwrap();
    assert!(err.starts_with("TLS: certificate not trusted"), "{err}");
    assert!(
        got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
    // the receiver counts a refused handshake when its read fails, which may be after the
    // client has given up and `run` returned: wait (bounded) for its thread to get there
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while *failed.lock().unwrap() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(*failed.lock().unwrap(), 2, "both handshakes were refused");
    let text = std::fs::read_to_string(&dead).unwrap();
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["delivery"]["status"], "dead_letter");
    assert!(
        line["delivery"]["error"]
            .as_str()
            .unwrap()
            .contains("certificate"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("whsec-tls"),
        "{text}"
    );

    // a CA of another PKI (the same name, another key) is no better: the signature fails
    let (other_ca, _) = test_pki();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_ca).unwrap();
    let ds = run(
        json!({"max_attempts": 1, "targets": [{"type": "webhook", "url": url,
        "secret_env": "HOOK_KEY", "ca_file": other.to_str().unwrap()}]}),
    );
    assert_eq!(ds[0].status, "dead_letter");
    assert!(
        ds[0]
            .error
            .as_deref()
            .unwrap_or("")
            .starts_with("TLS: certificate"),
        "{ds:?}"
    );
}

#[test]
fn a_bad_ca_file_stops_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let env = |k: &str| (k == "HOOK_KEY").then(|| "k".to_string());
    for (cfg, want) in [
        (
            json!({"ca_file": junk.to_str().unwrap(), "targets": []}),
            "holds no PEM certificate",
        ),
        (
            json!({"targets": [{"type": "webhook", "url": "https://x", "secret_env": "HOOK_KEY",
            "ca_file": dir.path().join("none.pem").to_str().unwrap()}]}),
            "targets[0]: CA file",
        ),
        (
            json!({"ca_file": 3, "targets": []}),
            "`ca_file` must be a file path",
        ),
    ] {
        let e = Settings::parse(&cfg, std::path::Path::new("/"), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{cfg}: {e}");
    }
}
