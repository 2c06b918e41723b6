//! Unit tests: one table per construct, plus hostile inputs.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::*;

fn an(s: &str) -> Analysis {
    analyze(s, &AnalyzeOptions::default())
}

fn argv(i: &Invocation) -> Vec<String> {
    i.argv.iter().map(|a| a.value.clone()).collect()
}

fn progs(s: &str) -> Vec<String> {
    an(s)
        .invocations
        .iter()
        .map(|i| i.program.clone())
        .collect()
}

/// Invocation with the given program (first match), or panic with the analysis.
fn inv<'a>(a: &'a Analysis, prog: &str) -> &'a Invocation {
    a.invocations
        .iter()
        .find(|i| i.program == prog)
        .unwrap_or_else(|| panic!("no `{prog}` in {a:#?}"))
}

fn clean(s: &str) -> Analysis {
    let a = an(s);
    assert!(
        a.problems.is_empty(),
        "unexpected problems for {s:?}: {:#?}",
        a.problems
    );
    a
}

/// (input, program, argv) of the LAST invocation.
fn check_last(table: &[(&str, &str, &[&str])]) {
    for (src, prog, args) in table {
        let a = clean(src);
        let last = a
            .invocations
            .last()
            .unwrap_or_else(|| panic!("no invocation for {src:?}"));
        assert_eq!(last.program, *prog, "program for {src:?}: {a:#?}");
        assert_eq!(argv(last), *args, "argv for {src:?}");
    }
}

#[test]
fn quoting_and_escapes() {
    check_last(&[
        ("rm -rf /", "rm", &["rm", "-rf", "/"]),
        ("\\rm -rf /", "rm", &["rm", "-rf", "/"]),
        ("r''m -rf /", "rm", &["rm", "-rf", "/"]),
        ("\"r\"m -rf /", "rm", &["rm", "-rf", "/"]),
        ("'r'\"m\" x", "rm", &["rm", "x"]),
        ("$'\\x72m' -rf /", "rm", &["rm", "-rf", "/"]),
        ("$'\\162m' a", "rm", &["rm", "a"]),
        ("$'r\\u006d' a", "rm", &["rm", "a"]),
        ("echo 'a b' \"c $'d'\"", "echo", &["echo", "a b", "c $'d'"]),
        ("echo \"a\\\"b\\$c\"", "echo", &["echo", "a\"b$c"]),
        ("echo a\\ b", "echo", &["echo", "a b"]),
        ("/usr/bin/rm -rf /", "rm", &["/usr/bin/rm", "-rf", "/"]),
        ("./x.sh arg", "x.sh", &["./x.sh", "arg"]),
        ("echo $\"hi\"", "echo", &["echo", "hi"]),
        ("r\\\nm -rf /", "rm", &["rm", "-rf", "/"]),
        ("echo a#b # comment", "echo", &["echo", "a#b"]),
        ("echo ''", "echo", &["echo", ""]),
    ]);
}

#[test]
fn arg_flags() {
    let a = clean("ls *.txt '*.md' \"$X\" ~ ~/x ~bob/y");
    let l = inv(&a, "ls");
    assert!(l.argv[1].glob && !l.argv[1].quoted && !l.argv[1].dynamic);
    assert!(!l.argv[2].glob && l.argv[2].quoted);
    assert!(l.argv[3].dynamic && l.argv[3].value == "$X" && l.argv[3].quoted);
    assert_eq!(l.argv[4].value, "~");
    assert_eq!(l.argv[5].value, "~/x");
    assert_eq!(l.argv[6].value, "~bob/y");
    assert!(!l.argv[4].dynamic && !l.argv[5].dynamic);
}

#[test]
fn home_forms() {
    for (src, want) in [
        ("rm -rf ~", "~"),
        ("rm -rf ~/x", "~/x"),
        ("rm -rf $HOME", "~"),
        ("rm -rf ${HOME}", "~"),
        ("rm -rf \"$HOME/x\"", "~/x"),
        ("rm -rf \"${HOME}\"/x", "~/x"),
    ] {
        let a = clean(src);
        let r = inv(&a, "rm");
        assert_eq!(r.argv[2].value, want, "{src}");
        assert!(!r.argv[2].dynamic, "{src}");
        assert_eq!(r.text, format!("rm -rf {want}"), "{src}");
    }
    let a = clean("HOME=/tmp; rm -rf ~ $HOME");
    assert_eq!(argv(inv(&a, "rm")), ["rm", "-rf", "/tmp", "/tmp"]);
}

#[test]
fn parameters() {
    let a = clean("rm -rf $DIR ${X:-/} \"$@\" $1");
    let r = inv(&a, "rm");
    assert_eq!(argv(r), ["rm", "-rf", "$DIR", "$X", "$@", "$1"]);
    assert!(r.argv[2..].iter().all(|x| x.dynamic));
    // substitution in a default runs
    let a = clean("echo ${X:-$(rm -rf /)}");
    assert_eq!(progs("echo ${X:-$(rm -rf /)}"), ["rm", "echo"]);
    assert!(inv(&a, "echo").argv[1].dynamic);
}

#[test]
fn static_variables() {
    check_last(&[
        ("X=rm; $X -rf /", "rm", &["rm", "-rf", "/"]),
        ("export X=rm; $X -rf /", "rm", &["rm", "-rf", "/"]),
        ("D=/; rm -rf $D", "rm", &["rm", "-rf", "/"]),
        ("X='rm -rf'; $X /", "rm", &["rm", "-rf", "/"]),
        ("X=\"rm -rf /\"; $X", "rm", &["rm", "-rf", "/"]),
        ("X=; $X rm -rf /", "rm", &["rm", "-rf", "/"]),
        ("X=r Y=m; $X$Y a", "rm", &["rm", "a"]),
        ("X=rm; \"$X\" a", "rm", &["rm", "a"]),
        ("declare X=rm; ${X} a", "rm", &["rm", "a"]),
        ("X=rm; eval \"$X -rf /\"", "rm", &["rm", "-rf", "/"]),
    ]);
    // prefix assignment does not persist
    let a = clean("X=rm true; $X a");
    assert!(a.invocations.last().unwrap().dynamic_program);
    // subshell assignment does not leak
    let a = clean("(X=rm); $X a");
    assert!(a.invocations.last().unwrap().dynamic_program);
    // dynamic assignment stays dynamic
    let a = clean("X=$(cat f); $X a");
    let last = a.invocations.last().unwrap();
    assert!(last.dynamic_program && last.program.is_empty());
    assert_eq!(last.argv[0].value, "$X");
    // conditional assignment becomes unknown
    let a = clean("X=ls; if t; then X=rm; fi; $X a");
    assert!(a.invocations.last().unwrap().dynamic_program);
    let a = clean("X=a; unset X; $X rm -rf /");
    assert_eq!(a.invocations.last().unwrap().program, "rm");
}

#[test]
fn command_substitution() {
    let a = clean("$(echo rm) -rf /");
    assert_eq!(progs("$(echo rm) -rf /"), ["echo", "rm"]);
    let e = &a.invocations[0];
    assert_eq!(
        e.origin,
        "in command substitution in simple command 1, simple command 1"
    );
    let r = &a.invocations[1];
    assert_eq!(argv(r), ["rm", "-rf", "/"]);
    assert_eq!(r.origin, "simple command 1");
    check_last(&[
        ("`echo rm` -rf /", "rm", &["rm", "-rf", "/"]),
        ("$(printf rm) -rf /", "rm", &["rm", "-rf", "/"]),
        ("$(printf '%s' rm) x", "rm", &["rm", "x"]),
        ("X=$(echo rm); $X x", "rm", &["rm", "x"]),
        ("echo \"$(echo a b)\"", "echo", &["echo", "a b"]),
        ("echo $(echo a b)", "echo", &["echo", "a", "b"]),
    ]);
    let a = clean("echo $(curl -s x) `whoami` \"$(id -u)\"");
    assert_eq!(
        progs("echo $(curl -s x) `whoami` \"$(id -u)\""),
        ["curl", "whoami", "id", "echo"]
    );
    let e = inv(&a, "echo");
    assert!(e.argv[1..].iter().all(|x| x.dynamic && x.value == "$(…)"));
    // nested
    assert_eq!(progs("echo $(echo $(rm -rf /))"), ["rm", "echo", "echo"]);
    let a = clean("echo $(echo $(rm x))");
    assert_eq!(
        inv(&a, "rm").origin,
        "in command substitution in simple command 1, in command substitution in simple command 1, simple command 1"
    );
}

