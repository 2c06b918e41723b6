//! Packs embedded in the binary.

use super::{
    compile::CompiledPack, parse_pack_trusted, source::PackSource, BundledResolver, PolicyError,
};

/// The default pack.
pub const DEFAULT_PACK: &str = "cavra-coding-baseline";

/// `(id, YAML source)` of every bundled pack.
pub const PACKS: &[(&str, &str)] = &[
    (
        "cavra-coding-baseline",
        include_str!("../../packs/cavra-coding-baseline.yaml"),
    ),
    (
        "cavra-strict",
        include_str!("../../packs/cavra-strict.yaml"),
    ),
    (
        "cavra-regulated",
        include_str!("../../packs/cavra-regulated.yaml"),
    ),
    (
        "cavra-ci-runner",
        include_str!("../../packs/cavra-ci-runner.yaml"),
    ),
    (
        "cavra-observe",
        include_str!("../../packs/cavra-observe.yaml"),
    ),
];

/// `(id, YAML test file)` of every bundled pack.
pub const TESTS: &[(&str, &str)] = &[
    (
        "cavra-coding-baseline",
        include_str!("../../packs/tests/cavra-coding-baseline.yaml"),
    ),
    (
        "cavra-strict",
        include_str!("../../packs/tests/cavra-strict.yaml"),
    ),
    (
        "cavra-regulated",
        include_str!("../../packs/tests/cavra-regulated.yaml"),
    ),
    (
        "cavra-ci-runner",
        include_str!("../../packs/tests/cavra-ci-runner.yaml"),
    ),
    (
        "cavra-observe",
        include_str!("../../packs/tests/cavra-observe.yaml"),
    ),
];

/// `(id, JSON)` of every bundled pack, converted from the YAML at build time.
const PACKS_JSON: &[(&str, &str)] = &[
    (
        "cavra-coding-baseline",
        include_str!(concat!(env!("OUT_DIR"), "/cavra-coding-baseline.json")),
    ),
    (
        "cavra-strict",
        include_str!(concat!(env!("OUT_DIR"), "/cavra-strict.json")),
    ),
    (
        "cavra-regulated",
        include_str!(concat!(env!("OUT_DIR"), "/cavra-regulated.json")),
    ),
    (
        "cavra-ci-runner",
        include_str!(concat!(env!("OUT_DIR"), "/cavra-ci-runner.json")),
    ),
    (
        "cavra-observe",
        include_str!(concat!(env!("OUT_DIR"), "/cavra-observe.json")),
    ),
];

/// A bundled pack's CLI table, split out of the pack's JSON at build time: its keys, its
/// entries as statics (each built by generated code on first use, no JSON parsing) and its
/// index by program name and alias (built by `build.rs` with `cli_index::build`, as
/// `CliTable` builds one for any other table). A pack's source holds it as is
/// (`CliTableSource`), so loading a bundled pack makes nothing per entry.
#[derive(Debug)]
pub(crate) struct BundledCli {
    /// Program names in key order (the order of `CliSection::table`).
    pub names: &'static [&'static str],
    /// The entries, position for position with `names`.
    pub sources: &'static [super::source::CliEntrySource],
    /// Lowercased program names and aliases → position in `names`, sorted by name.
    pub index: &'static [(&'static str, usize)],
    /// The pack's `cli.unknown` (its JSON text, and the rule built on first read).
    pub unknown: Option<(&'static str, &'static BundledUnknown)>,
}

/// A bundled pack's `cli.unknown`, built by generated code the first time it is read.
pub(crate) type BundledUnknown = std::sync::LazyLock<super::source::CliUnknownSource>;

/// What `build.rs`'s generated entry constructors call: each converts a literal to the
/// field's type (`String` or `Option<String>`, `Vec<String>` or `Option<Vec<String>>`, ...).
mod lit {
    use std::collections::BTreeMap;

    pub fn s<T: From<String>>(x: &str) -> T {
        T::from(x.to_string())
    }

    pub fn v<T: From<Vec<String>>>(x: Vec<String>) -> T {
        T::from(x)
    }

    pub fn b<T: From<bool>>(x: bool) -> T {
        T::from(x)
    }

    /// A count field's type (`usize`, `u32`, or an `Option` of one).
    pub trait Count {
        fn count(n: u16) -> Self;
    }
    impl Count for usize {
        fn count(n: u16) -> Self {
            n.into()
        }
    }
    impl Count for u32 {
        fn count(n: u16) -> Self {
            n.into()
        }
    }
    impl<T: Count> Count for Option<T> {
        fn count(n: u16) -> Self {
            Some(T::count(n))
        }
    }

    /// A count (`subcommand_depth`, `escalation.max_blocks`, a CLI entry's `max_depth`).
    pub fn n<T: Count>(x: u16) -> T {
        T::count(x)
    }

    pub fn m<V>(x: Vec<(String, V)>) -> BTreeMap<String, V> {
        x.into_iter().collect()
    }
}

