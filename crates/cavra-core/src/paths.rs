//! Lexical path handling: no file-system access, ever.
//!
//! Paths are normalized before matching: `~` is expanded with the request's home, relative
//! paths are joined onto the working directory, `.`/`..`/duplicate slashes are folded,
//! backslashes of Windows paths become slashes. `..` never climbs above `/`.

/// Where paths are resolved from.
#[derive(Debug, Clone, Default)]
pub struct PathContext {
    /// Absolute working directory (`None`: relative paths stay relative).
    pub cwd: Option<String>,
    /// Absolute repository root (`None`: the working directory).
    pub repo_root: Option<String>,
    /// Home directory for `~` (`None`: `~` stays symbolic as `/~`).
    pub home: Option<String>,
}

impl PathContext {
    pub fn repo(&self) -> Option<&str> {
        self.repo_root.as_deref().or(self.cwd.as_deref())
    }
    pub fn home_dir(&self) -> &str {
        self.home.as_deref().unwrap_or("/~")
    }
}

/// Folds `.`, `..` and duplicate separators of a path. Keeps a leading `/` (absolute) and
/// keeps a relative path relative (leading `..` that cannot be folded are kept).
pub fn normalize(path: &str) -> String {
    let p = path.replace('\\', "/");
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(last) if *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    if absolute {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_string()
    } else {
        body
    }
}

