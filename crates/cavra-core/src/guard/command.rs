//! The command guard: turns each simple command found by `cavra-shell` into facts (program,
//! subcommand, flags, paths and what is done to them, where stdin comes from, inline SQL,
//! git semantics) and matches command rules against them.

use super::file::{classify, PathFacts};
use super::git::{self, GitFacts};
use super::programs;
use super::scripts::ScriptSource;
use super::{cli, file, network, scripts, Collector, Eval, EvalEnv};
use crate::model::{Effect, Severity};
use crate::paths::{self, PathContext};
use crate::policy::compile::Matcher;
use crate::policy::compile::{Access, CommandMatcher, CompiledPack, PathClass};
use crate::policy::source::ProgramSource;
use cavra_shell::{Arg, Cwd, Invocation, RedirKind, Stdin};

/// A file access a command performs.
#[derive(Debug, Clone)]
pub struct FileAccess {
    pub access: Access,
    pub facts: PathFacts,
    /// The argument as written.
    pub written: String,
    /// A copy of template files (`cp .env.example .env`): the destination gets a
    /// template, not arbitrary content, so rules about replacing a file (`overwrite`) do
    /// not apply; every other write rule does.
    pub from_template: bool,
}

/// Is this a template or example file (`.env.example`, `config.sample`, `x.template`)?
fn is_template_file(path: &str) -> bool {
    let name = paths::file_name(path).to_ascii_lowercase();
    [
        ".example",
        ".sample",
        ".template",
        ".dist",
        ".defaults",
        ".tmpl",
        ".tpl",
    ]
    .iter()
    .any(|e| name.ends_with(e))
}

/// Where standard input (or dynamically built code) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputClass {
    Download,
    Decoder,
    Literal,
    OtherPipe,
}

/// Facts about one simple command.
#[derive(Debug)]
pub struct CommandFacts<'a> {
    pub inv: &'a Invocation,
    pub program: String,
    pub spec: Option<ProgramSource>,
    /// Normalized flags (clusters expanded; raw tokens kept too).
    pub flags: Vec<String>,
    pub subcommand: Vec<String>,
    /// Positional arguments after the subcommand.
    pub rest: Vec<&'a Arg>,
    /// Options and their values (`-c` → `drop table x`).
    pub option_values: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub accesses: Vec<FileAccess>,
    /// Classes of every positional argument read as a path.
    pub path_classes: Vec<PathClass>,
    pub input: Vec<InputClass>,
    /// Programs earlier in the pipeline that feed standard input, nearest first.
    pub stdin_programs: Vec<String>,
    /// The invocation as the CLI table entry of the program parses it, when it has one:
    /// parsed once here, read by the operand matchers, `cli::judge` and `cli::sql_texts`.
    pub table_args: Option<super::cli::Parsed>,
    pub sql: Vec<String>,
    pub git: Option<GitFacts>,
    /// Text with global options of the program removed (`git push --force` for
    /// `git -C x push --force`).
    pub canonical_text: String,
    /// Command lines this command runs that are not argv of its own: the body of a git
    /// alias or the command of an exec config value (`-c core.pager=…`). Judged as if typed.
    pub nested: Vec<NestedCommand>,
    /// The command runs a file downloaded earlier in the same command line (set by the
    /// caller, which sees the whole line).
    pub runs_download: bool,
}

/// A command line run by another command (see [`CommandFacts::nested`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedCommand {
    /// Where it comes from, e.g. ``git alias `x` ``.
    pub origin: String,
    pub command: String,
}

fn lower_program(p: &str) -> String {
    let p = p.to_ascii_lowercase();
    p.strip_suffix(".exe").map(str::to_string).unwrap_or(p)
}

fn spec_for(pack: &CompiledPack, program: &str) -> Option<ProgramSource> {
    pack.programs
        .get(program)
        .cloned()
        .or_else(|| programs::builtin(program))
}

