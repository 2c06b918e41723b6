//! Secret redaction for request data before it is written to the evidence log.
//!
//! Hand-rolled scanners (no regex compile on the hook path). Each match is replaced by
//! `[REDACTED:<kind>]`. Object members whose key names a secret (`password`, `token`,
//! `secret`, `api_key`, `authorization`, ...) have their string value replaced entirely.

use serde_json::Value;

const SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "authorization",
    "client_secret",
    "credentials",
];

pub(crate) fn key_is_sensitive(k: &str) -> bool {
    // `token`, `GITHUB_TOKEN`, `x-api_key`...; only string values are redacted
    let kb = k.as_bytes();
    // compare the last three letters first: most keys are out at once
    let Some(tail) = kb
        .get(kb.len().saturating_sub(3)..)
        .filter(|t| t.len() == 3)
    else {
        return false;
    };
    if !SENSITIVE_KEYS
        .iter()
        .any(|s| s.as_bytes()[s.len() - 3..].eq_ignore_ascii_case(tail))
    {
        return false;
    }
    SENSITIVE_KEYS.iter().any(|s| {
        let sb = s.as_bytes();
        kb.len() >= sb.len()
            && kb[kb.len() - sb.len()..].eq_ignore_ascii_case(sb)
            && (kb.len() == sb.len() || matches!(kb[kb.len() - sb.len() - 1], b'_' | b'-'))
    })
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Redact secrets in every string of `v` (recursively), in place.
pub fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(r) = redact_str(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if key_is_sensitive(k) {
                    if let Value::String(s) = x {
                        if !s.is_empty() && !s.starts_with("[REDACTED") {
                            *s = "[REDACTED:field]".to_string();
                        }
                        continue;
                    }
                }
                redact_value(x);
            }
        }
        _ => {}
    }
}

const T_PEM: u16 = 1 << 0;
const T_URL: u16 = 1 << 1;
const T_AWS: u16 = 1 << 2;
const T_GH: u16 = 1 << 3;
const T_SLACK: u16 = 1 << 4;
const T_JWT: u16 = 1 << 5;
const T_BEARER: u16 = 1 << 6;
const T_KV: u16 = 1 << 7;
const T_DASHP: u16 = 1 << 8;

fn starts_ci(b: &[u8], p: &[u8]) -> bool {
    b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p)
}

/// One pass over `s`: which scanners could match (a superset of each scanner's own
/// trigger check). Most strings have none, and then no scanner runs.
fn triggers(s: &str) -> u16 {
    let b = s.as_bytes();
    let mut m = 0;
    for i in 0..b.len() {
        let c = b[i];
        if !TRIGGER_START[usize::from(c)] {
            continue;
        }
        let r = &b[i..];
        // the second byte rules out almost every start before any longer comparison
        let d = r.get(1).copied().unwrap_or(0);
        let dl = d.to_ascii_lowercase();
        match c.to_ascii_lowercase() {
            b'-' => {
                if d == b'p' {
                    m |= T_DASHP;
                }
                if d == b'-' && r.starts_with(b"-----BEGIN") {
                    m |= T_PEM;
                }
            }
            b':' if d == b'/' && r.starts_with(b"://") => m |= T_URL,
            b'a' => {
                if (d == b'K' || d == b'S') && (r.starts_with(b"AKIA") || r.starts_with(b"ASIA")) {
                    m |= T_AWS;
                }
                if (dl == b'p' && (starts_ci(r, b"api_key") || starts_ci(r, b"apikey")))
                    || (dl == b'c' && starts_ci(r, b"access_key"))
                {
                    m |= T_KV;
                }
            }
            b'b' if dl == b'e' && starts_ci(r, b"bearer ") => m |= T_BEARER,
            b'e' if d == b'y' && r.starts_with(b"eyJ") => m |= T_JWT,
            b'g' if (d == b'h' && c == b'g') || r.starts_with(b"github_pat_") => m |= T_GH,
            b'p' if (dl == b'a' && starts_ci(r, b"passw"))
                || (dl == b'w' && starts_ci(r, b"pwd")) =>
            {
                m |= T_KV
            }
            b's' if dl == b'e' && starts_ci(r, b"secret") => m |= T_KV,
            b't' if dl == b'o' && starts_ci(r, b"token") => m |= T_KV,
            b'x' if d == b'o' && r.starts_with(b"xox") => m |= T_SLACK,
            _ => {}
        }
    }
    m
}

