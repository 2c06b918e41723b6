#!/usr/bin/env python3
"""Validates CycloneDX JSON SBOMs against the official CycloneDX JSON schema of their
`specVersion` (the strict schema: no property the specification does not define), with
cyclonedx-python-lib's validator and the schemas it ships (.ci/sbom.sh installs it).

Usage: validate_sbom.py FILE...   exit 0: every file validates; 1: one does not (named,
with the schema's message); 2: a file is not JSON or names no known specVersion.
"""
import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def main(files):
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    worst = 0
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        try:
            spec = json.loads(text).get("specVersion", "")
            version = SchemaVersion.from_version(spec)
        except (ValueError, AttributeError) as e:
            print(f"{f}: not a CycloneDX JSON document with a known specVersion: {e}", file=sys.stderr)
            worst = max(worst, 2)
            continue
        error = JsonStrictValidator(version).validate_str(text)
        if error is not None:
            print(f"{f}: does not validate against the CycloneDX {spec} JSON schema: {error}", file=sys.stderr)
            worst = max(worst, 1)
        else:
            print(f"{f}: valid CycloneDX {spec} (JSON schema, strict)")
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
