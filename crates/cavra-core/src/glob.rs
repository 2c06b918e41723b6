//! Glob matching without regular expressions.
//!
//! Path mode (the default): `*` and `?` never cross `/`; `**` as a whole segment matches
//! zero or more directories (`**/x` matches `x` and `a/b/x`; `a/**` matches everything below
//! `a`); `[abc]`, `[a-z]`, `[!x]` classes; `{a,b}` alternatives (expanded at compile time);
//! `\` escapes the next character. Text mode (`Glob::text`): `*` crosses everything (the
//! reference project's command patterns such as `terraform apply*`).
//!
//! Matching is a dynamic programme over (token, position): O(tokens × length), no
//! backtracking blow-up whatever the input.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GlobError {
    #[error("unclosed `[` in pattern `{0}`")]
    UnclosedClass(String),
    #[error("unclosed `{{` in pattern `{0}`")]
    UnclosedBrace(String),
    #[error("too many `{{}}` alternatives in pattern `{0}`")]
    TooManyAlternatives(String),
    #[error("empty pattern")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` crossing separators (text mode `*`, or `**` not forming a whole segment)
    Any,
    /// `**/` at a segment start: zero or more whole directories.
    Dirs,
    Class {
        neg: bool,
        items: Vec<(char, char)>,
    },
}

/// The compiled form of a glob (built on first use).
#[derive(Debug, Clone)]
struct Compiled {
    alts: Vec<Vec<Tok>>,
    /// Per alternative, literal runs the input must contain (cheap rejection before the DP).
    lits: Vec<Vec<String>>,
}

/// A glob. Construction only checks the pattern's syntax; the token form is built on
/// first use, and most candidate strings are rejected before that by a literal check on
/// the pattern text (an exact literal, or a literal tail the input must end with). This
/// keeps loading a pack with hundreds of patterns cheap on the hook's hot path.
#[derive(Debug, Clone)]
pub struct Glob {
    source: String,
    /// `source` lowercased, when case-insensitive (else `source` itself is compared).
    lower: Option<String>,
    /// The pattern has no wildcard, class, brace or escape: plain comparison.
    literal: bool,
    /// Byte offset in `norm` of the literal tail every match ends with.
    tail_at: usize,
    case_insensitive: bool,
    text_mode: bool,
    compiled: std::sync::OnceLock<Option<Compiled>>,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.text_mode == other.text_mode
            && self.case_insensitive == other.case_insensitive
    }
}

const MAX_ALTS: usize = 256;

/// `*`, `?`, `[`, `]`, `{`, `}`, `\`: the bytes that make a pattern more than a literal.
/// All are ASCII, and no byte of a multi-byte UTF-8 character is, so scanning bytes finds
/// exactly the characters (a byte loop: `str::contains(&[char])` costs ~4 K instructions
/// per pattern unoptimized, and a pack compiles hundreds of patterns on every hook call).
fn special(b: &u8) -> bool {
    matches!(b, b'*' | b'?' | b'[' | b']' | b'{' | b'}' | b'\\')
}

impl Glob {
    /// A path glob.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        Self::build(pattern, false, false)
    }
    /// A path glob matched without regard to ASCII case.
    pub fn new_case_insensitive(pattern: &str) -> Result<Glob, GlobError> {
        Self::build(pattern, false, true)
    }
    /// A text glob: `*` crosses `/` (command patterns).
    pub fn text(pattern: &str) -> Result<Glob, GlobError> {
        Self::build(pattern, true, false)
    }

    fn build(pattern: &str, text_mode: bool, ci: bool) -> Result<Glob, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let lower = ci.then(|| pattern.to_ascii_lowercase());
        let norm = lower.as_deref().unwrap_or(pattern);
        let literal = !norm.as_bytes().iter().any(special);
        if !literal {
            check_syntax(pattern)?;
        }
        let tail_at = norm
            .as_bytes()
            .iter()
            .rposition(special)
            .map(|i| i.saturating_add(1))
            .unwrap_or(0);
        Ok(Glob {
            source: pattern.to_string(),
            lower,
            literal,
            tail_at,
            case_insensitive: ci,
            text_mode,
            compiled: std::sync::OnceLock::new(),
        })
    }

    fn compiled(&self) -> Option<&Compiled> {
        self.compiled
            .get_or_init(|| {
                let mut alts = Vec::new();
                for p in expand_braces(&self.source).ok()? {
                    alts.push(
                        tokenize(&p, self.text_mode, self.case_insensitive, &self.source).ok()?,
                    );
                }
                let lits = alts.iter().map(|a| literal_runs(a)).collect();
                Some(Compiled { alts, lits })
            })
            .as_ref()
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Does the glob contain any wildcard?
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    pub fn matches(&self, s: &str) -> bool {
        if self.case_insensitive {
            let lower = s.to_ascii_lowercase();
            self.match_str(&lower)
        } else {
            self.match_str(s)
        }
    }

    /// The pattern text compared against (lowercased when case-insensitive).
    fn norm(&self) -> &str {
        self.lower.as_deref().unwrap_or(&self.source)
    }

    fn match_str(&self, s: &str) -> bool {
        if self.literal {
            return s == self.norm();
        }
        if !s.ends_with(self.norm().get(self.tail_at..).unwrap_or_default()) {
            return false;
        }
        match self.compiled() {
            Some(c) => {
                c.alts.iter().zip(&c.lits).any(|(a, lits)| {
                    lits.iter().all(|l| s.contains(l.as_str())) && match_toks(a, s)
                })
            }
            // syntax was checked at construction; an uncompilable glob matches nothing
            None => false,
        }
    }

    pub fn is_text_mode(&self) -> bool {
        self.text_mode
    }
}