fn looks_like_path(a: &Arg) -> bool {
    let v = a.value.as_str();
    !v.is_empty()
        && !v.contains("://")
        && (v.contains('/')
            || v.contains('.')
            || v.starts_with('~')
            || paths::is_temp_var(v)
            || v.contains('\\')
            || (v.len() >= 2
                && crate::at(v.as_bytes(), 1) == b':'
                && crate::at(v.as_bytes(), 0).is_ascii_alphabetic())
            || a.glob
            || v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

/// Strip a trailing glob segment: `/*` → `/`, `~/*` → `~`, `dist/*.o` → `dist`.
fn glob_base(v: &str) -> String {
    let mut parts: Vec<&str> = v.split('/').collect();
    while parts.len() > 1 && parts.last().is_some_and(|s| s.contains(['*', '?', '['])) {
        parts.pop();
    }
    if let [only] = parts.as_slice() {
        if only.contains(['*', '?', '[']) {
            return ".".into();
        }
    }
    let j = parts.join("/");
    if j.is_empty() {
        "/".into()
    } else {
        j
    }
}

pub(crate) struct Analyzer<'p> {
    pub pack: &'p CompiledPack,
    pub ctx: &'p PathContext,
    pub branch: Option<&'p str>,
    /// The git summary of the command line (computed once per line, not once per
    /// command: a line of thousands of git commands stays linear), with the address and
    /// length of the invocation list it belongs to.
    pub git_line: std::cell::OnceCell<(usize, usize, std::rc::Rc<GitLine>)>,
}

/// What the git commands of one command line define, in order: `git config` writes,
/// remotes added or re-pointed, `git init`.
#[derive(Debug, Default)]
pub(crate) struct GitLine {
    /// (index, key, value; `None` when only known at run time)
    config: Vec<(usize, String, Option<String>)>,
    /// (index, what it re-points) for the `config` writes that re-point remotes
    redirects: Vec<(usize, git::RemoteRedirect)>,
    /// (index, remote name)
    remotes: Vec<(usize, String)>,
    inits: Vec<usize>,
}

impl GitLine {
    fn of(all: &[Invocation]) -> GitLine {
        let mut line = GitLine::default();
        for (i, e) in all.iter().enumerate() {
            if !is_git(e) {
                continue;
            }
            let opts = git_value_options();
            let argv = e.argv.get(1..).unwrap_or(&[]);
            let (_, Some(si)) = git_split(argv, &opts) else {
                continue;
            };
            let Some(sub) = argv.get(si).filter(|a| !a.dynamic) else {
                continue;
            };
            let after: Vec<String> = argv
                .get(si.saturating_add(1)..)
                .unwrap_or(&[])
                .iter()
                .map(|a| a.value.clone())
                .collect();
            match sub.value.as_str() {
                "config" => {
                    if let Some((k, v)) = config_write(&after) {
                        let dynamic = argv.iter().any(|a| a.dynamic && a.value.contains(&v));
                        if let Some(r) = git::redirects_remote(&k) {
                            line.redirects.push((i, r));
                        }
                        line.config.push((i, k, (!dynamic).then_some(v)));
                    }
                }
                "remote" => {
                    if let Some(name) = remote_added(&after) {
                        line.remotes.push((i, name));
                    }
                }
                "init" => line.inits.push(i),
                _ => {}
            }
        }
        line
    }
}

fn is_git(e: &Invocation) -> bool {
    e.program.eq_ignore_ascii_case("git") || e.program.eq_ignore_ascii_case("git.exe")
}

fn git_value_options() -> Vec<String> {
    programs::builtin("git")
        .map(|s| s.value_options)
        .unwrap_or_default()
}

/// The index of `inv` in `all`, when it is one of its elements.
fn index_in(all: &[Invocation], inv: &Invocation) -> Option<usize> {
    let size = std::mem::size_of::<Invocation>();
    let off = (inv as *const Invocation as usize).checked_sub(all.as_ptr() as usize)?;
    let i = off.checked_div(size)?;
    all.get(i).filter(|x| std::ptr::eq(*x, inv)).map(|_| i)
}

impl<'p> Analyzer<'p> {
    fn resolve_cwd(&self, inv: &Invocation) -> Option<String> {
        match &inv.cwd {
            Cwd::Initial => self.ctx.cwd.clone(),
            Cwd::Known(d) => Some(paths::resolve(d, self.ctx, None)),
            Cwd::Unknown => None,
        }
    }

    fn path_facts(&self, a: &Arg, cwd: &Option<String>) -> PathFacts {
        // `$TMPDIR`, `$env:TEMP\x`: a temp directory even though its value is not known
        let temp_var = paths::is_temp_var(&a.value);
        if a.dynamic && !a.value.starts_with('~') && !temp_var {
            return PathFacts {
                path: a.value.clone(),
                repo_rel: None,
                classes: vec![PathClass::Unknown],
            };
        }
        let v = if a.glob {
            glob_base(&a.value)
        } else {
            a.value.clone()
        };
        let unknown_cwd = cwd.is_none() && self.ctx.cwd.is_some();
        let resolved = paths::resolve(&v, self.ctx, cwd.as_deref());
        let mut f = classify(&resolved, self.ctx, &self.pack.defaults.temp_dirs);
        if unknown_cwd && !v.starts_with('/') && !v.starts_with('~') {
            f.classes.push(PathClass::Unknown);
        }
        // keep the glob in the path for name matching (`rm *.pem` still names .pem files)
        if a.glob {
            f.path = paths::resolve(&a.value, self.ctx, cwd.as_deref());
        }
        f
    }

    pub fn facts<'a>(&self, inv: &'a Invocation, all: &'a [Invocation]) -> CommandFacts<'a> {
        let program = lower_program(&inv.program);
        let spec = spec_for(self.pack, &program);
        let value_opts: &[String] = spec
            .as_ref()
            .map(|s| s.value_options.as_slice())
            .unwrap_or(&[]);
        let long_single = spec
            .as_ref()
            .and_then(|s| s.long_single_dash)
            .unwrap_or(false);
        let depth = spec.as_ref().and_then(|s| s.subcommand_depth).unwrap_or(0);
        let windows_switches = matches!(
            program.as_str(),
            "rmdir"
                | "rd"
                | "del"
                | "erase"
                | "xcopy"
                | "robocopy"
                | "copy"
                | "move"
                | "dir"
                | "attrib"
                | "icacls"
                | "takeown"
                | "format"
        );
        let mut flags = Vec::new();
        let mut positionals: Vec<&Arg> = Vec::new();
        let mut option_values = Vec::new();
        let mut end = false;
        let argv = inv.argv.get(1..).unwrap_or(&[]);
        let mut i = 0;
        while let Some(a) = argv.get(i) {
            let v = a.value.as_str();
            // Windows tools take `/s`-style switches
            if windows_switches && v.len() == 2 && v.starts_with('/') && !a.quoted {
                flags.push(v.to_ascii_lowercase());
                i = i.saturating_add(1);
                continue;
            }
            if end || a.dynamic && !v.starts_with('-') || !v.starts_with('-') || v == "-" {
                positionals.push(a);
                i = i.saturating_add(1);
                continue;
            }
            if v == "--" {
                end = true;
                i = i.saturating_add(1);
                continue;
            }
            if v.starts_with("--") || long_single {
                let (name, val) = match v.split_once('=') {
                    Some((n, x)) => (n.to_string(), Some(x.to_string())),
                    None => (v.to_string(), None),
                };
                let lname = name.to_ascii_lowercase();
                if let Some(x) = val {
                    option_values.push((lname.clone(), x));
                } else if value_opts.iter().any(|o| o.eq_ignore_ascii_case(&name)) {
                    if let Some(next) = argv.get(i.saturating_add(1)) {
                        option_values.push((lname.clone(), next.value.clone()));
                        i = i.saturating_add(1);
                    }
                }
                flags.push(lname);
                i = i.saturating_add(1);
                continue;
            }
            // short option(s)
            if value_opts.iter().any(|o| o == v) {
                flags.push(v.to_string());
                if let Some(next) = argv.get(i.saturating_add(1)) {
                    option_values.push((v.to_string(), next.value.clone()));
                    i = i.saturating_add(1);
                }
                i = i.saturating_add(1);
                continue;
            }
            flags.push(v.to_string());
            let cluster: Vec<char> = v[1..].chars().collect();
            for (k, c) in cluster.iter().enumerate() {
                let f = format!("-{c}");
                let takes_value = value_opts.contains(&f);
                flags.push(f.clone());
                if takes_value {
                    let rest: String = cluster
                        .get(k.saturating_add(1)..)
                        .unwrap_or_default()
                        .iter()
                        .collect();
                    if !rest.is_empty() {
                        option_values.push((f, rest));
                    } else if let Some(next) = argv.get(i.saturating_add(1)) {
                        option_values.push((f, next.value.clone()));
                        i = i.saturating_add(1);
                    }
                    break;
                }
            }
            i = i.saturating_add(1);
        }
        let n_sub = depth.min(positionals.len());
        let subcommand: Vec<String> = positionals
            .get(..n_sub)
            .unwrap_or_default()
            .iter()
            .map(|a| a.value.to_ascii_lowercase())
            .collect();
        let rest: Vec<&Arg> = positionals.get(n_sub..).unwrap_or_default().to_vec();
        let cwd = self.resolve_cwd(inv);

        // canonical text: program, subcommand, then everything after the subcommand as written
        let canonical_text = if program == "git" || program == "kubectl" || program == "helm" {
            let mut words = vec![program.clone()];
            let mut seen_sub = false;
            let mut skip = false;
            for a in argv {
                if skip {
                    skip = false;
                    continue;
                }
                if !seen_sub {
                    if a.value.starts_with('-') {
                        if value_opts.contains(&a.value) {
                            skip = true;
                        }
                        continue;
                    }
                    seen_sub = true;
                }
                words.push(a.value.clone());
            }
            words.join(" ")
        } else {
            inv.text.clone()
        };

        let mut facts = CommandFacts {
            inv,
            program: program.clone(),
            spec: spec.clone(),
            flags,
            subcommand,
            rest,
            option_values,
            cwd,
            accesses: Vec::new(),
            path_classes: Vec::new(),
            input: Vec::new(),
            stdin_programs: stdin_programs(inv, all),
            table_args: super::cli::parse(self.pack, &program, inv),
            sql: Vec::new(),
            git: None,
            canonical_text,
            nested: Vec::new(),
            runs_download: false,
        };
        self.file_accesses(&mut facts, all);
        facts.input = input_classes(inv, all, self.pack);
        self.sql(&mut facts, all);
        // SQL in a CLI's query option or operands (`snow sql -q`, `bq query`), per the table
        for t in super::cli::sql_texts(self.pack, &facts) {
            for k in super::sql::classify(&t) {
                if !facts.sql.iter().any(|x| x == k) {
                    facts.sql.push(k.to_string());
                }
            }
        }
        if program == "git" {
            self.git_facts(&mut facts, all);
        }
        facts
    }

    fn add_access(&self, f: &mut CommandFacts<'_>, access: Access, a: &Arg) {
        let cwd = f.cwd.clone();
        let pf = self.path_facts(a, &cwd);
        for c in &pf.classes {
            if !f.path_classes.contains(c) {
                f.path_classes.push(*c);
            }
        }
        f.accesses.push(FileAccess {
            access,
            facts: pf,
            written: a.value.clone(),
            from_template: false,
        });
    }

    fn file_accesses(&self, f: &mut CommandFacts<'_>, all: &[Invocation]) {
        // redirections
        for r in &f.inv.redirects {
            let access = match r.kind {
                RedirKind::Read => Access::Read,
                RedirKind::Append => Access::Append,
                RedirKind::Write | RedirKind::ReadWrite => Access::Write,
                RedirKind::Dup => continue,
            };
            if r.target.value.starts_with('&') || r.target.value.chars().all(|c| c.is_ascii_digit())
            {
                continue;
            }
            let a = r.target.clone();
            self.add_access(f, access, &a);
        }
        if let Stdin::File(a) = &f.inv.stdin {
            let a = a.clone();
            self.add_access(f, Access::Read, &a);
        }
        let sub_key = f.subcommand.join(" ");
        let mode = f
            .spec
            .as_ref()
            .and_then(|s| s.subcommand_args.get(&sub_key).or(s.args.as_ref()).cloned())
            .unwrap_or_else(|| "read".into());
        let rest: Vec<Arg> = f.rest.iter().map(|a| (*a).clone()).collect();
        let pathish: Vec<&Arg> = rest.iter().filter(|a| looks_like_path(a)).collect();
        let program = f.program.clone();
        match program.as_str() {
            "dd" => {
                for a in &rest {
                    if let Some(x) = a.value.strip_prefix("of=") {
                        let arg = Arg {
                            value: x.to_string(),
                            ..a.clone()
                        };
                        self.add_access(f, Access::Write, &arg);
                    } else if let Some(x) = a.value.strip_prefix("if=") {
                        let arg = Arg {
                            value: x.to_string(),
                            ..a.clone()
                        };
                        self.add_access(f, Access::Read, &arg);
                    }
                }
                return;
            }
            "find" => {
                // roots: positionals before the expression
                let roots: Vec<Arg> = f
                    .inv
                    .argv
                    .iter()
                    .skip(1)
                    .take_while(|a| !a.value.starts_with('-') && a.value != "(" && a.value != "!")
                    .cloned()
                    .collect();
                let deletes = f.flags.iter().any(|x| x == "-delete");
                let selective = find_is_selective(&f.flags);
                for r in &roots {
                    if deletes && selective {
                        // `find . -name '*.pyc' -delete` deletes some files below the root,
                        // not the root itself
                        let below = find_below(r);
                        self.add_access(f, Access::Delete, &below);
                    } else {
                        self.add_access(
                            f,
                            if deletes {
                                Access::Delete
                            } else {
                                Access::Read
                            },
                            r,
                        );
                    }
                }
                if deletes && roots.is_empty() {
                    let dot = Arg {
                        value: ".".into(),
                        dynamic: false,
                        glob: false,
                        quoted: false,
                    };
                    self.add_access(f, Access::Delete, &dot);
                }
                return;
            }
            "sed" | "perl"
                if f.flags
                    .iter()
                    .any(|x| x == "-i" || x.starts_with("-i") || x == "--in-place") =>
            {
                for a in pathish.iter().skip(usize::from(
                    program == "sed" && !f.option_values.iter().any(|(k, _)| k == "-e"),
                )) {
                    self.add_access(f, Access::Write, a);
                }
                return;
            }
            "curl" | "wget" => {
                for (k, v) in f.option_values.clone() {
                    let read_file = match k.as_str() {
                        "-d" | "--data" | "--data-binary" | "--data-ascii" | "--data-urlencode"
                        | "--json" => v.strip_prefix('@').map(str::to_string),
                        "-F" | "--form" | "--form-string" => v
                            .split_once("=@")
                            .map(|(_, x)| x.split(';').next().unwrap_or(x).to_string())
                            .or_else(|| v.split_once("=<").map(|(_, x)| x.to_string())),
                        "-T" | "--upload-file" | "--post-file" | "--body-file" | "-K"
                        | "--config" => Some(v.clone()),
                        _ => None,
                    };
                    if let Some(p) = read_file {
                        if p != "-" {
                            let arg = Arg {
                                value: p,
                                dynamic: false,
                                glob: false,
                                quoted: true,
                            };
                            self.add_access(f, Access::Read, &arg);
                        }
                    }
                }
                // output files: `write_options` of the program table, below
            }
            "tar" | "bsdtar" => {
                self.tar_accesses(f, &rest);
                return;
            }
            "ssh-keygen" => {
                // `-f FILE` names the key: read when only inspected or converted, written
                // (replaced) when a key is generated or changed
                let reads = f.flags.iter().any(|x| {
                    matches!(
                        x.as_str(),
                        "-l" | "-y" | "-e" | "-i" | "-B" | "-L" | "-Q" | "-F" | "-H"
                    )
                });
                for (k, v) in f.option_values.clone() {
                    if k == "-f" && v != "-" {
                        let arg = option_arg(&v);
                        let access = if reads { Access::Read } else { Access::Write };
                        self.add_access(f, access, &arg);
                    }
                }
                return;
            }
            "chmod" if chmod_only_tightens(f) => {
                // `chmod 600 key` makes a file private: not a write of its content
                return;
            }
            _ => {}
        }
        match mode.as_str() {
            "none" => {}
            "delete" => {
                for a in &pathish {
                    self.add_access(f, Access::Delete, a);
                }
                // `rm` of a dynamic argument (xargs, find -exec) names what the feeding
                // command produces when that is known, else an unknown path
                for a in rest.iter().filter(|a| a.dynamic && !looks_like_path(a)) {
                    match fed_paths(f.inv, a, all) {
                        Some(paths) => {
                            for p in &paths {
                                self.add_access(f, Access::Delete, p);
                            }
                        }
                        None => self.add_access(f, Access::Delete, a),
                    }
                }
            }
            "write" => {
                let access =
                    if program == "tee" && f.flags.iter().any(|x| x == "-a" || x == "--append") {
                        Access::Append
                    } else {
                        Access::Write
                    };
                for a in &pathish {
                    self.add_access(f, access, a);
                }
            }
            "write_after_first" => {
                // the first positional is the mode/owner (`+x`, `a+rwx`, `user:group`), unless
                // `--reference FILE` gives it
                let skip = usize::from(!f.option_values.iter().any(|(k, _)| k == "--reference"));
                for a in rest.iter().skip(skip).filter(|a| looks_like_path(a)) {
                    self.add_access(f, Access::Write, a);
                }
            }
            "copy" | "move" => {
                let target_opt = f
                    .option_values
                    .iter()
                    .find(|(k, _)| k == "-t" || k == "--target-directory")
                    .map(|(_, v)| v.clone());
                let n = pathish.len();
                let sources = n.saturating_sub(usize::from(target_opt.is_none()));
                let templates = mode == "copy"
                    && sources > 0
                    && pathish
                        .iter()
                        .take(sources)
                        .all(|a| !a.dynamic && !a.glob && is_template_file(&a.value));
                for (k, a) in pathish.iter().enumerate() {
                    let is_dest = target_opt.is_none() && k.saturating_add(1) == n && n > 1;
                    if is_dest {
                        self.add_access(f, Access::Write, a);
                        if templates {
                            if let Some(last) = f.accesses.last_mut() {
                                last.from_template = true;
                            }
                        }
                    } else {
                        self.add_access(f, Access::Read, a);
                        if mode == "move" {
                            self.add_access(f, Access::Delete, a);
                        }
                    }
                }
                if let Some(t) = target_opt {
                    let arg = Arg {
                        value: t,
                        dynamic: false,
                        glob: false,
                        quoted: true,
                    };
                    self.add_access(f, Access::Write, &arg);
                }
            }
            "read_after_first" => {
                let pattern_given = f
                    .option_values
                    .iter()
                    .any(|(k, _)| k == "-e" || k == "-f" || k == "--regexp");
                let skip = usize::from(!pattern_given);
                for a in rest.iter().skip(skip).filter(|a| looks_like_path(a)) {
                    self.add_access(f, Access::Read, a);
                }
            }
            _ => {
                for a in &pathish {
                    self.add_access(f, Access::Read, a);
                }
            }
        }
        // options that name files
        if let Some(spec) = f.spec.clone() {
            for (k, v) in f.option_values.clone() {
                if v == "-" {
                    // standard input or output
                    continue;
                }
                if spec.read_options.contains(&k) {
                    let arg = Arg {
                        value: v.clone(),
                        dynamic: false,
                        glob: false,
                        quoted: true,
                    };
                    self.add_access(f, Access::Read, &arg);
                }
                if spec.write_options.contains(&k) {
                    let arg = Arg {
                        value: v,
                        dynamic: false,
                        glob: false,
                        quoted: true,
                    };
                    self.add_access(f, Access::Write, &arg);
                }
            }
        }
    }

    /// `tar`: the archive (`-f`, or the word after an old-style `czf` cluster) is written in
    /// create/append mode and read otherwise; members are read when archiving; the `-C`
    /// directory is written when extracting.
    fn tar_accesses(&self, f: &mut CommandFacts<'_>, rest: &[Arg]) {
        let mut letters: Vec<char> = f
            .flags
            .iter()
            .filter(|x| x.len() == 2 && x.starts_with('-'))
            .filter_map(|x| x.chars().nth(1))
            .collect();
        let mut archive: Option<Arg> = f
            .option_values
            .iter()
            .find(|(k, _)| k == "-f" || k == "--file")
            .map(|(_, v)| option_arg(v));
        let mut members: &[Arg] = rest;
        // old style: `tar czf out.tgz src` (the first word is a cluster without a dash)
        if let Some(first) = rest.first() {
            let w = first.value.as_str();
            let is_cluster = !first.dynamic
                && !w.is_empty()
                && w.chars().all(|c| c.is_ascii_alphabetic())
                && w.chars().any(|c| matches!(c, 'c' | 'x' | 't' | 'r' | 'u'))
                && !f.flags.iter().any(|x| {
                    matches!(
                        x.as_str(),
                        "-c" | "-x" | "-t" | "-r" | "-u" | "--create" | "--extract" | "--list"
                    )
                });
            if is_cluster {
                letters.extend(w.chars());
                members = rest.get(1..).unwrap_or(&[]);
                if w.contains('f') && archive.is_none() {
                    archive = members.first().cloned();
                    members = members.get(1..).unwrap_or(&[]);
                }
            }
        }
        let long = |name: &str| f.flags.iter().any(|x| x == name);
        let create = letters.contains(&'c') || long("--create");
        let append =
            letters.iter().any(|c| matches!(c, 'r' | 'u')) || long("--append") || long("--update");
        let extract = letters.contains(&'x') || long("--extract") || long("--get");
        if let Some(a) = archive.filter(|a| a.value != "-") {
            let access = if create {
                Access::Write
            } else if append {
                Access::Append
            } else {
                Access::Read
            };
            self.add_access(f, access, &a);
        }
        if create || append {
            for a in members.iter().filter(|a| looks_like_path(a)) {
                self.add_access(f, Access::Read, a);
            }
        }
        if extract {
            let dirs: Vec<String> = f
                .option_values
                .iter()
                .filter(|(k, _)| k == "-C" || k == "--directory")
                .map(|(_, v)| v.clone())
                .collect();
            for d in dirs {
                self.add_access(f, Access::Write, &option_arg(&d));
            }
        }
    }

    fn sql(&self, f: &mut CommandFacts<'_>, all: &[Invocation]) {
        let sql_opts: Vec<String> = f
            .spec
            .as_ref()
            .map(|s| s.sql_options.clone())
            .unwrap_or_default();
        let is_db = matches!(
            f.program.as_str(),
            "psql"
                | "mysql"
                | "mariadb"
                | "sqlite3"
                | "redis-cli"
                | "mongosh"
                | "mongo"
                | "clickhouse-client"
                | "cqlsh"
                | "duckdb"
        ) || !sql_opts.is_empty();
        if !is_db {
            return;
        }
        let mut texts: Vec<String> = f
            .option_values
            .iter()
            .filter(|(k, _)| sql_opts.iter().any(|o| o.eq_ignore_ascii_case(k)))
            .map(|(_, v)| v.clone())
            .collect();
        match f.program.as_str() {
            "sqlite3" | "duckdb" => texts.extend(f.rest.iter().skip(1).map(|a| a.value.clone())),
            "redis-cli" => {
                let words: Vec<String> = f.rest.iter().map(|a| a.value.clone()).collect();
                if !words.is_empty() {
                    texts.push(words.join(" "));
                }
            }
            _ => {}
        }
        match &f.inv.stdin {
            Stdin::HereDoc(t) | Stdin::HereString(t) => texts.push(t.clone()),
            Stdin::Pipe { from } => {
                if let Some(src) = all.get(*from) {
                    let p = lower_program(&src.program);
                    if p == "echo" || p == "printf" {
                        texts.push(
                            src.argv
                                .iter()
                                .skip(1)
                                .map(|a| a.value.as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                        );
                    }
                }
            }
            _ => {}
        }
        for t in texts {
            for k in super::sql::classify(&t) {
                if !f.sql.contains(&k.to_string()) {
                    f.sql.push(k.to_string());
                }
            }
        }
    }

    fn git_facts(&self, f: &mut CommandFacts<'_>, all: &[Invocation]) {
        let value_opts: Vec<String> = f
            .spec
            .as_ref()
            .map(|s| s.value_options.clone())
            .unwrap_or_default();
        let argv = f.inv.argv.get(1..).unwrap_or(&[]);
        let (globals, sub_idx) = git_split(argv, &value_opts);
        let here = index_in(all, f.inv).unwrap_or(0);
        let key = (all.as_ptr() as usize, all.len());
        let (p, n, cached) = self
            .git_line
            .get_or_init(|| (key.0, key.1, std::rc::Rc::new(GitLine::of(all))));
        // another list than the one cached (not how the evaluator calls): computed afresh
        let line = if (*p, *n) == key {
            cached.clone()
        } else {
            std::rc::Rc::new(GitLine::of(all))
        };
        let config = git_config_entries(f.inv, &globals, &line, here);
        // exec config values given on this line are shell code git may run
        for (k, v) in &config.here {
            if let Some(v) = v {
                if let Some(code) = git::exec_config_code(k, v) {
                    f.nested.push(NestedCommand {
                        origin: format!("git config `{k}`"),
                        command: code,
                    });
                }
            }
        }
        let Some(sub_idx) = sub_idx else {
            return;
        };
        let Some(sub_arg) = argv.get(sub_idx) else {
            return;
        };
        let after: Vec<String> = argv
            .get(sub_idx.saturating_add(1)..)
            .unwrap_or(&[])
            .iter()
            .map(|a| a.value.clone())
            .collect();
        if sub_arg.dynamic {
            f.git = Some(GitFacts {
                op: String::new(),
                subcommand_dynamic: true,
                ..Default::default()
            });
            return;
        }
        let sub = sub_arg.value.clone();
        // `git config KEY VALUE` writing an exec key: its code runs later
        if sub == "config" {
            if let Some((k, v)) = config_write(&after) {
                if let Some(code) = git::exec_config_code(&k, &v) {
                    f.nested.push(NestedCommand {
                        origin: format!("git config `{k}`"),
                        command: code,
                    });
                }
            }
        }
        if !git::is_builtin(&sub) {
            if let Some(expansion) = expand_alias(&sub, &config) {
                let rest = cavra_shell::render_argv(&after);
                match expansion {
                    Alias::Shell(body) => f.nested.push(NestedCommand {
                        origin: format!("git alias `{sub}`"),
                        command: if rest.is_empty() {
                            body
                        } else {
                            format!("{body} {rest}")
                        },
                    }),
                    Alias::Git(words) => {
                        // the alias words replace the subcommand; global options stay,
                        // alias definitions are dropped (already expanded)
                        let mut line = vec!["git".to_string()];
                        let mut skip_next = false;
                        for (k, g) in globals.iter().enumerate() {
                            if skip_next {
                                skip_next = false;
                                continue;
                            }
                            let next = globals.get(k.saturating_add(1));
                            if g.value == "-c"
                                && next.is_some_and(|n| {
                                    n.value.to_ascii_lowercase().starts_with("alias.")
                                })
                            {
                                skip_next = true;
                                continue;
                            }
                            if g.value.to_ascii_lowercase().starts_with("-calias.") {
                                continue;
                            }
                            line.push(g.value.clone());
                        }
                        let mut text = cavra_shell::render_argv(&line);
                        text.push(' ');
                        text.push_str(&words);
                        if !rest.is_empty() {
                            text.push(' ');
                            text.push_str(&rest);
                        }
                        f.nested.push(NestedCommand {
                            origin: format!("git alias `{sub}`"),
                            command: text,
                        });
                    }
                    Alias::Unknown => {
                        f.git = Some(GitFacts {
                            op: sub,
                            subcommand_dynamic: true,
                            ..Default::default()
                        });
                        return;
                    }
                }
                f.git = Some(GitFacts {
                    op: sub,
                    ..Default::default()
                });
                return;
            }
        }
        if sub == "push" {
            let mut g = git::push_facts(&after, self.branch, &self.pack.git.protected_branches);
            if let Some(remote) = &g.remote {
                g.new_remote = git::is_url_remote(remote)
                    || config.redirects(remote)
                    || line
                        .remotes
                        .iter()
                        .take_while(|(i, _)| *i < here)
                        .any(|(_, r)| r.eq_ignore_ascii_case(remote));
            } else {
                g.new_remote = config.redirects("origin");
            }
            f.git = Some(g);
        } else {
            let fresh = line.inits.first().is_some_and(|i| *i < here);
            f.git = Some(git::subcommand_facts(&sub, &after, fresh));
        }
    }
}

/// Splits git's argv (after the program) into the global options and the index of the
/// subcommand word.
fn git_split<'a>(argv: &'a [Arg], value_opts: &[String]) -> (Vec<&'a Arg>, Option<usize>) {
    let mut globals = Vec::new();
    let mut skip = false;
    for (i, a) in argv.iter().enumerate() {
        if skip {
            skip = false;
            globals.push(a);
            continue;
        }
        if a.value.starts_with('-') && !a.dynamic {
            if value_opts.contains(&a.value) {
                skip = true;
            }
            globals.push(a);
            continue;
        }
        return (globals, Some(i));
    }
    (globals, None)
}

/// Config given to or defined before one git invocation.
#[derive(Debug, Default)]
struct GitConfig<'l> {
    /// On this invocation (`-c k=v`, `GIT_CONFIG_*` assignments); `None`: from the
    /// environment (`--config-env k=VAR`), value unknown. Keys lower case.
    here: Vec<(String, Option<String>)>,
    /// `git config k v` earlier on the line (index, key, value).
    before: &'l [(usize, String, Option<String>)],
    /// Remote re-pointing keys among `before`.
    before_redirects: &'l [(usize, git::RemoteRedirect)],
}

