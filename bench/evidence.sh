#!/usr/bin/env bash
# Evidence log benchmarks (criterion, crates/cavra-bench/benches/append.rs):
# sustained append throughput (flush/fsync, Ed25519/HMAC), one append interleaved with
# other work, the bare Ed25519 record signature as the in-run baseline, open+append cost
# per hook process, verify throughput (default and --full).
#
# The machine is shared and noisy: the benchmark runs RUNS times (default 5) and the
# table gives, per benchmark, the median over the runs of criterion's median, with the
# spread (min-max) and the ratio to the baseline signature measured in the same runs.
#
#   bash bench/evidence.sh                 # everything, 5 runs
#   RUNS=3 bash bench/evidence.sh append   # only benchmarks whose name contains "append"
#   CARGO_FLAGS=--no-default-features bash bench/evidence.sh   # ed25519-dalek signs (no AWS-LC)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
FILTER=${1:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$RUNS"); do
  echo "run $r/$RUNS" >&2
  cargo bench -q -p cavra-bench ${CARGO_FLAGS:-} --bench append -- --warm-up-time 1 \
    --measurement-time "${MEASURE_SECS:-3}" ${FILTER:+"$FILTER"} >/dev/null
  for est in target/criterion/*/*/new/estimates.json; do
    name=${est#target/criterion/}
    name=${name%/new/estimates.json}
    [ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]] && continue
    mkdir -p "$out/$(dirname "$name")"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
      "$est" >>"$out/$name"
  done
done
python3 - "$out" <<'EOF'
import os, statistics, sys
root = sys.argv[1]
rows = {}
for group in sorted(os.listdir(root)):
    for name in sorted(os.listdir(os.path.join(root, group))):
        vals = [float(x) for x in open(os.path.join(root, group, name)).read().split()]
        rows[f"{group}/{name}"] = vals
base = rows.get("evidence/baseline_ed25519_sign")
per = {"evidence_verify": 20000}
print(f"{'benchmark':48} {'median':>11} {'min-max':>21} {'per second':>12} {'x sign':>7}")
for k, vals in rows.items():
    med = statistics.median(vals)
    n = per.get(k.split("/")[0], 1)
    def fmt(ns):
        return f"{ns/1e6:.2f} ms" if ns >= 1e6 else f"{ns/1e3:.2f} us"
    rate = n * 1e9 / med
    # ratio to the baseline of the same run, median over runs
    ratio = f"{statistics.median(v / b for v, b in zip(vals, base)):.2f}" if base and n == 1 else ""
    print(f"{k:48} {fmt(med):>11} {fmt(min(vals)) + ' - ' + fmt(max(vals)):>21} {rate:>12,.0f} {ratio:>7}")
print(f"({len(next(iter(rows.values())))} runs; 'per second' = records/s, verify over 20,000 records)")
EOF