// `static`, not `const`: an entry names its table by address (see `CliTable::compile`)
static BASELINE_CLI: BundledCli =
    include!(concat!(env!("OUT_DIR"), "/cavra-coding-baseline.cli.rs"));
static STRICT_CLI: BundledCli = include!(concat!(env!("OUT_DIR"), "/cavra-strict.cli.rs"));
static REGULATED_CLI: BundledCli = include!(concat!(env!("OUT_DIR"), "/cavra-regulated.cli.rs"));
static CI_RUNNER_CLI: BundledCli = include!(concat!(env!("OUT_DIR"), "/cavra-ci-runner.cli.rs"));
static OBSERVE_CLI: BundledCli = include!(concat!(env!("OUT_DIR"), "/cavra-observe.cli.rs"));

/// `(id, CLI table)` of every bundled pack.
static PACKS_CLI: [(&str, &BundledCli); 5] = [
    ("cavra-coding-baseline", &BASELINE_CLI),
    ("cavra-strict", &STRICT_CLI),
    ("cavra-regulated", &REGULATED_CLI),
    ("cavra-ci-runner", &CI_RUNNER_CLI),
    ("cavra-observe", &OBSERVE_CLI),
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

/// The parsed source of a bundled pack (from its build-time JSON form; the YAML is
/// schema-validated by this module's tests).
pub fn source(id: &str) -> Result<PackSource, PolicyError> {
    let cid = canonical_id(id);
    match PACKS_JSON.iter().find(|(i, _)| *i == cid) {
        Some((_, json)) => {
            let mut pack: PackSource = match built_source(cid) {
                Some(pack) => pack,
                None => serde_json::from_str(json)
                    .map_err(|e| PolicyError::BadCompiled(format!("bundled pack `{cid}`: {e}")))?,
            };
            if let Some((_, t)) = PACKS_CLI.iter().find(|(i, _)| *i == cid) {
                if let Some((_, u)) = t.unknown {
                    let cli = pack.cli.get_or_insert_with(Default::default);
                    cli.unknown = Some(super::source::CliUnknown::bundled(u));
                }
                if !t.names.is_empty() {
                    // `build.rs` moved the table out of the JSON: the source holds the static
                    // table itself (no map, no handle per entry)
                    let cli = pack.cli.get_or_insert_with(Default::default);
                    if cli.table.is_empty() {
                        cli.table = super::source::CliTableSource::from_bundled(t);
                    } else {
                        for (program, e) in t.names.iter().zip(t.sources) {
                            cli.table.insert((*program).to_string(), e.clone());
                        }
                    }
                }
            }
            Ok(pack)
        }
        None => {
            let src = yaml(id).ok_or_else(|| PolicyError::NotFound(id.to_string()))?;
            parse_pack_trusted(&format!("<bundled>/{cid}.yaml"), src)
        }
    }
}

/// A bundled pack's source (without its CLI table, which `source` adds) built by code
/// `build.rs` generated from its JSON: no JSON parsed on the hook's path. `None` for a pack
/// with a section the generator leaves to the JSON parse (free JSON: `compliance`, ...).
/// The test `built_sources_are_the_parsed_json` checks each against its JSON.
// the generated structs name every field they set, then `..Default::default()`; a struct
// is converted into its field's type, which is the struct itself or an `Option` of it
#[allow(clippy::needless_update, clippy::useless_conversion)]
fn built_source(cid: &str) -> Option<PackSource> {
    match cid {
        "cavra-coding-baseline" => {
            include!(concat!(env!("OUT_DIR"), "/cavra-coding-baseline.source.rs"))
        }
        "cavra-strict" => include!(concat!(env!("OUT_DIR"), "/cavra-strict.source.rs")),
        "cavra-regulated" => include!(concat!(env!("OUT_DIR"), "/cavra-regulated.source.rs")),
        "cavra-ci-runner" => include!(concat!(env!("OUT_DIR"), "/cavra-ci-runner.source.rs")),
        "cavra-observe" => include!(concat!(env!("OUT_DIR"), "/cavra-observe.source.rs")),
        _ => None,
    }
}

/// A bundled pack, compiled. Its digest comes from `packs/digests.txt` when that table was
/// written for exactly these packs and this normalizing code (the build-time fingerprint
/// matches); otherwise it is computed. A stale table only costs time, never a wrong digest;
/// the test `digest_table_is_current` fails until it is regenerated.
pub fn compiled(id: &str) -> Result<CompiledPack, PolicyError> {
    let cid = canonical_id(id);
    super::compile::compile_with_digest(source(id)?, &BundledResolver, known_digest(cid))
}

/// Build-time fingerprint of the bundled packs and the code that normalizes them.
const FINGERPRINT: &str = include_str!(concat!(env!("OUT_DIR"), "/bundled_fingerprint.txt"));

/// `fingerprint HEX` then `ID DIGEST` lines (regenerate: see `digest_table_is_current`).
const DIGESTS: &str = include_str!("../../packs/digests.txt");

fn known_digest(id: &str) -> Option<&'static str> {
    let mut lines = DIGESTS.lines();
    let fp = lines.next()?.strip_prefix("fingerprint ")?;
    if fp.trim() != FINGERPRINT.trim() {
        return None;
    }
    lines.find_map(|l| {
        let (i, d) = l.split_once(' ')?;
        (i == id).then_some(d.trim())
    })
}