/// First bytes of anything [`triggers`] looks for.
static TRIGGER_START: [bool; 256] = {
    let mut t = [false; 256];
    let starts = b"-:aAbBeEgGpPsStTxX";
    let mut i = 0;
    while i < starts.len() {
        t[starts[i] as usize] = true;
        i += 1;
    }
    t
};

/// Redact secrets in one string; `None` when nothing was found.
pub fn redact_str(s: &str) -> Option<String> {
    let mut mask = triggers(s);
    if mask == 0 {
        return None;
    }
    let mut cur: Option<String> = None;
    for (bit, f) in [
        (T_PEM, private_key_blocks as fn(&str) -> Option<String>),
        (T_URL, url_userinfo),
        (T_AWS, aws_keys),
        (T_GH, github_tokens),
        (T_SLACK, slack_tokens),
        (T_JWT, jwts),
        (T_BEARER, bearer),
        (T_KV, key_values),
        (T_DASHP, dash_p),
    ] {
        if mask & bit == 0 {
            continue;
        }
        let input = cur.as_deref().unwrap_or(s);
        if let Some(r) = f(input) {
            // a replacement can create triggers for the scanners that follow
            mask = triggers(&r);
            cur = Some(r);
        }
    }
    cur
}

/// The redacted copy of a string under construction: the text between replaced spans
/// is copied unchanged, each replaced span becomes a marker.
struct Redacted<'a> {
    s: &'a str,
    out: String,
    /// End of the last replaced span: `s[last..]` is not copied yet.
    last: usize,
    changed: bool,
}

impl<'a> Redacted<'a> {
    fn new(s: &'a str) -> Self {
        Redacted {
            s,
            out: String::new(),
            last: 0,
            changed: false,
        }
    }

    /// Replace `s[start..end]` (at or after the previous span) by `marker`.
    fn replace(&mut self, start: usize, end: usize, marker: &str) {
        self.out.push_str(&self.s[self.last..start]);
        self.out.push_str(marker);
        self.last = end;
        self.changed = true;
    }

    /// The redacted string; `None` when nothing was replaced.
    fn finish(mut self) -> Option<String> {
        if !self.changed {
            return None;
        }
        self.out.push_str(&self.s[self.last..]);
        Some(self.out)
    }
}

/// Walk `s`: wherever `span_at(i)` finds a secret starting at byte `i`, it returns the
/// span `start..end` to replace by `marker` (with `end > i`), and the walk goes on after it.
fn replace_spans(
    s: &str,
    marker: &str,
    mut span_at: impl FnMut(usize) -> Option<(usize, usize)>,
) -> Option<String> {
    let mut red = Redacted::new(s);
    let mut i = 0;
    while i < s.len() {
        match span_at(i) {
            Some((start, end)) => {
                red.replace(start, end, marker);
                i = end;
            }
            None => i += 1,
        }
    }
    red.finish()
}

fn is_tok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')
}

/// Replace, for every occurrence of `prefix` at a token start, the token continuing with
/// bytes accepted by `body` (at least `min` of them) by the marker.
fn replace_prefixed(
    s: &str,
    prefixes: &[&str],
    body: fn(u8) -> bool,
    min: usize,
    marker: &str,
) -> Option<String> {
    let b = s.as_bytes();
    replace_spans(s, marker, |i| {
        if i > 0 && is_tok(b[i - 1]) {
            return None;
        }
        let p = prefixes.iter().find(|p| b[i..].starts_with(p.as_bytes()))?;
        let mut j = i + p.len();
        while j < b.len() && body(b[j]) {
            j += 1;
        }
        (j - i - p.len() >= min).then_some((i, j))
    })
}

fn aws_keys(s: &str) -> Option<String> {
    if !s.contains("AKIA") && !s.contains("ASIA") {
        return None;
    }
    let b = s.as_bytes();
    replace_spans(s, "[REDACTED:aws-access-key]", |i| {
        if i + 20 > b.len() {
            return None;
        }
        let head = &b[i..i + 4];
        ((head == b"AKIA" || head == b"ASIA")
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b[i + 4..i + 20]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && (i + 20 == b.len() || !b[i + 20].is_ascii_alphanumeric()))
        .then_some((i, i + 20))
    })
}

