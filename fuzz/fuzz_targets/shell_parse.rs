//! Fuzz `cavra_shell::analyze`: no panic, indices in range, every invocation's text re-parses
//! to the same argv.
#![no_main]

use cavra_shell::{analyze, AnalyzeOptions, Stdin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let opts = AnalyzeOptions::default();
    let a = analyze(src, &opts);
    let n = a.invocations.len();
    assert!(n <= opts.limits.max_commands);
    for inv in &a.invocations {
        if let Stdin::Pipe { from } = inv.stdin {
            assert!(from < n, "pipe index out of range");
        }
        if let Some(p) = &inv.dynamic_exec {
            assert!(p.iter().all(|&i| i < n), "dynamic_exec index out of range");
        }
        if inv.dynamic_program {
            assert!(inv.program.is_empty());
        }
        if inv.argv.is_empty()
            || inv.origin.contains("`powershell")
            || inv.origin.contains("`cmd /")
        {
            continue;
        }
        // the normalised text re-parses, to the same argv
        let b = analyze(&inv.text, &opts);
        let again = b
            .invocations
            .iter()
            .find(|j| j.origin == "simple command 1")
            .unwrap_or_else(|| {
                panic!(
                    "text {:?} of {:?} does not re-parse: {:?}",
                    inv.text, src, b.problems
                )
            });
        let v1: Vec<&str> = inv.argv.iter().map(|x| x.value.as_str()).collect();
        let v2: Vec<&str> = again.argv.iter().map(|x| x.value.as_str()).collect();
        assert_eq!(v1, v2, "text {:?} of {:?}", inv.text, src);
        assert_eq!(again.text, inv.text);
    }
});
