#!/bin/sh
# Builds a release of CAVRA that verifies offline (docs/release.md):
#   the binary, completions (bash, zsh, fish), man pages, LICENSE, a CycloneDX SBOM
#   (cavra.cdx.json), SLSA provenance in a DSSE envelope (cavra.intoto.jsonl), SHA256SUMS and
#   its Ed25519 signature (SHA256SUMS.sig), a reproducibility manifest of the build's inputs
#   (cavra.build.json; release/reproduce.sh rebuilds from it) — then checks the result with
#   `cavra verify-release`.
#
# Usage: release/build.sh --key KEY [--out DIR] [--profile release|dev] [--target TRIPLE]
#   KEY      the signing key (`cavra policy keygen KEY` writes KEY and KEY.pub)
#   DIR      default dist/cavra-VERSION-TARGET (must not hold a release yet)
#   profile  `release` (default: LTO, what ships) or `dev` (fast, for trying the script)
# Environment: CAVRA_BUILDER_ID (the provenance's builder; a CI run's URL, default `local`),
#   SOURCE_DATE_EPOCH (default: the commit's time), CAVRA_TRUSTED_KEY (the public key to
#   verify with, default KEY.pub).
set -eu
cd "$(dirname "$0")/.."
. release/lib.sh
KEY= OUT= PROFILE=release TARGET=
while [ $# -gt 0 ]; do
    case "$1" in
        --key) KEY=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --profile) PROFILE=$2; shift 2 ;;
        --target) TARGET=$2; shift 2 ;;
        *) echo "release/build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$KEY" ] || { echo "release/build.sh: --key KEY is required" >&2; exit 2; }
[ -f "$KEY" ] || { echo "release/build.sh: no key file $KEY" >&2; exit 2; }
case "$PROFILE" in
    release) PROFILE_DIR=release ;;
    dev) PROFILE_DIR=debug ;;
    *) echo "release/build.sh: --profile is release or dev" >&2; exit 2 ;;
esac
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git rev-parse HEAD >/dev/null 2>&1; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
# the release build sees it (C dependencies embed no build time); a dev build does not,
# so trying the script does not rebuild aws-lc-sys and SQLite in target/debug
if [ "$PROFILE" = release ] && [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    export SOURCE_DATE_EPOCH
fi
TARGET_ARGS= BIN_DIR=target/$PROFILE_DIR
if [ -n "$TARGET" ]; then
    TARGET_ARGS="--target $TARGET"
    BIN_DIR=target/$TARGET/$PROFILE_DIR
fi
# a release build remaps the source tree and $CARGO_HOME (release/lib.sh), so the binary
# holds no local path and another checkout can rebuild the same bytes (reproduce.sh);
# RUSTFLAGS/CFLAGS already set are kept in front (and recorded in the manifest)
CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
RUSTFLAGS_T=${RUSTFLAGS:-} CFLAGS_T=${CFLAGS:-}
if [ "$PROFILE" = release ]; then
    RUSTFLAGS_T="${RUSTFLAGS:+$RUSTFLAGS }$REPRO_RUSTFLAGS"
    CFLAGS_T="${CFLAGS:+$CFLAGS }$REPRO_CFLAGS"
    RUSTFLAGS=$(substitute "$RUSTFLAGS_T" "$(pwd -P)" "$CARGO_HOME_DIR")
    CFLAGS=$(substitute "$CFLAGS_T" "$(pwd -P)" "$CARGO_HOME_DIR")
    export RUSTFLAGS CFLAGS
fi
CARGO_ARGS="build --locked --profile $PROFILE -p cavra-cli --bin cavra $TARGET_ARGS"
echo "== cargo $CARGO_ARGS"
# shellcheck disable=SC2086
cargo $CARGO_ARGS
env -u SOURCE_DATE_EPOCH -u RUSTFLAGS -u CFLAGS cargo build --locked -p cavra-release --bin cavra-release
BIN=$BIN_DIR/cavra
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" version --json > "$WORK/info.json"
TRIPLE=$(sed -n 's/.*"target": *"\([^"]*\)".*/\1/p' "$WORK/info.json")
VERSION=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$WORK/info.json")
OUT=${OUT:-dist/cavra-$VERSION-$TRIPLE}
if [ -e "$OUT/SHA256SUMS" ]; then
    echo "release/build.sh: $OUT holds a release already" >&2
    exit 2
fi
mkdir -p "$OUT/completions" "$OUT/man"
for sh in bash zsh fish; do
    "$BIN" completions "$sh" > "$OUT/completions/cavra.$sh"
done
"$BIN" man --output "$OUT/man"
cp LICENSE CHANGELOG.md "$OUT/"
echo "== SBOM, provenance, SHA256SUMS, signature -> $OUT"
cargo metadata --format-version 1 --locked --offline --filter-platform "$TRIPLE" > "$WORK/metadata.json"
# the reproducibility manifest's inputs (cavra_release::manifest::BuildInputs)
DIRTY=false
if git rev-parse HEAD >/dev/null 2>&1 && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    DIRTY=true
fi
{
    echo "git_dirty=$DIRTY"
    echo "tree_sha256=$(tree_sha256 .)"
    "${RUSTC:-rustc}" -vV | sed 's/^/rustc_vv=/'
    echo "cargo=$(cargo --version)"
    echo "cargo_profile=$PROFILE"
    for a in $CARGO_ARGS; do echo "cargo_arg=$a"; done
    echo "rustflags=$RUSTFLAGS_T"
    echo "cflags=$CFLAGS_T"
    if [ "$PROFILE" = release ]; then
        echo "source_date_epoch=${SOURCE_DATE_EPOCH:-}"
        echo "remap=@SOURCE@=$REMAP_SOURCE_TO"
        echo "remap=@CARGO_HOME@=$REMAP_CARGO_TO"
    fi
} > "$WORK/inputs"
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-} target/debug/cavra-release --binary "$BIN" --info "$WORK/info.json" --metadata "$WORK/metadata.json" \
    --lock Cargo.lock --key "$KEY" --out "$OUT" --builder "${CAVRA_BUILDER_ID:-local}" --inputs "$WORK/inputs"
echo "== cavra verify-release $OUT"
"$BIN" verify-release "$OUT" --trusted-key "${CAVRA_TRUSTED_KEY:-$KEY.pub}"
