//! Text-processing programs that run commands: GNU `sed` (`e COMMAND`, bare `e`, the `e`
//! flag of `s///`) and `awk` (`system(…)`, `print | "cmd"`, `print |& "cmd"`,
//! `"cmd" | getline`, `"cmd" |& getline`). A small scanner of each language finds the
//! commands; literal ones are parsed as nested shell code by the caller, the others are
//! reported as built at run time.
//!
//! Written for `clippy::arithmetic_side_effects` / `indexing_slicing`: all indexing is
//! `get()` and all index arithmetic saturating.

use crate::flatten::Field;

/// A command a `sed` or `awk` program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exec {
    /// A shell command line known from the program text (`e rm x`, `system("rm x")`).
    Shell(String),
    /// A command built from the input or from variables at run time (bare `e`, `s///e`,
    /// `system($0)`).
    Dynamic,
}

/// Upper bound on the commands reported for one program (the rest is the same risk).
const MAX_EXECS: usize = 64;

// ----------------------------------------------------------------------------------- sed

/// The inline scripts of a `sed` invocation (`-e S`, `--expression=S`, or the first operand),
/// or `None` when the program text is not on the command line (`-f FILE`) or `--sandbox`
/// forbids running commands.
pub(crate) fn sed_scripts(argv: &[Field]) -> Option<Vec<String>> {
    let mut scripts = Vec::new();
    let mut from_file = false;
    let mut operands: Vec<String> = Vec::new();
    let mut i = 1usize;
    let mut after_i = false;
    let mut only_operands = false;
    while let Some(f) = argv.get(i) {
        i = i.saturating_add(1);
        let v = f.value();
        if only_operands || !v.starts_with('-') || v == "-" {
            // BSD `sed -i '' SCRIPT FILE`: an empty suffix right after `-i`
            if !(after_i && v.is_empty()) {
                operands.push(v);
            }
            after_i = false;
            continue;
        }
        after_i = false;
        if v == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = v.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, x)) => (n, Some(x.to_string())),
                None => (long, None),
            };
            match name {
                "sandbox" => return None,
                "expression" => match val {
                    Some(x) => scripts.push(x),
                    None => {
                        scripts.push(argv.get(i).map(Field::value).unwrap_or_default());
                        i = i.saturating_add(1);
                    }
                },
                "file" => {
                    from_file = true;
                    if val.is_none() {
                        i = i.saturating_add(1);
                    }
                }
                "line-length" if val.is_none() => i = i.saturating_add(1),
                "in-place" => after_i = val.is_none(),
                _ => {}
            }
            continue;
        }
        // a getopt cluster: `-ne SCRIPT`, `-i.bak`, `-ie` (= suffix "e"), `-l 80`
        let body: Vec<char> = v.chars().skip(1).collect();
        let mut k = 0usize;
        while let Some(&c) = body.get(k) {
            let rest: String = body
                .get(k.saturating_add(1)..)
                .unwrap_or_default()
                .iter()
                .collect();
            match c {
                'e' | 'f' | 'l' => {
                    let val = if rest.is_empty() {
                        let x = argv.get(i).map(Field::value).unwrap_or_default();
                        i = i.saturating_add(1);
                        x
                    } else {
                        rest
                    };
                    match c {
                        'e' => scripts.push(val),
                        'f' => from_file = true,
                        _ => {}
                    }
                    break;
                }
                'i' => {
                    after_i = rest.is_empty();
                    break;
                }
                _ => {}
            }
            k = k.saturating_add(1);
        }
    }
    if scripts.is_empty() && !from_file {
        if let Some(first) = operands.into_iter().next() {
            scripts.push(first);
        }
    }
    Some(scripts)
}

