#!/usr/bin/env bash
# The real MCP servers the proxy tests run behind `cavra mcp proxy` (pinned versions), into
# target/mcp-npm (git-ignored, inside the clone). Then the proxy tests with
# CAVRA_REQUIRE_MCP_NPM=1: they fail instead of skipping when the servers are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/mcp-npm
npm install --no-audit --no-fund --silent --prefix target/mcp-npm \
    @modelcontextprotocol/server-filesystem@2026.8.31 \
    @modelcontextprotocol/server-everything@2026.8.31
CAVRA_REQUIRE_MCP_NPM=1 cargo test -p cavra-cli --test mcp_proxy
