//! Git semantics: what a push (or another git operation) really does.

use crate::glob::Glob;
use crate::policy::compile::GitMatcher;

/// Facts about one git operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GitFacts {
    /// `push`, `reset`, ... (the subcommand).
    pub op: String,
    pub remote: Option<String>,
    /// Destination branches.
    pub branches: Vec<String>,
    pub force: bool,
    pub force_with_lease: bool,
    pub delete: bool,
    pub protected: bool,
    pub branch_unknown: bool,
}

fn strip_ref(r: &str) -> String {
    r.trim_start_matches("refs/heads/").to_string()
}

/// Is `branch` protected?
pub fn is_protected(branch: &str, protected: &[Glob]) -> bool {
    protected.iter().any(|g| g.matches(branch))
}

/// Facts of `git push` from its arguments after the subcommand.
pub fn push_facts(args: &[String], current_branch: Option<&str>, protected: &[Glob]) -> GitFacts {
    let mut f = GitFacts {
        op: "push".into(),
        ..Default::default()
    };
    let mut positionals = Vec::new();
    let mut i = 0;
    let mut mirror_or_all = false;
    let mut end_of_opts = false;
    while i < args.len() {
        let a = args[i].as_str();
        if !end_of_opts && a == "--" {
            end_of_opts = true;
        } else if !end_of_opts && a.starts_with("--") {
            let name = a.split('=').next().unwrap_or(a);
            match name {
                "--force" => f.force = true,
                "--force-with-lease" | "--force-if-includes" => f.force_with_lease = true,
                "--delete" => f.delete = true,
                "--mirror" | "--all" | "--branches" => {
                    mirror_or_all = true;
                    if name == "--mirror" {
                        f.force = true;
                        f.delete = true;
                    }
                }
                "--repo" | "--receive-pack" | "--exec" | "--push-option" if !a.contains('=') => {
                    i += 1
                }
                _ => {}
            }
        } else if !end_of_opts && a.starts_with('-') && a.len() > 1 {
            let cluster = &a[1..];
            for (k, c) in cluster.char_indices() {
                match c {
                    'f' => f.force = true,
                    'd' => f.delete = true,
                    'o' => {
                        if k + 1 == cluster.len() {
                            i += 1;
                        }
                        break;
                    }
                    _ => {}
                }
            }
        } else {
            positionals.push(a.to_string());
        }
        i += 1;
    }
    f.remote = positionals.first().cloned();
    let refspecs: Vec<&String> = positionals.iter().skip(1).collect();
    if refspecs.is_empty() {
        if mirror_or_all {
            f.protected = true;
            f.branch_unknown = true;
        } else if let Some(b) = current_branch {
            f.branches.push(b.to_string());
        } else {
            f.branch_unknown = true;
        }
    }
    for r in refspecs {
        let mut r = r.as_str();
        if let Some(x) = r.strip_prefix('+') {
            f.force = true;
            r = x;
        }
        let dst = match r.split_once(':') {
            Some(("", d)) => {
                f.delete = true;
                d
            }
            Some((_, d)) => d,
            None => r,
        };
        if dst == "HEAD" || dst.is_empty() {
            match current_branch {
                Some(b) => f.branches.push(b.to_string()),
                None => f.branch_unknown = true,
            }
        } else if dst.starts_with("refs/tags/")
            || dst.starts_with("refs/") && !dst.starts_with("refs/heads/")
        {
            f.branches.push(dst.to_string());
        } else {
            f.branches.push(strip_ref(dst));
        }
    }
    if f.branches.iter().any(|b| is_protected(b, protected)) {
        f.protected = true;
    }
    f
}

/// Facts from a reference-style git request: target `origin/main` or `main`, operation `push`.
pub fn request_facts(operation: &str, target: &str, protected: &[Glob]) -> GitFacts {
    let op = if operation.is_empty() {
        "push"
    } else {
        operation
    };
    let t = target.trim();
    let (remote, branch) = match t.split_once('/') {
        Some((r, b)) if !r.is_empty() && !b.is_empty() && !t.starts_with("refs/") => {
            (Some(r.to_string()), b.to_string())
        }
        _ => (None, strip_ref(t)),
    };
    let mut branch = branch;
    let mut force = false;
    if let Some(b) = branch.strip_prefix('+') {
        force = true;
        branch = b.to_string();
    }
    // `release/1.2` may be a branch, `origin/main` a remote and a branch: check both readings
    let whole = strip_ref(t.trim_start_matches('+'));
    let protected_hit = is_protected(&branch, protected) || is_protected(&whole, protected);
    let mut branches = vec![branch];
    if remote.is_some() && !branches.contains(&whole) {
        branches.push(whole);
    }
    GitFacts {
        op: op.to_string(),
        remote,
        branches,
        force,
        force_with_lease: false,
        delete: op == "delete" || op == "delete_ref",
        protected: protected_hit,
        branch_unknown: t.is_empty(),
    }
}