/// The commands a sed script runs.
pub(crate) fn sed_exec(script: &str) -> Vec<Exec> {
    let c: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    let at = |i: usize| c.get(i).copied();
    // the rest of the line from `i` (GNU one-line text/file/command arguments)
    let line_from = |i: usize| -> (String, usize) {
        let mut j = i;
        let mut s = String::new();
        while let Some(ch) = at(j) {
            if ch == '\n' {
                break;
            }
            s.push(ch);
            j = j.saturating_add(1);
        }
        (s, j)
    };
    while i < c.len() && out.len() < MAX_EXECS {
        // separators and blanks
        while at(i).is_some_and(|ch| ch.is_whitespace() || ch == ';') {
            i = i.saturating_add(1);
        }
        let Some(ch) = at(i) else { break };
        if ch == '#' {
            i = line_from(i).1;
            continue;
        }
        // addresses
        let mut guard = 0u8;
        loop {
            guard = guard.saturating_add(1);
            if guard > 4 {
                break;
            }
            match at(i) {
                Some(d) if d.is_ascii_digit() || d == '$' || d == '+' || d == '~' => {
                    i = i.saturating_add(1);
                    while at(i).is_some_and(|x| x.is_ascii_digit()) {
                        i = i.saturating_add(1);
                    }
                    if at(i) == Some('~') {
                        continue;
                    }
                }
                Some('/') => i = skip_delimited(&c, i.saturating_add(1), '/'),
                Some('\\') => match at(i.saturating_add(1)) {
                    Some(d) => i = skip_delimited(&c, i.saturating_add(2), d),
                    None => break,
                },
                _ => break,
            }
            while at(i).is_some_and(|x| x == 'I' || x == 'M') {
                i = i.saturating_add(1);
            }
            while at(i).is_some_and(|x| x == ' ' || x == '\t') {
                i = i.saturating_add(1);
            }
            if at(i) == Some(',') {
                i = i.saturating_add(1);
                while at(i).is_some_and(|x| x == ' ' || x == '\t') {
                    i = i.saturating_add(1);
                }
                continue;
            }
            break;
        }
        while at(i).is_some_and(|x| x == '!' || x == ' ' || x == '\t') {
            i = i.saturating_add(1);
        }
        let Some(cmd) = at(i) else { break };
        i = i.saturating_add(1);
        match cmd {
            '{' | '}' | '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x'
            | 'z' | 'F' | 'l' | 'L' | 'q' | 'Q' => {
                while at(i).is_some_and(|x| x.is_ascii_digit() || x == ' ') {
                    i = i.saturating_add(1);
                }
            }
            'a' | 'i' | 'c' => {
                // text to the end of the line, `\` continues it
                loop {
                    let (text, j) = line_from(i);
                    i = j.saturating_add(1);
                    if !text.ends_with('\\') || i >= c.len() {
                        break;
                    }
                }
            }
            'r' | 'R' | 'w' | 'W' | ':' | 'b' | 't' | 'T' | 'v' => {
                // a file name or label: to the end of the line (labels also end at `;`)
                let stop_semi = matches!(cmd, 'b' | 't' | 'T' | 'v');
                while let Some(x) = at(i) {
                    if x == '\n' || (stop_semi && (x == ';' || x == '}')) {
                        break;
                    }
                    i = i.saturating_add(1);
                }
            }
            'e' => {
                let (text, j) = line_from(i);
                i = j;
                let t = text.trim();
                if t.is_empty() {
                    out.push(Exec::Dynamic);
                } else {
                    out.push(Exec::Shell(t.to_string()));
                }
            }
            's' | 'y' => {
                let Some(d) = at(i) else { break };
                if d == '\n' || d == '\\' {
                    break;
                }
                let after_re = skip_delimited(&c, i.saturating_add(1), d);
                let (repl, after_repl) = delimited_text(&c, after_re, d);
                i = after_repl;
                if cmd == 'y' {
                    continue;
                }
                let mut exec = false;
                while let Some(f) = at(i) {
                    match f {
                        'e' => exec = true,
                        'w' => {
                            i = line_from(i).1;
                            break;
                        }
                        'g' | 'p' | 'i' | 'I' | 'm' | 'M' | ' ' => {}
                        x if x.is_ascii_digit() => {}
                        _ => break,
                    }
                    i = i.saturating_add(1);
                }
                if exec {
                    // the pattern space after the substitution runs: the replacement is
                    // known, the rest of the line (and `&`, `\1`) comes from the input
                    out.push(Exec::Dynamic);
                    let t = repl.trim();
                    if !t.is_empty() {
                        out.push(Exec::Shell(t.to_string()));
                    }
                }
            }
            // not a sed command we know: stop (GNU sed rejects the script)
            _ => break,
        }
    }
    out
}

/// Index after the closing delimiter `d` of a sed regex starting at `i` (escapes skipped).
fn skip_delimited(c: &[char], i: usize, d: char) -> usize {
    delimited_text(c, i, d).1
}