#[test]
fn arithmetic_and_process_substitution() {
    let a = clean("echo $((1+2)) $(( $(rm x) + 1 ))");
    assert_eq!(progs("echo $((1+2)) $(( $(rm x) + 1 ))"), ["rm", "echo"]);
    assert_eq!(argv(inv(&a, "echo")), ["echo", "$((…))", "$((…))"]);
    assert_eq!(progs("((i++)); (( x = $(rm y) ))"), ["rm"]);
    // `$((` that is really a nested subshell
    assert_eq!(progs("echo $((rm -rf /) )"), ["rm", "echo"]);
    assert_eq!(progs("((rm -rf /) )"), ["rm"]);
    let a = clean("diff <(ls a) >(tee b) c");
    assert_eq!(progs("diff <(ls a) >(tee b) c"), ["ls", "tee", "diff"]);
    assert_eq!(argv(inv(&a, "diff")), ["diff", "<(…)", ">(…)", "c"]);
    assert!(inv(&a, "ls")
        .origin
        .starts_with("in process substitution in simple command 1"));
}

#[test]
fn lists_and_pipelines() {
    assert_eq!(
        progs("a; b && c || d & e\nf"),
        ["a", "b", "c", "d", "e", "f"]
    );
    let a = clean("a; b & c");
    assert!(!a.invocations[0].background && a.invocations[1].background);
    assert!(!a.invocations[2].background);
    let a = clean("cat f | grep x |& sort | ! uniq");
    let n: Vec<_> = a.invocations.iter().map(|i| i.stdin.clone()).collect();
    assert_eq!(
        n,
        [
            Stdin::Inherit,
            Stdin::Pipe { from: 0 },
            Stdin::Pipe { from: 1 },
            Stdin::Pipe { from: 2 }
        ]
    );
    let a = clean("! rm x");
    assert_eq!(a.invocations[0].program, "rm");
    // stage with substitution: pipe from the previous stage's last invocation
    let a = clean("echo a | cat $(ls)");
    assert_eq!(progs("echo a | cat $(ls)"), ["echo", "ls", "cat"]);
    assert_eq!(a.invocations[2].stdin, Stdin::Pipe { from: 0 });
    assert_eq!(a.invocations[1].stdin, Stdin::Pipe { from: 0 });
    for (i, inv) in clean("a; b").invocations.iter().enumerate() {
        assert_eq!(inv.origin, format!("simple command {}", i + 1));
    }
}

#[test]
fn compound_commands() {
    for (src, want) in [
        ("(rm a)", vec!["rm"]),
        ("{ rm a; }", vec!["rm"]),
        ("{ rm a; ls; } > out", vec!["rm", "ls"]),
        (
            "if a; then b; elif c; then d; else e; fi",
            vec!["a", "b", "c", "d", "e"],
        ),
        ("for f in $(ls); do rm $f; done", vec!["ls", "rm"]),
        ("for f in a b\ndo\n rm \"$f\"\ndone", vec!["rm", "rm"]),
        ("for ((i=0; i<3; i++)); do rm $i; done", vec!["rm"]),
        ("while read l; do rm $l; done < list", vec!["read", "rm"]),
        ("until a; do b; done", vec!["a", "b"]),
        ("case $x in a|b) rm a;; *) ls ;; esac", vec!["rm", "ls"]),
        ("case x in (a) rm;& b) ls;;& esac", vec!["rm", "ls"]),
        ("f() { rm -rf /; }; f", vec!["rm", "f"]),
        ("function g { rm x; }", vec!["rm"]),
        ("function h() ( rm y )", vec!["rm"]),
        ("[[ -f $(rm x) && $y =~ ^(a|b)$ ]] && ls", vec!["rm", "ls"]),
        ("[ -f x ] && rm x", vec!["[", "rm"]),
        ("time { rm x; }", vec!["rm"]),
        ("select x in a b; do rm $x; done", vec!["rm"]),
        ("coproc rm x", vec!["rm"]),
        ("arr=(a $(rm x) c); echo ${arr[0]}", vec!["rm", "echo"]),
        ("if true\nthen\n  rm x\nfi", vec!["true", "rm"]),
    ] {
        let a = clean(src);
        let p: Vec<_> = a.invocations.iter().map(|i| i.program.as_str()).collect();
        assert_eq!(p, want, "{src}");
    }
    let a = clean("{ rm a; } > out 2>&1");
    let r = inv(&a, "rm");
    assert_eq!(r.redirects.len(), 2);
    assert_eq!(r.redirects[0].target.value, "out");
}

#[test]
fn redirections() {
    let a = clean("cmd > a >> b < c 2>&1 &> d 3<> e >| f 2>/dev/null >&2");
    let r = inv(&a, "cmd");
    let got: Vec<(Option<u32>, RedirKind, String)> = r
        .redirects
        .iter()
        .map(|x| (x.fd, x.kind, x.target.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (None, RedirKind::Write, "a".into()),
            (None, RedirKind::Append, "b".into()),
            (None, RedirKind::Read, "c".into()),
            (Some(2), RedirKind::Dup, "1".into()),
            (Some(1), RedirKind::Write, "d".into()),
            (Some(2), RedirKind::Write, "d".into()),
            (Some(3), RedirKind::ReadWrite, "e".into()),
            (None, RedirKind::Write, "f".into()),
            (Some(2), RedirKind::Write, "/dev/null".into()),
            (None, RedirKind::Dup, "2".into()),
        ]
    );
    assert_eq!(r.stdin, Stdin::File(r.redirects[2].target.clone()));
    let a = clean("> /etc/passwd");
    assert_eq!(a.invocations.len(), 1);
    assert!(a.invocations[0].argv.is_empty());
    assert_eq!(a.invocations[0].redirects[0].target.value, "/etc/passwd");
    let a = clean("echo > $(rm x)");
    assert_eq!(progs("echo > $(rm x)"), ["rm", "echo"]);
    assert!(inv(&a, "echo").redirects[0].target.dynamic);
}

#[test]
fn heredocs() {
    let a = clean("cat <<EOF\nhello $X\nEOF\necho done");
    assert_eq!(
        progs("cat <<EOF\nhello $X\nEOF\necho done"),
        ["cat", "echo"]
    );
    assert_eq!(inv(&a, "cat").stdin, Stdin::HereDoc("hello $X\n".into()));
    let a = clean("cat <<'EOF'\n$(rm x)\nEOF");
    assert_eq!(a.invocations.len(), 1);
    assert_eq!(inv(&a, "cat").stdin, Stdin::HereDoc("$(rm x)\n".into()));
    // unquoted heredoc: substitutions run
    assert_eq!(progs("cat <<EOF\n$(rm x)\nEOF"), ["rm", "cat"]);
    let a = clean("cat <<-\tEND\n\tindented\n\tEND\nls");
    assert_eq!(inv(&a, "cat").stdin, Stdin::HereDoc("indented\n".into()));
    assert_eq!(a.invocations[1].program, "ls");
    let a = clean("cat <<\"E F\"\nx\nE F");
    assert_eq!(inv(&a, "cat").stdin, Stdin::HereDoc("x\n".into()));
    let a = clean("grep x <<< 'a b'");
    assert_eq!(inv(&a, "grep").stdin, Stdin::HereString("a b".into()));
    let a = clean("cat <<A; cat <<B\na\nA\nb\nB");
    assert_eq!(a.invocations[0].stdin, Stdin::HereDoc("a\n".into()));
    assert_eq!(a.invocations[1].stdin, Stdin::HereDoc("b\n".into()));
    let a = clean("X=1; cat <<EOF\nv=$X\nEOF");
    assert_eq!(inv(&a, "cat").stdin, Stdin::HereDoc("v=1\n".into()));
}

#[test]
fn cwd_tracking() {
    let a = clean("cd /tmp && rm -rf x; cd sub; ls; cd ..; pwd; cd $D; rm y");
    let cwds: Vec<_> = a
        .invocations
        .iter()
        .map(|i| (i.program.clone(), i.cwd.clone()))
        .collect();
    assert_eq!(
        cwds,
        vec![
            ("cd".into(), Cwd::Initial),
            ("rm".into(), Cwd::Known("/tmp".into())),
            ("cd".into(), Cwd::Known("/tmp".into())),
            ("ls".into(), Cwd::Known("/tmp/sub".into())),
            ("cd".into(), Cwd::Known("/tmp/sub".into())),
            ("pwd".into(), Cwd::Known("/tmp".into())),
            ("cd".into(), Cwd::Known("/tmp".into())),
            ("rm".into(), Cwd::Unknown),
        ]
    );
    let a = clean("cd src; rm x");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("src".into()));
    let a = clean("(cd / && rm -rf *); ls");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("/".into()));
    assert_eq!(inv(&a, "ls").cwd, Cwd::Initial);
    let a = clean("cd; rm x");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("~".into()));
    let a = clean("cd ~/p && rm x");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("~/p".into()));
    let a = clean("pushd /a; pushd /b; popd; rm x; popd; ls");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("/a".into()));
    assert_eq!(inv(&a, "ls").cwd, Cwd::Initial);
    let a = clean("cd /a | rm x; ls");
    assert_eq!(inv(&a, "ls").cwd, Cwd::Initial);
    let a = clean("if x; then cd /a; fi; rm y");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Unknown);
    let a = clean("builtin cd /a; command cd b; rm y");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("/a/b".into()));
    let a = clean("env -C /x rm y");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("/x".into()));
    let a = clean("cd /a; bash -c 'rm x'");
    assert_eq!(inv(&a, "rm").cwd, Cwd::Known("/a".into()));
}

