//! Code in other languages: interpreter one-liners (`python -c`, `node -e`, ..., scanned
//! by `crate::oneliners` for the shell commands they run) and Windows payloads
//! (`powershell -Command`, `cmd /c`, split by `crate::windows`).

use super::nested::Lang;
use super::state::State;
use super::walk::{Emit, Record};
use super::{Ctx, Field, Fl, Io, Src, SHELLS};
use crate::oneliners::{self, CodeArgs, Kind};
use crate::{RedirKind, Redirect, Stdin};

impl Fl<'_> {
    /// An interpreter: its code given with `-c`/`-e`/..., read from stdin, or a script
    /// from `<(…)`.
    pub(super) fn interpreter(&mut self, ctx: &Ctx, lang: oneliners::Lang, src: &mut Src) {
        let (idx, prog, argv) = (ctx.idx, ctx.prog, ctx.argv);
        match oneliners::code_args(lang, argv) {
            CodeArgs::Code(flag, fields) => {
                if fields.iter().any(|f| f.is_dynamic()) {
                    let p = fields.iter().flat_map(|f| f.producers.clone()).collect();
                    if let Some(x) = self.out.get_mut(idx) {
                        x.dynamic_exec = Some(p);
                    }
                }
                let code = fields
                    .iter()
                    .map(|f| f.value())
                    .collect::<Vec<_>>()
                    .join("\n");
                let how = format!("in `{prog} {flag}` code");
                self.scan_code(ctx, lang, &code, &how, src);
            }
            CodeArgs::Stdin => {
                self.stdin_code(ctx, src, Lang::Code(lang));
            }
            CodeArgs::Script(i) => {
                // `python3 <(curl …)`: the script is the output of a process substitution
                if let Some(f) = argv
                    .get(i)
                    .filter(|f| f.is_dynamic() && f.value().starts_with("<("))
                {
                    match self.literal_substitution(f) {
                        Some(code) => {
                            let how = format!("in process substitution fed to `{prog}`");
                            self.scan_code(ctx, lang, &code, &how, src);
                        }
                        None => {
                            let p = f.producers.clone();
                            if let Some(inv) = self.out.get_mut(idx) {
                                inv.dynamic_exec = Some(p);
                            }
                        }
                    }
                }
            }
            CodeArgs::None => {}
        }
    }

    /// The shell commands interpreter code runs (`os.system("…")`, `subprocess.run([…])`,
    /// ...), provenance `how`.
    pub(super) fn scan_code(
        &mut self,
        ctx: &Ctx,
        lang: oneliners::Lang,
        code: &str,
        how: &str,
        src: &mut Src,
    ) {
        if !self.may_nest(src, || format!("{}{how}", src.prefix)) {
            return;
        }
        for ex in oneliners::scan(lang, code) {
            if self.stopped {
                return;
            }
            let origin = format!("{}{how}: {}(...)", src.prefix, ex.callee);
            match ex.kind {
                Kind::Shell(s) => {
                    let p = format!("{how}: {}(...), ", ex.callee);
                    self.nested(ctx, &s, &p, src, None);
                }
                Kind::Argv(v) => {
                    let fields: Vec<Field> = v
                        .iter()
                        .map(|a| match a {
                            Some(s) => Field::synth(s),
                            None => Field::dynamic("$(…)", Vec::new()),
                        })
                        .collect();
                    if fields.is_empty() {
                        continue;
                    }
                    let mut nsrc = src.below(format!("{origin}, "), ctx.chain);
                    let mut st = State::with_cwd(ctx.cwd.clone());
                    let cmd = Emit {
                        argv: fields,
                        assignments: Vec::new(),
                        origin,
                        wrappers: ctx.chain.to_vec(),
                        n: 1,
                    };
                    self.emit_command(cmd, ctx.io, &mut nsrc, &mut st);
                }
                Kind::NonLiteral => {
                    let first = how.trim_start_matches("in ");
                    self.problem(
                        format!("{first} runs a shell command built at run time"),
                        origin,
                    );
                }
            }
        }
    }

    /// A Windows payload run by `ctx` (`kind`: `powershell` or `cmd`; `argv`: the payload
    /// program's arguments as text, `dynamic`: some of them are only known at run time).
    /// Its statements are emitted one by one and followed (`iex`, `Start-Process`, nested
    /// `powershell`/`cmd`, `bash -c`).
    pub(super) fn windows(
        &mut self,
        ctx: &Ctx,
        kind: &str,
        argv: &[String],
        dynamic: bool,
        src: &mut Src,
    ) {
        let (idx, io, chain, cwd) = (ctx.idx, ctx.io, ctx.chain, ctx.cwd);
        let Some((script, label)) = crate::windows::script_of(kind, argv) else {
            return;
        };
        if dynamic {
            if let Some(x) = self.out.get_mut(idx) {
                x.dynamic_exec = Some(Vec::new());
            }
        }
        if !self.may_nest(src, || format!("{}in `{label}` script", src.prefix)) {
            return;
        }
        let cmds = if kind == "cmd" {
            crate::windows::split_cmd(&script)
        } else {
            crate::windows::split_powershell(&script)
        };
        let mut prev: Option<usize> = None;
        // (index in `out`, statement) of each command, for `iex (…)` producers
        let mut emitted: Vec<(usize, usize)> = Vec::new();
        let mut iex_subexpr: Vec<(usize, usize, usize)> = Vec::new();
        let mut nsrc = src.below(format!("{}in `{label}` script, ", src.prefix), chain);
        for (k, c) in cmds.iter().enumerate() {
            if self.stopped {
                return;
            }
            let mut redirects = io.redirects.clone();
            redirects.extend(c.redirects.iter().map(|r| Redirect {
                fd: r.fd,
                kind: if r.append {
                    RedirKind::Append
                } else {
                    RedirKind::Write
                },
                target: Field::synth(&r.target).to_arg(),
            }));
            let io2 = Io {
                stdin: match (c.piped, prev) {
                    (true, Some(from)) => Stdin::Pipe { from },
                    _ => io.stdin.clone(),
                },
                stdin_dyn: None,
                redirects,
                background: io.background,
            };
            let fields: Vec<Field> = c
                .argv
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    if c.dynamic.get(j).copied().unwrap_or(false) {
                        Field::dynamic(s, Vec::new())
                    } else {
                        Field::synth(s)
                    }
                })
                .collect();
            let Some(argv0) = c.argv.first() else {
                continue;
            };
            let program = crate::windows::program_name(argv0);
            let n = k.saturating_add(1);
            let origin = format!("{}command {n}", nsrc.prefix);
            let rec = Record::plain(
                fields,
                program.clone(),
                chain.to_vec(),
                origin,
                cwd.clone(),
                nsrc.nesting,
            );
            let Some(i) = self.push_inv(rec, &io2) else {
                return;
            };
            prev = Some(i);
            emitted.push((i, c.stmt));
            // the statement, for the handlers below (each adds itself to the chain)
            let here = Ctx {
                idx: i,
                prog: &program,
                argv: &[],
                io: &io2,
                chain,
                n,
                cwd,
            };
            match program.as_str() {
                "iex" | "invoke-expression" if c.argv.len() == 1 && !c.piped => {
                    // `iex (iwr u).Content`: the code is what the rest of the statement yields
                    iex_subexpr.push((i, c.stmt, emitted.len()));
                    if let Some(x) = self.out.get_mut(i) {
                        x.dynamic_exec = Some(Vec::new());
                    }
                }
                "start-process" | "saps" | "start" => {
                    let words: Vec<crate::pwsh::PsWord> = c
                        .argv
                        .iter()
                        .zip(&c.dynamic)
                        .map(|(t, d)| crate::pwsh::PsWord {
                            text: t.clone(),
                            dynamic: *d,
                        })
                        .collect();
                    if let Some(line) = crate::pwsh::start_process_line(&words) {
                        if c.dynamic.iter().any(|d| *d) {
                            if let Some(x) = self.out.get_mut(i) {
                                x.dynamic_exec = Some(Vec::new());
                            }
                        }
                        let ch = [chain, &["start-process".to_string()]].concat();
                        let inner = Ctx {
                            prog: "start-process",
                            chain: &ch,
                            ..here
                        };
                        let a = vec!["powershell".to_string(), "-Command".into(), line];
                        self.windows(&inner, "powershell", &a, false, &mut nsrc);
                    }
                }
                "iex" | "invoke-expression" => {
                    if c.argv.len() > 1 {
                        let text = c.argv.get(1..).unwrap_or_default().join(" ");
                        let ch = [chain, &["powershell".to_string()]].concat();
                        let inner = Ctx {
                            prog: "powershell",
                            chain: &ch,
                            ..here
                        };
                        let a = vec!["powershell".to_string(), "-Command".into(), text];
                        self.windows(&inner, "powershell", &a, false, &mut nsrc);
                    } else {
                        if let Some(o) = self.out.get_mut(i) {
                            o.dynamic_exec = Some(match io2.stdin {
                                Stdin::Pipe { from } if c.piped => vec![from],
                                _ => Vec::new(),
                            });
                        }
                    }
                }
                "powershell" | "pwsh" | "cmd" => {
                    let ch = [chain, std::slice::from_ref(&program)].concat();
                    let inner = Ctx { chain: &ch, ..here };
                    self.windows(&inner, &program, &c.argv, false, &mut nsrc);
                }
                _ => {
                    if c.argv.len() > 2 && SHELLS.contains(&program.as_str()) {
                        // `bash -c '...'` inside a Windows payload (WSL, git-bash)
                        let fields: Vec<Field> = c.argv.iter().map(|s| Field::synth(s)).collect();
                        let ch = [chain, std::slice::from_ref(&program)].concat();
                        let inner = Ctx {
                            argv: &fields,
                            chain: &ch,
                            ..here
                        };
                        self.shell(&inner, &mut nsrc);
                    }
                }
            }
        }
        for (i, stmt, after) in iex_subexpr {
            let producers: Vec<usize> = emitted
                .iter()
                .skip(after)
                .filter(|(_, s)| *s == stmt)
                .map(|(j, _)| *j)
                .collect();
            if let Some(inv) = self.out.get_mut(i) {
                inv.dynamic_exec = Some(producers);
            }
        }
    }
}
