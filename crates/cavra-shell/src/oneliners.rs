//! Lightweight lexical scan of interpreter one-liners (`python -c`, `node -e`, `perl -e`,
//! `ruby -e`, `php -r`) for shell calls and tree deletions with literal arguments.
//! This is deliberately not a parser: it tokenises strings, identifiers and punctuation and
//! pattern-matches calls. Calls whose argument is not a plain literal are reported.

use crate::flatten::Field;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    Python,
    Node,
    Deno,
    Perl,
    Ruby,
    Php,
}

pub(crate) fn lang_of(prog: &str) -> Option<Lang> {
    let versioned = |base: &str| {
        prog.strip_prefix(base)
            .is_some_and(|r| r.bytes().all(|c| c.is_ascii_digit() || c == b'.'))
    };
    if versioned("python") || prog == "pypy" || prog == "pypy3" {
        Some(Lang::Python)
    } else if prog == "node" || prog == "nodejs" || prog == "bun" {
        Some(Lang::Node)
    } else if prog == "deno" {
        Some(Lang::Deno)
    } else if versioned("perl") {
        Some(Lang::Perl)
    } else if versioned("ruby") {
        Some(Lang::Ruby)
    } else if versioned("php") {
        Some(Lang::Php)
    } else {
        None
    }
}

pub(crate) enum CodeArgs {
    /// Code given on the command line (flag as written, code fields).
    Code(String, Vec<Field>),
    /// Code read from standard input.
    Stdin,
    /// Code read from the script file operand at this index.
    Script(usize),
    None,
}

/// Find the code argument(s) of an interpreter invocation.
pub(crate) fn code_args(lang: Lang, argv: &[Field]) -> CodeArgs {
    let mut i = 1;
    let mut codes = Vec::new();
    let mut flag = String::new();
    if lang == Lang::Deno {
        // deno eval CODE / deno run - (stdin)
        while i < argv.len() {
            let Some(v) = argv.get(i).and_then(|f| f.static_value()) else {
                return CodeArgs::None;
            };
            if v == "eval" {
                let mut j = i.saturating_add(1);
                while j < argv.len()
                    && argv
                        .get(j)
                        .and_then(|f| f.static_value())
                        .is_some_and(|v| v.starts_with('-'))
                {
                    j = j.saturating_add(1);
                }
                return match argv.get(j) {
                    Some(f) => CodeArgs::Code("eval".into(), vec![f.clone()]),
                    None => CodeArgs::None,
                };
            }
            if v == "-e" || v == "--eval" || v == "-p" || v == "--print" {
                return match argv.get(i.saturating_add(1)) {
                    Some(f) => CodeArgs::Code(v, vec![f.clone()]),
                    None => CodeArgs::None,
                };
            }
            if v == "run"
                && argv
                    .get(i.saturating_add(1))
                    .and_then(|f| f.static_value())
                    .as_deref()
                    == Some("-")
            {
                return CodeArgs::Stdin;
            }
            if !v.starts_with('-') {
                return CodeArgs::None;
            }
            i = i.saturating_add(1);
        }
        return CodeArgs::None;
    }
    while i < argv.len() {
        let Some(v) = argv.get(i).and_then(|f| f.static_value()) else {
            break;
        };
        if v == "--" {
            i = i.saturating_add(1);
            break;
        }
        if v == "-" {
            return CodeArgs::Stdin;
        }
        if !v.starts_with('-') || v.len() < 2 {
            break;
        }
        match lang {
            Lang::Python => {
                if v == "-m" || v.starts_with("-m") {
                    return CodeArgs::None;
                }
                if matches!(v.as_str(), "-W" | "-X" | "-Q") {
                    i = i.saturating_add(2);
                    continue;
                }
                if let Some(pos) = v[1..].find('c').filter(|_| !v.starts_with("--")) {
                    let rest = &v[pos.saturating_add(2)..];
                    if rest.is_empty() {
                        return match argv.get(i.saturating_add(1)) {
                            Some(f) => CodeArgs::Code("-c".into(), vec![f.clone()]),
                            None => CodeArgs::None,
                        };
                    }
                    return CodeArgs::Code("-c".into(), vec![Field::synth(rest)]);
                }
            }
            Lang::Node => {
                if matches!(v.as_str(), "-e" | "--eval" | "-p" | "--print" | "-pe") {
                    return match argv.get(i.saturating_add(1)) {
                        Some(f) => CodeArgs::Code(v, vec![f.clone()]),
                        None => CodeArgs::None,
                    };
                }
                if let Some(c) = v
                    .strip_prefix("--eval=")
                    .or_else(|| v.strip_prefix("--print="))
                {
                    return CodeArgs::Code("--eval".into(), vec![Field::synth(c)]);
                }
                if matches!(v.as_str(), "-r" | "--require" | "--import" | "--loader") {
                    i = i.saturating_add(2);
                    continue;
                }
            }
            Lang::Perl | Lang::Ruby | Lang::Php => {
                let code_flag = match lang {
                    Lang::Php => 'r',
                    _ => 'e',
                };
                let last = v.chars().last().unwrap_or('-');
                let is_code = !v.starts_with("--")
                    && (last == code_flag || (lang == Lang::Perl && last == 'E'));
                if is_code {
                    if let Some(f) = argv.get(i.saturating_add(1)) {
                        flag = format!("-{code_flag}");
                        codes.push(f.clone());
                    }
                    i = i.saturating_add(2);
                    continue;
                }
                if lang == Lang::Php && v == "-f" {
                    return CodeArgs::None;
                }
                if matches!(v.as_str(), "-I" | "-r" | "-d" | "-c" | "-C" | "-x" | "-S")
                    && lang == Lang::Ruby
                {
                    i = i.saturating_add(2);
                    continue;
                }
            }
            Lang::Deno => {}
        }
        i = i.saturating_add(1);
    }
    if !codes.is_empty() {
        return CodeArgs::Code(flag, codes);
    }
    if i >= argv.len() {
        CodeArgs::Stdin
    } else {
        CodeArgs::Script(i)
    }
}

pub(crate) enum Kind {
    Shell(String),
    /// argv; `None` for a non-literal element.
    Argv(Vec<Option<String>>),
    NonLiteral,
}

