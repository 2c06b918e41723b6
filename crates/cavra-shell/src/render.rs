//! Rendering of arguments back to shell text with minimal quoting.

use crate::flatten::{Field, Seg};

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "select", "function", "in", "time", "coproc", "{", "}", "!", "[[", "]]",
];

fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '_' | '.' | '/' | ':' | '@' | '%' | '+' | ',' | '^' | '='
        )
        || (!c.is_ascii() && !c.is_control() && c != '\u{2026}')
}

/// Quote a literal so that the shell reads it back unchanged.
pub(crate) fn quote_lit(s: &str, out: &mut String) {
    if !s.is_empty() && s.chars().all(is_safe) {
        out.push_str(s);
        return;
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
}

fn force_quote(s: &str, out: &mut String) {
    out.push('\'');
    out.push_str(&s.replace('\'', "'\\''"));
    out.push('\'');
}

fn needs_word_quote(first: bool, v: &str) -> bool {
    first && RESERVED.contains(&v)
}

fn assignment_like(first: bool, v: &str) -> bool {
    first && crate::parse::assignment_prefix(v).is_some()
}

/// Render one field (segments keep track of what is literal, glob or dynamic).
pub(crate) fn render_field(f: &Field, first: bool, out: &mut String) {
    let value = f.value();
    if value.is_empty() {
        out.push_str("''");
        return;
    }
    if needs_word_quote(first, &value) {
        force_quote(&value, out);
        return;
    }
    if assignment_like(first, &value) {
        // escaping the first character keeps the word from reading as an assignment
        let mut tmp = String::new();
        render_segs(f, &value, &mut tmp);
        if !tmp.starts_with('\'') {
            out.push('\\');
        }
        out.push_str(&tmp);
        return;
    }
    render_segs(f, &value, out);
}

fn render_segs(f: &Field, value: &str, out: &mut String) {
    let mut at_start = true;
    let mut buf = String::new();
    for (i, seg) in f.segs.iter().enumerate() {
        match seg {
            Seg::Lit(s, quoted) => {
                if s.is_empty() {
                    continue;
                }
                let mut rest: &str = s;
                if at_start && !quoted && rest.starts_with('~') {
                    // leading tilde (home); keep the `~user` part bare
                    let end = rest[1..]
                        .find(|c: char| {
                            !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                        })
                        .map_or(rest.len(), |j| j.saturating_add(1));
                    let after = &rest[end..];
                    let after_all = value.get(end..).unwrap_or("");
                    if after_all.is_empty() || after_all.starts_with('/') {
                        out.push_str(&rest[..end]);
                        rest = after;
                    }
                }
                for c in rest.chars() {
                    if !quoted && matches!(c, '*' | '?' | '[' | ']') {
                        // keep glob characters active
                        if !buf.is_empty() {
                            quote_lit(&buf, out);
                            buf.clear();
                        }
                        out.push(c);
                    } else {
                        buf.push(c);
                    }
                }
            }
            Seg::Dyn(src) if src.is_empty() => continue,
            Seg::Dyn(src) => {
                if !buf.is_empty() {
                    quote_lit(&buf, out);
                    buf.clear();
                }
                // `$NAME` followed by a name character needs braces
                if let Some(name) = src.strip_prefix('$').filter(|n| {
                    !n.is_empty() && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                }) {
                    let next_is_name = f.segs.get(i.saturating_add(1)).is_some_and(|s| match s {
                        Seg::Lit(t, _) => t
                            .bytes()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_'),
                        Seg::Dyn(_) => false,
                    });
                    // `$94` is `$9` then `4`: positional parameters past 9 need braces
                    let long_positional =
                        name.len() > 1 && name.starts_with(|c: char| c.is_ascii_digit());
                    if next_is_name || long_positional {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    } else {
                        out.push_str(src);
                    }
                } else if src.starts_with('$') || src.starts_with("<(") || src.starts_with(">(") {
                    out.push_str(src);
                } else {
                    // placeholders (find -exec `{}`, xargs -I) render as literal text
                    quote_lit(src, out);
                }
            }
        }
        at_start = false;
    }
    if !buf.is_empty() {
        quote_lit(&buf, out);
    }
}

pub(crate) fn render_fields(fields: &[Field]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        render_field(f, i == 0, &mut out);
    }
    out
}

pub(crate) fn render_values<S: AsRef<str>>(argv: &[S]) -> String {
    let mut out = String::new();
    for (i, v) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let v = v.as_ref();
        if needs_word_quote(i == 0, v) || assignment_like(i == 0, v) {
            force_quote(v, &mut out);
        } else if v.starts_with('~') && !v.contains(|c: char| !is_safe(c) && c != '~') {
            out.push_str(v);
        } else {
            quote_lit(v, &mut out);
        }
    }
    out
}
