//! Flattening: walk the AST, expand words statically, look through wrappers and nested
//! shells, and produce [`Invocation`]s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use crate::parse::{self, CmdKind, Command, HereDoc, Part, Program, Redir, RedirOp, Simple, Word};
use crate::render::render_fields;
use crate::{Analysis, AnalyzeOptions, Arg, Cwd, Invocation, Problem, RedirKind, Redirect, Stdin};

// ---------------------------------------------------------------------------------------
// Fields (expanded words)

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Seg {
    /// Literal text; `true` = quoted (no globbing).
    Lit(String, bool),
    /// Run-time value, rendered as its source spelling (`$X`, `$(…)`).
    Dyn(String),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Field {
    pub segs: Vec<Seg>,
    pub quoted: bool,
    pub producers: Vec<usize>,
}

impl Field {
    pub(crate) fn value(&self) -> String {
        let mut s = String::new();
        for seg in &self.segs {
            match seg {
                Seg::Lit(t, _) | Seg::Dyn(t) => s.push_str(t),
            }
        }
        s
    }
    pub(crate) fn is_dynamic(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Dyn(_)))
    }
    /// An unquoted `*` or `?`, or an unquoted `[` followed by an unquoted `]`.
    pub(crate) fn glob(&self) -> bool {
        let mut open = false;
        for s in &self.segs {
            if let Seg::Lit(t, false) = s {
                for c in t.chars() {
                    match c {
                        '*' | '?' => return true,
                        '[' => open = true,
                        ']' if open => return true,
                        _ => {}
                    }
                }
            }
        }
        false
    }
    pub(crate) fn static_value(&self) -> Option<String> {
        if self.is_dynamic() {
            None
        } else {
            Some(self.value())
        }
    }
    /// Static value without allocation for the common single-segment case.
    fn static_str(&self) -> Option<Cow<'_, str>> {
        match self.segs.as_slice() {
            [Seg::Lit(t, _)] => Some(Cow::Borrowed(t)),
            [] => Some(Cow::Borrowed("")),
            _ => self.static_value().map(Cow::Owned),
        }
    }
    pub(crate) fn to_arg(&self) -> Arg {
        Arg {
            value: self.value(),
            dynamic: self.is_dynamic(),
            glob: self.glob(),
            quoted: self.quoted,
        }
    }
    pub(crate) fn synth(s: &str) -> Field {
        Field {
            segs: vec![Seg::Lit(s.to_string(), true)],
            quoted: false,
            producers: Vec::new(),
        }
    }
    pub(crate) fn dynamic(src: &str, producers: Vec<usize>) -> Field {
        Field {
            segs: vec![Seg::Dyn(src.to_string())],
            quoted: false,
            producers,
        }
    }
    /// Same text, but marked as only known at run time (placeholders like `{}`).
    fn as_dynamic(&self) -> Field {
        // an empty dynamic segment marks the field without changing its value or rendering
        let mut f = self.clone();
        f.segs.push(Seg::Dyn(String::new()));
        f
    }
}

struct FieldBuilder {
    fields: Vec<Field>,
    cur: Field,
    has: bool,
}

impl FieldBuilder {
    fn new() -> Self {
        FieldBuilder {
            fields: Vec::new(),
            cur: Field::default(),
            has: false,
        }
    }
    fn lit(&mut self, s: &str, quoted: bool) {
        if quoted {
            self.cur.quoted = true;
            self.has = true;
        }
        if s.is_empty() {
            return;
        }
        self.has = true;
        if let Some(Seg::Lit(t, q)) = self.cur.segs.last_mut() {
            if *q == quoted {
                t.push_str(s);
                return;
            }
        }
        self.cur.segs.push(Seg::Lit(s.to_string(), quoted));
    }
    fn dynamic(&mut self, src: &str, producers: &[usize]) {
        self.has = true;
        self.cur.segs.push(Seg::Dyn(src.to_string()));
        self.cur.producers.extend_from_slice(producers);
    }
    fn split(&mut self, v: &str) {
        let ws = |c: char| matches!(c, ' ' | '\t' | '\n');
        if v.starts_with(ws) {
            self.finish();
        }
        for (i, piece) in v.split(ws).filter(|p| !p.is_empty()).enumerate() {
            if i > 0 {
                self.finish();
            }
            self.lit(piece, false);
        }
        if v.ends_with(ws) && !v.trim_matches(ws).is_empty() {
            self.finish();
        }
    }
    fn at_start(&self) -> bool {
        self.cur.segs.is_empty()
    }
    fn finish(&mut self) {
        if self.has {
            self.fields.push(std::mem::take(&mut self.cur));
        } else {
            self.cur = Field::default();
        }
        self.has = false;
    }
}

// ---------------------------------------------------------------------------------------
// State

#[derive(Clone, Debug)]
enum Var {
    Known(String),
    Unknown(Vec<usize>),
}

#[derive(Default)]
pub(crate) struct State {
    vars: HashMap<String, Var>,
    log: Vec<(String, Option<Var>)>,
    cwd: Cwd,
    dirstack: Vec<Cwd>,
}

struct Mark {
    log: usize,
    cwd: Cwd,
    dirstack: Vec<Cwd>,
}

impl State {
    fn with_cwd(cwd: Cwd) -> Self {
        State {
            cwd,
            ..State::default()
        }
    }
    fn set(&mut self, name: &str, v: Var) {
        let old = self.vars.insert(name.to_string(), v);
        self.log.push((name.to_string(), old));
    }
    fn mark(&self) -> Mark {
        Mark {
            log: self.log.len(),
            cwd: self.cwd.clone(),
            dirstack: self.dirstack.clone(),
        }
    }
    fn restore(&mut self, m: Mark) {
        while self.log.len() > m.log {
            if let Some((name, old)) = self.log.pop() {
                match old {
                    Some(v) => {
                        self.vars.insert(name, v);
                    }
                    None => {
                        self.vars.remove(&name);
                    }
                }
            }
        }
        self.cwd = m.cwd;
        self.dirstack = m.dirstack;
    }
    fn changed_since(&self, m: &Mark) -> Vec<String> {
        let mut v: Vec<String> = self
            .log
            .get(m.log.min(self.log.len())..)
            .unwrap_or_default()
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

// ---------------------------------------------------------------------------------------
// Flattener

struct Src {
    prefix: String,
    counter: usize,
    nesting: usize,
    heredocs: Rc<Vec<HereDoc>>,
    chain: Vec<String>,
    /// Parsed with POSIX sh rules (`sh -c`, `dash -c`): nested text inherits it.
    posix: bool,
}

#[derive(Clone, Default)]
struct Io {
    stdin: Stdin,
    /// Producers of a dynamic heredoc/herestring (`Some` = content only known at run time).
    stdin_dyn: Option<Vec<usize>>,
    redirects: Vec<Redirect>,
    background: bool,
}

pub(crate) struct Fl<'o> {
    opts: &'o AnalyzeOptions,
    out: Vec<Invocation>,
    /// Parallel to `out`: stdin content of that invocation was dynamic.
    stdin_dyn: Vec<bool>,
    problems: Vec<Problem>,
    stopped: bool,
    budget: usize,
    /// Source bytes that static `for` unrolling may still re-analyse (keeps time linear).
    unroll: usize,
    /// Current `find -exec` recursion (`find -exec find -exec …`).
    find_nesting: usize,
    depth: usize,
    /// Functions defined so far and what their bodies call: (callee, whether the call
    /// multiplies processes — in a pipeline or in the background —, index in `out`).
    funcs: Vec<(String, Vec<FuncCall>)>,
    /// Parse mode of the source text being started by `run_source`.
    posix: bool,
    /// Set by a POSIX shell (`sh`, `dash`, ...) for the code it runs; taken by `nested`.
    posix_next: Option<bool>,
}

/// A call made by a function body: callee, whether it multiplies processes (pipeline or
/// background), index of the invocation in `out`.
type FuncCall = (String, bool, usize);

pub(crate) fn analyze(src: &str, opts: &AnalyzeOptions) -> Analysis {
    let mut fl = Fl {
        opts,
        out: Vec::new(),
        stdin_dyn: Vec::new(),
        problems: Vec::new(),
        stopped: false,
        funcs: Vec::new(),
        budget: opts
            .limits
            .max_len
            .saturating_mul(8)
            .saturating_add(1 << 16),
        unroll: src.len().saturating_mul(UNROLL_FACTOR).saturating_add(4096),
        find_nesting: 0,
        depth: 0,
        posix: false,
        posix_next: None,
    };
    if src.len() > opts.limits.max_len {
        fl.problem(
            format!("input longer than {} bytes", opts.limits.max_len),
            "top level".into(),
        );
    } else {
        let mut st = State::default();
        fl.run_source(src, String::new(), 0, Vec::new(), &Io::default(), &mut st);
    }
    Analysis {
        invocations: fl.out,
        problems: fl.problems,
    }
}

fn where_of(prefix: &str) -> String {
    let p = prefix.trim_end_matches(", ");
    if p.is_empty() {
        "top level".to_string()
    } else {
        p.to_string()
    }
}

pub(crate) fn basename(v: &str) -> String {
    if is_windows_path(v) {
        // `C:\Program Files\Git\bin\git.exe`, `"C:/Tools/rm.EXE"`, `\\srv\share\x.cmd`:
        // Windows resolves names without case and with an implied extension
        return crate::windows::program_name(v);
    }
    let t = v.trim_end_matches('/');
    if t.is_empty() {
        return v.to_string();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// A program path written the Windows way: a drive (`C:\`, `c:/`), a UNC prefix (`\\srv`)
/// or any backslash separator (a POSIX program name never contains one).
fn is_windows_path(v: &str) -> bool {
    let b = v.as_bytes();
    let drive = matches!(b, [d, b':', b'\\' | b'/', ..] if d.is_ascii_alphabetic());
    drive || v.contains('\\')
}

fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && parse::is_name_start(crate::at(b, 0))
        && b.iter().all(|&c| parse::is_name_char(c))
}

/// Replacement strings of GNU parallel (`{}` and its path/position variants).
const PARALLEL_PLACEHOLDERS: &[&str] = &["{}", "{.}", "{/}", "{//}", "{/.}", "{1}", "{2}", "{3}"];

/// At most this many literal words in a `for` list are substituted one by one.
const MAX_UNROLL: usize = 16;
/// Loop unrolling re-analyses at most this many times the input length (plus 4 KiB).
const UNROLL_FACTOR: usize = 16;

/// Shells that parse with POSIX sh rules where they differ from bash (`((` is not
/// arithmetic). `sh` is bash in POSIX mode on some systems and dash on others; the POSIX
/// reading shows every command the other reading could hide.
const POSIX_SHELLS: &[&str] = &["sh", "dash", "ash", "posh"];

const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "yash", "posh", "rbash", "ksh93",
];

impl<'o> Fl<'o> {
    fn problem(&mut self, reason: String, origin: String) {
        if self.problems.len() < 1000 {
            self.problems.push(Problem { reason, origin });
        }
    }

