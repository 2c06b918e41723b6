#!/usr/bin/env bash
# Load on `cavra serve` over loopback: decisions per second through POST /v1/decisions with
# the evidence persisted (SQLite store + file log, and PostgreSQL), next to baselines from
# the same run (GET /health: the HTTP stack alone; decisions with evidence off: the
# decision alone), in alternating rounds; then latency at a fixed rate with oha.
#
# usage: bash bench/server_load.sh [SECONDS_PER_RUN] [ROUNDS] [RATE]   (default 10, 3, 10000)
#   BACKENDS="sqlite postgres" (default both; postgres needs 127.0.0.1:5432, trust auth)
#   CONNECTIONS=64 THREADS=2 (wrk);  OHA=path/to/oha (default: oha on PATH or /tmp/oha/bin/oha;
#   without it the fixed-rate part is skipped: `cargo install oha --locked` provides it)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-10}
ROUNDS=${2:-3}
RATE=${3:-10000}
BACKENDS=${BACKENDS:-sqlite postgres}
CONN=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
OHA=${OHA:-$(command -v oha || echo /tmp/oha/bin/oha)}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
server_bench_setup bench

decide_lua "$TMP/decide.lua"

cat > "$TMP/oha.py" <<'EOF'
import json, sys
name, out, before, after = sys.argv[1:5]
d = json.load(open(out))
p, s = d["latencyPercentiles"], d["summary"]
ms = {k: v * 1000 for k, v in p.items() if v is not None}
codes = d.get("statusCodeDistribution", {})
print(f"{name:9s} achieved {s['requestsPerSec']:8.0f} req/s  p50 {ms['p50']:6.2f} ms  "
      f"p99 {ms['p99']:6.2f} ms  p99.9 {ms['p99.9']:6.2f} ms  codes {codes}  "
      f"rss {int(before) // 1024} -> {int(after) // 1024} MiB")
EOF

# start_server NAME [ENV=VALUE...]: a fresh CAVRA directory per server
start_server() {
  local name=$1; shift
  local state="$TMP/state-$name"
  local db=()
  [ "$name" = postgres ] && db=(--database "$PG/$PGDB")
  issue_agent_token "$BIN" "$state" "$TMP/agent.token" "${db[@]}"
  : > "$TMP/serve.err"
  local kv
  for kv in "$@"; do export "${kv?}"; done
  serve_start "$BIN" "$state" "$TMP" --listen 127.0.0.1:0 "${db[@]}" || exit 1
  for kv in "$@"; do unset "${kv%%=*}"; done
}
stop_server() { kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$SRV_PID/status"; }

if [ "$BACKENDS" != "${BACKENDS/postgres/}" ]; then
  psql "$PG/test" -qc "CREATE DATABASE $PGDB" >/dev/null
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONN -d${SECS}s, $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
  start_server plain CAVRA_NO_EVIDENCE=1
  health=$(wrk_rate "$URL/health")
  plain=$(wrk_rate "$URL/v1/decisions" "$TMP/decide.lua")
  stop_server
  row="$health $plain"
  for b in $BACKENDS; do
    start_server "$b"
    row="$row $(wrk_rate "$URL/v1/decisions" "$TMP/decide.lua")"
    stop_server
  done
  echo "$row"
done > "$TMP/rows"  # not a pipeline: a failed run stops this shell, whose trap stops the server
BACKENDS="$BACKENDS" python3 -c '
import os, statistics, sys
names = ["health", "decisions, no evidence"] + [f"decisions + evidence ({b})" for b in os.environ["BACKENDS"].split()]
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
for i, n in enumerate(names):
    vals = [r[i] for r in rows]
    print(f"{n:32s} median {statistics.median(vals):9.0f} req/s   rounds: " + ", ".join(f"{v:.0f}" for v in vals))' < "$TMP/rows"


if [ -x "$OHA" ]; then
  echo "fixed rate: $RATE req/s for ${SECS}s per backend (oha, latency corrected), and the server's RSS"
  for b in $BACKENDS; do
    start_server "$b"
    before=$(rss_kb)
    body=$(sed -n '2p' "$TMP/decide.lua" | sed "s/^  '//; s/',$//")
    "$OHA" --no-tui -q "$RATE" -z "${SECS}s" -c "$CONN" --latency-correction --output-format json \
      -m POST -H "Authorization: Bearer $(cat "$TMP/agent.token")" -H 'Content-Type: application/json' \
      -d "$body" "$URL/v1/decisions" > "$TMP/oha.json"
    after=$(rss_kb)
    python3 "$TMP/oha.py" "$b" "$TMP/oha.json" "$before" "$after"
    stop_server
  done
else
  echo "fixed-rate latency skipped: no oha (cargo install oha --locked --root /tmp/oha)"
fi
