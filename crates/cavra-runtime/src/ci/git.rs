//! The change under check, read through the `git` command line: the commits, the changed
//! paths, the added lines and the files' text at either end.

use super::CiError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The largest file whose text is read (larger files are checked by path only).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// One repository, through `git -C ROOT`.
#[derive(Debug, Clone)]
pub struct Repo {
    pub root: PathBuf,
}

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

/// A changed path (renames are a deletion and an addition: `--no-renames`).
#[derive(Debug, Clone)]
pub struct Changed {
    pub path: String,
    pub change: Change,
}

impl Repo {
    /// The repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo, CiError> {
        let out = git(dir, &["rev-parse", "--show-toplevel"])?;
        let root = String::from_utf8_lossy(&out).trim().to_string();
        if root.is_empty() {
            return Err(CiError::NotARepo(dir.to_path_buf()));
        }
        Ok(Repo {
            root: PathBuf::from(root),
        })
    }

    fn run(&self, args: &[&str]) -> Result<Vec<u8>, CiError> {
        git(&self.root, args)
    }

    /// The commit `reference` names, as a full hash.
    pub fn commit(&self, reference: &str) -> Result<String, CiError> {
        if reference.is_empty() || reference.starts_with('-') || reference.contains('\0') {
            return Err(CiError::BadRef(reference.to_string()));
        }
        let spec = format!("{reference}^{{commit}}");
        let out = self
            .run(&["rev-parse", "--verify", "--quiet", &spec])
            .map_err(|_| CiError::BadRef(reference.to_string()))?;
        let sha = String::from_utf8_lossy(&out).trim().to_string();
        if sha.len() < 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CiError::BadRef(reference.to_string()));
        }
        Ok(sha)
    }

    /// The paths changed from `base` to `head` (commit hashes).
    pub fn changed(&self, base: &str, head: &str) -> Result<Vec<Changed>, CiError> {
        let out = self.run(&["diff", "--no-renames", "--name-status", "-z", base, head])?;
        let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
        let mut changed = Vec::new();
        while let Some(status) = fields.next() {
            let path = fields
                .next()
                .ok_or_else(|| CiError::GitOutput("a status without a path".into()))?;
            let path = String::from_utf8(path.to_vec())
                .map_err(|_| CiError::GitOutput("a path that is not UTF-8".into()))?;
            let change = match status.first() {
                Some(b'A') => Change::Added,
                Some(b'D') => Change::Deleted,
                Some(b'M' | b'T') => Change::Modified,
                _ => {
                    return Err(CiError::GitOutput(format!(
                        "unexpected status `{}` for `{path}`",
                        String::from_utf8_lossy(status)
                    )))
                }
            };
            changed.push(Changed { path, change });
        }
        Ok(changed)
    }

    /// The added lines of `path` from `base` to `head`: (line number at `head`, text).
    /// `None` for a binary file.
    pub fn added_lines(
        &self,
        base: &str,
        head: &str,
        path: &str,
    ) -> Result<Option<Vec<(usize, String)>>, CiError> {
        let out = self.run(&[
            "diff",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "-U0",
            base,
            head,
            "--",
            &format!(":(literal){path}"),
        ])?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = Vec::new();
        let mut next: usize = 0;
        for l in text.lines() {
            if l.starts_with("Binary files ") {
                return Ok(None);
            }
            if let Some(h) = l.strip_prefix("@@ ") {
                next = hunk_start(h).ok_or_else(|| {
                    CiError::GitOutput(format!("a hunk header `@@ {h}` without a `+start`"))
                })?;
            } else if let Some(added) = l.strip_prefix('+') {
                if l.starts_with("+++ ") && next == 0 {
                    continue;
                }
                lines.push((next, added.to_string()));
                next = next.saturating_add(1);
            }
        }
        Ok(Some(lines))
    }

    /// The text of `path` at `commit`: `None` when it is missing, larger than
    /// [`MAX_FILE_BYTES`] or not UTF-8.
    pub fn text_at(&self, commit: &str, path: &str) -> Result<Option<String>, CiError> {
        let spec = format!("{commit}:{path}");
        match self.run(&["cat-file", "-s", &spec]) {
            Ok(size) => {
                let n: usize = String::from_utf8_lossy(&size)
                    .trim()
                    .parse()
                    .unwrap_or(usize::MAX);
                if n > MAX_FILE_BYTES {
                    return Ok(None);
                }
            }
            Err(_) => return Ok(None),
        }
        let out = self.run(&["cat-file", "blob", &spec])?;
        Ok(String::from_utf8(out).ok())
    }
}

/// The `+start` of a hunk header's `-a,b +c,d @@` (for `+c,0`, nothing is added).
fn hunk_start(h: &str) -> Option<usize> {
    let plus = h.split_whitespace().find(|p| p.starts_with('+'))?;
    plus.trim_start_matches('+').split(',').next()?.parse().ok()
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, CiError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        // a repository's own configuration runs nothing here (external diff and textconv
        // drivers are off per call; no fsmonitor)
        .args(["-c", "core.quotepath=off", "-c", "diff.noprefix=false"])
        .args(["-c", "core.fsmonitor=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_EXTERNAL_DIFF")
        .output()
        .map_err(CiError::GitMissing)?;
    if !out.status.success() {
        return Err(CiError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers() {
        assert_eq!(hunk_start("-1,2 +3,4 @@ fn x"), Some(3));
        assert_eq!(hunk_start("-0,0 +1 @@"), Some(1));
        assert_eq!(hunk_start("-5 +4,0 @@"), Some(4));
        assert_eq!(hunk_start("garbage"), None);
    }
}
