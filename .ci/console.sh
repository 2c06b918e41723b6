#!/usr/bin/env bash
# The web console's browser tests: Debian's chromium (headless) driven by playwright-core
# from npm, installed into target/console-e2e (inside the clone, git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -f target/console-e2e/node_modules/playwright-core/package.json ]; then
  mkdir -p target/console-e2e
  npm install --no-audit --no-fund --silent --prefix target/console-e2e playwright-core@1.65.1
fi
chromium --version