/// The text up to the closing delimiter `d` (escapes undone, `&` and `\N` kept as the
/// placeholder `$SED_MATCH`), and the index after the delimiter.
fn delimited_text(c: &[char], mut i: usize, d: char) -> (String, usize) {
    let mut s = String::new();
    while let Some(&ch) = c.get(i) {
        if ch == '\\' {
            match c.get(i.saturating_add(1)) {
                Some('n') => s.push('\n'),
                Some(&x) if x.is_ascii_digit() => s.push_str("$SED_MATCH"),
                Some(&x) => s.push(x),
                None => {}
            }
            i = i.saturating_add(2);
            continue;
        }
        if ch == d {
            return (s, i.saturating_add(1));
        }
        if ch == '&' {
            s.push_str("$SED_MATCH");
        } else {
            s.push(ch);
        }
        i = i.saturating_add(1);
    }
    (s, i)
}

// ----------------------------------------------------------------------------------- awk

/// Is this program an awk?
pub(crate) fn is_awk(prog: &str) -> bool {
    matches!(
        prog,
        "awk" | "gawk" | "mawk" | "nawk" | "original-awk" | "bwk-awk"
    )
}

/// The inline program texts of an awk invocation (`awk [opts] 'PROG' files`, gawk
/// `-e`/`--source`), or `None` when `--sandbox`/`-S` forbids commands.
pub(crate) fn awk_programs(argv: &[Field]) -> Option<Vec<String>> {
    let mut progs = Vec::new();
    let mut from_file = false;
    let mut i = 1usize;
    while let Some(f) = argv.get(i) {
        let v = f.value();
        i = i.saturating_add(1);
        if v == "--" {
            break;
        }
        if !v.starts_with('-') || v == "-" {
            i = i.saturating_sub(1);
            break;
        }
        if let Some(long) = v.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, x)) => (n, Some(x.to_string())),
                None => (long, None),
            };
            let takes = matches!(
                name,
                "field-separator" | "assign" | "file" | "source" | "include" | "load" | "exec"
            );
            let value = match (&val, takes) {
                (Some(x), _) => Some(x.clone()),
                (None, true) => {
                    let x = argv.get(i).map(Field::value);
                    i = i.saturating_add(1);
                    x
                }
                (None, false) => None,
            };
            match name {
                "sandbox" => return None,
                "source" => progs.extend(value),
                "file" | "exec" => from_file = true,
                _ => {}
            }
            continue;
        }
        let Some(c) = v.chars().nth(1) else { continue };
        // options that take a value (attached or next)
        if matches!(c, 'F' | 'v' | 'f' | 'e' | 'i' | 'l' | 'E' | 'W') {
            let attached: String = v.chars().skip(2).collect();
            let value = if attached.is_empty() {
                let x = argv.get(i).map(Field::value).unwrap_or_default();
                i = i.saturating_add(1);
                x
            } else {
                attached
            };
            match c {
                'e' => progs.push(value),
                'f' | 'E' => from_file = true,
                'W' if value == "sandbox" => return None,
                _ => {}
            }
            continue;
        }
        if c == 'S' {
            return None;
        }
    }
    if progs.is_empty() && !from_file {
        if let Some(p) = argv.get(i) {
            progs.push(p.value());
        }
    }
    Some(progs)
}

#[derive(Debug, Clone, PartialEq)]
enum A {
    Id(String),
    Str(String),
    /// `|` or `|&` (not `||`)
    Pipe,
    P(char),
    /// a number, a regex literal or anything else that is an operand
    Operand,
}

