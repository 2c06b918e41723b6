//! Shell code in strings and streams: `bash -c`, a script read from stdin (piped text,
//! heredocs, herestrings) or from `<(…)`, `su -c` and its relatives, `ssh HOST CMD`,
//! `watch CMD`, and the commands a `sed`/`awk` program runs. Each is parsed as a nested
//! shell (bounded by `max_nesting` and the analysis budget).

use super::field::strip_prefix_field;
use super::state::State;
use super::wrappers::flock_code;
use super::{basename, skip_opts, where_of, Ctx, Field, Fl, Io, Src, POSIX_SHELLS, SHELLS};
use crate::{Cwd, Stdin};

/// The language of code a program reads from its standard input.
#[derive(Clone, Copy)]
pub(super) enum Lang {
    Shell,
    Code(crate::oneliners::Lang),
}

/// How a shell invocation gets its code (`bash [opts] [-c CODE | -s | FILE] ...`).
struct ShellArgs {
    /// Index of the first operand.
    operand: usize,
    /// `-c` (or `--command`) is present.
    has_c: bool,
    /// `-s`: commands come from stdin even with operands.
    read_stdin: bool,
    /// The `-c` code.
    code: Option<Field>,
}

fn shell_args(argv: &[Field]) -> ShellArgs {
    let mut i = 1;
    let mut has_c = false;
    let mut read_stdin = false;
    let mut code: Option<Field> = None;
    while i < argv.len() {
        let Some(v) = argv.get(i).and_then(|f| f.static_str()) else {
            break;
        };
        if v == "--" || v == "-" {
            i = i.saturating_add(1);
            break;
        }
        if v.starts_with("--command=") {
            let mut f = argv.get(i).cloned().unwrap_or_default();
            strip_prefix_field(&mut f, "--command=".len());
            code = Some(f);
            break;
        }
        if v == "--command" {
            has_c = true;
            i = i.saturating_add(1);
            continue;
        }
        if v.starts_with("--") {
            i = i.saturating_add(if matches!(v.as_ref(), "--rcfile" | "--init-file") {
                2
            } else {
                1
            });
            continue;
        }
        if (v.starts_with('-') || v.starts_with('+'))
            && v.len() > 1
            && v[1..].bytes().all(|c| c.is_ascii_alphabetic())
        {
            let mut skip: usize = 1;
            for c in v[1..].chars() {
                match c {
                    'c' => has_c = true,
                    's' => read_stdin = true,
                    'o' | 'O' => skip = skip.saturating_add(1),
                    _ => {}
                }
            }
            i = i.saturating_add(skip);
            continue;
        }
        break;
    }
    if code.is_none() && has_c {
        code = argv.get(i).cloned();
    }
    ShellArgs {
        operand: i,
        has_c,
        read_stdin,
        code,
    }
}

