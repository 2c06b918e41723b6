//! What a recorded invocation does that the walk must know: directory changes, variable
//! assignments, `eval`/`alias`/`trap` code, and the literal output of `echo`/`printf`/`cat`
//! (so `bash <(echo ls)` and `$(echo rm)` are followed). Every other program that runs code
//! is dispatched from [`Fl::post`] to its handler in `wrappers`, `nested` or `foreign`.

use super::state::{join_cwd, State, Var};
use super::{is_name, Ctx, Field, Fl, Src, SHELLS};
use crate::{Cwd, RedirKind, Stdin};

impl Fl<'_> {
    /// What a recorded invocation does that the walk must know: builtins change the state
    /// or run text as code; every other program that runs code is handed to its handler.
    pub(super) fn post(&mut self, ctx: &Ctx, src: &mut Src, st: &mut State) {
        let (idx, prog, argv) = (ctx.idx, ctx.prog, ctx.argv);
        let lower = prog.to_ascii_lowercase();
        match prog {
            "cd" => self.cd(st, argv),
            "pushd" => {
                if st.dirstack.len() < 64 {
                    st.dirstack.push(st.cwd.clone());
                } else {
                    st.dirstack.clear();
                    st.cwd = Cwd::Unknown;
                    return;
                }
                let has_dir = argv
                    .get(1..)
                    .unwrap_or_default()
                    .iter()
                    .any(|f| f.static_str().is_none_or(|v| !v.starts_with(['-', '+'])));
                if has_dir {
                    self.cd(st, argv);
                } else {
                    st.cwd = Cwd::Unknown;
                }
            }
            "popd" => {
                st.cwd = st.dirstack.pop().unwrap_or(Cwd::Unknown);
            }
            "export" | "declare" | "typeset" | "local" | "readonly" => {
                for f in argv.get(1..).unwrap_or_default() {
                    let v = f.value();
                    if v.starts_with('-') {
                        continue;
                    }
                    if let Some((name, val)) = v.split_once('=') {
                        let name = name.trim_end_matches('+');
                        if is_name(name) {
                            let var = if f.is_dynamic() {
                                Var::Unknown(f.producers.clone())
                            } else {
                                Var::Known(val.to_string())
                            };
                            st.set(name, var);
                        }
                    }
                }
            }
            "unset" => {
                for f in argv.get(1..).unwrap_or_default() {
                    if let Some(v) = f.static_value() {
                        if is_name(&v) {
                            st.set(&v, Var::Known(String::new()));
                        }
                    }
                }
            }
            "read" | "mapfile" | "readarray" | "getopts" | "printf" => {
                let mut take_next = false;
                for f in argv.get(1..).unwrap_or_default() {
                    let v = f.value();
                    if take_next {
                        take_next = false;
                        if is_name(&v) {
                            st.set(&v, Var::Unknown(Vec::new()));
                        }
                        continue;
                    }
                    if prog == "printf" {
                        take_next = v == "-v";
                        continue;
                    }
                    if is_name(&v) {
                        st.set(&v, Var::Unknown(Vec::new()));
                    }
                }
            }
            "eval" => {
                let args: Vec<&Field> = argv
                    .get(1..)
                    .unwrap_or_default()
                    .iter()
                    .filter(|f| f.static_str().is_none_or(|v| v != "--"))
                    .collect();
                let text = args.iter().map(|f| f.value()).collect::<Vec<_>>().join(" ");
                if args.iter().any(|f| f.is_dynamic()) {
                    let p = args.iter().flat_map(|f| f.producers.clone()).collect();
                    if let Some(x) = self.out.get_mut(idx) {
                        x.dynamic_exec = Some(p);
                    }
                }
                self.nested(ctx, &text, "in `eval` argument, ", src, Some(st));
            }
            "source" | "." => {
                // `source <(curl ...)`: code only known at run time
                if let Some(f) = argv.get(1).filter(|f| f.is_dynamic()) {
                    if let Some(x) = self.out.get_mut(idx) {
                        x.dynamic_exec = Some(f.producers.clone());
                    }
                }
            }
            "alias" => {
                for f in argv.get(1..).unwrap_or_default() {
                    let v = f.value();
                    if let Some((_, body)) = v.split_once('=') {
                        let body = body.to_string();
                        self.nested(ctx, &body, "in `alias` definition, ", src, None);
                    }
                }
            }
            "trap" => {
                if let (true, Some(f)) = (argv.len() >= 3, argv.get(1)) {
                    if f.static_str().is_none_or(|v| !v.starts_with('-')) {
                        if f.is_dynamic() {
                            if let Some(x) = self.out.get_mut(idx) {
                                x.dynamic_exec = Some(f.producers.clone());
                            }
                        }
                        let t = f.value();
                        self.nested(ctx, &t, "in `trap` handler, ", src, None);
                    }
                }
            }
            "find" => self.find_exec(ctx, src, st),
            "docker" | "podman" | "nerdctl" | "docker-compose" | "podman-compose" | "kubectl"
            | "oc" => self.container_exec(ctx, src),
            "watch" => self.watch(ctx, src),
            "su" | "runuser" | "script" | "flock" | "sg" => self.user_shell(ctx, src),
            "ssh" => self.ssh(ctx, src),
            "parallel" => self.parallel(ctx, src),
            "sed" | "gsed" => {
                let execs: Vec<crate::textexec::Exec> = crate::textexec::sed_scripts(argv)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|s| crate::textexec::sed_exec(s))
                    .collect();
                self.text_exec(ctx, "in `sed` e command, ", execs, src);
            }
            p if crate::textexec::is_tcl(p) => {
                let mut scripts = crate::textexec::tcl_scripts(argv);
                if let Stdin::HereDoc(t) | Stdin::HereString(t) = &ctx.io.stdin {
                    scripts.push(t.clone());
                }
                let execs: Vec<crate::textexec::Exec> = scripts
                    .iter()
                    .flat_map(|s| crate::textexec::tcl_exec(s))
                    .collect();
                let prefix = format!("in `{p}` script, ");
                self.text_exec(ctx, &prefix, execs, src);
            }
            p if crate::textexec::is_awk(p) => {
                let execs: Vec<crate::textexec::Exec> = crate::textexec::awk_programs(argv)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|s| crate::textexec::awk_exec(s))
                    .collect();
                let prefix = format!("in `{p}` command, ");
                self.text_exec(ctx, &prefix, execs, src);
            }
            _ => {
                if SHELLS.contains(&prog) || self.opts.extra_shells.iter().any(|s| s == prog) {
                    self.shell(ctx, src);
                } else if let Some(lang) = crate::oneliners::lang_of(prog) {
                    self.interpreter(ctx, lang, src);
                } else if matches!(lower.as_str(), "powershell" | "pwsh" | "cmd") {
                    let strs: Vec<String> = argv.iter().map(|f| f.value()).collect();
                    let dynamic = argv.iter().any(|f| f.is_dynamic());
                    self.windows(ctx, &lower, &strs, dynamic, src);
                }
            }
        }
    }

    fn cd(&mut self, st: &mut State, argv: &[Field]) {
        let mut args = argv.get(1..).unwrap_or_default().iter().filter(|f| {
            f.static_str()
                .is_none_or(|v| !(v.starts_with('-') && v.len() > 1 && v != "--") || v == "-")
        });
        let mut first = args.next();
        if first.and_then(|f| f.static_value()).as_deref() == Some("--") {
            first = args.next();
        }
        st.cwd = match first {
            None => Cwd::Known("~".into()),
            Some(f) if f.is_dynamic() || f.glob() => Cwd::Unknown,
            Some(f) => {
                let v = f.value();
                if v == "-" {
                    Cwd::Unknown
                } else {
                    join_cwd(&st.cwd, &v)
                }
            }
        };
    }

    /// Output of an `echo`/`printf` of literals (or `cat` of a static heredoc).
    pub(super) fn literal_output(&self, i: usize) -> Option<String> {
        let inv = self.out.get(i)?;
        if inv.argv.iter().any(|a| a.dynamic || a.glob) || inv.dynamic_exec.is_some() {
            return None;
        }
        if inv.redirects.iter().any(|r| {
            matches!(r.kind, RedirKind::Write | RedirKind::Append) && r.fd.is_none_or(|f| f == 1)
        }) {
            return None;
        }
        let args: Vec<&str> = inv.argv.iter().skip(1).map(|a| a.value.as_str()).collect();
        match inv.program.as_str() {
            "echo" => echo_output(&args),
            "printf" => printf_output(&args),
            "cat" if args.is_empty() && !self.stdin_dyn.get(i).copied().unwrap_or(true) => {
                match &inv.stdin {
                    Stdin::HereDoc(t) => Some(t.clone()),
                    Stdin::HereString(t) => Some(format!("{t}\n")),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// What `echo ARGS` prints (`None` when escapes make it unclear).
fn echo_output(args: &[&str]) -> Option<String> {
    let mut newline = true;
    let mut i = 0;
    while let Some(&a) = args.get(i) {
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E'))
        {
            if a.contains('n') {
                newline = false;
            }
            if a.contains('e')
                && args
                    .get(i.saturating_add(1)..)
                    .unwrap_or_default()
                    .iter()
                    .any(|x| x.contains('\\'))
            {
                return None;
            }
            i = i.saturating_add(1);
        } else {
            break;
        }
    }
    let mut s = args.get(i..).unwrap_or_default().join(" ");
    if newline {
        s.push('\n');
    }
    Some(s)
}

/// What `printf FORMAT ARGS` prints for a format of `%s`, `%%` and simple escapes.
fn printf_output(args: &[&str]) -> Option<String> {
    let (fmt, mut rest) = args.split_first()?;
    if *fmt == "--" {
        return printf_output(args.get(1..).unwrap_or_default());
    }
    let mut out = String::new();
    let mut guard: i32 = 0;
    loop {
        guard = guard.saturating_add(1);
        let mut used = 0;
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '%' => match chars.next()? {
                    '%' => out.push('%'),
                    's' => {
                        out.push_str(rest.get(used).copied().unwrap_or(""));
                        used = used.saturating_add(1);
                    }
                    _ => return None,
                },
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    '\\' => out.push('\\'),
                    _ => return None,
                },
                c => out.push(c),
            }
        }
        if used == 0 || used >= rest.len() || guard > 64 {
            break;
        }
        rest = rest.get(used..).unwrap_or_default();
    }
    Some(out)
}
