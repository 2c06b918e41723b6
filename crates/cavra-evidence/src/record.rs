//! The record envelope: one canonical-JSON line per record.
//!
//! ```text
//! {"alg":…,"body":{…},"hash":…,"key_id":…,"kind":…,"prev_hash":…,"record_id":…,"seq":…,"sig":…,"timestamp":…,"v":2}
//! ```
//! `hash` = lower-hex SHA-256 of the canonical JSON of the envelope without `hash` and
//! `sig`; `sig` = base64 signature of `"CAVRA-RECORD-V1\n" + hash` with the key `key_id`.
//!
//! `v` names the canonical form: 2 = RFC 8785 (JCS), 1 = the form before it
//! ([`crate::canon`]). The envelope itself (ASCII strings, `seq` and `v` far below 2^53)
//! is the same in both; only a body can differ.

use crate::canon::{canonical_json_in, push_u64, sha256_hex, write_str, Form};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Envelope format version written now: the body is RFC 8785 (JCS) canonical JSON.
pub const RECORD_VERSION: u32 = 2;
/// Envelope version of records written before JCS (they still verify).
pub const RECORD_VERSION_V1: u32 = 1;

/// The canonical form of a record of envelope version `v` (`None`: unknown version).
pub fn form_of(v: u32) -> Option<Form> {
    match v {
        RECORD_VERSION => Some(Form::Jcs),
        RECORD_VERSION_V1 => Some(Form::LegacyV1),
        _ => None,
    }
}
/// `prev_hash` of the first record of a log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Domain-separation prefix of record signatures.
pub const RECORD_SIG_PREFIX: &[u8] = b"CAVRA-RECORD-V1\n";

/// A parsed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub alg: String,
    pub body: Value,
    pub hash: String,
    pub key_id: String,
    pub kind: String,
    pub prev_hash: String,
    pub record_id: String,
    pub seq: u64,
    pub sig: String,
    pub timestamp: String,
    pub v: u32,
}

/// The envelope with the body borrowed as raw (already canonical) JSON text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecord<'a> {
    pub alg: String,
    #[serde(borrow)]
    pub body: &'a RawValue,
    pub hash: String,
    pub key_id: String,
    pub kind: String,
    pub prev_hash: String,
    pub record_id: String,
    pub seq: u64,
    pub sig: String,
    pub timestamp: String,
    pub v: u32,
}

/// The fields that a record hash covers.
pub struct Unsigned<'a> {
    pub alg: &'a str,
    pub body: &'a str,
    pub key_id: &'a str,
    pub kind: &'a str,
    pub prev_hash: &'a str,
    pub record_id: &'a str,
    pub seq: u64,
    pub timestamp: &'a str,
    pub v: u32,
}

impl Unsigned<'_> {
    /// Canonical JSON of the unsigned envelope (what `hash` covers).
    pub fn canonical(&self) -> String {
        let mut o = String::with_capacity(self.body.len() + 256);
        self.write_unsigned(&mut o);
        o
    }

    /// The record hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }

    /// Canonical JSON of the full envelope.
    pub fn line(&self, hash: &str, sig: &str) -> String {
        let mut o = String::with_capacity(self.body.len() + 256);
        let at = self.write_unsigned(&mut o);
        let mut line = String::new();
        splice(&o, at, hash, sig, &mut line);
        line
    }

    /// Hash, signature (from `sign(hash)`) and full line, encoding the envelope once:
    /// the unsigned canonical JSON is the line without the `hash` and `sig` members.
    pub fn seal(&self, sign: impl FnOnce(&str) -> String) -> (String, String, String) {
        let (mut scratch, mut line) = (String::new(), String::new());
        let (hash, sig) = self.seal_into(sign, &mut scratch, &mut line);
        (hash, sig, line)
    }

    /// [`Unsigned::seal`] writing into caller-owned buffers (cleared first), so a
    /// long-running appender reuses its allocations: `line` receives the full line,
    /// `scratch` the unsigned encoding. Returns the hash and the signature.
    pub fn seal_into(
        &self,
        sign: impl FnOnce(&str) -> String,
        scratch: &mut String,
        line: &mut String,
    ) -> (String, String) {
        scratch.clear();
        let at = self.write_unsigned(scratch);
        let hash = sha256_hex(scratch.as_bytes());
        let sig = sign(&hash);
        splice(scratch, at, &hash, &sig, line);
        (hash, sig)
    }

    /// Append the unsigned envelope (members in key order) to `o`; returns where the
    /// `hash` member (after `body`) and the `sig` member (after `seq`) belong.
    fn write_unsigned(&self, o: &mut String) -> (usize, usize) {
        o.reserve(self.body.len() + 256);
        o.push_str("{\"alg\":");
        write_str(o, self.alg);
        o.push_str(",\"body\":");
        o.push_str(self.body);
        let hash_at = o.len();
        o.push_str(",\"key_id\":");
        write_str(o, self.key_id);
        o.push_str(",\"kind\":");
        write_str(o, self.kind);
        o.push_str(",\"prev_hash\":");
        write_str(o, self.prev_hash);
        o.push_str(",\"record_id\":");
        write_str(o, self.record_id);
        o.push_str(",\"seq\":");
        push_u64(o, self.seq);
        let sig_at = o.len();
        o.push_str(",\"timestamp\":");
        write_str(o, self.timestamp);
        o.push_str(",\"v\":");
        push_u64(o, u64::from(self.v));
        o.push('}');
        (hash_at, sig_at)
    }
}