impl GitConfig<'_> {
    fn lookup(&self, key: &str) -> Option<&Option<String>> {
        self.here
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .or_else(|| {
                self.before
                    .iter()
                    .rev()
                    .find(|(_, k, _)| k == key)
                    .map(|(_, _, v)| v)
            })
    }

    /// Does config re-point pushes to `remote`?
    fn redirects(&self, remote: &str) -> bool {
        let remote = remote.to_ascii_lowercase();
        let hit = |r: &git::RemoteRedirect| match r {
            git::RemoteRedirect::Remote(r) => *r == remote,
            git::RemoteRedirect::Every => true,
        };
        self.here
            .iter()
            .filter_map(|(k, _)| git::redirects_remote(k))
            .any(|r| hit(&r))
            || self.before_redirects.iter().any(|(_, r)| hit(r))
    }
}

/// Lower-cases the section and the variable name of a config key (the subsection keeps
/// its case, but aliases and the keys CAVRA looks at have none that matters).
fn config_key(k: &str) -> String {
    k.trim().to_ascii_lowercase()
}

fn git_config_entries<'l>(
    inv: &Invocation,
    globals: &[&Arg],
    line: &'l GitLine,
    here: usize,
) -> GitConfig<'l> {
    let mut cfg = GitConfig::default();
    let mut it = globals.iter().peekable();
    while let Some(g) = it.next() {
        let v = g.value.as_str();
        let (opt, val) = if v == "-c" || v == "--config-env" {
            match it.next() {
                Some(n) => (v, n.value.clone()),
                None => break,
            }
        } else if let Some(x) = v.strip_prefix("--config-env=") {
            ("--config-env", x.to_string())
        } else if let Some(x) = v.strip_prefix("-c").filter(|x| !x.is_empty()) {
            ("-c", x.to_string())
        } else {
            continue;
        };
        let (k, value) = match val.split_once('=') {
            Some((k, x)) => (config_key(k), Some(x.to_string())),
            // `-c key` alone means `key=true`
            None => (config_key(&val), Some("true".to_string())),
        };
        if opt == "--config-env" {
            cfg.here.push((k, None));
        } else {
            cfg.here.push((k, value));
        }
    }
    // GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n and GIT_CONFIG_PARAMETERS
    for (name, value) in &inv.assignments {
        if let Some(n) = name.strip_prefix("GIT_CONFIG_KEY_") {
            let want = format!("GIT_CONFIG_VALUE_{n}");
            let v = inv
                .assignments
                .iter()
                .find(|(k, _)| *k == want)
                .map(|(_, v)| v.clone());
            cfg.here.push((config_key(value), v));
        } else if name == "GIT_CONFIG_PARAMETERS" {
            for part in value.split("' '") {
                let part = part.trim().trim_matches('\'');
                if let Some((k, v)) = part.split_once('=') {
                    cfg.here.push((config_key(k), Some(v.to_string())));
                }
            }
        }
    }
    let n = line.config.partition_point(|(i, _, _)| *i < here);
    cfg.before = line.config.get(..n).unwrap_or(&[]);
    let n = line.redirects.partition_point(|(i, _)| *i < here);
    cfg.before_redirects = line.redirects.get(..n).unwrap_or(&[]);
    cfg
}

