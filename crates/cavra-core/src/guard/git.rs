//! Git semantics: what a push (or another git operation) really does.

use super::{command, Collector, Eval};
use crate::glob::Glob;
use crate::model::{Effect, Severity};
use crate::policy::compile::GitMatcher;
use crate::policy::compile::{CompiledPack, Matcher};

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
    /// A push to a remote added or re-pointed earlier in the same command line (`git remote
    /// add x URL && git push x`, `-c remote.origin.url=…`), or straight to a URL.
    pub new_remote: bool,
    /// Uncommitted work in the working tree is thrown away (`git restore .`, `git read-tree
    /// --reset -u`, `git checkout-index -f -a`, …).
    pub discards_work: bool,
    /// An existing ref is overwritten or deleted (`git branch -M`, `git symbolic-ref HEAD x`,
    /// `git update-ref -d`, `git tag -f`).
    pub overwrites_ref: bool,
    /// The subcommand is only known at run time (`git $CMD`, `git $(…)`), or is an alias
    /// whose definition is not on the command line but in the environment.
    pub subcommand_dynamic: bool,
}

/// git's own commands: an alias never shadows one of these.
pub const BUILTIN_COMMANDS: &[&str] = &[
    "add",
    "am",
    "annotate",
    "apply",
    "archive",
    "bisect",
    "blame",
    "branch",
    "bugreport",
    "bundle",
    "cat-file",
    "check-attr",
    "check-ignore",
    "check-mailmap",
    "check-ref-format",
    "checkout",
    "checkout-index",
    "cherry",
    "cherry-pick",
    "citool",
    "clean",
    "clone",
    "column",
    "commit",
    "commit-graph",
    "commit-tree",
    "config",
    "count-objects",
    "credential",
    "describe",
    "diagnose",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "difftool",
    "fast-export",
    "fast-import",
    "fetch",
    "fetch-pack",
    "filter-branch",
    "fmt-merge-msg",
    "for-each-ref",
    "for-each-repo",
    "format-patch",
    "fsck",
    "gc",
    "get-tar-commit-id",
    "grep",
    "gui",
    "hash-object",
    "help",
    "hook",
    "index-pack",
    "init",
    "instaweb",
    "interpret-trailers",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "mailinfo",
    "mailsplit",
    "maintenance",
    "merge",
    "merge-base",
    "merge-file",
    "merge-index",
    "merge-tree",
    "mergetool",
    "mktag",
    "mktree",
    "multi-pack-index",
    "mv",
    "notes",
    "pack-objects",
    "pack-refs",
    "prune",
    "prune-packed",
    "pull",
    "push",
    "range-diff",
    "read-tree",
    "rebase",
    "receive-pack",
    "reflog",
    "remote",
    "repack",
    "replace",
    "replay",
    "request-pull",
    "rerere",
    "reset",
    "restore",
    "rev-list",
    "rev-parse",
    "revert",
    "rm",
    "scalar",
    "send-email",
    "send-pack",
    "shortlog",
    "show",
    "show-branch",
    "show-index",
    "show-ref",
    "sparse-checkout",
    "stage",
    "stash",
    "status",
    "stripspace",
    "submodule",
    "switch",
    "symbolic-ref",
    "tag",
    "unpack-file",
    "unpack-objects",
    "update-index",
    "update-ref",
    "update-server-info",
    "upload-archive",
    "upload-pack",
    "var",
    "verify-commit",
    "verify-pack",
    "verify-tag",
    "version",
    "whatchanged",
    "worktree",
    "write-tree",
];

/// Is `sub` one of git's own commands?
pub fn is_builtin(sub: &str) -> bool {
    BUILTIN_COMMANDS.contains(&sub)
}

/// Config keys whose value is a command git runs (through the shell). `*` is one
/// name component. `alias.*` counts when the value starts with `!`.
const EXEC_CONFIG_KEYS: &[&str] = &[
    "core.pager",
    "core.editor",
    "core.sshcommand",
    "core.askpass",
    "core.fsmonitor",
    "sequence.editor",
    "diff.external",
    "gpg.program",
    "gpg.*.program",
    "credential.helper",
    "credential.*.helper",
    "pager.*",
    "diff.*.textconv",
    "diff.*.command",
    "merge.*.driver",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "uploadpack.packobjectshook",
    "mergetool.*.cmd",
    "difftool.*.cmd",
];