    fn enter(&mut self, src: &Src) -> bool {
        self.depth = self.depth.saturating_add(1);
        if self.depth > self.opts.limits.max_depth {
            self.problem(
                format!("nesting deeper than {} levels", self.opts.limits.max_depth),
                where_of(&src.prefix),
            );
            self.stopped = true;
            return false;
        }
        true
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Take `n` bytes from the loop-unrolling budget; `false` (nothing taken) when it is
    /// exhausted, in which case the caller analyses the loop body once with a dynamic variable.
    fn try_unroll(&mut self, n: usize) -> bool {
        if self.unroll < n {
            return false;
        }
        self.unroll = self.unroll.saturating_sub(n);
        true
    }

    fn spend(&mut self, n: usize) -> bool {
        if self.budget < n {
            if !self.stopped {
                self.problem(
                    "expansion larger than the analysis budget".into(),
                    "top level".into(),
                );
            }
            self.stopped = true;
            return false;
        }
        self.budget = self.budget.saturating_sub(n);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn run_source(
        &mut self,
        text: &str,
        prefix: String,
        nesting: usize,
        chain: Vec<String>,
        io: &Io,
        st: &mut State,
    ) {
        if self.stopped {
            return;
        }
        let posix = self.posix;
        match parse::parse_mode(text, self.depth, self.opts.limits.max_depth, posix) {
            Err(e) => {
                let origin = format!("{}, byte {}", where_of(&prefix), e.pos);
                self.problem(e.reason, origin);
            }
            Ok(p) => {
                let mut src = Src {
                    prefix,
                    counter: 0,
                    nesting,
                    heredocs: p.heredocs,
                    chain,
                    posix,
                };
                self.program(&p.program, &mut src, st, io);
            }
        }
    }

    fn program(&mut self, p: &Program, src: &mut Src, st: &mut State, io: &Io) {
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
            self.redirs(&cmd.redirs, src, st, io, &sub)
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
                self.merge(st, changed, cwds);
            }
            CmdKind::Loop(cond, body) => {
                let m = st.mark();
                self.program(cond, src, st, io);
                self.program(body, src, st, io);
                self.loop_merge(st, m);
            }
            CmdKind::For(var, words, body, select, body_len) => {
                let mut producers = Vec::new();
                // literal word lists are substituted: the body is analysed once per value
                let mut values = Some(Vec::new());
                match words {
                    Some(ws) => {
                        for w in ws {
                            for f in self.expand(w, src, st, io, &sub, true) {
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
                self.loop_merge(st, m);
                st.set(var, Var::Unknown(producers));
            }
            CmdKind::ArithFor(w, body) => {
                self.expand(w, src, st, io, &sub, false);
                let m = st.mark();
                self.program(body, src, st, io);
                self.loop_merge(st, m);
            }
            CmdKind::Case(word, arms) => {
                self.expand(word, src, st, io, &sub, false);
                let mut changed = Vec::new();
                let mut cwds = vec![st.cwd.clone()];
                for (pats, body) in arms {
                    for p in pats {
                        self.expand(p, src, st, io, &sub, false);
                    }
                    let m = st.mark();
                    self.program(body, src, st, io);
                    changed.extend(st.changed_since(&m));
                    cwds.push(st.cwd.clone());
                    st.restore(m);
                }
                self.merge(st, changed, cwds);
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
                    self.expand(w, src, st, io, &sub, false);
                }
            }
            CmdKind::Arith(w) => {
                self.expand(w, src, st, io, &sub, false);
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
        let wrappers = call.wrappers.clone();
        let cwd = call.cwd.clone();
        let depth = call.depth;
        self.push_inv(
            vec![Field::synth(":")],
            ":".into(),
            false,
            wrappers,
            origin,
            cwd,
            &io,
            Vec::new(),
            depth,
        );
    }

    fn merge(&mut self, st: &mut State, changed: Vec<String>, cwds: Vec<Cwd>) {
        for n in changed {
            st.set(&n, Var::Unknown(Vec::new()));
        }
        if let Some(first) = cwds.first() {
            st.cwd = if cwds.iter().all(|c| c == first) {
                first.clone()
            } else {
                Cwd::Unknown
            };
        }
    }

    fn loop_merge(&mut self, st: &mut State, m: Mark) {
        let changed = st.changed_since(&m);
        let cwd_after = st.cwd.clone();
        let cwd_before = m.cwd.clone();
        st.restore(m);
        for n in changed {
            st.set(&n, Var::Unknown(Vec::new()));
        }
        if cwd_after != cwd_before {
            st.cwd = Cwd::Unknown;
        }
    }

    fn redirs(
        &mut self,
        redirs: &[Redir],
        src: &mut Src,
        st: &mut State,
        io: &Io,
        sub: &str,
    ) -> Io {
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
                        let f = self.expand_one(w, src, st, io, sub);
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
                    let f = self.expand_one(&r.target, src, st, io, sub);
                    if r.fd.is_none_or(|fd| fd == 0) {
                        io2.stdin_dyn = f.is_dynamic().then(|| f.producers.clone());
                        io2.stdin = Stdin::HereString(f.value());
                    }
                }
                _ => {
                    let f = self.expand_one(&r.target, src, st, io, sub);
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
        let mut fields = Vec::new();
        for w in &s.words {
            let fs = self.expand(w, src, st, io, &sub, true);
            fields.extend(fs);
        }
        let io2 = if redirs.is_empty() {
            io.clone()
        } else {
            self.redirs(redirs, src, st, io, &sub)
        };
        let mut assigns = Vec::new();
        for a in &s.assigns {
            let mut f = self.expand_one(&a.value, src, st, io, &sub);
            if let Some(arr) = &a.array {
                let mut producers = Vec::new();
                for w in arr {
                    for g in self.expand(w, src, st, io, &sub, true) {
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
                st.set(name, var_of(f));
            }
            if !redirs.is_empty() {
                let cwd = st.cwd.clone();
                self.push_inv(
                    Vec::new(),
                    String::new(),
                    false,
                    src.chain.clone(),
                    origin,
                    cwd,
                    &io2,
                    Vec::new(),
                    src.nesting,
                );
            }
            return;
        }
        let assignments = assigns
            .iter()
            .map(|(n, f)| (n.clone(), f.value()))
            .collect();
        let chain = src.chain.clone();
        self.emit_command(fields, assignments, &io2, src, st, origin, chain, n);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_inv(
        &mut self,
        argv: Vec<Field>,
        program: String,
        dynamic_program: bool,
        wrappers: Vec<String>,
        origin: String,
        cwd: Cwd,
        io: &Io,
        assignments: Vec<(String, String)>,
        depth: usize,
    ) -> Option<usize> {
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

    #[allow(clippy::too_many_arguments)]
    fn emit_command(
        &mut self,
        mut argv: Vec<Field>,
        mut assignments: Vec<(String, String)>,
        io: &Io,
        src: &mut Src,
        st: &mut State,
        origin: String,
        mut wrappers: Vec<String>,
        n: usize,
    ) {
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
        let Some(idx) = self.push_inv(
            argv.clone(),
            program.clone(),
            dynp,
            wrappers.clone(),
            origin.clone(),
            cwd.clone(),
            io,
            assignments,
            src.nesting,
        ) else {
            return;
        };
        if !dynp {
            self.post(
                idx, &program, &argv, io, src, st, &origin, &wrappers, n, &cwd,
            );
        }
    }

    // -----------------------------------------------------------------------------------
    // Wrappers

    fn unwrap(
        &self,
        prog: &str,
        argv: &[Field],
        assigns: &mut Vec<(String, String)>,
        cwd: &mut Cwd,
    ) -> Option<Vec<Field>> {
        let rest = |i: usize| -> Option<Vec<Field>> {
            if i < argv.len() {
                Some(argv.get(i..).unwrap_or_default().to_vec())
            } else {
                None
            }
        };
        match prog {
            "env" => return unwrap_env(argv, assigns, cwd),
            "command" => {
                let mut i = 1;
                while let Some(v) = argv.get(i).and_then(|f| f.static_value()) {
                    if v == "--" {
                        i = i.saturating_add(1);
                        break;
                    }
                    if !v.starts_with('-') || v.len() < 2 {
                        break;
                    }
                    if v.contains(['v', 'V']) {
                        return None;
                    }
                    i = i.saturating_add(1);
                }
                return rest(i);
            }
            "busybox" => return rest(1),
            // `runuser [-] USER -c CMD` is the su form (handled with `su`); only
            // `runuser -u USER CMD...` runs its arguments
            "runuser"
                if !argv.iter().any(|f| {
                    f.static_str()
                        .is_some_and(|v| v == "-u" || v == "--user" || v.starts_with("--user="))
                }) =>
            {
                return None;
            }
            "xargs" => return unwrap_xargs(argv),
            "flock" if flock_code(argv).is_some() => return None,
            _ => {}
        }
        if let Some(spec) = BUILTIN_WRAPPERS.iter().find(|s| s.name == prog) {
            let mut i = skip_opts(argv, 1, &|o| spec.val.contains(&o), &|o| {
                spec.stop.contains(&o)
            })?;
            if matches!(prog, "sudo" | "doas" | "pkexec") {
                // `sudo VAR=value cmd`
                while let Some(v) = argv.get(i).and_then(|f| f.static_value()) {
                    match v.split_once('=') {
                        Some((n, val)) if is_name(n) => {
                            assigns.push((n.to_string(), val.to_string()));
                            i = i.saturating_add(1);
                        }
                        _ => break,
                    }
                }
            }
            // positionals to skip must be present
            return rest(i.saturating_add(spec.skip));
        }
        if let Some(spec) = self.opts.extra_wrappers.iter().find(|s| s.name == prog) {
            let i = skip_opts(
                argv,
                1,
                &|o| spec.options_with_value.iter().any(|x| x == o),
                &|_| false,
            )?;
            return rest(i.saturating_add(spec.skip_positionals));
        }
        None
    }

    // -----------------------------------------------------------------------------------
    // Post-processing of an emitted invocation

    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        idx: usize,
        program: &str,
        argv: &[Field],
        io: &Io,
        src: &mut Src,
        st: &mut State,
        origin: &str,
        wrappers: &[String],
        n: usize,
        cwd: &Cwd,
    ) {
        let prog = program.strip_suffix(".exe").unwrap_or(program);
        let mut chain = wrappers.to_vec();
        chain.push(prog.to_string());
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
                self.nested(&text, "in `eval` argument, ", src, chain, io, Some(st), cwd);
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
                        let ch = chain.clone();
                        self.nested(&body, "in `alias` definition, ", src, ch, io, None, cwd);
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
                        self.nested(&t, "in `trap` handler, ", src, chain, io, None, cwd);
                    }
                }
            }
            "find" => self.find_exec(argv, io, src, st, origin, wrappers, n, cwd),
            "docker" | "podman" | "nerdctl" | "docker-compose" | "podman-compose" | "kubectl"
            | "oc" => self.container_exec(prog, argv, io, src, wrappers, n),
            "watch" => {
                let i = skip_opts(
                    argv,
                    1,
                    &|o| matches!(o, "-n" | "--interval" | "-q" | "--equexit"),
                    &|_| false,
                );
                if let Some(i) = i.filter(|&i| i < argv.len()) {
                    self.nested_fields(
                        idx,
                        argv.get(i..).unwrap_or_default(),
                        "in `watch` command, ",
                        src,
                        chain,
                        io,
                        cwd,
                    );
                }
            }
            "su" | "runuser" | "script" | "flock" | "sg" => {
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
                                    let mut f =
                                        argv.get(i).cloned().unwrap_or_else(|| Field::synth(""));
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
                if let Some(c) = code {
                    let what = if prog == "sg" { "sg" } else { prog };
                    let prefix = format!("in `{what} -c` argument, ");
                    self.nested_fields(idx, std::slice::from_ref(&c), &prefix, src, chain, io, cwd);
                }
            }
            "ssh" => {
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
                    let io2 = Io {
                        stdin: io.stdin.clone(),
                        stdin_dyn: io.stdin_dyn.clone(),
                        ..Io::default()
                    };
                    self.nested_fields(
                        idx,
                        argv.get(i.saturating_add(1)..).unwrap_or_default(),
                        "in `ssh` remote command, ",
                        src,
                        chain,
                        &io2,
                        &Cwd::Unknown,
                    );
                }
            }
            "parallel" => self.parallel(idx, argv, io, src, chain, cwd),
            "sed" | "gsed" => {
                let execs: Vec<crate::textexec::Exec> = crate::textexec::sed_scripts(argv)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|s| crate::textexec::sed_exec(s))
                    .collect();
                self.text_exec(idx, "in `sed` e command, ", execs, io, src, chain, cwd);
            }
            p if crate::textexec::is_awk(p) => {
                let execs: Vec<crate::textexec::Exec> = crate::textexec::awk_programs(argv)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|s| crate::textexec::awk_exec(s))
                    .collect();
                let prefix = format!("in `{p}` command, ");
                self.text_exec(idx, &prefix, execs, io, src, chain, cwd);
            }
            _ => {
                if SHELLS.contains(&prog) || self.opts.extra_shells.iter().any(|s| s == prog) {
                    self.shell(idx, prog, argv, io, src, chain, cwd);
                } else if let Some(lang) = crate::interp::lang_of(prog) {
                    self.interpreter(idx, prog, lang, argv, io, src, chain, cwd);
                } else if matches!(lower.as_str(), "powershell" | "pwsh" | "cmd") {
                    let strs: Vec<String> = argv.iter().map(|f| f.value()).collect();
                    let dynamic = argv.iter().any(|f| f.is_dynamic());
                    self.windows(idx, &lower, &strs, dynamic, io, src, chain, cwd);
                }
            }
        }
    }

    /// Commands run by a `sed`/`awk` program: literal ones parsed as nested shell code;
    /// one built at run time (or a shell/interpreter fed the program's output) makes the
    /// invocation `dynamic_exec` (its producers: the program's stdin pipe, if any).
    #[allow(clippy::too_many_arguments)]
    fn text_exec(
        &mut self,
        idx: usize,
        prefix: &str,
        execs: Vec<crate::textexec::Exec>,
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
    ) {
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
                    if first
                        .as_deref()
                        .is_some_and(|p| SHELLS.contains(&p) || crate::interp::lang_of(p).is_some())
                        && text.split_whitespace().nth(1).is_none()
                    {
                        dynamic = true;
                    }
                    let io2 = Io {
                        stdin: Stdin::Inherit,
                        stdin_dyn: None,
                        redirects: Vec::new(),
                        background: io.background,
                    };
                    self.nested(&text, prefix, src, chain.clone(), &io2, None, cwd);
                }
            }
        }
        if dynamic {
            let producers = match io.stdin {
                Stdin::Pipe { from } => vec![from],
                _ => Vec::new(),
            };
            if let Some(inv) = self.out.get_mut(idx) {
                if inv.dynamic_exec.is_none() {
                    inv.dynamic_exec = Some(producers);
                }
            }
        }
    }

    /// GNU `parallel [opts] CMD... ::: ARGS...`: each argument (a literal list of at most
    /// [`MAX_UNROLL`]) is put in place of the replacement string (`{}`, `{.}`, ..., or `-I R`)
    /// or appended, and the resulting line parsed as shell code; dynamic or many arguments
    /// (and arguments read from stdin or `::::`/`-a` files) become `$PARALLEL_ARG`. With no
    /// CMD, each argument is itself a command line.
    #[allow(clippy::too_many_arguments)]
    fn parallel(
        &mut self,
        idx: usize,
        argv: &[Field],
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
    ) {
        let mut i = 1;
        let mut replace: Option<String> = None;
        let mut arg_file = false;
        while let Some(v) = argv.get(i).and_then(|f| f.static_str()) {
            if v.starts_with(":::") {
                break;
            }
            if v == "--" {
                i = i.saturating_add(1);
                break;
            }
            if !(v.starts_with('-') && v.len() > 1) {
                break;
            }
            let name = v.split('=').next().unwrap_or(&v);
            let takes = matches!(
                name,
                "-j" | "-S"
                    | "--jobs"
                    | "--sshlogin"
                    | "-P"
                    | "--max-procs"
                    | "-n"
                    | "--max-args"
                    | "-N"
                    | "-L"
                    | "--max-lines"
                    | "--colsep"
                    | "-C"
                    | "-d"
                    | "--delimiter"
                    | "-a"
                    | "--arg-file"
                    | "-I"
                    | "--results"
                    | "--res"
                    | "--joblog"
                    | "--timeout"
                    | "--tmpdir"
                    | "-E"
                    | "--basefile"
                    | "--bf"
                    | "--workdir"
                    | "--wd"
                    | "--halt"
                    | "--delay"
                    | "--retries"
                    | "--memfree"
                    | "--load"
                    | "--sshloginfile"
                    | "--slf"
                    | "--env"
                    | "--tagstring"
                    | "--termseq"
                    | "--transferfile"
                    | "--tf"
                    | "--return"
                    | "--shell"
            ) && !v.contains('=');
            if matches!(name, "-a" | "--arg-file") {
                arg_file = true;
            }
            if name == "-I" {
                replace = argv.get(i.saturating_add(1)).map(|f| f.value());
            } else if let Some(r) = v.strip_prefix("-I").filter(|r| !r.is_empty()) {
                replace = Some(r.to_string());
            } else if let Some(r) = v.strip_prefix("--replace=") {
                replace = Some(r.to_string());
            } else if v == "-i" || v == "--replace" {
                replace = Some("{}".into());
            }
            i = i.saturating_add(if takes { 2 } else { 1 });
        }
        let rest = argv.get(i..).unwrap_or_default();
        let cmd_end = rest
            .iter()
            .position(|f| f.static_str().is_some_and(|v| v.starts_with(":::")))
            .unwrap_or(rest.len());
        let (cmd, sources) = rest.split_at(cmd_end);
        // the arguments: literal values of `:::` groups; `::::` reads files
        // (raw, quoted for a command line)
        let mut values: Vec<(String, String)> = Vec::new();
        let mut dynamic = arg_file || (sources.is_empty() && !matches!(io.stdin, Stdin::Inherit));
        let mut in_files = false;
        for f in sources {
            match f.static_str().as_deref() {
                Some(":::") | Some(":::+") => in_files = false,
                Some("::::") | Some("::::+") => {
                    in_files = true;
                    dynamic = true;
                }
                _ if in_files => {}
                _ if f.is_dynamic() => dynamic = true,
                // a glob stays a glob (the outer shell expands it to file names)
                _ if f.glob() => values.push((f.value(), f.value())),
                _ => values.push((f.value(), crate::render_argv(&[f.value()]))),
            }
        }
        if values.len() > MAX_UNROLL {
            values.clear();
            dynamic = true;
        }
        let mut lines: Vec<String> = Vec::new();
        if cmd.is_empty() {
            if sources.is_empty() {
                self.stdin_code(idx, "parallel", io, src, chain, cwd, Lang::Shell);
                return;
            }
            // each argument is a command line
            lines.extend(values.iter().map(|(raw, _)| raw.clone()));
            if dynamic {
                if let Some(inv) = self.out.get_mut(idx) {
                    inv.dynamic_exec = Some(Vec::new());
                }
            }
        } else {
            if cmd.iter().any(|f| f.is_dynamic()) {
                let p: Vec<usize> = cmd.iter().flat_map(|f| f.producers.clone()).collect();
                if let Some(inv) = self.out.get_mut(idx) {
                    inv.dynamic_exec = Some(p);
                }
            }
            let template = cmd.iter().map(|f| f.value()).collect::<Vec<_>>().join(" ");
            let place = |arg: &str| -> String {
                match &replace {
                    Some(r) if !r.is_empty() && template.contains(r.as_str()) => {
                        template.replace(r.as_str(), arg)
                    }
                    Some(_) => format!("{template} {arg}"),
                    None => {
                        let mut t = template.clone();
                        let mut hit = false;
                        for ph in PARALLEL_PLACEHOLDERS {
                            if t.contains(ph) {
                                t = t.replace(ph, arg);
                                hit = true;
                            }
                        }
                        if hit {
                            t
                        } else {
                            format!("{template} {arg}")
                        }
                    }
                }
            };
            for (_, quoted) in &values {
                lines.push(place(quoted));
            }
            if dynamic || values.is_empty() {
                lines.push(place("$PARALLEL_ARG"));
            }
        }
        for line in lines {
            if self.stopped {
                return;
            }
            self.nested(
                &line,
                "in `parallel` command, ",
                src,
                chain.clone(),
                io,
                None,
                cwd,
            );
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

    #[allow(clippy::too_many_arguments)]
    fn find_exec(
        &mut self,
        argv: &[Field],
        io: &Io,
        src: &mut Src,
        st: &mut State,
        origin: &str,
        wrappers: &[String],
        n: usize,
        _cwd: &Cwd,
    ) {
        let _ = origin;
        let mut i = 1;
        while i < argv.len() {
            let v = argv.get(i).and_then(|f| f.static_str());
            let flag = match v.as_deref() {
                Some(f @ ("-exec" | "-execdir" | "-ok" | "-okdir")) => f.to_string(),
                _ => {
                    i = i.saturating_add(1);
                    continue;
                }
            };
            let mut j = i.saturating_add(1);
            let mut cmd = Vec::new();
            while let Some(a) = argv.get(j) {
                if a.static_str().is_some_and(|v| v == ";" || v == "+") {
                    break;
                }
                if a.value().contains("{}") {
                    cmd.push(a.as_dynamic());
                } else {
                    cmd.push(a.clone());
                }
                j = j.saturating_add(1);
            }
            if !cmd.is_empty() {
                let mut chain = wrappers.to_vec();
                chain.push("find".into());
                let o = format!("{}in `find {flag}` command, simple command {n}", src.prefix);
                // `find -exec find -exec …` recurses (and each level re-emits the rest of the
                // line): bounded by the nested-shell limit
                if self.find_nesting >= self.opts.limits.max_nesting {
                    self.problem(
                        format!(
                            "`find -exec` nested deeper than {} levels",
                            self.opts.limits.max_nesting
                        ),
                        o,
                    );
                } else {
                    self.find_nesting = self.find_nesting.saturating_add(1);
                    self.emit_command(cmd, Vec::new(), io, src, st, o, chain, n);
                    self.find_nesting = self.find_nesting.saturating_sub(1);
                }
            }
            i = j.saturating_add(1);
        }
    }

    /// `docker exec CONTAINER CMD…`, `docker run IMAGE CMD…`, `docker compose exec SERVICE
    /// CMD…`, `kubectl exec POD -- CMD…` (and podman, nerdctl, oc): the command run inside is
    /// emitted as its own invocation (an argv, not a shell string), cwd unknown.
    fn container_exec(
        &mut self,
        prog: &str,
        argv: &[Field],
        io: &Io,
        src: &mut Src,
        wrappers: &[String],
        n: usize,
    ) {
        let Some((label, cmd)) = crate::containers::inner_command(prog, argv) else {
            return;
        };
        if cmd.is_empty() {
            return;
        }
        let prefix = format!("{}in `{label}` command, ", src.prefix);
        if src.nesting.saturating_add(1) > self.opts.limits.max_nesting {
            self.problem(
                format!(
                    "nested shells deeper than {} levels",
                    self.opts.limits.max_nesting
                ),
                where_of(&prefix),
            );
            return;
        }
        let mut chain = wrappers.to_vec();
        chain.push(prog.to_string());
        let origin = format!("{prefix}simple command {n}");
        // stdin is forwarded (`-i`); redirections belong to the outer command
        let io2 = Io {
            stdin: io.stdin.clone(),
            stdin_dyn: io.stdin_dyn.clone(),
            ..Io::default()
        };
        let mut nsrc = Src {
            prefix,
            counter: 0,
            nesting: src.nesting.saturating_add(1),
            heredocs: src.heredocs.clone(),
            chain: chain.clone(),
            posix: src.posix,
        };
        let mut st = State::with_cwd(Cwd::Unknown);
        self.emit_command(cmd, Vec::new(), &io2, &mut nsrc, &mut st, origin, chain, n);
    }

    #[allow(clippy::too_many_arguments)]
    fn shell(
        &mut self,
        idx: usize,
        prog: &str,
        argv: &[Field],
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
    ) {
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
            if let Some(rest) = v.strip_prefix("--command=") {
                let _ = rest;
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
        // the code this shell runs follows its own grammar
        self.posix_next = Some(POSIX_SHELLS.contains(&prog));
        self.shell_code(
            idx, prog, argv, i, has_c, read_stdin, code, io, src, chain, cwd,
        );
        self.posix_next = None;
    }

    #[allow(clippy::too_many_arguments)]
    fn shell_code(
        &mut self,
        idx: usize,
        prog: &str,
        argv: &[Field],
        i: usize,
        has_c: bool,
        read_stdin: bool,
        code: Option<Field>,
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
    ) {
        if let Some(c) = code {
            let prefix = format!("in `{prog} -c` argument, ");
            self.nested_fields(idx, std::slice::from_ref(&c), &prefix, src, chain, io, cwd);
        } else if !has_c && (i >= argv.len() || read_stdin) {
            self.stdin_code(idx, prog, io, src, chain, cwd, Lang::Shell);
        } else if let Some(f) = argv.get(i).filter(|f| f.is_dynamic()) {
            if let Some(text) = self.literal_substitution(f) {
                // `bash <(echo 'ls')`: the script is literal text
                let how = format!("in process substitution fed to `{prog}`, ");
                self.nested(&text, &how, src, chain, io, None, cwd);
            } else if let Some(inv) = self.out.get_mut(idx) {
                // `bash <(curl ...)`: the script is only known at run time
                inv.dynamic_exec = Some(f.producers.clone());
            }
        }
    }

    /// Parse the joined values of `fields` as shell code in a nested shell.
    #[allow(clippy::too_many_arguments)]
    fn nested_fields(
        &mut self,
        idx: usize,
        fields: &[Field],
        prefix: &str,
        src: &mut Src,
        chain: Vec<String>,
        io: &Io,
        cwd: &Cwd,
    ) {
        let text = fields
            .iter()
            .map(|f| f.value())
            .collect::<Vec<_>>()
            .join(" ");
        if fields.iter().any(|f| f.is_dynamic()) {
            let p: Vec<usize> = fields.iter().flat_map(|f| f.producers.clone()).collect();
            if let Some(inv) = self.out.get_mut(idx) {
                inv.dynamic_exec = Some(p);
            }
        }
        self.nested(&text, prefix, src, chain, io, None, cwd);
    }

    #[allow(clippy::too_many_arguments)]
    fn nested(
        &mut self,
        text: &str,
        prefix: &str,
        src: &mut Src,
        chain: Vec<String>,
        io: &Io,
        shared: Option<&mut State>,
        cwd: &Cwd,
    ) {
        let prefix = format!("{}{}", src.prefix, prefix);
        if src.nesting.saturating_add(1) > self.opts.limits.max_nesting {
            self.problem(
                format!(
                    "nested shells deeper than {} levels",
                    self.opts.limits.max_nesting
                ),
                where_of(&prefix),
            );
            return;
        }
        if !self.spend(text.len()) {
            return;
        }
        let mode = self.posix_next.take().unwrap_or(src.posix);
        let saved = std::mem::replace(&mut self.posix, mode);
        match shared {
            Some(st) => self.run_source(text, prefix, src.nesting.saturating_add(1), chain, io, st),
            None => {
                let mut st = State::with_cwd(cwd.clone());
                self.run_source(
                    text,
                    prefix,
                    src.nesting.saturating_add(1),
                    chain,
                    io,
                    &mut st,
                )
            }
        }
        self.posix = saved;
    }

    /// The program reads code from its standard input.
    #[allow(clippy::too_many_arguments)]
    fn stdin_code(
        &mut self,
        idx: usize,
        prog: &str,
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
        lang: Lang,
    ) {
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
        match lang {
            Lang::Shell => self.nested(&text, &format!("{how}, "), src, chain, &io2, None, cwd),
            Lang::Code(l) => self.scan_code(idx, prog, l, &text, &how, src, chain, &io2, cwd),
        }
    }

    /// The text a process substitution `<(echo …)` produces, when it is a single literal
    /// `echo`/`printf`.
    fn literal_substitution(&self, f: &Field) -> Option<String> {
        match f.producers.as_slice() {
            [p] if f.value() == "<(…)" => self.literal_output(*p),
            _ => None,
        }
    }

    /// Output of an `echo`/`printf` of literals (or `cat` of a static heredoc).
    fn literal_output(&self, i: usize) -> Option<String> {
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

    // -----------------------------------------------------------------------------------
    // Interpreters and Windows payloads

    #[allow(clippy::too_many_arguments)]
    fn interpreter(
        &mut self,
        idx: usize,
        prog: &str,
        lang: crate::interp::Lang,
        argv: &[Field],
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
    ) {
        match crate::interp::code_args(lang, argv) {
            crate::interp::CodeArgs::Code(flag, fields) => {
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
                self.scan_code(idx, prog, lang, &code, &how, src, chain, io, cwd);
            }
            crate::interp::CodeArgs::Stdin => {
                self.stdin_code(idx, prog, io, src, chain, cwd, Lang::Code(lang));
            }
            crate::interp::CodeArgs::Script(i) => {
                // `python3 <(curl …)`: the script is the output of a process substitution
                if let Some(f) = argv
                    .get(i)
                    .filter(|f| f.is_dynamic() && f.value().starts_with("<("))
                {
                    match self.literal_substitution(f) {
                        Some(code) => {
                            let how = format!("in process substitution fed to `{prog}`");
                            self.scan_code(idx, prog, lang, &code, &how, src, chain, io, cwd);
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
            crate::interp::CodeArgs::None => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_code(
        &mut self,
        idx: usize,
        prog: &str,
        lang: crate::interp::Lang,
        code: &str,
        how: &str,
        src: &mut Src,
        chain: Vec<String>,
        io: &Io,
        cwd: &Cwd,
    ) {
        let _ = idx;
        if src.nesting.saturating_add(1) > self.opts.limits.max_nesting {
            self.problem(
                format!(
                    "nested shells deeper than {} levels",
                    self.opts.limits.max_nesting
                ),
                format!("{}{how}", src.prefix),
            );
            return;
        }
        for ex in crate::interp::scan(lang, code) {
            if self.stopped {
                return;
            }
            let origin = format!("{}{how}: {}(...)", src.prefix, ex.callee);
            match ex.kind {
                crate::interp::Kind::Shell(s) => {
                    let p = format!("{how}: {}(...), ", ex.callee);
                    self.nested(&s, &p, src, chain.clone(), io, None, cwd);
                }
                crate::interp::Kind::Argv(v) => {
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
                    let mut nsrc = Src {
                        prefix: format!("{origin}, "),
                        counter: 0,
                        nesting: src.nesting.saturating_add(1),
                        heredocs: Rc::new(Vec::new()),
                        chain: chain.clone(),
                        posix: src.posix,
                    };
                    let mut st = State::with_cwd(cwd.clone());
                    self.emit_command(
                        fields,
                        Vec::new(),
                        io,
                        &mut nsrc,
                        &mut st,
                        origin,
                        chain.clone(),
                        1,
                    );
                }
                crate::interp::Kind::NonLiteral => {
                    let first = how.trim_start_matches("in ");
                    self.problem(
                        format!("{first} runs a shell command built at run time"),
                        origin,
                    );
                }
            }
        }
        let _ = prog;
    }

    #[allow(clippy::too_many_arguments)]
    fn windows(
        &mut self,
        idx: usize,
        kind: &str,
        argv: &[String],
        dynamic: bool,
        io: &Io,
        src: &mut Src,
        chain: Vec<String>,
        cwd: &Cwd,
    ) {
        let Some((script, label)) = crate::windows::script_of(kind, argv) else {
            return;
        };
        if dynamic {
            if let Some(x) = self.out.get_mut(idx) {
                x.dynamic_exec = Some(Vec::new());
            }
        }
        if src.nesting.saturating_add(1) > self.opts.limits.max_nesting {
            self.problem(
                format!(
                    "nested shells deeper than {} levels",
                    self.opts.limits.max_nesting
                ),
                format!("{}in `{label}` script", src.prefix),
            );
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
        let mut nsrc = Src {
            prefix: format!("{}in `{label}` script, ", src.prefix),
            counter: 0,
            nesting: src.nesting.saturating_add(1),
            heredocs: Rc::new(Vec::new()),
            chain: chain.clone(),
            posix: src.posix,
        };
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
            let origin = format!("{}command {}", nsrc.prefix, k.saturating_add(1));
            let Some(i) = self.push_inv(
                fields,
                program.clone(),
                false,
                chain.clone(),
                origin,
                cwd.clone(),
                &io2,
                Vec::new(),
                nsrc.nesting,
            ) else {
                return;
            };
            prev = Some(i);
            emitted.push((i, c.stmt));
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
                        let mut ch = chain.clone();
                        ch.push("start-process".into());
                        let a = vec!["powershell".to_string(), "-Command".into(), line];
                        self.windows(i, "powershell", &a, false, &io2, &mut nsrc, ch, cwd);
                    }
                }
                "iex" | "invoke-expression" => {
                    if c.argv.len() > 1 {
                        let text = c.argv.get(1..).unwrap_or_default().join(" ");
                        let mut ch = chain.clone();
                        ch.push("powershell".into());
                        let a = vec!["powershell".to_string(), "-Command".into(), text];
                        self.windows(i, "powershell", &a, false, &io2, &mut nsrc, ch, cwd);
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
                    let mut ch = chain.clone();
                    ch.push(program.clone());
                    self.windows(i, &program, &c.argv, false, &io2, &mut nsrc, ch, cwd);
                }
                _ => {
                    if c.argv.len() > 2 && SHELLS.contains(&program.as_str()) {
                        // `bash -c '...'` inside a Windows payload (WSL, git-bash)
                        let fields: Vec<Field> = c.argv.iter().map(|s| Field::synth(s)).collect();
                        let mut ch = chain.clone();
                        ch.push(program.clone());
                        self.shell(i, &program, &fields, &io2, &mut nsrc, ch, cwd);
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

#[derive(Clone, Copy)]
enum Lang {
    Shell,
    Code(crate::interp::Lang),
}

impl Fl<'_> {
    /// Expand a word to a single field (no splitting, no brace expansion).
    fn expand_one(&mut self, w: &Word, src: &mut Src, st: &mut State, io: &Io, sub: &str) -> Field {
        let mut v = self.expand(w, src, st, io, sub, false);
        if v.is_empty() {
            Field::default()
        } else {
            v.swap_remove(0)
        }
    }

    fn expand(
        &mut self,
        w: &Word,
        src: &mut Src,
        st: &mut State,
        io: &Io,
        sub: &str,
        split: bool,
    ) -> Vec<Field> {
        if split && has_brace(w) {
            if let Some(alts) = brace_expand(w) {
                let mut out = Vec::new();
                for alt in alts {
                    out.extend(self.expand_toks(&alt, w.quoted, src, st, io, sub, true));
                }
                return out;
            }
            self.problem("brace expansion too large".into(), where_of(&src.prefix));
        }
        let toks: Vec<Tok> = w
            .parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => Tok::Text(Cow::Borrowed(s.as_str())),
                p => Tok::Part(p),
            })
            .collect();
        self.expand_toks(&toks, w.quoted, src, st, io, sub, split)
    }

    #[allow(clippy::too_many_arguments)]
    fn expand_toks(
        &mut self,
        toks: &[Tok],
        quoted: bool,
        src: &mut Src,
        st: &mut State,
        io: &Io,
        sub: &str,
        split: bool,
    ) -> Vec<Field> {
        let mut fb = FieldBuilder::new();
        if quoted {
            fb.cur.quoted = true;
        }
        for t in toks {
            if self.stopped {
                break;
            }
            match t {
                Tok::Text(s) => fb.lit(s, false),
                Tok::Open => fb.lit("{", false),
                Tok::Comma => fb.lit(",", false),
                Tok::Close => fb.lit("}", false),
                Tok::Part(p) => self.expand_part(p, &mut fb, src, st, io, sub, split),
            }
        }
        fb.finish();
        let mut fields = fb.fields;
        if !split && fields.is_empty() {
            fields.push(Field {
                quoted,
                ..Field::default()
            });
        }
        if quoted {
            for f in &mut fields {
                f.quoted = true;
            }
        }
        fields
    }

    #[allow(clippy::too_many_arguments)]
    fn expand_part(
        &mut self,
        p: &Part,
        fb: &mut FieldBuilder,
        src: &mut Src,
        st: &mut State,
        io: &Io,
        sub: &str,
        split: bool,
    ) {
        match p {
            Part::Lit(s) => fb.lit(s, false),
            Part::Quoted(s) => fb.lit(s, true),
            Part::Tilde(user) => {
                if user.is_empty() {
                    match st.vars.get("HOME") {
                        Some(Var::Known(h)) => {
                            let h = h.clone();
                            fb.lit(&h, true)
                        }
                        Some(Var::Unknown(p)) => {
                            let p = p.clone();
                            fb.dynamic("$HOME", &p)
                        }
                        None => fb.lit("~", false),
                    }
                } else {
                    fb.lit(&format!("~{user}"), false);
                }
            }
            Part::Param {
                name,
                op,
                operand,
                quoted,
            } => {
                let mut producers = Vec::new();
                if let Some(o) = operand {
                    for f in self.expand(o, src, st, io, sub, false) {
                        producers.extend(f.producers);
                    }
                }
                let var = st.vars.get(name.as_str()).cloned();
                match (var, *op) {
                    (None, false) if name == "HOME" && fb.at_start() => fb.lit("~", false),
                    (Some(Var::Known(v)), false) => {
                        if !self.spend(v.len()) {
                            return;
                        }
                        if *quoted || !split {
                            fb.lit(&v, true);
                        } else if st.vars.contains_key("IFS") {
                            fb.dynamic(&format!("${name}"), &[]);
                        } else {
                            fb.split(&v);
                        }
                    }
                    (Some(Var::Unknown(p)), _) => {
                        producers.extend(p);
                        fb.dynamic(&format!("${name}"), &producers)
                    }
                    _ => fb.dynamic(&format!("${name}"), &producers),
                }
            }
            Part::CmdSub { body, quoted } => {
                let before = self.out.len();
                let m = st.mark();
                let mut nsrc = Src {
                    prefix: sub.to_string(),
                    counter: 0,
                    nesting: src.nesting,
                    heredocs: src.heredocs.clone(),
                    chain: src.chain.clone(),
                    posix: src.posix,
                };
                self.program(body, &mut nsrc, st, io);
                st.restore(m);
                let after = self.out.len();
                let lit = if after == before.saturating_add(1) {
                    self.literal_output(before)
                } else {
                    None
                };
                match lit {
                    Some(t) => {
                        let t = t.trim_end_matches('\n');
                        if *quoted || !split {
                            fb.lit(t, true);
                        } else {
                            fb.split(t);
                        }
                    }
                    None => {
                        let producers: Vec<usize> = (before..after).collect();
                        fb.dynamic("$(…)", &producers);
                    }
                }
            }
            Part::Arith { inner } => {
                let mut producers = Vec::new();
                for f in self.expand(inner, src, st, io, sub, false) {
                    producers.extend(f.producers);
                }
                fb.dynamic("$((…))", &producers);
            }
            Part::ProcSub { out, body } => {
                let before = self.out.len();
                let m = st.mark();
                let mut nsrc = Src {
                    prefix: sub.replacen("in command substitution", "in process substitution", 1),
                    counter: 0,
                    nesting: src.nesting,
                    heredocs: src.heredocs.clone(),
                    chain: src.chain.clone(),
                    posix: src.posix,
                };
                let io2 = if *out {
                    Io {
                        stdin: Stdin::Inherit,
                        ..io.clone()
                    }
                } else {
                    io.clone()
                };
                self.program(body, &mut nsrc, st, &io2);
                st.restore(m);
                let producers: Vec<usize> = (before..self.out.len()).collect();
                fb.dynamic(if *out { ">(…)" } else { "<(…)" }, &producers);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Brace expansion

#[derive(Clone, Debug)]
enum Tok<'a> {
    Text(Cow<'a, str>),
    Open,
    Comma,
    Close,
    Part(&'a Part),
}

const MAX_BRACE: usize = 256;

fn has_brace(w: &Word) -> bool {
    w.parts
        .iter()
        .any(|p| matches!(p, Part::Lit(s) if s.contains('{')))
}

fn brace_expand(w: &Word) -> Option<Vec<Vec<Tok<'_>>>> {
    let mut toks = Vec::new();
    for p in &w.parts {
        match p {
            Part::Lit(s) => {
                let mut start = 0;
                for (i, c) in s.char_indices() {
                    let t = match c {
                        '{' => Tok::Open,
                        ',' => Tok::Comma,
                        '}' => Tok::Close,
                        _ => continue,
                    };
                    if i > start {
                        toks.push(Tok::Text(Cow::Borrowed(&s[start..i])));
                    }
                    toks.push(t);
                    start = i.saturating_add(1);
                }
                if start < s.len() {
                    toks.push(Tok::Text(Cow::Borrowed(&s[start..])));
                }
            }
            p => toks.push(Tok::Part(p)),
        }
    }
    let mut out = Vec::new();
    if brace_rec(toks, &mut out, 0) {
        Some(out)
    } else {
        None
    }
}

fn brace_rec<'a>(toks: Vec<Tok<'a>>, out: &mut Vec<Vec<Tok<'a>>>, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    // find the first `{` with a matching `}` and a top-level `,` (or a sequence)
    for (i, t) in toks.iter().enumerate() {
        if !matches!(t, Tok::Open) {
            continue;
        }
        let mut d = 0usize;
        let mut commas = Vec::new();
        let mut close = None;
        for (j, t) in toks.iter().enumerate().skip(i.saturating_add(1)) {
            match t {
                Tok::Open => d = d.saturating_add(1),
                Tok::Close if d == 0 => {
                    close = Some(j);
                    break;
                }
                Tok::Close => d = d.saturating_sub(1),
                Tok::Comma if d == 0 => commas.push(j),
                _ => {}
            }
        }
        let Some(close) = close else { continue };
        let alts: Vec<Vec<Tok<'a>>> = if commas.is_empty() {
            match seq_alts(toks.get(i.saturating_add(1)..close).unwrap_or_default()) {
                Some(v) => v
                    .into_iter()
                    .map(|s| vec![Tok::Text(Cow::Owned(s))])
                    .collect(),
                None => continue,
            }
        } else {
            let mut v = Vec::new();
            let mut s = i.saturating_add(1);
            for &c in commas.iter().chain(std::iter::once(&close)) {
                v.push(toks.get(s..c).unwrap_or_default().to_vec());
                s = c.saturating_add(1);
            }
            v
        };
        for alt in alts {
            let mut t = toks.get(..i).unwrap_or_default().to_vec();
            t.extend(alt);
            t.extend_from_slice(toks.get(close.saturating_add(1)..).unwrap_or_default());
            if !brace_rec(t, out, depth.saturating_add(1)) {
                return false;
            }
            if out.len() > MAX_BRACE {
                return false;
            }
        }
        return true;
    }
    out.push(toks);
    out.len() <= MAX_BRACE
}

/// The words of a sequence expression `{a..b}` / `{a..b..step}` (integers or single
/// letters). Any i64 bounds and step are handled without overflow (a step's sign is ignored,
/// as bash does); more than `MAX_BRACE` words yield `MAX_BRACE + 1` placeholders so the
/// caller's cap trips.
fn seq_alts(inner: &[Tok]) -> Option<Vec<String>> {
    let [Tok::Text(t)] = inner else { return None };
    let parts: Vec<&str> = t.split("..").collect();
    let (first, last, step) = match parts.as_slice() {
        [a, b] => (*a, *b, 1u64),
        [a, b, s] => (*a, *b, s.parse::<i64>().ok()?.unsigned_abs().max(1)),
        _ => return None,
    };
    if let (Ok(a), Ok(b)) = (first.parse::<i64>(), last.parse::<i64>()) {
        let count = a
            .abs_diff(b)
            .checked_div(step)
            .unwrap_or(0)
            .saturating_add(1);
        if count > MAX_BRACE as u64 {
            return Some(vec![String::new(); MAX_BRACE.saturating_add(1)]);
        }
        let mut v = Vec::new();
        let mut x = a;
        for _ in 0..count {
            v.push(x.to_string());
            // the step after the last word may leave the i64 range: stop there
            let next = if a <= b {
                x.checked_add_unsigned(step)
            } else {
                x.checked_sub_unsigned(step)
            };
            match next {
                Some(n) => x = n,
                None => break,
            }
        }
        return Some(v);
    }
    let step = usize::try_from(step).unwrap_or(usize::MAX);
    match (first.as_bytes(), last.as_bytes()) {
        ([x], [y]) if x.is_ascii_alphabetic() && y.is_ascii_alphabetic() => {
            let (x, y) = (*x, *y);
            let range: Vec<u8> = if x <= y {
                (x..=y).step_by(step).collect()
            } else {
                (y..=x).rev().step_by(step).collect()
            };
            Some(
                range
                    .into_iter()
                    .map(|c| char::from(c).to_string())
                    .collect(),
            )
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

fn var_of(f: &Field) -> Var {
    if f.is_dynamic() {
        Var::Unknown(f.producers.clone())
    } else {
        Var::Known(f.value())
    }
}

fn strip_prefix_field(f: &mut Field, n: usize) {
    let mut left = n;
    let mut segs = Vec::new();
    for s in std::mem::take(&mut f.segs) {
        if left == 0 {
            segs.push(s);
            continue;
        }
        match s {
            Seg::Lit(t, q) => {
                if t.len() <= left {
                    left = left.saturating_sub(t.len());
                } else {
                    let cut = (left..=t.len())
                        .find(|&i| t.is_char_boundary(i))
                        .unwrap_or(t.len());
                    segs.push(Seg::Lit(t[cut..].to_string(), q));
                    left = 0;
                }
            }
            d => {
                left = 0;
                segs.push(d);
            }
        }
    }
    f.segs = segs;
}

/// Longer paths become `Unknown` (keeps per-invocation cost bounded; PATH_MAX).
const MAX_CWD: usize = 4096;

pub(crate) fn join_cwd(cur: &Cwd, v: &str) -> Cwd {
    match join_cwd_inner(cur, v) {
        Cwd::Known(p) if p.len() > MAX_CWD => Cwd::Unknown,
        c => c,
    }
}

fn join_cwd_inner(cur: &Cwd, v: &str) -> Cwd {
    if v.starts_with('/') || v == "~" || v.starts_with("~/") {
        return Cwd::Known(normalize(v));
    }
    if v.starts_with('~') {
        return Cwd::Known(normalize(v));
    }
    match cur {
        Cwd::Initial => Cwd::Known(normalize(v)),
        Cwd::Known(p) => Cwd::Known(normalize(&format!("{p}/{v}"))),
        Cwd::Unknown => Cwd::Unknown,
    }
}

fn normalize(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(l) if *l != ".." && !(parts.len() == 1 && l.starts_with('~')))
                {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let j = parts.join("/");
    if abs {
        format!("/{j}")
    } else if j.is_empty() {
        ".".into()
    } else {
        j
    }
}

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

/// `flock [opts] FILE -c CMD` (util-linux stops at the first non-option; `-c`/`--command`
/// is only recognised right after FILE): the index of CMD.
fn flock_code(argv: &[Field]) -> Option<usize> {
    let takes = |o: &str| {
        matches!(
            o,
            "-w" | "-E" | "--timeout" | "--wait" | "--conflict-exit-code"
        )
    };
    let file = skip_opts(argv, 1, &takes, &|_| false)?;
    let flag = argv.get(file.checked_add(1)?)?.static_str()?;
    if flag == "-c" || flag == "--command" {
        file.checked_add(2).filter(|&k| k < argv.len())
    } else {
        None
    }
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

struct BSpec {
    name: &'static str,
    val: &'static [&'static str],
    stop: &'static [&'static str],
    skip: usize,
}

const BUILTIN_WRAPPERS: &[BSpec] = &[
    BSpec {
        name: "sudo",
        val: &[
            "-u",
            "-g",
            "-h",
            "-p",
            "-C",
            "-D",
            "-r",
            "-t",
            "-U",
            "-T",
            "-R",
            "--user",
            "--group",
            "--host",
            "--prompt",
            "--close-from",
            "--chdir",
            "--role",
            "--type",
            "--other-user",
            "--command-timeout",
            "--chroot",
        ],
        stop: &[
            "-e",
            "-l",
            "-v",
            "-V",
            "-K",
            "--edit",
            "--list",
            "--validate",
            "--version",
            "--remove-timestamp",
            "--help",
        ],
        skip: 0,
    },
    BSpec {
        name: "doas",
        val: &["-u", "-C"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "pkexec",
        val: &["--user"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "nice",
        val: &["-n", "--adjustment"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "ionice",
        val: &["-c", "-n", "--class", "--classdata"],
        stop: &["-p", "-P", "-u", "--pid", "--pgid", "--uid"],
        skip: 0,
    },
    BSpec {
        name: "time",
        val: &["-f", "-o", "--format", "--output"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "timeout",
        val: &["-s", "-k", "--signal", "--kill-after"],
        stop: &[],
        skip: 1,
    },
    BSpec {
        name: "builtin",
        val: &[],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "exec",
        val: &["-a"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "nohup",
        val: &[],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "stdbuf",
        val: &["-i", "-o", "-e", "--input", "--output", "--error"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "setsid",
        val: &[],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "chronic",
        val: &[],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "caffeinate",
        val: &["-t", "-w"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "flock",
        val: &["-w", "-E", "--timeout", "--wait", "--conflict-exit-code"],
        stop: &[],
        skip: 1,
    },
    BSpec {
        name: "chroot",
        val: &["--userspec", "--groups"],
        stop: &[],
        skip: 1,
    },
    BSpec {
        name: "strace",
        val: &[
            "-e", "-o", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-X", "-P",
        ],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "ltrace",
        val: &[
            "-e", "-o", "-p", "-s", "-u", "-a", "-n", "-A", "-D", "-F", "-l", "-w", "-x",
        ],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "unbuffer",
        val: &[],
        stop: &[],
        skip: 0,
    },
    BSpec {
        // nsenter [opts] [CMD...]; `-m`/`-u`/... take an optional value only as `--mount=F`
        name: "nsenter",
        val: &[
            "-t",
            "--target",
            "-S",
            "--setuid",
            "-G",
            "--setgid",
            "-W",
            "--wdns",
            "-N",
            "--net-socket",
        ],
        stop: &[],
        skip: 0,
    },
    BSpec {
        // taskset [-a] [-c] MASK|LIST CMD...; `-p` works on an existing process
        name: "taskset",
        val: &[],
        stop: &["-p", "--pid"],
        skip: 1,
    },
    BSpec {
        name: "runuser",
        val: &["-u", "-g", "-G", "--user", "--group", "--supp-group"],
        stop: &["-c", "--command", "-l", "--login"],
        skip: 0,
    },
    BSpec {
        name: "torsocks",
        val: &[],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "proxychains",
        val: &["-f"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "proxychains4",
        val: &["-f"],
        stop: &[],
        skip: 0,
    },
    BSpec {
        name: "systemd-run",
        val: &[
            "-p",
            "--property",
            "-u",
            "--unit",
            "--uid",
            "--gid",
            "-E",
            "--setenv",
            "--working-directory",
            "-M",
            "--machine",
            "--slice",
            "--description",
        ],
        stop: &[],
        skip: 0,
    },
];

/// Skip options of a wrapper; returns the index of the first non-option argument, or `None`
/// if a stop option (one that means "no command follows") is present.
pub(crate) fn skip_opts(
    argv: &[Field],
    mut i: usize,
    takes_value: &dyn Fn(&str) -> bool,
    stop: &dyn Fn(&str) -> bool,
) -> Option<usize> {
    while i < argv.len() {
        let Some(v) = argv.get(i).and_then(|f| f.static_str()) else {
            return Some(i);
        };
        if v == "--" {
            return Some(i.saturating_add(1));
        }
        if let Some(long) = v.strip_prefix("--") {
            let _ = long;
            let name = v.split('=').next().unwrap_or(&v);
            if stop(name) {
                return None;
            }
            i = i.saturating_add(if !v.contains('=') && takes_value(name) {
                2
            } else {
                1
            });
            continue;
        }
        if v.starts_with('-') && v.len() > 1 {
            if takes_value(&v) {
                i = i.saturating_add(2);
                continue;
            }
            let mut next = false;
            let body = &v[1..];
            for (j, c) in body.char_indices() {
                let mut buf = [0u8; 4];
                let opt = format!("-{}", c.encode_utf8(&mut buf));
                if stop(&opt) {
                    return None;
                }
                if takes_value(&opt) {
                    next = j.saturating_add(c.len_utf8()) == body.len();
                    break;
                }
            }
            i = i.saturating_add(if next { 2 } else { 1 });
            continue;
        }
        return Some(i);
    }
    Some(i)
}

fn unwrap_env(
    argv: &[Field],
    assigns: &mut Vec<(String, String)>,
    cwd: &mut Cwd,
) -> Option<Vec<Field>> {
    let mut argv = argv.to_vec();
    let mut i = 1;
    let mut guard: i32 = 0;
    while i < argv.len() && guard < 256 {
        guard = guard.saturating_add(1);
        let Some(v) = argv.get(i).and_then(|f| f.static_value()) else {
            break;
        };
        let split_at = |argv: &mut Vec<Field>, i: usize, s: Option<Field>, consumed: usize| {
            let repl: Vec<Field> = match s {
                Some(f) if !f.is_dynamic() => {
                    f.value().split_whitespace().map(Field::synth).collect()
                }
                Some(f) => vec![f],
                None => Vec::new(),
            };
            let end = i.saturating_add(consumed).min(argv.len());
            argv.splice(i..end, repl);
        };
        match v.as_str() {
            "--" => {
                i = i.saturating_add(1);
                break;
            }
            "-i" | "-" | "-0" | "-v" | "--ignore-environment" | "--null" | "--debug" => {
                i = i.saturating_add(1)
            }
            "-u" | "--unset" => i = i.saturating_add(2),
            "-C" | "--chdir" => {
                if let Some(d) = argv.get(i.saturating_add(1)) {
                    *cwd = match d.static_value() {
                        Some(d) => join_cwd(cwd, &d),
                        None => Cwd::Unknown,
                    };
                }
                i = i.saturating_add(2);
            }
            "-S" | "--split-string" => {
                let s = argv.get(i.saturating_add(1)).cloned();
                split_at(&mut argv, i, s, 2);
            }
            s if s.starts_with("--split-string=") => {
                let mut f = argv.get(i).cloned().unwrap_or_default();
                strip_prefix_field(&mut f, "--split-string=".len());
                split_at(&mut argv, i, Some(f), 1);
            }
            s if s.starts_with("-S") => {
                let mut f = argv.get(i).cloned().unwrap_or_default();
                strip_prefix_field(&mut f, 2);
                split_at(&mut argv, i, Some(f), 1);
            }
            s if s.starts_with("--chdir=") || (s.starts_with("-C") && s.len() > 2) => {
                let d = if let Some(d) = s.strip_prefix("--chdir=") {
                    d
                } else {
                    &s[2..]
                };
                *cwd = join_cwd(cwd, d);
                i = i.saturating_add(1);
            }
            s if s.starts_with('-') && s.len() > 1 => i = i.saturating_add(1),
            s => {
                if let Some((name, val)) = s.split_once('=') {
                    if is_name(name) {
                        assigns.push((name.to_string(), val.to_string()));
                        i = i.saturating_add(1);
                        continue;
                    }
                }
                break;
            }
        }
    }
    // dynamic assignment-like args (`env X=$Y cmd`)
    while i < argv.len() {
        let v = argv.get(i).map(|f| f.value()).unwrap_or_default();
        match v.split_once('=') {
            Some((name, val)) if is_name(name) && argv.get(i).is_some_and(|f| f.is_dynamic()) => {
                assigns.push((name.to_string(), val.to_string()));
                i = i.saturating_add(1);
            }
            _ => break,
        }
    }
    if i < argv.len() {
        Some(argv.get(i..).unwrap_or_default().to_vec())
    } else {
        None
    }
}

fn unwrap_xargs(argv: &[Field]) -> Option<Vec<Field>> {
    let takes = |o: &str| {
        matches!(
            o,
            "-E" | "-I"
                | "-L"
                | "-n"
                | "-P"
                | "-s"
                | "-d"
                | "-a"
                | "--max-args"
                | "--max-procs"
                | "--max-chars"
                | "--delimiter"
                | "--arg-file"
                | "--eof"
                | "--max-lines"
                | "--process-slot-var"
        )
    };
    let mut i = 1;
    let mut replace: Option<String> = None;
    while i < argv.len() {
        let Some(v) = argv.get(i).and_then(|f| f.static_value()) else {
            break;
        };
        if v == "--" {
            i = i.saturating_add(1);
            break;
        }
        if v == "-I" {
            replace = argv.get(i.saturating_add(1)).map(|f| f.value());
            i = i.saturating_add(2);
            continue;
        }
        if v == "-i" || v == "--replace" {
            replace = Some("{}".into());
            i = i.saturating_add(1);
            continue;
        }
        if let Some(r) = v.strip_prefix("--replace=") {
            replace = Some(r.to_string());
            i = i.saturating_add(1);
            continue;
        }
        if v.starts_with("-I") && v.len() > 2 {
            replace = Some(v[2..].to_string());
            i = i.saturating_add(1);
            continue;
        }
        if v.starts_with("-i") && v.len() > 2 {
            replace = Some(v[2..].to_string());
            i = i.saturating_add(1);
            continue;
        }
        if v.starts_with("--") {
            i = i.saturating_add(if !v.contains('=') && takes(&v) { 2 } else { 1 });
            continue;
        }
        if v.starts_with('-') && v.len() > 1 {
            if takes(&v) {
                i = i.saturating_add(2);
                continue;
            }
            let mut next = false;
            let body = &v[1..];
            for (j, c) in body.char_indices() {
                let opt = format!("-{c}");
                if takes(&opt) {
                    next = j.saturating_add(c.len_utf8()) == body.len();
                    break;
                }
            }
            i = i.saturating_add(if next { 2 } else { 1 });
            continue;
        }
        break;
    }
    let mut cmd: Vec<Field> = if i < argv.len() {
        argv.get(i..).unwrap_or_default().to_vec()
    } else {
        vec![Field::synth("echo")]
    };
    match replace {
        Some(r) if !r.is_empty() => {
            for f in cmd.iter_mut().skip(1) {
                if f.value().contains(&r) {
                    *f = f.as_dynamic();
                }
            }
            if cmd.first().is_some_and(|f| f.value().contains(&r)) {
                if let Some(f) = cmd.first_mut() {
                    *f = f.as_dynamic();
                }
            }
        }
        _ => cmd.push(Field::dynamic("$XARGS", Vec::new())),
    }
    Some(cmd)
}
