//! Added content that looks like a secret: known key formats (AWS, GitHub, GitLab, Slack,
//! Stripe, Google, npm, OpenAI / Anthropic, private key blocks, Slack webhooks) and
//! high-entropy values assigned to a secret-looking name. Look-alikes pass: the vendors'
//! documented examples (`AKIAIOSFODNN7EXAMPLE`), placeholders (`${VAR}`, `<token>`,
//! `xxxx`, `changeme`), references to variables or secret stores, and low-entropy or short
//! values. What is reported never contains the secret: only its kind, the line and a
//! redacted preview.

/// One secret found on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    /// The rule id (`ci.secrets.aws_access_key`, ...).
    pub rule_id: &'static str,
    /// What kind of secret, for the message.
    pub kind: &'static str,
    /// The first four characters, then `…` and the length: never the secret itself.
    pub preview: String,
}

/// A known key format: a literal prefix, the characters that may follow and how many.
struct Format {
    rule_id: &'static str,
    kind: &'static str,
    prefixes: &'static [&'static str],
    body: fn(char) -> bool,
    min: usize,
    max: usize,
}

fn upper_alnum(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}
fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
fn token(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

const FORMATS: &[Format] = &[
    Format {
        rule_id: "ci.secrets.aws_access_key",
        kind: "AWS access key id",
        prefixes: &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        body: upper_alnum,
        min: 16,
        max: 16,
    },
    Format {
        rule_id: "ci.secrets.github_token",
        kind: "GitHub token",
        prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        body: alnum,
        min: 36,
        max: 255,
    },
    Format {
        rule_id: "ci.secrets.github_token",
        kind: "GitHub fine-grained token",
        prefixes: &["github_pat_"],
        body: word,
        min: 60,
        max: 255,
    },
    Format {
        rule_id: "ci.secrets.gitlab_token",
        kind: "GitLab token",
        prefixes: &["glpat-"],
        body: token,
        min: 20,
        max: 64,
    },
    Format {
        rule_id: "ci.secrets.slack_token",
        kind: "Slack token",
        prefixes: &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"],
        body: token,
        min: 20,
        max: 255,
    },
    Format {
        rule_id: "ci.secrets.stripe_key",
        kind: "Stripe secret key",
        prefixes: &["sk_live_", "rk_live_"],
        body: alnum,
        min: 20,
        max: 255,
    },
    Format {
        rule_id: "ci.secrets.google_api_key",
        kind: "Google API key",
        prefixes: &["AIza"],
        body: token,
        min: 35,
        max: 35,
    },
    Format {
        rule_id: "ci.secrets.npm_token",
        kind: "npm token",
        prefixes: &["npm_"],
        body: alnum,
        min: 36,
        max: 36,
    },
    Format {
        rule_id: "ci.secrets.ai_api_key",
        kind: "Anthropic API key",
        prefixes: &["sk-ant-"],
        body: token,
        min: 40,
        max: 255,
    },
    Format {
        rule_id: "ci.secrets.ai_api_key",
        kind: "OpenAI API key",
        prefixes: &["sk-proj-", "sk-svcacct-"],
        body: token,
        min: 40,
        max: 255,
    },
];

/// Names whose assigned value is a secret.
const SECRET_NAMES: &[&str] = &[
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "client_secret",
    "credential",
    "auth",
    "signing_key",
];

/// Words that mark a placeholder or an example, not a real secret.
const PLACEHOLDERS: &[&str] = &[
    "example",
    "sample",
    "placeholder",
    "changeme",
    "change_me",
    "dummy",
    "redacted",
    "your_",
    "your-",
    "xxxx",
    "****",
    "....",
    "todo",
    "fixme",
    "<",
    "${",
    "$(",
    "{{",
    "%(",
];

/// The secrets on `line` (one added line of a change).
pub fn scan_line(line: &str) -> Vec<SecretHit> {
    let mut hits = Vec::new();
    if line.contains("-----BEGIN ") && line.contains("PRIVATE KEY") {
        let tail = line.split("-----BEGIN ").nth(1).unwrap_or("");
        if tail.contains("PRIVATE KEY-----") || tail.contains("PRIVATE KEY BLOCK-----") {
            hits.push(SecretHit {
                rule_id: "ci.secrets.private_key",
                kind: "private key",
                preview: "-----BEGIN …PRIVATE KEY-----".into(),
            });
        }
    }
    if let Some(p) = line.find("hooks.slack.com/services/T") {
        let rest: String = line
            .get(p..)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.'))
            .collect();
        if rest.split('/').count() >= 5 && !is_placeholder(&rest) {
            hits.push(SecretHit {
                rule_id: "ci.secrets.slack_webhook",
                kind: "Slack webhook URL",
                preview: preview(&rest),
            });
        }
    }
    for f in FORMATS {
        for cand in candidates(line, f) {
            if !is_placeholder(&cand) && !hits.iter().any(|h| h.preview == preview(&cand)) {
                hits.push(SecretHit {
                    rule_id: f.rule_id,
                    kind: f.kind,
                    preview: preview(&cand),
                });
            }
        }
    }
    if hits.is_empty() {
        if let Some(v) = assigned_secret(line) {
            hits.push(SecretHit {
                rule_id: "ci.secrets.high_entropy",
                kind: "high-entropy value assigned to a secret-looking name",
                preview: preview(&v),
            });
        }
    }
    hits
}

/// The tokens of `line` in format `f`: a prefix at a word boundary, then `min..=max` body
/// characters, then a boundary.
fn candidates(line: &str, f: &Format) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in f.prefixes {
        let mut from = 0;
        while let Some(i) = line.get(from..).and_then(|s| s.find(prefix)) {
            let start = from.saturating_add(i);
            from = start.saturating_add(prefix.len());
            let before = line.get(..start).and_then(|s| s.chars().next_back());
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let body: String = line
                .get(from..)
                .unwrap_or("")
                .chars()
                .take_while(|c| (f.body)(*c))
                .collect();
            let n = body.chars().count();
            if n >= f.min && n <= f.max {
                out.push(format!("{prefix}{body}"));
            }
        }
    }
    out
}