fn key_matches(pattern: &str, key: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    if p.len() != k.len() {
        // `gpg.*.program` also matches `gpg.x509.program`; a subsection may hold dots
        if let (Some(pf), Some(kf), Some(pl), Some(kl)) = (p.first(), k.first(), p.last(), k.last())
        {
            return p.len() == 3 && k.len() > 3 && pf == kf && pl == kl;
        }
        return false;
    }
    p.iter().zip(&k).all(|(a, b)| *a == "*" || a == b)
}

/// When config `key` = `value` makes git run shell code, that code.
pub fn exec_config_code(key: &str, value: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    let v = value.trim();
    if let Some(name) = key.strip_prefix("alias.") {
        let body = v.strip_prefix('!')?;
        return (!name.is_empty() && !body.trim().is_empty()).then(|| body.trim().to_string());
    }
    if !EXEC_CONFIG_KEYS.iter().any(|p| key_matches(p, &key)) {
        return None;
    }
    // booleans and empty values run nothing (`core.fsmonitor=false`, `core.pager=`)
    if v.is_empty()
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "0" | "1"
        )
    {
        return None;
    }
    // `credential.helper=store` runs `git credential-store`; only `!…` is shell code
    if key.starts_with("credential.") {
        return v.strip_prefix('!').map(|b| b.trim().to_string());
    }
    Some(v.to_string())
}

/// Does config `key` re-point where pushes go (`remote.NAME.url`, `remote.NAME.pushurl`,
/// `url.BASE.insteadOf`, `url.BASE.pushInsteadOf`)?
pub fn redirects_remote(key: &str) -> Option<RemoteRedirect> {
    let key = key.to_ascii_lowercase();
    if let Some(rest) = key.strip_prefix("remote.") {
        let (name, var) = rest.rsplit_once('.')?;
        if var == "url" || var == "pushurl" {
            return Some(RemoteRedirect::Remote(name.to_string()));
        }
    }
    if key.starts_with("url.") && (key.ends_with(".insteadof") || key.ends_with(".pushinsteadof")) {
        return Some(RemoteRedirect::Every);
    }
    None
}

/// What a config key re-points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteRedirect {
    /// One remote (by name, lower case).
    Remote(String),
    /// Every URL with a prefix: any remote.
    Every,
}

/// Is a push destination written as a URL (`https://…`, `ssh://…`, `git@host:path`)?
pub fn is_url_remote(remote: &str) -> bool {
    remote.contains("://")
        || remote
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'))
}

/// A pathspec that covers the whole working tree (or an unknown, possibly whole, set):
/// `.`, `./`, `*`, `:/`, `:(top)`, `..`, globs.
pub fn is_wide_pathspec(p: &str) -> bool {
    let p = p.trim();
    if p.is_empty() {
        return false;
    }
    if let Some(rest) = p.strip_prefix(':') {
        // magic pathspecs: `:/` and `:(top)` (from the top), `:!x` / `:^x` (everything but x)
        if rest.starts_with(['!', '^']) {
            return true;
        }
        let body = match rest.strip_prefix('(') {
            Some(r) => match r.split_once(')') {
                Some((magic, _)) if magic.split(',').any(|m| m == "exclude") => return true,
                Some((_, b)) => b,
                None => return true,
            },
            None => rest.trim_start_matches('/'),
        };
        return body.is_empty() || is_wide_pathspec(body);
    }
    p.contains(['*', '?', '['])
        || p.split(['/', '\\'])
            .all(|seg| seg.is_empty() || seg == "." || seg == "..")
}

/// Arguments of a git subcommand, split: flags (clusters expanded: `-SW` → `-S`, `-W`),
/// option values, positionals (`--` ends options).
#[derive(Debug, Default)]
pub struct SubArgs {
    pub flags: Vec<String>,
    pub values: Vec<(String, String)>,
    pub positionals: Vec<String>,
}

