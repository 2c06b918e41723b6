//! Canonical JSON for evidence: the encoding of `cavra_core::canon` (RFC 8785, JCS —
//! the one encoder core's request hashes use too), plus the redacting variant records are
//! written with, and the legacy form of version-1 records.
//!
//! Records of envelope version 2 (what is written now) are JCS: an outside verifier
//! recomputes a record hash with any JCS implementation and SHA-256. Records of version 1
//! were written before JCS: numbers as `serde_json` prints them (`12.0`, `1e-6`, exact
//! integers beyond 2^53) and keys in UTF-8 byte order ([`Form::LegacyV1`]); they verify as
//! they are (a record hash covers its stored body bytes) and re-encode with
//! [`canonical_json_in`]. Checkpoints and tombstones hold only ASCII strings and small
//! integers, on which both forms agree.

use std::borrow::Cow;

pub use cavra_core::canon::{write_str, write_u64 as push_u64, Form};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonical (RFC 8785) JSON text of `v`.
pub fn canonical_json(v: &Value) -> String {
    canonical_json_in(v, Form::Jcs)
}

/// Canonical JSON text of `v` in `form`.
pub fn canonical_json_in(v: &Value, form: Form) -> String {
    let mut out = String::with_capacity(1024);
    cavra_core::canon::write_value_with(&mut out, v, form, &|_, _| None);
    out
}

/// Append the canonical encoding of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    cavra_core::canon::write_value(out, v);
}

/// Append the canonical encoding of `v` with secrets redacted: exactly
/// `canonical_json` of `v` after [`crate::redact::redact_value`], without copying or
/// changing `v`.
pub fn write_value_redacted(out: &mut String, v: &Value) {
    cavra_core::canon::write_value_with(out, v, Form::Jcs, &redact_member);
}

/// Writes one JSON object member by member — the members given in canonical order — with
/// the string values redacted exactly as [`write_value_redacted`] redacts them: the bytes
/// `write_value_redacted` gives for the same object built as a JSON tree, without building
/// the tree (a record of the decision path is written straight to its canonical form).
/// Keys are plain ASCII literals; a debug build checks their order.
#[derive(Debug)]
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    last: Option<&'static str>,
}

impl<'o> ObjectWriter<'o> {
    /// Opens an object at the end of `out`.
    pub fn open(out: &'o mut String) -> ObjectWriter<'o> {
        out.push('{');
        ObjectWriter { out, last: None }
    }

    fn key(&mut self, k: &'static str) {
        debug_assert!(
            self.last.is_none_or(|l| l.as_bytes() < k.as_bytes()),
            "member `{k}` written after `{:?}`",
            self.last
        );
        if self.last.is_some() {
            self.out.push(',');
        }
        self.last = Some(k);
        write_str(self.out, k);
        self.out.push(':');
    }

    /// A string member.
    pub fn str(&mut self, k: &'static str, s: &str) {
        self.key(k);
        match redact_member(Some(k), s) {
            Some(r) => write_str(self.out, &r),
            None => write_str(self.out, s),
        }
    }

    /// A string member, `null` when there is none.
    pub fn str_or_null(&mut self, k: &'static str, s: Option<&str>) {
        match s {
            Some(s) => self.str(k, s),
            None => {
                self.key(k);
                self.out.push_str("null");
            }
        }
    }

    /// A string member, left out when there is none.
    pub fn str_if(&mut self, k: &'static str, s: Option<&str>) {
        if let Some(s) = s {
            self.str(k, s);
        }
    }

    pub fn bool(&mut self, k: &'static str, b: bool) {
        self.key(k);
        self.out.push_str(if b { "true" } else { "false" });
    }

    /// A number member (`null` when not finite, as a JSON tree holds it).
    pub fn f64(&mut self, k: &'static str, x: f64) {
        self.key(k);
        cavra_core::canon::write_f64(self.out, x);
    }

    /// An array of strings (each redacted as an array element is: by its text alone).
    pub fn strs<S: AsRef<str>>(&mut self, k: &'static str, items: &[S]) {
        self.key(k);
        self.out.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let s = s.as_ref();
            match redact_member(None, s) {
                Some(r) => write_str(self.out, &r),
                None => write_str(self.out, s),
            }
        }
        self.out.push(']');
    }

    /// Any JSON value (encoded and redacted as [`write_value_redacted`] does).
    pub fn value(&mut self, k: &'static str, v: &Value) {
        match v {
            // only a string directly under a member is redacted by the member's name
            Value::String(s) => self.str(k, s),
            _ => {
                self.key(k);
                write_value_redacted(self.out, v);
            }
        }
    }

