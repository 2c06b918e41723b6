//! The reproducibility manifest (`cavra.build.json`): the inputs of the build — source
//! (git commit, dirty flag, a digest of the source tree), `Cargo.lock`'s digest, the
//! toolchain (`rustc -vV`, `cargo --version`), the cargo command, target, profile,
//! `RUSTFLAGS`/`CFLAGS`, `SOURCE_DATE_EPOCH` and the path remapping — beside what the binary
//! says of itself and its SHA-256. `release/reproduce.sh` rebuilds from it; the checksums
//! and their signature cover it; [`check`] holds it against the provenance.
//!
//! Local paths never appear: the remapped directories are named by placeholders
//! ([`SOURCE_PLACEHOLDER`], [`CARGO_HOME_PLACEHOLDER`]) that a rebuild replaces with its own.

use crate::error::{ReleaseError, Result};
use crate::provenance::Checked;
use crate::BuildInfo;
use serde::{Deserialize, Serialize};

/// The manifest's `format`.
pub const FORMAT: &str = "cavra-build-manifest/1";
/// Stands for the source tree's directory in the flags and the remapping.
pub const SOURCE_PLACEHOLDER: &str = "@SOURCE@";
/// Stands for `$CARGO_HOME` (the crates' sources) in the flags and the remapping.
pub const CARGO_HOME_PLACEHOLDER: &str = "@CARGO_HOME@";

/// The release's binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBinary {
    pub name: String,
    pub sha256: String,
}

/// The source the binary was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub git_commit: String,
    /// Tracked files differed from the commit when it was built (it cannot be rebuilt from
    /// the commit alone).
    pub git_dirty: bool,
    /// SHA-256 of the `sha256sum` lines (`DIGEST  PATH`, sorted by path) of every file of
    /// the source tree (`git ls-files`): `release/lib.sh`'s `tree_sha256`.
    pub tree_sha256: String,
}

/// The compiler and cargo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolchain {
    /// `rustc -vV`, verbatim.
    pub rustc_vv: String,
    /// `cargo --version`.
    pub cargo: String,
}

/// One remapped directory: `from` is a placeholder, `to` what the binary says instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remap {
    pub from: String,
    pub to: String,
}

/// How cargo was run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSettings {
    /// The arguments of `cargo` (from the source tree's root).
    pub cargo_args: Vec<String>,
    /// The cargo profile (`release`, `dev`).
    pub cargo_profile: String,
    pub target: String,
    /// `RUSTFLAGS` (with the placeholders).
    pub rustflags: String,
    /// `CFLAGS` of the C dependencies (with the placeholders).
    pub cflags: String,
    /// The build's `SOURCE_DATE_EPOCH` (seconds), if set.
    pub source_date_epoch: Option<String>,
    pub path_remapping: Vec<Remap>,
}

/// `cavra.build.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildManifest {
    pub format: String,
    pub binary: ManifestBinary,
    /// The binary's `cavra version --json`.
    pub info: BuildInfo,
    pub source: Source,
    pub cargo_lock_sha256: String,
    pub toolchain: Toolchain,
    pub build: BuildSettings,
}

/// The build's inputs the release script collects (`cavra-release --inputs FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInputs {
    pub git_dirty: bool,
    pub tree_sha256: String,
    pub rustc_vv: String,
    pub cargo: String,
    pub cargo_args: Vec<String>,
    pub cargo_profile: String,
    pub rustflags: String,
    pub cflags: String,
    pub source_date_epoch: Option<String>,
    pub path_remapping: Vec<Remap>,
}