#[test]
fn wrappers() {
    let table: &[(&str, &str, &[&str], &[&str])] = &[
        ("sudo rm -rf /", "rm", &["rm", "-rf", "/"], &["sudo"]),
        ("sudo -u root -E -- rm x", "rm", &["rm", "x"], &["sudo"]),
        ("sudo -Eu root rm x", "rm", &["rm", "x"], &["sudo"]),
        ("sudo --user=root rm x", "rm", &["rm", "x"], &["sudo"]),
        ("doas -u u rm x", "rm", &["rm", "x"], &["doas"]),
        ("sudo env FOO=1 rm x", "rm", &["rm", "x"], &["sudo", "env"]),
        ("env -i -u PATH A=b rm x", "rm", &["rm", "x"], &["env"]),
        ("env -S 'rm -rf /'", "rm", &["rm", "-rf", "/"], &["env"]),
        ("env -- rm x", "rm", &["rm", "x"], &["env"]),
        ("nice -n 10 rm x", "rm", &["rm", "x"], &["nice"]),
        ("nice -10 rm x", "rm", &["rm", "x"], &["nice"]),
        ("ionice -c 3 rm x", "rm", &["rm", "x"], &["ionice"]),
        ("time rm x", "rm", &["rm", "x"], &["time"]),
        ("timeout -s KILL 5 rm x", "rm", &["rm", "x"], &["timeout"]),
        (
            "timeout --kill-after=1 5s rm x",
            "rm",
            &["rm", "x"],
            &["timeout"],
        ),
        ("command -p rm x", "rm", &["rm", "x"], &["command"]),
        ("builtin echo x", "echo", &["echo", "x"], &["builtin"]),
        ("exec -a name rm x", "rm", &["rm", "x"], &["exec"]),
        ("nohup rm x", "rm", &["rm", "x"], &["nohup"]),
        ("stdbuf -oL -e 0 rm x", "rm", &["rm", "x"], &["stdbuf"]),
        ("setsid rm x", "rm", &["rm", "x"], &["setsid"]),
        ("chronic rm x", "rm", &["rm", "x"], &["chronic"]),
        (
            "caffeinate -i -t 5 rm x",
            "rm",
            &["rm", "x"],
            &["caffeinate"],
        ),
        ("busybox rm -rf /", "rm", &["rm", "-rf", "/"], &["busybox"]),
        ("flock /tmp/l rm x", "rm", &["rm", "x"], &["flock"]),
        (
            "sudo nice -n 5 timeout 10 rm x",
            "rm",
            &["rm", "x"],
            &["sudo", "nice", "timeout"],
        ),
        (
            "/usr/bin/sudo /bin/rm x",
            "rm",
            &["/bin/rm", "x"],
            &["sudo"],
        ),
    ];
    for (src, prog, args, wr) in table {
        let a = clean(src);
        let last = a.invocations.last().unwrap();
        assert_eq!(last.program, *prog, "{src}: {a:#?}");
        assert_eq!(argv(last), *args, "{src}");
        assert_eq!(last.wrappers, *wr, "{src}");
        assert_eq!(last.text, render_argv(args), "{src}");
    }
    let a = clean("env A=1 B=$X rm x");
    assert_eq!(
        inv(&a, "rm").assignments,
        vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "$X".to_string())
        ]
    );
    let a = clean("A=1 rm x");
    assert_eq!(
        inv(&a, "rm").assignments,
        vec![("A".to_string(), "1".to_string())]
    );
    // not executions
    assert_eq!(progs("command -v rm"), ["command"]);
    assert_eq!(progs("sudo -l"), ["sudo"]);
    assert_eq!(progs("env"), ["env"]);
    assert_eq!(progs("sudo"), ["sudo"]);
    // extra wrappers
    let opts = AnalyzeOptions {
        extra_wrappers: vec![WrapperSpec {
            name: "with-lock".into(),
            options_with_value: vec!["-t".into()],
            skip_positionals: 1,
        }],
        ..AnalyzeOptions::default()
    };
    let a = analyze("with-lock -t 5 name rm -rf /", &opts);
    assert_eq!(a.invocations[0].program, "rm");
    assert_eq!(a.invocations[0].wrappers, ["with-lock"]);
}

#[test]
fn xargs_and_find() {
    let a = clean("find . -name '*.o' | xargs -0 -n 1 -P 4 rm -f");
    let r = inv(&a, "rm");
    assert_eq!(argv(r), ["rm", "-f", "$XARGS"]);
    assert!(r.argv[2].dynamic);
    assert_eq!(r.wrappers, ["xargs"]);
    assert_eq!(r.stdin, Stdin::Pipe { from: 0 });
    assert_eq!(r.text, "rm -f $XARGS");
    let a = clean("ls | xargs -I {} mv {} /tmp");
    let m = inv(&a, "mv");
    assert!(m.argv[1].dynamic && m.argv[1].value == "{}");
    let a = clean("ls | xargs");
    assert_eq!(inv(&a, "echo").wrappers, ["xargs"]);
    let a = clean("ls | xargs sh -c 'rm -rf \"$1\"' _");
    assert_eq!(inv(&a, "rm").argv[2].value, "$1");

    let a = clean("find / -name x -exec rm -rf {} \\; -execdir sh -c 'ls' + ");
    assert_eq!(
        progs("find / -name x -exec rm -rf {} \\; -execdir sh -c 'ls' +"),
        ["find", "rm", "sh", "ls"]
    );
    let r = inv(&a, "rm");
    assert_eq!(argv(r), ["rm", "-rf", "{}"]);
    assert!(r.argv[2].dynamic);
    assert_eq!(r.wrappers, ["find"]);
    assert_eq!(r.origin, "in `find -exec` command, simple command 1");
    let a = clean("find . -ok sudo rm {} +");
    assert_eq!(inv(&a, "rm").wrappers, ["find", "sudo"]);
}

#[test]
fn nested_shells() {
    let a = clean("bash -c 'rm -rf /'");
    assert_eq!(progs("bash -c 'rm -rf /'"), ["bash", "rm"]);
    let r = inv(&a, "rm");
    assert_eq!(r.origin, "in `bash -c` argument, simple command 1");
    assert_eq!(r.depth, 1);
    assert_eq!(r.wrappers, ["bash"]);
    for src in [
        "sh -c 'rm -rf /'",
        "zsh -lc 'rm -rf /'",
        "dash -ec 'rm -rf /'",
        "ksh -xc 'rm -rf /'",
        "bash -o pipefail -c 'rm -rf /'",
        "bash --norc -c 'rm -rf /'",
        "fish -c 'rm -rf /'",
        "fish --command='rm -rf /'",
        "sudo -u x bash -c 'rm -rf /'",
        "eval 'rm -rf /'",
        "eval rm -rf /",
        "echo 'rm -rf /' | sh",
        "printf 'rm -rf /\\n' | bash",
        "bash <<EOF\nrm -rf /\nEOF",
        "sh <<< 'rm -rf /'",
        "cat <<'X' | sh\nrm -rf /\nX",
        "su -c 'rm -rf /'",
        "su root -c 'rm -rf /'",
        "script -q -c 'rm -rf /' /dev/null",
        "flock /tmp/l -c 'rm -rf /'",
        "watch -n 1 rm -rf /",
        "ssh -p 22 -i key host rm -rf /",
        "ssh host 'rm -rf /'",
        "parallel rm -rf ::: /",
        "trap 'rm -rf /' EXIT",
        "busybox sh -c 'rm -rf /'",
        "timeout 5 sh -c 'rm -rf /'",
        "bash -c \"bash -c 'rm -rf /'\"",
        "sudo sh -c 'cd / && rm -rf *'",
    ] {
        let a = clean(src);
        let r = inv(&a, "rm");
        assert_eq!(r.argv[1].value, "-rf", "{src}");
        assert!(r.depth >= 1, "{src}");
    }
    let a = clean("echo 'rm -rf /' | sh");
    assert_eq!(
        inv(&a, "rm").origin,
        "in text piped to `sh`, simple command 1"
    );
    let a = clean("bash <<EOF\nrm -rf /\nEOF");
    assert_eq!(
        inv(&a, "rm").origin,
        "in heredoc fed to `bash`, simple command 1"
    );
    let a = clean("ssh host rm -rf /");
    assert_eq!(
        inv(&a, "rm").origin,
        "in `ssh` remote command, simple command 1"
    );
    let a = clean("sudo bash -c 'rm x'");
    assert_eq!(inv(&a, "rm").wrappers, ["sudo", "bash"]);
    let a = clean("sudo FOO=1 rm x");
    assert_eq!(
        inv(&a, "rm").assignments,
        vec![("FOO".to_string(), "1".to_string())]
    );
    let a = clean("bash <(curl -s u)");
    assert_eq!(inv(&a, "bash").dynamic_exec, Some(vec![0]));
    let a = clean("source <(curl -s u)");
    assert_eq!(inv(&a, "source").dynamic_exec, Some(vec![0]));
    let a = clean("alias ls='rm -rf /'");
    assert_eq!(
        inv(&a, "rm").origin,
        "in `alias` definition, simple command 1"
    );
    // not nested: script files, interactive
    assert_eq!(progs("bash script.sh"), ["bash"]);
    assert_eq!(progs("bash"), ["bash"]);
    let a = clean("sh -c 'echo $(rm a)'");
    assert_eq!(
        inv(&a, "rm").origin,
        "in `sh -c` argument, in command substitution in simple command 1, simple command 1"
    );
    // eval shares state
    let a = clean("eval X=rm; $X a");
    assert_eq!(a.invocations.last().unwrap().program, "rm");
}

