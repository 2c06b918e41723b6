//! Fixed-key test vectors: a known key, timestamp and body give a known record hash,
//! signature and Merkle root. Any change to the encoding breaks these on purpose.
#![allow(clippy::unwrap_used)]

use cavra_evidence::canon::canonical_json;
use cavra_evidence::merkle::{leaf_hash, Frontier};
use cavra_evidence::record::{record_sig_message, Unsigned, GENESIS_HASH};
use cavra_evidence::{SigningKey, SigningMode};
use serde_json::json;

const SEED: [u8; 32] = [7u8; 32];

fn record(body: &str) -> (String, String, String) {
    record_v(body, 1)
}

fn record_v(body: &str, v: u32) -> (String, String, String) {
    let k = SigningKey::from_bytes(SigningMode::Ed25519, SEED, "2025-01-01T00:00:00Z");
    let u = Unsigned {
        alg: "ed25519",
        body,
        key_id: k.key_id(),
        kind: "decision",
        prev_hash: GENESIS_HASH,
        record_id: "ev-000000000000-00000000",
        seq: 0,
        timestamp: "2025-01-01T00:00:00.000000Z",
        v,
    };
    let hash = u.hash();
    let sig = k.sign(&record_sig_message(&hash));
    let line = u.line(&hash, &sig);
    (hash, sig, line)
}

#[test]
fn fixed_key_record_vector() {
    let k = SigningKey::from_bytes(SigningMode::Ed25519, SEED, "t");
    let body = canonical_json(
        &json!({"session_id": "s1", "decision": "block", "rule_id": "commands.block"}),
    );
    assert_eq!(
        body,
        r#"{"decision":"block","rule_id":"commands.block","session_id":"s1"}"#
    );
    let (hash, sig, line) = record(&body);
    println!("key_id={} hash={hash} sig={sig}", k.key_id());
    assert_eq!(k.key_id(), KEY_ID);
    assert_eq!(hash, HASH);
    assert_eq!(sig, SIG);
    let mut f = Frontier::new();
    f.push(leaf_hash(line.as_bytes()));
    f.push(leaf_hash(b""));
    println!("root={}", hex::encode(f.root()));
    assert_eq!(hex::encode(f.root()), ROOT);
    assert!(k
        .verifying_key()
        .verify(&record_sig_message(&hash), &sig)
        .is_ok());
}

/// A version-2 (RFC 8785) record: the body's whole float and `\b` in JCS form, and a
/// hash that an outside tool reproduces — `V2_HASH` is Python's `hashlib.sha256` over
/// `json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
/// (JCS for this envelope: ASCII keys, no fractional numbers).
#[test]
fn fixed_key_record_vector_v2() {
    let body = canonical_json(&json!({
        "session_id": "s1", "decision": "block", "evaluation_us": 12.0, "note": "a\u{8}b"
    }));
    assert_eq!(
        body,
        r#"{"decision":"block","evaluation_us":12,"note":"a\bb","session_id":"s1"}"#
    );
    let (hash, sig, line) = record_v(&body, cavra_evidence::record::RECORD_VERSION);
    println!("v2 hash={hash} sig={sig}");
    assert_eq!(hash, V2_HASH);
    assert_eq!(sig, V2_SIG);
    assert!(line.ends_with(r#""v":2}"#), "{line}");
}

#[test]
fn fixed_key_hmac_vector() {
    let k = SigningKey::from_bytes(SigningMode::HmacSha256, SEED, "t");
    let (hash, _, _) = record("{}");
    let tag = k.sign(&record_sig_message(&hash));
    println!("hmac key_id={} tag={tag}", k.key_id());
    assert_eq!(k.key_id(), HMAC_KEY_ID);
    assert_eq!(tag, HMAC_TAG);
}

const KEY_ID: &str = "ed25519-fe812c12f3ab4ce6";
const HASH: &str = "9ef1e3e316f2cec0c1eef815f73e459f4952ff5d25872700597df2f274948aa4";
const SIG: &str =
    "gLVEz29IHUNAvlUXuZgKICtuMZJgE+KgTHyh1T9MerhosoZz1oMWNJPs7DxTVmuzQWZmYI75EFsjEcxFlSvoCA==";
const ROOT: &str = "741fa940214873c2f6720c8288e0071729879e503efdc640f99826e2916a79a8";
const HMAC_KEY_ID: &str = "hmac-fc1a7c7dcc4caa99";
const HMAC_TAG: &str = "Ru/g6QwnUxV+h/Aq06bayuHc9EzMniu+Tgd5pyxSh1U=";
const V2_HASH: &str = "dd1a9fb1acd0d019cceaf31aba334f6d875ca5e017aafb171906b5d72be2b094";
const V2_SIG: &str =
    "jS5fJ0gkfJnKNJUwLiKc0S641GO7ctdCmZYj4F2zpjOxd3YHsVpztsryKN/889ZHOVf27foEQaWJJEJdJYVkDw==";