/// Checks brace and class syntax without building anything.
fn check_syntax(p: &str) -> Result<(), GlobError> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut depth = 0i32;
    let mut alts = 1usize;
    while i < b.len() {
        match crate::at(b, i) {
            b'\\' => i = i.saturating_add(1),
            b'[' => {
                let mut j = i.saturating_add(1);
                if j < b.len() && (crate::at(b, j) == b'!' || crate::at(b, j) == b'^') {
                    j = j.saturating_add(1);
                }
                if j < b.len() && crate::at(b, j) == b']' {
                    j = j.saturating_add(1);
                }
                while j < b.len() && crate::at(b, j) != b']' {
                    j = j.saturating_add(1);
                }
                if j >= b.len() {
                    return Err(GlobError::UnclosedClass(p.to_string()));
                }
                i = j;
            }
            b'{' => depth = depth.saturating_add(1),
            b'}' if depth > 0 => depth = depth.saturating_sub(1),
            b',' if depth > 0 => {
                alts = alts.saturating_add(1);
                if alts > MAX_ALTS {
                    return Err(GlobError::TooManyAlternatives(p.to_string()));
                }
            }
            _ => {}
        }
        i = i.saturating_add(1);
    }
    if depth > 0 {
        return Err(GlobError::UnclosedBrace(p.to_string()));
    }
    // the full expansion is bounded too
    if p.contains('{') {
        expand_braces(p)?;
    }
    Ok(())
}

fn expand_braces(p: &str) -> Result<Vec<String>, GlobError> {
    if !p.contains('{') {
        return Ok(vec![p.to_string()]);
    }
    let chars: Vec<char> = p.chars().collect();
    // find first top-level unescaped '{'
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match crate::at(&chars, i) {
            '\\' => i = i.saturating_add(1),
            '[' => in_class = true,
            ']' => in_class = false,
            '{' if !in_class => {
                let mut depth: i32 = 0;
                let mut j = i;
                let mut parts = Vec::new();
                let mut start = i.saturating_add(1);
                while j < chars.len() {
                    match crate::at(&chars, j) {
                        '\\' => j = j.saturating_add(1),
                        '{' => depth = depth.saturating_add(1),
                        '}' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                parts.push(
                                    chars
                                        .get(start..j)
                                        .unwrap_or_default()
                                        .iter()
                                        .collect::<String>(),
                                );
                                break;
                            }
                        }
                        ',' if depth == 1 => {
                            parts.push(
                                chars
                                    .get(start..j)
                                    .unwrap_or_default()
                                    .iter()
                                    .collect::<String>(),
                            );
                            start = j.saturating_add(1);
                        }
                        _ => {}
                    }
                    j = j.saturating_add(1);
                }
                if j >= chars.len() {
                    return Err(GlobError::UnclosedBrace(p.to_string()));
                }
                let prefix: String = chars.get(..i).unwrap_or_default().iter().collect();
                let suffix: String = chars
                    .get(j.saturating_add(1)..)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                let mut out = Vec::new();
                for part in parts {
                    for rest in expand_braces(&format!("{part}{suffix}"))? {
                        out.push(format!("{prefix}{rest}"));
                        if out.len() > MAX_ALTS {
                            return Err(GlobError::TooManyAlternatives(p.to_string()));
                        }
                    }
                }
                return Ok(out);
            }
            _ => {}
        }
        i = i.saturating_add(1);
    }
    Ok(vec![p.to_string()])
}

