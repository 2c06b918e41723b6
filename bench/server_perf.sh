#!/usr/bin/env bash
# Where `cavra serve` spends real time under load: `perf record` (call graphs by DWARF) on
# the release server for SECONDS while wrk posts the three requests of
# bench/server_load.sh, then the inclusive top of `perf report`.
#
# usage: bash bench/server_perf.sh [sqlite|postgres] [SECONDS]   (default sqlite, 6)
#   BIN=path/to/cavra (default target/release/cavra, built unless SKIP_BUILD);
#   PERF_DATA=file keeps the recording (default a temporary file); needs perf (linux-perf)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BACKEND=${1:-sqlite}
SECS=${2:-6}
command -v perf >/dev/null || { echo "perf is needed: apt-get install linux-perf" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
server_bench_setup perf
DATA=${PERF_DATA:-$TMP/perf.data}
db=()
if [ "$BACKEND" = postgres ]; then
  psql "$PG/test" -qc "CREATE DATABASE $PGDB" >/dev/null
  db=(--database "$PG/$PGDB")
fi
issue_agent_token "$BIN" "$TMP/state" "$TMP/agent.token" "${db[@]}"
serve_start "$BIN" "$TMP/state" "$TMP" --listen 127.0.0.1:0 "${db[@]}"
decide_lua "$TMP/decide.lua"
wrk -t2 -c64 -d"$((SECS + 6))s" -s "$TMP/decide.lua" "$URL/v1/decisions" > "$TMP/wrk.out" &
W=$!
sleep 2
perf record -F 2999 -g --call-graph dwarf,16384 -p "$SRV_PID" -o "$DATA" -- sleep "$SECS" >/dev/null 2>&1 || true
wait "$W"
grep -E 'Requests/sec' "$TMP/wrk.out"
perf report -i "$DATA" --children --sort symbol --stdio -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' | sed 's/  */ /g' | cut -c1-150 | head -80
