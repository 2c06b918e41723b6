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

#[cfg(test)]
mod tests {
    use super::*;

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
