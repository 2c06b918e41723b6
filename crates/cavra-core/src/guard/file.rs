//! The file guard: path classes and file rules.

use super::{Collector, Eval};
use crate::model::{Effect, Severity};
use crate::paths::{self, PathContext};
use crate::policy::compile::{Access, Anchor, FileMatcher, PathClass, PathPattern};
use crate::policy::compile::{CompiledPack, Matcher};

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
    if is_network_device(path) {
        // bash's `/dev/tcp/HOST/PORT` is a network connection, not a device
        classes.push(PathClass::OutsideRepo);
        return PathFacts {
            path: path.to_string(),
            repo_rel: None,
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
    // a sibling of the home is another user's home — unless it is inside the repository
    // (a home that lives in the repository makes its siblings the repository's own files)
    if !classes.contains(&PathClass::Home) && !in_repo && is_other_home(path, home.as_deref()) {
        classes.push(PathClass::Home);
    }
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
        // a directory that contains the repository (or the home) is never a mere temp
        // directory, wherever the repository lives (`rm -rf ..` in `/tmp/x/app`)
        let ancestor_of_repo_or_home = repo.as_deref().is_some_and(|r| paths::is_within(r, path))
            || home.as_deref().is_some_and(|h| paths::is_within(h, path));
        let temp = if ancestor_of_repo_or_home {
            TempPlace::No
        } else {
            temp_place(path, temp_dirs)
        };
        if temp == TempPlace::Below {
            classes.push(PathClass::Temp);
        } else if temp == TempPlace::Root {
            // the shared temporary directory as a whole (`/tmp`, `%TEMP%`): other
            // programs' files live there
            classes.push(PathClass::OutsideRepo);
            classes.push(PathClass::System);
        } else {
            classes.push(PathClass::OutsideRepo);
            let b = path.as_bytes();
            let windows_drive = b.get(2) == Some(&b':')
                && b.first() == Some(&b'/')
                && b.get(1).is_some_and(u8::is_ascii_alphabetic);
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

/// Is the path bash's network pseudo-device (`/dev/tcp/HOST/PORT`, `/dev/udp/…`)?
pub fn is_network_device(path: &str) -> bool {
    path.starts_with("/dev/tcp/") || path.starts_with("/dev/udp/")
}

/// Where a path stands relative to the temporary directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempPlace {
    /// Not in a temporary directory.
    No,
    /// A shared temporary directory itself (or one of its fixed parents, such as
    /// macOS's `/var/folders/xx/yyyy/T`).
    Root,
    /// Below a temporary directory: scratch space.
    Below,
}

fn eq_ic(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Classifies a normalized absolute path against the pack's temp directories and the
/// platforms' temporary directories: `/tmp`, `/var/tmp`, macOS `/private/tmp`,
/// `/private/var/folders/…/T`, Windows `%TEMP%` (in `C:\…`, `C:/…` and `/c/…` spellings:
/// `…/Users/NAME/AppData/Local/Temp`, `…/Windows/Temp`).
pub fn temp_place(path: &str, temp_dirs: &[String]) -> TempPlace {
    for t in temp_dirs
        .iter()
        .map(String::as_str)
        .chain([paths::TEMP_VAR_ROOT, "/private/var/tmp"])
    {
        if path == t {
            return TempPlace::Root;
        }
        if paths::is_within(path, t) {
            return TempPlace::Below;
        }
    }
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // macOS per-user temp: /var/folders/XX/YYYY/T (also under /private)
    let mac = match parts.as_slice() {
        ["private", "var", "folders", rest @ ..] | ["var", "folders", rest @ ..] => Some(rest),
        _ => None,
    };
    if let Some(rest) = mac {
        return if rest.len() <= 3 {
            TempPlace::Root
        } else {
            TempPlace::Below
        };
    }
    // Windows: drop the drive (`c:`, git-bash `/c/`, WSL `/mnt/c/`)
    let after_drive: &[&str] = match parts.as_slice() {
        ["mnt", d, rest @ ..] if d.len() == 1 => rest,
        [d, rest @ ..] if (d.len() == 2 && d.ends_with(':')) || (d.len() == 1 && d != &"~") => rest,
        _ => return TempPlace::No,
    };
    let (root_len, total) = match after_drive {
        [u, _, a, l, t, ..]
            if eq_ic(u, "users")
                && eq_ic(a, "appdata")
                && eq_ic(l, "local")
                && eq_ic(t, "temp") =>
        {
            (5, after_drive.len())
        }
        [w, t, ..] if eq_ic(w, "windows") && eq_ic(t, "temp") => (2, after_drive.len()),
        _ => return TempPlace::No,
    };
    if total > root_len {
        TempPlace::Below
    } else {
        TempPlace::Root
    }
}

/// Another account's home directory: a sibling of the request's home (`/home/bob` next
/// to `/home/dev`), a directory directly under `/home` or `/Users`, or `/root`.
fn is_other_home(path: &str, home: Option<&str>) -> bool {
    if path == "/root" {
        return true;
    }
    let Some((parent, name)) = path.rsplit_once('/') else {
        return false;
    };
    if name.is_empty() || parent.is_empty() {
        return false;
    }
    let home_parent = home.and_then(|h| h.rsplit_once('/')).map(|(p, _)| p);
    home_parent.is_some_and(|hp| !hp.is_empty() && hp == parent)
        || parent == "/home"
        || parent == "/Users"
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

// ---------------------------------------------------------------------------------------
// Request handling

/// A read, write or delete of `req.target`.
pub(super) fn request(ev: &Eval<'_>, access: Access, c: &mut Collector) {
    let Eval { pack, req, ctx, .. } = *ev;
    c.family = "filesystem";
    if req.target.trim().is_empty() {
        c.push_builtin(
            "engine.invalid_request",
            Effect::Block,
            Severity::High,
            "the request names no file".into(),
            None,
            None,
        );
        return;
    }
    let resolved = paths::resolve(&req.target, ctx, None);
    let facts = classify(&resolved, ctx, &pack.defaults.temp_dirs);
    c.scope = Some(format!("{} `{}`", access.as_str(), facts.path));
    check(pack, ctx, access, &facts, None, c);
}

/// The file rules for `access` to a classified path (`via`: the command or argument that
/// does it, for the match text).
pub(super) fn check(
    pack: &CompiledPack,
    ctx: &PathContext,
    access: Access,
    facts: &PathFacts,
    via: Option<&str>,
    c: &mut Collector,
) {
    check_access(pack, ctx, access, facts, via, false, c)
}

/// `from_template`: the write copies a template into place, so rules that cover only
/// replacing writes (`access: [overwrite]`) do not apply.
pub(super) fn check_access(
    pack: &CompiledPack,
    ctx: &PathContext,
    access: Access,
    facts: &PathFacts,
    via: Option<&str>,
    from_template: bool,
    c: &mut Collector,
) {
    for r in &pack.rules {
        if let Matcher::File(m) = &r.matcher {
            let overwrite_only =
                m.access.contains(&Access::Write) && !m.access.contains(&Access::Append);
            if from_template && access == Access::Write && overwrite_only {
                continue;
            }
            if matches(m, access, facts, ctx) {
                let matched = match via {
                    Some(v) => format!("{v} {} `{}`", verb(access), facts.path),
                    None => format!("{} `{}`", access.as_str(), facts.path),
                };
                c.push(r, Some(matched), &facts.path);
            }
        }
    }
}

fn verb(a: Access) -> &'static str {
    match a {
        Access::Read => "reads",
        Access::Write => "writes",
        Access::Append => "appends to",
        Access::Delete => "deletes",
    }
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

    fn temps() -> Vec<String> {
        vec!["/tmp".into(), "/var/tmp".into(), "/private/tmp".into()]
    }

    #[test]
    fn temp_roots_on_every_platform() {
        let t = temps();
        for root in [
            "/tmp",
            "/var/tmp",
            "/private/tmp",
            "/private/var/tmp",
            "/private/var/folders",
            "/var/folders/zz/abc/T",
            "/%TEMP%",
            "/c:/users/dev/appdata/local/temp",
            "/c/Users/dev/AppData/Local/Temp",
            "/mnt/c/Users/dev/AppData/Local/Temp",
            "/c:/windows/temp",
        ] {
            assert_eq!(temp_place(root, &t), TempPlace::Root, "{root}");
        }
        for below in [
            "/tmp/x",
            "/private/tmp/x",
            "/var/folders/zz/abc/T/tmp.1",
            "/%TEMP%/build",
            "/c:/users/dev/appdata/local/temp/x",
            "/c/Users/dev/AppData/Local/Temp/x",
        ] {
            assert_eq!(temp_place(below, &t), TempPlace::Below, "{below}");
        }
        for no in ["/home/dev/tmp", "/c/Users/dev/Documents", "/opt/temp"] {
            assert_eq!(temp_place(no, &t), TempPlace::No, "{no}");
        }
    }

    #[test]
    fn temp_root_is_system_and_below_is_temp() {
        let c = ctx();
        let f = classify("/tmp", &c, &temps());
        assert!(f.classes.contains(&PathClass::System));
        let f = classify("/tmp/build", &c, &temps());
        assert_eq!(f.classes, vec![PathClass::Temp]);
    }

    #[test]
    fn ancestor_of_the_repository_is_never_temp() {
        let c = PathContext {
            cwd: Some("/tmp/x/app".into()),
            repo_root: None,
            home: Some("/home/dev".into()),
        };
        let f = classify("/tmp/x", &c, &temps());
        assert!(f.classes.contains(&PathClass::System), "{:?}", f.classes);
        let f = classify("/tmp/other", &c, &temps());
        assert_eq!(f.classes, vec![PathClass::Temp]);
    }

    #[test]
    fn a_home_inside_the_repository_makes_no_other_homes() {
        let c = PathContext {
            cwd: Some("/work/app".into()),
            repo_root: None,
            home: Some("/work/app/home".into()),
        };
        let f = classify("/work/app/src", &c, &temps());
        assert!(!f.classes.contains(&PathClass::Home), "{:?}", f.classes);
    }

    #[test]
    fn other_homes_and_network_devices() {
        let c = ctx();
        assert!(classify("/home/bob", &c, &temps())
            .classes
            .contains(&PathClass::Home));
        assert!(classify("/root", &c, &temps())
            .classes
            .contains(&PathClass::Home));
        assert!(!classify("/home/bob/x", &c, &temps())
            .classes
            .contains(&PathClass::Home));
        let f = classify("/dev/tcp/10.0.0.1/80", &c, &temps());
        assert_eq!(
            f.classes,
            vec![PathClass::OutsideRepo],
            "a connection, not a device"
        );
        assert!(classify("/dev/sda", &c, &temps())
            .classes
            .contains(&PathClass::Device));
    }
}