fn awk_lex(code: &str) -> Vec<A> {
    let c: Vec<char> = code.chars().collect();
    let mut out: Vec<A> = Vec::new();
    let mut i = 0usize;
    while let Some(&ch) = c.get(i) {
        if out.len() > 100_000 {
            break;
        }
        let next = c.get(i.saturating_add(1)).copied();
        if ch.is_whitespace() || ch == '\\' {
            if ch == '\n' {
                out.push(A::P(';'));
            }
            i = i.saturating_add(1);
            continue;
        }
        if ch == '#' {
            while c.get(i).is_some_and(|&x| x != '\n') {
                i = i.saturating_add(1);
            }
            continue;
        }
        if ch == '"' {
            let mut s = String::new();
            i = i.saturating_add(1);
            while let Some(&x) = c.get(i) {
                if x == '"' {
                    break;
                }
                if x == '\\' {
                    match c.get(i.saturating_add(1)) {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(&y) => s.push(y),
                        None => {}
                    }
                    i = i.saturating_add(2);
                    continue;
                }
                s.push(x);
                i = i.saturating_add(1);
            }
            i = i.saturating_add(1);
            out.push(A::Str(s));
            continue;
        }
        if ch == '/' {
            let operand_before = matches!(
                out.last(),
                Some(A::Id(_) | A::Str(_) | A::Operand | A::P(')') | A::P(']') | A::P('$'))
            );
            if !operand_before {
                // a regex literal: skip to the closing `/` (escapes and brackets kept)
                i = i.saturating_add(1);
                let mut bracket = false;
                while let Some(&x) = c.get(i) {
                    if x == '\\' {
                        i = i.saturating_add(2);
                        continue;
                    }
                    if x == '[' {
                        bracket = true;
                    } else if x == ']' {
                        bracket = false;
                    } else if (x == '/' && !bracket) || x == '\n' {
                        break;
                    }
                    i = i.saturating_add(1);
                }
                i = i.saturating_add(1);
                out.push(A::Operand);
                continue;
            }
        }
        if ch == '|' {
            if next == Some('|') {
                out.push(A::P('&'));
                i = i.saturating_add(2);
                continue;
            }
            out.push(A::Pipe);
            i = i.saturating_add(if next == Some('&') { 2 } else { 1 });
            continue;
        }
        if ch.is_alphabetic() || ch == '_' {
            let mut s = String::new();
            while let Some(&x) = c.get(i) {
                if !(x.is_alphanumeric() || x == '_') {
                    break;
                }
                s.push(x);
                i = i.saturating_add(1);
            }
            out.push(A::Id(s));
            continue;
        }
        if ch.is_ascii_digit() || ch == '.' {
            while c
                .get(i)
                .is_some_and(|x| x.is_ascii_alphanumeric() || *x == '.')
            {
                i = i.saturating_add(1);
            }
            out.push(A::Operand);
            continue;
        }
        // `==`, `!=`, `<=`, `>=` are one comparison, not an assignment
        if matches!(ch, '=' | '!' | '<' | '>') && next == Some('=') {
            out.push(A::P('~'));
            i = i.saturating_add(2);
            continue;
        }
        out.push(A::P(ch));
        i = i.saturating_add(1);
    }
    out
}

