#!/usr/bin/env bash
# Instructions per `cavra hook claude-code` call (valgrind --tool=callgrind, all threads:
# independent of machine load) on everyday events, for one or more binaries side by side,
# plus the CLI table's part of each call (inclusive instructions of the table's functions).
# usage: bash bench/hook_instructions.sh NAME=BINARY...
# e.g.   bash bench/hook_instructions.sh main=/tmp/a/cavra branch=target/debug/cavra
# The evidence log is off (CAVRA_NO_EVIDENCE=1: with it on, counts of one binary vary from
# run to run, and it is the same code in every binary); each binary has its own CAVRA_DIR,
# made by one call before the measured ones.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: bash bench/hook_instructions.sh NAME=BINARY..." >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mk() { printf '{"session_id":"bench","transcript_path":"/tmp/t","cwd":"%s","hook_event_name":"PreToolUse","tool_name":"%s","tool_input":%s}\n' "$PWD" "$2" "$3" > "$TMP/$1.json"; }
mk read Read "{\"file_path\":\"$PWD/crates/cavra-core/src/lib.rs\"}"
mk edit Edit "{\"file_path\":\"$PWD/crates/cavra-core/src/lib.rs\",\"old_string\":\"a\",\"new_string\":\"b\"}"
mk ls Bash '{"command":"ls -la"}'
mk cargo_test Bash '{"command":"cargo test -p core"}'
mk git_status Bash '{"command":"git status"}'
mk typical Bash '{"command":"cargo test -p core && git status"}'
mk unknown Bash '{"command":"mytool build --out dist"}'
mk gh_delete Bash '{"command":"gh repo delete acme/app --yes"}'
CASES="read edit ls cargo_test git_status typical unknown gh_delete"
for b in "$@"; do
  name=${b%%=*}
  mkdir -p "$TMP/dir-$name"
  CAVRA_DIR="$TMP/dir-$name" "${b#*=}" hook claude-code < "$TMP/typical.json" > /dev/null || true
done
# the table's functions: the guard (guard::cli, its index), its source types (parsing the
# `cli` section included; `CliUnknownSource` is left out, serde reaches it from that parse
# through functions of its own); closures and serde's visitors are reached from their function
TABLE='guard::cli::|guard::cli_index::|CliTableSource|CliEntrySource|CliSection'
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); binaries: $*"
printf '%-12s' case; for b in "$@"; do printf '%14s %9s' "${b%%=*}" table; done; echo
for c in $CASES; do
  printf '%-12s' "$c"
  for b in "$@"; do
    name=${b%%=*}; bin=${b#*=}
    out="$TMP/cg.$name.$c"
    ins=$(CAVRA_NO_EVIDENCE=1 CAVRA_DIR="$TMP/dir-$name" valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" hook claude-code < "$TMP/$c.json" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' || true)
    # the table's part: inclusive counts of calls into table functions from functions that
    # are not table functions (callgrind_annotate --tree=caller lists each function's callers)
    tab=$(callgrind_annotate --inclusive=yes --threshold=100 --tree=caller "$out" 2>/dev/null | python3 -c '
import re, sys
table = re.compile(sys.argv[1])
inner = re.compile(r"\{\{closure\}\}|__Visitor|__Field")
total, callers = 0, []
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+([<*])\s+(.*)", line)
    if not m:
        if not line.strip():
            callers = []
        continue
    count, mark, name = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
    if mark == "<":
        callers.append((count, name))
    else:
        if table.search(name) and not inner.search(name):
            total += sum(c for c, n in callers if not table.search(n))
        callers = []
print(total)
' "$TABLE" || echo "?")
    printf '%14s %9s' "$ins" "$tab"
  done
  echo
done