impl BuildInputs {
    /// Parses `KEY=VALUE` lines: `git_dirty` (`true`/`false`), `tree_sha256`, `cargo`,
    /// `cargo_profile`, `rustflags`, `cflags`, `source_date_epoch` once each; `rustc_vv`
    /// (one line of `rustc -vV` each), `cargo_arg` and `remap` (`FROM=TO`) repeated.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| ReleaseError::input("--inputs", why);
        let mut i = BuildInputs::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut rustc = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| bad(format!("line {}: not KEY=VALUE", n + 1)))?;
            let repeats = matches!(k, "rustc_vv" | "cargo_arg" | "remap");
            if !repeats && !seen.insert(k.to_string()) {
                return Err(bad(format!("line {}: `{k}` given twice", n + 1)));
            }
            match k {
                "git_dirty" => {
                    i.git_dirty = match v {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("git_dirty `{v}` is not true or false"))),
                    }
                }
                "tree_sha256" => i.tree_sha256 = v.into(),
                "cargo" => i.cargo = v.into(),
                "cargo_profile" => i.cargo_profile = v.into(),
                "rustflags" => i.rustflags = v.into(),
                "cflags" => i.cflags = v.into(),
                "source_date_epoch" => {
                    if !v.is_empty() {
                        v.parse::<u64>()
                            .map_err(|_| bad(format!("source_date_epoch `{v}` is not a number")))?;
                        i.source_date_epoch = Some(v.into());
                    }
                }
                "rustc_vv" => rustc.push(v),
                "cargo_arg" => i.cargo_args.push(v.into()),
                "remap" => {
                    let (from, to) = v
                        .split_once('=')
                        .ok_or_else(|| bad(format!("remap `{v}` is not FROM=TO")))?;
                    i.path_remapping.push(Remap {
                        from: from.into(),
                        to: to.into(),
                    });
                }
                _ => return Err(bad(format!("line {}: unknown key `{k}`", n + 1))),
            }
        }
        i.rustc_vv = rustc.join("\n");
        if !is_sha256(&i.tree_sha256) {
            return Err(bad("tree_sha256 is not a SHA-256".into()));
        }
        for (k, v) in [
            ("rustc_vv", &i.rustc_vv),
            ("cargo", &i.cargo),
            ("cargo_profile", &i.cargo_profile),
        ] {
            if v.is_empty() {
                return Err(bad(format!("`{k}` is missing")));
            }
        }
        if i.cargo_args.is_empty() {
            return Err(bad("`cargo_arg` is missing".into()));
        }
        Ok(i)
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The manifest of a build.
pub fn manifest(
    binary: (&str, &str),
    info: &BuildInfo,
    lock_sha256: &str,
    inputs: &BuildInputs,
) -> BuildManifest {
    BuildManifest {
        format: FORMAT.into(),
        binary: ManifestBinary {
            name: binary.0.into(),
            sha256: binary.1.into(),
        },
        info: info.clone(),
        source: Source {
            git_commit: info.git_commit.clone(),
            git_dirty: inputs.git_dirty,
            tree_sha256: inputs.tree_sha256.clone(),
        },
        cargo_lock_sha256: lock_sha256.into(),
        toolchain: Toolchain {
            rustc_vv: inputs.rustc_vv.clone(),
            cargo: inputs.cargo.clone(),
        },
        build: BuildSettings {
            cargo_args: inputs.cargo_args.clone(),
            cargo_profile: inputs.cargo_profile.clone(),
            target: info.target.clone(),
            rustflags: inputs.rustflags.clone(),
            cflags: inputs.cflags.clone(),
            source_date_epoch: inputs.source_date_epoch.clone(),
            path_remapping: inputs.path_remapping.clone(),
        },
    }
}

/// The `profile` a binary built with cargo profile `cargo_profile` reports (cargo's
/// `PROFILE`: `debug` for `dev`; `release` and profiles inheriting from it say `release`).
fn profile_matches(cargo_profile: &str, reported: &str) -> bool {
    match cargo_profile {
        "dev" | "test" => reported == "debug",
        "release" | "bench" => reported == "release",
        _ => reported == "release" || reported == "debug",
    }
}

