#!/usr/bin/env bash
# Two `cavra serve` replicas on one PostgreSQL database under a fixed rate (oha, half to
# each); replica A is killed (SIGKILL) a third of the way through and restarted on its
# port 5 s later. Afterwards the database's decision log is exported and verified offline
# against both replicas' keys, and its decision records are counted against the 200
# answers both load tools got: an answered decision that is not in the log fails the run.
#
# usage: bash bench/replica_kill.sh [SECONDS] [RATE]   (default 60, 2000)
#   needs PostgreSQL on 127.0.0.1:5432 (trust auth; a database made and dropped) and oha
#   (OHA=path, default oha on PATH or /tmp/oha/bin/oha)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-60}
RATE=${2:-2000}
OHA=${OHA:-$(command -v oha || echo /tmp/oha/bin/oha)}
[ -x "$OHA" ] || { echo "oha is needed: cargo install oha --locked --root /tmp/oha" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p cavra-cli >/dev/null
BIN=${BIN:-$PWD/target/release/cavra}
TMP=$(mktemp -d)
PGDB=cavra_kill_$$
PG=postgres://postgres@127.0.0.1:5432
DB="$PG/$PGDB"
declare -A PID URL
cleanup() {
  for r in a b; do [ -n "${PID[$r]:-}" ] && kill -9 "${PID[$r]}" 2>/dev/null; done
  wait 2>/dev/null || true
  psql "$PG/test" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
export CAVRA_APPROVER_DIR="$TMP/approver"
mkdir -p "$TMP/project"
psql "$PG/test" -qc "CREATE DATABASE $PGDB" >/dev/null
issue_agent_token "$BIN" "$TMP/a" "$TMP/agent.token" --database "$DB"
# start REPLICA [LISTEN]
start() {
  local r=$1 listen=${2:-127.0.0.1:0}
  : > "$TMP/$r.out"
  (cd "$TMP/project" && exec "$BIN" --cavra-dir "$TMP/$r" serve --listen "$listen" --database "$DB" \
    > "$TMP/$r.out" 2>> "$TMP/$r.err") &
  PID[$r]=$!
  for _ in $(seq 1 200); do grep -q 'listening on' "$TMP/$r.out" 2>/dev/null && break; sleep 0.05; done
  URL[$r]=$(sed -n 's/^cavra serve: listening on //p' "$TMP/$r.out")
  [ -n "${URL[$r]}" ] || { cat "$TMP/$r.err" >&2; exit 1; }
}
start a
start b
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); 2 replicas, $RATE req/s in all for ${SECS}s; A killed at $((SECS / 3))s, restarted 5 s later"
body="{\"action_type\":\"execute_command\",\"target\":\"cargo test && git status\",\"cwd\":\"$TMP/project\",\"agent_id\":\"kill\",\"session_id\":\"kill\"}"
load() {
  "$OHA" --no-tui -q "$((RATE / 2))" -z "${SECS}s" -c 16 --output-format json \
    -m POST -H "Authorization: Bearer $(cat "$TMP/agent.token")" -H 'Content-Type: application/json' \
    -d "$body" "$1/v1/decisions" > "$2"
}
load "${URL[a]}" "$TMP/oha-a.json" &
LA=$!
load "${URL[b]}" "$TMP/oha-b.json" &
LB=$!
sleep "$((SECS / 3))"
kill -9 "${PID[a]}"; wait "${PID[a]}" 2>/dev/null || true
echo "killed A (SIGKILL) at $((SECS / 3))s"
sleep 5
start a "${URL[a]#http://}"
echo "A restarted on ${URL[a]}"
wait "$LA" "$LB" || true
for r in a b; do kill "${PID[$r]}"; wait "${PID[$r]}" 2>/dev/null || true; PID[$r]=; done
# the replicas' public keys as one trust root
python3 - "$BIN" "$TMP" > "$TMP/trust.json" <<'EOF'
import json, subprocess, sys
bin_, tmp = sys.argv[1:3]
keys = []
for r in "ab":
    out = subprocess.run([bin_, "--cavra-dir", f"{tmp}/{r}", "keys", "export-public"],
                         check=True, capture_output=True, text=True).stdout
    keys += json.loads(out)["keys"]
print(json.dumps({"version": 1, "keys": keys}))
EOF
"$BIN" --cavra-dir "$TMP/a" --json evidence export --format log --database "$DB" --output "$TMP/export" > /dev/null
"$BIN" --cavra-dir "$TMP/a" --json evidence verify "$TMP/export" --trust-root "$TMP/trust.json" --full > "$TMP/verify.json" || true
python3 - "$TMP" <<'EOF'
import glob, json, sys
tmp = sys.argv[1]
answered = {}
for r in "ab":
    d = json.load(open(f"{tmp}/oha-{r}.json"))
    codes = d.get("statusCodeDistribution", {})
    answered[r] = codes.get("200", 0)
    errors = d.get("errorDistribution", {})
    rate = d["summary"]["requestsPerSec"]
    print(f"replica {r}: {rate:.0f} req/s, 200 answers {answered[r]}, other answers "
          f"{ {k: v for k, v in codes.items() if k != '200'} }, errors {errors}")
records = 0
for seg in sorted(glob.glob(f"{tmp}/export/segment-*.jsonl")):
    for line in open(seg):
        if json.loads(line).get("kind") == "decision":
            records += 1
v = json.load(open(f"{tmp}/verify.json"))
total = sum(answered.values())
print(f"exported log verifies: {v['ok']} ({v['records']} records, {v['signatures_verified']} signatures, "
      f"{v['checkpoints_verified']} checkpoints); decision records {records}, answered {total}")
if not v["ok"] or records < total:
    print("FAIL: an answered decision is missing from the log, or the log does not verify")
    for i in v.get("issues", [])[:5]:
        print("  ", i)
    sys.exit(1)
print("nothing lost: every answered decision is in the log, and the chain verifies")
EOF
