//! Process-level timer: spawns a command N times with a payload file on stdin and reports
//! the median, p10 and p90 wall time, next to a baseline command measured in the same run.
//! Built by bench/hook.sh with plain rustc (no dependencies).
//!
//! usage: hook_timer RUNS PAYLOAD BASELINE_CMD -- CMD ARGS...

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Instant;

fn time_runs(runs: usize, payload: &str, argv: &[String]) -> Vec<f64> {
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let stdin = File::open(payload).expect("payload file");
        let t = Instant::now();
        let st = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("spawn");
        v.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(st.code().is_some());
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args[1].parse().expect("runs");
    let payload = &args[2];
    let baseline = vec![args[3].clone()];
    let sep = args.iter().position(|a| a == "--").expect("--");
    let cmd: Vec<String> = args[sep + 1..].to_vec();
    // warm up
    time_runs(10, payload, &cmd);
    // interleave baseline and command in blocks so noise hits both
    let mut b = Vec::new();
    let mut c = Vec::new();
    for _ in 0..5 {
        b.extend(time_runs(runs / 5, payload, &baseline));
        c.extend(time_runs(runs / 5, payload, &cmd));
    }
    b.sort_by(|x, y| x.partial_cmp(y).unwrap());
    c.sort_by(|x, y| x.partial_cmp(y).unwrap());
    println!(
        "{:<44} median {:.3} ms  p10 {:.3}  p90 {:.3}  (baseline `{}` median {:.3} ms; command minus baseline {:.3} ms)",
        cmd.join(" ").chars().rev().take(44).collect::<String>().chars().rev().collect::<String>(),
        pct(&c, 0.5),
        pct(&c, 0.1),
        pct(&c, 0.9),
        baseline[0],
        pct(&b, 0.5),
        pct(&c, 0.5) - pct(&b, 0.5)
    );
}