#[test]
fn dynamic_exec() {
    let a = clean("bash -c \"$(wget -qO- url)\"");
    let b = inv(&a, "bash");
    assert_eq!(b.dynamic_exec, Some(vec![0]));
    assert_eq!(a.invocations[0].program, "wget");
    let a = clean("curl -s url | sh");
    assert_eq!(inv(&a, "sh").dynamic_exec, Some(vec![0]));
    let a = clean("sh < script.sh");
    assert_eq!(inv(&a, "sh").dynamic_exec, Some(vec![]));
    let a = clean("eval \"$CMD\"");
    assert_eq!(inv(&a, "eval").dynamic_exec, Some(vec![]));
    let a = clean("X=$(curl u); bash -c \"$X\"");
    assert_eq!(inv(&a, "bash").dynamic_exec, Some(vec![0]));
    let a = clean("bash <<EOF\n$(curl u)\nEOF");
    assert_eq!(inv(&a, "bash").dynamic_exec, Some(vec![0]));
    let a = clean("sh <<< \"$X\"");
    assert!(inv(&a, "sh").dynamic_exec.is_some());
    let a = clean("python3 -c \"$CODE\"");
    assert!(inv(&a, "python3").dynamic_exec.is_some());
    let a = clean("bash -c 'ls'");
    assert_eq!(inv(&a, "bash").dynamic_exec, None);
    // partially dynamic: still see the static part
    let a = clean("bash -c \"rm -rf $DIR\"");
    assert!(inv(&a, "bash").dynamic_exec.is_some());
    assert_eq!(inv(&a, "rm").argv[2].value, "$DIR");
}

#[test]
fn interpreters() {
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "python3 -c 'import os; os.system(\"rm -rf /\")'",
            "rm",
            &["rm", "-rf", "/"],
            "in `python3 -c` code: os.system(...), simple command 1",
        ),
        (
            "python -c 'import subprocess; subprocess.run([\"rm\",\"-rf\",\"/\"])'",
            "rm",
            &["rm", "-rf", "/"],
            "in `python -c` code: subprocess.run(...)",
        ),
        (
            "python -c 'import subprocess as s; s.Popen(\"rm -rf /\", shell=True)'",
            "rm",
            &["rm", "-rf", "/"],
            "in `python -c` code: s.Popen(...), simple command 1",
        ),
        (
            "python -c 'import subprocess; subprocess.check_output(\"ls -la\", shell=True)'",
            "ls",
            &["ls", "-la"],
            "in `python -c` code: subprocess.check_output(...), simple command 1",
        ),
        (
            "python3 -c 'import os; os.popen(\"id\").read()'",
            "id",
            &["id"],
            "in `python3 -c` code: os.popen(...), simple command 1",
        ),
        (
            "python -c 'import shutil; shutil.rmtree(\"/srv\")'",
            "rm",
            &["rm", "-rf", "/srv"],
            "in `python -c` code: shutil.rmtree(...)",
        ),
        (
            "python -c 'import shutil,os; shutil.rmtree(os.path.expanduser(\"~\"))'",
            "rm",
            &["rm", "-rf", "~"],
            "in `python -c` code: shutil.rmtree(...)",
        ),
        (
            "python -c 'import shutil; from pathlib import Path; shutil.rmtree(Path.home())'",
            "rm",
            &["rm", "-rf", "~"],
            "in `python -c` code: shutil.rmtree(...)",
        ),
        (
            "python -c 'import os; os.remove(\"/etc/x\")'",
            "rm",
            &["rm", "/etc/x"],
            "in `python -c` code: os.remove(...)",
        ),
        (
            "node -e 'require(\"child_process\").execSync(\"rm -rf /\")'",
            "rm",
            &["rm", "-rf", "/"],
            "in `node -e` code: ).execSync(...), simple command 1",
        ),
        (
            "node -e 'const cp=require(\"child_process\"); cp.spawnSync(\"rm\", [\"-rf\", \"/\"])'",
            "rm",
            &["rm", "-rf", "/"],
            "in `node -e` code: cp.spawnSync(...)",
        ),
        (
            "node -e 'require(\"fs\").rmSync(\"/x\", {recursive: true, force: true})'",
            "rm",
            &["rm", "-rf", "/x"],
            "in `node -e` code: ).rmSync(...)",
        ),
        (
            "node -e 'const fs=require(\"fs\"); fs.rmdirSync(\"/x\", {recursive:true})'",
            "rm",
            &["rm", "-rf", "/x"],
            "in `node -e` code: fs.rmdirSync(...)",
        ),
        (
            "node -p 'require(\"os\").homedir()'",
            "node",
            &["node", "-p", "require(\"os\").homedir()"],
            "simple command 1",
        ),
        (
            "perl -e 'system(\"rm -rf /\")'",
            "rm",
            &["rm", "-rf", "/"],
            "in `perl -e` code: system(...), simple command 1",
        ),
        (
            "perl -e 'system \"rm\", \"-rf\", \"/\"'",
            "rm",
            &["rm", "-rf", "/"],
            "in `perl -e` code: system(...)",
        ),
        (
            "perl -le 'print qx(rm -rf /)'",
            "rm",
            &["rm", "-rf", "/"],
            "in `perl -e` code: qx(...), simple command 1",
        ),
        (
            "perl -MFile::Path -e 'rmtree(\"/x\")'",
            "rm",
            &["rm", "-rf", "/x"],
            "in `perl -e` code: rmtree(...)",
        ),
        (
            "perl -e 'use File::Path qw(remove_tree); remove_tree(\"/x\")'",
            "rm",
            &["rm", "-rf", "/x"],
            "in `perl -e` code: remove_tree(...)",
        ),
        (
            "ruby -e 'system(\"rm -rf /\")'",
            "rm",
            &["rm", "-rf", "/"],
            "in `ruby -e` code: system(...), simple command 1",
        ),
        (
            "ruby -e '`rm -rf /`'",
            "rm",
            &["rm", "-rf", "/"],
            "in `ruby -e` code: backticks(...), simple command 1",
        ),
        (
            "ruby -e '%x(rm -rf /)'",
            "rm",
            &["rm", "-rf", "/"],
            "in `ruby -e` code: %x(...), simple command 1",
        ),
        (
            "ruby -e 'exec \"rm -rf /\"'",
            "rm",
            &["rm", "-rf", "/"],
            "in `ruby -e` code: exec(...), simple command 1",
        ),
        (
            "ruby -rfileutils -e 'FileUtils.rm_rf(\"/x\")'",
            "rm",
            &["rm", "-rf", "/x"],
            "in `ruby -e` code: FileUtils.rm_rf(...)",
        ),
        (
            "php -r 'system(\"rm -rf /\");'",
            "rm",
            &["rm", "-rf", "/"],
            "in `php -r` code: system(...), simple command 1",
        ),
        (
            "php -r 'echo shell_exec(\"ls\");'",
            "ls",
            &["ls"],
            "in `php -r` code: shell_exec(...), simple command 1",
        ),
        (
            "php -r 'passthru(\"id\");'",
            "id",
            &["id"],
            "in `php -r` code: passthru(...), simple command 1",
        ),
        (
            "python3 <<EOF\nimport os\nos.system('rm -rf /')\nEOF",
            "rm",
            &["rm", "-rf", "/"],
            "in heredoc fed to `python3`: os.system(...), simple command 1",
        ),
    ];
    for (src, prog, args, origin) in cases {
        let a = clean(src);
        let r = a.invocations.last().unwrap();
        assert_eq!(r.program, *prog, "{src}: {a:#?}");
        assert_eq!(argv(r), *args, "{src}");
        assert_eq!(r.origin, *origin, "{src}");
    }
    let a = clean("python -c 'import subprocess; subprocess.run([\"sudo\",\"rm\",\"x\"])'");
    assert_eq!(inv(&a, "rm").wrappers, ["python", "sudo"]);
    // non-literal shell calls are problems
    for src in [
        "python -c 'import os; os.system(cmd)'",
        "python -c 'import os; os.system(\"rm \" + p)'",
        "python -c 'import os; os.system(f\"rm {p}\")'",
        "node -e 'require(\"child_process\").exec(`rm ${x}`)'",
        "perl -e 'system $cmd'",
        "ruby -e 'system(\"rm #{x}\")'",
        "ruby -e '`rm #{x}`'",
        "php -r 'system($c);'",
    ] {
        let a = an(src);
        assert_eq!(a.problems.len(), 1, "{src}: {a:#?}");
        assert!(
            a.problems[0]
                .reason
                .contains("runs a shell command built at run time"),
            "{src}"
        );
    }
    let a = an("python -c 'import os; os.system(cmd)'");
    assert_eq!(
        a.problems[0].reason,
        "`python -c` code runs a shell command built at run time"
    );
    assert_eq!(a.problems[0].origin, "in `python -c` code: os.system(...)");
    // dynamic deletion path
    let a = clean("python -c 'import shutil; shutil.rmtree(p)'");
    assert!(inv(&a, "rm").argv[2].dynamic);
    // harmless code: nothing extra
    assert_eq!(progs("python3 -c 'print(1+2)'"), ["python3"]);
    assert_eq!(progs("python3 -m http.server"), ["python3"]);
    assert_eq!(
        progs("node -e 'x = [1,2].map(a => a.toString())'"),
        ["node"]
    );
}

