#!/usr/bin/env bash
# Added latency of `cavra mcp proxy --upstream URL` (the Streamable HTTP proxy) per
# tools/call against a direct HTTP connection to the same server (the proxy tests' fixture
# server in HTTP mode, `echo`), p50 / p99 at concurrency 1 and 16 (16 client sessions at
# once, one proxy process), and the proxy's resident memory. Evidence is recorded (the
# default). Usage: bench/mcp_proxy_http.sh [CALLS per session, default 300] [debug]
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-300}
if [ "${2:-}" = debug ]; then
  cargo build -p cavra-cli >/dev/null; BIN=$PWD/target/debug/cavra
else
  cargo build --release -p cavra-cli >/dev/null; BIN=$PWD/target/release/cavra
fi
DIR=$(mktemp -d); trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/home" "$DIR/project/.git"
cd "$DIR/project"
HOME=$DIR/home python3 "$OLDPWD/bench/mcp_proxy_http.py" "$BIN" \
  "$OLDPWD/crates/cavra-cli/tests/fixtures/mcp-proxy/upstream.py" "$DIR/project/.cavra" "$CALLS"
