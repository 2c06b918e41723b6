//! Script awareness: when a command runs a script file (`bash scripts/x.sh`, `./deploy.sh`,
//! `source env.sh`, `python3 tool.py` that is really a shell script, `make target`), the
//! commands inside are judged as if they were typed, with the file and line named.
//!
//! The engine does no I/O: the caller supplies a [`ScriptReader`] that reads files (bounded).

use super::command::{CommandFacts, InputClass};
use super::programs;
use super::{command, Collector, Eval};
use crate::model::{Effect, Severity};
use crate::paths::{self, PathContext};
use crate::policy::compile::Access;
use cavra_shell::{Invocation, RedirKind, Stdin};

/// Reads script files for the engine. Implemented at the binary edge.
pub trait ScriptReader: std::fmt::Debug + Sync {
    /// The text of the file at `path` (absolute), or why it could not be read
    /// (`not found`, `larger than 256 KiB`, `not UTF-8`, ...).
    fn read_script(&self, path: &str) -> Result<String, String>;
}

/// What kind of script an invocation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptKind {
    /// A shell script (or a file run by a shell).
    Shell,
    /// An interpreter's script file: inspected only when it is really a shell script.
    MaybeShell,
    /// A Makefile and the targets asked for (empty: the default target).
    Make(Vec<String>),
}

/// A script an invocation would run.
#[derive(Debug, Clone)]
pub struct ScriptRef {
    pub path: String,
    pub written: String,
    pub kind: ScriptKind,
}

const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "ash", "source", "."];
const INTERPRETERS: &[&str] = &["python", "python3", "python2", "node", "perl", "ruby"];

/// The script an invocation runs, if any.
pub fn script_of(f: &CommandFacts<'_>, ctx: &PathContext) -> Option<ScriptRef> {
    let inv = f.inv;
    let cwd = f.cwd.as_deref();
    let resolve = |p: &str| paths::resolve(p, ctx, cwd);
    let argv0 = inv.argv.first()?;
    if argv0.dynamic {
        return None;
    }
    // ./deploy.sh, scripts/x.sh, /abs/run.sh
    if argv0.value.contains('/')
        && !SHELLS.contains(&f.program.as_str())
        && !INTERPRETERS.contains(&f.program.as_str())
    {
        let looks_installed = argv0.value.starts_with("/usr/")
            || argv0.value.starts_with("/bin/")
            || argv0.value.starts_with("/sbin/")
            || argv0.value.starts_with("/opt/");
        if !looks_installed {
            return Some(ScriptRef {
                path: resolve(&argv0.value),
                written: argv0.value.clone(),
                kind: ScriptKind::MaybeShell,
            });
        }
    }
    let first = f.rest.first().filter(|a| !a.dynamic)?;
    if SHELLS.contains(&f.program.as_str()) {
        // `bash -c STR` is analysed by the shell parser already
        if f.flags.iter().any(|x| x == "-c") {
            return None;
        }
        return Some(ScriptRef {
            path: resolve(&first.value),
            written: first.value.clone(),
            kind: ScriptKind::Shell,
        });
    }
    if INTERPRETERS.contains(&f.program.as_str()) || f.program.starts_with("python3.") {
        if f.flags.iter().any(|x| x == "-c" || x == "-e" || x == "-m") {
            return None;
        }
        return Some(ScriptRef {
            path: resolve(&first.value),
            written: first.value.clone(),
            kind: ScriptKind::MaybeShell,
        });
    }
    None
}

/// What an invocation leaves in a file it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The file now holds exactly this text.
    Replaced(String),
    /// This text was added at the end.
    Appended(String),
    /// Something not known before the command runs (a download, a copy, an edit...).
    Unknown,
}