/// The code of `su -c CODE`, `runuser ... -c CODE`, `script -c CODE`, `flock FILE -c CODE`,
/// `sg GROUP CODE` (also `--command=CODE`, `--session-command`, and `-c` in a cluster).
fn user_shell_code(prog: &str, argv: &[Field]) -> Option<Field> {
    // short options that take a value (so `-sc` is `-s c`, not `-c`)
    let with_value = match prog {
        "su" => "sgGw",
        "runuser" => "ugGsw",
        "script" => "EoIOBTm",
        "flock" => "wE",
        _ => "",
    };
    let mut code = None;
    let mut i = 1;
    while i < argv.len() {
        let v = argv.get(i).and_then(|f| f.static_str());
        match v.as_deref() {
            Some("-c") | Some("--command") | Some("--session-command") => {
                code = argv.get(i.saturating_add(1)).cloned();
                break;
            }
            Some(s) if s.starts_with("--command=") => {
                let mut f = argv.get(i).cloned().unwrap_or_else(|| Field::synth(""));
                strip_prefix_field(&mut f, "--command=".len());
                code = Some(f);
                break;
            }
            Some(s) if s.starts_with("--session-command=") => {
                let mut f = argv.get(i).cloned().unwrap_or_else(|| Field::synth(""));
                strip_prefix_field(&mut f, "--session-command=".len());
                code = Some(f);
                break;
            }
            // clusters: `script -qc CMD`, `su -lc CMD`, `su -cCMD`
            Some(s) if s.len() > 2 && s.starts_with('-') && !s.starts_with("--") => {
                match short_opt_value(s, 'c', with_value) {
                    ShortOpt::Attached(n) => {
                        let mut f = argv.get(i).cloned().unwrap_or_else(|| Field::synth(""));
                        strip_prefix_field(&mut f, n);
                        code = Some(f);
                        break;
                    }
                    ShortOpt::Next => {
                        code = argv.get(i.saturating_add(1)).cloned();
                        break;
                    }
                    ShortOpt::Absent => {}
                }
            }
            _ => {}
        }
        i = i.saturating_add(1);
    }
    if prog == "flock" {
        code = flock_code(argv).and_then(|k| argv.get(k).cloned());
    }
    if prog == "sg" && code.is_none() && argv.len() >= 3 {
        code = Some(argv.get(2).cloned().unwrap_or_default());
    }
    code
}

/// Where the value of short option `want` is in a getopt cluster such as `-qc`.
enum ShortOpt {
    /// Not in the cluster (or hidden behind an option that takes the rest as its value).
    Absent,
    /// The value is the next argument (`-qc CMD`).
    Next,
    /// The value is attached: it starts at this byte offset (`-cCMD` → 2).
    Attached(usize),
}

fn short_opt_value(arg: &str, want: char, with_value: &str) -> ShortOpt {
    let Some(body) = arg.strip_prefix('-') else {
        return ShortOpt::Absent;
    };
    if !body.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return ShortOpt::Absent;
    }
    for (j, c) in body.char_indices() {
        let end = j.saturating_add(c.len_utf8());
        if c == want {
            return if end >= body.len() {
                ShortOpt::Next
            } else {
                ShortOpt::Attached(end.saturating_add(1))
            };
        }
        if with_value.contains(c) || !c.is_ascii_alphabetic() {
            return ShortOpt::Absent;
        }
    }
    ShortOpt::Absent
}

