//! Property tests: no panics, rendering is a fixpoint, wrapping never hides programs.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;

use cavra_shell::{analyze, render_argv, Analysis, AnalyzeOptions, Invocation};
use proptest::prelude::*;

fn an(s: &str) -> Analysis {
    analyze(s, &AnalyzeOptions::default())
}

/// Tokens that exercise every corner of the grammar (including broken ones).
const TOKENS: &[&str] = &[
    "rm",
    "-rf",
    "/",
    "ls",
    "a",
    "'",
    "\"",
    "'x y'",
    "\"$X\"",
    "$(",
    ")",
    "(",
    "`",
    "|",
    "||",
    "&&",
    "&",
    ";",
    ";;",
    "\n",
    "<<EOF",
    "<<-'E'",
    "EOF",
    "E",
    "${",
    "}",
    "{",
    "${X:-d}",
    "$X",
    "$1",
    "$@",
    "X=1",
    "X=rm",
    "export",
    "*",
    "?",
    "[a]",
    "~",
    "~/x",
    "$HOME",
    "cd",
    "/tmp",
    "..",
    "find",
    "-exec",
    "{}",
    "\\;",
    "+",
    "xargs",
    "-I",
    "sudo",
    "-u",
    "env",
    "-S",
    "bash",
    "sh",
    "-c",
    "-lc",
    "eval",
    "if",
    "then",
    "elif",
    "else",
    "fi",
    "for",
    "in",
    "do",
    "done",
    "while",
    "case",
    "esac",
    "a)",
    "function",
    "f()",
    "[[",
    "]]",
    "((",
    "))",
    "$((",
    "1+2",
    "<(",
    ">(",
    ">",
    ">>",
    "<",
    "2>&1",
    "&>",
    "<<<",
    "\\",
    "\\\n",
    "#",
    "$'\\x72m'",
    "r''m",
    "\\rm",
    "{a,b}",
    "{1..3}",
    "!",
    "time",
    "python3",
    "'import os; os.system(\"rm x\")'",
    "powershell",
    "-Command",
    "cmd",
    "/c",
    "timeout",
    "5",
    "nice",
    "-n",
    "watch",
    "ssh",
    "host",
    "echo",
    "printf",
    "'%s'",
    "trap",
    "EXIT",
    "\0",
    "é",
    "…",
    "\t",
    "=",
    "$'",
    "\"$(ls)\"",
];

const CMDS: &[&str] = &[
    "rm",
    "ls",
    "echo",
    "cat",
    "git",
    "sudo rm",
    "env ls",
    "bash -c 'rm x'",
    "find . -exec rm {} +",
    "xargs rm",
    "python3 -c 'import os; os.system(\"id\")'",
    "timeout 5 rm",
];

/// Tokens safe to combine behind a command (no assignments: wrapping changes their scope).
const SAFE: &[&str] = &[
    "-rf",
    "/",
    "a",
    "'b c'",
    "\"d\"",
    "$Y",
    "$(ls)",
    "`id`",
    "|",
    "&&",
    "||",
    ";",
    "\n",
    "rm",
    "ls",
    "sudo",
    "env",
    "echo",
    "*",
    "~",
    "2>&1",
    "> f",
    "<(cat)",
    "{a,b}",
    "&",
    "cat",
    "x.txt",
    "\"$(whoami)\"",
    "$((1+2))",
    "mv",
    "-n",
    "--",
    "'it''s'",
];