/// `git config [--global|--add|…] KEY VALUE` or `git config set KEY VALUE`: the key and
/// value written, if this is a write.
fn config_write(after: &[String]) -> Option<(String, String)> {
    let mut pos: Vec<&String> = Vec::new();
    let mut skip = false;
    for a in after {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') {
            if matches!(
                a.as_str(),
                "--get"
                    | "--get-all"
                    | "--get-regexp"
                    | "--get-urlmatch"
                    | "-l"
                    | "--list"
                    | "--unset"
                    | "--unset-all"
                    | "--remove-section"
                    | "--rename-section"
                    | "-e"
                    | "--edit"
            ) {
                return None;
            }
            if matches!(
                a.as_str(),
                "-f" | "--file" | "--blob" | "--type" | "--default" | "--comment" | "--value"
            ) {
                skip = true;
            }
            continue;
        }
        pos.push(a);
    }
    let pos: &[&String] = match pos.first().map(|s| s.as_str()) {
        Some("set") => pos.get(1..)?,
        Some("get" | "list" | "unset" | "edit" | "rename-section" | "remove-section") => {
            return None
        }
        _ => &pos,
    };
    match pos {
        [k, v, ..] => Some((config_key(k), (*v).clone())),
        _ => None,
    }
}

/// The remote a `git remote …` invocation adds or re-points (`add NAME URL`, `set-url
/// NAME URL`, `rename OLD NAME`), from the words after `remote`.
fn remote_added(after: &[String]) -> Option<String> {
    let words: Vec<&str> = after
        .iter()
        .map(String::as_str)
        .filter(|w| !w.starts_with('-'))
        .collect();
    match words.as_slice() {
        ["add" | "set-url", name, ..] | ["rename", _, name, ..] => Some(name.to_string()),
        _ => None,
    }
}

