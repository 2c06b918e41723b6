#!/usr/bin/env bash
# Evidence log benchmarks (criterion): append throughput (flush/fsync, Ed25519/HMAC),
# open+append cost per hook process, verify throughput (default and --full).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p cavra-evidence --bench append -- --warm-up-time 1 --measurement-time "${MEASURE_SECS:-3}" "$@"