/// Resolves `path` against the context: expands `~`, `$HOME`, Windows drive paths, joins
/// relative paths onto `cwd` (or `base` when given), and normalizes.
pub fn resolve(path: &str, ctx: &PathContext, base: Option<&str>) -> String {
    let p = path.trim();
    let home = ctx.home_dir();
    let expanded: String = if p == "~" || p == "$HOME" || p == "${HOME}" {
        home.to_string()
    } else if let Some(t) = expand_temp_var(p) {
        t
    } else if let Some(t) = expand_tilde_user(p, ctx, base) {
        t
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if let Some(rest) = p.strip_prefix("$HOME/") {
        format!("{home}/{rest}")
    } else if let Some(rest) = p.strip_prefix("${HOME}/") {
        format!("{home}/{rest}")
    } else if p.len() >= 2
        && crate::at(p.as_bytes(), 1) == b':'
        && crate::at(p.as_bytes(), 0).is_ascii_alphabetic()
    {
        // C:\Users\x -> /c:/Users/x : absolute, outside any POSIX repository.
        format!("/{}", p.replace('\\', "/").to_ascii_lowercase())
    } else {
        p.to_string()
    };
    if expanded.starts_with('/') || expanded.starts_with('\\') {
        return normalize(&expanded);
    }
    let base = base.or(ctx.cwd.as_deref());
    match base {
        Some(b) if !b.is_empty() => normalize(&format!("{b}/{expanded}")),
        _ => normalize(&expanded),
    }
}

/// The symbolic path the platform's temporary directory resolves to (`%TEMP%`, `$TMPDIR`,
/// `$env:TEMP`): its value is not known lexically, but it is a temporary directory.
pub const TEMP_VAR_ROOT: &str = "/%TEMP%";

/// Variables that name the platform's temporary directory.
const TEMP_VARS: &[&str] = &[
    "%TEMP%",
    "%TMP%",
    "$env:TEMP",
    "$env:TMP",
    "${env:TEMP}",
    "${env:TMP}",
    "$TMPDIR",
    "${TMPDIR}",
    "$TEMP",
    "${TEMP}",
    "$TMP",
    "${TMP}",
];

/// `%TEMP%\x`, `$TMPDIR/x`, `$env:TEMP` → [`TEMP_VAR_ROOT`]`/x`.
fn expand_temp_var(p: &str) -> Option<String> {
    TEMP_VARS.iter().find_map(|v| {
        let rest = strip_prefix_ignore_case(p, v)?;
        if rest.is_empty() {
            return Some(TEMP_VAR_ROOT.to_string());
        }
        let rest = rest.strip_prefix(['/', '\\'])?;
        Some(format!("{TEMP_VAR_ROOT}/{rest}"))
    })
}

/// Does `p` start with a variable naming the temp directory, with nothing else unknown
/// after it (`$TMPDIR/x`, `%TEMP%`, but not `$TMPDIR/$X`, which could be the temp root)?
pub fn is_temp_var(p: &str) -> bool {
    expand_temp_var(p.trim()).is_some_and(|e| {
        let rest = e.get(TEMP_VAR_ROOT.len()..).unwrap_or("");
        !rest.contains(['$', '`', '%'])
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Is `path` (resolved) a variable path that stands for a temporary directory?
pub fn is_temp_var_path(path: &str) -> bool {
    is_within(path, TEMP_VAR_ROOT)
}

/// `~user`, `~user/x` (another account's home), `~+` (the working directory): bash's tilde
/// prefixes besides `~` itself. Another user's home is a sibling of the request's home
/// (`/home/dev` → `/home/bob`), `/root` for `root`, `/home/NAME` when the home is unknown.
fn expand_tilde_user(p: &str, ctx: &PathContext, base: Option<&str>) -> Option<String> {
    let body = p.strip_prefix('~')?;
    let (name, rest) = match body.find(['/', '\\']) {
        Some(i) => (body.get(..i)?, body.get(i..)?),
        None => (body, ""),
    };
    if name.is_empty() {
        return None;
    }
    let dir = if name == "+" {
        base.or(ctx.cwd.as_deref())?.to_string()
    } else if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with(['-', '.'])
    {
        if name == "root" {
            "/root".to_string()
        } else {
            let home = ctx.home.as_deref().map(normalize);
            let parent = home
                .as_deref()
                .and_then(|h| h.rsplit_once('/'))
                .map(|(parent, _)| parent)
                .filter(|parent| !parent.is_empty())
                .unwrap_or("/home");
            format!("{parent}/{name}")
        }
    } else {
        return None;
    };
    Some(format!("{dir}{rest}"))
}

/// Is `path` equal to or below `dir`? Both must be normalized.
pub fn is_within(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return path.starts_with('/');
    }
    path == dir
        || (path.len() > dir.len()
            && path.starts_with(dir)
            && crate::at(path.as_bytes(), dir.len()) == b'/')
}

/// `path` relative to `dir` when it is inside it (`""` for `dir` itself).
pub fn relative_to<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    if !is_within(path, dir) {
        return None;
    }
    if path.len() == dir.len() {
        return Some("");
    }
    if dir == "/" {
        return Some(&path[1..]);
    }
    Some(&path[dir.len().saturating_add(1)..])
}

/// The file name of a normalized path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PathContext {
        PathContext {
            cwd: Some("/home/dev/app".into()),
            repo_root: None,
            home: Some("/home/dev".into()),
        }
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(normalize("/../.."), "/");
        assert_eq!(normalize("a/../../b"), "../b");
        assert_eq!(normalize("./"), ".");
        assert_eq!(normalize("src\\..\\x"), "x");
    }

    #[test]
    fn resolves() {
        let c = ctx();
        assert_eq!(resolve(".env", &c, None), "/home/dev/app/.env");
        assert_eq!(resolve("~/.ssh/id_rsa", &c, None), "/home/dev/.ssh/id_rsa");
        assert_eq!(resolve("$HOME", &c, None), "/home/dev");
        assert_eq!(resolve("src/../../../../root/x", &c, None), "/root/x");
        assert_eq!(resolve("/etc/../etc/passwd", &c, None), "/etc/passwd");
        assert_eq!(resolve("x", &c, Some("/")), "/x");
    }

    #[test]
    fn tilde_user_is_another_home() {
        let c = ctx();
        assert_eq!(resolve("~root/.ssh/id_rsa", &c, None), "/root/.ssh/id_rsa");
        assert_eq!(resolve("~bob", &c, None), "/home/bob");
        assert_eq!(resolve("~bob/", &c, None), "/home/bob");
        assert_eq!(resolve("~dev/x", &c, None), "/home/dev/x");
        assert_eq!(resolve("~+/x", &c, None), "/home/dev/app/x");
        let mac = PathContext {
            home: Some("/Users/dev".into()),
            ..ctx()
        };
        assert_eq!(resolve("~bob/.ssh", &mac, None), "/Users/bob/.ssh");
        let nohome = PathContext {
            home: None,
            ..ctx()
        };
        assert_eq!(resolve("~bob", &nohome, None), "/home/bob");
        // not a user name: stays a relative name
        assert_eq!(resolve("~$X", &c, None), "/home/dev/app/~$X");
    }

    #[test]
    fn temp_variables_resolve_to_the_temp_root() {
        let c = ctx();
        assert_eq!(resolve("%TEMP%", &c, None), TEMP_VAR_ROOT);
        assert_eq!(resolve("%temp%\\build", &c, None), "/%TEMP%/build");
        assert_eq!(resolve("$TMPDIR/x", &c, None), "/%TEMP%/x");
        assert_eq!(resolve("$env:TEMP", &c, None), TEMP_VAR_ROOT);
        assert_eq!(resolve("$TMPDIRX", &c, None), "/home/dev/app/$TMPDIRX");
        assert!(is_temp_var_path("/%TEMP%/x"));
    }

    #[test]
    fn within() {
        assert!(is_within("/a/b", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(!is_within("/ab", "/a"));
        assert!(is_within("/x", "/"));
        assert_eq!(relative_to("/a/b/c", "/a"), Some("b/c"));
        assert_eq!(relative_to("/a", "/a"), Some(""));
        assert_eq!(relative_to("/b", "/a"), None);
    }
}