/// The digest table for the packs as built (what `packs/digests.txt` must hold).
pub fn digest_table() -> Result<String, PolicyError> {
    let mut out = format!("fingerprint {}\n", FINGERPRINT.trim());
    for (id, _) in PACKS {
        let d = super::compile::compile(source(id)?, &BundledResolver)?.digest;
        out.push_str(&format!("{id} {d}\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// Every source `build.rs` generated builds exactly what parsing the pack's JSON gives,
    /// and the default pack's is generated (the hook's common path parses no JSON).
    #[test]
    fn built_sources_are_the_parsed_json() {
        let mut built = Vec::new();
        for (id, json) in super::PACKS_JSON {
            let parsed: super::PackSource =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{id}: {e}"));
            if let Some(b) = super::built_source(id) {
                assert_eq!(b, parsed, "{id}");
                built.push(*id);
            }
        }
        assert!(built.contains(&super::DEFAULT_PACK), "built: {built:?}");
        assert!(super::built_source("no-such-pack").is_none());
    }

    /// The generated constructors build exactly what parsing the entry's JSON gives, for
    /// every entry of every bundled table (so the hook's entries are the pack's).
    #[test]
    fn bundled_cli_entries_are_built_as_parsed() {
        let mut n = 0;
        for (id, t) in &super::PACKS_CLI {
            assert_eq!(t.names.len(), t.sources.len(), "{id}");
            assert!(
                t.names.windows(2).all(|w| w[0] < w[1]),
                "{id}: keys in order"
            );
            for (program, e) in t.names.iter().zip(t.sources) {
                let (json, build) = e.bundled_parts().expect("a bundled entry");
                let parsed: super::super::source::CliSource = serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("{id}: cli.table.{program}: {e}"));
                assert_eq!(build(), parsed, "{id}: cli.table.{program}");
                n += 1;
            }
        }
        assert!(n > 40, "the bundled tables have their entries ({n})");
        // and the rule for unknown CLIs
        let (json, built) = super::BASELINE_CLI.unknown.expect("the baseline has one");
        let parsed: super::super::source::CliUnknownSource =
            serde_json::from_str(json).expect("parses");
        assert_eq!(**built, parsed);
        assert!(!parsed.except_programs.is_empty() && parsed.max_depth.is_some());
        for (id, t) in &super::PACKS_CLI {
            if let Some((json, built)) = t.unknown {
                let parsed: super::super::source::CliUnknownSource =
                    serde_json::from_str(json).expect("parses");
                assert_eq!(**built, parsed, "{id}");
            }
        }
    }

    #[test]
    fn every_bundled_pack_validates_against_the_schema() {
        for (id, src) in super::PACKS {
            if let Err(e) = super::super::parse_pack(id, src) {
                panic!("{id}: {e}");
            }
        }
    }

    /// `packs/digests.txt` must match the packs and the normalizing code; regenerate with
    /// `CAVRA_UPDATE_DIGESTS=1 cargo test -p cavra-core --lib digest_table_is_current`.
    #[test]
    fn digest_table_is_current() {
        let want = super::digest_table().unwrap();
        if std::env::var_os("CAVRA_UPDATE_DIGESTS").is_some() {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packs/digests.txt");
            std::fs::write(p, &want).unwrap();
            return;
        }
        assert_eq!(
            super::DIGESTS, want,
            "packs/digests.txt is stale: run `CAVRA_UPDATE_DIGESTS=1 cargo test -p cavra-core --lib digest_table_is_current`"
        );
        // `digest_table` compiled every bundled pack with full validation (CLI-table entries
        // included), which the fast path then skips; and the fast path gives exactly the
        // computed digest
        for (id, _) in super::PACKS {
            let fast = super::compiled(id).unwrap();
            let slow =
                super::super::compile::compile(super::source(id).unwrap(), &super::BundledResolver)
                    .unwrap();
            assert_eq!(fast.digest, slow.digest, "{id}");
            assert_eq!(fast.normalized.compute_digest(), fast.digest, "{id}");
        }
    }

    #[test]
    fn build_time_json_matches_the_yaml() {
        for (id, src) in super::PACKS {
            let from_yaml = super::super::parse_pack(id, src).unwrap();
            assert_eq!(super::source(id).unwrap(), from_yaml, "{id}");
        }
    }

    #[test]
    fn every_bundled_pack_compiles() {
        for (id, _) in super::PACKS {
            let p = super::compiled(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(p.id, *id);
            assert!(p.digest.starts_with("sha256:"));
        }
    }
}