    /// An object member, written by `f`.
    pub fn object(&mut self, k: &'static str, f: impl FnOnce(&mut ObjectWriter<'_>)) {
        self.key(k);
        let mut w = ObjectWriter::open(self.out);
        f(&mut w);
        w.close();
    }

    /// An array of objects, each written by `f`.
    pub fn objects<T>(
        &mut self,
        k: &'static str,
        items: &[T],
        mut f: impl FnMut(&mut ObjectWriter<'_>, &T),
    ) {
        self.key(k);
        self.out.push('[');
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let mut w = ObjectWriter::open(self.out);
            f(&mut w, x);
            w.close();
        }
        self.out.push(']');
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push('}');
    }
}

/// The redaction of one string value (`key`: its member name, if any).
fn redact_member<'v>(key: Option<&str>, s: &'v str) -> Option<Cow<'v, str>> {
    if key.is_some_and(crate::redact::key_is_sensitive) {
        // the whole value of a secret-named member (kept if already redacted)
        return (!s.is_empty() && !s.starts_with("[REDACTED"))
            .then_some(Cow::Borrowed("[REDACTED:field]"));
    }
    crate::redact::redact_str(s).map(Cow::Owned)
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&Sha256::digest(data))
}

/// Lower-case hex of `bytes` (what `hex::encode` gives, without a `char` per digit).
pub fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x\ny\u{1}\"\\"], "c": {"z": 1.5, "y": -2}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":[true,null,"x\ny\u0001\"\\"],"b":1,"c":{"y":-2,"z":1.5}}"#
        );
    }

    #[test]
    fn strings_and_integers_match_serde_json() {
        use proptest::prelude::*;
        proptest!(|(s in "\\PC*|[\\x00-\\x7f]*", n in any::<u64>())| {
            let mut out = String::new();
            write_str(&mut out, &s);
            let back: String = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(&back, &s);
            let mut d = String::new();
            push_u64(&mut d, n);
            prop_assert_eq!(d, n.to_string());
            prop_assert_eq!(hex_lower(s.as_bytes()), hex::encode(s.as_bytes()));
        });
    }

    /// An object written member by member is the object built as a tree, redacted and
    /// encoded: secret-named members, secrets in strings, arrays and nested values.
    #[test]
    fn an_object_written_by_members_is_the_tree_redacted_and_encoded() {
        let mut out = String::new();
        let mut w = ObjectWriter::open(&mut out);
        w.value(
            "args",
            &json!({"z": 1, "password": "hunter2", "a": ["mysql -phunter2"]}),
        );
        w.str_or_null("b", None);
        w.bool("c", true);
        w.f64("d", 12.0);
        w.f64("e", f64::NAN);
        w.objects("f", &[1, 2], |w, n| {
            w.f64("n", f64::from(*n));
            w.str_if("token", Some("abc"));
        });
        w.object("g", |w| w.str("secret", "[REDACTED:field]"));
        w.str("password", "hunter2");
        w.strs("s", &["DB_PASSWORD=hunter2 ./run", "ok"]);
        w.str_if("t", None);
        w.value("u", &json!("Bearer abcdefghijk"));
        w.close();
        let tree = json!({
            "args": {"z": 1, "password": "hunter2", "a": ["mysql -phunter2"]},
            "b": null, "c": true, "d": 12.0, "e": null,
            "f": [{"n": 1.0, "token": "abc"}, {"n": 2.0, "token": "abc"}],
            "g": {"secret": "[REDACTED:field]"},
            "password": "hunter2",
            "s": ["DB_PASSWORD=hunter2 ./run", "ok"],
            "u": "Bearer abcdefghijk",
        });
        let mut want = String::new();
        write_value_redacted(&mut want, &tree);
        assert_eq!(out, want);
        assert!(!out.contains("hunter2"), "{out}");
    }

    /// Redacting while encoding gives exactly what redacting in place, then encoding,
    /// gives.
    #[test]
    fn redacted_encoding_equals_redact_then_encode() {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            proptest::sample::select(vec![
                "",
                "x",
                "[REDACTED:field]",
                "DB_PASSWORD=hunter2 ./run",
                "AKIAIOSFODNN7EXAMPLE",
                "https://bob:pa55@github.com/x",
                "mysql -phunter2",
                "Bearer abcdefghijk",
                "ok\n\"q\"",
            ])
            .prop_map(Value::from),
        ];
        let keys = proptest::sample::select(vec![
            "a",
            "token",
            "API_TOKEN",
            "password",
            "command",
            "x-api_key",
            "b",
            "z",
            "Secret",
        ]);
        let tree = leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        });
        proptest!(|(v in tree)| {
            let mut direct = String::new();
            write_value_redacted(&mut direct, &v);
            let mut r = v.clone();
            crate::redact::redact_value(&mut r);
            prop_assert_eq!(direct, canonical_json(&r));
        });
    }

    #[test]
    fn round_trips_through_serde() {
        let v = json!({"é": "ünï ☃", "n": 12345678901234u64, "f": 0.1, "neg": -0.0});
        let s = canonical_json(&v);
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(canonical_json(&back), s);
    }

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_hex(canonical_json(&json!({"b":2,"a":1})).as_bytes()),
            sha256_hex(br#"{"a":1,"b":2}"#)
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
