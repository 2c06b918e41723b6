//! Criterion benchmarks: a typical agent command, and linear scaling over 10 B .. 100 KB.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use cavra_shell::{analyze, AnalyzeOptions};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const TYPICAL: &str = "git -C repo push --force origin main && rm -rf ~/x";

/// A mixed command line of roughly `n` bytes.
fn input_of(n: usize) -> String {
    const UNIT: &str = "cd /srv/app && grep -rn \"TODO\" src | sort > /tmp/o; ";
    let mut s = String::with_capacity(n + UNIT.len());
    while s.len() + UNIT.len() <= n {
        s.push_str(UNIT);
    }
    if s.is_empty() {
        s.push_str(&"ls -la a b"[..n.min(10)]);
    }
    s
}

fn bench(c: &mut Criterion) {
    let opts = AnalyzeOptions::default();
    c.bench_function("typical", |b| b.iter(|| analyze(black_box(TYPICAL), &opts)));
    c.bench_function("nested", |b| {
        b.iter(|| {
            analyze(
                black_box(
                    "sudo bash -c 'cd /srv && find . -name \"*.log\" -exec rm -f {} +' | tee log",
                ),
                &opts,
            )
        })
    });
    let mut g = c.benchmark_group("scaling");
    for n in [10usize, 1_000, 100_000] {
        let s = input_of(n);
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &s, |b, s| {
            b.iter(|| analyze(black_box(s), &opts))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(std::time::Duration::from_secs(2))
        .warm_up_time(std::time::Duration::from_millis(500))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
