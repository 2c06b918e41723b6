//! The walk: programs, pipelines, compound and simple commands, redirections; recording
//! invocations; the fork-bomb checks on function definitions.

use super::expand::Words;
use super::state::{State, Var};
use super::{basename, where_of, Ctx, Field, Fl, FuncCall, Io, Src, MAX_UNROLL};
use crate::parse::{CmdKind, Command, Program, Redir, RedirOp, Simple};
use crate::render::render_fields;
use crate::{Cwd, Invocation, RedirKind, Redirect, Stdin};

/// A command to emit: its words (wrappers still in front) and where it comes from.
pub(super) struct Emit {
    pub(super) argv: Vec<Field>,
    /// Prefix assignments (`X=1 cmd`).
    pub(super) assignments: Vec<(String, String)>,
    pub(super) origin: String,
    /// Wrappers it was already found behind, outermost first.
    pub(super) wrappers: Vec<String>,
    /// Its number among the commands of its source text.
    pub(super) n: usize,
}

/// An invocation to record, before its I/O is filled in and its argv rendered.
pub(super) struct Record {
    pub(super) argv: Vec<Field>,
    pub(super) program: String,
    pub(super) dynamic_program: bool,
    pub(super) wrappers: Vec<String>,
    pub(super) origin: String,
    pub(super) cwd: Cwd,
    pub(super) assignments: Vec<(String, String)>,
    pub(super) depth: usize,
}

impl Record {
    /// A command with a static program and no prefix assignments.
    pub(super) fn plain(
        argv: Vec<Field>,
        program: String,
        wrappers: Vec<String>,
        origin: String,
        cwd: Cwd,
        depth: usize,
    ) -> Record {
        Record {
            argv,
            program,
            dynamic_program: false,
            wrappers,
            origin,
            cwd,
            assignments: Vec::new(),
            depth,
        }
    }
}

