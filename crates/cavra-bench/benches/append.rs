//! Append and verify throughput of the evidence log (docs/performance.md, "Evidence").
#![allow(clippy::unwrap_used)]

use cavra_evidence::{
    verify_log, Durability, EvidenceLog, KeyStore, LogConfig, SigningMode, VerifyOptions,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};
use std::time::Instant;

fn body(i: u64) -> Value {
    json!({
        "decision_id": format!("d{i}"), "session_id": "sess-1", "agent_id": "claude-code", "actor": "agent",
        "action_type": "shell", "target": "cargo test --workspace", "requested_operation": "exec",
        "policy_pack": "cavra-baseline", "policy_id": "cavra-baseline", "rule_id": "commands.allow",
        "rule_ids": ["commands.allow"], "decision": "allow", "cavra_decision": "allow", "proceed": true,
        "severity": "low", "reason": "command matched the allow list", "approver_group": null,
        "controls": ["SOC2 CC6.1"], "policy_digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "request_hash": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "request": {"tool": "Bash", "command": "cargo test --workspace", "cwd": "/repo"},
        "timestamp": "2025-05-01T10:00:00Z", "correlation_id": "corr-1", "evidence_refs": ["evidence://sess-1/d1"],
    })
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("evidence");
    g.throughput(Throughput::Elements(1));
    for (name, mode, dur) in [
        (
            "append_flush_ed25519",
            SigningMode::Ed25519,
            Durability::Flush,
        ),
        (
            "append_flush_hmac",
            SigningMode::HmacSha256,
            Durability::Flush,
        ),
        (
            "append_fsync_ed25519",
            SigningMode::Ed25519,
            Durability::Fsync,
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = LogConfig::new(d.path().join("ev"), d.path().join("keys"));
        cfg.signing = mode;
        cfg.durability = dur;
        let mut log = EvidenceLog::open(cfg).unwrap();
        let mut i = 0;
        // Sustained throughput: records appended back to back, in rounds of 64. The
        // record bodies are the caller's data, built before each round (not timed).
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(64);
                    left -= n;
                    let bodies: Vec<Value> = (0..n)
                        .map(|_| {
                            i += 1;
                            body(i)
                        })
                        .collect();
                    let t = Instant::now();
                    for v in &bodies {
                        log.append("decision", v).unwrap();
                    }
                    total += t.elapsed();
                }
                total
            })
        });
        if dur == Durability::Flush {
            // One append between building each body (caches shared with other work).
            g.bench_function(format!("{name}_interleaved"), |b| {
                b.iter_batched_ref(
                    || {
                        i += 1;
                        body(i)
                    },
                    |v| log.append("decision", v).unwrap(),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    // baseline for ratios: the record signature alone (same key type, same message size)
    {
        let key = cavra_evidence::SigningKey::generate(SigningMode::Ed25519);
        let mut n = 0u64;
        g.bench_function("baseline_ed25519_sign", |b| {
            b.iter(|| {
                n += 1;
                let h = format!("{n:064x}");
                key.sign(&cavra_evidence::record::record_sig_message(&h))
            })
        });
    }
    // open + one append: what one hook process adds
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig::new(d.path().join("ev"), d.path().join("keys"));
    EvidenceLog::open(cfg.clone())
        .unwrap()
        .append("decision", &body(0))
        .unwrap();
    g.bench_function("hook_open_and_append", |b| {
        b.iter(|| {
            EvidenceLog::open(cfg.clone())
                .unwrap()
                .append("decision", &body(1))
                .unwrap()
        })
    });
    g.finish();

    // verification of a 20,000-record log
    let n = 20_000u64;
    let mut g = c.benchmark_group("evidence_verify");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    for (name, mode) in [
        ("ed25519", SigningMode::Ed25519),
        ("hmac", SigningMode::HmacSha256),
    ] {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = LogConfig::new(d.path().join("ev"), d.path().join("keys"));
        cfg.signing = mode;
        let mut log = EvidenceLog::open(cfg.clone()).unwrap();
        for i in 0..n {
            log.append("decision", &body(i)).unwrap();
        }
        let ring = KeyStore::new(&cfg.key_dir).keyring().unwrap();
        for full in [false, true] {
            g.bench_function(
                format!("verify_{name}_{}", if full { "full" } else { "default" }),
                |b| {
                    b.iter(|| {
                        let r = verify_log(
                            &cfg.dir,
                            VerifyOptions {
                                keyring: &ring,
                                full_signatures: full,
                                progress: None,
                            },
                        )
                        .unwrap();
                        assert!(r.ok);
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