/// An alias resolved.
enum Alias {
    /// `!…`: shell code.
    Shell(String),
    /// git words that replace the alias name.
    Git(String),
    /// Defined, but the value is only known at run time.
    Unknown,
}

/// Expands `name` through the aliases known for this invocation (chains followed, at most
/// ten steps; git refuses loops).
fn expand_alias(name: &str, cfg: &GitConfig) -> Option<Alias> {
    let mut name = name.to_ascii_lowercase();
    let mut tail = String::new();
    for _ in 0..10 {
        let value = cfg.lookup(&format!("alias.{name}"))?;
        let Some(value) = value else {
            return Some(Alias::Unknown);
        };
        let v = value.trim();
        if let Some(body) = v.strip_prefix('!') {
            let body = body.trim().to_string();
            return Some(Alias::Shell(if tail.is_empty() {
                body
            } else {
                format!("{body} {tail}")
            }));
        }
        let (first, rest) = match v.split_once(char::is_whitespace) {
            Some((a, b)) => (a.to_string(), b.trim().to_string()),
            None => (v.to_string(), String::new()),
        };
        tail = match (rest.is_empty(), tail.is_empty()) {
            (true, _) => tail,
            (false, true) => rest,
            (false, false) => format!("{rest} {tail}"),
        };
        if git::is_builtin(&first)
            || cfg
                .lookup(&format!("alias.{}", first.to_ascii_lowercase()))
                .is_none()
        {
            return Some(Alias::Git(if tail.is_empty() {
                first
            } else {
                format!("{first} {tail}")
            }));
        }
        name = first.to_ascii_lowercase();
    }
    Some(Alias::Unknown)
}

/// An option's value as an argument (quoted: no globbing).
fn option_arg(v: &str) -> Arg {
    Arg {
        value: v.to_string(),
        dynamic: v.contains('$') || v.contains('`'),
        glob: false,
        quoted: true,
    }
}

/// Is this `chmod` one that only makes files private to their owner, who keeps read
/// access (`chmod 600 key`, `chmod 0400 f`, `chmod go-rwx f`, `chmod u=rw,go= f`), not
/// recursive? Such a change cannot expose or break a file.
fn chmod_only_tightens(f: &CommandFacts<'_>) -> bool {
    if f.program != "chmod"
        || f.flags
            .iter()
            .any(|x| x == "-R" || x == "--recursive" || x.starts_with("--reference"))
    {
        return false;
    }
    let Some(mode) = f.rest.first() else {
        return false;
    };
    mode_only_tightens(&mode.value)
}

/// See [`chmod_only_tightens`].
fn mode_only_tightens(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_ascii_digit()) {
        // numeric: no special bits, owner can read, nothing for group and others
        let digits: Vec<u32> = mode.chars().filter_map(|c| c.to_digit(8)).collect();
        if digits.len() != mode.len() {
            return false;
        }
        let (special, owner, group, other) = match digits.as_slice() {
            [u, g, o] => (0, *u, *g, *o),
            [s, u, g, o] => (*s, *u, *g, *o),
            _ => return false,
        };
        return special == 0 && owner & 4 == 4 && group == 0 && other == 0;
    }
    // symbolic: every clause takes away from group/others, or sets the owner's bits
    // keeping read
    !mode.is_empty()
        && mode.split(',').all(|clause| {
            let who_end = clause
                .find(|c: char| !matches!(c, 'u' | 'g' | 'o' | 'a'))
                .unwrap_or(clause.len());
            let (who, rest) = clause.split_at(who_end);
            let Some(op) = rest.chars().next() else {
                return false;
            };
            let perms = rest.get(1..).unwrap_or("");
            if !perms.chars().all(|c| matches!(c, 'r' | 'w' | 'x' | 'X')) {
                return false;
            }
            let group_other = !who.is_empty() && who.chars().all(|c| matches!(c, 'g' | 'o'));
            match op {
                '-' => group_other,
                '=' => (group_other && perms.is_empty()) || (who == "u" && perms.contains('r')),
                '+' => who == "u",
                _ => false,
            }
        })
}