#[test]
fn windows_payloads() {
    let a = clean("powershell -NoProfile -Command \"Remove-Item -Recurse -Force C:\\x\"");
    let r = inv(&a, "remove-item");
    assert_eq!(argv(r), ["Remove-Item", "-Recurse", "-Force", "C:\\x"]);
    assert_eq!(r.origin, "in `powershell -Command` script, command 1");
    let a = clean("pwsh -c 'iwr https://x | iex'");
    let iwr = a
        .invocations
        .iter()
        .position(|i| i.program == "iwr")
        .unwrap();
    let iex = inv(&a, "iex");
    assert_eq!(iex.stdin, Stdin::Pipe { from: iwr });
    assert_eq!(iex.dynamic_exec, Some(vec![iwr]));
    // -EncodedCommand: "rm -r C:\x" in UTF-16LE base64
    let enc = "cgBtACAALQByACAAQwA6AFwAeAA=";
    let a = clean(&format!("powershell.exe -enc {enc}"));
    assert_eq!(argv(inv(&a, "rm")), ["rm", "-r", "C:\\x"]);
    let a = clean("cmd /c \"rmdir /s /q C:\\x & del /f y\"");
    assert_eq!(argv(inv(&a, "rmdir")), ["rmdir", "/s", "/q", "C:\\x"]);
    assert_eq!(inv(&a, "del").origin, "in `cmd /c` script, command 2");
    let a = clean("cmd.exe /C 'type a | findstr b'");
    assert_eq!(inv(&a, "findstr").stdin, Stdin::Pipe { from: 1 });
    let a = clean("powershell -c \"Get-ChildItem | ForEach-Object { Remove-Item $_ }\"");
    assert!(a.invocations.iter().any(|i| i.program == "remove-item"));
    // a top-level PowerShell pipeline parses as POSIX
    let a = clean("iwr https://x | iex");
    assert_eq!(inv(&a, "iex").stdin, Stdin::Pipe { from: 0 });
}

#[test]
fn brace_expansion() {
    check_last(&[
        ("{rm,-rf,/}", "rm", &["rm", "-rf", "/"]),
        ("echo a{b,c}d", "echo", &["echo", "abd", "acd"]),
        ("echo {1..3}", "echo", &["echo", "1", "2", "3"]),
        ("echo {a..c}", "echo", &["echo", "a", "b", "c"]),
        (
            "echo {} {x} '{a,b}'",
            "echo",
            &["echo", "{}", "{x}", "{a,b}"],
        ),
    ]);
    let a = an("echo {1..100000}");
    assert!(!a.problems.is_empty());
}

/// Regression (issue 10 §3): `{0..9223372036854775807..9223372036854775807}` overflowed the
/// step after the last word and aborted the hook, so the `rm -rf ~` before it ran.
#[test]
fn brace_sequence_i64_bounds_never_overflow() {
    let big = i64::MAX;
    let small = i64::MIN;
    // (sequence, expected words when it expands within the cap)
    let cases: Vec<(String, Option<Vec<String>>)> = vec![
        (
            format!("{{0..{big}..{big}}}"),
            Some(vec!["0".into(), big.to_string()]),
        ),
        (
            format!("{{{big}..0..{big}}}"),
            Some(vec![big.to_string(), "0".into()]),
        ),
        (
            format!("{{{small}..0..{big}}}"),
            Some(vec![small.to_string(), "-1".into()]),
        ),
        (format!("{{{big}..{big}}}"), Some(vec![big.to_string()])),
        (
            format!("{{{small}..{small}}}"),
            Some(vec![small.to_string()]),
        ),
        (
            format!("{{{}..{big}}}", big - 1),
            Some(vec![(big - 1).to_string(), big.to_string()]),
        ),
        (
            format!("{{{}..{small}}}", small + 1),
            Some(vec![(small + 1).to_string(), small.to_string()]),
        ),
        // negative steps count by their absolute value, i64::MIN included
        (
            "{1..5..-2}".into(),
            Some(vec!["1".into(), "3".into(), "5".into()]),
        ),
        (format!("{{0..{big}..{small}}}"), Some(vec!["0".into()])),
        (
            format!("{{{small}..{big}..{small}}}"),
            Some(vec![small.to_string(), "0".into()]),
        ),
        // huge counts: refused by the cap, not expanded
        (format!("{{{small}..{big}}}"), None),
        (format!("{{{small}..{big}..1}}"), None),
        (format!("{{0..{big}}}"), None),
        // beyond i64: not a sequence, the word stays literal
        (
            "{0..18446744073709551615}".into(),
            Some(vec!["{0..18446744073709551615}".into()]),
        ),
        ("{a..z..9223372036854775807}".into(), Some(vec!["a".into()])),
    ];
    for (seq, want) in cases {
        let src = format!("echo {seq}");
        let a = an(&src);
        match want {
            Some(words) => {
                let got = argv(inv(&a, "echo"));
                let mut expected = vec!["echo".to_string()];
                expected.extend(words);
                assert_eq!(got, expected, "{src}");
            }
            None => assert!(
                a.problems
                    .iter()
                    .any(|p| p.reason == "brace expansion too large"),
                "{src}: {:?}",
                a.problems
            ),
        }
    }
    // the reported crash: the `rm -rf ~` before it is still seen
    let a = an("rm -rf ~ ; : {0..9223372036854775807..9223372036854775807}");
    assert_eq!(argv(inv(&a, "rm")), vec!["rm", "-rf", "~"]);
}

#[test]
fn rendering() {
    let cases = [
        ("rm -rf /", "rm -rf /"),
        ("rm 'a b'", "rm 'a b'"),
        ("echo \"it's\"", "echo 'it'\\''s'"),
        ("ls *.txt", "ls *.txt"),
        ("ls '*.txt'", "ls '*.txt'"),
        ("echo $X", "echo $X"),
        ("echo \"${X}y\"", "echo ${X}y"),
        ("'if' x", "'if' x"),
        ("'A=b' x", "\\A=b x"),
        ("echo ''", "echo ''"),
        ("echo $(ls)", "echo $(…)"),
    ];
    for (src, want) in cases {
        let a = clean(src);
        assert_eq!(a.invocations.last().unwrap().text, want, "{src}");
    }
    assert_eq!(render_argv(&["rm", "-rf", "a b"]), "rm -rf 'a b'");
}

