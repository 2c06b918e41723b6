//! Programs that run their arguments as a command: the wrapper table (`sudo`, `nice`,
//! `timeout`, ... plus `extra_wrappers`), `env`, `command`, `xargs`, `busybox`; and the
//! runners that build commands from their arguments: `find -exec`, `docker exec` and its
//! relatives, GNU `parallel`.

use super::field::strip_prefix_field;
use super::nested::Lang;
use super::state::{join_cwd, State};
use super::walk::Emit;
use super::{is_name, where_of, Ctx, Field, Fl, Io, Src, MAX_UNROLL};
use crate::{Cwd, Stdin};

/// Replacement strings of GNU parallel (`{}` and its path/position variants).
const PARALLEL_PLACEHOLDERS: &[&str] = &["{}", "{.}", "{/}", "{//}", "{/.}", "{1}", "{2}", "{3}"];

impl Fl<'_> {
    /// The command a wrapper `prog` runs (`argv` without the wrapper and its options),
    /// noting `env`-style assignments and directory changes; `None`: not a wrapper, or no
    /// command follows.
    pub(super) fn unwrap(
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

    /// GNU `parallel [opts] CMD... ::: ARGS...`: each argument (a literal list of at most
    /// [`MAX_UNROLL`]) is put in place of the replacement string (`{}`, `{.}`, ..., or `-I R`)
    /// or appended, and the resulting line parsed as shell code; dynamic or many arguments
    /// (and arguments read from stdin or `::::`/`-a` files) become `$PARALLEL_ARG`. With no
    /// CMD, each argument is itself a command line.
    pub(super) fn parallel(&mut self, ctx: &Ctx, src: &mut Src) {
        let (idx, argv, io) = (ctx.idx, ctx.argv, ctx.io);
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
                self.stdin_code(ctx, src, Lang::Shell);
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
            self.nested(ctx, &line, "in `parallel` command, ", src, None);
        }
    }

    /// `find ... -exec CMD... ;` (and `-execdir`, `-ok`, `-okdir`): each command, `{}` a
    /// run-time value.
    pub(super) fn find_exec(&mut self, ctx: &Ctx, src: &mut Src, st: &mut State) {
        let (argv, n) = (ctx.argv, ctx.n);
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
                    let cmd = Emit {
                        argv: cmd,
                        assignments: Vec::new(),
                        origin: o,
                        wrappers: ctx.chain.to_vec(),
                        n,
                    };
                    self.emit_command(cmd, ctx.io, src, st);
                    self.find_nesting = self.find_nesting.saturating_sub(1);
                }
            }
            i = j.saturating_add(1);
        }
    }

    /// `docker exec CONTAINER CMD…`, `docker run IMAGE CMD…`, `docker compose exec SERVICE
    /// CMD…`, `kubectl exec POD -- CMD…` (and podman, nerdctl, oc): the command run inside is
    /// emitted as its own invocation (an argv, not a shell string), cwd unknown.
    pub(super) fn container_exec(&mut self, ctx: &Ctx, src: &mut Src) {
        let Some((label, cmd)) = crate::containers::inner_command(ctx.prog, ctx.argv) else {
            return;
        };
        if cmd.is_empty() {
            return;
        }
        let prefix = format!("{}in `{label}` command, ", src.prefix);
        if !self.may_nest(src, || where_of(&prefix)) {
            return;
        }
        let origin = format!("{prefix}simple command {}", ctx.n);
        // stdin is forwarded (`-i`); redirections belong to the outer command
        let io2 = Io {
            stdin: ctx.io.stdin.clone(),
            stdin_dyn: ctx.io.stdin_dyn.clone(),
            ..Io::default()
        };
        let mut nsrc = src.below(prefix, ctx.chain);
        let mut st = State::with_cwd(Cwd::Unknown);
        let cmd = Emit {
            argv: cmd,
            assignments: Vec::new(),
            origin,
            wrappers: ctx.chain.to_vec(),
            n: ctx.n,
        };
        self.emit_command(cmd, &io2, &mut nsrc, &mut st);
    }
}

/// `flock [opts] FILE -c CMD` (util-linux stops at the first non-option; `-c`/`--command`
/// is only recognised right after FILE): the index of CMD.
pub(super) fn flock_code(argv: &[Field]) -> Option<usize> {
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

/// A built-in wrapper: options that take a value, options that mean no command follows,
/// positionals before the command.
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

/// `env [opts] [NAME=VALUE]... CMD...` (`-S` split, `-C` directory, `-u` unset).
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

/// `xargs [opts] CMD...`: the command with its arguments from stdin (`$XARGS`, or in place of
/// the `-I` replacement string); `echo` when none is given.
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