fn is_placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|p| l.contains(p)) {
        return true;
    }
    // one character repeated (`AAAAAAAA…`, `00000…`) past the prefix
    let distinct: std::collections::BTreeSet<char> = v.chars().skip(4).collect();
    distinct.len() <= 2
}

/// `name = "value"`, `name: value`, `NAME=value` where the name looks like a secret and the
/// value is long and random enough to be one.
fn assigned_secret(line: &str) -> Option<String> {
    let sep = line.find(['=', ':'])?;
    let name = line.get(..sep)?.trim().to_ascii_lowercase();
    let name = name.trim_end_matches(['+', '-', '?', ' ']);
    let last = name
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .next()
        .unwrap_or("");
    if last.is_empty() || !SECRET_NAMES.iter().any(|s| last.contains(s)) {
        return None;
    }
    // names that hold references, not values
    if [
        "_file", "_path", "_env", "_name", "_id", "_url", "_header", "_type", "_length",
    ]
    .iter()
    .any(|s| last.ends_with(s))
    {
        return None;
    }
    let raw = line
        .get(sep.saturating_add(1)..)?
        .trim_start_matches(['=', ' ', '\t']);
    let value: String = raw
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ',' | ';' | '}' | ')'))
        .collect();
    if value.len() < 20 || is_placeholder(&value) || value.starts_with('$') {
        return None;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
    ];
    let hex = value.chars().all(|c| c.is_ascii_hexdigit());
    let threshold = if hex { 3.0 } else { 4.0 };
    let mixed = classes.iter().filter(|b| **b).count() >= 2;
    (mixed && entropy(&value) >= threshold).then_some(value)
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::BTreeMap::new();
    let mut n = 0u32;
    for c in s.chars() {
        *counts.entry(c).or_insert(0u32) += 1;
        n = n.saturating_add(1);
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .values()
        .map(|k| {
            let p = f64::from(*k) / n;
            -p * p.log2()
        })
        .sum()
}