#[test]
fn hostile_inputs() {
    let cases = [
        ("echo 'abc", "unterminated single quote"),
        ("echo \"abc", "unterminated double quote"),
        ("echo $(ls", "unterminated command substitution `$(`"),
        ("echo `ls", "unterminated backtick command substitution"),
        ("echo ${X", "unterminated parameter expansion `${`"),
        ("(ls", "unterminated subshell `(`"),
        ("if a; then b", "unexpected end of input, expected `fi`"),
        ("ls )", "unexpected `)`"),
        ("; ls", "unexpected `;`"),
        ("ls | ", "unexpected end of input, expected a command"),
        ("echo $'abc", "unterminated ANSI-C quote `$'`"),
        (
            "case x in a) ls",
            "unexpected end of input, expected `esac`",
        ),
        ("ls >", "missing redirection target"),
    ];
    for (src, reason) in cases {
        let a = an(src);
        assert_eq!(a.problems.len(), 1, "{src}: {a:#?}");
        assert_eq!(a.problems[0].reason, reason, "{src}");
        assert!(
            a.problems[0].origin.starts_with("top level, byte "),
            "{src}"
        );
    }
    // deep nesting returns a problem quickly without overflowing the stack
    let deep = "(".repeat(10_000);
    let a = an(&deep);
    assert_eq!(a.problems[0].reason, "nesting deeper than 256 levels");
    let deep = format!("{}ls{}", "( ".repeat(10_000), " )".repeat(10_000));
    assert_eq!(
        an(&deep).problems[0].reason,
        "nesting deeper than 256 levels"
    );
    let deep = format!("{}ls{}", "$(".repeat(5_000), ")".repeat(5_000));
    assert!(!an(&deep).problems.is_empty());
    let deep = format!("echo {}x{}", "${a:-".repeat(5_000), "}".repeat(5_000));
    assert!(!an(&deep).problems.is_empty());
    let deep = "{ ".repeat(5_000);
    assert!(!an(&deep).problems.is_empty());
    let deep = "if a; then ".repeat(5_000);
    assert!(!an(&deep).problems.is_empty());
    // 1 MB of `a` parses (one long word), 1 MiB + 1 is refused
    let big = "a".repeat(1 << 20);
    let a = an(&big);
    assert!(a.problems.is_empty());
    assert_eq!(a.invocations.len(), 1);
    let a = an(&"a".repeat((1 << 20) + 1));
    assert_eq!(a.problems[0].reason, "input longer than 1048576 bytes");
    assert!(a.invocations.is_empty());
    // NUL bytes are ordinary characters
    let a = an("rm\0 -rf /\0");
    assert!(a.problems.is_empty());
    assert_eq!(a.invocations[0].program, "rm\0");
    // too many commands
    let many = "a;".repeat(20_000);
    let a = an(&many);
    assert_eq!(a.invocations.len(), 10_000);
    assert_eq!(a.problems[0].reason, "more than 10000 simple commands");
    // nested shells 20 levels deep (quoting grows 3^n, so eval/sh mix keeps it small)
    let mut s = "rm -rf /".to_string();
    for _ in 0..20 {
        s = format!("eval {s}");
    }
    let a = an(&s);
    assert!(a
        .problems
        .iter()
        .any(|p| p.reason == "nested shells deeper than 8 levels"));
    let mut s = "rm -rf /".to_string();
    for _ in 0..10 {
        s = format!("bash -c {}", render_argv(&[s.as_str()]));
    }
    let a = an(&s);
    assert!(a
        .problems
        .iter()
        .any(|p| p.reason == "nested shells deeper than 8 levels"));
    // 8 levels is fine
    let mut s = "rm -rf /".to_string();
    for _ in 0..8 {
        s = format!("bash -c {}", render_argv(&[s.as_str()]));
    }
    let a = clean(&s);
    assert_eq!(inv(&a, "rm").depth, 8);
    // expansion blow-up is bounded
    let mut s = String::from("X=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; ");
    for i in 0..24 {
        s.push_str(&format!("X=\"$X$X\"; echo {i}; "));
    }
    s.push_str("echo $X $X $X $X");
    let opts = AnalyzeOptions::default();
    let a = analyze(&s, &opts);
    assert!(
        a.problems.iter().any(|p| p.reason.contains("budget")),
        "{:?}",
        a.problems
    );
    // brace bomb
    let a = an(&"{a,b}".repeat(30));
    assert_eq!(a.problems[0].reason, "brace expansion too large");
}

#[test]
fn custom_limits() {
    let opts = AnalyzeOptions {
        limits: Limits {
            max_len: 10,
            max_depth: 3,
            max_commands: 2,
            max_nesting: 1,
        },
        ..AnalyzeOptions::default()
    };
    assert_eq!(
        analyze("echo 01234567890", &opts).problems[0].reason,
        "input longer than 10 bytes"
    );
    let opts = AnalyzeOptions {
        limits: Limits {
            max_len: 1000,
            ..opts.limits
        },
        ..AnalyzeOptions::default()
    };
    assert_eq!(
        analyze("( ( ( (a) ) ) )", &opts).problems[0].reason,
        "nesting deeper than 3 levels"
    );
    assert_eq!(
        analyze("a;b;c", &opts).problems[0].reason,
        "more than 2 simple commands"
    );
    let a = analyze("sh -c 'sh -c x'", &opts);
    assert_eq!(a.problems[0].reason, "nested shells deeper than 1 levels");
    let opts = AnalyzeOptions {
        extra_shells: vec!["myshell".into()],
        ..AnalyzeOptions::default()
    };
    let a = analyze("myshell -c 'rm x'", &opts);
    assert_eq!(a.invocations[1].program, "rm");
}

#[test]
fn deepest_accepted_nesting_fits_the_stack() {
    // Runs on a default 2 MiB test thread: the deepest inputs that are still accepted must be
    // analysed without overflowing the stack.
    let cases = [
        ("$(", ")"),
        ("echo $(", ")"),
        ("( ", " )"),
        ("{ ", "; }"),
        ("\"$(", ")\""),
        ("${X:-$(", ")}"),
        ("bash -c \"$(", ")\""),
        ("if a; then ", "; fi"),
        ("<(", ")"),
    ];
    for (open, close) in cases {
        let mut accepted = 0;
        for n in (10..=300).step_by(10) {
            let s = format!("{}rm x{}", open.repeat(n), close.repeat(n));
            let a = an(&s);
            if a.problems.is_empty() {
                accepted = n;
                assert!(
                    a.invocations
                        .iter()
                        .any(|i| i.program == "rm" || i.argv.iter().any(|x| x.value == "rm")),
                    "{open} x {n}"
                );
            } else {
                assert!(
                    a.problems[0].reason.starts_with("nesting deeper"),
                    "{open} x {n}: {:?}",
                    a.problems
                );
            }
        }
        assert!(accepted >= 10, "{open}");
    }
}

#[test]
fn docs_example() {
    let a = analyze(
        "cd /srv && sudo bash -c 'rm -rf ~/x' | tee log",
        &AnalyzeOptions::default(),
    );
    assert!(a.problems.is_empty());
    let rm = a.invocations.iter().find(|i| i.program == "rm").unwrap();
    assert_eq!(rm.text, "rm -rf ~/x");
    assert_eq!(rm.wrappers, ["sudo", "bash"]);
    assert_eq!(rm.origin, "in `bash -c` argument, simple command 1");
    assert_eq!(rm.cwd, Cwd::Known("/srv".into()));
    assert_eq!(rm.depth, 1);
    let tee = inv(&a, "tee");
    assert_eq!(tee.stdin, Stdin::Pipe { from: 2 });
}

// ---------------------------------------------------------------------------------------
// Parser gaps (regression corpus `[parser-gaps]`)

fn has_problem(a: &Analysis, needle: &str) -> bool {
    a.problems.iter().any(|p| p.reason.contains(needle))
}

