# Shared by release/build.sh and release/reproduce.sh (POSIX sh, sourced).

# The SHA-256 of a source tree: sha256sum lines (`DIGEST  PATH`) of every file, sorted by
# path (bytewise), then hashed. In a git checkout the files are `git ls-files` (what the
# commit tracks, with their working-tree contents); elsewhere (an unpacked `git archive`)
# every file under the directory.
tree_sha256() (
    cd "$1"
    if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
        git ls-files -z
    else
        find . \( -type f -o -type l \) -print0 | sed -z 's|^\./||'
    fi | LC_ALL=C sort -z | xargs -0 sha256sum -- | sha256sum | cut -d' ' -f1
)

# The flags of a reproducible build: the source tree and $CARGO_HOME remapped to fixed
# paths, in the binary's panic locations and debug information (Rust) and in __FILE__
# (the C dependencies). Placeholders here; `substitute` puts in the real directories.
REMAP_SOURCE_TO=/build/cavra
REMAP_CARGO_TO=/cargo
REPRO_RUSTFLAGS="--remap-path-prefix=@CARGO_HOME@=$REMAP_CARGO_TO --remap-path-prefix=@SOURCE@=$REMAP_SOURCE_TO"
REPRO_CFLAGS="-ffile-prefix-map=@CARGO_HOME@=$REMAP_CARGO_TO -ffile-prefix-map=@SOURCE@=$REMAP_SOURCE_TO"

# substitute TEXT SOURCE_DIR CARGO_HOME
substitute() {
    printf '%s' "$1" | sed -e "s|@SOURCE@|$2|g" -e "s|@CARGO_HOME@|$3|g"
}