/// The files `inv` writes (absolute paths, as its file accesses resolve them) and what
/// they then hold, when that is known from the command line itself: `echo`/`printf`
/// output or a heredoc/herestring (directly or through a pipe) sent to `> file`,
/// `>> file` or `tee [-a] file`.
pub fn files_written(
    inv: &Invocation,
    f: &CommandFacts<'_>,
    all: &[Invocation],
) -> Vec<(String, Written)> {
    let mut out = Vec::new();
    // metadata changes leave the text as it is
    if matches!(
        f.program.as_str(),
        "chmod" | "chown" | "chgrp" | "touch" | "chattr" | "setfacl"
    ) {
        return out;
    }
    for a in f
        .accesses
        .iter()
        .filter(|a| matches!(a.access, Access::Write | Access::Append))
    {
        let to_stdout_redirect = inv.redirects.iter().find(|r| {
            r.target.value == a.written
                && matches!(r.fd, None | Some(1))
                && matches!(r.kind, RedirKind::Write | RedirKind::Append)
        });
        let w = if let Some(r) = to_stdout_redirect {
            match stdout_text(inv, all, 0) {
                Some(t) if r.kind == RedirKind::Append => Written::Appended(t),
                Some(t) => Written::Replaced(t),
                None => Written::Unknown,
            }
        } else if f.program == "tee" && inv.argv.iter().skip(1).any(|x| x.value == a.written) {
            let append = f.flags.iter().any(|x| x == "-a" || x == "--append");
            match stdin_text(inv, all, 0) {
                Some(t) if append => Written::Appended(t),
                Some(t) => Written::Replaced(t),
                None => Written::Unknown,
            }
        } else {
            Written::Unknown
        };
        out.push((a.facts.path.clone(), w));
    }
    out
}

