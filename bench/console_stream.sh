#!/usr/bin/env bash
# The web console under 1,000 decisions/s for 10 s: the live page open in headless
# Chromium (playwright-core; `bash .ci/console.sh` installs both) while decisions are
# pushed; the page's event-loop lag and input latency during the load and idle before it
# (the baseline), ROUNDS times; medians in docs/performance.md.
#   bash bench/console_stream.sh [ROUNDS]   (RATE=1000 SECS=10; BIN=… to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${1:-3}
server_bench_setup console
PW=$PWD/target/console-e2e/node_modules/playwright-core
CHROMIUM=${CAVRA_CHROMIUM:-$(command -v chromium)}
[ -d "$PW" ] || { echo "playwright-core missing: bash .ci/console.sh" >&2; exit 1; }
STATE=$TMP/state
issue_agent_token "$BIN" "$STATE" "$TMP/agent.token"
issue_token "$BIN" "$STATE" "$TMP/auditor.token" auditor auditor
serve_start "$BIN" "$STATE" "$TMP"
for r in $(seq 1 "$ROUNDS"); do
  BASE=$URL PW=$PW CHROMIUM=$CHROMIUM AGENT=$(cat "$TMP/agent.token") AUDITOR=$(cat "$TMP/auditor.token") \
    node bench/console_stream.mjs > "$TMP/round-$r.json"
  echo "round $r: $(cat "$TMP/round-$r.json")"
done
python3 - "$TMP"/round-*.json <<'PY'
import json, statistics, sys
rs = [json.load(open(p)) for p in sys.argv[1:]]
def med(path):
    vals = []
    for r in rs:
        v = r
        for k in path.split('.'):
            v = v[k]
        vals.append(v)
    return statistics.median(vals)
for part in ("idle", "load"):
    print(part, {k: med(part + "." + k) for k in ("lag_p50_ms", "lag_p99_ms", "lag_max_ms", "input_p50_ms", "input_p99_ms", "input_max_ms")})
print("pushed/s", med("pushed.sent") / med("pushed.secs"), "failed", med("pushed.failed"))
PY
