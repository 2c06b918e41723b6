//! Canonical JSON: the one byte encoding that hashes and signatures are computed over
//! (request hashes here, evidence record hashes in `cavra-evidence`).
//!
//! The canonical form is RFC 8785, the JSON Canonicalization Scheme (JCS), so that any
//! JCS implementation reproduces a hash:
//! - no insignificant whitespace;
//! - object members sorted by their keys compared as UTF-16 code units;
//! - strings with `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` escaped, other control
//!   characters as `\u00xx` (lower-case hex), everything else as raw UTF-8;
//! - numbers as ECMAScript prints an IEEE 754 double (`1` for `1.0`, `1e+21`,
//!   `0.000001`, `1e-7`, `-0` as `0`). An integer beyond ±2^53 is the double nearest to it,
//!   as in every JCS implementation: carry such values as strings when they must be exact.
//!
//! [`Form::LegacyV1`] is the encoding evidence records of envelope version 1 were written
//! in (numbers as `serde_json` prints them, keys in UTF-8 byte order; strings the same),
//! kept so that those records can be re-encoded exactly. Nothing new is written in it.
//!
//! Independent of `serde_json`'s `preserve_order` feature (the workspace enables it).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Which canonical form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// RFC 8785 (JCS): what everything is written in.
    Jcs,
    /// Evidence envelope version 1 (before JCS): `serde_json` numbers, UTF-8 key order.
    LegacyV1,
}

/// RFC 8785 canonical JSON text of `v`.
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, v);
    out
}

/// Append the RFC 8785 encoding of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    write_any(out, v, None, Form::Jcs, &|_, _| None);
}

/// Append the encoding of `v` in `form`, with every string value passed through
/// `rewrite(key, s)` first (`key`: the member name when the string is an object member's
/// value; `Some(new)` replaces the string). Keys are never rewritten. Evidence redacts
/// secrets this way while encoding, without copying the value.
pub fn write_value_with<'v, F>(out: &mut String, v: &'v Value, form: Form, rewrite: &F)
where
    F: Fn(Option<&str>, &'v str) -> Option<Cow<'v, str>>,
{
    write_any(out, v, None, form, rewrite);
}

fn write_any<'v, F>(out: &mut String, v: &'v Value, key: Option<&str>, form: Form, f: &F)
where
    F: Fn(Option<&str>, &'v str) -> Option<Cow<'v, str>>,
{
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match form {
            Form::Jcs => write_number(out, n),
            Form::LegacyV1 => write_number_v1(out, n),
        },
        Value::String(s) => match f(key, s) {
            Some(r) => write_str(out, &r),
            None => write_str(out, s),
        },
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_any(out, x, None, form, f);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            // members already in order (common: serializers write fields sorted, and
            // evidence records are built in order) are written without collecting them
            if in_order(m, form) {
                for (i, (k, x)) in m.iter().enumerate() {
                    write_member(out, i, k, x, form, f);
                }
            } else {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                if form == Form::LegacyV1 || !m.keys().any(|k| has_high(k)) {
                    // byte order is the order (see `cmp_keys`)
                    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                } else {
                    entries.sort_unstable_by(|a, b| cmp_keys(a.0, b.0));
                }
                for (i, (k, x)) in entries.into_iter().enumerate() {
                    write_member(out, i, k, x, form, f);
                }
            }
            out.push('}');
        }
    }
}

/// Are the members of `m` in the order of `form` already? (One pass over the keys in
/// byte order; the UTF-16 comparison of RFC 8785 only when a key holds a character at or
/// above U+E000, where the two orders can differ.)
fn in_order(m: &serde_json::Map<String, Value>, form: Form) -> bool {
    let mut keys = m.keys();
    let Some(mut prev) = keys.next() else {
        return true;
    };
    let mut high = form == Form::Jcs && has_high(prev);
    for k in keys {
        if prev.as_bytes() >= k.as_bytes() {
            return false;
        }
        high = high || (form == Form::Jcs && has_high(k));
        prev = k;
    }
    if !high {
        return true;
    }
    let mut keys = m.keys();
    let mut prev = keys.next();
    keys.all(|k| {
        let ok = prev.is_none_or(|p| cmp_keys(p, k) == Ordering::Less);
        prev = Some(k);
        ok
    })
}

