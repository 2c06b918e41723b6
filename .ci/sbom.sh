#!/usr/bin/env bash
# The release's SBOM against the official CycloneDX JSON schema of its specVersion: a
# release directory made by release/build.sh from a debug build (`--profile dev`: the same
# script, SBOM, provenance, manifest and verify-release as a release, without building a
# release binary), its cavra.cdx.json validated by release/validate_sbom.py
# (cyclonedx-python-lib's strict JSON-schema validator and the schemas it ships, pinned,
# in a venv under target/). A broken copy of the SBOM must fail, or the check is void.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=11.12.0
VENV=target/sbom-venv
if ! "$VENV/bin/python" -c "import cyclonedx.validation.json, importlib.metadata as m; assert m.version('cyclonedx-python-lib') == '$VERSION'" 2>/dev/null; then
  # a venv that does not answer (another version, or moved: its scripts name their old path)
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "cyclonedx-python-lib[json-validation]==$VERSION"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIN=${CAVRA_BIN:-target/debug/cavra}
[ -x "$BIN" ] || cargo build -p cavra-cli --bin cavra
"$BIN" policy keygen "$WORK/release.key" >/dev/null
release/build.sh --key "$WORK/release.key" --profile dev --out "$WORK/release" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; echo "sbom.sh: release/build.sh failed" >&2; exit 1; }
"$VENV/bin/python" release/validate_sbom.py "$WORK/release/cavra.cdx.json"
# the validator must refuse an SBOM that breaks the schema, each way on its own: a
# component without its required name; a property the specification does not have
for broken in 'del bom["components"][0]["name"]' 'bom["metadata"]["builtWith"] = "cavra"'; do
  python3 -c 'import json, sys
bom = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(bom, open(sys.argv[2], "w"))' "$WORK/release/cavra.cdx.json" "$WORK/broken.cdx.json" "$broken"
  if "$VENV/bin/python" release/validate_sbom.py "$WORK/broken.cdx.json" 2>"$WORK/broken.err"; then
    echo "sbom.sh: the validator accepted a broken SBOM ($broken)" >&2
    exit 1
  fi
  echo "refused as it must be ($broken): $(head -1 "$WORK/broken.err" | cut -c1-200)"
done
