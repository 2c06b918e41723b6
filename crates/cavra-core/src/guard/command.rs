//! The command guard: turns each simple command found by `cavra-shell` into facts (program,
//! subcommand, flags, paths and what is done to them, where stdin comes from, inline SQL,
//! git semantics) and matches command rules against them.

use super::file::{classify, PathFacts};
use super::git::{self, GitFacts};
use super::programs;
use crate::paths::{self, PathContext};
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
    pub sql: Vec<String>,
    pub git: Option<GitFacts>,
    /// Text with global options of the program removed (`git push --force` for
    /// `git -C x push --force`).
    pub canonical_text: String,
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
            || v.contains('\\')
            || (v.len() >= 2 && v.as_bytes()[1] == b':' && v.as_bytes()[0].is_ascii_alphabetic())
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
    if parts.len() == 1 && parts[0].contains(['*', '?', '[']) {
        return ".".into();
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
        if a.dynamic && !a.value.starts_with('~') {
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
        while i < argv.len() {
            let a = &argv[i];
            let v = a.value.as_str();
            // Windows tools take `/s`-style switches
            if windows_switches && v.len() == 2 && v.starts_with('/') && !a.quoted {
                flags.push(v.to_ascii_lowercase());
                i += 1;
                continue;
            }
            if end || a.dynamic && !v.starts_with('-') || !v.starts_with('-') || v == "-" {
                positionals.push(a);
                i += 1;
                continue;
            }
            if v == "--" {
                end = true;
                i += 1;
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
                    if let Some(next) = argv.get(i + 1) {
                        option_values.push((lname.clone(), next.value.clone()));
                        i += 1;
                    }
                }
                flags.push(lname);
                i += 1;
                continue;
            }
            // short option(s)
            if value_opts.iter().any(|o| o == v) {
                flags.push(v.to_string());
                if let Some(next) = argv.get(i + 1) {
                    option_values.push((v.to_string(), next.value.clone()));
                    i += 1;
                }
                i += 1;
                continue;
            }
            flags.push(v.to_string());
            let cluster: Vec<char> = v[1..].chars().collect();
            for (k, c) in cluster.iter().enumerate() {
                let f = format!("-{c}");
                let takes_value = value_opts.contains(&f);
                flags.push(f.clone());
                if takes_value {
                    let rest: String = cluster[k + 1..].iter().collect();
                    if !rest.is_empty() {
                        option_values.push((f, rest));
                    } else if let Some(next) = argv.get(i + 1) {
                        option_values.push((f, next.value.clone()));
                        i += 1;
                    }
                    break;
                }
            }
            i += 1;
        }
        let n_sub = depth.min(positionals.len());
        let subcommand: Vec<String> = positionals[..n_sub]
            .iter()
            .map(|a| a.value.to_ascii_lowercase())
            .collect();
        let rest: Vec<&Arg> = positionals[n_sub..].to_vec();
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
            sql: Vec::new(),
            git: None,
            canonical_text,
        };
        self.file_accesses(&mut facts, all);
        facts.input = input_classes(inv, all, self.pack);
        self.sql(&mut facts, all);
        if program == "git" {
            self.git_facts(&mut facts);
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
        });
    }

    fn file_accesses(&self, f: &mut CommandFacts<'_>, all: &[Invocation]) {
        // redirections
        for r in &f.inv.redirects {
            let access = match r.kind {
                RedirKind::Read => Access::Read,
                RedirKind::Write | RedirKind::Append | RedirKind::ReadWrite => Access::Write,
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
        let mode = f
            .spec
            .as_ref()
            .and_then(|s| s.args.clone())
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
                    if matches!(k.as_str(), "-o" | "--output" | "-O" | "--output-document")
                        && v != "-"
                    {
                        let arg = Arg {
                            value: v.clone(),
                            dynamic: false,
                            glob: false,
                            quoted: true,
                        };
                        self.add_access(f, Access::Write, &arg);
                    }
                }
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
                for a in &pathish {
                    self.add_access(f, Access::Write, a);
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
                for (k, a) in pathish.iter().enumerate() {
                    let is_dest = target_opt.is_none() && k + 1 == n && n > 1;
                    if is_dest {
                        self.add_access(f, Access::Write, a);
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

    fn git_facts(&self, f: &mut CommandFacts<'_>) {
        let Some(sub) = f.subcommand.first().cloned() else {
            return;
        };
        if sub == "push" {
            // arguments after the subcommand word, as written
            let argv = &f.inv.argv;
            let mut seen = false;
            let mut after = Vec::new();
            let value_opts: Vec<String> = f
                .spec
                .as_ref()
                .map(|s| s.value_options.clone())
                .unwrap_or_default();
            let mut skip = false;
            for a in argv.iter().skip(1) {
                if seen {
                    after.push(a.value.clone());
                    continue;
                }
                if skip {
                    skip = false;
                    continue;
                }
                if a.value.starts_with('-') {
                    if value_opts.contains(&a.value) {
                        skip = true;
                    }
                    continue;
                }
                if a.value == "push" {
                    seen = true;
                }
            }
            f.git = Some(git::push_facts(
                &after,
                self.branch,
                &self.pack.git.protected_branches,
            ));
        } else {
            f.git = Some(GitFacts {
                op: sub,
                ..Default::default()
            });
        }
    }
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

fn input_classes(inv: &Invocation, all: &[Invocation], pack: &CompiledPack) -> Vec<InputClass> {
    let mut out = Vec::new();
    let mut push = |c: InputClass| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    let classify_source = |start: usize, push: &mut dyn FnMut(InputClass)| {
        let mut idx = Some(start);
        let mut guard = 0;
        while let Some(i) = idx {
            guard += 1;
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
    if !m.subcommand.is_empty()
        && !m.subcommand.iter().any(|seq| {
            seq.len() <= f.subcommand.len()
                && seq.iter().zip(&f.subcommand).all(|(g, w)| g.matches(w))
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
