#!/usr/bin/env bash
# Instructions per decision of `cavra serve` (callgrind: counts do not depend on the
# machine's load, so two builds compare on a shared machine). The release server runs
# under valgrind with the evidence persisted (SQLite store + file log); after WARMUP
# decisions the counters are zeroed, then N decisions are sent one after another over one
# keep-alive connection (the same three requests as bench/server_load.sh, each answer
# checked to be 200), the counters dumped, and the total divided by N. The top functions
# (inclusive) are printed from the dump.
#
# usage: bash bench/server_callgrind.sh [N] [WARMUP]   (default 600, 60)
#   BIN=path/to/cavra (default target/release/cavra, built unless SKIP_BUILD)
#   CAVRA_NO_EVIDENCE=1 measures the decision without evidence; OUT=dir keeps the dump
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-600}
WARMUP=${2:-60}
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 2; }
server_bench_setup callgrind
OUT=${OUT:-$TMP/cg}
mkdir -p "$OUT"
STATE="$TMP/state"
issue_agent_token "$BIN" "$STATE" "$TMP/agent.token"
cat > "$TMP/client.py" <<'EOF'
import http.client, json, sys
port, token, cwd, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
bodies = [
    {"action_type": "read_file", "target": "README.md"},
    {"action_type": "read_file", "target": ".env"},
    {"action_type": "execute_command", "target": "cargo test && git status"},
]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
for i in range(n):
    b = dict(bodies[i % 3], cwd=cwd, agent_id="bench", session_id="load")
    c.request("POST", "/v1/decisions", json.dumps(b),
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}")
EOF
mkdir -p "$TMP/project"
(cd "$TMP/project" && exec valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
  "$BIN" --cavra-dir "$STATE" serve --listen 127.0.0.1:0 > "$TMP/serve.out" 2> "$TMP/serve.err") &
SRV_PID=$!
for _ in $(seq 1 1200); do
  grep -q 'listening on' "$TMP/serve.out" 2>/dev/null && break
  sleep 0.1
done
URL=$(sed -n 's/^cavra serve: listening on //p' "$TMP/serve.out")
[ -n "$URL" ] || { cat "$TMP/serve.err" >&2; exit 1; }
PORT=${URL##*:}
TOKEN=$(cat "$TMP/agent.token")
python3 "$TMP/client.py" "$PORT" "$TOKEN" "$TMP/project" "$WARMUP"
callgrind_control -z "$SRV_PID" >/dev/null
python3 "$TMP/client.py" "$PORT" "$TOKEN" "$TMP/project" "$N"
callgrind_control -d "$SRV_PID" >/dev/null
sleep 1
DUMP=$(ls -t "$OUT"/callgrind.out.*.* 2>/dev/null | head -1)
[ -n "$DUMP" ] || { echo "no callgrind dump" >&2; exit 1; }
callgrind_annotate "$DUMP" > "$OUT/annotate.txt" 2>/dev/null
total=$(awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}' "$OUT/annotate.txt" | head -1)
echo "evidence: ${CAVRA_NO_EVIDENCE:+off}${CAVRA_NO_EVIDENCE:-on}; $N decisions; $total instructions; $((total / N)) instructions per decision"
callgrind_annotate --inclusive=yes "$DUMP" > "$OUT/inclusive.txt" 2>/dev/null
sed -n '/file:function/,$p' "$OUT/inclusive.txt" | sed 's/ \[[^]]*\]$//; s/ [^ ]*\/src\/[^:]*:/ /' | cut -c1-200 | head -"${TOP:-45}" || true