#[test]
fn unclosed_heredoc_is_a_problem() {
    for src in [
        "cat <<EOF",
        "cat <<EOF\nhello",
        "cat <<'EOF'\nhello\nEO",
        "bash <<-END\n\trm -rf /\n",
    ] {
        let a = an(src);
        let d = if src.contains("END") { "END" } else { "EOF" };
        assert!(
            has_problem(&a, &format!("heredoc `{d}` is never closed")),
            "{src:?}: {a:#?}"
        );
    }
    // the body read so far is still analysed
    let a = an("bash <<EOF\nrm -rf /\n");
    assert_eq!(argv(inv(&a, "rm")), ["rm", "-rf", "/"]);
    // closed heredocs (also at the very end without a newline, with CRLF) are fine
    clean("cat <<EOF\nx\nEOF");
    clean("cat <<EOF\r\nx\r\nEOF\r\n");
    clean("cat <<A; cat <<B\na\nA\nb\nB");
    // a nested unclosed heredoc names its origin
    let a = an("bash -c 'cat <<X'");
    let p = a
        .problems
        .iter()
        .find(|p| p.reason.contains("`X`"))
        .unwrap();
    assert_eq!(p.origin, "in `bash -c` argument");
}

#[test]
fn for_loops_over_literal_words_are_unrolled() {
    let a = clean("for d in / ~; do rm -rf $d; done");
    let rms: Vec<_> = a
        .invocations
        .iter()
        .filter(|i| i.program == "rm")
        .map(|i| i.text.clone())
        .collect();
    assert_eq!(rms, ["rm -rf /", "rm -rf ~"]);
    assert!(a.invocations.iter().all(|i| !i.argv[2].dynamic));
    // brace expansion, quoting, substitution of literal output, word splitting of the value
    let texts = |s: &str| -> Vec<String> {
        clean(s)
            .invocations
            .iter()
            .filter(|i| i.program == "rm")
            .map(|i| i.text.clone())
            .collect()
    };
    assert_eq!(
        texts("for i in {1..3}; do rm $i; done"),
        ["rm 1", "rm 2", "rm 3"]
    );
    assert_eq!(
        texts("for x in 'a b' c; do rm $x; done"),
        ["rm a b", "rm c"]
    );
    assert_eq!(texts("for x in 'a b'; do rm \"$x\"; done"), ["rm 'a b'"]);
    assert_eq!(texts("for x in $(echo /); do rm -r $x; done"), ["rm -r /"]);
    // state carries from one iteration to the next, like bash runs them
    assert_eq!(
        texts("for x in a b; do rm $Y$x; Y=/; done"),
        ["rm ${Y}a", "rm /b"]
    );
    assert_eq!(texts("for d in a b; do cd $d; rm x; done; rm y").len(), 3);
    let a = clean("for d in a b; do cd $d; rm x; done; rm y");
    let cwds: Vec<_> = a
        .invocations
        .iter()
        .filter(|i| i.program == "rm")
        .map(|i| i.cwd.clone())
        .collect();
    assert_eq!(
        cwds,
        [
            Cwd::Known("a".into()),
            Cwd::Known("a/b".into()),
            Cwd::Unknown
        ]
    );
    // after the loop the variable and anything assigned in the body are unknown
    let a = clean("for x in rm; do Y=rm; done; $x a; $Y b");
    assert!(a.invocations.iter().all(|i| i.dynamic_program));
    // dynamic or glob words, `select`, no word list and long lists stay dynamic
    for src in [
        "for f in $(ls); do rm $f; done",
        "for f in *.txt; do rm $f; done",
        "for f in a $X; do rm $f; done",
        "select f in a b; do rm $f; done",
        "for f; do rm $f; done",
        "for f in {1..17}; do rm $f; done",
    ] {
        let a = clean(src);
        let rms: Vec<_> = a.invocations.iter().filter(|i| i.program == "rm").collect();
        assert_eq!(rms.len(), 1, "{src}");
        assert!(rms[0].argv[1].dynamic, "{src}");
    }
    // 16 values are unrolled
    assert_eq!(texts("for f in {1..16}; do rm $f; done").len(), 16);
    // nested loops multiply, within the unrolling budget
    assert_eq!(
        texts("for a in 1 2 3; do for b in x y; do rm $a$b; done; done"),
        ["rm 1x", "rm 1y", "rm 2x", "rm 2y", "rm 3x", "rm 3y"]
    );
}

#[test]
fn for_loop_unrolling_is_bounded() {
    // 6 nested loops of 16 values would be 16^6 bodies: the budget falls back to one
    // analysis with a dynamic variable, without a problem and without exploding
    let mut src = String::from("rm $a$b$c$d$e$f");
    for v in ["f", "e", "d", "c", "b", "a"] {
        src = format!("for {v} in {{1..16}}; do {src}; done");
    }
    let a = clean(&src);
    assert!(a.invocations.len() < 20_000, "{}", a.invocations.len());
    assert!(a.invocations.iter().any(|i| i.argv[1].dynamic));
    // every emitted rm names all six variables (known or dynamic), nothing is dropped
    assert!(a.invocations.iter().all(|i| i.program == "rm"));
}

#[test]
fn container_runners() {
    // (input, label in the origin, inner argv)
    let table: &[(&str, &str, &[&str])] = &[
        (
            "docker exec app rm -rf /",
            "docker exec",
            &["rm", "-rf", "/"],
        ),
        (
            "docker exec -it db psql -c 'drop database prod'",
            "docker exec",
            &["psql", "-c", "drop database prod"],
        ),
        (
            "docker exec -e A=1 --env B=2 -u root -w /srv --workdir=/x -i app rm x",
            "docker exec",
            &["rm", "x"],
        ),
        (
            "docker -H tcp://h:2375 --context c container exec app ls /",
            "docker exec",
            &["ls", "/"],
        ),
        ("podman exec -t c ls", "podman exec", &["ls"]),
        (
            "docker run --rm -it -v /:/host -p 80:80 --name x -e K=V ubuntu rm -rf /host",
            "docker run",
            &["rm", "-rf", "/host"],
        ),
        (
            "docker run --entrypoint rm alpine -rf /",
            "docker run",
            &["rm", "-rf", "/"],
        ),
        (
            "docker run --entrypoint=ls img -la",
            "docker run",
            &["ls", "-la"],
        ),
        (
            "docker compose exec db psql -U app -c 'DROP TABLE users'",
            "docker compose exec",
            &["psql", "-U", "app", "-c", "DROP TABLE users"],
        ),
        (
            "docker compose -f a.yml -p proj exec -T -u root --index 2 db mysql -e x",
            "docker compose exec",
            &["mysql", "-e", "x"],
        ),
        (
            "docker-compose run --rm -e X=1 -v a:b web rake db:drop",
            "docker-compose run",
            &["rake", "db:drop"],
        ),
        (
            "kubectl exec -it db-0 -- psql -c 'drop table users'",
            "kubectl exec",
            &["psql", "-c", "drop table users"],
        ),
        (
            "kubectl -n prod exec db-0 -c pg --container=x -- rm -rf /data",
            "kubectl exec",
            &["rm", "-rf", "/data"],
        ),
        ("kubectl exec db-0 -c pg ls /", "kubectl exec", &["ls", "/"]),
        ("oc exec pod-1 -- rm x", "oc exec", &["rm", "x"]),
        ("oc rsh pod-1 rm x", "oc rsh", &["rm", "x"]),
        (
            "kubectl run t --image=busybox --rm -it -- rm -rf /",
            "kubectl run",
            &["rm", "-rf", "/"],
        ),
    ];
    for (src, label, want) in table {
        let a = clean(src);
        assert_eq!(a.invocations.len(), 2, "{src}: {a:#?}");
        let outer = &a.invocations[0];
        let inner = &a.invocations[1];
        let runner = outer.program.clone();
        assert_eq!(argv(inner), *want, "{src}");
        assert_eq!(
            inner.origin,
            format!("in `{label}` command, simple command 1"),
            "{src}"
        );
        assert_eq!(inner.wrappers, [runner], "{src}");
        assert_eq!(inner.cwd, Cwd::Unknown, "{src}");
        assert_eq!(inner.depth, 1, "{src}");
    }
    // no command given, or a subcommand that runs none
    for src in [
        "docker run -d nginx",
        "docker ps -a",
        "docker exec",
        "kubectl get pods",
        "kubectl run t --image=x",
        "docker compose up -d",
    ] {
        assert_eq!(clean(src).invocations.len(), 1, "{src}");
    }
    // the inner command is looked through like any other: wrappers, shells
    let a = clean("sudo docker exec c sudo bash -c 'rm -rf / && ls'");
    let rm = inv(&a, "rm");
    assert_eq!(rm.wrappers, ["sudo", "docker", "sudo", "bash"]);
    assert_eq!(
        rm.origin,
        "in `docker exec` command, in `bash -c` argument, simple command 1"
    );
    // stdin is forwarded, outer redirections are not
    let a = clean("cat dump.sql | docker exec -i db psql > out");
    let p = inv(&a, "psql");
    assert_eq!(p.stdin, Stdin::Pipe { from: 0 });
    assert!(p.redirects.is_empty());
    // a dynamic container name does not hide the command; a dynamic command is dynamic
    assert_eq!(argv(inv(&clean("docker exec $C rm x"), "rm")), ["rm", "x"]);
    let a = clean("docker exec c $CMD");
    assert!(a.invocations[1].dynamic_program);
    // runners inside runners are bounded by the nesting limit
    let deep = "docker exec c ".repeat(20) + "rm x";
    let a = an(&deep);
    assert!(
        has_problem(&a, "nested shells deeper than 8 levels"),
        "{a:#?}"
    );
}

