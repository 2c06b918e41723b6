//! Flattening: walk the AST, expand words statically, look through wrappers and nested
//! shells, and produce [`Invocation`]s.
//!
//! - `walk`: programs, pipelines, compound and simple commands, redirections, recording an
//!   invocation (and the fork-bomb checks on function definitions);
//! - `expand`: static word expansion (parameters, substitutions, brace expansion);
//! - `builtins`: what a recorded invocation does that the walk must know — `cd`, variables,
//!   `eval`, `trap`, ... — dispatching every other program to the modules below;
//! - `wrappers`: programs that run their arguments as a command (`sudo`, `env`, `xargs`, the
//!   built-in table) and runners that build commands (`find -exec`, `docker exec`,
//!   `parallel`);
//! - `nested`: shell code in strings and streams (`bash -c`, `su -c`, `ssh`, piped text,
//!   heredocs, `sed`/`awk` commands);
//! - `foreign`: code in other languages (interpreter one-liners, PowerShell and `cmd`);
//! - `field`, `state`: expanded words, and variables / working directory along the way.

mod builtins;
mod expand;
mod field;
mod foreign;
mod nested;
mod state;
mod walk;
mod wrappers;

use std::rc::Rc;

pub(crate) use field::{Field, Seg};
pub(crate) use wrappers::skip_opts;

use crate::parse::{self, HereDoc};
use crate::{Analysis, AnalyzeOptions, Cwd, Invocation, Problem, Redirect, Stdin};
use state::State;

/// The source text being walked.
struct Src {
    /// Provenance of everything in it (`"in `bash -c` argument, "`).
    prefix: String,
    /// Simple commands seen so far (numbers them in origins).
    counter: usize,
    /// Nested-shell depth.
    nesting: usize,
    heredocs: Rc<Vec<HereDoc>>,
    /// Wrappers and shells it runs behind.
    chain: Vec<String>,
    /// Parsed with POSIX sh rules (`sh -c`, `dash -c`): nested text inherits it.
    posix: bool,
}

impl Src {
    /// Code inside this source (a substitution): its heredocs, nesting, chain and mode.
    fn inner(&self, prefix: String) -> Src {
        Src {
            prefix,
            counter: 0,
            nesting: self.nesting,
            heredocs: self.heredocs.clone(),
            chain: self.chain.clone(),
            posix: self.posix,
        }
    }
    /// Commands one nested shell down that are not parsed from text (an argv found in a
    /// container command or an interpreter one-liner, a Windows payload's statements).
    fn below(&self, prefix: String, chain: &[String]) -> Src {
        Src {
            prefix,
            counter: 0,
            nesting: self.nesting.saturating_add(1),
            heredocs: Rc::new(Vec::new()),
            chain: chain.to_vec(),
            posix: self.posix,
        }
    }
}

/// Standard input, redirections and background flag of a command.
#[derive(Clone, Default)]
struct Io {
    stdin: Stdin,
    /// Producers of a dynamic heredoc/herestring (`Some` = content only known at run time).
    stdin_dyn: Option<Vec<usize>>,
    redirects: Vec<Redirect>,
    background: bool,
}

/// The invocation whose contents are looked into (a builtin's arguments, a wrapper's
/// command, a shell's code, ...): what the handlers dispatched from `post` share.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// Its index in `Fl::out` (where `dynamic_exec` is set).
    idx: usize,
    /// Its program (basename, `.exe` removed).
    prog: &'a str,
    argv: &'a [Field],
    /// Its I/O, which code found inside inherits.
    io: &'a Io,
    /// The wrappers it was found behind plus its own program: what commands found inside
    /// list as their wrappers.
    chain: &'a [String],
    /// Its number among the commands of its source text (for provenance).
    n: usize,
    cwd: &'a Cwd,
}

/// The flattener: the invocations and problems found so far, and the limits.
struct Fl<'o> {
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
        fl.run_source(src, String::new(), 0, &[], &Io::default(), &mut st);
    }
    Analysis {
        invocations: fl.out,
        problems: fl.problems,
    }
}

/// An origin for a problem from a provenance prefix (`"top level"` when empty).
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

impl Fl<'_> {
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

    /// Whether code one nested shell below `src` may still be followed; if not, a problem
    /// at `origin()`.
    fn may_nest(&mut self, src: &Src, origin: impl FnOnce() -> String) -> bool {
        if src.nesting.saturating_add(1) > self.opts.limits.max_nesting {
            let max = self.opts.limits.max_nesting;
            self.problem(format!("nested shells deeper than {max} levels"), origin());
            return false;
        }
        true
    }

    /// Parse `text` and walk it as the source at `prefix`, `nesting`.
    fn run_source(
        &mut self,
        text: &str,
        prefix: String,
        nesting: usize,
        chain: &[String],
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
                    chain: chain.to_vec(),
                    posix,
                };
                self.program(&p.program, &mut src, st, io);
            }
        }
    }
}