impl SubArgs {
    /// Splits `args`; `value_opts` take the next word (`--source X`, `-s X`).
    pub fn parse(args: &[String], value_opts: &[&str]) -> SubArgs {
        let mut out = SubArgs::default();
        let mut end = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if end || a == "-" || !a.starts_with('-') {
                out.positionals.push(a.clone());
            } else if a == "--" {
                end = true;
            } else if let Some(long) = a.strip_prefix("--") {
                match long.split_once('=') {
                    Some((n, v)) => {
                        out.flags.push(format!("--{n}"));
                        out.values.push((format!("--{n}"), v.to_string()));
                    }
                    None => {
                        out.flags.push(a.clone());
                        if value_opts.contains(&a.as_str()) {
                            if let Some(v) = it.next() {
                                out.values.push((a.clone(), v.clone()));
                            }
                        }
                    }
                }
            } else {
                let cluster: Vec<char> = a.chars().skip(1).collect();
                for (k, c) in cluster.iter().enumerate() {
                    let f = format!("-{c}");
                    let takes = value_opts.contains(&f.as_str());
                    out.flags.push(f.clone());
                    if takes {
                        let rest: String = cluster.iter().skip(k.saturating_add(1)).collect();
                        if !rest.is_empty() {
                            out.values.push((f, rest));
                        } else if let Some(v) = it.next() {
                            out.values.push((f, v.clone()));
                        }
                        break;
                    }
                }
            }
        }
        out
    }

    pub fn has(&self, names: &[&str]) -> bool {
        self.flags.iter().any(|f| names.contains(&f.as_str()))
    }
}

/// What a git subcommand other than `push` does to work and refs. `fresh_repo`: `git init`
/// ran earlier in the same command line (no branch exists yet to be overwritten).
pub fn subcommand_facts(sub: &str, args: &[String], fresh_repo: bool) -> GitFacts {
    let mut f = GitFacts {
        op: sub.to_string(),
        ..Default::default()
    };
    match sub {
        "restore" => {
            let a = SubArgs::parse(args, &["-s", "--source", "--pathspec-from-file"]);
            let staged = a.has(&["-S", "--staged"]);
            let worktree = a.has(&["-W", "--worktree"]);
            let patch = a.has(&["-p", "--patch"]);
            let from_file = a.has(&["--pathspec-from-file"]);
            let wide = from_file || a.positionals.iter().any(|p| is_wide_pathspec(p));
            f.discards_work = (worktree || !staged) && wide && !patch;
        }
        "checkout" => {
            let a = SubArgs::parse(args, &["-b", "-B", "--orphan", "--pathspec-from-file"]);
            f.discards_work = a.has(&["--pathspec-from-file"]) && !a.has(&["-p", "--patch"]);
        }
        "read-tree" => {
            let a = SubArgs::parse(
                args,
                &["--prefix", "--index-output", "--exclude-per-directory"],
            );
            f.discards_work = a.has(&["--reset"]) && a.has(&["-u"]);
        }
        "checkout-index" => {
            let a = SubArgs::parse(args, &["--prefix", "--stage"]);
            f.discards_work =
                a.has(&["-f", "--force"]) && (a.has(&["-a", "--all"]) || a.has(&["--stdin"]));
        }
        "rm" => {
            let a = SubArgs::parse(args, &["--pathspec-from-file"]);
            let wide = a.has(&["--pathspec-from-file"])
                || a.positionals.iter().any(|p| is_wide_pathspec(p));
            f.discards_work = a.has(&["-f", "--force"]) && !a.has(&["--cached"]) && wide;
        }
        "worktree" => {
            let a = SubArgs::parse(args, &[]);
            f.discards_work =
                a.positionals.first().is_some_and(|w| w == "remove") && a.has(&["-f", "--force"]);
        }
        "branch" => {
            let a = SubArgs::parse(
                args,
                &[
                    "-u",
                    "--set-upstream-to",
                    "--contains",
                    "--merged",
                    "--no-merged",
                    "--points-at",
                    "--format",
                    "--sort",
                    "-t",
                    "--track",
                ],
            );
            let force = a.has(&["-f", "--force"]);
            let rename_or_copy = a.has(&["-m", "--move", "-c", "--copy"]);
            let forced_move = a.has(&["-M", "-C"]) || (rename_or_copy && force);
            let listing = a.has(&[
                "-l",
                "--list",
                "-a",
                "--all",
                "-r",
                "--remotes",
                "-v",
                "-vv",
                "--show-current",
            ]) && a.positionals.is_empty();
            let deleting = a.has(&["-d", "-D", "--delete"]);
            // `git branch -f NAME [START]` re-points an existing branch
            let forced_reset =
                force && !rename_or_copy && !deleting && !listing && !a.positionals.is_empty();
            f.overwrites_ref = (forced_move || forced_reset) && !fresh_repo;
        }
        "symbolic-ref" => {
            let a = SubArgs::parse(args, &["-m"]);
            f.overwrites_ref = a.has(&["-d", "--delete"]) || a.positionals.len() >= 2;
        }
        "update-ref" => {
            let a = SubArgs::parse(args, &["-m"]);
            f.overwrites_ref = a.has(&["-d", "--stdin"]) || a.positionals.len() >= 2;
            f.delete = a.has(&["-d"]);
        }
        "tag" => {
            let a = SubArgs::parse(
                args,
                &[
                    "-m",
                    "-F",
                    "-u",
                    "--local-user",
                    "--message",
                    "--file",
                    "--sort",
                    "--format",
                    "--contains",
                    "--points-at",
                ],
            );
            f.overwrites_ref = a.has(&["-f", "--force"]) && !a.positionals.is_empty();
        }
        _ => {}
    }
    f
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
    while let Some(a) = args.get(i) {
        let a = a.as_str();
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
                    i = i.saturating_add(1)
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
                        if k.saturating_add(1) == cluster.len() {
                            i = i.saturating_add(1);
                        }
                        break;
                    }
                    _ => {}
                }
            }
        } else {
            positionals.push(a.to_string());
        }
        i = i.saturating_add(1);
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
        ..Default::default()
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
        && opt_eq(m.new_remote, f.new_remote)
        && opt_eq(m.discards_work, f.discards_work)
        && opt_eq(m.overwrites_ref, f.overwrites_ref)
        && opt_eq(m.subcommand_dynamic, f.subcommand_dynamic)
}