/// The git command lines a reference-style request stands for (`operation` + target
/// `origin/main`, `main` or `release/1.2`), so a structured request gets the same analysis
/// as the command. A target with a `/` is read both ways: a branch named `release/1.2` on
/// the default remote, and remote `origin` + branch `main`. An operation not named here
/// becomes `git <operation> <target>` (underscores as dashes); an operation that is not one
/// word gives no command (the structured facts still apply).
pub fn equivalent_commands(operation: &str, target: &str) -> Vec<String> {
    let op = operation.trim().to_ascii_lowercase().replace('-', "_");
    let op = if op.is_empty() {
        "push".to_string()
    } else {
        op
    };
    if !op.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Vec::new();
    }
    let t = target.trim();
    let mut readings: Vec<(String, String)> = Vec::new();
    if !t.is_empty() {
        readings.push(("origin".into(), t.to_string()));
        if let Some((r, b)) = t.split_once('/') {
            if !r.is_empty() && !b.is_empty() && !t.starts_with("refs/") {
                readings.push((r.to_string(), b.to_string()));
            }
        }
    }
    let push = |flags: &[&str]| -> Vec<String> {
        if readings.is_empty() {
            let mut argv = vec!["git", "push"];
            argv.extend_from_slice(flags);
            return vec![cavra_shell::render_argv(&argv)];
        }
        readings
            .iter()
            .map(|(remote, branch)| {
                let mut argv = vec!["git", "push"];
                argv.extend_from_slice(flags);
                argv.push(remote);
                argv.push(branch);
                cavra_shell::render_argv(&argv)
            })
            .collect()
    };
    let on_target = |words: &[&str]| -> Vec<String> {
        let mut argv = vec!["git"];
        argv.extend_from_slice(words);
        if !t.is_empty() {
            argv.push(t);
        }
        vec![cavra_shell::render_argv(&argv)]
    };
    match op.as_str() {
        "push" => push(&[]),
        "force_push" | "push_force" | "force" => push(&["--force"]),
        "force_with_lease" | "force_push_with_lease" | "push_force_with_lease" => {
            push(&["--force-with-lease"])
        }
        "delete" | "delete_ref" | "delete_branch" | "delete_remote_branch" | "push_delete" => {
            push(&["--delete"])
        }
        "reset" | "reset_hard" | "hard_reset" => on_target(&["reset", "--hard"]),
        other => {
            let word = other.replace('_', "-");
            on_target(&[word.as_str()])
        }
    }
}

fn opt_eq(want: Option<bool>, have: bool) -> bool {
    want.is_none_or(|w| w == have)
}

/// Does the matcher match these facts?
pub fn matches(m: &GitMatcher, f: &GitFacts) -> bool {
    (m.op.is_empty() || m.op.iter().any(|o| o == &f.op))
        && opt_eq(m.force, f.force)
        && opt_eq(m.force_with_lease, f.force_with_lease)
        && opt_eq(m.protected, f.protected)
        && opt_eq(m.delete, f.delete)
        && opt_eq(m.branch_unknown, f.branch_unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prot() -> Vec<Glob> {
        vec![Glob::new("main").unwrap(), Glob::new("release/*").unwrap()]
    }
    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn refspec_forms() {
        let f = push_facts(&v("origin +main"), None, &prot());
        assert!(f.force && f.protected);
        let f = push_facts(&v("origin :main"), None, &prot());
        assert!(f.delete && f.protected);
        let f = push_facts(&v("origin HEAD:main"), None, &prot());
        assert!(f.protected && !f.force);
        let f = push_facts(&v("origin feat/x"), None, &prot());
        assert!(!f.protected && !f.force && !f.branch_unknown);
        let f = push_facts(&v("origin refs/heads/release/1.0 -f"), None, &prot());
        assert!(f.protected && f.force);
        let f = push_facts(&v("--force-with-lease origin main"), None, &prot());
        assert!(f.force_with_lease && f.protected && !f.force);
        let f = push_facts(&v("-f"), None, &prot());
        assert!(f.force && f.branch_unknown);
        let f = push_facts(&v("-f"), Some("feat/a"), &prot());
        assert!(f.force && !f.branch_unknown && !f.protected);
        let f = push_facts(&v("--set-upstream origin docs"), None, &prot());
        assert!(!f.force && !f.protected);
        let f = push_facts(&v("origin --delete release/2"), None, &prot());
        assert!(f.delete && f.protected);
        let f = push_facts(&v("--mirror"), None, &prot());
        assert!(f.force && f.protected);
        let f = push_facts(&v("-o ci.skip origin feat"), None, &prot());
        assert_eq!(f.remote.as_deref(), Some("origin"));
    }

    #[test]
    fn equivalent_commands_of_structured_requests() {
        assert_eq!(
            equivalent_commands("force_push", "origin/main"),
            vec![
                "git push --force origin origin/main",
                "git push --force origin main"
            ]
        );
        assert_eq!(equivalent_commands("push", ""), vec!["git push"]);
        assert_eq!(
            equivalent_commands("delete", "main"),
            vec!["git push --delete origin main"]
        );
        assert_eq!(
            equivalent_commands("reset", "HEAD~3"),
            vec!["git reset --hard 'HEAD~3'"]
        );
        assert_eq!(
            equivalent_commands("rebase", "main"),
            vec!["git rebase main"]
        );
        // a target with shell syntax is one quoted word, never code
        assert_eq!(
            equivalent_commands("push", "x;rm -rf ~"),
            vec!["git push origin 'x;rm -rf ~'"]
        );
        assert!(equivalent_commands("push --force", "main").is_empty());
    }

    #[test]
    fn request_form() {
        let f = request_facts("push", "origin/main", &prot());
        assert!(f.protected);
        let f = request_facts("push", "origin/domain", &prot());
        assert!(!f.protected, "suffix match must not count");
        let f = request_facts("push", "release/1.2", &prot());
        assert!(f.protected);
    }
}