#[test]
fn named_fork_bombs() {
    for (src, name) in [
        ("bomb(){ bomb|bomb& }; bomb", "bomb"),
        ("function b { b | b & }; b", "b"),
        ("f() { f & f; }; f", "f"),
        ("x(){ nohup x | x & }", "x"),
        ("bash -c 'g(){ g|g& };g'", "g"),
    ] {
        let a = an(src);
        assert!(
            has_problem(
                &a,
                &format!("function `{name}` calls itself recursively (fork bomb pattern)")
            ),
            "{src}: {a:#?}"
        );
        // a synthetic `:` fed by a pipe, like the classic bomb
        let colon = a
            .invocations
            .iter()
            .find(|i| i.program == ":")
            .unwrap_or_else(|| panic!("{src}: {a:#?}"));
        assert!(matches!(colon.stdin, Stdin::Pipe { from } if a.invocations[from].program == name));
        assert!(
            colon.origin.contains(&format!("in function `{name}`")),
            "{src}"
        );
    }
    // the classic form: a problem, and its own `:` with a pipe (no extra synthetic one)
    let a = an(":(){ :|:& };:");
    assert!(has_problem(&a, "function `:` calls itself"));
    assert_eq!(a.invocations.iter().filter(|i| i.program == ":").count(), 3);
    // functions calling each other, one call multiplying processes
    for (src, names) in [
        ("a(){ b|b& }; b(){ a; }; a", "`b`, `a`"),
        ("f(){ g; }; g(){ f & f; }; f", "`g`, `f`"),
        ("x(){ y; }; y(){ z; }; z(){ x | x & }; x", "`z`, `x`, `y`"),
    ] {
        let a = an(src);
        assert!(
            has_problem(
                &a,
                &format!("functions {names} call each other recursively (fork bomb pattern)")
            ),
            "{src}: {:#?}",
            a.problems
        );
        assert!(
            a.invocations
                .iter()
                .any(|i| i.program == ":" && matches!(i.stdin, Stdin::Pipe { .. })),
            "{src}"
        );
    }
    // ordinary functions and plain recursion are not bombs
    for src in [
        "a(){ b; }; b(){ a; }",
        "a(){ ls | grep x & }; b(){ a; }; a",
        "a(){ b | b & }; c(){ a; }",
        "f() { ls | grep x & }; f",
        "f() { f; }",
        "f() { g | g & }",
        "f() { rm -rf /; }; f | f",
    ] {
        let a = an(src);
        assert!(!has_problem(&a, "fork bomb"), "{src}");
        assert!(a.invocations.iter().all(|i| i.program != ":"), "{src}");
    }
}

#[test]
fn interpreter_file_access() {
    // (input, synthetic argv) — the last invocation
    let table: &[(&str, &[&str])] = &[
        (
            "python3 -c \"open('.claude/settings.json','w').write('{}')\"",
            &["tee", ".claude/settings.json"],
        ),
        ("python3 -c \"open('a.txt', 'a').write('x')\"", &["tee", "-a", "a.txt"]),
        ("python -c \"open('x', mode='wb')\"", &["tee", "x"]),
        ("python -c \"open('x', 'r+')\"", &["tee", "x"]),
        ("python -c \"print(open('/etc/shadow').read())\"", &["cat", "/etc/shadow"]),
        ("python -c \"open('.env', 'r')\"", &["cat", ".env"]),
        ("python -c \"import io; io.open('f', 'x')\"", &["tee", "f"]),
        (
            "python -c \"import os; open(os.path.expanduser('~/.bashrc'), 'a')\"",
            &["tee", "-a", "~/.bashrc"],
        ),
        (
            "python3 -c \"from pathlib import Path; Path('.git/hooks/pre-commit').write_text('x')\"",
            &["tee", ".git/hooks/pre-commit"],
        ),
        ("python3 -c \"Path('a', 'b.txt').read_text()\"", &["cat", "a/b.txt"]),
        ("python3 -c \"Path('k').open('w')\"", &["tee", "k"]),
        ("python3 -c \"Path('k').open()\"", &["cat", "k"]),
        ("python -c \"open('-x', 'w')\"", &["tee", "--", "-x"]),
        (
            "node -e \"require('fs').writeFileSync('.mcp.json', '{}')\"",
            &["tee", ".mcp.json"],
        ),
        (
            "node -e \"const fs = require('fs'); fs.appendFileSync('log', 'x')\"",
            &["tee", "-a", "log"],
        ),
        ("node -e \"fs.readFileSync('.env', 'utf8')\"", &["cat", ".env"]),
        ("deno eval \"Deno.writeTextFile('x.json', '{}')\"", &["tee", "x.json"]),
        ("ruby -e \"File.write('x', 'y')\"", &["tee", "x"]),
        ("ruby -e \"puts File.read('/etc/passwd')\"", &["cat", "/etc/passwd"]),
        ("ruby -e \"File.open('x', 'w') { |f| f << 1 }\"", &["tee", "x"]),
        ("perl -e \"open(my \\$f, '>', 'out.txt')\"", &["tee", "out.txt"]),
        ("perl -e 'open my $f, \">>\", \"log\"; print $f 1'", &["tee", "-a", "log"]),
        ("perl -e 'open(F, \">/etc/hosts\")'", &["tee", "/etc/hosts"]),
        ("perl -e 'open(F, \"<\", \"/etc/shadow\")'", &["cat", "/etc/shadow"]),
        ("php -r \"file_put_contents('x.php', '<?php');\"", &["tee", "x.php"]),
        ("php -r \"echo file_get_contents('.env');\"", &["cat", ".env"]),
        ("php -r \"fopen('f', 'c');\"", &["tee", "f"]),
    ];
    for (src, want) in table {
        let a = clean(src);
        let last = a.invocations.last().unwrap();
        assert_eq!(argv(last), *want, "{src}: {a:#?}");
        assert_eq!(last.depth, 1, "{src}");
    }
    let a = clean("python3 -c \"open('.claude/settings.json','w').write('{}')\"");
    let tee = inv(&a, "tee");
    assert_eq!(tee.origin, "in `python3 -c` code: open(...)");
    assert_eq!(tee.wrappers, ["python3"]);
    // a write to a computed path is a dynamic argument; a computed read is not reported
    let a = clean("python -c \"import sys; open(sys.argv[1], 'w')\"");
    assert!(inv(&a, "tee").argv[1].dynamic);
    let a = clean("python -c \"import sys; print(open(sys.argv[1]).read())\"");
    assert_eq!(a.invocations.len(), 1);
    // a computed mode counts as a write
    assert_eq!(progs("python -c \"open('f', m)\""), ["python", "tee"]);
    // pipe opens run shell commands
    assert_eq!(progs("perl -e 'open(F, \"rm -rf / |\")'"), ["perl", "rm"]);
    assert_eq!(
        progs("perl -e 'open(my $f, \"-|\", \"rm\", \"-rf\", \"/\")'"),
        ["perl", "rm"]
    );
    assert_eq!(progs("ruby -e 'open(\"|rm -rf /\")'"), ["ruby", "rm"]);
    let a = an("perl -e 'open(F, $cmd)'");
    assert!(has_problem(&a, "runs a shell command built at run time"));
    // unrelated `open`s are not file accesses
    for src in [
        "python -c \"import webbrowser; webbrowser.open('http://x')\"",
        "python -c \"Image.open('a.png')\"",
        "node -e \"open('x')\"",
    ] {
        assert_eq!(clean(src).invocations.len(), 1, "{src}");
    }
}

#[test]
fn nested_find_exec_is_bounded() {
    // used to overflow the stack: every `-exec` recursed without a limit
    let a = an(&("find . -exec ".repeat(50_000) + "rm x"));
    assert!(
        has_problem(&a, "`find -exec` nested deeper than 8 levels"),
        "{:?}",
        a.problems
    );
    // within the limit the innermost command is found
    let a = clean(&("find . -exec ".repeat(8) + "rm x ;"));
    assert_eq!(a.invocations.last().unwrap().program, "rm");
}
