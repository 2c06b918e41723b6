#!/bin/sh
# Rebuilds the binary of a release directory from its reproducibility manifest
# (cavra.build.json) and compares SHA-256s (docs/release.md, "Reproducing a release").
#
# Usage: release/reproduce.sh DIR [--trusted-key KEY] [--keep]
#   DIR   a release directory (release/build.sh's output)
#   KEY   verify DIR first with `cavra verify-release` (the rebuilt binary runs it)
#   --keep  keep the rebuild's directory (to compare the two binaries, e.g. diffoscope)
# The source is `git archive` of the manifest's commit from this repository, unpacked into
# a fresh temporary directory (so the rebuild's paths differ from the original build's);
# the toolchain must be the manifest's (`rustc -vV` verbatim). Exit 0: bit-identical;
# 1: the binaries differ (or the rebuild's `version --json` does not match); 2: cannot try.
set -eu
cd "$(dirname "$0")/.."
. release/lib.sh
DIR= KEY= KEEP=
while [ $# -gt 0 ]; do
    case "$1" in
        --trusted-key) KEY=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -*) echo "release/reproduce.sh: unknown argument $1" >&2; exit 2 ;;
        *) [ -z "$DIR" ] || { echo "release/reproduce.sh: one DIR only" >&2; exit 2; }; DIR=$1; shift ;;
    esac
done
[ -n "$DIR" ] || { echo "usage: release/reproduce.sh DIR [--trusted-key KEY] [--keep]" >&2; exit 2; }
M=$DIR/cavra.build.json
[ -f "$M" ] || { echo "release/reproduce.sh: $M: no reproducibility manifest" >&2; exit 2; }
field() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
if isinstance(v, list): v = " ".join(v)
elif isinstance(v, bool): v = str(v).lower()
elif v is None: v = ""
print(v)' "$M" "$1"; }
COMMIT=$(field source.git_commit)
NAME=$(field binary.name)
WANT=$(field binary.sha256)
if [ "$(field source.git_dirty)" = true ]; then
    echo "release/reproduce.sh: $DIR was built from a tree that differed from commit $COMMIT: it cannot be rebuilt from the commit" >&2
    exit 2
fi
git cat-file -e "$COMMIT^{commit}" 2>/dev/null || { echo "release/reproduce.sh: commit $COMMIT is not in this repository" >&2; exit 2; }
if [ "$(${RUSTC:-rustc} -vV)" != "$(field toolchain.rustc_vv)" ]; then
    echo "release/reproduce.sh: the toolchain differs from the manifest's; it says:" >&2
    field toolchain.rustc_vv >&2
    exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cavra-reproduce.XXXXXX")
if [ -z "$KEEP" ]; then trap 'rm -rf "$WORK"' EXIT; fi
SRC=$WORK/src
mkdir -p "$SRC"
git archive --format=tar "$COMMIT" | tar -x -C "$SRC"
TREE=$(tree_sha256 "$SRC")
if [ "$TREE" != "$(field source.tree_sha256)" ]; then
    echo "release/reproduce.sh: the source tree of $COMMIT has digest $TREE, the manifest says $(field source.tree_sha256)" >&2
    exit 2
fi
CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
RUSTFLAGS=$(substitute "$(field build.rustflags)" "$SRC" "$CARGO_HOME_DIR")
CFLAGS=$(substitute "$(field build.cflags)" "$SRC" "$CARGO_HOME_DIR")
SDE=$(field build.source_date_epoch)
ARGS=$(field build.cargo_args)
TARGET=$(field build.target)
PROFILE=$(field build.cargo_profile)
case "$PROFILE" in dev) PDIR=debug ;; *) PDIR=$PROFILE ;; esac
case " $ARGS " in *" --target "*) BIN=$SRC/target/$TARGET/$PDIR/$NAME ;; *) BIN=$SRC/target/$PDIR/$NAME ;; esac
echo "== rebuilding $COMMIT in $SRC: cargo $ARGS"
(
    cd "$SRC"
    export RUSTFLAGS CFLAGS CAVRA_GIT_COMMIT="$COMMIT"
    unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
    if [ -n "$SDE" ]; then export SOURCE_DATE_EPOCH="$SDE"; else unset SOURCE_DATE_EPOCH; fi
    # shellcheck disable=SC2086
    cargo $ARGS
)
GOT=$(sha256sum "$BIN" | cut -d' ' -f1)
"$BIN" version --json > "$WORK/info.json"
INFO_OK=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["info"] == json.load(open(sys.argv[2])))' "$M" "$WORK/info.json")
if [ -n "$KEY" ]; then
    "$BIN" verify-release "$DIR" --trusted-key "$KEY" >/dev/null
    echo "verify-release $DIR: ok"
fi
echo "release  $WANT  $DIR/$NAME"
echo "rebuilt  $GOT  $BIN"
[ "$INFO_OK" = True ] || { echo "release/reproduce.sh: the rebuilt binary's version --json differs from the manifest's info" >&2; exit 1; }
if [ "$GOT" = "$WANT" ]; then
    echo "reproduced: bit-identical"
else
    echo "NOT reproduced: the binaries differ${KEEP:+ (kept in $WORK)}" >&2
    exit 1
fi
