//! Glob matching for routing rules and break-glass scopes: the workspace's one glob,
//! [`cavra_core::glob::Glob`] in path mode (`*` and `?` never cross `/`, `**` as a whole
//! segment matches any number of directories, `[..]` classes, `{a,b}` alternatives).
//! An empty pattern matches only the empty text; a pattern with bad syntax matches nothing.

use cavra_core::glob::Glob;

/// Does `text` match the glob `pattern`?
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return text.is_empty();
    }
    Glob::new(pattern).is_ok_and(|g| g.matches(text))
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
    fn core_glob_semantics() {
        // `**/` matches zero directories too, as everywhere else in cavra
        assert!(glob_match("**/*.tf", "main.tf"));
        assert!(glob_match("src/{a,b}.rs", "src/b.rs"));
        assert!(glob_match("file[0-9].txt", "file7.txt"));
        assert!(!glob_match("file[0-9].txt", "filex.txt"));
        // unbalanced syntax matches nothing instead of being taken literally
        assert!(!glob_match("[abc", "[abc"));
    }

    #[test]
    fn hostile_pattern_is_fast_enough_to_finish() {
        let p = "*a*a*a*a*a*a*a*a*a*a*a*b";
        let t = "a".repeat(200);
        assert!(!glob_match(p, &t));
    }
}
