//! Where an action happens, resolved from its working directory in the same way for every
//! entry point (each agent's hook, `cavra evaluate`, `--request`, the MCP tools).

use cavra_core::ActionRequest;
use std::path::{Component, Path, PathBuf};

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

/// What a location is resolved against: the front end's working directory and `$HOME`,
/// read by the caller (the runtime reads no environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// The process's working directory (absolute).
    pub cwd: PathBuf,
    /// `$HOME`, when set and not empty.
    pub home: Option<String>,
}

impl Locator {
    /// Resolves where an action with working directory `cwd` happens.
    pub fn locate(&self, cwd: Option<&str>) -> Location {
        self.locate_path(cwd.map(str::trim).filter(|c| !c.is_empty()).map(Path::new))
    }

    /// [`Locator::locate`] for a path.
    pub fn locate_path(&self, cwd: Option<&Path>) -> Location {
        locate_at(&self.cwd, self.home.clone(), cwd)
    }

    /// The CAVRA directory whose `policy.yaml` governs an action at `loc`: the nearest one
    /// from its working directory when that is a directory, else from its project (what a
    /// tool call is decided under, and what a hook in server mode sends).
    pub fn pack_cavra_dir(&self, loc: &Location) -> PathBuf {
        if loc.cwd.is_dir() {
            // `loc` was located from this directory: its CAVRA directory is the one
            // (locating it again would walk up the tree and read the branch once more)
            return loc.project_cavra_dir.clone();
        }
        self.locate_path(Some(&loc.project)).project_cavra_dir
    }

    /// The repository containing the working directory `cwd`: what
    /// `self.locate(cwd).repo_root` is, without reading the branch or looking for the
    /// CAVRA directory.
    pub fn repo_root_of(&self, cwd: Option<&str>) -> Option<PathBuf> {
        let cwd = absolute(
            &self.cwd,
            cwd.map(str::trim).filter(|c| !c.is_empty()).map(Path::new),
        );
        if cwd.is_dir() {
            find_repo_root(&cwd)
        } else {
            None
        }
    }
}

/// The working directory `cwd` made absolute against `here` and normalized (`here` when
/// none is given).
fn absolute(here: &Path, cwd: Option<&Path>) -> PathBuf {
    match cwd.filter(|c| !c.as_os_str().is_empty()) {
        Some(c) if c.is_absolute() => normalize(c),
        Some(c) => normalize(&here.join(c)),
        None => here.to_path_buf(),
    }
}

fn locate_at(here: &Path, home: Option<String>, cwd: Option<&Path>) -> Location {
    let here = here.to_path_buf();
    let cwd = absolute(&here, cwd);
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
        home,
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

/// The project directory of `init` / `uninstall` / `doctor` run at `base`: the repository
/// root above it, else `base` itself (which must be a directory).
pub fn project_root(base: &Path) -> Result<PathBuf, crate::RuntimeError> {
    if !base.is_dir() {
        let dir = base.display();
        let e = format!("project directory `{dir}` does not exist");
        return Err(crate::RuntimeError::Invalid(e));
    }
    let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    Ok(find_repo_root(&base).unwrap_or(base))
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

/// Fills in where a request happens from its location: absolute cwd, repository root,
/// branch and home — the same for every entry point.
pub fn place(req: &mut ActionRequest, loc: &Location) {
    req.cwd = Some(loc.cwd.display().to_string());
    req.repo_root = loc.repo_root.as_ref().map(|p| p.display().to_string());
    req.git_branch = loc.branch.clone();
    req.home = loc.home.clone();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_project_root_is_the_repository_above_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("a/b")).unwrap();
        assert_eq!(project_root(&repo.join("a/b")).unwrap(), repo);
        let e = project_root(&repo.join("nope")).unwrap_err().to_string();
        assert!(
            e.starts_with("project directory `") && e.ends_with("` does not exist"),
            "{e}"
        );
    }

    /// The CAVRA directory whose policy governs an action is the one locating its
    /// directory again finds (nearest `.cavra` up to the repository, else the project's),
    /// for a working directory that exists and one that does not.
    #[test]
    fn the_pack_directory_is_the_one_located_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().join("repo");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join(".cavra")).unwrap();
        std::fs::create_dir_all(root.join("svc/.cavra")).unwrap();
        std::fs::create_dir_all(root.join("svc/src")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        let l = Locator {
            cwd: root.join("docs"),
            home: None,
        };
        let src = root.join("svc/src").display().to_string();
        let svc = root.join("svc").display().to_string();
        for cwd in [
            &src,
            &svc,
            "../svc/src",
            ".",
            "..",
            "/nonexistent/dir",
            "gone",
        ] {
            let loc = l.locate(Some(cwd));
            let again = if loc.cwd.is_dir() {
                &loc.cwd
            } else {
                &loc.project
            };
            assert_eq!(
                l.pack_cavra_dir(&loc),
                l.locate_path(Some(again)).project_cavra_dir,
                "{cwd}"
            );
        }
        assert_eq!(
            l.pack_cavra_dir(&l.locate(Some(&src))),
            root.join("svc/.cavra")
        );
        assert_eq!(
            l.pack_cavra_dir(&l.locate(Some("../svc/src"))),
            root.join("svc/.cavra")
        );
        assert_eq!(l.pack_cavra_dir(&l.locate(Some("."))), root.join(".cavra"));
        assert_eq!(
            l.pack_cavra_dir(&l.locate(Some("/nonexistent/dir"))),
            root.join(".cavra")
        );
    }

    #[test]
    fn relative_cwd_is_taken_against_the_callers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("src/.cavra")).unwrap();
        std::fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let l = Locator {
            cwd: root.clone(),
            home: Some("/home/u".into()),
        };
        let at = l.locate(Some("src/./x/.."));
        assert_eq!(at.cwd, root.join("src"));
        assert_eq!(at.repo_root.as_deref(), Some(root.as_path()));
        assert_eq!(at.branch.as_deref(), Some("main"));
        assert_eq!(at.home.as_deref(), Some("/home/u"));
        assert_eq!(at.project, root);
        assert_eq!(at.project_cavra_dir, root.join("src/.cavra"));
        // a missing directory: the project of the caller's directory
        let gone = l.locate(Some("/nonexistent/dir"));
        assert_eq!(gone.project, root);
        assert_eq!(gone.repo_root, None);
        assert_eq!(gone.project_cavra_dir, root.join(".cavra"));
        assert_eq!(l.locate(None).cwd, root);
    }
}