/// `find` predicates that select some files only (as opposed to everything below a root).
fn find_is_selective(flags: &[String]) -> bool {
    flags.iter().any(|x| {
        matches!(
            x.as_str(),
            "-name"
                | "-iname"
                | "-path"
                | "-ipath"
                | "-wholename"
                | "-iwholename"
                | "-regex"
                | "-iregex"
                | "-newer"
                | "-mtime"
                | "-mmin"
                | "-atime"
                | "-amin"
                | "-ctime"
                | "-cmin"
                | "-size"
                | "-user"
                | "-group"
                | "-empty"
                | "-perm"
                | "-links"
                | "-lname"
                | "-ilname"
                | "-samefile"
                | "-inum"
        )
    })
}

/// A placeholder for "some path below `root`" (`./{}`).
fn find_below(root: &Arg) -> Arg {
    Arg {
        value: format!("{}/{{}}", root.value.trim_end_matches('/')),
        glob: false,
        ..root.clone()
    }
}

/// The paths a `find` invocation produces: its roots when nothing narrows the search,
/// else placeholders below the roots.
fn find_outputs(find: &Invocation) -> Vec<Arg> {
    let mut roots: Vec<Arg> = find
        .argv
        .iter()
        .skip(1)
        .take_while(|a| !a.value.starts_with('-') && a.value != "(" && a.value != "!")
        .cloned()
        .collect();
    if roots.is_empty() {
        roots.push(Arg {
            value: ".".into(),
            dynamic: false,
            glob: false,
            quoted: false,
        });
    }
    let flags: Vec<String> = find
        .argv
        .iter()
        .skip(1)
        .filter(|a| a.value.starts_with('-'))
        .map(|a| a.value.to_ascii_lowercase())
        .collect();
    if find_is_selective(&flags) {
        roots.iter().map(find_below).collect()
    } else {
        roots
    }
}