fn write_member<'v, F>(out: &mut String, i: usize, k: &str, x: &'v Value, form: Form, f: &F)
where
    F: Fn(Option<&str>, &'v str) -> Option<Cow<'v, str>>,
{
    if i > 0 {
        out.push(',');
    }
    write_str(out, k);
    out.push(':');
    write_any(out, x, Some(k), form, f);
}

/// Object keys in RFC 8785 order: compared as UTF-16 code units. That is UTF-8 byte order
/// except between a character in U+E000..=U+FFFF and one above U+FFFF (a surrogate pair
/// sorts first in UTF-16).
pub fn cmp_keys(a: &str, b: &str) -> Ordering {
    let bytes = a.as_bytes().cmp(b.as_bytes());
    // a byte >= 0xEE starts a character >= U+E000: only then can the orders differ
    if bytes == Ordering::Equal || !(has_high(a) || has_high(b)) {
        return bytes;
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn has_high(s: &str) -> bool {
    s.bytes().any(|c| c >= 0xEE)
}

/// Bytes that a JSON string literal must escape: control characters, `"` and `\\`.
#[inline]
fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// Append `s` as a canonical JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len().saturating_add(2));
    out.push('"');
    let b = s.as_bytes();
    // most strings need no escape at all: copy them in one go
    let Some(first) = b.iter().position(|&c| needs_escape(c)) else {
        out.push_str(s);
        out.push('"');
        return;
    };
    let mut start = 0;
    // only ASCII bytes are escaped, so byte positions are always char boundaries
    for (i, &c) in b.iter().enumerate().skip(first) {
        if !needs_escape(c) {
            continue;
        }
        out.push_str(s.get(start..i).unwrap_or_default());
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(crate::at(HEX, usize::from(c >> 4))));
                out.push(char::from(crate::at(HEX, usize::from(c & 0xf))));
            }
        }
        start = i.saturating_add(1);
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Append the decimal digits of `n`.
pub fn write_u64(out: &mut String, mut n: u64) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(d) = buf.get_mut(i) {
            // n % 10 < 10: the cast cannot truncate
            *d = b'0'.saturating_add((n % 10) as u8);
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &d in buf.get(i..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

/// Integers up to this magnitude are exact doubles, printed as their digits.
const MAX_EXACT: u64 = 1 << 53;

/// Append a number as RFC 8785 prints it (the ECMAScript form of the double).
pub fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        if u <= MAX_EXACT {
            return write_u64(out, u);
        }
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_EXACT {
            out.push('-');
            return write_u64(out, i.unsigned_abs());
        }
    }
    write_f64(out, n.as_f64().unwrap_or(0.0));
}

/// Append a finite double as ECMAScript's `Number.prototype.toString` prints it
/// (ECMA-262 `Number::toString`, as RFC 8785 requires). JSON has no NaN or infinity;
/// they are written as `null`, as `JSON.stringify` does.
pub fn write_f64(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    if x == 0.0 {
        out.push('0'); // also -0
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // Rust prints the shortest digits that round-trip, nearest to the value: the digits
    // ECMAScript uses. `d.ddde±x` → digits `dddd`, exponent x
    let (mut digits, mut exp) = sci_digits(&format!("{:e}", x.abs()));
    // between two shortest candidates equally near the value ECMAScript takes the even
    // one, where Rust may take the other: when the last digit is odd, the correctly
    // rounded (ties to even) decimal of as many digits wins if it also reads back as `x`
    if digits.bytes().last().is_some_and(|d| d % 2 == 1) {
        let prec = digits.len().saturating_sub(1);
        let exact = format!("{:.prec$e}", x.abs());
        if exact.parse::<f64>().ok() == Some(x.abs()) {
            (digits, exp) = sci_digits(&exact);
        }
    }
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    // the value is 0.digits × 10^n
    let n = exp.saturating_add(1);
    let zeros = |out: &mut String, count: i64| {
        for _ in 0..count.max(0) {
            out.push('0');
        }
    };
    let split = |at: i64| usize::try_from(at).unwrap_or(0).min(digits.len());
    if k <= n && n <= 21 {
        out.push_str(&digits);
        zeros(out, n.saturating_sub(k));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(split(n));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        zeros(out, n.saturating_neg());
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(split(1));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = n.saturating_sub(1);
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        write_u64(out, e.unsigned_abs());
    }
}

/// The significant digits (no trailing zeros) and the decimal exponent of Rust's `{:e}`
/// text `d.ddde±x`.
fn sci_digits(sci: &str) -> (String, i64) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp.parse().unwrap_or(0))
}

