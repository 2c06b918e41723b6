#!/usr/bin/env bash
# The real MCP servers the proxy tests run behind `cavra mcp proxy` (pinned versions), into
# target/mcp-npm (git-ignored, inside the clone), and the Python SDK (installed into
# target/mcp-client by mcp_real_client.rs's first run). Then the proxy tests — stdio and
# Streamable HTTP (`server-everything streamableHttp` behind `--upstream`) — with
# CAVRA_REQUIRE_MCP_NPM=1: they fail instead of skipping when the servers are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/mcp-npm
npm install --no-audit --no-fund --silent --prefix target/mcp-npm \
    @modelcontextprotocol/server-filesystem@2026.8.31 \
    @modelcontextprotocol/server-everything@2026.8.31
# the SDK: the real-client test installs it on its first run (a no-op after that)
cargo test -p cavra-cli --test mcp_real_client python_sdk_client_session
CAVRA_REQUIRE_MCP_NPM=1 cargo test -p cavra-cli --test mcp_proxy