fn github_tokens(s: &str) -> Option<String> {
    if !s.contains("gh") && !s.contains("github_pat_") {
        return None;
    }
    let r = replace_prefixed(
        s,
        &["github_pat_"],
        |c| c.is_ascii_alphanumeric() || c == b'_',
        20,
        "[REDACTED:github-token]",
    );
    let base = r.as_deref().unwrap_or(s);
    replace_prefixed(
        base,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        |c| c.is_ascii_alphanumeric(),
        20,
        "[REDACTED:github-token]",
    )
    .or(r)
}

fn slack_tokens(s: &str) -> Option<String> {
    if !s.contains("xox") {
        return None;
    }
    replace_prefixed(
        s,
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe-",
        ],
        |c| c.is_ascii_alphanumeric() || c == b'-',
        8,
        "[REDACTED:slack-token]",
    )
}

fn b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn jwts(s: &str) -> Option<String> {
    if !s.contains("eyJ") {
        return None;
    }
    let b = s.as_bytes();
    replace_spans(s, "[REDACTED:jwt]", |i| {
        if !b[i..].starts_with(b"eyJ") || (i > 0 && b64url(b[i - 1])) {
            return None;
        }
        // three dot-separated base64url parts, the first two non-empty
        let mut j = i;
        let mut parts = 0;
        let mut lens = [0usize; 3];
        loop {
            let st = j;
            while j < b.len() && b64url(b[j]) {
                j += 1;
            }
            lens[parts] = j - st;
            parts += 1;
            if parts == 3 || j >= b.len() || b[j] != b'.' {
                break;
            }
            j += 1;
        }
        (parts == 3 && lens[0] >= 10 && lens[1] >= 4).then_some((i, j))
    })
}

fn bearer(s: &str) -> Option<String> {
    if !contains_ci(s, "bearer ") {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let b = s.as_bytes();
    let lb = lower.as_bytes();
    replace_spans(s, "[REDACTED:bearer-token]", |i| {
        if !lb[i..].starts_with(b"bearer ") || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            return None;
        }
        let mut j = i + 7;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let st = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b"._~+/=-".contains(&b[j])) {
            j += 1;
        }
        // only the token is replaced: `Bearer ` itself stays
        (j - st >= 8 && !s[st..j].starts_with("[REDACTED")).then_some((st, j))
    })
}

/// `password=…`, `token: …`, `secret=…`, `api_key=…` and variants (`DB_PASSWORD=…`,
/// `--password=…`, `"token": "…"`).
fn key_values(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    const KEYS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "api_key",
        "apikey",
        "access_key",
    ];
    if !KEYS.iter().any(|k| lower.contains(k)) {
        return None;
    }
    let b = s.as_bytes();
    let lb = lower.as_bytes();
    let mut red = Redacted::new(s);
    let mut i = 0;
    while i < b.len() {
        let Some(k) = KEYS.iter().find(|k| lb[i..].starts_with(k.as_bytes())) else {
            i += 1;
            continue;
        };
        // the key may be the tail of a longer identifier (DB_PASSWORD, github_token)
        let mut j = i + k.len();
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        // optional closing quote of a JSON/YAML key, spaces, then `=` or `:`
        if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
            j += 1;
        }
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j >= b.len() || (b[j] != b'=' && b[j] != b':') {
            i += k.len();
            continue;
        }
        j += 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let quote = if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
            j += 1;
            Some(b[j - 1])
        } else {
            None
        };
        let st = j;
        while j < b.len() {
            let c = b[j];
            let end = match quote {
                Some(q) => c == q,
                None => {
                    c.is_ascii_whitespace()
                        || matches!(c, b'&' | b',' | b';' | b'"' | b'\'' | b'}' | b')')
                }
            };
            if end {
                break;
            }
            j += 1;
        }
        if j > st && !s[st..j].starts_with("[REDACTED") && !s[st..].starts_with("$") {
            red.replace(st, j, "[REDACTED:secret]");
        }
        i = j.max(i + 1);
    }
    red.finish()
}