fn tokenize(p: &str, text_mode: bool, ci: bool, orig: &str) -> Result<Vec<Tok>, GlobError> {
    let chars: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let low = |c: char| if ci { c.to_ascii_lowercase() } else { c };
    while i < chars.len() {
        let c = crate::at(&chars, i);
        match c {
            '\\' if i.saturating_add(1) < chars.len() => {
                toks.push(Tok::Lit(low(crate::at(&chars, i.saturating_add(1)))));
                i = i.saturating_add(2);
                continue;
            }
            '*' => {
                if text_mode {
                    while i < chars.len() && crate::at(&chars, i) == '*' {
                        i = i.saturating_add(1);
                    }
                    if toks.last() != Some(&Tok::Any) {
                        toks.push(Tok::Any);
                    }
                    continue;
                }
                let mut n: i32 = 0;
                while i < chars.len() && crate::at(&chars, i) == '*' {
                    n = n.saturating_add(1);
                    i = i.saturating_add(1);
                }
                if n >= 2 {
                    let at_seg_start = toks.is_empty() || toks.last() == Some(&Tok::Lit('/'));
                    let next_is_sep = i < chars.len() && crate::at(&chars, i) == '/';
                    let at_end = i >= chars.len();
                    if at_seg_start && next_is_sep {
                        toks.push(Tok::Dirs);
                        i = i.saturating_add(1); // consume '/'
                    } else {
                        let _ = at_end;
                        toks.push(Tok::Any);
                    }
                } else {
                    toks.push(Tok::Star);
                }
                continue;
            }
            '?' => toks.push(Tok::One),
            '[' => {
                let mut j = i.saturating_add(1);
                let mut neg = false;
                if j < chars.len() && (crate::at(&chars, j) == '!' || crate::at(&chars, j) == '^') {
                    neg = true;
                    j = j.saturating_add(1);
                }
                let mut items = Vec::new();
                let mut first = true;
                while j < chars.len() && (crate::at(&chars, j) != ']' || first) {
                    first = false;
                    let a = crate::at(&chars, j);
                    if j.saturating_add(2) < chars.len()
                        && crate::at(&chars, j.saturating_add(1)) == '-'
                        && crate::at(&chars, j.saturating_add(2)) != ']'
                    {
                        items.push((low(a), low(crate::at(&chars, j.saturating_add(2)))));
                        j = j.saturating_add(3);
                    } else {
                        items.push((low(a), low(a)));
                        j = j.saturating_add(1);
                    }
                }
                if j >= chars.len() {
                    return Err(GlobError::UnclosedClass(orig.to_string()));
                }
                toks.push(Tok::Class { neg, items });
                i = j.saturating_add(1);
                continue;
            }
            c => toks.push(Tok::Lit(low(c))),
        }
        i = i.saturating_add(1);
    }
    Ok(toks)
}