/// The files `inv` fills with downloaded content (absolute paths): a downloader's output
/// file (`curl -o F`, `curl -O URL`, `wget -O F`, `wget URL`, `aria2c -o F`,
/// `Invoke-WebRequest -OutFile F`), its stdout sent to `> F` / `>> F`, and `tee F` or a
/// redirect of a pass-through program (`cat`, `gunzip`, ...) whose input is a download.
pub fn downloads_written(f: &CommandFacts<'_>, ctx: &PathContext) -> Vec<String> {
    let inv = f.inv;
    let downloader = programs::is_downloader(&f.program, f.spec.as_ref());
    let fed = f.input.contains(&InputClass::Download) && programs::is_passthrough(&f.program);
    if !downloader && !fed {
        return Vec::new();
    }
    let cwd = f.cwd.as_deref();
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !p.is_empty() && p != "-" && p != "/dev/null" && p != "/dev/stdout" {
            out.push(paths::resolve(p, ctx, cwd));
        }
    };
    for r in &inv.redirects {
        if matches!(r.fd, None | Some(1))
            && matches!(r.kind, RedirKind::Write | RedirKind::Append)
            && !r.target.dynamic
        {
            add(&r.target.value);
        }
    }
    if fed {
        if f.program == "tee" {
            for a in inv.argv.iter().skip(1) {
                if !a.value.starts_with('-') && !a.dynamic {
                    add(&a.value);
                }
            }
        }
        return out;
    }
    let args: Vec<&str> = inv
        .argv
        .iter()
        .skip(1)
        .filter(|a| !a.dynamic)
        .map(|a| a.value.as_str())
        .collect();
    let urls: Vec<&str> = args.iter().copied().filter(|a| a.contains("://")).collect();
    let url_file = |u: &str| -> String {
        let no_query = u.split(['?', '#']).next().unwrap_or(u);
        let path = no_query.split_once("://").map_or(no_query, |(_, r)| r);
        match path.split_once('/') {
            Some((_, p)) => p.rsplit('/').next().unwrap_or("").to_string(),
            None => String::new(),
        }
    };
    match f.program.as_str() {
        "curl" => {
            let mut dir = String::new();
            let mut files: Vec<String> = Vec::new();
            let mut remote_name = false;
            let mut k = 0usize;
            while let Some(a) = args.get(k) {
                k = k.saturating_add(1);
                let next = args.get(k).copied();
                if let Some(v) = a.strip_prefix("--output=") {
                    files.push(v.to_string());
                } else if let Some(v) = a.strip_prefix("--output-dir=") {
                    dir = v.to_string();
                } else if *a == "--output" || *a == "-o" {
                    files.extend(next.map(str::to_string));
                    k = k.saturating_add(1);
                } else if *a == "--output-dir" {
                    dir = next.unwrap_or("").to_string();
                    k = k.saturating_add(1);
                } else if *a == "--remote-name" || *a == "--remote-name-all" {
                    remote_name = true;
                } else if a.starts_with('-') && !a.starts_with("--") && a.len() > 1 {
                    // clusters: `-sSLo f`, `-fsSLO`, `-ofile`
                    let body = a.get(1..).unwrap_or("");
                    if let Some(pos) = body.find('o') {
                        let rest = body.get(pos.saturating_add(1)..).unwrap_or("");
                        if rest.is_empty() {
                            files.extend(next.map(str::to_string));
                            k = k.saturating_add(1);
                        } else {
                            files.push(rest.to_string());
                        }
                    }
                    if body.split('o').next().unwrap_or("").contains('O') {
                        remote_name = true;
                    }
                }
            }
            if remote_name {
                files.extend(urls.iter().map(|u| url_file(u)));
            }
            for file in files {
                if dir.is_empty() || file.starts_with('/') {
                    add(&file);
                } else {
                    add(&format!("{}/{file}", dir.trim_end_matches('/')));
                }
            }
        }
        "wget" | "wget2" => {
            let mut doc: Option<String> = None;
            let mut prefix = String::new();
            let mut k = 0usize;
            while let Some(a) = args.get(k) {
                k = k.saturating_add(1);
                let next = args.get(k).copied();
                if let Some(v) = a.strip_prefix("--output-document=") {
                    doc = Some(v.to_string());
                } else if let Some(v) = a.strip_prefix("--directory-prefix=") {
                    prefix = v.to_string();
                } else if *a == "--output-document" || *a == "-O" {
                    doc = next.map(str::to_string);
                    k = k.saturating_add(1);
                } else if *a == "--directory-prefix" || *a == "-P" {
                    prefix = next.unwrap_or("").to_string();
                    k = k.saturating_add(1);
                } else if a.starts_with('-') && !a.starts_with("--") && a.len() > 1 {
                    let body = a.get(1..).unwrap_or("");
                    for (opt, slot) in [('O', 0u8), ('P', 1u8)] {
                        if let Some(pos) = body.find(opt) {
                            let rest = body.get(pos.saturating_add(1)..).unwrap_or("");
                            let v = if rest.is_empty() {
                                k = k.saturating_add(1);
                                next.unwrap_or("").to_string()
                            } else {
                                rest.to_string()
                            };
                            if slot == 0 {
                                doc = Some(v);
                            } else {
                                prefix = v;
                            }
                            break;
                        }
                    }
                }
            }
            let join = |file: &str| {
                if prefix.is_empty() || file.starts_with('/') {
                    file.to_string()
                } else {
                    format!("{}/{file}", prefix.trim_end_matches('/'))
                }
            };
            match doc {
                Some(d) => add(&join(&d)),
                None => {
                    for u in &urls {
                        let name = url_file(u);
                        add(&join(if name.is_empty() { "index.html" } else { &name }));
                    }
                }
            }
        }
        "aria2c" => {
            let mut k = 0usize;
            while let Some(a) = args.get(k) {
                k = k.saturating_add(1);
                if *a == "-o" || *a == "--out" {
                    if let Some(v) = args.get(k) {
                        add(v);
                    }
                } else if let Some(v) = a.strip_prefix("--out=") {
                    add(v);
                }
            }
        }
        "iwr" | "invoke-webrequest" | "irm" | "invoke-restmethod" => {
            let mut k = 0usize;
            while let Some(a) = args.get(k) {
                k = k.saturating_add(1);
                if a.eq_ignore_ascii_case("-outfile") || a.eq_ignore_ascii_case("-o") {
                    if let Some(v) = args.get(k) {
                        add(v);
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// What `inv` prints, when the command line alone tells.
fn stdout_text(inv: &Invocation, all: &[Invocation], depth: usize) -> Option<String> {
    if depth > 8 || inv.argv.iter().any(|a| a.dynamic) {
        return None;
    }
    let args: Vec<&str> = inv.argv.iter().skip(1).map(|a| a.value.as_str()).collect();
    match inv.program.as_str() {
        "echo" => {
            let mut i = 0;
            let mut newline = true;
            while let Some(flag) = args.get(i).filter(|a| {
                a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "neE".contains(c))
            }) {
                newline &= !flag.contains('n');
                i = i.saturating_add(1);
            }
            let mut t = args.get(i..).unwrap_or_default().join(" ");
            if newline {
                t.push('\n');
            }
            Some(t)
        }
        "printf" => {
            let (fmt, rest) = args.split_first()?;
            // the arguments are what ends up in the output when the format only
            // places them (`printf '%s\n' 'a' 'b'`); a plain format is the output itself
            let text = if fmt.contains('%') {
                rest.join("\n")
            } else {
                (*fmt).to_string()
            };
            Some(text.replace("\\n", "\n").replace("\\t", "\t"))
        }
        "cat" | "tee" if args.iter().all(|a| a.starts_with('-')) => {
            stdin_text(inv, all, depth.saturating_add(1))
        }
        _ => None,
    }
}

/// What `inv` reads on standard input, when the command line alone tells.
fn stdin_text(inv: &Invocation, all: &[Invocation], depth: usize) -> Option<String> {
    match &inv.stdin {
        Stdin::HereDoc(t) => Some(t.clone()),
        Stdin::HereString(t) => Some(format!("{t}\n")),
        Stdin::Pipe { from } => stdout_text(all.get(*from)?, all, depth.saturating_add(1)),
        _ => None,
    }
}

/// The Makefile an invocation of `make` reads, and the targets.
pub fn makefile_of(f: &CommandFacts<'_>, ctx: &PathContext) -> Option<ScriptRef> {
    if !matches!(f.program.as_str(), "make" | "gmake") {
        return None;
    }
    let cwd = f
        .option_values
        .iter()
        .find(|(k, _)| k == "-C" || k == "--directory")
        .map(|(_, v)| paths::resolve(v, ctx, f.cwd.as_deref()))
        .or_else(|| f.cwd.clone());
    let file = f
        .option_values
        .iter()
        .find(|(k, _)| k == "-f" || k == "--file" || k == "--makefile")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "Makefile".into());
    let mut targets: Vec<String> = f.subcommand.clone();
    targets.extend(f.rest.iter().map(|a| a.value.clone()));
    targets.retain(|t| !t.contains('='));
    Some(ScriptRef {
        path: paths::resolve(&file, ctx, cwd.as_deref()),
        written: file,
        kind: ScriptKind::Make(targets),
    })
}

/// Is this text a shell script (by its `#!` line)?
pub fn is_shell_text(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    first.starts_with("#!")
        && [
            "/sh",
            "/bash",
            "/zsh",
            "/dash",
            "/ksh",
            "env sh",
            "env bash",
            "env zsh",
            "env -S bash",
        ]
        .iter()
        .any(|s| first.contains(s))
}

/// Splits a shell script into chunks that parse on their own (multi-line constructs stay
/// together), each with the line it starts on (1-based).
pub fn shell_chunks(text: &str, opts: &cavra_shell::AnalyzeOptions) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chunk = String::new();
    let mut start = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if chunk.is_empty() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            start = i.saturating_add(1);
        }
        chunk.push_str(line);
        chunk.push('\n');
        let last = i.saturating_add(1) == lines.len();
        // a line that ends in an unescaped `\` continues on the next: one command, never
        // cut (a cut would judge `rm -rf` and a lone `/` apart); the text is bounded by the
        // script's own cap and the parser's, which fails closed on more
        if continues(line) && !last {
            continue;
        }
        let a = cavra_shell::analyze(&chunk, opts);
        // keep accumulating while the parser waits for the end of a construct
        if a.problems.is_empty() || last || chunk.len() > 64 * 1024 {
            out.push((start, std::mem::take(&mut chunk)));
        }
    }
    if !chunk.is_empty() {
        out.push((start, chunk));
    }
    out
}