impl Fl<'_> {
    pub(super) fn program(&mut self, p: &Program, src: &mut Src, st: &mut State, io: &Io) {
        if !self.enter(src) {
            self.leave();
            return;
        }
        for item in &p.items {
            if self.stopped {
                break;
            }
            if item.background {
                let m = st.mark();
                let mut io2 = io.clone();
                io2.background = true;
                for pl in &item.and_or {
                    self.pipeline(&pl.cmds, src, st, &io2);
                }
                st.restore(m);
            } else {
                for pl in &item.and_or {
                    self.pipeline(&pl.cmds, src, st, io);
                }
            }
        }
        self.leave();
    }

    fn pipeline(&mut self, cmds: &[Command], src: &mut Src, st: &mut State, io: &Io) {
        if let [only] = cmds {
            self.command(only, src, st, io);
            return;
        }
        let mut prev_last: Option<usize> = None;
        for (k, cmd) in cmds.iter().enumerate() {
            if self.stopped {
                return;
            }
            let mut io2 = io.clone();
            if k > 0 {
                io2.stdin = match prev_last {
                    Some(from) => Stdin::Pipe { from },
                    None => Stdin::Inherit,
                };
                io2.stdin_dyn = None;
            }
            let m = st.mark();
            let before = self.out.len();
            self.command(cmd, src, st, &io2);
            st.restore(m);
            prev_last = if self.out.len() > before {
                Some(self.out.len().saturating_sub(1))
            } else {
                None
            };
        }
    }

    fn command(&mut self, cmd: &Command, src: &mut Src, st: &mut State, io: &Io) {
        if self.stopped {
            return;
        }
        if let CmdKind::Simple(s) = &cmd.kind {
            self.simple(s, &cmd.redirs, src, st, io);
            return;
        }
        if !self.enter(src) {
            self.leave();
            return;
        }
        let sub = format!("{}in command substitution in redirection, ", src.prefix);
        let io = if cmd.redirs.is_empty() {
            io.clone()
        } else {
            self.redirs(&cmd.redirs, src.words(io, &sub), st)
        };
        let io = &io;
        let sub = format!(
            "{}in command substitution in compound command, ",
            src.prefix
        );
        match &cmd.kind {
            CmdKind::Simple(_) => {}
            CmdKind::Subshell(p) => {
                let m = st.mark();
                self.program(p, src, st, io);
                st.restore(m);
            }
            CmdKind::Group(p) => self.program(p, src, st, io),
            CmdKind::If(arms, els) => {
                let mut changed = Vec::new();
                let mut cwds = Vec::new();
                for (cond, body) in arms {
                    self.program(cond, src, st, io);
                    let m = st.mark();
                    self.program(body, src, st, io);
                    changed.extend(st.changed_since(&m));
                    cwds.push(st.cwd.clone());
                    st.restore(m);
                }
                if let Some(e) = els {
                    let m = st.mark();
                    self.program(e, src, st, io);
                    changed.extend(st.changed_since(&m));
                    cwds.push(st.cwd.clone());
                    st.restore(m);
                } else {
                    cwds.push(st.cwd.clone());
                }
                st.merge(changed, cwds);
            }
            CmdKind::Loop(cond, body) => {
                let m = st.mark();
                self.program(cond, src, st, io);
                self.program(body, src, st, io);
                st.loop_merge(m);
            }
            CmdKind::For(var, words, body, select, body_len) => {
                let mut producers = Vec::new();
                // literal word lists are substituted: the body is analysed once per value
                let mut values = Some(Vec::new());
                match words {
                    Some(ws) => {
                        for w in ws {
                            for f in self.expand(w, src.words(io, &sub), st, true) {
                                match (&mut values, f.static_value()) {
                                    (Some(vs), Some(v)) if !f.glob() => vs.push(v),
                                    _ => values = None,
                                }
                                producers.extend(f.producers);
                            }
                        }
                    }
                    None => values = None,
                }
                let values = values.filter(|vs| {
                    !*select
                        && !vs.is_empty()
                        && vs.len() <= MAX_UNROLL
                        && self.try_unroll(body_len.saturating_add(1).saturating_mul(vs.len()))
                });
                let m = st.mark();
                match values {
                    Some(vs) => {
                        for v in vs {
                            if self.stopped {
                                break;
                            }
                            st.set(var, Var::Known(v));
                            self.program(body, src, st, io);
                        }
                    }
                    None => {
                        st.set(var, Var::Unknown(producers.clone()));
                        self.program(body, src, st, io);
                    }
                }
                st.loop_merge(m);
                st.set(var, Var::Unknown(producers));
            }
            CmdKind::ArithFor(w, body) => {
                self.expand(w, src.words(io, &sub), st, false);
                let m = st.mark();
                self.program(body, src, st, io);
                st.loop_merge(m);
            }
            CmdKind::Case(word, arms) => {
                self.expand(word, src.words(io, &sub), st, false);
                let mut changed = Vec::new();
                let mut cwds = vec![st.cwd.clone()];
                for (pats, body) in arms {
                    for p in pats {
                        self.expand(p, src.words(io, &sub), st, false);
                    }
                    let m = st.mark();
                    self.program(body, src, st, io);
                    changed.extend(st.changed_since(&m));
                    cwds.push(st.cwd.clone());
                    st.restore(m);
                }
                st.merge(changed, cwds);
            }
            CmdKind::Func(name, body) => {
                // analyse the body as if it runs (once, at definition)
                let m = st.mark();
                let before = self.out.len();
                self.command(body, src, st, io);
                st.restore(m);
                self.fork_bomb(name, before, src);
                self.mutual_fork_bomb(name, before, src);
            }
            CmdKind::Test(words) => {
                for w in words {
                    self.expand(w, src.words(io, &sub), st, false);
                }
            }
            CmdKind::Arith(w) => {
                self.expand(w, src.words(io, &sub), st, false);
            }
        }
        self.leave();
    }

    /// A function whose body calls the function itself in a pipeline or in the background
    /// multiplies processes without bound (`bomb(){ bomb|bomb& }`). Reported as a problem,
    /// plus a synthetic `:` fed by a pipe from the self-call so that rules for the classic
    /// `:(){ :|:& };:` see named bombs the same way.
    fn fork_bomb(&mut self, name: &str, before: usize, src: &Src) {
        if name.is_empty() || self.stopped {
            return;
        }
        let hit = self
            .out
            .get(before.min(self.out.len())..)
            .unwrap_or_default()
            .iter()
            .position(|i| {
                i.program == name && (i.background || matches!(i.stdin, Stdin::Pipe { .. }))
            })
            .map(|k| before.saturating_add(k));
        let Some(k) = hit else { return };
        self.problem(
            format!("function `{name}` calls itself recursively (fork bomb pattern)"),
            where_of(&src.prefix),
        );
        if name == ":" {
            return; // the body's own `:|:` already is that invocation
        }
        self.bomb_marker(name, k, src);
    }

    /// Functions that call each other in a cycle in which at least one call multiplies
    /// processes (`a(){ b|b& }; b(){ a; }`): the same as a function calling itself.
    /// Checked when each function is defined, over the functions defined so far.
    fn mutual_fork_bomb(&mut self, name: &str, before: usize, src: &Src) {
        if name.is_empty() || self.stopped {
            return;
        }
        let calls: Vec<FuncCall> = self
            .out
            .get(before.min(self.out.len())..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, i)| !i.program.is_empty() && i.program != name)
            .map(|(k, i)| {
                let spawns = i.background || matches!(i.stdin, Stdin::Pipe { .. });
                (i.program.clone(), spawns, before.saturating_add(k))
            })
            .collect();
        self.funcs.retain(|(f, _)| f != name);
        self.funcs.push((name.to_string(), calls));
        if self.funcs.len() > 64 {
            return;
        }
        // depth-first search for a path back to `name`; remember a multiplying call on it
        let mut stack: Vec<(String, Vec<String>, Option<usize>)> =
            vec![(name.to_string(), vec![name.to_string()], None)];
        let mut steps: i32 = 0;
        while let Some((f, path, spawn)) = stack.pop() {
            steps = steps.saturating_add(1);
            if steps > 4096 {
                return;
            }
            let Some((_, calls)) = self.funcs.iter().find(|(g, _)| *g == f) else {
                continue;
            };
            for (callee, spawns, k) in calls {
                let spawn = spawn.or(spawns.then_some(*k));
                if callee == name && path.len() > 1 {
                    if let Some(k) = spawn {
                        self.problem(
                            format!(
                                "functions `{}` call each other recursively (fork bomb pattern)",
                                path.join("`, `")
                            ),
                            where_of(&src.prefix),
                        );
                        self.bomb_marker(name, k, src);
                        return;
                    }
                } else if !path.contains(callee) {
                    let mut p = path.clone();
                    p.push(callee.clone());
                    stack.push((callee.clone(), p, spawn));
                }
            }
        }
    }

    /// A synthetic `:` in the background, fed by a pipe from the multiplying call at
    /// `out[k]`, so that rules for the classic `:(){ :|:& };:` fire.
    fn bomb_marker(&mut self, name: &str, k: usize, src: &Src) {
        let Some(call) = self.out.get(k) else { return };
        let from = match call.stdin {
            Stdin::Pipe { from } => from,
            _ => k,
        };
        let io = Io {
            stdin: Stdin::Pipe { from },
            background: true,
            ..Io::default()
        };
        let origin = format!("{}in function `{name}`, fork bomb pattern", src.prefix);
        let rec = Record::plain(
            vec![Field::synth(":")],
            ":".into(),
            call.wrappers.clone(),
            origin,
            call.cwd.clone(),
            call.depth,
        );
        self.push_inv(rec, &io);
    }

    /// The I/O of a command after its redirections (`cx.io` before them).
    fn redirs(&mut self, redirs: &[Redir], cx: Words, st: &mut State) -> Io {
        let (src, io) = (cx.src, cx.io);
        let mut io2 = io.clone();
        for r in redirs {
            match r.op {
                RedirOp::HereDoc => {
                    let hd = r.heredoc.and_then(|i| src.heredocs.get(i).cloned());
                    let hd = hd.unwrap_or_default();
                    if hd.unclosed {
                        self.problem(
                            format!("heredoc `{}` is never closed", hd.delim),
                            where_of(&src.prefix),
                        );
                    }
                    io2.stdin_dyn = None;
                    let mut text = hd.body.clone();
                    if let Some(w) = &hd.word {
                        let f = self.expand_one(w, cx, st);
                        if f.is_dynamic() {
                            io2.stdin_dyn = Some(f.producers);
                        } else {
                            text = f.value();
                        }
                    }
                    if r.fd.is_none_or(|fd| fd == 0) {
                        io2.stdin = Stdin::HereDoc(text);
                    } else {
                        io2.stdin_dyn = io.stdin_dyn.clone();
                    }
                }
                RedirOp::HereString => {
                    let f = self.expand_one(&r.target, cx, st);
                    if r.fd.is_none_or(|fd| fd == 0) {
                        io2.stdin_dyn = f.is_dynamic().then(|| f.producers.clone());
                        io2.stdin = Stdin::HereString(f.value());
                    }
                }
                _ => {
                    let f = self.expand_one(&r.target, cx, st);
                    let arg = f.to_arg();
                    let v = arg.value.as_str();
                    let is_fd = !arg.dynamic
                        && (v == "-" || (!v.is_empty() && v.bytes().all(|c| c.is_ascii_digit())));
                    let mut push = |fd: Option<u32>, kind: RedirKind| {
                        io2.redirects.push(Redirect {
                            fd,
                            kind,
                            target: arg.clone(),
                        })
                    };
                    match r.op {
                        RedirOp::Read => {
                            push(r.fd, RedirKind::Read);
                            if r.fd.is_none_or(|fd| fd == 0) {
                                io2.stdin = Stdin::File(arg.clone());
                                io2.stdin_dyn = None;
                            }
                        }
                        RedirOp::Write | RedirOp::Clobber => push(r.fd, RedirKind::Write),
                        RedirOp::Append => push(r.fd, RedirKind::Append),
                        RedirOp::ReadWrite => push(r.fd, RedirKind::ReadWrite),
                        RedirOp::DupIn => push(r.fd, RedirKind::Dup),
                        RedirOp::DupOut => {
                            if is_fd || r.fd.is_some() {
                                push(r.fd, RedirKind::Dup);
                            } else {
                                push(Some(1), RedirKind::Write);
                                push(Some(2), RedirKind::Write);
                            }
                        }
                        RedirOp::AndWrite => {
                            push(Some(1), RedirKind::Write);
                            push(Some(2), RedirKind::Write);
                        }
                        RedirOp::AndAppend => {
                            push(Some(1), RedirKind::Append);
                            push(Some(2), RedirKind::Append);
                        }
                        RedirOp::HereDoc | RedirOp::HereString => {}
                    }
                }
            }
        }
        io2
    }

    fn simple(&mut self, s: &Simple, redirs: &[Redir], src: &mut Src, st: &mut State, io: &Io) {
        src.counter = src.counter.saturating_add(1);
        let n = src.counter;
        let sub = format!(
            "{}in command substitution in simple command {n}, ",
            src.prefix
        );
        let cx = src.words(io, &sub);
        let mut fields = Vec::new();
        for w in &s.words {
            let fs = self.expand(w, cx, st, true);
            fields.extend(fs);
        }
        let io2 = if redirs.is_empty() {
            io.clone()
        } else {
            self.redirs(redirs, cx, st)
        };
        let mut assigns = Vec::new();
        for a in &s.assigns {
            let mut f = self.expand_one(&a.value, cx, st);
            if let Some(arr) = &a.array {
                let mut producers = Vec::new();
                for w in arr {
                    for g in self.expand(w, cx, st, true) {
                        producers.extend(g.producers);
                    }
                }
                f = Field::dynamic("$(…)", producers);
            }
            assigns.push((a.name.clone(), f));
        }
        if self.stopped {
            return;
        }
        let origin = format!("{}simple command {n}", src.prefix);
        if fields.is_empty() {
            for (name, f) in &assigns {
                st.set(name, Var::of(f));
            }
            if !redirs.is_empty() {
                let rec = Record::plain(
                    Vec::new(),
                    String::new(),
                    src.chain.clone(),
                    origin,
                    st.cwd.clone(),
                    src.nesting,
                );
                self.push_inv(rec, &io2);
            }
            return;
        }
        let assignments = assigns
            .iter()
            .map(|(n, f)| (n.clone(), f.value()))
            .collect();
        let cmd = Emit {
            argv: fields,
            assignments,
            origin,
            wrappers: src.chain.clone(),
            n,
        };
        self.emit_command(cmd, &io2, src, st);
    }

    /// Record an invocation with I/O `io`; its index in `out`, `None` when stopped (or the
    /// command limit is reached, which stops the analysis).
    pub(super) fn push_inv(&mut self, rec: Record, io: &Io) -> Option<usize> {
        let Record {
            argv,
            program,
            dynamic_program,
            wrappers,
            origin,
            cwd,
            assignments,
            depth,
        } = rec;
        if self.stopped {
            return None;
        }
        if self.out.len() >= self.opts.limits.max_commands {
            self.problem(
                format!(
                    "more than {} simple commands",
                    self.opts.limits.max_commands
                ),
                origin,
            );
            self.stopped = true;
            return None;
        }
        let text = render_fields(&argv);
        let idx = self.out.len();
        self.out.push(Invocation {
            argv: argv.iter().map(Field::to_arg).collect(),
            program,
            dynamic_program,
            wrappers,
            origin,
            text,
            cwd,
            stdin: io.stdin.clone(),
            redirects: io.redirects.clone(),
            assignments,
            background: io.background,
            depth,
            dynamic_exec: None,
        });
        self.stdin_dyn.push(io.stdin_dyn.is_some());
        Some(idx)
    }

    /// Look through the wrappers in front of `cmd`, record what runs, and follow what it
    /// does (`post`).
    pub(super) fn emit_command(&mut self, cmd: Emit, io: &Io, src: &mut Src, st: &mut State) {
        let Emit {
            mut argv,
            mut assignments,
            origin,
            mut wrappers,
            n,
        } = cmd;
        let mut cwd = st.cwd.clone();
        let mut guard: i32 = 0;
        while guard < 64 {
            guard = guard.saturating_add(1);
            let Some(first) = argv.first() else { break };
            let Some(v) = first.static_str() else { break };
            if first.glob() {
                break;
            }
            let prog = basename(&v);
            match self.unwrap(&prog, &argv, &mut assignments, &mut cwd) {
                Some(rest) => {
                    wrappers.push(prog);
                    argv = rest;
                }
                None => break,
            }
        }
        let Some(first) = argv.first() else { return };
        let (program, dynp) = if first.is_dynamic() || first.glob() {
            (String::new(), true)
        } else {
            (basename(&first.value()), false)
        };
        let rec = Record {
            argv: argv.clone(),
            program: program.clone(),
            dynamic_program: dynp,
            wrappers: wrappers.clone(),
            origin,
            cwd: cwd.clone(),
            assignments,
            depth: src.nesting,
        };
        let Some(idx) = self.push_inv(rec, io) else {
            return;
        };
        if !dynp {
            let prog = program.strip_suffix(".exe").unwrap_or(&program);
            let mut chain = wrappers;
            chain.push(prog.to_string());
            let ctx = Ctx {
                idx,
                prog,
                argv: &argv,
                io,
                chain: &chain,
                n,
                cwd: &cwd,
            };
            self.post(&ctx, src, st);
        }
    }
}
