//! Packs embedded in the binary.

use super::{compile::CompiledPack, parse_pack, source::PackSource, BundledResolver, PolicyError};

/// The default pack.
pub const DEFAULT_PACK: &str = "cavra-coding-baseline";

/// `(id, YAML source)` of every bundled pack.
pub const PACKS: &[(&str, &str)] = &[
    ("cavra-coding-baseline", include_str!("../../packs/cavra-coding-baseline.yaml")),
    ("cavra-strict", include_str!("../../packs/cavra-strict.yaml")),
    ("cavra-regulated", include_str!("../../packs/cavra-regulated.yaml")),
    ("cavra-ci-runner", include_str!("../../packs/cavra-ci-runner.yaml")),
    ("cavra-observe", include_str!("../../packs/cavra-observe.yaml")),
];

/// `(id, YAML test file)` of every bundled pack.
pub const TESTS: &[(&str, &str)] = &[
    ("cavra-coding-baseline", include_str!("../../packs/tests/cavra-coding-baseline.yaml")),
    ("cavra-strict", include_str!("../../packs/tests/cavra-strict.yaml")),
    ("cavra-regulated", include_str!("../../packs/tests/cavra-regulated.yaml")),
    ("cavra-ci-runner", include_str!("../../packs/tests/cavra-ci-runner.yaml")),
    ("cavra-observe", include_str!("../../packs/tests/cavra-observe.yaml")),
];

/// Aliases accepted on the command line.
pub fn canonical_id(id: &str) -> &str {
    match id {
        "baseline" | "default" => "cavra-coding-baseline",
        "strict" => "cavra-strict",
        "regulated" => "cavra-regulated",
        "ci" | "ci-runner" => "cavra-ci-runner",
        "observe" | "shadow" => "cavra-observe",
        other => other,
    }
}

pub fn yaml(id: &str) -> Option<&'static str> {
    let id = canonical_id(id);
    PACKS.iter().find(|(i, _)| *i == id).map(|(_, s)| *s)
}

pub fn tests_yaml(id: &str) -> Option<&'static str> {
    let id = canonical_id(id);
    TESTS.iter().find(|(i, _)| *i == id).map(|(_, s)| *s)
}

/// The parsed source of a bundled pack.
pub fn source(id: &str) -> Result<PackSource, PolicyError> {
    let src = yaml(id).ok_or_else(|| PolicyError::NotFound(id.to_string()))?;
    parse_pack(&format!("<bundled>/{}.yaml", canonical_id(id)), src)
}

/// A bundled pack, compiled.
pub fn compiled(id: &str) -> Result<CompiledPack, PolicyError> {
    super::compile::compile(source(id)?, &BundledResolver)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_bundled_pack_compiles() {
        for (id, _) in super::PACKS {
            let p = super::compiled(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(p.id, *id);
            assert!(p.digest.starts_with("sha256:"));
        }
    }
}
