#!/usr/bin/env bash
# Times `cavra hook claude-code` in server mode (CAVRA_SERVER) against the plain local hook,
# in alternating rounds of the same run: local (baseline), server mode with `cavra serve`
# on loopback, and offline (the server stopped: the cached signed pack decides, the
# decision is queued).
# usage: bash bench/hook_server.sh [RUNS_PER_ROUND] [ROUNDS]   (default 100, 7; BIN=… another
# binary, with SKIP_BUILD=1)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
PER=${1:-100}
ROUNDS=${2:-7}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p cavra-cli >/dev/null
TMP=$(mktemp -d)
SRV_PID=
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
rustc -O -o "$TMP/hook_timer" bench/hook_timer.rs
printf 'fn main(){}\n' > "$TMP/empty.rs" && rustc -O -o "$TMP/empty" "$TMP/empty.rs"
BIN=${BIN:-$PWD/target/release/cavra}
printf '{"session_id":"bench","transcript_path":"/tmp/t","cwd":"%s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"cargo test -p core && git status"}}\n' "$PWD" > "$TMP/bash_typical.json"
export CAVRA_APPROVER_DIR="$TMP/approver"
STATE="$TMP/state"
start_server() { serve_start "$BIN" "$STATE" "$TMP" --listen 127.0.0.1:0; }
issue_agent_token "$BIN" "$STATE" "$TMP/agent.token"
start_server
export CAVRA_TOKEN_FILE="$TMP/agent.token"
median() { grep -o 'median [0-9.]* ms' | head -1 | awk '{print $2}'; }
# one call first: the hook caches the server's pack
CAVRA_DIR="$TMP/client" CAVRA_SERVER="$URL" "$BIN" hook claude-code < "$TMP/bash_typical.json" > /dev/null
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds x $PER calls"
for r in $(seq 1 "$ROUNDS"); do
  kill -0 "$SRV_PID" 2>/dev/null || start_server
  loc=$(CAVRA_DIR="$TMP/local" "$TMP/hook_timer" "$PER" "$TMP/bash_typical.json" "$TMP/empty" -- "$BIN" hook claude-code | median)
  srv=$(CAVRA_DIR="$TMP/client" CAVRA_SERVER="$URL" "$TMP/hook_timer" "$PER" "$TMP/bash_typical.json" "$TMP/empty" -- "$BIN" hook claude-code | median)
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  off=$(CAVRA_DIR="$TMP/client" CAVRA_SERVER="$URL" "$TMP/hook_timer" "$PER" "$TMP/bash_typical.json" "$TMP/empty" -- "$BIN" hook claude-code | median)
  # the queue is uploaded by the next answered call; empty it so every round starts alike
  rm -rf "$TMP/client/server/queue"
  echo "$loc $srv $off"
done > "$TMP/rows"  # not a pipeline: the trap of this shell stops the server
python3 -c '
import statistics, sys
rows = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
print("rounds (local / server / offline ms):", ", ".join(f"{a:.3f}/{b:.3f}/{c:.3f}" for a, b, c in rows))
m = [statistics.median(r[i] for r in rows) for i in range(3)]
print(f"median local {m[0]:.3f} ms, server mode {m[1]:.3f} ms, offline fallback {m[2]:.3f} ms")
print(f"median per-round difference to local: server {statistics.median(b - a for a, b, _ in rows):.3f} ms, offline {statistics.median(c - a for a, _, c in rows):.3f} ms")' < "$TMP/rows"
