#!/usr/bin/env bash
# A soak of `cavra serve`: POST /v1/decisions at a fixed rate (oha) for a long run, the
# server's resident memory sampled every SAMPLE seconds, evidence persisted; then the log
# verified and its decision records counted against the answers oha got.
#
# usage: bash bench/server_soak.sh [SECONDS] [RATE] [BACKEND]   (default 600, 2000, sqlite)
#   BACKEND sqlite | postgres (127.0.0.1:5432, trust auth; a database made and dropped)
#   SAMPLE=30  OHA=path/to/oha (default: oha on PATH or /tmp/oha/bin/oha)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-600}
RATE=${2:-2000}
BACKEND=${3:-sqlite}
SAMPLE=${SAMPLE:-30}
OHA=${OHA:-$(command -v oha || echo /tmp/oha/bin/oha)}
[ -x "$OHA" ] || { echo "oha is needed: cargo install oha --locked --root /tmp/oha" >&2; exit 2; }
server_bench_setup soak
STATE="$TMP/state"
db=()
if [ "$BACKEND" = postgres ]; then
  psql "$PG/test" -qc "CREATE DATABASE $PGDB" >/dev/null
  db=(--database "$PG/$PGDB")
fi
issue_agent_token "$BIN" "$STATE" "$TMP/agent.token" "${db[@]}"
serve_start "$BIN" "$STATE" "$TMP" --listen 127.0.0.1:0 "${db[@]}" || exit 1
rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$SRV_PID/status"; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $BACKEND, $RATE req/s for ${SECS}s"
echo "rss at start: $(rss) MiB"
body="{\"action_type\":\"execute_command\",\"target\":\"cargo test && git status\",\"cwd\":\"$TMP/project\",\"agent_id\":\"soak\",\"session_id\":\"soak\"}"
"$OHA" --no-tui -q "$RATE" -z "${SECS}s" -c 64 --latency-correction --output-format json \
  -m POST -H "Authorization: Bearer $(cat "$TMP/agent.token")" -H 'Content-Type: application/json' \
  -d "$body" "$URL/v1/decisions" > "$TMP/oha.json" &
OHA_PID=$!
samples=()
while kill -0 "$OHA_PID" 2>/dev/null; do
  sleep "$SAMPLE"
  kill -0 "$OHA_PID" 2>/dev/null && samples+=("$(rss)")
done
wait "$OHA_PID"
echo "rss every ${SAMPLE}s (MiB): ${samples[*]}"
ok=$(python3 - "$TMP/oha.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p, s = d["latencyPercentiles"], d["summary"]
codes = d.get("statusCodeDistribution", {})
rate, p50, p99 = s["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000
print(f"achieved {rate:.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, answers {codes}", file=sys.stderr)
print(codes.get("200", 0))
EOF
)
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
LOG=()
if [ "$BACKEND" = postgres ]; then
  # the decision log is in the database: export it, verify the export
  "$BIN" --cavra-dir "$STATE" --json evidence export --format log "${db[@]}" --output "$TMP/export" > /dev/null
  LOG=("$TMP/export")
fi
"$BIN" --cavra-dir "$STATE" --json evidence verify "${LOG[@]}" > "$TMP/verify.json" || true
python3 - "$TMP/verify.json" "$ok" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
ok = int(sys.argv[2])
print(f"log verifies: {v['ok']}, {v['records']} records (token issue and decisions); 200 answers: {ok}")
if not v["ok"] or v["records"] < ok:
    print("FAIL: a decision that was answered is missing, or the log does not verify")
    sys.exit(1)
EOF
