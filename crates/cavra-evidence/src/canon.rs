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
    let mut out = String::with_capacity(256);
    write_value(&mut out, v);
    out
}

/// Append the canonical encoding of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                if let Some(x) = m.get(k.as_str()) {
                    write_value(out, x);
                }
            }
            out.push('}');
        }
    }
}

/// Append `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{08}' => Some("\\b"),
            '\u{0c}' => Some("\\f"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
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