/// `-p<password>` glued to the flag (mysql style), sparing common compiler flags.
fn dash_p(s: &str) -> Option<String> {
    if !s.contains("-p") {
        return None;
    }
    const SPARE: &[&str] = &[
        "-pthread",
        "-pedantic",
        "-pedantic-errors",
        "-pipe",
        "-pie",
        "-pg",
        "-print",
        "-pp",
        "-preview",
        "-profile",
        "-progress",
        "-prune",
        "-perm",
        "-path",
        "-print0",
        "-printf",
        "-p1",
        "-p0",
        "-parallel",
        "-proto",
    ];
    let b = s.as_bytes();
    let mut red = Redacted::new(s);
    let mut i = 0;
    while i + 2 < b.len() {
        if &b[i..i + 2] == b"-p" && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            let mut j = i + 2;
            while j < b.len() && !b[j].is_ascii_whitespace() {
                j += 1;
            }
            let word = &s[i..j];
            let spared = SPARE
                .iter()
                .any(|p| word == *p || (p.len() > 3 && word.starts_with(p)))
                || word.starts_with("-p=") && word.len() == 3
                || word[2..].chars().all(|c| c.is_ascii_digit())
                || word.starts_with("-p[REDACTED");
            if j > i + 2 && !spared {
                red.replace(i + 2, j, "[REDACTED:password]");
            }
            i = j;
            continue;
        }
        i += 1;
    }
    red.finish()
}

fn private_key_blocks(s: &str) -> Option<String> {
    if !s.contains("-----BEGIN") {
        return None;
    }
    let mut red = Redacted::new(s);
    let mut from = 0;
    while let Some(p) = s[from..].find("-----BEGIN") {
        let begin = from + p;
        let after = &s[begin..];
        let header_end = after[10..].find("-----").map(|e| e + 15);
        let is_private = header_end
            .map(|e| after[..e].contains("PRIVATE KEY"))
            .unwrap_or(false);
        if !is_private {
            from = begin + 10;
            continue;
        }
        // to the end marker (`-----END … PRIVATE KEY-----`) or the end of the string
        let close = match after.find("-----END") {
            Some(e) => {
                let tail = &after[e + 8..];
                tail.find("-----")
                    .map(|c| e + 8 + c + 5)
                    .unwrap_or(after.len())
            }
            None => after.len(),
        };
        red.replace(begin, begin + close, "[REDACTED:private-key]");
        from = begin + close;
    }
    red.finish()
}