/// The commands an awk program runs.
pub(crate) fn awk_exec(code: &str) -> Vec<Exec> {
    let t = awk_lex(code);
    let mut out = Vec::new();
    // `NAME = "literal" ...` assignments (a variable assigned once, to literals only)
    let literal_var = |name: &str| -> Option<String> {
        let mut found: Option<String> = None;
        for (k, tok) in t.iter().enumerate() {
            if *tok != A::Id(name.to_string()) || t.get(k.saturating_add(1)) != Some(&A::P('=')) {
                continue;
            }
            let strs = strings_from(&t, k.saturating_add(2));
            let end = k.saturating_add(2).saturating_add(strs.len());
            let terminated = matches!(t.get(end), None | Some(A::P(';' | '}')));
            if strs.is_empty() || !terminated || found.is_some() {
                return None;
            }
            found = Some(strs.concat());
        }
        found
    };
    let push = |e: Exec, out: &mut Vec<Exec>| {
        if out.len() < MAX_EXECS && !out.contains(&e) {
            out.push(e);
        }
    };
    for (k, tok) in t.iter().enumerate() {
        match tok {
            A::Id(name) if name == "system" && t.get(k.saturating_add(1)) == Some(&A::P('(')) => {
                let start = k.saturating_add(2);
                let strs = strings_from(&t, start);
                let end = start.saturating_add(strs.len());
                if !strs.is_empty() && t.get(end) == Some(&A::P(')')) {
                    push(Exec::Shell(strs.concat()), &mut out);
                } else if let (Some(A::Id(v)), Some(A::P(')'))) =
                    (t.get(start), t.get(start.saturating_add(1)))
                {
                    match literal_var(v) {
                        Some(s) => push(Exec::Shell(s), &mut out),
                        None => push(Exec::Dynamic, &mut out),
                    }
                } else {
                    push(Exec::Dynamic, &mut out);
                    if !strs.is_empty() {
                        push(Exec::Shell(strs.concat()), &mut out);
                    }
                }
            }
            A::Pipe => {
                if t.get(k.saturating_add(1)) == Some(&A::Id("getline".into())) {
                    // `"cmd" | getline`: the expression before
                    let mut strs = Vec::new();
                    let mut j = k;
                    while let Some(A::Str(s)) = j.checked_sub(1).and_then(|p| t.get(p)) {
                        strs.push(s.clone());
                        j = j.saturating_sub(1);
                    }
                    strs.reverse();
                    let before = j.checked_sub(1).and_then(|p| t.get(p));
                    let clean_start = matches!(
                        before,
                        None | Some(A::P(';' | '{' | '}' | '(' | '&' | '=' | ',' | '~'))
                    );
                    if !strs.is_empty() && clean_start {
                        push(Exec::Shell(strs.concat()), &mut out);
                    } else if let (true, Some(A::Id(v))) = (strs.is_empty(), before) {
                        let var_start = j.checked_sub(2).and_then(|p| t.get(p));
                        let lone = matches!(
                            var_start,
                            None | Some(A::P(';' | '{' | '}' | '(' | '&' | '=' | ',' | '~'))
                        );
                        match literal_var(v).filter(|_| lone) {
                            Some(s) => push(Exec::Shell(s), &mut out),
                            None => push(Exec::Dynamic, &mut out),
                        }
                    } else {
                        push(Exec::Dynamic, &mut out);
                        if !strs.is_empty() {
                            push(Exec::Shell(strs.concat()), &mut out);
                        }
                    }
                } else {
                    // `print … | "cmd"`: the expression after
                    let start = k.saturating_add(1);
                    let strs = strings_from(&t, start);
                    let end = start.saturating_add(strs.len());
                    let clean_end = matches!(t.get(end), None | Some(A::P(';' | '}' | ')')));
                    if !strs.is_empty() && clean_end {
                        push(Exec::Shell(strs.concat()), &mut out);
                    } else if let (Some(A::Id(v)), true) = (
                        t.get(start),
                        matches!(
                            t.get(start.saturating_add(1)),
                            None | Some(A::P(';' | '}' | ')'))
                        ),
                    ) {
                        match literal_var(v) {
                            Some(s) => push(Exec::Shell(s), &mut out),
                            None => push(Exec::Dynamic, &mut out),
                        }
                    } else {
                        push(Exec::Dynamic, &mut out);
                        if !strs.is_empty() {
                            push(Exec::Shell(strs.concat()), &mut out);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Consecutive string literals from `start` (awk concatenates adjacent strings).
fn strings_from(t: &[A], start: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut j = start;
    while let Some(A::Str(s)) = t.get(j) {
        out.push(s.clone());
        j = j.saturating_add(1);
    }
    out
}

// ----------------------------------------------------------------------------- expect / Tcl

/// Whether `prog` runs Tcl: `expect` (whose `spawn` gives a command a terminal of its own),
/// `tclsh`, `wish`, with or without a version suffix.
pub(crate) fn is_tcl(prog: &str) -> bool {
    let p = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    matches!(p, "expect" | "expectk" | "tclsh" | "wish")
}

/// The inline scripts of an `expect` invocation: every `-c SCRIPT` (`-cSCRIPT`).
pub(crate) fn tcl_scripts(argv: &[Field]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 1usize;
    while let Some(f) = argv.get(i) {
        i = i.saturating_add(1);
        let v = f.value();
        if v == "--" || !v.starts_with('-') {
            break;
        }
        if v == "-c" {
            if let Some(s) = argv.get(i) {
                out.push(s.value());
                i = i.saturating_add(1);
            }
        } else if let Some(s) = v.strip_prefix("-c") {
            out.push(s.to_string());
        } else if matches!(v.as_str(), "-D" | "-f") {
            i = i.saturating_add(1);
        }
    }
    out
}

/// One Tcl word: its text after substitution of backslash escapes, whether it holds a
/// variable or command substitution (`$x`, `[cmd]`).
#[derive(Debug, Clone)]
struct TclWord {
    text: String,
    dynamic: bool,
}

/// The commands a Tcl/expect script runs: `spawn …`, `exec …`, `system …`, `open "|…"`, and
/// the lines `send` types (into the spawned program, often a shell) — found at any depth
/// (braced bodies of `if`, `proc`, `expect { … }`, and `[…]` substitutions are scanned too).
pub(crate) fn tcl_exec(script: &str) -> Vec<Exec> {
    let chars: Vec<char> = script.chars().collect();
    let mut cmds = Vec::new();
    tcl_scan(&chars, 0, &mut cmds);
    let mut out = Vec::new();
    for words in &cmds {
        tcl_command(words, &mut out);
        if out.len() >= MAX_EXECS {
            break;
        }
    }
    out.truncate(MAX_EXECS);
    out
}

fn tcl_command(words: &[TclWord], out: &mut Vec<Exec>) {
    let Some(first) = words.first() else {
        return;
    };
    let rest = words.get(1..).unwrap_or_default();
    let skip_opts = |with_arg: &[&str]| {
        let mut k = 0usize;
        while let Some(w) = rest.get(k) {
            if w.text == "--" {
                return k.saturating_add(1);
            }
            if !w.text.starts_with('-') || w.dynamic {
                break;
            }
            k = k.saturating_add(if with_arg.contains(&w.text.as_str()) {
                2
            } else {
                1
            });
        }
        k
    };
    let argv = match first.text.as_str() {
        "spawn" | "exp_spawn" => rest.get(skip_opts(&["-ignore", "-open"])..),
        "exec" => rest.get(skip_opts(&[])..),
        "system" | "exp_system" => {
            if rest.iter().any(|w| w.dynamic) {
                out.push(Exec::Dynamic);
            } else if !rest.is_empty() {
                let text: Vec<&str> = rest.iter().map(|w| w.text.as_str()).collect();
                out.push(Exec::Shell(text.join(" ")));
            }
            return;
        }
        "open" => {
            if let Some(cmd) = rest.first().and_then(|w| w.text.strip_prefix('|')) {
                let w = rest.first().is_some_and(|w| w.dynamic);
                out.push(if w {
                    Exec::Dynamic
                } else {
                    Exec::Shell(cmd.to_string())
                });
            }
            return;
        }
        "send" | "exp_send" => {
            let k = skip_opts(&["-i"]);
            if let Some(w) = rest.get(k).filter(|w| !w.dynamic) {
                for line in w.text.split(['\r', '\n']).filter(|l| !l.trim().is_empty()) {
                    out.push(Exec::Shell(line.to_string()));
                }
            }
            return;
        }
        _ => return,
    };
    let argv = argv.unwrap_or_default();
    if argv.is_empty() {
        return;
    }
    if argv.iter().any(|w| w.dynamic) {
        out.push(Exec::Dynamic);
        return;
    }
    let ops = [
        "|", "|&", "<", "<<", ">", ">>", "2>", "2>>", ">&", "2>@1", "&",
    ];
    let line: Vec<String> = argv
        .iter()
        .map(|w| {
            if ops.contains(&w.text.as_str()) {
                w.text.clone()
            } else {
                let mut q = String::new();
                crate::render::quote_lit(&w.text, &mut q);
                q
            }
        })
        .collect();
    out.push(Exec::Shell(line.join(" ")));
}

/// Splits `s` into commands of words; braced words and `[…]` substitutions are scanned as
/// scripts of their own (to depth 8, at most `MAX_EXECS * 8` commands).
fn tcl_scan(s: &[char], depth: usize, cmds: &mut Vec<Vec<TclWord>>) {
    let cap = MAX_EXECS.saturating_mul(8);
    if depth > 8 || cmds.len() >= cap {
        return;
    }
    let mut cur: Vec<TclWord> = Vec::new();
    let mut nested: Vec<Vec<char>> = Vec::new();
    let mut i = 0usize;
    let at = |k: usize| s.get(k).copied();
    while let Some(c) = at(i) {
        match c {
            '\n' | ';' => {
                flush(&mut cur, cmds);
                i = i.saturating_add(1);
            }
            ' ' | '\t' | '\r' => i = i.saturating_add(1),
            '\\' if at(i.saturating_add(1)) == Some('\n') => i = i.saturating_add(2),
            '#' if cur.is_empty() => {
                while at(i).is_some_and(|c| c != '\n') {
                    i = i.saturating_add(1);
                }
            }
            '{' => {
                let end = matching(s, i, '{', '}');
                let body: Vec<char> = s.get(i.saturating_add(1)..end).unwrap_or_default().to_vec();
                cur.push(TclWord {
                    text: body.iter().collect(),
                    dynamic: false,
                });
                nested.push(body);
                i = end.saturating_add(1);
            }
            _ => {
                let quoted = c == '"';
                if quoted {
                    i = i.saturating_add(1);
                }
                let mut w = TclWord {
                    text: String::new(),
                    dynamic: false,
                };
                while let Some(c) = at(i) {
                    if quoted && c == '"' {
                        i = i.saturating_add(1);
                        break;
                    }
                    if !quoted && (c.is_whitespace() || c == ';') {
                        break;
                    }
                    match c {
                        '\\' => {
                            let e = at(i.saturating_add(1));
                            w.text.push(match e {
                                Some('r') => '\r',
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some(x) => x,
                                None => '\\',
                            });
                            i = i.saturating_add(2);
                        }
                        '[' => {
                            let end = matching(s, i, '[', ']');
                            let inner = s.get(i.saturating_add(1)..end).unwrap_or_default();
                            nested.push(inner.to_vec());
                            w.dynamic = true;
                            i = end.saturating_add(1);
                        }
                        '$' => {
                            w.dynamic = true;
                            w.text.push(c);
                            i = i.saturating_add(1);
                        }
                        _ => {
                            w.text.push(c);
                            i = i.saturating_add(1);
                        }
                    }
                }
                cur.push(w);
            }
        }
    }
    flush(&mut cur, cmds);
    for body in nested {
        tcl_scan(&body, depth.saturating_add(1), cmds);
    }
}

fn flush(cur: &mut Vec<TclWord>, cmds: &mut Vec<Vec<TclWord>>) {
    if !cur.is_empty() {
        cmds.push(std::mem::take(cur));
    }
}

/// The index of the bracket closing the one at `open` (or the end of `s`), counting nesting
/// and skipping backslash escapes.
fn matching(s: &[char], open: usize, o: char, c: char) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&x) = s.get(i) {
        if x == '\\' {
            i = i.saturating_add(2);
            continue;
        }
        if x == o {
            depth = depth.saturating_add(1);
        } else if x == c {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return i;
            }
        }
        i = i.saturating_add(1);
    }
    s.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn sh(s: &str) -> Exec {
        Exec::Shell(s.to_string())
    }

    #[test]
    fn sed_scripts_that_run_commands() {
        assert_eq!(sed_exec("e rm -rf ~"), vec![sh("rm -rf ~")]);
        assert_eq!(sed_exec("1e rm -rf ~"), vec![sh("rm -rf ~")]);
        assert_eq!(sed_exec("/x/e touch y"), vec![sh("touch y")]);
        assert_eq!(sed_exec("1,$!e date"), vec![sh("date")]);
        assert_eq!(sed_exec("e"), vec![Exec::Dynamic]);
        assert_eq!(sed_exec("p;e"), vec![Exec::Dynamic]);
        assert_eq!(
            sed_exec("s/.*/rm -rf ~/e"),
            vec![Exec::Dynamic, sh("rm -rf ~")]
        );
        assert_eq!(
            sed_exec("s|x|curl u \\| sh|ge"),
            vec![Exec::Dynamic, sh("curl u | sh")]
        );
        assert_eq!(sed_exec("s/^/echo /e"), vec![Exec::Dynamic, sh("echo")]);
        assert_eq!(sed_exec("{\ne id\n}"), vec![sh("id")]);
    }

    #[test]
    fn sed_scripts_that_do_not() {
        for s in [
            "s/a/b/",
            "s/e/E/g",
            "/e/p",
            "/e/d",
            "s/x/y/w out.txt",
            "y/abc/xyz/",
            "1i\\\nexec me",
            "a e not a command",
            "$a\\",
            "s/a/b/;s/c/d/",
            ":e\nbe",
            "\\%e%d",
            "1~2d",
            "r e.txt",
            "s/e\\/e/x/",
            "#e comment\np",
        ] {
            assert_eq!(sed_exec(s), vec![], "{s:?}");
        }
    }

    fn fields(v: &[&str]) -> Vec<Field> {
        v.iter().map(|s| Field::synth(s)).collect()
    }

    #[test]
    fn tcl_scripts_that_run_commands() {
        assert_eq!(
            tcl_exec("spawn cavra tokens issue --role admin; expect \"yes\"; send \"y\\r\""),
            vec![sh("cavra tokens issue --role admin"), sh("y")]
        );
        assert_eq!(tcl_exec("spawn -noecho rm -rf ~"), vec![sh("rm -rf '~'")]);
        assert_eq!(
            tcl_exec("if {1} {\n  exec rm -rf /tmp/x | cat\n}"),
            vec![sh("rm -rf /tmp/x | cat")]
        );
        assert_eq!(
            tcl_exec("set x [exec git push --force]"),
            vec![sh("git push --force")]
        );
        assert_eq!(
            tcl_exec("spawn bash\nsend \"cavra approvals approve a1\\r\""),
            vec![sh("bash"), sh("cavra approvals approve a1")]
        );
        assert_eq!(tcl_exec("spawn $prog"), vec![Exec::Dynamic]);
        assert_eq!(tcl_exec("system rm -rf build"), vec![sh("rm -rf build")]);
        assert_eq!(tcl_exec("set f [open \"|curl x\" r]"), vec![sh("curl x")]);
        assert_eq!(
            tcl_exec("proc p {} { spawn sh -c {cat .env} }"),
            vec![sh("sh -c 'cat .env'")]
        );
    }

    #[test]
    fn tcl_scripts_that_do_not() {
        for s in [
            "puts hello",
            "set timeout 10; expect \"password:\"",
            "# spawn rm -rf /\nputs x",
            "send_user \"rm -rf /\"",
            "send $password",
            "",
            "{",
            "[[[",
            "\"unterminated",
        ] {
            assert_eq!(tcl_exec(s), vec![], "{s:?}");
        }
        assert!(is_tcl("expect") && is_tcl("tclsh8.6") && !is_tcl("expected"));
        let argv = fields(&[
            "expect", "-d", "-c", "spawn ls", "-cputs x", "file.exp", "-c", "no",
        ]);
        assert_eq!(tcl_scripts(&argv), vec!["spawn ls", "puts x"]);
    }

    #[test]
    fn sed_script_arguments() {
        let s = |v: &[&str]| sed_scripts(&fields(v));
        assert_eq!(s(&["sed", "-n", "e id", "f"]), Some(vec!["e id".into()]));
        assert_eq!(s(&["sed", "-ne", "e id", "f"]), Some(vec!["e id".into()]));
        assert_eq!(
            s(&["sed", "-e", "p", "--expression=e id"]),
            Some(vec!["p".into(), "e id".into()])
        );
        // `-ie` is in-place with the suffix `e`; the script is the next operand
        assert_eq!(
            s(&["sed", "-ie", "s/a/b/", "f"]),
            Some(vec!["s/a/b/".into()])
        );
        assert_eq!(
            s(&["sed", "-i", "", "e id", "f"]),
            Some(vec!["e id".into()])
        );
        assert_eq!(s(&["sed", "-f", "x.sed", "f"]), Some(vec![]));
        assert_eq!(s(&["sed", "--sandbox", "e id"]), None);
    }

    #[test]
    fn awk_programs_that_run_commands() {
        assert_eq!(
            awk_exec(r#"BEGIN{system("rm -rf ~")}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(
            awk_exec(r#"BEGIN{system("rm " "-rf ~")}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(awk_exec(r#"{system($0)}"#), vec![Exec::Dynamic]);
        assert_eq!(
            awk_exec(r#"{system("rm -rf " $1)}"#),
            vec![Exec::Dynamic, sh("rm -rf ")]
        );
        assert_eq!(awk_exec(r#"{print | "sh"}"#), vec![sh("sh")]);
        assert_eq!(
            awk_exec(r#"BEGIN{print "x" | "rm -rf ~"}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(
            awk_exec(r#"BEGIN{print |& "rm -rf ~"}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(
            awk_exec(r#"BEGIN{"rm -rf ~" | getline x}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(
            awk_exec(r#"BEGIN{"rm -rf ~" |& getline}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(
            awk_exec(r#"BEGIN{c="rm -rf ~"; c | getline; close(c)}"#),
            vec![sh("rm -rf ~")]
        );
        assert_eq!(awk_exec(r#"{$0 | getline}"#), vec![Exec::Dynamic]);
        assert_eq!(
            awk_exec(r#"{print > "/dev/stderr" ; print | $2}"#),
            vec![Exec::Dynamic]
        );
    }

    #[test]
    fn awk_programs_that_do_not() {
        for p in [
            "{print $1}",
            "-F: '{print $1}'",
            "/a|b/ {print}",
            "{ if (a || b) print }",
            "{ n = $1 / 2; print n }",
            r#"{ print "a|b" }"#,
            r#"{ s = "system(x)" }"#,
            "BEGIN { FS = \",\" } { sum += $3 } END { print sum }",
            "$1 ~ /x|y/",
            "# system(\"rm -rf ~\")\n{print}",
        ] {
            assert_eq!(awk_exec(p), vec![], "{p:?}");
        }
    }

    #[test]
    fn awk_program_arguments() {
        let p = |v: &[&str]| awk_programs(&fields(v));
        assert_eq!(
            p(&["awk", "-F:", "{print}", "f"]),
            Some(vec!["{print}".into()])
        );
        assert_eq!(
            p(&["awk", "-F", ":", "-v", "x=1", "{print}"]),
            Some(vec!["{print}".into()])
        );
        assert_eq!(p(&["awk", "-f", "x.awk", "f"]), Some(vec![]));
        assert_eq!(
            p(&["gawk", "-e", "BEGIN{}", "--source={print}"]),
            Some(vec!["BEGIN{}".into(), "{print}".into()])
        );
        assert_eq!(p(&["gawk", "--sandbox", "{print}"]), None);
        assert_eq!(p(&["awk", "--", "{print}"]), Some(vec!["{print}".into()]));
    }
}
