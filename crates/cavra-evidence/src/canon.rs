//! Canonical JSON: the byte encoding that hashes and signatures are computed over.
//!
//! Rules: object keys sorted by their UTF-8 bytes, no insignificant whitespace, strings
//! escaped minimally (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters
//! as `\u00xx` lower-case hex, everything else as raw UTF-8), numbers as `serde_json`
//! prints them (integers in decimal, floats in shortest round-trip form), `true`,
//! `false`, `null` literally. Independent of `serde_json`'s `preserve_order` feature.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonical JSON text of `v`.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::with_capacity(1024);
    write_value(&mut out, v);
    out
}

/// Append the canonical encoding of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    write_any::<false>(out, v);
}

/// Append the canonical encoding of `v` with secrets redacted: exactly
/// `canonical_json` of `v` after [`crate::redact::redact_value`], without copying or
/// changing `v`.
pub fn write_value_redacted(out: &mut String, v: &Value) {
    write_any::<true>(out, v);
}

fn write_any<const REDACT: bool>(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match n.as_u64() {
            Some(u) => push_u64(out, u),
            None => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => match REDACT.then(|| crate::redact::redact_str(s)).flatten() {
            Some(r) => write_str(out, &r),
            None => write_str(out, s),
        },
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_any::<REDACT>(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            // serde_json's default map is already sorted; `preserve_order` maps are not
            let mut prev: Option<&String> = None;
            let sorted = m.keys().all(|k| {
                let ok = prev.is_none_or(|p| p.as_bytes() < k.as_bytes());
                prev = Some(k);
                ok
            });
            if sorted {
                for (i, (k, x)) in m.iter().enumerate() {
                    write_member::<REDACT>(out, i, k, x);
                }
            } else {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                for (i, (k, x)) in entries.into_iter().enumerate() {
                    write_member::<REDACT>(out, i, k, x);
                }
            }
            out.push('}');
        }
    }
}

fn write_member<const REDACT: bool>(out: &mut String, i: usize, k: &str, x: &Value) {
    if i > 0 {
        out.push(',');
    }
    write_str(out, k);
    out.push(':');
    if REDACT {
        if let Value::String(s) = x {
            if crate::redact::key_is_sensitive(k) {
                // the whole value of a secret-named member (kept if already redacted)
                if !s.is_empty() && !s.starts_with("[REDACTED") {
                    write_str(out, "[REDACTED:field]");
                } else {
                    write_str(out, s);
                }
                return;
            }
        }
    }
    write_any::<REDACT>(out, x);
}

/// Bytes that a JSON string literal must escape: control characters, `"` and `\\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Append `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let b = s.as_bytes();
    // most strings need no escape at all: copy them in one go
    let Some(first) = b.iter().position(|&c| NEEDS_ESCAPE[usize::from(c)]) else {
        out.push_str(s);
        out.push('"');
        return;
    };
    let mut start = 0;
    // only ASCII bytes are escaped, so byte positions are always char boundaries
    for (i, &c) in b.iter().enumerate().skip(first) {
        if !NEEDS_ESCAPE[usize::from(c)] {
            continue;
        }
        let esc: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(c >> 4)] as char);
            out.push(HEX[usize::from(c & 0xf)] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Append the decimal digits of `n` (what `serde_json` prints for an unsigned integer).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
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
