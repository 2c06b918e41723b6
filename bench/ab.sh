#!/usr/bin/env bash
# A/B of hook binaries on everyday Bash calls and a CLI-table call: instructions (callgrind,
# independent of machine load), minor page faults, and wall-clock medians of interleaved
# rounds (each round runs every binary on every payload, so load hits all of them alike).
# usage: bash bench/ab.sh NAME=BINARY... [-- ROUNDS RUNS]   (defaults: 5 rounds of 100 spawns)
# e.g.   bash bench/ab.sh main=/tmp/a/cavra notable=/tmp/b/cavra -- 5 100
set -euo pipefail
cd "$(dirname "$0")/.."
BINS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do BINS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
ROUNDS=${1:-5}
RUNS=${2:-100}
[ ${#BINS[@]} -gt 0 ] || { echo "usage: bash bench/ab.sh NAME=BINARY... [-- ROUNDS RUNS]" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rustc -O -o "$TMP/hook_timer" bench/hook_timer.rs
printf 'fn main(){}\n' > "$TMP/empty.rs" && rustc -O -o "$TMP/empty" "$TMP/empty.rs"
mk() { printf '{"session_id":"bench","transcript_path":"/tmp/t","cwd":"%s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"%s"}}\n' "$PWD" "$2" > "$TMP/$1.json"; }
mk typical 'cargo test -p core && git status'
mk git_status 'git status'
mk ls 'ls -la'
mk cargo_test 'cargo test -p core'
mk npm_run 'npm run build'
mk unknown 'mytool build --out dist'
mk gh_delete 'gh repo delete acme/app --yes'
CASES="typical git_status ls cargo_test npm_run unknown gh_delete"
for b in "${BINS[@]}"; do
  name=${b%%=*}
  mkdir -p "$TMP/dir-$name"
  # first call creates the evidence log and keys; measured calls come after it
  CAVRA_DIR="$TMP/dir-$name" "${b#*=}" hook claude-code < "$TMP/typical.json" > /dev/null || true
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); binaries: ${BINS[*]}"
# instructions with the evidence log off: with it on, counts of one binary varied between runs
# by up to ~1.3 M in a trial, and the log is the same code in every binary; page faults and
# wall clock with it on
echo "== instructions per call (valgrind --tool=callgrind, all threads, CAVRA_NO_EVIDENCE=1) and minor page faults (median of 5)"
printf '%-12s' case; for b in "${BINS[@]}"; do printf '%16s %6s' "${b%%=*}" pf; done; echo
for c in $CASES; do
  printf '%-12s' "$c"
  for b in "${BINS[@]}"; do
    name=${b%%=*}; bin=${b#*=}
    ins=$(CAVRA_NO_EVIDENCE=1 CAVRA_DIR="$TMP/dir-$name" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" hook claude-code < "$TMP/$c.json" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' || true)
    pf=$(for _ in 1 2 3 4 5; do CAVRA_DIR="$TMP/dir-$name" /usr/bin/time -f %R "$bin" hook claude-code < "$TMP/$c.json" 2>&1 >/dev/null | tail -1 || true; done | sort -n | sed -n 3p)
    printf '%16s %6s' "$ins" "$pf"
  done
  echo
done
echo "== wall clock: $ROUNDS interleaved rounds of $RUNS spawns per binary and case (bench/hook_timer.rs)"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CASES; do
    for b in "${BINS[@]}"; do
      name=${b%%=*}; bin=${b#*=}
      line=$(CAVRA_DIR="$TMP/dir-$name" "$TMP/hook_timer" "$RUNS" "$TMP/$c.json" "$TMP/empty" -- "$bin" hook claude-code)
      med=$(echo "$line" | sed -n 's/.* median \([0-9.]*\) ms .*/\1/p')
      base=$(echo "$line" | sed -n 's/.*baseline `[^`]*` median \([0-9.]*\) ms.*/\1/p')
      echo "$r $c $name $med $base"
    done
  done
done > "$TMP/wall.txt"
python3 - "$TMP/wall.txt" "${BINS[@]%%=*}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
names = sys.argv[2:]
cases = list(dict.fromkeys(r[1] for r in rows))
print(f"{'case':<12}" + "".join(f"{n:>22}" for n in names) + "   empty process")
for c in cases:
    out = f"{c:<12}"
    for n in names:
        v = [float(r[3]) for r in rows if r[1] == c and r[2] == n]
        out += f"{statistics.median(v):>12.3f} ms ({min(v):.3f})"
    e = [float(r[4]) for r in rows if r[1] == c]
    out += f"   {statistics.median(e):.3f} ms"
    print(out)
# per-round differences against the first binary (same round, same case): load cancels out
first = names[0]
for n in names[1:]:
    d = []
    for r in sorted(set(int(x[0]) for x in rows)):
        for c in cases:
            a = [float(x[3]) for x in rows if int(x[0]) == r and x[1] == c and x[2] == first]
            b = [float(x[3]) for x in rows if int(x[0]) == r and x[1] == c and x[2] == n]
            if a and b:
                d.append(b[0] - a[0])
    print(f"{n} minus {first}: median of per-round, per-case differences {statistics.median(d):+.3f} ms "
          f"(min {min(d):+.3f}, max {max(d):+.3f}, {len(d)} pairs)")
print("per round (case binary median baseline):")
for r in rows:
    print("  " + " ".join(r))
PY