/// `scheme://user:password@host` → `scheme://user:[REDACTED]@host`.
fn url_userinfo(s: &str) -> Option<String> {
    if !s.contains("://") {
        return None;
    }
    let mut red = Redacted::new(s);
    let mut from = 0;
    while let Some(p) = s[from..].find("://") {
        let auth_start = from + p + 3;
        let tail = &s[auth_start..];
        let end = tail
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                if colon + 1 < at && !authority[colon + 1..at].starts_with("[REDACTED") {
                    red.replace(
                        auth_start + colon + 1,
                        auth_start + at,
                        "[REDACTED:url-password]",
                    );
                    from = auth_start + at;
                    continue;
                }
            }
        }
        from = auth_start;
    }
    red.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(s: &str) -> String {
        redact_str(s).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn aws() {
        assert_eq!(
            r("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"),
            "export AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]"
        );
        assert_eq!(r("AKIA is a prefix"), "AKIA is a prefix");
    }

    #[test]
    fn github_slack_bearer_jwt() {
        let gh = format!("git push https://x.io ghp_{}", "a".repeat(36));
        assert!(r(&gh).ends_with("[REDACTED:github-token]"));
        let pat = format!("github_pat_{}", "A1_".repeat(20));
        assert_eq!(r(&pat), "[REDACTED:github-token]");
        assert_eq!(r("xoxb-1234567890-abcdefABCDEF"), "[REDACTED:slack-token]");
        assert_eq!(
            r("curl -H 'Authorization: Bearer abc.def-ghi_jkl' x"),
            "curl -H 'Authorization: Bearer [REDACTED:bearer-token]' x"
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_-nature";
        assert_eq!(r(&format!("tok {jwt} end")), "tok [REDACTED:jwt] end");
    }

    #[test]
    fn key_value_and_dash_p() {
        assert_eq!(
            r("DB_PASSWORD=hunter2 ./run"),
            "DB_PASSWORD=[REDACTED:secret] ./run"
        );
        assert_eq!(r("x?token=abc&y=1"), "x?token=[REDACTED:secret]&y=1");
        assert_eq!(
            r(r#"{"secret": "s3cr3t"}"#),
            r#"{"secret": "[REDACTED:secret]"}"#
        );
        assert_eq!(r("--password 'x'"), "--password 'x'"); // no separator: left alone
        assert_eq!(
            r("mysql -uroot -phunter2 db"),
            "mysql -uroot -p[REDACTED:password] db"
        );
        assert_eq!(r("gcc -pthread -O2 x.c"), "gcc -pthread -O2 x.c");
        assert_eq!(r("mkdir -p a/b"), "mkdir -p a/b");
        assert_eq!(r("echo token=$TOKEN"), "echo token=$TOKEN");
    }

    #[test]
    fn private_keys_and_urls() {
        let pk = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(r(pk), "a\n[REDACTED:private-key]\nb");
        assert_eq!(
            r("-----BEGIN PUBLIC KEY-----\nabc"),
            "-----BEGIN PUBLIC KEY-----\nabc"
        );
        assert_eq!(
            r("git clone https://bob:pa55@github.com/x/y.git"),
            "git clone https://bob:[REDACTED:url-password]@github.com/x/y.git"
        );
        assert_eq!(r("https://github.com/x@y"), "https://github.com/x@y");
    }

    #[test]
    fn values_recursively_and_sensitive_keys() {
        let mut v = json!({"request": {"command": "psql postgres://u:p@h/db", "env": {"API_TOKEN": "zzz", "n": 3}},
                            "list": ["AKIAIOSFODNN7EXAMPLE"]});
        redact_value(&mut v);
        assert_eq!(
            v["request"]["command"],
            "psql postgres://u:[REDACTED:url-password]@h/db"
        );
        assert_eq!(v["request"]["env"]["API_TOKEN"], "[REDACTED:field]");
        assert_eq!(v["request"]["env"]["n"], 3);
        assert_eq!(v["list"][0], "[REDACTED:aws-access-key]");
    }

    #[test]
    fn sensitive_key_names() {
        for k in SENSITIVE_KEYS {
            assert!(key_is_sensitive(k), "{k}");
            assert!(
                key_is_sensitive(&format!("GITHUB_{}", k.to_uppercase())),
                "{k}"
            );
            assert!(key_is_sensitive(&format!("x-{k}")), "{k}");
            assert!(!key_is_sensitive(&format!("{k}s_count")), "{k}");
            if !k.contains('_') {
                assert!(!key_is_sensitive(&format!("my{k}")), "{k}");
            }
        }
        for k in [
            "",
            "id",
            "session_id",
            "decision",
            "keyword",
            "tokens",
            "pw",
        ] {
            assert!(!key_is_sensitive(k), "{k}");
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        for s in [
            "DB_PASSWORD=hunter2",
            "mysql -phunter2",
            "Bearer abcdefghijk",
            "https://a:b@c",
        ] {
            let once = r(s);
            assert_eq!(r(&once), once, "{s}");
        }
    }

    /// The trigger pre-check must never hide a match: compare with running every
    /// scanner unconditionally.
    fn redact_all(s: &str) -> Option<String> {
        let mut cur: Option<String> = None;
        for f in [
            private_key_blocks as fn(&str) -> Option<String>,
            url_userinfo,
            aws_keys,
            github_tokens,
            slack_tokens,
            jwts,
            bearer,
            key_values,
            dash_p,
        ] {
            let input = cur.as_deref().unwrap_or(s);
            if let Some(r) = f(input) {
                cur = Some(r);
            }
        }
        cur
    }

    proptest::proptest! {
        #[test]
        fn trigger_precheck_equals_full_scan(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "password=", "PASSWD: ", "Token", "secret", "api_key", "ApiKey", "access_key",
                "pwd=", "Bearer ", "bearer  ", "eyJ", "eyJhbGciOiJIUzI1NiJ9", ".", "xoxb-",
                "xox", "ghp_", "gh", "github_pat_", "AKIA", "ASIA", "ABCDEFGHIJKLMNOP",
                "-p", "-pthread", " ", "-----BEGIN", " RSA PRIVATE KEY-----", "-----END",
                "https://", "user:pw@host", "://", "abc123XYZ", "\"", "'", "=", ":", "[REDACTED",
                "é", "\n",
            ]), 0..12)
        ) {
            let s: String = parts.concat();
            proptest::prop_assert_eq!(redact_str(&s), redact_all(&s));
        }
    }
}