fn shellish() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..14).prop_map(|v| {
        let mut s = String::new();
        for (t, space) in v {
            s.push_str(t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

fn command_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(CMDS),
        prop::collection::vec(prop::sample::select(SAFE), 0..8),
    )
        .prop_map(|(c, rest)| {
            let mut s = c.to_string();
            for t in rest {
                s.push(' ');
                s.push_str(t);
            }
            s
        })
}

fn programs(a: &Analysis) -> BTreeSet<String> {
    a.invocations
        .iter()
        .filter(|i| !i.argv.is_empty())
        .map(|i| i.program.clone())
        .collect()
}

fn values(i: &Invocation) -> Vec<String> {
    i.argv.iter().map(|a| a.value.clone()).collect()
}

/// Re-analysing each invocation's text yields the same argv, and the text is stable.
fn check_fixpoint(src: &str) -> Result<(), TestCaseError> {
    let a = an(src);
    for inv in &a.invocations {
        if inv.argv.is_empty()
            || inv.origin.contains("`powershell")
            || inv.origin.contains("`cmd /")
        {
            // Windows payloads are split with Windows rules; their text is informational
            continue;
        }
        let b = an(&inv.text);
        let again = b
            .invocations
            .iter()
            .find(|j| j.origin == "simple command 1")
            .ok_or_else(|| {
                TestCaseError::fail(format!("{src:?}: text {:?} gave {b:#?}", inv.text))
            })?;
        prop_assert_eq!(
            values(again),
            values(inv),
            "src {:?} text {:?}",
            src,
            inv.text
        );
        prop_assert_eq!(&again.text, &inv.text, "src {:?}", src);
        // a program that is not known where it runs (`xargs -Iecho` substitutes into its
        // default `echo`) is unknown there, though its text alone names one
        if !inv.dynamic_program {
            prop_assert_eq!(&again.program, &inv.program, "src {:?}", src);
        }
    }
    Ok(())
}

fn check_superset(x: &str) -> Result<(), TestCaseError> {
    let base = an(x);
    if !base.problems.is_empty() {
        return Ok(());
    }
    let want = programs(&base);
    if base.invocations.iter().any(|i| {
        i.argv
            .first()
            .is_some_and(|a| a.value.starts_with(['-', '+']))
    }) {
        // an option-looking program name is an artefact of the generator
        return Ok(());
    }
    let quoted = render_argv(&[x]);
    // render_argv quotes argv[0] specially only for reserved words; force quoting here
    let quoted = if quoted.starts_with('\'') {
        quoted
    } else {
        format!("'{quoted}'")
    };
    let mut wrappings = vec![
        format!("bash -c {quoted}"),
        format!("sudo {x}"),
        format!("env {x}"),
        format!("true && {x}"),
    ];
    // `( x )`, spaced: `((a))` is arithmetic in bash, not a subshell around `(a)`; and a
    // trailing backslash would escape the space before `)` (`( a\ )` runs `a `)
    if !x.ends_with('\\') {
        wrappings.push(format!("( {x} )"));
    }
    for wrapped in wrappings {
        let w = an(&wrapped);
        if !w.problems.is_empty() {
            // unparseable wrapping is reported, never silently accepted
            continue;
        }
        let got = programs(&w);
        prop_assert!(
            want.is_subset(&got),
            "{:?} lost programs: want {:?} got {:?}",
            wrapped,
            want,
            got
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(512), max_global_rejects: 1_000_000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_arbitrary(s in any::<String>()) {
        let _ = an(&s);
    }

    #[test]
    fn never_panics_bytes(v in prop::collection::vec(any::<u8>(), 0..200)) {
        let s = String::from_utf8_lossy(&v);
        let _ = an(&s);
    }

    #[test]
    fn never_panics_shellish(s in shellish()) {
        let a = an(&s);
        for inv in &a.invocations {
            if inv.dynamic_program {
                prop_assert!(inv.program.is_empty());
            }
            if let cavra_shell::Stdin::Pipe { from } = inv.stdin {
                prop_assert!(from < a.invocations.len());
            }
            if let Some(p) = &inv.dynamic_exec {
                prop_assert!(p.iter().all(|&i| i < a.invocations.len()));
            }
        }
    }

    #[test]
    fn rendering_is_fixpoint_shellish(s in shellish()) {
        check_fixpoint(&s)?;
    }

    #[test]
    fn rendering_is_fixpoint_commands(s in command_line()) {
        check_fixpoint(&s)?;
    }

    #[test]
    fn render_argv_roundtrip(v in prop::collection::vec(any::<String>(), 1..5)) {
        // any literal argv renders to text that parses back to the same values
        let text = render_argv(&v);
        let a = an(&text);
        prop_assume!(a.problems.is_empty());
        // a leading `~` is (deliberately) read as home by the parser: skip those
        prop_assume!(!v.iter().any(|x| x.starts_with('~')));
        let inv = a.invocations.iter().find(|i| i.origin == "simple command 1");
        if v.iter().all(|x| x.is_empty()) && v.len() == 1 {
            // `''` alone is an (empty) command name
        }
        let inv = inv.ok_or_else(|| TestCaseError::fail(format!("{text:?}")))?;
        let got: Vec<String> = inv.argv.iter().map(|x| x.value.clone()).collect();
        // wrappers may be looked through (`sudo`), so compare the tail
        prop_assert!(v.ends_with(&got), "{:?} -> {:?} -> {:?}", v, text, got);
    }

    #[test]
    fn wrapping_keeps_programs(x in command_line()) {
        check_superset(&x)?;
    }

    #[test]
    fn wrapping_keeps_programs_shellish(x in shellish()) {
        // assignments change meaning under wrapping (`sudo X=1` is not an assignment)
        prop_assume!(!x.contains('='));
        // keywords are only keywords in command position, which `sudo`/`env` take away
    let norm = x.replace("\\\n", " ");
    prop_assume!(!norm.trim_start().starts_with(['-', '!']));
    let first = norm.split_whitespace().next().unwrap_or("");
    prop_assume!(!matches!(
        first,
        "function" | "if" | "for" | "while" | "until" | "case" | "select" | "time" | "coproc"
            | "{" | "[[" | "((" | "then" | "do" | "done" | "fi" | "esac" | "}" | "]]" | "))"
            | "in" | "elif" | "else"
    ));
        check_superset(&x)?;
    }
}

#[test]
fn fixpoint_examples() {
    for s in [
        "rm -rf ~/x 'a b' \"$X\"y *.txt",
        "echo $(echo a b) \"$(ls)\" $((1+2)) <(cat)",
        "X='a  b'; echo $X \"$X\"",
        "find . -exec rm {} + | xargs -I {} mv {} /tmp",
        "python3 -c 'import subprocess; subprocess.run([\"rm\", \"-rf\", \"a b\"])'",
        "cmd /c \"del /f C:\\x\"",
        "'if' x; 'A=b' c; \\~x; '#' y",
        // fuzz regressions
        "find . -exec zsh $-m'r c {}' \\; | xa3f,/}",
        "-{mrm&rr}$/{,- ${94r}$/",
        "xargs -Iecho",
    ] {
        check_fixpoint(s).unwrap();
    }
}