/// Whether `line` ends in a backslash that is not itself escaped: the shell (and make)
/// joins it with the next line.
fn continues(line: &str) -> bool {
    let n = line.bytes().rev().take_while(|b| *b == b'\\').count();
    n % 2 == 1
}

/// The recipe lines of the requested targets (default: the first target), with line numbers.
/// A recipe line ending in `\` is joined with the next as make does (both go to one shell).
pub fn make_recipes(text: &str, targets: &[String]) -> Vec<(usize, String)> {
    let mut rules: Vec<(String, Vec<(usize, String)>)> = Vec::new();
    let mut current: Option<usize> = None;
    // a recipe line continued with `\`: its rule, first line and text so far
    let mut open: Option<(usize, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some((r, first, mut cmd)) = open.take() {
            let part = line.strip_prefix('\t').unwrap_or(line);
            cmd.push('\n');
            cmd.push_str(part);
            if continues(part) {
                open = Some((r, first, cmd));
            } else if let Some(rule) = rules.get_mut(r) {
                rule.1.push((first, cmd.trim().to_string()));
            }
            continue;
        }
        if let Some(recipe) = line.strip_prefix('\t') {
            if let Some(r) = current {
                let cmd = recipe.trim_start_matches(['@', '-', '+']).trim();
                if continues(cmd) {
                    open = Some((r, i.saturating_add(1), cmd.to_string()));
                } else if !cmd.is_empty() {
                    if let Some(rule) = rules.get_mut(r) {
                        rule.1.push((i.saturating_add(1), cmd.to_string()));
                    }
                }
            }
            continue;
        }
        let t = line.trim_end();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match t.split_once(':') {
            Some((names, rest))
                if !names.contains('=')
                    && !rest.starts_with('=')
                    && !names.trim().starts_with('.') =>
            {
                let names: Vec<String> = names.split_whitespace().map(str::to_string).collect();
                let idx = rules.len();
                for n in names {
                    rules.push((n, Vec::new()));
                }
                current = Some(idx);
                // `target: ; cmd` inline recipes
                if let Some((_, inline)) = rest.split_once(';') {
                    if !inline.trim().is_empty() {
                        if let Some(rule) = rules.get_mut(idx) {
                            rule.1
                                .push((i.saturating_add(1), inline.trim().to_string()));
                        }
                    }
                }
            }
            _ => current = None,
        }
    }
    if let Some((r, first, cmd)) = open {
        if let Some(rule) = rules.get_mut(r) {
            rule.1.push((first, cmd.trim().to_string()));
        }
    }
    let wanted: Vec<&str> = if targets.is_empty() {
        rules
            .first()
            .map(|(n, _)| vec![n.as_str()])
            .unwrap_or_default()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    rules
        .iter()
        .filter(|(n, _)| wanted.contains(&n.as_str()))
        .flat_map(|(_, r)| r.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Request handling

/// Where the text of a script comes from.
pub(super) enum ScriptSource<'a> {
    /// The file as it is now.
    Reader(&'a dyn ScriptReader),
    /// Written by an earlier command of the same line, with this text.
    Text(String),
    /// Written by an earlier command of the same line; why its text is not known.
    Unknown(String),
}

/// The commands of a script a command runs (`label`), judged as if typed, file and line
/// named; a script that cannot be read is reported per the pack's `uninspected_script`.
pub(super) fn inspect(
    ev: &Eval<'_>,
    source: ScriptSource<'_>,
    sref: &ScriptRef,
    label: &str,
    c: &mut Collector,
) {
    let pack = ev.pack;
    if c.script_depth >= command::MAX_SCRIPT_DEPTH || c.scripts_seen.contains(&sref.path) {
        return;
    }
    c.scripts_seen.push(sref.path.clone());
    let not_inspected = |c: &mut Collector, why: String| {
        if pack.defaults.uninspected_script != Effect::Allow {
            c.push_builtin(
                "scripts.not_inspected",
                pack.defaults.uninspected_script,
                Severity::Medium,
                format!("script `{}` was not inspected: {why}", sref.written),
                Some(label.to_string()),
                Some(pack.defaults.approver_group.clone()),
            );
        }
    };
    let read = match source {
        ScriptSource::Reader(reader) => reader.read_script(&sref.path),
        ScriptSource::Text(t) => Ok(t),
        ScriptSource::Unknown(why) => {
            not_inspected(c, why);
            return;
        }
    };
    let text = match read {
        Ok(t) => t,
        Err(e) => {
            // an interpreter's missing file is its own error, not a hidden shell script
            if sref.kind != ScriptKind::MaybeShell {
                not_inspected(c, e);
            }
            return;
        }
    };
    let opts = command::shell_options(pack, ev.env);
    let chunks: Vec<(usize, String)> = match &sref.kind {
        ScriptKind::Shell => shell_chunks(&text, &opts),
        ScriptKind::MaybeShell => {
            if !is_shell_text(&text) {
                return;
            }
            shell_chunks(&text, &opts)
        }
        ScriptKind::Make(targets) => make_recipes(&text, targets),
    };
    c.script_depth = c.script_depth.saturating_add(1);
    for (line, chunk) in chunks {
        let via = format!("{label}, in script `{}` line {line}", sref.written);
        command::request(ev, &chunk, Some(&via), c);
    }
    c.script_depth = c.script_depth.saturating_sub(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_constructs_together() {
        let s = "#!/bin/sh\n# c\necho a\nif true; then\n  rm -rf ~\nfi\n\necho b\n";
        let c = shell_chunks(s, &Default::default());
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[1].0, 4);
        assert!(c[1].1.contains("rm -rf ~"));
        assert_eq!(c[2].0, 8);
    }

    #[test]
    fn make_recipes_by_target() {
        let m = "all: build\n\nbuild:\n\tcargo build\n\nclean:\n\t@rm -rf target\n\t-rm -rf ~/.cache/x\nX = 1\n";
        assert_eq!(make_recipes(m, &[]), vec![]);
        assert_eq!(
            make_recipes(m, &["build".into()]),
            vec![(4, "cargo build".to_string())]
        );
        let c = make_recipes(m, &["clean".into()]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1], (8, "rm -rf ~/.cache/x".to_string()));
    }

    /// A command continued over lines with `\` is one command, not a harmless `rm -rf`
    /// followed by a lone `/`; an escaped backslash (`\\`) does not continue.
    #[test]
    fn continued_lines_are_one_command() {
        let s = "#!/bin/sh\necho a\nrm -rf \\\n  / \\\n  --no-preserve-root\necho b \\\\\necho c\n";
        let c = shell_chunks(s, &Default::default());
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(c[1].0, 3);
        assert_eq!(c[1].1, "rm -rf \\\n  / \\\n  --no-preserve-root\n");
        assert_eq!(c[2].1, "echo b \\\\\n");
        let m = "clean:\n\trm -rf \\\n\t  $(HOME) \\\n\t  /\n\techo done\nlast:\n\tfind . \\\n";
        let c = make_recipes(m, &["clean".into()]);
        assert_eq!(
            c,
            vec![
                (2, "rm -rf \\\n  $(HOME) \\\n  /".to_string()),
                (5, "echo done".to_string())
            ]
        );
        assert_eq!(
            make_recipes(m, &["last".into()]),
            vec![(7, "find . \\".to_string())]
        );
        // a continued command longer than a chunk's usual cap is still one command
        let long = format!("rm -rf \\\n{}/\n", "  ./x \\\n".repeat(10_000));
        let c = shell_chunks(&long, &Default::default());
        assert_eq!(c.len(), 1, "{}", c.len());
    }

    #[test]
    fn shebangs() {
        assert!(is_shell_text("#!/bin/bash\nrm -rf /"));
        assert!(is_shell_text("#!/usr/bin/env sh\n"));
        assert!(!is_shell_text("#!/usr/bin/env python3\nimport os"));
        assert!(!is_shell_text("import os"));
    }
}