// ---------------------------------------------------------------------------------------
// Request handling

/// A git operation: `git ...` text is a command; `origin/main` with an operation is judged
/// by the git rules and as the equivalent commands.
pub(super) fn request(ev: &Eval<'_>, c: &mut Collector) {
    let Eval { pack, req, .. } = *ev;
    c.family = "git";
    let t = req.target.trim();
    if t.starts_with("git ") || t == "git" {
        command::request(ev, t, None, c);
        return;
    }
    let op = req.operation.as_deref().unwrap_or("push");
    let facts = request_facts(op, t, &pack.git.protected_branches);
    let label = Some(format!("git {op} `{t}`"));
    for r in &pack.rules {
        if let Matcher::Git(m) = &r.matcher {
            if matches(m, &facts) {
                c.push(r, label.clone(), t);
            }
        }
    }
    builtin_rules(pack, &facts, label, c);
    // the same git analysis as the equivalent command: `force_push` of `origin/main` is
    // judged as `git push --force origin main`
    // (their rules apply; the pack's command default does not: the request is a git
    // operation, which the git rules above cover)
    let uncovered = c.uncovered.len();
    for cmd in equivalent_commands(op, t) {
        command::request(ev, &cmd, None, c);
    }
    c.uncovered.truncate(uncovered);
    c.scope = Some(format!("git {op} to `{t}`"));
}

/// The pack's built-in git rules (a direct push to a protected branch).
pub(super) fn builtin_rules(
    pack: &CompiledPack,
    g: &GitFacts,
    matched: Option<String>,
    c: &mut Collector,
) {
    if g.op == "push" && g.protected && pack.git.block_direct_push {
        c.push_builtin(
            "git.protected_branch.block_direct_push",
            Effect::Block,
            Severity::High,
            format!(
                "direct push to protected branch `{}`",
                g.branches.join("`, `")
            ),
            matched,
            None,
        );
        if let Some(last) = c.matches.last_mut() {
            last.alternative = Some("push to a feature branch and open a pull request".into());
        }
    }
}

