#!/usr/bin/env bash
# schemathesis against `cavra serve`'s /openapi.json: a debug server on a free loopback
# port with a fresh CAVRA directory and an admin token; fails on any server error (5xx),
# any answer that does not match the document, and any undocumented status code.
# `GET /v1/decisions/stream` is left out: an event stream does not end, so no answer
# would complete (crates/cavra-cli/tests/server_hook.rs drives it).
# schemathesis is installed into a venv under target/ (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
VENV=target/schemathesis-venv
BIN=${CAVRA_BIN:-target/debug/cavra}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-25}

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
  # a venv that does not answer (another version, or moved: its scripts name their old path)
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi
[ -x "$BIN" ] || cargo build -p cavra-cli --bin cavra
BIN=$(realpath "$BIN")

WORK=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export HOME="$WORK/home" CAVRA_APPROVER_DIR="$WORK/approver"
unset CAVRA_DIR CAVRA_DB CAVRA_DATABASE_URL CAVRA_TOKEN_FILE CAVRA_EVIDENCE_DIR CAVRA_KEY_DIR
mkdir -p "$HOME" "$WORK/project"
STATE="$WORK/state"

# issuing a token is a control action: confirmed at a terminal (a pseudo-terminal here)
printf 'y\n' | script -qec "$BIN --cavra-dir $STATE tokens issue --name schemathesis --role admin" /dev/null >"$WORK/token.out" 2>&1
TOKEN=$(grep -o 'cavra-api\.v1\.[A-Za-z0-9._-]*' "$WORK/token.out" | tail -1)
[ -n "$TOKEN" ] || { cat "$WORK/token.out"; echo "schemathesis.sh: no token issued" >&2; exit 1; }

(cd "$WORK/project" && exec "$BIN" --cavra-dir "$STATE" serve --listen 127.0.0.1:0 --non-interactive) \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
BASE=$(sed -n 's/^cavra serve: listening on //p' "$WORK/serve.out" | head -1)
[ -n "$BASE" ] || { cat "$WORK/serve.err"; echo "schemathesis.sh: the server did not start" >&2; exit 1; }
echo "cavra serve on $BASE"

set +e
# from the temporary directory: schemathesis keeps its cache in the working directory
ST=$(realpath "$VENV/bin/schemathesis")
(cd "$WORK" && "$ST" run "$BASE/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$MAX_EXAMPLES" \
  --exclude-path /v1/decisions/stream \
  --request-timeout 30 \
  --workers 1 \
  --no-color)
RC=$?
set -e
if [ "$RC" -ne 0 ]; then
  echo "== server log (last 50 lines)"; tail -50 "$WORK/serve.err"
fi
exit "$RC"