/// The full line: the unsigned envelope `o` with `hash` and `sig` put in their places
/// (`at` from `write_unsigned`), written to `line` (cleared first).
fn splice(o: &str, (hash_at, sig_at): (usize, usize), hash: &str, sig: &str, line: &mut String) {
    line.clear();
    line.reserve(o.len() + hash.len() + sig.len() + 24);
    line.push_str(&o[..hash_at]);
    line.push_str(",\"hash\":");
    write_str(line, hash);
    line.push_str(&o[hash_at..sig_at]);
    line.push_str(",\"sig\":");
    write_str(line, sig);
    line.push_str(&o[sig_at..]);
}

impl<'a> RawRecord<'a> {
    /// Parse one line.
    pub fn parse(line: &'a [u8]) -> Result<Self, String> {
        serde_json::from_slice(line).map_err(|e| format!("not a valid record envelope: {e}"))
    }
    /// The hashed part.
    pub fn unsigned(&self) -> Unsigned<'_> {
        Unsigned {
            alg: &self.alg,
            body: self.body.get(),
            key_id: &self.key_id,
            kind: &self.kind,
            prev_hash: &self.prev_hash,
            record_id: &self.record_id,
            seq: self.seq,
            timestamp: &self.timestamp,
            v: self.v,
        }
    }
}

impl Record {
    /// Parse one line.
    pub fn parse(line: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(line).map_err(|e| format!("not a valid record envelope: {e}"))
    }
    /// The canonical line (without newline), the body in the form of its version.
    pub fn to_line(&self) -> String {
        let body = canonical_json_in(&self.body, form_of(self.v).unwrap_or(Form::Jcs));
        Unsigned {
            alg: &self.alg,
            body: &body,
            key_id: &self.key_id,
            kind: &self.kind,
            prev_hash: &self.prev_hash,
            record_id: &self.record_id,
            seq: self.seq,
            timestamp: &self.timestamp,
            v: self.v,
        }
        .line(&self.hash, &self.sig)
    }
    /// `body.session_id` if present.
    pub fn session_id(&self) -> Option<&str> {
        self.body.get("session_id").and_then(Value::as_str)
    }
}

/// The message a record signature covers.
pub fn record_sig_message(hash: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(RECORD_SIG_PREFIX.len() + hash.len());
    m.extend_from_slice(RECORD_SIG_PREFIX);
    m.extend_from_slice(hash.as_bytes());
    m
}

/// The record id for a sequence number and previous hash.
pub fn make_record_id(seq: u64, prev_hash: &str) -> String {
    format!("ev-{seq:012}-{}", prev_hash.get(..8).unwrap_or(prev_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hand_written_envelope_equals_generic_canonical_json() {
        use crate::canon::canonical_json;
        let body = canonical_json(&json!({"z": 1, "a": "x\"y"}));
        let u = Unsigned {
            alg: "ed25519",
            body: &body,
            key_id: "ed25519-00",
            kind: "decision",
            prev_hash: GENESIS_HASH,
            record_id: "ev-1",
            seq: 7,
            timestamp: "2025-01-01T00:00:00.000000Z",
            v: 1,
        };
        let line = u.line("h", "s");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(canonical_json(&v), line);
        let mut m = v.as_object().unwrap().clone();
        m.remove("hash");
        m.remove("sig");
        assert_eq!(canonical_json(&Value::Object(m)), u.canonical());
        let (h2, s2, l2) = u.seal(|h| format!("sig-of-{h}"));
        assert_eq!(h2, u.hash());
        assert_eq!(s2, format!("sig-of-{}", u.hash()));
        assert_eq!(l2, u.line(&h2, &s2));
        let raw = RawRecord::parse(line.as_bytes()).unwrap();
        assert_eq!(raw.unsigned().line("h", "s"), line);
        assert_eq!(Record::parse(line.as_bytes()).unwrap().to_line(), line);
    }
}
