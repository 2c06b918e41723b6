//! Settings shared by every subcommand, resolved once from global flags and environment.

use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};

/// Resolved global settings.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Machine-readable output requested.
    pub json: bool,
    /// Colour allowed (stdout is a TTY and NO_COLOR unset).
    pub color: bool,
    /// The project's CAVRA directory (`.cavra` by default).
    pub cavra_dir: PathBuf,
}

impl Ctx {
    pub fn new(json: bool, cavra_dir: Option<PathBuf>) -> Self {
        let color =
            !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        // default: the project's CAVRA directory, found by walking up to the repository
        // root as git finds `.git` (so a subdirectory uses the project's `.cavra`)
        let cavra_dir = cavra_dir
            .or_else(|| std::env::var_os("CAVRA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| locate(None).project_cavra_dir);
        Ctx {
            json,
            color,
            cavra_dir,
        }
    }
}

/// Where an action happens, resolved from its working directory in the same way for every
/// entry point (each agent's hook, `cavra evaluate`, `--request`, the MCP tools).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The working directory, absolute (a relative or missing one is taken against the
    /// process's working directory).
    pub cwd: PathBuf,
    /// The repository containing `cwd` (a directory with `.git`), when `cwd` exists.
    pub repo_root: Option<PathBuf>,
    /// The branch checked out in `repo_root`.
    pub branch: Option<String>,
    /// `$HOME`.
    pub home: Option<String>,
    /// The project: the repository containing `cwd`, else `cwd` when it exists, else the
    /// repository containing the process's working directory, else that directory.
    pub project: PathBuf,
    /// The project's CAVRA directory: the nearest `.cavra` directory from `cwd` up to the
    /// repository root (as git finds `.git`), else `<project>/.cavra`.
    pub project_cavra_dir: PathBuf,
}

/// Lexically normalizes `p` (`a/./b/../c` → `a/c`); `..` above the root stays at the root.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Resolves where an action with working directory `cwd` happens.
pub fn locate(cwd: Option<&str>) -> Location {
    locate_path(cwd.map(str::trim).filter(|c| !c.is_empty()).map(Path::new))
}

/// [`locate`] for a path.
pub fn locate_path(cwd: Option<&Path>) -> Location {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let cwd = match cwd.filter(|c| !c.as_os_str().is_empty()) {
        Some(c) if c.is_absolute() => normalize(c),
        Some(c) => normalize(&here.join(c)),
        None => here.clone(),
    };
    let exists = cwd.is_dir();
    let repo_root = if exists { find_repo_root(&cwd) } else { None };
    let branch = repo_root.as_deref().and_then(current_branch);
    let project = match (&repo_root, exists) {
        (Some(r), _) => r.clone(),
        (None, true) => cwd.clone(),
        (None, false) => find_repo_root(&here).unwrap_or_else(|| here.clone()),
    };
    let start = if exists { cwd.clone() } else { project.clone() };
    let project_cavra_dir =
        nearest_cavra_dir(&start, &project).unwrap_or_else(|| project.join(".cavra"));
    Location {
        cwd,
        repo_root,
        branch,
        home: std::env::var("HOME").ok().filter(|h| !h.is_empty()),
        project,
        project_cavra_dir,
    }
}

/// The nearest `.cavra` directory from `start` up to `stop` (inclusive).
fn nearest_cavra_dir(start: &Path, stop: &Path) -> Option<PathBuf> {
    let mut d = Some(start);
    while let Some(x) = d {
        let c = x.join(".cavra");
        if c.is_dir() {
            return Some(c);
        }
        if x == stop {
            break;
        }
        d = x.parent();
    }
    None
}

/// Finds the repository root above `dir` (a directory containing `.git`).
pub fn find_repo_root(dir: &Path) -> Option<PathBuf> {
    let mut d = Some(dir);
    while let Some(x) = d {
        if x.join(".git").exists() {
            return Some(x.to_path_buf());
        }
        d = x.parent();
    }
    None
}

/// Largest `.git` file or `HEAD` read (a worktree's `.git` file names its git directory).
const MAX_GIT_FILE: u64 = 4096;

fn read_small(p: &Path) -> Option<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(p)
        .ok()?
        .take(MAX_GIT_FILE)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// The branch checked out in `repo` (also in a linked worktree, whose `.git` is a file).
pub fn current_branch(repo: &Path) -> Option<String> {
    let dotgit = repo.join(".git");
    let gitdir = if dotgit.is_file() {
        let text = read_small(&dotgit)?;
        let d = text.trim().strip_prefix("gitdir:")?.trim().to_string();
        let d = PathBuf::from(d);
        if d.is_absolute() {
            d
        } else {
            repo.join(d)
        }
    } else {
        dotgit
    };
    let head = read_small(&gitdir.join("HEAD"))?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_string)
}
