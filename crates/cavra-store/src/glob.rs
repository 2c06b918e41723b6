//! Minimal glob matching for routing rules: `*` matches any run of characters except `/`,
//! `**` matches anything (including `/`), `?` one character except `/`. Everything else
//! is literal. Matching is linear-space dynamic programming, so hostile patterns cannot
//! blow up.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    Any,  // ?
    Star, // *
    Deep, // **
}

fn compile(pattern: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                if chars.peek() == Some(&'*') {
                    while chars.peek() == Some(&'*') {
                        chars.next();
                    }
                    out.push(Tok::Deep);
                } else {
                    out.push(Tok::Star);
                }
            }
            '?' => out.push(Tok::Any),
            c => out.push(Tok::Lit(c)),
        }
    }
    out
}

/// Does `text` match the glob `pattern`?
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let toks = compile(pattern);
    let text: Vec<char> = text.chars().collect();
    // prev[j]: tokens[..i] match text[..j]
    let mut prev = vec![false; text.len() + 1];
    prev[0] = true;
    for tok in &toks {
        let mut cur = vec![false; text.len() + 1];
        match tok {
            Tok::Star | Tok::Deep => {
                let mut reach = false;
                for j in 0..=text.len() {
                    if prev[j] {
                        reach = true;
                    }
                    cur[j] = reach;
                    // a single `*` cannot run across a `/`
                    if *tok == Tok::Star && text.get(j) == Some(&'/') {
                        reach = false;
                    }
                }
            }
            Tok::Any => {
                for j in 1..=text.len() {
                    cur[j] = prev[j - 1] && text[j - 1] != '/';
                }
            }
            Tok::Lit(c) => {
                for j in 1..=text.len() {
                    cur[j] = prev[j - 1] && text[j - 1] == *c;
                }
            }
        }
        prev = cur;
    }
    prev[text.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::glob_match;

    #[test]
    fn literal_and_wildcards() {
        assert!(glob_match("infra/*.tf", "infra/main.tf"));
        assert!(!glob_match("infra/*.tf", "infra/mod/main.tf"));
        assert!(glob_match("infra/**", "infra/mod/main.tf"));
        assert!(glob_match("**/*.tf", "a/b/c.tf"));
        assert!(glob_match(
            "filesystem.*",
            "filesystem.write.require_approval"
        ));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(!glob_match("abc", "abcd"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("", "x"));
    }

    #[test]
    fn hostile_pattern_is_fast_enough_to_finish() {
        let p = "*a*a*a*a*a*a*a*a*a*a*a*b";
        let t = "a".repeat(200);
        assert!(!glob_match(p, &t));
    }
}