impl Fl<'_> {
    /// A shell (`bash`, `sh`, an `extra_shells` name): its `-c` code, the script on its
    /// stdin, or a script from `<(…)`.
    pub(super) fn shell(&mut self, ctx: &Ctx, src: &mut Src) {
        let args = shell_args(ctx.argv);
        // the code this shell runs follows its own grammar
        self.posix_next = Some(POSIX_SHELLS.contains(&ctx.prog));
        self.shell_code(ctx, args, src);
        self.posix_next = None;
    }

    fn shell_code(&mut self, ctx: &Ctx, args: ShellArgs, src: &mut Src) {
        let (prog, argv, i) = (ctx.prog, ctx.argv, args.operand);
        if let Some(c) = args.code {
            let prefix = format!("in `{prog} -c` argument, ");
            self.nested_fields(ctx, std::slice::from_ref(&c), &prefix, src);
        } else if !args.has_c && (i >= argv.len() || args.read_stdin) {
            self.stdin_code(ctx, src, Lang::Shell);
        } else if let Some(f) = argv.get(i).filter(|f| f.is_dynamic()) {
            if let Some(text) = self.literal_substitution(f) {
                // `bash <(echo 'ls')`: the script is literal text
                let how = format!("in process substitution fed to `{prog}`, ");
                self.nested(ctx, &text, &how, src, None);
            } else if let Some(inv) = self.out.get_mut(ctx.idx) {
                // `bash <(curl ...)`: the script is only known at run time
                inv.dynamic_exec = Some(f.producers.clone());
            }
        }
    }

    /// `su`, `runuser`, `script`, `flock`, `sg`: the code they hand to a shell.
    pub(super) fn user_shell(&mut self, ctx: &Ctx, src: &mut Src) {
        if let Some(c) = user_shell_code(ctx.prog, ctx.argv) {
            let prefix = format!("in `{} -c` argument, ", ctx.prog);
            self.nested_fields(ctx, std::slice::from_ref(&c), &prefix, src);
        }
    }

    /// `ssh [opts] HOST CMD...`: the remote command, in an unknown directory, with the
    /// local stdin (redirections belong to the local command).
    pub(super) fn ssh(&mut self, ctx: &Ctx, src: &mut Src) {
        let argv = ctx.argv;
        let mut i = 1;
        while i < argv.len() {
            let Some(v) = argv.get(i).and_then(|f| f.static_str()) else {
                break;
            };
            if v == "--" {
                i = i.saturating_add(1);
                break;
            }
            if v.starts_with('-') && v.len() > 1 {
                let last = v.chars().last().unwrap_or('-');
                let takes = v.len() == 2 && "BbcDEeFIiJLlmOoPpQRSWw".contains(last);
                i = i.saturating_add(if takes { 2 } else { 1 });
                continue;
            }
            break;
        }
        // argv[i] is the host
        if i.saturating_add(1) < argv.len() {
            let io = Io {
                stdin: ctx.io.stdin.clone(),
                stdin_dyn: ctx.io.stdin_dyn.clone(),
                ..Io::default()
            };
            let remote = Ctx {
                io: &io,
                cwd: &Cwd::Unknown,
                ..*ctx
            };
            let cmd = argv.get(i.saturating_add(1)..).unwrap_or_default();
            self.nested_fields(&remote, cmd, "in `ssh` remote command, ", src);
        }
    }

    /// `watch [opts] CMD...`: the command line it runs.
    pub(super) fn watch(&mut self, ctx: &Ctx, src: &mut Src) {
        let argv = ctx.argv;
        let i = skip_opts(
            argv,
            1,
            &|o| matches!(o, "-n" | "--interval" | "-q" | "--equexit"),
            &|_| false,
        );
        if let Some(i) = i.filter(|&i| i < argv.len()) {
            let cmd = argv.get(i..).unwrap_or_default();
            self.nested_fields(ctx, cmd, "in `watch` command, ", src);
        }
    }

    /// Commands run by a `sed`/`awk` program: literal ones parsed as nested shell code;
    /// one built at run time (or a shell/interpreter fed the program's output) makes the
    /// invocation `dynamic_exec` (its producers: the program's stdin pipe, if any).
    pub(super) fn text_exec(
        &mut self,
        ctx: &Ctx,
        prefix: &str,
        execs: Vec<crate::textexec::Exec>,
        src: &mut Src,
    ) {
        let io = ctx.io;
        let mut dynamic = false;
        for e in execs {
            if self.stopped {
                return;
            }
            match e {
                crate::textexec::Exec::Dynamic => dynamic = true,
                crate::textexec::Exec::Shell(text) => {
                    // `print | "sh"`: the shell runs what the program prints
                    let first = text.split_whitespace().next().map(basename);
                    if first.as_deref().is_some_and(|p| {
                        SHELLS.contains(&p) || crate::oneliners::lang_of(p).is_some()
                    }) && text.split_whitespace().nth(1).is_none()
                    {
                        dynamic = true;
                    }
                    let io2 = Io {
                        stdin: Stdin::Inherit,
                        stdin_dyn: None,
                        redirects: Vec::new(),
                        background: io.background,
                    };
                    let inner = Ctx { io: &io2, ..*ctx };
                    self.nested(&inner, &text, prefix, src, None);
                }
            }
        }
        if dynamic {
            let producers = match io.stdin {
                Stdin::Pipe { from } => vec![from],
                _ => Vec::new(),
            };
            if let Some(inv) = self.out.get_mut(ctx.idx) {
                if inv.dynamic_exec.is_none() {
                    inv.dynamic_exec = Some(producers);
                }
            }
        }
    }

    /// Parse the joined values of `fields` as shell code in a nested shell.
    pub(super) fn nested_fields(
        &mut self,
        ctx: &Ctx,
        fields: &[Field],
        prefix: &str,
        src: &mut Src,
    ) {
        let text = fields
            .iter()
            .map(|f| f.value())
            .collect::<Vec<_>>()
            .join(" ");
        if fields.iter().any(|f| f.is_dynamic()) {
            let p: Vec<usize> = fields.iter().flat_map(|f| f.producers.clone()).collect();
            if let Some(inv) = self.out.get_mut(ctx.idx) {
                inv.dynamic_exec = Some(p);
            }
        }
        self.nested(ctx, &text, prefix, src, None);
    }

    /// Parse `text` as shell code run by the invocation `ctx` (with its chain, I/O and
    /// directory), one nested shell below `src`, provenance `prefix`. `shared`: the code
    /// runs in the current shell (`eval`), so its state carries over.
    pub(super) fn nested(
        &mut self,
        ctx: &Ctx,
        text: &str,
        prefix: &str,
        src: &mut Src,
        shared: Option<&mut State>,
    ) {
        let prefix = format!("{}{}", src.prefix, prefix);
        if !self.may_nest(src, || where_of(&prefix)) {
            return;
        }
        if !self.spend(text.len()) {
            return;
        }
        let mode = self.posix_next.take().unwrap_or(src.posix);
        let saved = std::mem::replace(&mut self.posix, mode);
        let nesting = src.nesting.saturating_add(1);
        match shared {
            Some(st) => self.run_source(text, prefix, nesting, ctx.chain, ctx.io, st),
            None => {
                let mut st = State::with_cwd(ctx.cwd.clone());
                self.run_source(text, prefix, nesting, ctx.chain, ctx.io, &mut st)
            }
        }
        self.posix = saved;
    }

    /// The program reads code from its standard input.
    pub(super) fn stdin_code(&mut self, ctx: &Ctx, src: &mut Src, lang: Lang) {
        let (idx, prog, io) = (ctx.idx, ctx.prog, ctx.io);
        let (text, how) = match &io.stdin {
            Stdin::Inherit => return,
            Stdin::File(_) => {
                if let Some(x) = self.out.get_mut(idx) {
                    x.dynamic_exec = Some(Vec::new());
                }
                return;
            }
            Stdin::Pipe { from } => match self.literal_output(*from) {
                Some(t) => (t, format!("in text piped to `{prog}`")),
                None => {
                    if let Some(x) = self.out.get_mut(idx) {
                        x.dynamic_exec = Some(vec![*from]);
                    }
                    return;
                }
            },
            Stdin::HereDoc(t) => (t.clone(), format!("in heredoc fed to `{prog}`")),
            Stdin::HereString(t) => (t.clone(), format!("in herestring fed to `{prog}`")),
        };
        if let Some(p) = &io.stdin_dyn {
            if let Some(x) = self.out.get_mut(idx) {
                x.dynamic_exec = Some(p.clone());
            }
        }
        let io2 = Io {
            stdin: Stdin::Inherit,
            stdin_dyn: None,
            redirects: io.redirects.clone(),
            background: io.background,
        };
        let inner = Ctx { io: &io2, ..*ctx };
        match lang {
            Lang::Shell => self.nested(&inner, &text, &format!("{how}, "), src, None),
            Lang::Code(l) => self.scan_code(&inner, l, &text, &how, src),
        }
    }

    /// The text a process substitution `<(echo …)` produces, when it is a single literal
    /// `echo`/`printf`.
    pub(super) fn literal_substitution(&self, f: &Field) -> Option<String> {
        match f.producers.as_slice() {
            [p] if f.value() == "<(…)" => self.literal_output(*p),
            _ => None,
        }
    }
}