/// Reads `file`'s manifest and checks it against itself and the verified provenance: the
/// binary is a subject with the same SHA-256, the commit, `Cargo.lock`, target, profile,
/// features and compiler agree, and the manifest's own fields agree with its `info` (the
/// binary's `version --json`). The first disagreement is returned, naming `file`.
pub fn check(file: &str, bytes: &[u8], prov: &Checked) -> Result<BuildManifest> {
    let refuse = |why: String| ReleaseError::refused(file, why);
    let m: BuildManifest =
        serde_json::from_slice(bytes).map_err(|e| refuse(format!("not a build manifest: {e}")))?;
    if m.format != FORMAT {
        return Err(refuse(format!("format `{}` is not {FORMAT}", m.format)));
    }
    match prov.subjects.get(&m.binary.name) {
        Some(d) if *d == m.binary.sha256 => {}
        Some(d) => {
            return Err(refuse(format!(
                "it names `{}` with SHA-256 {}, the provenance says {d}",
                m.binary.name, m.binary.sha256
            )))
        }
        None => {
            return Err(refuse(format!(
                "its binary `{}` is not a subject of the provenance",
                m.binary.name
            )))
        }
    }
    let agree = |what: &str, a: &str, b: &str, whose: &str| {
        if a == b {
            Ok(())
        } else {
            Err(refuse(format!("its {what} is `{a}`, {whose} says `{b}`")))
        }
    };
    let info = &m.info;
    agree(
        "commit",
        &m.source.git_commit,
        &info.git_commit,
        "the binary",
    )?;
    agree(
        "commit",
        &m.source.git_commit,
        &prov.git_commit,
        "the provenance",
    )?;
    agree(
        "Cargo.lock SHA-256",
        &m.cargo_lock_sha256,
        &prov.lock_sha256,
        "the provenance",
    )?;
    agree("target", &m.build.target, &info.target, "the binary")?;
    agree("target", &info.target, &prov.target, "the provenance")?;
    agree("profile", &info.profile, &prov.profile, "the provenance")?;
    agree("compiler", &info.rustc, &prov.rustc, "the provenance")?;
    if info.features != prov.features {
        return Err(refuse(format!(
            "its features are {:?}, the provenance says {:?}",
            info.features, prov.features
        )));
    }
    let first = m.toolchain.rustc_vv.lines().next().unwrap_or("");
    agree("rustc -vV", first, &info.rustc, "the binary")?;
    if !m
        .toolchain
        .rustc_vv
        .lines()
        .any(|l| l.strip_prefix("host: ").is_some())
    {
        return Err(refuse("its rustc -vV has no `host:` line".into()));
    }
    if !profile_matches(&m.build.cargo_profile, &info.profile) {
        return Err(refuse(format!(
            "its cargo profile `{}` does not build a `{}` binary",
            m.build.cargo_profile, info.profile
        )));
    }
    if !is_sha256(&m.source.tree_sha256) {
        return Err(refuse("its source tree digest is not a SHA-256".into()));
    }
    if let Some(s) = &m.build.source_date_epoch {
        if s.parse::<u64>().is_err() {
            return Err(refuse(format!(
                "its SOURCE_DATE_EPOCH `{s}` is not a number"
            )));
        }
    }
    let text = format!(
        "{} {} {}",
        m.build.rustflags,
        m.build.cflags,
        m.build.cargo_args.join(" ")
    );
    if let Some(w) = text
        .split_whitespace()
        .find(|w| w.contains("=/") && !w.contains('@') && w.contains("remap-path-prefix"))
    {
        return Err(refuse(format!("its flags hold a local path: `{w}`")));
    }
    Ok(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Inputs of a clean build of `info`.
    pub(crate) fn inputs(info: &BuildInfo) -> BuildInputs {
        let mut i = BuildInputs::parse(&inputs_text().replace("RUSTC", &info.rustc)).unwrap();
        i.cargo_profile = match info.profile.as_str() {
            "debug" => "dev".into(),
            p => p.into(),
        };
        i
    }

    fn inputs_text() -> String {
        [
            "git_dirty=false",
            &format!("tree_sha256={}", "a".repeat(64)),
            "rustc_vv=RUSTC",
            "rustc_vv=binary: rustc",
            "rustc_vv=host: x86_64-unknown-linux-gnu",
            "cargo=cargo 1.0.0",
            "cargo_profile=release",
            "cargo_arg=build",
            "cargo_arg=--locked",
            "rustflags=--remap-path-prefix=@SOURCE@=/build/cavra",
            "cflags=",
            "source_date_epoch=1764547200",
            "remap=@SOURCE@=/build/cavra",
        ]
        .join("\n")
    }

    fn setup() -> (BuildInfo, Checked, BuildInputs) {
        let mut info = BuildInfo::current(&["postgres"]);
        info.profile = "release".into();
        let text = inputs_text().replace("RUSTC", &info.rustc);
        let i = BuildInputs::parse(&text).unwrap();
        let prov = Checked {
            subjects: BTreeMap::from([("cavra".to_string(), "b".repeat(64))]),
            git_commit: info.git_commit.clone(),
            lock_sha256: "c".repeat(64),
            builder: "local".into(),
            profile: info.profile.clone(),
            target: info.target.clone(),
            rustc: info.rustc.clone(),
            features: info.features.clone(),
        };
        (info, prov, i)
    }

    #[test]
    fn a_manifest_agrees_with_the_provenance_and_a_changed_field_is_named() {
        let (info, prov, i) = setup();
        assert_eq!(i.cargo_args, ["build", "--locked"]);
        assert_eq!(i.rustc_vv.lines().count(), 3);
        assert_eq!(i.source_date_epoch.as_deref(), Some("1764547200"));
        let m = manifest(("cavra", &"b".repeat(64)), &info, &"c".repeat(64), &i);
        let bytes = serde_json::to_vec(&m).unwrap();
        assert_eq!(check("m", &bytes, &prov).unwrap(), m);
        let refused = |m: &BuildManifest| {
            check("m", &serde_json::to_vec(m).unwrap(), &prov)
                .unwrap_err()
                .to_string()
        };
        let mut bad = m.clone();
        bad.binary.sha256 = "d".repeat(64);
        assert!(
            refused(&bad).contains("the provenance says bbbb"),
            "{}",
            refused(&bad)
        );
        let mut bad = m.clone();
        bad.cargo_lock_sha256 = "e".repeat(64);
        assert!(refused(&bad).starts_with("release refused: `m`: its Cargo.lock SHA-256"));
        let mut bad = m.clone();
        bad.source.git_commit = "f".repeat(40);
        assert!(
            refused(&bad).contains("its commit is `ffff"),
            "{}",
            refused(&bad)
        );
        let mut bad = m.clone();
        bad.build.cargo_profile = "dev".into();
        assert!(
            refused(&bad).contains("cargo profile `dev`"),
            "{}",
            refused(&bad)
        );
        let mut bad = m.clone();
        bad.toolchain.rustc_vv = "rustc 0.0.0\nhost: x".into();
        assert!(refused(&bad).contains("its rustc -vV is `rustc 0.0.0`"));
        let mut bad = m.clone();
        bad.info.features = vec![];
        assert!(
            refused(&bad).contains("its features are []"),
            "{}",
            refused(&bad)
        );
        let mut bad = m.clone();
        bad.build.rustflags = "--remap-path-prefix=/home/me/src=/build/cavra".into();
        assert!(
            refused(&bad).contains("hold a local path"),
            "{}",
            refused(&bad)
        );
        let mut bad = m.clone();
        bad.format = "other/1".into();
        assert!(refused(&bad).contains("format `other/1`"));
        let e = check("m", b"{}", &prov).unwrap_err().to_string();
        assert!(
            e.starts_with("release refused: `m`: not a build manifest"),
            "{e}"
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        let e = |t: &str| BuildInputs::parse(t).unwrap_err().to_string();
        let good = inputs_text();
        assert!(e(&format!("{good}\ncargo=again")).contains("`cargo` given twice"));
        assert!(e(&format!("{good}\nnope")).contains("not KEY=VALUE"));
        assert!(e(&format!("{good}\nwho=me")).contains("unknown key `who`"));
        assert!(e(&good.replace("git_dirty=false", "git_dirty=maybe")).contains("maybe"));
        assert!(e(&good.replace("=1764547200", "=soon")).contains("`soon` is not a number"));
        assert!(e(&good.replace(&"a".repeat(64), "abc")).contains("tree_sha256"));
        assert!(e(&good.replace("cargo=cargo 1.0.0\n", "")).contains("`cargo` is missing"));
    }
}
