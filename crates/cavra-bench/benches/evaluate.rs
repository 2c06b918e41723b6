//! In-process evaluation benchmarks: `cargo bench -p cavra-core --bench evaluate`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::bundled;
use cavra_core::{ActionRequest, ActionType};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn req(action: ActionType, target: &str) -> ActionRequest {
    let mut r = ActionRequest::new(action, target);
    r.cwd = Some("/work/repo".into());
    r.home = Some("/home/dev".into());
    r
}

fn bench(c: &mut Criterion) {
    let pack = match bundled::compiled(bundled::DEFAULT_PACK) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("baseline pack failed to compile: {e}");
            return;
        }
    };
    let env = EvalEnv::default();
    let cases = [
        ("read_file", req(ActionType::ReadFile, "src/main.rs")),
        ("read_dotenv", req(ActionType::ReadFile, ".env")),
        (
            "command_typical",
            req(
                ActionType::ExecuteCommand,
                "cargo test -p core && git status",
            ),
        ),
        (
            "command_dangerous",
            req(
                ActionType::ExecuteCommand,
                "git -C repo push --force origin main && rm -rf ~/x",
            ),
        ),
        ("git_push", req(ActionType::GitOperation, "origin/main")),
    ];
    for (name, r) in &cases {
        c.bench_function(&format!("evaluate/{name}"), |b| {
            b.iter(|| evaluate(black_box(&pack), black_box(r), &env))
        });
    }
    // scaling with command length: 10 B, 1 KB, 100 KB of realistic commands
    let unit = "git status && cargo test -p core | tee log.txt; ";
    for (name, len) in [("10B", 10usize), ("1KB", 1_000), ("100KB", 100_000)] {
        let cmd = if len <= 10 {
            "ls -la src".to_string()
        } else {
            unit.repeat(len / unit.len() + 1)[..len].to_string()
        };
        let r = req(ActionType::ExecuteCommand, &cmd);
        let mut g = c.benchmark_group("evaluate/command_len");
        g.sample_size(if len >= 100_000 { 10 } else { 50 });
        g.bench_function(name, |b| {
            b.iter(|| evaluate(black_box(&pack), black_box(&r), &env))
        });
        g.finish();
    }
    c.bench_function("pack/compile_baseline", |b| {
        b.iter(|| bundled::compiled(bundled::DEFAULT_PACK))
    });
    // the source alone (built by generated code; before, parsed from its JSON)
    c.bench_function("pack/source_baseline", |b| {
        b.iter(|| bundled::source(bundled::DEFAULT_PACK))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