pub(crate) struct Extract {
    pub callee: String,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
enum T {
    Id(String),
    /// String literal; `true` = no interpolation.
    Str(String, bool),
    /// Shell-executing literal (backticks, `qx`, `%x`); `true` = no interpolation.
    Sh(String, bool, &'static str),
    P(char),
    Nl,
}

fn lex(lang: Lang, code: &str) -> Vec<T> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let hash_comment = matches!(lang, Lang::Python | Lang::Ruby | Lang::Perl | Lang::Php);
    let slash_comment = matches!(lang, Lang::Node | Lang::Deno | Lang::Php);
    while i < c.len() {
        let ch = crate::at(&c, i);
        if ch == '\n' || ch == ';' {
            out.push(if ch == '\n' { T::Nl } else { T::P(';') });
            i = i.saturating_add(1);
            continue;
        }
        if ch.is_whitespace() {
            i = i.saturating_add(1);
            continue;
        }
        if hash_comment
            && ch == '#'
            && !(lang == Lang::Perl && i > 0 && crate::at(&c, i.saturating_sub(1)) == '$')
        {
            while i < c.len() && crate::at(&c, i) != '\n' {
                i = i.saturating_add(1);
            }
            continue;
        }
        if slash_comment && ch == '/' && c.get(i.saturating_add(1)) == Some(&'/') {
            while i < c.len() && crate::at(&c, i) != '\n' {
                i = i.saturating_add(1);
            }
            continue;
        }
        if slash_comment && ch == '/' && c.get(i.saturating_add(1)) == Some(&'*') {
            i = i.saturating_add(2);
            while i < c.len()
                && !(crate::at(&c, i) == '*' && c.get(i.saturating_add(1)) == Some(&'/'))
            {
                i = i.saturating_add(1);
            }
            i = i.saturating_add(2);
            continue;
        }
        if ch == '\'' || ch == '"' {
            let (s, lit, n) = lex_string(lang, &c, i, "");
            out.push(T::Str(s, lit));
            i = n;
            continue;
        }
        if ch == '`' {
            let (s, lit, n) = lex_string(lang, &c, i, "");
            if matches!(lang, Lang::Node | Lang::Deno) {
                out.push(T::Str(s, lit));
            } else {
                out.push(T::Sh(s, lit, "backticks"));
            }
            i = n;
            continue;
        }
        if lang == Lang::Ruby
            && ch == '%'
            && matches!(c.get(i.saturating_add(1)), Some('x' | 'q' | 'Q' | 'w'))
            && c.get(i.saturating_add(2)).is_some_and(|d| is_delim(*d))
        {
            let kind = crate::at(&c, i.saturating_add(1));
            let (s, n) = lex_delimited(&c, i.saturating_add(2));
            let lit = !s.contains("#{");
            match kind {
                'x' => out.push(T::Sh(s, lit, "%x")),
                'q' => out.push(T::Str(s, true)),
                _ => out.push(T::Str(s, lit)),
            }
            i = n;
            continue;
        }
        if ch.is_alphabetic() || ch == '_' || ch == '$' || ch == '@' {
            let s0 = i;
            i = i.saturating_add(1);
            while i < c.len()
                && (crate::at(&c, i).is_alphanumeric()
                    || crate::at(&c, i) == '_'
                    || (crate::at(&c, i) == '$' && lang != Lang::Perl))
            {
                i = i.saturating_add(1);
            }
            let id: String = c.get(s0..i).unwrap_or_default().iter().collect();
            // python string prefixes
            if lang == Lang::Python
                && id.len() <= 2
                && id.chars().all(|x| "rRbBuUfF".contains(x))
                && matches!(c.get(i), Some('\'' | '"'))
            {
                let (s, lit, n) = lex_string(lang, &c, i, &id);
                out.push(T::Str(s, lit));
                i = n;
                continue;
            }
            if lang == Lang::Perl && matches!(id.as_str(), "qx" | "q" | "qq" | "qw") {
                let mut j = i;
                while j < c.len() && crate::at(&c, j) == ' ' {
                    j = j.saturating_add(1);
                }
                if c.get(j).is_some_and(|d| is_delim(*d)) {
                    let (s, n) = lex_delimited(&c, j);
                    let lit = id == "q" || id == "qw" || !s.contains(['$', '@']);
                    if id == "qx" {
                        out.push(T::Sh(s, lit, "qx"));
                    } else {
                        out.push(T::Str(s, lit));
                    }
                    i = n;
                    continue;
                }
            }
            out.push(T::Id(id));
            continue;
        }
        out.push(T::P(ch));
        i = i.saturating_add(1);
    }
    out
}

fn is_delim(d: char) -> bool {
    matches!(
        d,
        '(' | '{' | '[' | '<' | '/' | '|' | '!' | '#' | '\'' | '"'
    )
}

fn lex_delimited(c: &[char], start: usize) -> (String, usize) {
    let open = crate::at(c, start);
    let close = match open {
        '(' => ')',
        '{' => '}',
        '[' => ']',
        '<' => '>',
        d => d,
    };
    let mut depth: i32 = 0;
    let mut s = String::new();
    let mut i = start.saturating_add(1);
    while i < c.len() {
        let ch = crate::at(c, i);
        if ch == '\\' && i.saturating_add(1) < c.len() {
            s.push(crate::at(c, i.saturating_add(1)));
            i = i.saturating_add(2);
            continue;
        }
        if ch == close && depth == 0 {
            return (s, i.saturating_add(1));
        }
        if open != close {
            if ch == open {
                depth = depth.saturating_add(1);
            } else if ch == close {
                depth = depth.saturating_sub(1);
            }
        }
        s.push(ch);
        i = i.saturating_add(1);
    }
    (s, i)
}

/// Returns (value, literal?, next index).
fn lex_string(lang: Lang, c: &[char], start: usize, prefix: &str) -> (String, bool, usize) {
    let q = crate::at(c, start);
    let raw = prefix.contains(['r', 'R']);
    let fstr = prefix.contains(['f', 'F']);
    let triple = lang == Lang::Python
        && c.get(start.saturating_add(1)) == Some(&q)
        && c.get(start.saturating_add(2)) == Some(&q);
    let mut i = start.saturating_add(if triple { 3 } else { 1 });
    let mut s = String::new();
    let mut lit = true;
    let interpolating = match lang {
        Lang::Python => fstr,
        Lang::Ruby | Lang::Perl | Lang::Php => q == '"' || q == '`',
        Lang::Node | Lang::Deno => q == '`',
    };
    while i < c.len() {
        let ch = crate::at(c, i);
        if triple {
            if ch == q
                && c.get(i.saturating_add(1)) == Some(&q)
                && c.get(i.saturating_add(2)) == Some(&q)
            {
                return (s, lit, i.saturating_add(3));
            }
        } else if ch == q {
            return (s, lit, i.saturating_add(1));
        }
        if ch == '\\' && !raw && i.saturating_add(1) < c.len() {
            let e = crate::at(c, i.saturating_add(1));
            let single_lit = q == '\'' && matches!(lang, Lang::Perl | Lang::Ruby | Lang::Php);
            if single_lit && e != '\'' && e != '\\' {
                s.push('\\');
                s.push(e);
            } else {
                match e {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    '0' => s.push('\0'),
                    'x' | 'u' => {
                        // keep escapes we do not decode visible and treat as non-literal
                        lit = false;
                        s.push('\\');
                        s.push(e);
                    }
                    _ => s.push(e),
                }
            }
            i = i.saturating_add(2);
            continue;
        }
        if interpolating {
            let next = c.get(i.saturating_add(1)).copied();
            let interp = match lang {
                Lang::Python => ch == '{' && next != Some('{'),
                Lang::Ruby => ch == '#' && next == Some('{'),
                Lang::Perl | Lang::Php => {
                    (ch == '$' || ch == '@')
                        && next.is_some_and(|n| n.is_alphanumeric() || n == '_' || n == '{')
                }
                Lang::Node | Lang::Deno => ch == '$' && next == Some('{'),
            };
            if interp {
                lit = false;
            }
        }
        s.push(ch);
        i = i.saturating_add(1);
    }
    // unterminated string: keep what we have, but it cannot be trusted
    (s, false, i)
}

#[derive(Clone, Copy, PartialEq)]
enum Call {
    /// The first argument is a shell command string.
    ShellStr,
    /// Python subprocess: list -> argv; string -> shell if `shell=True`, else argv[0].
    Subprocess,
    /// Node spawn/execFile: (cmd, [args], {shell})
    Spawn,
    /// The argument at this index is an argv list (or a program name): python
    /// `pty.spawn(argv)`, `os.execvp(file, argv)`, `os.spawnv(mode, path, argv)`.
    ArgvAt(u8),
    /// The arguments from this index on are the argv: python `os.execlp(file, arg0, …)`.
    ArgsFrom(u8),
    /// Perl/Ruby system/exec: one string -> shell; several -> argv.
    System,
    RmRf,
    Rm,
    /// Node fs.rm*: `{recursive: true}` -> rm -rf, else rm.
    RmOpt,
    /// Writes the file named by the first argument (reported as `tee P`).
    Write,
    /// Appends to the file named by the first argument (`tee -a P`).
    Append,
    /// Reads the file named by the first argument (reported as `cat P`).
    Read,
    /// `open(P, MODE)` (python, ruby, php `fopen`): the mode decides read or write; ruby's
    /// `Kernel#open("|cmd")` runs a shell command.
    Open,
    /// Perl `open(FH, MODE, P)` / `open(FH, "SPEC")`, including pipe opens.
    PerlOpen,
}

/// Python `os.NAME` or a bare `NAME` from `from os import …`.
fn os_qual(q: &str, code: &str) -> bool {
    q == "os" || (q.is_empty() && code.contains("from os import"))
}

fn classify(lang: Lang, name: &str, qual: &str, code: &str) -> Option<Call> {
    let q = qual.rsplit('.').next().unwrap_or("");
    match lang {
        Lang::Python => match name {
            "system" | "popen" if q.is_empty() || q == "os" => Some(Call::ShellStr),
            "getoutput" | "getstatusoutput" => Some(Call::ShellStr),
            "Popen" | "check_output" | "check_call" => Some(Call::Subprocess),
            "run" | "call"
                if q == "subprocess"
                    || q == "sp"
                    || (q.is_empty() && code.contains("from subprocess import")) =>
            {
                Some(Call::Subprocess)
            }
            "spawn" if q == "pty" || (q.is_empty() && code.contains("from pty import")) => {
                Some(Call::ArgvAt(0))
            }
            "execv" | "execve" | "execvp" | "execvpe" | "posix_spawn" | "posix_spawnp"
                if os_qual(q, code) =>
            {
                Some(Call::ArgvAt(1))
            }
            "spawnv" | "spawnve" | "spawnvp" | "spawnvpe" if os_qual(q, code) => {
                Some(Call::ArgvAt(2))
            }
            "execl" | "execle" | "execlp" | "execlpe" if os_qual(q, code) => {
                Some(Call::ArgsFrom(1))
            }
            "spawnl" | "spawnle" | "spawnlp" | "spawnlpe" if os_qual(q, code) => {
                Some(Call::ArgsFrom(2))
            }
            "rmtree" => Some(Call::RmRf),
            "remove" | "unlink" if q == "os" => Some(Call::Rm),
            "open" if matches!(q, "" | "io" | "codecs" | "builtins" | "os") => Some(Call::Open),
            _ => None,
        },
        Lang::Node | Lang::Deno => {
            let cp = q.is_empty() && code.contains("child_process")
                || matches!(q, "child_process" | "cp" | "childProcess" | ")");
            match name {
                "exec" | "execSync" if cp => Some(Call::ShellStr),
                "spawn" | "spawnSync" | "execFile" | "execFileSync" if cp || q.is_empty() => {
                    Some(Call::Spawn)
                }
                "rmSync" | "rmdirSync" | "rm" | "rmdir"
                    if matches!(q, "fs" | "promises" | "fsp" | "fse" | ")")
                        || (q.is_empty() && code.contains("require('fs')")) =>
                {
                    Some(Call::RmOpt)
                }
                "unlinkSync" | "unlink" if matches!(q, "fs" | "promises" | "fsp" | "fse") => {
                    Some(Call::Rm)
                }
                "remove" | "removeSync" if q == "fse" => Some(Call::RmRf),
                "writeFileSync" | "writeFile" | "createWriteStream" | "outputFile"
                | "outputFileSync" | "writeJson" | "writeJsonSync"
                    if fs_qual(q, code) =>
                {
                    Some(Call::Write)
                }
                "appendFileSync" | "appendFile" if fs_qual(q, code) => Some(Call::Append),
                "readFileSync" | "readFile" | "createReadStream" if fs_qual(q, code) => {
                    Some(Call::Read)
                }
                "writeTextFile" | "writeFile" | "writeTextFileSync" | "writeFileSync"
                    if q == "Deno" =>
                {
                    Some(Call::Write)
                }
                "readTextFile" | "readFile" | "readTextFileSync" | "readFileSync"
                    if q == "Deno" =>
                {
                    Some(Call::Read)
                }
                "write" if q == "Bun" => Some(Call::Write),
                "Command" if q == "Deno" => Some(Call::Spawn),
                "removeSync" | "remove" if q == "Deno" => Some(Call::RmOpt),
                _ => None,
            }
        }
        Lang::Perl => match name {
            "system" | "exec" if matches!(q, "" | "CORE" | "GLOBAL") => Some(Call::System),
            "rmtree" | "remove_tree" => Some(Call::RmRf),
            "unlink" if q.is_empty() => Some(Call::Rm),
            "open" | "sysopen" if q.is_empty() => Some(Call::PerlOpen),
            _ => None,
        },
        Lang::Ruby => match name {
            "system" | "exec" | "spawn" if q.is_empty() || q == "Kernel" || q == "Process" => {
                Some(Call::System)
            }
            "popen" if q == "IO" => Some(Call::ShellStr),
            "capture2" | "capture2e" | "capture3" | "popen3" | "popen2" if q == "Open3" => {
                Some(Call::System)
            }
            "rm_rf" | "rm_r" | "remove_dir" | "remove_entry" | "remove_entry_secure"
                if q == "FileUtils" =>
            {
                Some(Call::RmRf)
            }
            "rm" | "rm_f" | "remove" if q == "FileUtils" => Some(Call::Rm),
            "delete" | "unlink" if q == "File" => Some(Call::Rm),
            "write" | "binwrite" if q == "File" || q == "IO" => Some(Call::Write),
            "read" | "readlines" | "binread" | "foreach" if q == "File" || q == "IO" => {
                Some(Call::Read)
            }
            "open" | "new" if q == "File" => Some(Call::Open),
            "open" if q.is_empty() || q == "Kernel" => Some(Call::Open),
            _ => None,
        },
        Lang::Php => match name {
            "system" | "exec" | "shell_exec" | "passthru" | "popen" | "proc_open" => {
                Some(Call::ShellStr)
            }
            "unlink" => Some(Call::Rm),
            "file_put_contents" => Some(Call::Write),
            "file_get_contents" | "readfile" | "file" => Some(Call::Read),
            "fopen" => Some(Call::Open),
            _ => None,
        },
    }
}

fn fs_qual(q: &str, code: &str) -> bool {
    matches!(q, "fs" | "promises" | "fsp" | "fse" | ")")
        || (q.is_empty()
            && (code.contains("require('fs')")
                || code.contains("require(\"fs\")")
                || code.contains("'fs'")
                || code.contains("\"fs\"")
                || code.contains("node:fs")))
}

/// A file access reported as a synthetic command the guard already understands: a write as
/// `tee [-a] P`, a read as `cat P`. A write to a non-literal path is a dynamic argument; a
/// read of a non-literal path is not reported.
fn file_access(write: bool, append: bool, path: ArgV) -> Option<Kind> {
    let p = match path {
        ArgV::Lit(s) => Some(s),
        _ => None,
    };
    if !write && p.is_none() {
        return None;
    }
    let mut v = vec![Some(if write { "tee" } else { "cat" }.to_string())];
    if append {
        v.push(Some("-a".into()));
    }
    if p.as_deref().is_some_and(|p| p.starts_with('-')) {
        v.push(Some("--".into()));
    }
    v.push(p);
    Some(Kind::Argv(v))
}

/// Mode of `open(P, MODE)` / `open(P, mode=MODE)`: (write, append). A non-literal mode counts
/// as a write; no mode is a read.
fn open_mode(args: &[Vec<T>]) -> (bool, bool) {
    let keyword = args.iter().skip(1).find_map(|a| match a.as_slice() {
        [T::Id(k), T::P('='), rest @ ..] if k == "mode" => Some(rest.to_vec()),
        _ => None,
    });
    let mode = keyword.or_else(|| {
        args.get(1)
            .filter(|a| !matches!(a.as_slice(), [T::Id(_), T::P('='), ..]))
            .cloned()
    });
    let Some(mode) = mode else {
        return (false, false);
    };
    match mode.as_slice() {
        [T::Str(m, true)] => (
            m.contains(['w', 'a', 'x', 'c', '+']),
            m.contains('a') && !m.contains('+'),
        ),
        // os.open(P, os.O_RDONLY)
        toks if toks.iter().all(|t| match t {
            T::Id(i) => matches!(i.as_str(), "os" | "O_RDONLY" | "O_CLOEXEC" | "O_NOFOLLOW"),
            T::P('.' | '|') => true,
            _ => false,
        }) =>
        {
            (false, false)
        }
        toks => (
            true,
            toks.iter()
                .any(|t| matches!(t, T::Id(i) if i == "O_APPEND")),
        ),
    }
}

/// Perl `open`: 3+ arguments `(FH, MODE, PATH…)` or 2 arguments `(FH, "SPEC")`.
fn perl_open(lang: Lang, args: &[Vec<T>]) -> Option<Kind> {
    let lit = |a: Option<&Vec<T>>| match a.map(Vec::as_slice) {
        Some([T::Str(s, true)]) => Some(s.clone()),
        _ => None,
    };
    if args.len() >= 3 {
        let mode = lit(args.get(1));
        let Some(mode) = mode else {
            // unknown mode: a write or a pipe; both need a look
            return Some(Kind::NonLiteral);
        };
        let m = mode.trim();
        if m == "-|" || m == "|-" {
            let rest: Vec<ArgV> = args
                .get(2..)
                .unwrap_or_default()
                .iter()
                .map(|a| classify_arg(lang, a))
                .collect();
            return Some(match rest.as_slice() {
                [ArgV::Lit(s)] => Kind::Shell(s.clone()),
                _ => {
                    let v: Vec<Option<String>> = rest
                        .into_iter()
                        .map(|a| match a {
                            ArgV::Lit(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    if v.first().is_some_and(|x| x.is_some()) {
                        Kind::Argv(v)
                    } else {
                        Kind::NonLiteral
                    }
                }
            });
        }
        let path = classify_arg(lang, args.get(2).map_or(&[][..], |a| a.as_slice()));
        let write = m.starts_with('>') || m.starts_with('+');
        return file_access(write, m.starts_with(">>"), path);
    }
    let Some(spec) = lit(args.get(1)) else {
        // `open(FH, $spec)`: the spec may be a pipe
        return (args.len() == 2).then_some(Kind::NonLiteral);
    };
    let t = spec.trim();
    if let Some(cmd) = t.strip_prefix('|').or_else(|| t.strip_suffix('|')) {
        return Some(Kind::Shell(cmd.trim().to_string()));
    }
    if let Some(p) = t.strip_prefix(">>") {
        return file_access(true, true, ArgV::Lit(p.trim().to_string()));
    }
    if let Some(p) = t.strip_prefix("+<").or_else(|| t.strip_prefix("+>")) {
        return file_access(true, false, ArgV::Lit(p.trim().to_string()));
    }
    if let Some(p) = t.strip_prefix('>') {
        return file_access(true, false, ArgV::Lit(p.trim().to_string()));
    }
    let p = t.strip_prefix('<').unwrap_or(t).trim();
    file_access(false, false, ArgV::Lit(p.to_string()))
}

enum ArgV {
    Lit(String),
    List(Vec<Option<String>>),
    Other,
}

fn classify_arg(lang: Lang, toks: &[T]) -> ArgV {
    match toks {
        [T::Str(s, true)] => return ArgV::Lit(s.clone()),
        [T::P('['), inner @ .., T::P(']')] => {
            let mut v = Vec::new();
            for el in split_commas(inner) {
                match el.as_slice() {
                    [] => {}
                    [T::Str(s, true)] => v.push(Some(s.clone())),
                    other => v.push(home_of(lang, other)),
                }
            }
            return ArgV::List(v);
        }
        _ => {}
    }
    if let Some(h) = home_of(lang, toks) {
        return ArgV::Lit(h);
    }
    if let Some(s) = literal_expr(lang, toks, 0) {
        return ArgV::Lit(s);
    }
    if let Some(t) = temp_of(toks) {
        return ArgV::Lit(t);
    }
    ArgV::Other
}

/// A string built from literals only: concatenation (`'/ho' + 'me'`, perl/php `"/ho" .
/// "me"`, python's adjacent literals `'/ho' 'me'`), parentheses, and path joins of literals
/// (`os.path.join('/home', 'dev')`, node `path.join`/`path.resolve`, ruby `File.join`).
fn literal_expr(lang: Lang, toks: &[T], depth: usize) -> Option<String> {
    if toks.is_empty() || depth > 8 {
        return None;
    }
    let concat = match lang {
        Lang::Perl | Lang::Php => '.',
        _ => '+',
    };
    // path joins
    if let (Some(T::P(')')), Some(open)) = (toks.last(), toks.iter().position(|t| *t == T::P('(')))
    {
        let callee: Vec<&str> = toks
            .get(..open)?
            .iter()
            .filter_map(|t| match t {
                T::Id(x) => Some(x.as_str()),
                T::P('.' | ':') => None,
                _ => Some("\0"),
            })
            .collect();
        let is_join = matches!(
            callee.as_slice(),
            ["os", "path", "join"]
                | ["posixpath", "join"]
                | ["path", "join" | "resolve"]
                | ["path", "posix", "join" | "resolve"]
                | ["File", "join"]
        );
        if is_join {
            let inner = toks.get(open.checked_add(1)?..toks.len().checked_sub(1)?)?;
            let mut out = String::new();
            for part in split_commas(inner) {
                let v = literal_expr(lang, &part, depth.saturating_add(1))?;
                if v.starts_with('/') || out.is_empty() {
                    out = v;
                } else {
                    if !out.ends_with('/') {
                        out.push('/');
                    }
                    out.push_str(&v);
                }
            }
            return Some(out);
        }
    }
    let mut out = String::new();
    let mut want_operand = true;
    let mut k = 0usize;
    let mut any = false;
    while let Some(t) = toks.get(k) {
        match t {
            T::Str(x, true) => {
                // python adjacent literals concatenate
                if !want_operand && lang != Lang::Python {
                    return None;
                }
                out.push_str(x);
                want_operand = false;
                any = true;
            }
            T::P(c) if *c == concat && !want_operand => want_operand = true,
            T::P('(') if want_operand => {
                // a parenthesised sub-expression
                let mut d = 0i32;
                let mut end = None;
                for (j, u) in toks.iter().enumerate().skip(k) {
                    match u {
                        T::P('(') => d = d.saturating_add(1),
                        T::P(')') => {
                            d = d.saturating_sub(1);
                            if d == 0 {
                                end = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end?;
                let inner = toks.get(k.checked_add(1)?..end)?;
                out.push_str(&literal_expr(lang, inner, depth.saturating_add(1))?);
                want_operand = false;
                any = true;
                k = end;
            }
            _ => return None,
        }
        k = k.saturating_add(1);
    }
    (any && !want_operand).then_some(out)
}

/// `tempfile.mkdtemp()`, `fs.mkdtempSync('x-')`, `Dir.mktmpdir`: a directory just created
/// for this code (rendered `$TMPDIR/tmp.XXXXXX`); `tempfile.gettempdir()`, `os.tmpdir()`,
/// `Dir.tmpdir`: the temporary directory itself (`$TMPDIR`). Nothing may be joined to it.
fn temp_of(toks: &[T]) -> Option<String> {
    if toks
        .iter()
        .any(|t| matches!(t, T::P('+' | '/' | '%' | '[' | '<' | '{') | T::Sh(..)))
    {
        return None;
    }
    let ids: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            T::Id(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    const FRESH: &[&str] = &["mkdtemp", "mkdtempSync", "mktmpdir"];
    const ROOT: &[&str] = &["gettempdir", "tmpdir"];
    const OTHER: &[&str] = &["tempfile", "os", "fs", "require", "Dir", "prefix", "suffix"];
    if !ids
        .iter()
        .all(|i| FRESH.contains(i) || ROOT.contains(i) || OTHER.contains(i))
    {
        return None;
    }
    if ids.iter().any(|i| FRESH.contains(i)) {
        // a prefix or suffix only names the new directory
        return Some("$TMPDIR/tmp.XXXXXX".into());
    }
    let strs_ok = toks.iter().all(|t| match t {
        T::Str(s, _) => matches!(s.as_str(), "os" | "fs" | "tempfile"),
        _ => true,
    });
    (ids.iter().any(|i| ROOT.contains(i)) && strs_ok).then(|| "$TMPDIR".into())
}

/// `os.path.expanduser("~/x")`, `Path.home()`, `os.homedir()`, `Dir.home`, `$ENV{HOME}`.
fn home_of(_lang: Lang, toks: &[T]) -> Option<String> {
    let ids: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            T::Id(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let strs: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            T::Str(s, _) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    if let (true, [only]) = (ids.contains(&"expanduser"), strs.as_slice()) {
        if only.starts_with('~') {
            // only if nothing else is concatenated
            if !toks
                .iter()
                .any(|t| matches!(t, T::P('+') | T::P('/') | T::P('%')))
            {
                return Some((*only).to_string());
            }
        }
    }
    let only = |allowed: &[&str]| ids.iter().all(|i| allowed.contains(i));
    if ((ids.contains(&"home") && only(&["Path", "home", "str", "pathlib", "Dir"]))
        || (ids.contains(&"homedir") && only(&["os", "homedir", "require"])))
        && (strs.is_empty() || strs == ["os"])
    {
        return Some("~".into());
    }
    if strs == ["HOME"]
        && only(&[
            "os", "environ", "getenv", "ENV", "$ENV", "process", "env", "get",
        ])
    {
        return Some("~".into());
    }
    if ids == ["$ENV", "HOME"] {
        return Some("~".into());
    }
    None
}

fn split_commas(toks: &[T]) -> Vec<Vec<T>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0i32;
    for t in toks {
        match t {
            T::P('(' | '[' | '{') => depth = depth.saturating_add(1),
            T::P(')' | ']' | '}') => depth = depth.saturating_sub(1),
            T::P(',') if depth == 0 => {
                out.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(t.clone());
        }
    }
    if out.last().is_some_and(|l| l.is_empty()) && out.len() > 1 {
        out.pop();
    }
    out
}

fn has_flag(args: &[Vec<T>], key: &str) -> bool {
    args.iter().any(|a| {
        a.windows(3).any(|w| {
            matches!(w, [T::Id(k), T::P('=' | ':'), T::Id(v)] if k == key && (v == "True" || v == "true"))
        })
    })
}

pub(crate) fn scan(lang: Lang, code: &str) -> Vec<Extract> {
    let toks = lex(lang, code);
    let aliases = collect_aliases(lang, &toks);
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() && out.len() < 1000 {
        let Some(tok) = toks.get(k) else { break };
        match tok {
            T::Sh(s, lit, how) => {
                out.push(Extract {
                    callee: (*how).to_string(),
                    kind: if *lit {
                        Kind::Shell(s.clone())
                    } else {
                        Kind::NonLiteral
                    },
                });
            }
            T::Id(name) => {
                // qualifier: `a.b.name`, `A::name`, `x->name`, `).name`
                let mut qual = Vec::new();
                let mut loaded: Option<String> = None;
                let mut j = k;
                loop {
                    if j >= 2 && toks.get(j.saturating_sub(1)) == Some(&T::P('.')) {
                        match toks.get(j.saturating_sub(2)) {
                            Some(T::Id(q)) => {
                                qual.push(q.clone());
                                j = j.saturating_sub(2);
                                continue;
                            }
                            // `require('fs').rmSync`, `__import__('os').system`
                            Some(T::P(')')) => {
                                loaded = import_call_before(&toks, j.saturating_sub(2));
                                qual.push(")".into());
                            }
                            _ => {}
                        }
                    } else if j >= 3
                        && toks.get(j.saturating_sub(1)) == Some(&T::P(':'))
                        && toks.get(j.saturating_sub(2)) == Some(&T::P(':'))
                    {
                        if let Some(T::Id(q)) = toks.get(j.saturating_sub(3)) {
                            qual.push(q.clone());
                            j = j.saturating_sub(3);
                            continue;
                        }
                    }
                    break;
                }
                qual.reverse();
                // the call as written (`sh.rmtree`), for the origin
                let shown = if qual.is_empty() {
                    name.clone()
                } else {
                    format!("{}.{name}", qual.join("."))
                };
                if let (Some(m), Some(first)) = (loaded, qual.first_mut()) {
                    // `require('fs').rmSync`: the module the call loads
                    *first = m;
                }
                let (name, qual) = resolve_alias(lang, &aliases, name, qual);
                let name = &name;
                if let Some((ex, next)) = path_method(lang, &toks, k, name) {
                    out.extend(ex);
                    k = next.max(k.saturating_add(1));
                    continue;
                }
                let qual_s = qual.join(".");
                if let Some(call) = classify(lang, name, &qual_s, code) {
                    if let Some((args, next)) = call_args(lang, &toks, k.saturating_add(1)) {
                        let callee = shown;
                        if let Some(kind) = interpret(lang, call, &args) {
                            out.push(Extract { callee, kind });
                        }
                        k = next.max(k.saturating_add(1));
                        continue;
                    }
                }
            }
            _ => {}
        }
        k = k.saturating_add(1);
    }
    out
}

/// A name bound by an import or an assignment: `alias` stands for `module` (a module
/// alias, `func: None`) or for `module.func`.
#[derive(Debug, Clone, PartialEq)]
struct Alias {
    alias: String,
    module: String,
    func: Option<String>,
}

/// The module a `require('M')` / `__import__('M')` / `importlib.import_module('M')` call
/// ending at `close` (the index of its `)`) loads.
fn import_call_before(toks: &[T], close: usize) -> Option<String> {
    let open = close.checked_sub(2)?;
    match (
        toks.get(open.checked_sub(1)?)?,
        toks.get(open)?,
        toks.get(open.checked_add(1)?)?,
    ) {
        (T::Id(f), T::P('('), T::Str(m, true))
            if matches!(
                f.as_str(),
                "require" | "__import__" | "import_module" | "import"
            ) =>
        {
            Some(module_name(m))
        }
        _ => None,
    }
}

/// `node:fs` → `fs`, `fs/promises` → `fs.promises`.
fn module_name(m: &str) -> String {
    m.strip_prefix("node:").unwrap_or(m).replace('/', ".")
}

/// A dotted name starting at `k` (`os.path`, `File::Path`): the name and the index after it.
fn dotted(toks: &[T], mut k: usize) -> Option<(String, usize)> {
    let mut parts = Vec::new();
    loop {
        match toks.get(k) {
            Some(T::Id(p)) => parts.push(p.clone()),
            _ => return None,
        }
        k = k.saturating_add(1);
        match (toks.get(k), toks.get(k.saturating_add(1))) {
            (Some(T::P('.')), Some(T::Id(_))) => k = k.saturating_add(1),
            (Some(T::P(':')), Some(T::P(':'))) => k = k.saturating_add(2),
            _ => return Some((parts.join("."), k)),
        }
        if parts.len() > 16 {
            return None;
        }
    }
}

/// Names bound to modules and functions by imports and plain assignments:
/// python `import shutil as sh`, `from shutil import rmtree as wipe`, `w = shutil.rmtree`;
/// node `const cp = require('child_process')`, `const {rmSync: r} = require('fs')`,
/// `import * as cp from 'child_process'`, `import {execSync as run} from 'child_process'`;
/// ruby `include FileUtils`, `FU = FileUtils`; perl `*wipe = \&File::Path::rmtree`.
fn collect_aliases(lang: Lang, toks: &[T]) -> Vec<Alias> {
    let mut out: Vec<Alias> = Vec::new();
    let push = |out: &mut Vec<Alias>, alias: &str, module: &str, func: Option<&str>| {
        if out.len() < 256 && !(func.is_none() && alias == module) {
            out.push(Alias {
                alias: alias.to_string(),
                module: module.to_string(),
                func: func.map(str::to_string),
            });
        }
    };
    let id = |k: usize| match toks.get(k) {
        Some(T::Id(s)) => Some(s.as_str()),
        _ => None,
    };
    let p = |k: usize, c: char| toks.get(k) == Some(&T::P(c));
    let mut k = 0usize;
    while k < toks.len() {
        let next = k.saturating_add(1);
        match (lang, id(k)) {
            (Lang::Python, Some("import")) => {
                // import a.b as x, c as y
                let mut j = next;
                while let Some((m, after)) = dotted(toks, j) {
                    j = after;
                    if id(j) == Some("as") {
                        if let Some(a) = id(j.saturating_add(1)) {
                            push(&mut out, a, &m, None);
                        }
                        j = j.saturating_add(2);
                    }
                    if !p(j, ',') {
                        break;
                    }
                    j = j.saturating_add(1);
                }
                k = j.max(next);
                continue;
            }
            (Lang::Python, Some("from")) => {
                if let Some((m, after)) = dotted(toks, next) {
                    if id(after) == Some("import") {
                        let mut j = after.saturating_add(1);
                        if p(j, '(') {
                            j = j.saturating_add(1);
                        }
                        while let Some(f) = id(j) {
                            let (alias, step) = if id(j.saturating_add(1)) == Some("as") {
                                (id(j.saturating_add(2)).unwrap_or(f), 3usize)
                            } else {
                                (f, 1usize)
                            };
                            // `from os import path` binds a module
                            push(&mut out, alias, &m, Some(f));
                            j = j.saturating_add(step);
                            if !p(j, ',') {
                                break;
                            }
                            j = j.saturating_add(1);
                            while toks.get(j) == Some(&T::Nl) {
                                j = j.saturating_add(1);
                            }
                        }
                        k = j.max(next);
                        continue;
                    }
                }
            }
            (Lang::Node | Lang::Deno, Some("import")) => {
                // import X from 'M' | import * as X from 'M' | import {a as b} from 'M'
                let mut j = next;
                let mut names: Vec<(String, Option<String>)> = Vec::new();
                if p(j, '*') && id(j.saturating_add(1)) == Some("as") {
                    if let Some(a) = id(j.saturating_add(2)) {
                        names.push((a.to_string(), None));
                    }
                    j = j.saturating_add(3);
                } else if let Some(a) = id(j).filter(|a| *a != "from") {
                    names.push((a.to_string(), None));
                    j = j.saturating_add(1);
                    if p(j, ',') {
                        j = j.saturating_add(1);
                    }
                }
                if p(j, '{') {
                    j = j.saturating_add(1);
                    while let Some(f) = id(j) {
                        if id(j.saturating_add(1)) == Some("as") {
                            if let Some(a) = id(j.saturating_add(2)) {
                                names.push((a.to_string(), Some(f.to_string())));
                            }
                            j = j.saturating_add(3);
                        } else {
                            names.push((f.to_string(), Some(f.to_string())));
                            j = j.saturating_add(1);
                        }
                        if !p(j, ',') {
                            break;
                        }
                        j = j.saturating_add(1);
                    }
                    if p(j, '}') {
                        j = j.saturating_add(1);
                    }
                }
                if id(j) == Some("from") {
                    if let Some(T::Str(m, true)) = toks.get(j.saturating_add(1)) {
                        let m = module_name(m);
                        for (a, f) in &names {
                            push(&mut out, a, &m, f.as_deref());
                        }
                    }
                }
                k = j.max(next);
                continue;
            }
            _ => {}
        }
        // NAME = <module or function>   /   const NAME = …   /   const {a, b: c} = …
        let decl = matches!(id(k), Some("const" | "let" | "var" | "my" | "our"));
        let start = if decl { next } else { k };
        let at_stmt_start = k == 0
            || matches!(
                toks.get(k.saturating_sub(1)),
                Some(T::Nl | T::P(';') | T::P('{') | T::P('}'))
            );
        if at_stmt_start {
            if p(start, '{') && matches!(lang, Lang::Node | Lang::Deno) {
                // destructuring: {a, b: c} = require('M') | = M
                let mut j = start.saturating_add(1);
                let mut names: Vec<(String, String)> = Vec::new();
                while let Some(f) = id(j) {
                    if p(j.saturating_add(1), ':') {
                        if let Some(a) = id(j.saturating_add(2)) {
                            names.push((a.to_string(), f.to_string()));
                        }
                        j = j.saturating_add(3);
                    } else {
                        names.push((f.to_string(), f.to_string()));
                        j = j.saturating_add(1);
                    }
                    if !p(j, ',') {
                        break;
                    }
                    j = j.saturating_add(1);
                }
                if p(j, '}') && p(j.saturating_add(1), '=') {
                    if let Some(m) = rhs_module(lang, toks, j.saturating_add(2), &out) {
                        for (a, f) in &names {
                            push(&mut out, a, &m, Some(f));
                        }
                    }
                }
            } else if let Some(a) = id(start) {
                if p(start.saturating_add(1), '=') && !p(start.saturating_add(2), '=') {
                    let rhs = start.saturating_add(2);
                    if let Some(m) = rhs_module(lang, toks, rhs, &out) {
                        push(&mut out, a, &m, None);
                    } else if let Some((f, end)) = dotted(toks, rhs) {
                        // w = shutil.rmtree (a reference, not a call)
                        if !p(end, '(') {
                            if let Some((m, func)) = f.rsplit_once('.') {
                                let m = resolve_module(&out, m);
                                push(&mut out, a, &m, Some(func));
                            } else if let Some(al) = out.iter().find(|x| x.alias == f).cloned() {
                                push(&mut out, a, &al.module, al.func.as_deref());
                            }
                        }
                    }
                }
            }
            // ruby `include FileUtils`: its functions become unqualified
            if lang == Lang::Ruby && id(k) == Some("include") {
                if let Some((m, _)) = dotted(toks, next) {
                    push(&mut out, "", &m, Some("*"));
                }
            }
        }
        // perl `*wipe = \&File::Path::rmtree;`
        if lang == Lang::Perl && p(k, '*') && p(k.saturating_add(2), '=') {
            if let (Some(a), true, true) = (
                id(next),
                p(k.saturating_add(3), '\\'),
                p(k.saturating_add(4), '&'),
            ) {
                if let Some((f, _)) = dotted(toks, k.saturating_add(5)) {
                    if let Some((m, func)) = f.rsplit_once('.') {
                        push(&mut out, a, m, Some(func));
                    }
                }
            }
        }
        k = next;
    }
    out
}

/// The module an expression starting at `k` evaluates to: `require('M')`, `await import('M')`,
/// `__import__('M')`, `importlib.import_module('M')`, or a known module alias.
fn resolve_module_expr(toks: &[T], k: usize) -> Option<(String, usize)> {
    let mut j = k;
    if matches!(toks.get(j), Some(T::Id(a)) if a == "await") {
        j = j.saturating_add(1);
    }
    let (f, after) = dotted(toks, j)?;
    let last = f.rsplit('.').next().unwrap_or(&f);
    if !matches!(last, "require" | "__import__" | "import_module" | "import") {
        return None;
    }
    match (
        toks.get(after),
        toks.get(after.saturating_add(1)),
        toks.get(after.saturating_add(2)),
    ) {
        (Some(T::P('(')), Some(T::Str(m, true)), Some(T::P(')'))) => {
            Some((module_name(m), after.saturating_add(3)))
        }
        _ => None,
    }
}

fn rhs_module(lang: Lang, toks: &[T], k: usize, known: &[Alias]) -> Option<String> {
    if let Some((m, end)) = resolve_module_expr(toks, k) {
        // `require('fs').promises`
        return Some(match dotted_tail(toks, end) {
            Some(tail) => format!("{m}.{tail}"),
            None => m,
        });
    }
    // `FU = FileUtils`, `const p = fs.promises`, `x = cp` (an alias of a module)
    let (name, end) = dotted(toks, k)?;
    if !matches!(toks.get(end), None | Some(T::Nl) | Some(T::P(';'))) {
        return None;
    }
    let first = name.split('.').next().unwrap_or(&name);
    if known.iter().any(|a| a.alias == first && a.func.is_none()) {
        return Some(resolve_module(known, &name));
    }
    let capitalised = first.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    (lang == Lang::Ruby && capitalised).then_some(name)
}

/// `.a.b` after index `k`.
fn dotted_tail(toks: &[T], k: usize) -> Option<String> {
    if toks.get(k) != Some(&T::P('.')) {
        return None;
    }
    let (t, end) = dotted(toks, k.saturating_add(1))?;
    (!matches!(toks.get(end), Some(T::P('(')))).then_some(t)
}

/// Replace a leading module alias in a dotted name (`sh.util` → `shutil.util`).
fn resolve_module(aliases: &[Alias], name: &str) -> String {
    let (first, rest) = match name.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    match aliases
        .iter()
        .rev()
        .find(|a| a.alias == first && a.func.is_none())
    {
        Some(a) => match rest {
            Some(r) => format!("{}.{r}", a.module),
            None => a.module.clone(),
        },
        None => name.to_string(),
    }
}

/// The canonical (name, qualifier) of a call written `qual.name`, through the aliases.
fn resolve_alias(
    lang: Lang,
    aliases: &[Alias],
    name: &str,
    qual: Vec<String>,
) -> (String, Vec<String>) {
    if aliases.is_empty() {
        return (name.to_string(), qual);
    }
    if qual.is_empty() {
        if let Some(a) = aliases
            .iter()
            .rev()
            .find(|a| a.alias == name && a.func.is_some())
        {
            let module = a.module.split('.').map(str::to_string).collect();
            return (a.func.clone().unwrap_or_default(), module);
        }
        // ruby `include FileUtils`
        if lang == Lang::Ruby {
            if let Some(a) = aliases.iter().find(|a| a.alias.is_empty()) {
                if classify(lang, name, &a.module, "").is_some() {
                    return (name.to_string(), vec![a.module.clone()]);
                }
            }
        }
        return (name.to_string(), qual);
    }
    let joined = qual.join(".");
    let resolved = resolve_module(aliases, &joined);
    // `from os import path; path.join` / `from fs import promises as p; p.rm`
    let resolved = match aliases.iter().rev().find(|a| {
        a.func.is_some() && qual.first().is_some_and(|q| *q == a.alias) && resolved == joined
    }) {
        Some(a) => {
            let mut v = format!("{}.{}", a.module, a.func.clone().unwrap_or_default());
            for q in qual.iter().skip(1) {
                v.push('.');
                v.push_str(q);
            }
            v
        }
        None => resolved,
    };
    (
        name.to_string(),
        resolved.split('.').map(str::to_string).collect(),
    )
}

/// Python `Path(P).write_text(…)` / `.write_bytes` / `.read_text` / `.read_bytes` /
/// `.open(MODE)`. Returns the extract (if any) and the index after the method call.
fn path_method(lang: Lang, toks: &[T], k: usize, name: &str) -> Option<(Option<Extract>, usize)> {
    if lang != Lang::Python
        || !matches!(
            name,
            "write_text" | "write_bytes" | "read_text" | "read_bytes" | "open"
        )
        || k < 3
        || toks.get(k.saturating_sub(1)) != Some(&T::P('.'))
        || toks.get(k.saturating_sub(2)) != Some(&T::P(')'))
    {
        return None;
    }
    // matching `(` of the receiver call
    let mut depth = 0i32;
    let mut o = k.saturating_sub(2);
    loop {
        match toks.get(o) {
            None => return None,
            Some(T::P(')' | ']' | '}')) => depth = depth.saturating_add(1),
            Some(T::P('(' | '[' | '{')) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        if o == 0 {
            return None;
        }
        o = o.saturating_sub(1);
    }
    let ctor = match toks.get(o.checked_sub(1)?) {
        Some(T::Id(c)) if matches!(c.as_str(), "Path" | "PurePath" | "PosixPath") => c.clone(),
        _ => return None,
    };
    let recv = split_commas(
        toks.get(o.saturating_add(1)..k.saturating_sub(2))
            .unwrap_or_default(),
    );
    let parts: Vec<ArgV> = recv.iter().map(|a| classify_arg(lang, a)).collect();
    let path = if !parts.is_empty() && parts.iter().all(|p| matches!(p, ArgV::Lit(_))) {
        let v: Vec<String> = parts
            .into_iter()
            .filter_map(|p| match p {
                ArgV::Lit(s) => Some(s),
                _ => None,
            })
            .collect();
        ArgV::Lit(v.join("/"))
    } else {
        ArgV::Other
    };
    let (args, next) = call_args(lang, toks, k.saturating_add(1))?;
    let kind = match name {
        "write_text" | "write_bytes" => file_access(true, false, path),
        "read_text" | "read_bytes" => file_access(false, false, path),
        _ => {
            let mut a = vec![Vec::new()];
            a.extend(args);
            let (write, append) = open_mode(&a);
            file_access(write, append, path)
        }
    };
    let ex = kind.map(|kind| Extract {
        callee: format!("{ctor}(...).{name}"),
        kind,
    });
    Some((ex, next))
}

/// Arguments of the call whose name is at `start - 1`. Returns (args, index after call).
fn call_args(lang: Lang, toks: &[T], start: usize) -> Option<(Vec<Vec<T>>, usize)> {
    match toks.get(start) {
        Some(T::P('(')) => {
            let mut depth = 0i32;
            for (j, t) in toks.iter().enumerate().skip(start) {
                match t {
                    T::P('(' | '[' | '{') => depth = depth.saturating_add(1),
                    T::P(')' | ']' | '}') => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some((
                                split_commas(
                                    toks.get(start.saturating_add(1)..j).unwrap_or_default(),
                                ),
                                j.saturating_add(1),
                            ));
                        }
                    }
                    _ => {}
                }
            }
            Some((
                split_commas(toks.get(start.saturating_add(1)..).unwrap_or_default()),
                toks.len(),
            ))
        }
        Some(T::Str(..)) | Some(T::Id(_)) | Some(T::P('['))
            if matches!(lang, Lang::Perl | Lang::Ruby) =>
        {
            let mut j = start;
            while j < toks.len() && !matches!(toks.get(j), Some(T::P(';') | T::Nl)) {
                j = j.saturating_add(1);
            }
            Some((split_commas(toks.get(start..j).unwrap_or_default()), j))
        }
        _ => None,
    }
}

fn interpret(lang: Lang, call: Call, args: &[Vec<T>]) -> Option<Kind> {
    let first = args.first()?;
    if first.is_empty() {
        return None;
    }
    let a0 = classify_arg(lang, first);
    let rm = |flags: &[&str], a0: ArgV| -> Kind {
        let mut v: Vec<Option<String>> = vec![Some("rm".into())];
        v.extend(flags.iter().map(|f| Some(f.to_string())));
        v.push(match a0 {
            ArgV::Lit(s) => Some(s),
            _ => None,
        });
        Kind::Argv(v)
    };
    Some(match call {
        Call::ShellStr => match a0 {
            ArgV::Lit(s) => Kind::Shell(s),
            _ => Kind::NonLiteral,
        },
        Call::ArgvAt(n) => match args.get(usize::from(n)).map(|a| classify_arg(lang, a)) {
            Some(ArgV::List(v)) if v.first().is_some_and(|x| x.is_some()) => Kind::Argv(v),
            Some(ArgV::Lit(s)) => Kind::Argv(vec![Some(s)]),
            _ => Kind::NonLiteral,
        },
        Call::ArgsFrom(n) => {
            let v: Vec<Option<String>> = (args.iter().skip(usize::from(n)))
                .map(|a| match classify_arg(lang, a) {
                    ArgV::Lit(s) => Some(s),
                    _ => None,
                })
                .collect();
            if v.first().is_some_and(|x| x.is_some()) {
                Kind::Argv(v)
            } else {
                Kind::NonLiteral
            }
        }
        Call::Subprocess => {
            let shell = has_flag(args, "shell");
            match a0 {
                ArgV::List(v) if shell => {
                    if v.iter().all(|x| x.is_some()) {
                        Kind::Shell(v.into_iter().flatten().collect::<Vec<_>>().join(" "))
                    } else {
                        Kind::NonLiteral
                    }
                }
                ArgV::List(v) if v.first().is_some_and(|x| x.is_some()) => Kind::Argv(v),
                ArgV::Lit(s) if shell => Kind::Shell(s),
                ArgV::Lit(s) => Kind::Argv(vec![Some(s)]),
                _ => Kind::NonLiteral,
            }
        }
        Call::Spawn => {
            let shell = has_flag(args, "shell");
            let list = args.get(1).map(|a| classify_arg(lang, a));
            match a0 {
                ArgV::Lit(s) => {
                    let mut v = vec![Some(s)];
                    if let Some(ArgV::List(l)) = list {
                        v.extend(l);
                    } else if let Some(a) = args.get(1) {
                        // Deno.Command("rm", { args: [...] })
                        if let Some(p) = a.iter().position(|t| *t == T::Id("args".into())) {
                            let rest = a.get(p.saturating_add(1)..).unwrap_or_default();
                            if let Some(s) = rest.iter().position(|t| *t == T::P('[')) {
                                if let Some(e) = rest.iter().position(|t| *t == T::P(']')) {
                                    if let ArgV::List(l) =
                                        classify_arg(lang, rest.get(s..=e).unwrap_or_default())
                                    {
                                        v.extend(l);
                                    }
                                }
                            }
                        }
                    }
                    if shell {
                        if v.iter().all(|x| x.is_some()) {
                            Kind::Shell(v.into_iter().flatten().collect::<Vec<_>>().join(" "))
                        } else {
                            Kind::NonLiteral
                        }
                    } else {
                        Kind::Argv(v)
                    }
                }
                _ => Kind::NonLiteral,
            }
        }
        Call::System => {
            let all: Vec<ArgV> = args.iter().map(|a| classify_arg(lang, a)).collect();
            if all.len() == 1 {
                match a0 {
                    ArgV::Lit(s) => Kind::Shell(s),
                    ArgV::List(v) if v.first().is_some_and(|x| x.is_some()) => Kind::Argv(v),
                    _ => Kind::NonLiteral,
                }
            } else {
                let mut v = Vec::new();
                for a in all {
                    match a {
                        ArgV::Lit(s) => v.push(Some(s)),
                        ArgV::List(l) => v.extend(l),
                        ArgV::Other => v.push(None),
                    }
                }
                if v.first().is_some_and(|x| x.is_some()) {
                    Kind::Argv(v)
                } else {
                    Kind::NonLiteral
                }
            }
        }
        Call::Write => return file_access(true, false, a0),
        Call::Append => return file_access(true, true, a0),
        Call::Read => return file_access(false, false, a0),
        Call::Open => {
            if let ArgV::Lit(p) = &a0 {
                // ruby / perl-style `open("|cmd")`
                if let Some(cmd) = p.strip_prefix('|').filter(|_| lang == Lang::Ruby) {
                    return Some(Kind::Shell(cmd.to_string()));
                }
            }
            let (write, append) = open_mode(args);
            return file_access(write, append, a0);
        }
        Call::PerlOpen => return perl_open(lang, args),
        Call::RmRf => rm(&["-rf"], a0),
        Call::Rm => rm(&[], a0),
        Call::RmOpt => {
            if has_flag(args, "recursive") {
                rm(&["-rf"], a0)
            } else {
                rm(&[], a0)
            }
        }
    })
}

#[cfg(test)]
mod temp_dir_tests {
    use crate::{analyze, AnalyzeOptions};

    fn rm_args(code: &str) -> Vec<Vec<String>> {
        analyze(code, &AnalyzeOptions::default())
            .invocations
            .iter()
            .filter(|i| i.program == "rm")
            .map(|i| i.argv.iter().map(|a| a.value.clone()).collect())
            .collect()
    }

    #[test]
    fn fresh_temp_dirs_and_the_temp_root() {
        assert_eq!(
            rm_args("python3 -c 'import shutil,tempfile; shutil.rmtree(tempfile.mkdtemp())'"),
            vec![vec!["rm", "-rf", "$TMPDIR/tmp.XXXXXX"]]
        );
        assert_eq!(
            rm_args("python3 -c 'import shutil,tempfile; shutil.rmtree(tempfile.gettempdir())'"),
            vec![vec!["rm", "-rf", "$TMPDIR"]]
        );
        // something joined to it: not known
        let joined = rm_args(
            "python3 -c 'import shutil,tempfile; shutil.rmtree(tempfile.gettempdir() + \"/x\")'",
        );
        assert!(joined
            .iter()
            .all(|a| !a.iter().any(|v| v.starts_with("$TMPDIR"))));
    }
}
