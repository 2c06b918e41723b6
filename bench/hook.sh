#!/usr/bin/env bash
# Times the whole `cavra hook claude-code` process (startup included) on typical payloads.
# usage: bash bench/hook.sh [RUNS]   (default 500; SKIP_BUILD=1 and BIN=path/to/cavra as in the other scripts)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-500}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p cavra-cli >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rustc -O -o "$TMP/hook_timer" bench/hook_timer.rs
printf 'fn main(){}\n' > "$TMP/empty.rs" && rustc -O -o "$TMP/empty" "$TMP/empty.rs"
BIN=${BIN:-$PWD/target/release/cavra}
mk() { printf '{"session_id":"bench","transcript_path":"/tmp/t","cwd":"%s","hook_event_name":"PreToolUse","tool_name":"%s","tool_input":%s}\n' "$PWD" "$1" "$2" > "$TMP/$3.json"; }
mk Bash '{"command":"cargo test -p core && git status"}' bash_typical
mk Bash '{"command":"git -C repo push --force origin main && rm -rf ~/x"}' bash_dangerous
mk Read "{\"file_path\":\"$PWD/src/lib.rs\"}" read
mk Read "{\"file_path\":\"$PWD/.env\"}" read_env
export CAVRA_DIR="$TMP/.cavra"
echo "machine: $(nproc) cores, $(uname -r); runs per case: $RUNS"
for p in bash_typical bash_dangerous read read_env; do
  echo "== $p (evidence on, flush durability)"
  "$TMP/hook_timer" "$RUNS" "$TMP/$p.json" "$TMP/empty" -- "$BIN" hook claude-code
done
echo "== bash_typical, evidence off (CAVRA_NO_EVIDENCE=1)"
CAVRA_NO_EVIDENCE=1 "$TMP/hook_timer" "$RUNS" "$TMP/bash_typical.json" "$TMP/empty" -- "$BIN" hook claude-code
echo "== peak memory (max RSS) of one hook process"
/usr/bin/time -f "max RSS %M KiB" "$BIN" hook claude-code < "$TMP/bash_dangerous.json" > /dev/null
echo "== cost of the evidence log: alternating rounds, evidence on vs off (bash_typical)"
ROUNDS=${ROUNDS:-7}
PER=$(( RUNS / 4 > 50 ? RUNS / 4 : 50 ))
for r in $(seq 1 "$ROUNDS"); do
  on=$("$TMP/hook_timer" "$PER" "$TMP/bash_typical.json" "$TMP/empty" -- "$BIN" hook claude-code | grep -o 'median [0-9.]* ms' | head -1 | awk '{print $2}')
  off=$(CAVRA_NO_EVIDENCE=1 "$TMP/hook_timer" "$PER" "$TMP/bash_typical.json" "$TMP/empty" -- "$BIN" hook claude-code | grep -o 'median [0-9.]* ms' | head -1 | awk '{print $2}')
  echo "$on $off"
done | python3 -c '
import statistics, sys
rows = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
d = [a - b for a, b in rows]
print("rounds (on, off ms):", ", ".join(f"{a:.3f}/{b:.3f}" for a, b in rows))
print(f"evidence on median {statistics.median(a for a, _ in rows):.3f} ms, off {statistics.median(b for _, b in rows):.3f} ms; "
      f"median of per-round differences {statistics.median(d):.3f} ms (min {min(d):.3f}, max {max(d):.3f})")'