/// What a placeholder argument stands for when the feeding command is known:
/// `echo / | xargs rm -rf`, `xargs rm -rf <<< /`, `find / -exec rm -rf {} +`,
/// `find ~ -print0 | xargs -0 rm -rf`. `None` when it cannot be told.
fn fed_paths(inv: &Invocation, a: &Arg, all: &[Invocation]) -> Option<Vec<Arg>> {
    let words = |t: &str| -> Vec<Arg> {
        t.replace("\\n", " ")
            .split_whitespace()
            .map(|w| Arg {
                value: w.to_string(),
                dynamic: w.contains('$') || w.contains('`'),
                glob: w.contains(['*', '?', '[']),
                quoted: false,
            })
            .collect()
    };
    let via = |w: &str| inv.wrappers.iter().any(|x| x == w);
    if via("xargs") && (a.value == "$XARGS" || a.value == "{}") {
        let out = match &inv.stdin {
            Stdin::HereString(t) | Stdin::HereDoc(t) => words(t),
            Stdin::Pipe { from } => {
                let src = all.get(*from)?;
                match lower_program(&src.program).as_str() {
                    "echo" | "printf" => {
                        let text: Vec<&str> = src
                            .argv
                            .iter()
                            .skip(1)
                            .map(|x| x.value.as_str())
                            .skip_while(|v| v.starts_with('-'))
                            .collect();
                        words(&text.join(" "))
                    }
                    "find" => find_outputs(src),
                    _ => return None,
                }
            }
            _ => return None,
        };
        return (!out.is_empty()).then_some(out);
    }
    if via("find") && a.value == "{}" {
        let out: Vec<Arg> = all
            .iter()
            .filter(|x| {
                lower_program(&x.program) == "find"
                    && x.argv.iter().any(|y| {
                        matches!(y.value.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir")
                    })
            })
            .flat_map(find_outputs)
            .collect();
        return (!out.is_empty()).then_some(out);
    }
    None
}

/// The programs up the pipeline that feed `inv`'s standard input (bounded walk).
fn stdin_programs(inv: &Invocation, all: &[Invocation]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stdin = &inv.stdin;
    while let Stdin::Pipe { from } = stdin {
        let Some(src) = all.get(*from) else { break };
        if out.len() >= 64 {
            break;
        }
        out.push(lower_program(&src.program));
        stdin = &src.stdin;
    }
    out
}

fn input_classes(inv: &Invocation, all: &[Invocation], pack: &CompiledPack) -> Vec<InputClass> {
    let mut out = Vec::new();
    let mut push = |c: InputClass| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    let classify_source = |start: usize, push: &mut dyn FnMut(InputClass)| {
        let mut idx = Some(start);
        let mut guard: i32 = 0;
        while let Some(i) = idx {
            guard = guard.saturating_add(1);
            if guard > 64 {
                break;
            }
            let Some(src) = all.get(i) else { break };
            let p = lower_program(&src.program);
            let spec = spec_for(pack, &p);
            if programs::is_downloader(&p, spec.as_ref()) {
                push(InputClass::Download);
                break;
            }
            let decoder = match p.as_str() {
                "base64" | "base32" | "basenc" => src.argv.iter().any(|a| {
                    a.value == "-d"
                        || a.value == "--decode"
                        || a.value == "-D"
                        || (a.value.starts_with('-')
                            && !a.value.starts_with("--")
                            && a.value.contains('d'))
                }),
                "xxd" => src
                    .argv
                    .iter()
                    .any(|a| a.value == "-r" || a.value == "-revert"),
                "openssl" => src
                    .argv
                    .iter()
                    .any(|a| a.value == "-d" || a.value == "-base64" || a.value == "base64"),
                "certutil" => src
                    .argv
                    .iter()
                    .any(|a| a.value.eq_ignore_ascii_case("-decode")),
                "uudecode" | "rot13" => true,
                _ => spec.as_ref().and_then(|s| s.decoder).unwrap_or(false),
            };
            if decoder {
                push(InputClass::Decoder);
            }
            if p == "echo" || p == "printf" {
                push(InputClass::Literal);
                break;
            }
            if programs::is_passthrough(&p) || decoder {
                idx = match &src.stdin {
                    Stdin::Pipe { from } => Some(*from),
                    _ => None,
                };
                continue;
            }
            push(InputClass::OtherPipe);
            break;
        }
    };
    match &inv.stdin {
        Stdin::Pipe { from } => classify_source(*from, &mut push),
        Stdin::HereDoc(_) | Stdin::HereString(_) => push(InputClass::Literal),
        _ => {}
    }
    if let Some(sources) = &inv.dynamic_exec {
        for s in sources {
            classify_source(*s, &mut push);
        }
        // a substitution whose own stdin is a download (`$(curl x | cat)`) counts too
        for s in sources {
            if let Some(src) = all.get(*s) {
                if let Stdin::Pipe { from } = src.stdin {
                    classify_source(from, &mut push);
                }
            }
        }
    }
    out
}

fn flag_present(flags: &[String], want: &str) -> bool {
    // single-letter flags are case-sensitive (`git branch -d` is not `-D`, `chmod -r` is not
    // `-R`); long flags are compared without case (PowerShell, `/S` of Windows tools)
    let short = want.len() == 2 && (want.starts_with('-') || want.starts_with('/'));
    flags.iter().any(|f| {
        if short {
            f == want
        } else {
            f.eq_ignore_ascii_case(want)
        }
    })
}

/// Does the command matcher match these facts?
pub fn matches(m: &CommandMatcher, f: &CommandFacts<'_>) -> bool {
    if let Some(d) = m.dynamic_program {
        if d != f.inv.dynamic_program {
            return false;
        }
    }
    if !m.program.is_empty() && !m.program.iter().any(|g| g.matches(&f.program)) {
        return false;
    }
    // a sequence longer than the program's subcommand depth continues into the operands
    // (`stash drop` for git, whose depth is 1), so a rule names the word by position
    if !m.subcommand.is_empty()
        && !m.subcommand.iter().any(|seq| {
            let words = f
                .subcommand
                .iter()
                .map(String::as_str)
                .chain(f.rest.iter().map(|a| a.value.as_str()));
            seq.len() <= f.subcommand.len().saturating_add(f.rest.len())
                && seq.iter().zip(words).all(|(g, w)| g.matches(w))
        })
    {
        return false;
    }
    if !m.subcommand_none.is_empty()
        && (f.subcommand.is_empty()
            || m.subcommand_none.iter().any(|seq| {
                seq.len() <= f.subcommand.len()
                    && seq.iter().zip(&f.subcommand).all(|(g, w)| g.matches(w))
            }))
    {
        return false;
    }
    if !m.flags_any.is_empty() && !m.flags_any.iter().any(|x| flag_present(&f.flags, x)) {
        return false;
    }
    if !m.flags_all.iter().all(|x| flag_present(&f.flags, x)) {
        return false;
    }
    if m.flags_none.iter().any(|x| flag_present(&f.flags, x)) {
        return false;
    }
    let arg_values = || {
        f.rest
            .iter()
            .map(|a| a.value.as_str())
            .chain(f.option_values.iter().map(|(_, v)| v.as_str()))
    };
    if !m.args_any.is_empty() && !arg_values().any(|v| m.args_any.iter().any(|g| g.matches(v))) {
        return false;
    }
    if !m.operands_any.is_empty() {
        let hit = match &f.table_args {
            Some(t) => t
                .operands()
                .iter()
                .any(|o| m.operands_any.iter().any(|g| g.matches(o))),
            None => f
                .rest
                .iter()
                .any(|a| m.operands_any.iter().any(|g| g.matches(&a.value))),
        };
        if !hit {
            return false;
        }
    }
    if arg_values().any(|v| m.args_none.iter().any(|g| g.matches(v))) {
        return false;
    }
    if !m.path_class.is_empty() {
        let hit = m
            .path_class
            .iter()
            .any(|c| *c == PathClass::Any && !f.accesses.is_empty() || f.path_classes.contains(c));
        if !hit {
            return false;
        }
    }
    if !m.stdin.is_empty() {
        let hit = m.stdin.iter().any(|s| match s.as_str() {
            "download" => f.input.contains(&InputClass::Download),
            "decoder" => f.input.contains(&InputClass::Decoder),
            "literal" => f.input.contains(&InputClass::Literal),
            "any_pipe" => !f.input.is_empty(),
            _ => false,
        });
        if !hit {
            return false;
        }
    }
    if !m.stdin_from.is_empty()
        && !f
            .stdin_programs
            .iter()
            .any(|p| m.stdin_from.iter().any(|g| g.matches(p)))
    {
        return false;
    }
    if !m.expanded_args_any.is_empty()
        && !f
            .inv
            .argv
            .iter()
            .skip(1)
            .any(|a| a.dynamic && m.expanded_args_any.iter().any(|g| g.matches(&a.value)))
    {
        return false;
    }
    if !m.sql.is_empty()
        && !m.sql.iter().any(|k| {
            f.sql.iter().any(|x| x == k)
                || (k == "destructive"
                    && !f.sql.is_empty()
                    && f.sql.iter().any(|x| x != "alter" && x != "grant"))
        })
    {
        return false;
    }
    if !m.text.is_empty()
        && !m
            .text
            .iter()
            .any(|g| g.matches(&f.inv.text) || g.matches(&f.canonical_text))
    {
        return false;
    }
    if let Some(d) = m.dynamic_exec {
        if d != f.inv.dynamic_exec.is_some() {
            return false;
        }
    }
    if let Some(d) = m.runs_download {
        if d != f.runs_download {
            return false;
        }
    }
    true
}

/// Options of `cargo run` (and cargo's global options) that take a value.
const CARGO_RUN_VALUE_OPTIONS: &[&str] = &[
    "-p",
    "--package",
    "--bin",
    "--example",
    "-F",
    "--features",
    "-j",
    "--jobs",
    "--profile",
    "--target",
    "--target-dir",
    "--manifest-path",
    "--message-format",
    "--color",
    "--config",
    "-Z",
    "-C",
    "--lockfile-path",
];

/// The program name given to the binary a plain `cargo run` builds (no `--bin`, `--example`
/// or `--package`): which binary that is depends on the workspace, so rules name it by this
/// placeholder (it contains a space, so no real program has it).
pub const CARGO_RUN_DEFAULT: &str = "cargo run";

/// `cargo run [OPTIONS] [--] ARGS` runs a binary of the workspace with `ARGS`: the
/// invocation of that binary, so the rules about it apply to this route too. The binary is
/// named by `--bin`/`--example`, else by `-p`/`--package`, else [`CARGO_RUN_DEFAULT`].
pub fn cargo_run_target(inv: &Invocation) -> Option<Invocation> {
    if lower_program(&inv.program) != "cargo" {
        return None;
    }
    let argv = inv.argv.get(1..)?;
    let takes_value = |v: &str| CARGO_RUN_VALUE_OPTIONS.contains(&v);
    let mut it = argv.iter();
    // up to the subcommand: toolchain (`+nightly`), global options
    loop {
        let a = it.next()?;
        let v = a.value.as_str();
        if v == "run" || v == "r" {
            break;
        }
        if v.starts_with('+') || (v.starts_with('-') && v.contains('=')) {
            continue;
        }
        if v.starts_with('-') {
            if takes_value(v) {
                it.next();
            }
            continue;
        }
        // another subcommand
        return None;
    }
    let mut bin: Option<String> = None;
    let mut package: Option<String> = None;
    let mut args: Vec<Arg> = Vec::new();
    let mut end = false;
    while let Some(a) = it.next() {
        let v = a.value.as_str();
        if end || !v.starts_with('-') || v == "-" {
            args.push(a.clone());
            continue;
        }
        if v == "--" {
            end = true;
            continue;
        }
        let (name, inline) = match v.split_once('=') {
            Some((n, x)) if n.starts_with("--") => (n, Some(x.to_string())),
            _ => (v, None),
        };
        // `-pNAME`: a short option with its value attached
        let (name, inline) = match (inline, name.get(..2)) {
            (None, Some(short)) if name.len() > 2 && !name.starts_with("--") => {
                if takes_value(short) {
                    (short, name.get(2..).map(str::to_string))
                } else {
                    (name, None)
                }
            }
            (x, _) => (name, x),
        };
        if !takes_value(name) {
            continue;
        }
        let value = match inline {
            Some(x) => Some(x),
            None => it.next().map(|n| n.value.clone()),
        };
        match name {
            "--bin" | "--example" => bin = value,
            "-p" | "--package" => package = value,
            _ => {}
        }
    }
    let name = bin
        .or(package)
        .map(|n| lower_program(&n))
        .unwrap_or_else(|| CARGO_RUN_DEFAULT.to_string());
    let mut argv = vec![Arg {
        value: name.clone(),
        ..Arg::default()
    }];
    argv.extend(args);
    let values: Vec<&str> = argv.iter().map(|a| a.value.as_str()).collect();
    let mut wrappers = inv.wrappers.clone();
    wrappers.push("cargo".into());
    Some(Invocation {
        text: cavra_shell::render_argv(&values),
        argv,
        program: name,
        dynamic_program: false,
        wrappers,
        origin: format!("{}, the binary `cargo run` builds", inv.origin),
        redirects: Vec::new(),
        ..inv.clone()
    })
}

// ---------------------------------------------------------------------------------------
// Request handling

/// The shell analyser's options for this pack (its extra wrappers) and environment.
pub(super) fn shell_options(pack: &CompiledPack, env: &EvalEnv<'_>) -> cavra_shell::AnalyzeOptions {
    cavra_shell::AnalyzeOptions {
        limits: env.limits.clone().unwrap_or_default(),
        extra_wrappers: pack.wrappers.clone(),
        extra_shells: Vec::new(),
    }
}

/// A command line: every simple command it runs (through `cavra-shell`), with the
/// command, git, CLI-table, file and network rules, the scripts and nested command lines
/// it runs, and the commands no allow rule covers (`via`: where the line was found).
pub(super) fn request(ev: &Eval<'_>, cmd: &str, via: Option<&str>, c: &mut Collector) {
    let Eval {
        pack,
        req,
        ctx,
        env,
    } = *ev;
    if c.family == "engine" {
        c.family = "commands";
    }
    if cmd.is_empty() {
        c.push_builtin(
            "engine.invalid_request",
            Effect::Block,
            Severity::High,
            "the request names no command".into(),
            None,
            None,
        );
        return;
    }
    if cmd.trim().is_empty() {
        // spaces, tabs, newlines, NBSP: the shell runs nothing
        if c.scope.is_none() {
            c.scope = Some("no command (whitespace only)".into());
        }
        return;
    }
    let analysis = cavra_shell::analyze(cmd, &shell_options(pack, env));
    let prefix = |origin: &str| match via {
        Some(v) => format!("{v}, {origin}"),
        None => origin.to_string(),
    };
    for p in &analysis.problems {
        c.push_builtin(
            "commands.unparseable",
            pack.defaults.unparseable_command,
            Severity::Medium,
            format!("CAVRA could not fully analyse this command: {}", p.reason),
            Some(prefix(&p.origin)),
            Some(pack.defaults.approver_group.clone()),
        );
    }
    let analyzer = Analyzer {
        pack,
        ctx,
        branch: req.git_branch.as_deref(),
        git_line: Default::default(),
    };
    let whole = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
    // reference-style block/approval patterns also see the whole line (`curl *|*sh*`)
    for r in &pack.rules {
        if let Matcher::CommandText(globs) = &r.matcher {
            if r.effect != Effect::Allow && globs.iter().any(|g| g.matches(&whole)) {
                c.push(r, Some(prefix(&format!("command line `{whole}`"))), &whole);
            }
        }
    }
    let mut n: i32 = 0;
    // files written by earlier commands of this line, with their text when it is known
    // (`echo 'rm -rf ~' > x.sh; sh x.sh` runs what was just written, not what is on disk)
    let mut written_here: Vec<(String, Option<String>)> = Vec::new();
    // files filled with downloaded content by earlier commands of this line
    // (`curl -o f URL && sh f` runs remote code as surely as `curl URL | sh`)
    let mut downloaded_here: Vec<String> = Vec::new();
    // programs that run another program of their own (`cargo run -- ARGS` runs a binary)
    let looked_through: Vec<cavra_shell::Invocation> = analysis
        .invocations
        .iter()
        .filter_map(cargo_run_target)
        .collect();
    for inv in analysis.invocations.iter().chain(&looked_through) {
        if inv.program.is_empty() && !inv.dynamic_program {
            continue;
        }
        n = n.saturating_add(1);
        let mut facts = analyzer.facts(inv, &analysis.invocations);
        if !downloaded_here.is_empty() {
            facts.runs_download =
                scripts::script_of(&facts, ctx).is_some_and(|s| downloaded_here.contains(&s.path));
        }
        let label = prefix(&format!("{}: `{}`", inv.origin, inv.text));
        // the CLI table: destructive verbs by program, and help / dry-run invocations that
        // do nothing (no native command rule applies to those; allow rules still may)
        let verdict = cli::judge(pack, &facts);
        let harmless = verdict.harmless.is_some();
        let mut allowed = false;
        for r in &pack.rules {
            let live = !harmless || r.effect == Effect::Allow;
            let hit = match &r.matcher {
                Matcher::CommandText(globs) => globs
                    .iter()
                    .any(|g| g.matches(&inv.text) || g.matches(&facts.canonical_text)),
                Matcher::Command(m) => live && matches(m, &facts),
                Matcher::Git(m) => live && facts.git.as_ref().is_some_and(|g| git::matches(m, g)),
                _ => false,
            };
            if hit {
                if r.effect == Effect::Allow {
                    allowed = true;
                }
                c.push(r, Some(label.clone()), &inv.text);
            }
        }
        for (r, what) in &verdict.hits {
            c.push(r, Some(format!("{label} (CLI table: {what})")), &inv.text);
        }
        if let Some(g) = facts.git.as_ref().filter(|_| !harmless) {
            git::builtin_rules(pack, g, Some(label.clone()), c);
        }
        // command lines this one runs (a git alias body, an exec config value)
        for n in &facts.nested {
            if c.nested_seen.contains(&n.command) {
                continue;
            }
            let bytes = c.nested_bytes.saturating_add(n.command.len());
            if c.script_depth >= MAX_SCRIPT_DEPTH || bytes > MAX_NESTED_BYTES {
                // fail closed: what is not judged is not allowed silently
                c.push_builtin(
                    "commands.unparseable",
                    pack.defaults.unparseable_command,
                    Severity::Medium,
                    format!(
                        "CAVRA could not fully analyse this command: {} nests too deep or expands too much",
                        n.origin
                    ),
                    Some(label.clone()),
                    Some(pack.defaults.approver_group.clone()),
                );
                continue;
            }
            c.nested_bytes = bytes;
            c.nested_seen.insert(n.command.clone());
            c.script_depth = c.script_depth.saturating_add(1);
            let via = format!("{label}, in {}", n.origin);
            request(ev, &n.command, Some(&via), c);
            c.script_depth = c.script_depth.saturating_sub(1);
        }
        for a in &facts.accesses {
            // help and dry runs touch no operand; redirections still happen
            if harmless && !cli::is_redirect_access(inv, a) {
                continue;
            }
            file::check_access(
                pack,
                ctx,
                a.access,
                &a.facts,
                Some(&label),
                a.from_template,
                c,
            );
        }
        // URLs handed to downloaders go through the network rules
        if programs::is_downloader(&facts.program, facts.spec.as_ref()) {
            for a in inv.argv.iter().skip(1) {
                if a.value.contains("://") {
                    network::request(pack, &a.value, Some(&label), c);
                }
            }
        }
        let refs = scripts::script_of(&facts, ctx)
            .into_iter()
            .chain(scripts::makefile_of(&facts, ctx))
            // `--help` reads no script; a dry run still may (`make -n` evaluates the
            // Makefile and runs `+` lines), so it is inspected
            .filter(|_| verdict.harmless != Some("help"));
        for sref in refs {
            let source = match written_here.iter().rev().find(|(p, _)| *p == sref.path) {
                Some((_, Some(text))) => ScriptSource::Text(text.clone()),
                Some((_, None)) => ScriptSource::Unknown(
                    "it is written earlier in this command line and its content is not known before it runs"
                        .into(),
                ),
                None => match env.scripts {
                    Some(reader) => ScriptSource::Reader(reader),
                    None => continue,
                },
            };
            scripts::inspect(ev, source, &sref, &label, c);
        }
        downloaded_here.extend(scripts::downloads_written(&facts, ctx));
        for (path, text) in scripts::files_written(inv, &facts, &analysis.invocations) {
            // appending to a file: what is there (known from this line, or on disk) + text
            let text = match text {
                scripts::Written::Replaced(t) => Some(t),
                scripts::Written::Appended(t) => {
                    let before = match written_here.iter().rev().find(|(p, _)| *p == path) {
                        Some((_, known)) => known.clone(),
                        None => env.scripts.and_then(|r| r.read_script(&path).ok()),
                    };
                    before.map(|b| b + &t)
                }
                scripts::Written::Unknown => None,
            };
            written_here.push((path, text));
        }
        if !allowed {
            c.uncovered.push(label);
        }
    }
    let nested = analysis.invocations.iter().filter(|i| i.depth > 0).count();
    let mut scope = format!("{n} simple command{}", if n == 1 { "" } else { "s" });
    if nested > 0 {
        scope.push_str(&format!(" ({nested} inside nested shells or code)"));
    }
    if !analysis.problems.is_empty() {
        scope.push_str(&format!(
            ", {} part(s) not understood",
            analysis.problems.len()
        ));
    }
    if c.scope.is_none() {
        c.scope = Some(scope);
    }
}

/// How deep scripts run by scripts (and nested command lines) are followed.
pub(super) const MAX_SCRIPT_DEPTH: usize = 3;

/// Total bytes of nested command lines (alias bodies, exec config values) judged for one
/// request.
const MAX_NESTED_BYTES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_modes_that_only_make_private() {
        for m in [
            "600", "0600", "400", "0400", "700", "go-rwx", "og-rw", "u=rw,go=", "go=", "u+r",
        ] {
            assert!(mode_only_tightens(m), "{m}");
        }
        for m in [
            "644", "4600", "000", "0200", "+x", "a+r", "u-r", "o+r", "g=r", "u=w", "a-rwx", "",
        ] {
            assert!(!mode_only_tightens(m), "{m}");
        }
    }

    #[test]
    fn template_files() {
        assert!(is_template_file("/home/dev/app/.env.example"));
        assert!(is_template_file("config.sample"));
        assert!(!is_template_file(".env"));
        assert!(!is_template_file("example.txt"));
    }
}
