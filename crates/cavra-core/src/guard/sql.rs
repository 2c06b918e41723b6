//! A small classifier of inline SQL (and Redis / MongoDB commands): which destructive statement
//! kinds a text contains. Lexical, statement by statement; string literals and comments are
//! skipped so `select 'drop table x'` is not a drop.

/// Removes string literals and comments, lowercases.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                out.push_str(" _lit_ ");
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                out.push(' ');
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// Destructive kinds found: `drop`, `truncate`, `delete_without_where`,
/// `update_without_where`, `alter`, `grant`, `flush`.
pub fn classify(text: &str) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    let mut add = |k: &'static str| {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    };
    // MongoDB shell
    let lower = text.to_ascii_lowercase();
    if lower.contains("dropdatabase(") || lower.contains(".drop(") {
        add("drop");
    }
    if lower.contains("deletemany({})") || lower.contains("remove({})") {
        add("delete_without_where");
    }
    let s = strip(text);
    for stmt in s.split(';') {
        let words: Vec<&str> = stmt
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        let Some(first) = words.first() else { continue };
        let has = |w: &str| words.contains(&w);
        match *first {
            "drop" | "dropdb" => add("drop"),
            "truncate" => add("truncate"),
            "delete" if !has("where") => add("delete_without_where"),
            "update" if !has("where") => add("update_without_where"),
            "alter" => {
                if has("drop") {
                    add("drop");
                } else {
                    add("alter");
                }
            }
            "grant" | "revoke" => add("grant"),
            "flushall" | "flushdb" => add("flush"),
            "del" | "unlink" if words.len() > 1 => add("delete_without_where"),
            "config" if has("set") => add("alter"),
            _ => {}
        }
        // `with x as (...) delete from t` and friends
        if *first == "with" && has("delete") && !has("where") {
            add("delete_without_where");
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn kinds() {
        assert_eq!(classify("drop schema public cascade"), vec!["drop"]);
        assert_eq!(classify("DROP TABLE payments"), vec!["drop"]);
        assert_eq!(classify("select 1"), Vec::<&str>::new());
        assert_eq!(classify("select 'drop table x'"), Vec::<&str>::new());
        assert_eq!(classify("delete from users"), vec!["delete_without_where"]);
        assert!(classify("delete from users where id = 1").is_empty());
        assert_eq!(classify("update t set a=1"), vec!["update_without_where"]);
        assert_eq!(classify("TRUNCATE t"), vec!["truncate"]);
        assert_eq!(classify("flushall"), vec!["flush"]);
        assert_eq!(classify("select 1; drop database prod"), vec!["drop"]);
        assert_eq!(classify("alter table t drop column c"), vec!["drop"]);
        assert_eq!(classify("db.dropDatabase()"), vec!["drop"]);
        assert_eq!(classify("-- drop table x\nselect 1"), Vec::<&str>::new());
    }
}
