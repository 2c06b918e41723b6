#!/usr/bin/env bash
# Two `cavra` binaries under the same load, in alternating rounds: decisions per second
# through POST /v1/decisions with the evidence persisted, and the server's RSS after each
# run. Each round also measures GET /health on the first binary (the HTTP stack alone), the
# baseline of that round.
#
# usage: bash bench/server_ab.sh NAME=BIN NAME=BIN [-- SECONDS ROUNDS]   (default 10, 5)
#   BACKEND=sqlite|postgres (default sqlite);  CONNECTIONS=64 THREADS=2 (wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
names=(); bins=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("${1%%=*}"); bins+=("${1#*=}"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#bins[@]} -ge 2 ] || { echo "usage: bench/server_ab.sh NAME=BIN NAME=BIN [-- SECONDS ROUNDS]" >&2; exit 2; }
SECS=${1:-10}
ROUNDS=${2:-5}
BACKEND=${BACKEND:-sqlite}
CONN=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
SKIP_BUILD=1 BIN=${bins[0]} server_bench_setup ab

start() {  # start BIN NAME
  local state="$TMP/state-$2-$r" db=()
  if [ "$BACKEND" = postgres ]; then
    psql "$PG/test" -qc "DROP DATABASE IF EXISTS $PGDB" -qc "CREATE DATABASE $PGDB" >/dev/null
    db=(--database "$PG/$PGDB")
  fi
  issue_agent_token "$1" "$state" "$TMP/agent.token" "${db[@]}"
  : > "$TMP/serve.err"
  serve_start "$1" "$state" "$TMP" --listen 127.0.0.1:0 "${db[@]}" || exit 1
}
stop() { kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$SRV_PID/status"; }

decide_lua "$TMP/decide.lua"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $BACKEND; wrk -t$THREADS -c$CONN -d${SECS}s, $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
  row=""
  for i in "${!bins[@]}"; do
    start "${bins[$i]}" "${names[$i]}"
    [ "$i" = 0 ] && row="$(wrk_rate "$URL/health")"
    rate=$(wrk_rate "$URL/v1/decisions" "$TMP/decide.lua")
    row="$row $rate $(( $(rss_kb) / 1024 ))"
    stop
  done
  echo "$row" | tee -a "$TMP/rows" >&2
done
cat > "$TMP/sum.py" <<'PY'
import os, statistics, sys
names = os.environ["NAMES"].split()
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(f"{'GET /health (baseline)':28s} median {statistics.median(r[0] for r in rows):9.0f} req/s")
base = None
for i, n in enumerate(names):
    rate = [r[1 + 2 * i] for r in rows]
    rss = [r[2 + 2 * i] for r in rows]
    med = statistics.median(rate)
    rel = "" if base is None else f"   ({(med / base - 1) * 100:+.1f} % against {names[0]}; per-round: " + ", ".join(f"{(r[1 + 2 * i] / r[1] - 1) * 100:+.1f}" for r in rows) + ")"
    base = base or med
    print(f"{n:28s} median {med:9.0f} req/s  rss {statistics.median(rss):.0f} MiB   rounds: " + ", ".join(f"{v:.0f}" for v in rate) + rel)
PY
NAMES="${names[*]}" python3 "$TMP/sum.py" < "$TMP/rows"
