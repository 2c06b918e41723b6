//! Text helpers shared by every crate: the one truncation of user-visible or recorded
//! text.

use std::borrow::Cow;

/// `s` if it has at most `max` characters; otherwise its first `max` characters followed
/// by `…`. Cuts on a character boundary, never inside one.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((cut, _)) => Cow::Owned(format!("{}…", s.get(..cut).unwrap_or_default())),
        None => Cow::Borrowed(s),
    }
}

/// `s` on one line (newlines and tabs as spaces), at most `max` characters: a cut is
/// marked by `…`, which counts.
pub fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        truncate_chars(&one_line, max.saturating_sub(1)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_to_one_line_of_at_most_max() {
        assert_eq!(clip("a\nb", 5), "a b");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abcd", 4), "abcd");
    }

    #[test]
    fn cuts_on_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "abc…");
        assert_eq!(truncate_chars("ünïcödé", 2), "ün…");
        assert_eq!(truncate_chars("", 0), "");
        assert_eq!(truncate_chars("x", 0), "…");
        assert!(matches!(truncate_chars("short", 10), Cow::Borrowed(_)));
    }
}
