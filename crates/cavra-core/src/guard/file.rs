//! The file guard: path classes and file rules.

use crate::paths::{self, PathContext};
use crate::policy::compile::{Access, Anchor, FileMatcher, PathClass, PathPattern};

/// Facts about one resolved path.
#[derive(Debug, Clone)]
pub struct PathFacts {
    /// Normalized absolute (or, without a cwd, relative) path.
    pub path: String,
    /// Relative to the repository root, when inside it.
    pub repo_rel: Option<String>,
    pub classes: Vec<PathClass>,
}

const SYSTEM_DIRS: &[&str] = &[
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/boot",
    "/var",
    "/opt",
    "/sys",
    "/proc",
    "/srv",
    "/root",
    "/home",
    "/Users",
    "/System",
    "/Library",
    "/Applications",
    "/private",
    "/snap",
    "/mnt",
    "/media",
    "/run",
    "/c:",
    "/c:/windows",
    "/c:/program files",
];

const HARMLESS_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/stdin",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
];

/// Classifies a path (already resolved).
pub fn classify(path: &str, ctx: &PathContext, temp_dirs: &[String]) -> PathFacts {
    let mut classes = Vec::new();
    let repo = ctx.repo().map(paths::normalize);
    let home = ctx.home.as_deref().map(paths::normalize);
    let mut repo_rel = None;
    if !path.starts_with('/') {
        // no cwd known: a relative path is inside the repository
        classes.push(PathClass::Repo);
        if path == "." {
            classes.push(PathClass::RepoRoot);
        }
        if path == ".git" || path.starts_with(".git/") {
            classes.push(PathClass::DotGit);
        }
        return PathFacts {
            path: path.to_string(),
            repo_rel: Some(path.to_string()),
            classes,
        };
    }
    if path.starts_with("/dev/") {
        if !HARMLESS_DEVICES.contains(&path) && !path.starts_with("/dev/fd/") {
            classes.push(PathClass::Device);
            classes.push(PathClass::System);
            classes.push(PathClass::OutsideRepo);
        }
        return PathFacts {
            path: path.to_string(),
            repo_rel: None,
            classes,
        };
    }
    if path == "/" {
        classes.push(PathClass::Root);
    }
    if let Some(h) = &home {
        if path == h {
            classes.push(PathClass::Home);
        }
    }
    let in_repo = repo.as_deref().is_some_and(|r| paths::is_within(path, r));
    if in_repo {
        let r = repo.as_deref().unwrap_or("/");
        repo_rel = paths::relative_to(path, r).map(str::to_string);
        classes.push(PathClass::Repo);
        if path == r {
            classes.push(PathClass::RepoRoot);
        }
        if repo_rel
            .as_deref()
            .is_some_and(|x| x == ".git" || x.starts_with(".git/"))
        {
            classes.push(PathClass::DotGit);
        }
    } else {
        let in_temp = temp_dirs.iter().any(|t| paths::is_within(path, t));
        if in_temp {
            classes.push(PathClass::Temp);
        } else {
            classes.push(PathClass::OutsideRepo);
            let ancestor_of_repo_or_home =
                repo.as_deref().is_some_and(|r| paths::is_within(r, path))
                    || home.as_deref().is_some_and(|h| paths::is_within(h, path));
            let b = path.as_bytes();
            let windows_drive =
                b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':';
            let system = windows_drive
                || SYSTEM_DIRS.iter().any(|d| {
                    path == *d
                        || (paths::is_within(path, d)
                            && !home.as_deref().is_some_and(|h| paths::is_within(path, h)))
                });
            if system || ancestor_of_repo_or_home {
                classes.push(PathClass::System);
            }
        }
    }
    PathFacts {
        path: path.to_string(),
        repo_rel,
        classes,
    }
}

/// Does `pattern` match the path?
pub fn pattern_matches(p: &PathPattern, facts: &PathFacts, ctx: &PathContext) -> bool {
    let path = facts.path.as_str();
    match p.anchor {
        Anchor::Basename => p.glob.matches(paths::file_name(path)),
        Anchor::Anywhere => {
            let rel = facts
                .repo_rel
                .as_deref()
                .unwrap_or_else(|| path.trim_start_matches('/'));
            p.glob.matches(rel) || p.glob.matches(path.trim_start_matches('/'))
        }
        Anchor::Absolute => p.glob.matches(path),
        Anchor::Home => {
            let home = ctx.home_dir();
            paths::relative_to(path, home).is_some_and(|r| p.glob.matches(r))
        }
        Anchor::Repo => facts.repo_rel.as_deref().is_some_and(|r| p.glob.matches(r)),
    }
}

/// Does the file matcher match this access?
pub fn matches(m: &FileMatcher, access: Access, facts: &PathFacts, ctx: &PathContext) -> bool {
    if !m.access.contains(&access) {
        return false;
    }
    if !m.classes.is_empty()
        && !m
            .classes
            .iter()
            .any(|c| *c == PathClass::Any || facts.classes.contains(c))
    {
        return false;
    }
    if !m.paths.is_empty() && !m.paths.iter().any(|p| pattern_matches(p, facts, ctx)) {
        return false;
    }
    !m.except.iter().any(|p| pattern_matches(p, facts, ctx))
}