fn preview(s: &str) -> String {
    let head: String = s.chars().take(4).collect();
    format!("{head}… ({} characters)", s.chars().count())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rules(line: &str) -> Vec<&'static str> {
        scan_line(line).iter().map(|h| h.rule_id).collect()
    }

    #[test]
    fn known_formats_are_caught() {
        let cases = [
            ("aws_access_key_id = AKIAZ3MHQ7R2XK5D9WTB", "ci.secrets.aws_access_key"),
            ("TOKEN=ghp_4fG7hK2mN9pQ3rS6tV8wX1yZ5aB0cD2eF4gH", "ci.secrets.github_token"),
            (
                "let t = \"github_pat_11ABCDEFG0a1B2c3D4e5F6_g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0e1F2\";",
                "ci.secrets.github_token",
            ),
            ("gitlab: glpat-Xy7Qm2Rk9Vb4Nc6Lp3Ts", "ci.secrets.gitlab_token"),
            ("SLACK=xoxb-2048151627-4096283753-k7Rq2Vm9Xb4Nc6Lp3TsYw8Ze", "ci.secrets.slack_token"),
            ("url: https://hooks.slack.com/services/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", "ci.secrets.slack_webhook"),
            ("stripe.api_key = 'sk_live_51H7qRk2Vm9Xb4Nc6Lp3TsYw8Ze'", "ci.secrets.stripe_key"),
            ("key=AIzaSyB7qRk2Vm9Xb4Nc6Lp3TsYw8Ze1Qa5Hd0J", "ci.secrets.google_api_key"),
            ("//registry.npmjs.org/:_authToken=npm_k7Rq2Vm9Xb4Nc6Lp3TsYw8Ze1Qa5Hd0Ju3Gf", "ci.secrets.npm_token"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "ci.secrets.private_key"),
            ("-----BEGIN RSA PRIVATE KEY-----", "ci.secrets.private_key"),
            ("ANTHROPIC_API_KEY=sk-ant-api03-k7Rq2Vm9Xb4Nc6Lp3TsYw8Ze1Qa5Hd0Ju3GfT6yP", "ci.secrets.ai_api_key"),
            ("db_password = \"T9v#q2Lx8mZ4pR7sW1kB6nD3\"", "ci.secrets.high_entropy"),
            ("aws_secret_access_key: wJa7rXUtnF3MI5K7MDENGbPxRfiCY9k2Qm4Lz8Vb", "ci.secrets.high_entropy"),
        ];
        for (line, rule) in cases {
            assert_eq!(rules(line), vec![rule], "{line}");
        }
    }

    #[test]
    fn look_alikes_pass() {
        for line in [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "token: ${{ secrets.GITHUB_TOKEN }}",
            "GITHUB_TOKEN=$GITHUB_TOKEN",
            "password = \"changeme-changeme-changeme\"",
            "api_key: <your-api-key-here-please>",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "token_file = /run/secrets/token/deploy-key-file",
            "commit = 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "\"integrity\": \"sha512-k7Rq2Vm9Xb4Nc6Lp3TsYw8Ze1Qa5Hd0Ju3GfT6yP==\"",
            "-----BEGIN PUBLIC KEY-----",
            "password_length = 32",
            "let slack = \"xoxb-\";",
            "MAKIAZ3MHQ7R2XK5D9WTBX is not a key",
            "secret: short",
            "description: the token is passed in the Authorization header",
        ] {
            assert!(scan_line(line).is_empty(), "{line}: {:?}", scan_line(line));
        }
    }

    #[test]
    fn the_preview_never_holds_the_secret() {
        let s = "ghp_4fG7hK2mN9pQ3rS6tV8wX1yZ5aB0cD2eF4gH";
        let hit = &scan_line(s)[0];
        assert_eq!(hit.preview, "ghp_… (40 characters)");
        assert!(!hit.preview.contains("4fG7"));
    }

    #[test]
    fn entropy_is_bits_per_character() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