/// Runs of two or more literal characters: every match contains each of them.
fn literal_runs(toks: &[Tok]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for t in toks {
        match t {
            Tok::Lit(c) => cur.push(*c),
            _ => {
                if cur.chars().count() >= 2 {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if cur.chars().count() >= 2 {
        out.push(cur);
    }
    out
}

fn match_toks(toks: &[Tok], s: &str) -> bool {
    // all-literal pattern: plain comparison
    if toks.iter().all(|t| matches!(t, Tok::Lit(_))) {
        return s.chars().eq(toks.iter().map(|t| match t {
            Tok::Lit(c) => *c,
            _ => '\0',
        }));
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    // cur[j]: after consuming the tokens so far, position j is reachable.
    let mut cur = vec![false; n.saturating_add(1)];
    if let Some(x) = cur.get_mut(0) {
        *x = true;
    }
    let mut next = vec![false; n.saturating_add(1)];
    for t in toks {
        next.iter_mut().for_each(|x| *x = false);
        let mut any = false;
        match t {
            Tok::Lit(c) => {
                for j in 0..n {
                    if crate::at(&cur, j) && crate::at(&chars, j) == *c {
                        if let Some(x) = next.get_mut(j.saturating_add(1)) {
                            *x = true;
                        }
                        any = true;
                    }
                }
            }
            Tok::One => {
                for j in 0..n {
                    if crate::at(&cur, j) && crate::at(&chars, j) != '/' {
                        if let Some(x) = next.get_mut(j.saturating_add(1)) {
                            *x = true;
                        }
                        any = true;
                    }
                }
            }
            Tok::Class { neg, items } => {
                for j in 0..n {
                    if crate::at(&cur, j) && crate::at(&chars, j) != '/' {
                        let c = crate::at(&chars, j);
                        let hit = items.iter().any(|(a, b)| *a <= c && c <= *b);
                        if hit != *neg {
                            if let Some(x) = next.get_mut(j.saturating_add(1)) {
                                *x = true;
                            }
                            any = true;
                        }
                    }
                }
            }
            Tok::Star => {
                let mut reach = false;
                for j in 0..=n {
                    if crate::at(&cur, j) {
                        reach = true;
                    }
                    if reach {
                        if let Some(x) = next.get_mut(j) {
                            *x = true;
                        }
                        any = true;
                    }
                    if j < n && crate::at(&chars, j) == '/' {
                        reach = false;
                    }
                }
            }
            Tok::Any => {
                let mut reach = false;
                for j in 0..=n {
                    if crate::at(&cur, j) {
                        reach = true;
                    }
                    if reach {
                        if let Some(x) = next.get_mut(j) {
                            *x = true;
                        }
                        any = true;
                    }
                }
            }
            Tok::Dirs => {
                // zero directories: stay; or any prefix ending just after a '/'
                let mut reach = false;
                for j in 0..=n {
                    if crate::at(&cur, j) {
                        if let Some(x) = next.get_mut(j) {
                            *x = true;
                        }
                        any = true;
                        reach = true;
                    }
                    if reach
                        && j > 0
                        && crate::at(&chars, j.saturating_sub(1)) == '/'
                        && !crate::at(&cur, j)
                    {
                        if let Some(x) = next.get_mut(j) {
                            *x = true;
                        }
                        any = true;
                    }
                }
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut cur, &mut next);
    }
    crate::at(&cur, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(m("*.pem", "a.pem"));
        assert!(!m("*.pem", "dir/a.pem"));
        assert!(m("src/*.rs", "src/main.rs"));
        assert!(!m("src/*.rs", "src/a/main.rs"));
    }

    #[test]
    fn double_star() {
        assert!(m("**/*.pem", "a.pem"));
        assert!(m("**/*.pem", "x/y/a.pem"));
        assert!(m(".github/workflows/**", ".github/workflows/ci.yml"));
        assert!(m(".github/workflows/**", ".github/workflows/a/b.yml"));
        assert!(!m(".github/workflows/**", ".github/workflowsx/a"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/x/yb"));
        assert!(m("**", "anything/at/all"));
        assert!(m("**/secrets.*", "config/secrets.yaml"));
        assert!(m("**/*credential*", "x/aws_credentials"));
    }

    #[test]
    fn classes_and_braces() {
        assert!(m("id_[rd]sa", "id_rsa"));
        assert!(m("id_[!x]sa", "id_dsa"));
        assert!(!m("id_[!d]sa", "id_dsa"));
        assert!(m("*.{pem,key}", "a.key"));
        assert!(m("file[0-9]", "file7"));
        assert!(!m("file[0-9]", "filex"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
    }

    #[test]
    fn text_mode() {
        let g = Glob::text("terraform apply*").unwrap();
        assert!(g.matches("terraform apply -auto-approve"));
        assert!(g.matches("terraform apply"));
        assert!(!g.matches("terraform plan"));
        let g = Glob::text("curl *|*sh*").unwrap();
        assert!(g.matches("curl https://x/a | sh"));
        let g = Glob::text("gh api repos/* --method PATCH*").unwrap();
        assert!(g.matches("gh api repos/a/b --method PATCH -f x"));
    }

    #[test]
    fn case_insensitive() {
        let g = Glob::new_case_insensitive("**/.ENV").unwrap();
        assert!(g.matches("x/.env"));
    }

    #[test]
    fn errors() {
        assert!(Glob::new("a[b").is_err());
        assert!(Glob::new("a{b").is_err());
        assert!(Glob::new("").is_err());
    }

    #[test]
    fn long_input_is_fine() {
        let s = "a".repeat(100_000);
        assert!(!m("*b*", &s));
        assert!(Glob::text("*a*a*a*b").unwrap().matches(&format!("{s}b")));
    }

    #[test]
    fn the_byte_scan_finds_the_special_characters() {
        const CHARS: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];
        for p in [
            "plain",
            "é*",
            "日本[a]x",
            "a\\bé",
            "{a,b}ü",
            "ß",
            "x?y",
            "*",
        ] {
            let g = Glob::new(p).unwrap();
            assert_eq!(g.literal, !p.contains(CHARS), "{p}");
            let tail = p.rfind(CHARS).map_or(0, |i| i + 1);
            assert_eq!(g.tail_at, tail, "{p}");
        }
        assert!(Glob::new("é*").unwrap().matches("éclair"));
        assert!(!Glob::new("日本[a]x").unwrap().matches("日本bx"));
    }
}