/// Numbers of [`Form::LegacyV1`]: as `serde_json` prints them.
fn write_number_v1(out: &mut String, n: &Number) {
    match n.as_u64() {
        Some(u) => write_u64(out, u),
        None => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, x);
        s
    }

    /// RFC 8785 appendix B: IEEE 754 bit patterns and their canonical text.
    #[test]
    fn rfc8785_number_vectors() {
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for &(bits, want) in cases {
            assert_eq!(num(f64::from_bits(bits)), want, "{bits:#018x}");
        }
        assert_eq!(num(f64::NAN), "null");
        assert_eq!(num(f64::INFINITY), "null");
    }

    #[test]
    fn numbers_in_values() {
        let v = json!([
            1.0,
            12.5,
            -0.0,
            1e21,
            1e-7,
            0.000001,
            100,
            -3,
            9007199254740993u64
        ]);
        assert_eq!(
            to_string(&v),
            "[1,12.5,0,1e+21,1e-7,0.000001,100,-3,9007199254740992]"
        );
        assert_eq!(to_string(&json!(u64::MAX)), "18446744073709552000");
        assert_eq!(to_string(&json!(i64::MIN)), "-9223372036854776000");
    }

    /// RFC 8785 §3.2.2.2 and appendix: string escapes.
    #[test]
    fn rfc8785_string_escapes() {
        let v = json!("\u{20ac}$\u{f}\nA'B\"\\\\\"/");
        assert_eq!(to_string(&v), "\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"");
        let ctl: String = (0u8..0x20).map(char::from).collect();
        assert_eq!(
            to_string(&json!(ctl)),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\
             \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\
             \\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\""
        );
        // DEL and non-ASCII are not escaped
        assert_eq!(to_string(&json!("\u{7f}ü☃😀")), "\"\u{7f}ü☃😀\"");
    }

    /// RFC 8785 §3.2.3: keys sorted by UTF-16 code units (the RFC's own example).
    #[test]
    fn rfc8785_key_order() {
        let v = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{80}": "Control",
            "\u{f6}": "Latin Small Letter O With Diaeresis"
        });
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f600}\":\"Emoji: Grinning Face\",\
                    \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(to_string(&v), want);
        // UTF-8 order puts the emoji last: the legacy form
        let mut legacy = String::new();
        write_value_with(&mut legacy, &v, Form::LegacyV1, &|_, _| None);
        assert!(legacy.ends_with("\"\u{1f600}\":\"Emoji: Grinning Face\"}"));
    }

    /// RFC 8785 §3.2.4: the full example. (The numbers are parsed with Rust's exact
    /// parser: `serde_json` without `float_roundtrip` may land one ULP off.)
    #[test]
    fn rfc8785_example() {
        let n = |t: &str| Value::from(t.parse::<f64>().unwrap());
        let v = json!({
            "numbers": [n("333333333.33333329"), n("1E30"), n("4.50"), n("2e-3"),
                        n("0.000000000000000000000000001")],
            "string": "\u{20ac}$\u{f}\nA'B\"\\\\\"/",
            "literals": [null, true, false]
        });
        assert_eq!(
            to_string(&v),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
             \"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn strings_round_trip_and_integers_match() {
        use proptest::prelude::*;
        proptest!(|(s in "\\PC*|[\\x00-\\x7f]*", n in any::<u64>(), x in any::<f64>())| {
            let mut out = String::new();
            write_str(&mut out, &s);
            let back: String = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(&back, &s);
            let mut d = String::new();
            write_u64(&mut d, n);
            prop_assert_eq!(d, n.to_string());
            // the number text parses back to the same double
            if x.is_finite() {
                let t = num(x);
                let y: f64 = t.parse().unwrap();
                prop_assert!(y == x || (x == 0.0 && y == 0.0), "{} -> {}", x, t);
            }
        });
    }

    #[test]
    fn key_order_is_utf16_order() {
        use proptest::prelude::*;
        proptest!(|(a in "\\PC{0,4}", b in "\\PC{0,4}")| {
            prop_assert_eq!(cmp_keys(&a, &b), a.encode_utf16().cmp(b.encode_utf16()));
        });
    }

    /// The encoding of an object does not depend on the order its members were inserted
    /// in, and equals a reference that always collects and sorts (UTF-16 order for JCS,
    /// bytes for the legacy form): the in-order fast path and the byte-order sort of
    /// keys without a character at or above U+E000 change no byte.
    #[test]
    fn object_order_fast_paths_match_the_reference() {
        use proptest::prelude::*;
        fn reference(out: &mut String, v: &Value, form: Form) {
            match v {
                Value::Array(a) => {
                    out.push('[');
                    for (i, x) in a.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        reference(out, x, form);
                    }
                    out.push(']');
                }
                Value::Object(m) => {
                    let mut e: Vec<(&String, &Value)> = m.iter().collect();
                    match form {
                        Form::Jcs => e.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16())),
                        Form::LegacyV1 => e.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes())),
                    }
                    out.push('{');
                    for (i, (k, x)) in e.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_str(out, k);
                        out.push(':');
                        reference(out, x, form);
                    }
                    out.push('}');
                }
                leaf => write_value_with(out, leaf, form, &|_, _| None),
            }
        }
        // ASCII, Latin, BMP above U+E000 and astral keys: where byte and UTF-16 order differ
        let key = prop_oneof![
            "[a-z_]{0,6}",
            "[a-c\\x{e9}\\x{20ac}\\x{fb33}\\x{ffff}\\x{10000}\\x{1f600}]{1,3}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-z\\x{e9}\"]{0,4}".prop_map(Value::from),
        ];
        let tree = leaf.prop_recursive(3, 48, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                // members in the generated order (rarely sorted) or sorted by bytes first
                (
                    proptest::collection::vec((key.clone(), inner), 0..8),
                    any::<bool>()
                )
                    .prop_map(|(mut kv, sort)| {
                        if sort {
                            kv.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                        }
                        Value::Object(kv.into_iter().collect())
                    }),
            ]
        });
        proptest!(|(v in tree)| {
            for form in [Form::Jcs, Form::LegacyV1] {
                let mut got = String::new();
                write_value_with(&mut got, &v, form, &|_, _| None);
                let mut want = String::new();
                reference(&mut want, &v, form);
                prop_assert_eq!(&got, &want);
            }
        });
    }

    #[test]
    fn rewrite_sees_member_keys() {
        let v = json!({"token": "abc", "list": ["abc"], "n": {"token": 1}});
        let mut out = String::new();
        write_value_with(&mut out, &v, Form::Jcs, &|k, s| {
            (k == Some("token")).then(|| Cow::Owned(format!("<{s}>")))
        });
        assert_eq!(out, r#"{"list":["abc"],"n":{"token":1},"token":"<abc>"}"#);
    }
}
