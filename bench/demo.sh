#!/usr/bin/env bash
# `cavra demo` wall time: RUNS runs (default 5) into fresh directories, the median printed,
# with a baseline from the same run: one `cavra evaluate` process (start-up + one decision),
# the demo being ~20 such processes plus git.
#
# Environment: PROFILE=release (default) or debug, RUNS, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
RUNS="${RUNS:-5}"
TARGET="${CARGO_TARGET_DIR:-target}"
if [ "$PROFILE" = release ]; then cargo build --release -p cavra-cli --bin cavra >&2; fi
BIN="$TARGET/$PROFILE/cavra"
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build -p cavra-cli, or PROFILE=release)" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export HOME="$TMP/home"
mkdir -p "$HOME"
unset CAVRA_DIR CAVRA_EVIDENCE_DIR CAVRA_KEY_DIR CAVRA_NO_EVIDENCE CAVRA_NON_INTERACTIVE CAVRA_SERVER

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

for i in $(seq "$RUNS"); do ms "$BIN" --cavra-dir "$TMP/base$i" evaluate read_file src/main.rs --no-record; done >"$TMP/base"
for i in $(seq "$RUNS"); do ms "$BIN" demo --output "$TMP/demo$i"; done >"$TMP/demo"
echo "profile $PROFILE, $RUNS runs, median ms: cavra demo $(median <"$TMP/demo"), baseline (one cavra evaluate) $(median <"$TMP/base")"