/// A pull request: allowed (with an AI attestation when the pack asks for one).
pub(super) fn pull_request(pack: &CompiledPack, c: &mut Collector) {
    c.family = "git";
    if pack.git.require_ai_attestation {
        c.push_builtin(
            "git.pull_request.allow_with_attestation",
            Effect::Allow,
            Severity::Medium,
            "pull requests are allowed with an AI attestation".into(),
            None,
            None,
        );
    } else {
        c.push_builtin(
            "git.pull_request.allow",
            Effect::Allow,
            Severity::Low,
            "pull requests are allowed".into(),
            None,
            None,
        );
    }
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

    fn args(s: &str) -> Vec<String> {
        v(s)
    }

    #[test]
    fn restore_discards_only_the_whole_worktree() {
        let d = |a: &str| subcommand_facts("restore", &args(a), false).discards_work;
        assert!(d("."));
        assert!(d("--worktree ."));
        assert!(d("-W :/"));
        assert!(d("--staged --worktree ."));
        assert!(d("-SW ."));
        assert!(d("--source=HEAD~3 -- ."));
        assert!(d("--source HEAD~3 -W *.rs"));
        assert!(d("--pathspec-from-file=list.txt"));
        assert!(d(":!src/keep.rs"));
        assert!(!d("--staged ."), "unstaging keeps the work");
        assert!(!d("-S :/"));
        assert!(!d("src/lib.rs"), "one named file");
        assert!(!d("--source=HEAD~1 src/lib.rs"));
        assert!(!d("-p ."), "hunk by hunk");
    }

    #[test]
    fn plumbing_that_discards_or_overwrites() {
        let f = |sub: &str, a: &str| subcommand_facts(sub, &args(a), false);
        assert!(f("read-tree", "--reset -u HEAD").discards_work);
        assert!(!f("read-tree", "HEAD").discards_work);
        assert!(!f("read-tree", "--reset HEAD").discards_work, "index only");
        assert!(f("checkout-index", "-f -a").discards_work);
        assert!(f("checkout-index", "--force --all").discards_work);
        assert!(!f("checkout-index", "-f src/x.rs").discards_work);
        assert!(f("rm", "-rf .").discards_work);
        assert!(!f("rm", "-r --cached .").discards_work);
        assert!(f("branch", "-M main").overwrites_ref);
        assert!(f("branch", "-C a b").overwrites_ref);
        assert!(f("branch", "--move --force a b").overwrites_ref);
        assert!(f("branch", "-f main HEAD~2").overwrites_ref);
        assert!(!f("branch", "-m new").overwrites_ref);
        assert!(!f("branch", "-f").overwrites_ref);
        assert!(
            !subcommand_facts("branch", &args("-M main"), true).overwrites_ref,
            "fresh repository"
        );
        assert!(f("symbolic-ref", "HEAD refs/heads/x").overwrites_ref);
        assert!(f("symbolic-ref", "-d HEAD").overwrites_ref);
        assert!(!f("symbolic-ref", "--short HEAD").overwrites_ref);
        assert!(f("update-ref", "-d refs/heads/x").overwrites_ref);
        assert!(f("tag", "-f v1 HEAD").overwrites_ref);
        assert!(!f("tag", "v1").overwrites_ref);
    }

    #[test]
    fn pathspecs() {
        for w in [
            ".",
            "./",
            "*",
            ":/",
            ":/*",
            ":(top)",
            "..",
            "../..",
            "*.rs",
            ":!x",
            ":(exclude)x",
        ] {
            assert!(is_wide_pathspec(w), "{w}");
        }
        for n in ["src/lib.rs", "README.md", ":/src/lib.rs", ":(top)src/x.rs"] {
            assert!(!is_wide_pathspec(n), "{n}");
        }
    }

    #[test]
    fn exec_config_and_remotes() {
        assert_eq!(
            exec_config_code("alias.x", "!rm -rf ~").as_deref(),
            Some("rm -rf ~")
        );
        assert_eq!(exec_config_code("alias.st", "status"), None);
        assert_eq!(
            exec_config_code("core.pager", "less -R").as_deref(),
            Some("less -R")
        );
        assert_eq!(exec_config_code("core.fsmonitor", "false"), None);
        assert_eq!(exec_config_code("credential.helper", "store"), None);
        assert_eq!(
            exec_config_code("credential.helper", "!f() { cat; }; f").as_deref(),
            Some("f() { cat; }; f")
        );
        assert_eq!(
            exec_config_code("gpg.x509.program", "evil").as_deref(),
            Some("evil")
        );
        assert_eq!(exec_config_code("color.ui", "always"), None);
        assert!(is_url_remote("https://evil.example/r.git"));
        assert!(is_url_remote("git@github.com:org/r.git"));
        assert!(!is_url_remote("origin"));
        assert!(!is_url_remote("../other"));
        assert_eq!(
            redirects_remote("remote.origin.url"),
            Some(RemoteRedirect::Remote("origin".into()))
        );
        assert_eq!(
            redirects_remote("url.https://x/.insteadOf"),
            Some(RemoteRedirect::Every)
        );
        assert_eq!(redirects_remote("remote.origin.fetch"), None);
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
