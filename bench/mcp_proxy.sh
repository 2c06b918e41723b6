#!/usr/bin/env bash
# Added latency of `cavra mcp proxy` per tools/call against a direct connection to the same
# server (the proxy tests' fixture server, `echo`), p50 / p99 at concurrency 1 and 16
# (16 sessions at once), and the proxy's resident memory per session. Evidence is recorded
# (the default). Usage: bench/mcp_proxy.sh [CALLS per session, default 300] [debug]
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
HOME=$DIR/home python3 "$OLDPWD/bench/mcp_proxy.py" "$BIN" \
  "$OLDPWD/crates/cavra-cli/tests/fixtures/mcp-proxy/upstream.py" "$DIR/project/.cavra" "$CALLS"
