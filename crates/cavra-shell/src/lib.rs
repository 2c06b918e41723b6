//! cavra-shell: a pure bash/POSIX shell parser and command flattener.
//!
//! Given a command line an AI agent wants to run, [`analyze`] produces every simple command
//! that could execute ([`Invocation`]), with wrappers (`sudo`, `env`, `xargs`, ...) looked
//! through, quoting undone, nested shells (`bash -c`, `eval`, piped text, heredocs, ...)
//! recursively parsed and provenance recorded. Anything that cannot be understood is reported
//! as a [`Problem`]; nothing is silently dropped.
//!
//! The crate performs no I/O, never reads the environment and knows nothing about policy.
//! See `docs/shell.md` for the grammar subset and the list of constructs looked through.
//!
//! Input drives every index and count here, so arithmetic is checked or saturating and
//! indexing goes through `.get()` (both lints are denied; tests may allow them).
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

mod containers;
mod flatten;
mod oneliners;
mod parse;
mod pwsh;
mod render;
mod textexec;
mod windows;

#[cfg(test)]
mod tests;

/// The element at `i` of a scanned buffer (bytes or chars), or the default (`0`, `'\0'`)
/// past its end: scanners read through this instead of indexing.
#[inline]
pub(crate) fn at<T: Copy + Default>(s: &[T], i: usize) -> T {
    s.get(i).copied().unwrap_or_default()
}
#[cfg(test)]
mod tests_exec;

/// Resource limits. Exceeding any of them yields a [`Problem`]; analysis always returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum input length in bytes (default 1 MiB).
    pub max_len: usize,
    /// Maximum syntactic nesting depth: compound commands, substitutions (default 256).
    pub max_depth: usize,
    /// Maximum number of invocations produced (default 10,000).
    pub max_commands: usize,
    /// Maximum recursion through nested shells (`bash -c`, `eval`, ...) (default 8).
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 1 << 20,
            max_depth: 256,
            max_commands: 10_000,
            max_nesting: 8,
        }
    }
}

/// A wrapper program that runs its remaining arguments as a command (like `nice`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WrapperSpec {
    /// Program name (basename), e.g. `"nice"`.
    pub name: String,
    /// Options that consume a value, e.g. `["-n", "--adjustment"]`. Single-letter options
    /// (`-n`) also match clustered and attached forms (`-xn 5`, `-n5`); long options also
    /// match `--opt=value`.
    pub options_with_value: Vec<String>,
    /// Positional arguments to skip after the options before the command starts
    /// (e.g. 1 for `timeout`'s duration).
    pub skip_positionals: usize,
}

/// Options for [`analyze`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzeOptions {
    pub limits: Limits,
    /// Additional wrappers looked through, on top of the built-in table.
    pub extra_wrappers: Vec<WrapperSpec>,
    /// Additional program names treated like `sh` (`-c STRING`, piped scripts).
    pub extra_shells: Vec<String>,
}

/// Result of [`analyze`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Every simple command that could execute, in execution order (substitutions before
    /// the command that uses them, a shell before the commands it runs).
    pub invocations: Vec<Invocation>,
    /// Everything that could not be understood. Non-empty means: do not trust the list
    /// above to be complete.
    pub problems: Vec<Problem>,
}

/// Something the analysis could not understand or refused to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What went wrong, e.g. `"unterminated single quote"`.
    pub reason: String,
    /// Where, e.g. `"top level, byte 5"` or `"in `bash -c` argument, simple command 1"`.
    pub origin: String,
}

/// One argument after quote removal and (static) expansion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arg {
    /// The value after quote removal. Unresolved expansions appear as `$NAME`, `$(…)`,
    /// `$((…))`, `<(…)`; home as a leading `~`.
    pub value: String,
    /// Part of the value is only known at run time.
    pub dynamic: bool,
    /// An unquoted `*`, `?` or `[` is present (pathname expansion may happen).
    pub glob: bool,
    /// Some quoting (quotes or backslash) was present in the source word.
    pub quoted: bool,
}

/// Working directory of an invocation, as far as it can be told from the command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cwd {
    /// The directory the command line starts in.
    #[default]
    Initial,
    /// After `cd`: an absolute path, a `~`-path, or a path relative to the initial directory.
    Known(String),
    /// After a `cd` to something dynamic.
    Unknown,
}

/// Standard input of an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Stdin {
    #[default]
    Inherit,
    /// Index into [`Analysis::invocations`] of the previous pipeline stage's last invocation.
    Pipe { from: usize },
    /// Heredoc body (as written; expansions in unquoted heredocs are left as source text).
    HereDoc(String),
    /// Herestring value (`<<< word`), without the trailing newline.
    HereString(String),
    /// `< file`.
    File(Arg),
}

/// Kind of a redirection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirKind {
    Read,
    Write,
    Append,
    ReadWrite,
    /// `>&N`, `<&N`, `>&-`: the target is a file descriptor (or `-`).
    Dup,
}

/// A file redirection (heredocs and herestrings are reported in [`Invocation::stdin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// Explicit file descriptor, `None` for the operator's default (0 for `<`, 1 for `>`).
    /// `&>` is reported as two redirects, fd 1 and fd 2.
    pub fd: Option<u32>,
    pub kind: RedirKind,
    pub target: Arg,
}

/// One simple command that could execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Arguments after unwrapping; `argv[0]` is the program as written after quote removal.
    /// Empty for a redirection-only command such as `> file`.
    pub argv: Vec<Arg>,
    /// Basename of `argv[0]`; `""` if dynamic (or a glob, or argv is empty).
    pub program: String,
    /// `argv[0]` could not be resolved statically.
    pub dynamic_program: bool,
    /// Wrappers looked through, outermost first (`["sudo", "env"]`). Commands run by a
    /// nested shell inherit the shell's chain plus the shell's name (`["sudo", "bash"]`).
    pub wrappers: Vec<String>,
    /// Human provenance, e.g. `"simple command 2"`.
    pub origin: String,
    /// Normalised rendering of argv (minimal quoting); re-analysing it yields the same argv.
    pub text: String,
    pub cwd: Cwd,
    pub stdin: Stdin,
    pub redirects: Vec<Redirect>,
    /// Prefix assignments (`X=1 cmd`, `env X=1 cmd`), values rendered like [`Arg::value`].
    pub assignments: Vec<(String, String)>,
    /// Runs in the background (`&`).
    pub background: bool,
    /// Nested-shell depth (0 = top level).
    pub depth: usize,
    /// Set on a shell/eval/interpreter invocation whose code is only known at run time:
    /// indices of the invocations that produce it (may be empty, e.g. `sh < file`).
    pub dynamic_exec: Option<Vec<usize>>,
}

/// Analyse a command line. Never panics, never performs I/O.
pub fn analyze(src: &str, opts: &AnalyzeOptions) -> Analysis {
    flatten::analyze(src, opts)
}

/// Render a list of values as a shell command line with minimal quoting.
pub fn render_argv<S: AsRef<str>>(argv: &[S]) -> String {
    render::render_values(argv)
}
