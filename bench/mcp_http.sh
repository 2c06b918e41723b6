#!/usr/bin/env bash
# Latency of one `tools/call` (`check_command`) on `cavra serve`'s `/mcp` (Streamable HTTP,
# an MCP session per client) against `POST /v1/decisions` with the same request (the
# baseline, same server, same run), p50 / p99 at concurrency 1 and 16 (16 clients at once,
# each its own keep-alive connection and MCP session). Evidence is recorded (the default),
# SQLite store. Usage: bench/mcp_http.sh [CALLS per client, default 300] [debug]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CALLS=${1:-300}
if [ "${2:-}" = debug ]; then
  [ -n "${SKIP_BUILD:-}" ] || cargo build -p cavra-cli >/dev/null
  BIN=${BIN:-$PWD/target/debug/cavra}
  SKIP_BUILD=1
fi
server_bench_setup mcphttp
STATE=$TMP/state
issue_agent_token "$BIN" "$STATE" "$TMP/agent.token"
serve_start "$BIN" "$STATE" "$TMP" --listen 127.0.0.1:0
python3 bench/mcp_http.py "$URL" "$(cat "$TMP/agent.token")" "$TMP/project" "$CALLS"
