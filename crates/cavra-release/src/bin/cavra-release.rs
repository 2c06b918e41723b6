//! `cavra-release`: writes a release directory (`release/build.sh` calls it after building
//! the binary). Verification is `cavra verify-release`, in the binary being released.
//!
//! ```text
//! cavra-release --binary FILE --info FILE --metadata FILE --lock FILE --key FILE --out DIR
//!               --inputs FILE [--name cavra] [--builder ID]
//! ```
//! `--inputs` holds the build's inputs for the reproducibility manifest, `KEY=VALUE` lines
//! (`cavra_release::manifest::BuildInputs::parse`).
//! `--info` is the binary's `cavra version --json`; `--metadata` is `cargo metadata
//! --format-version 1` of the build; `$SOURCE_DATE_EPOCH` (seconds) dates the SBOM and the
//! provenance.

use cavra_release::{assemble, Assembly, BuildInfo};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FLAGS: [&str; 9] = [
    "binary", "info", "metadata", "lock", "key", "out", "name", "builder", "inputs",
];

fn args() -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let flag = a.strip_prefix("--").filter(|f| FLAGS.contains(f));
        let Some(flag) = flag else {
            return Err(format!(
                "unknown argument `{a}` (flags: --{})",
                FLAGS.join(", --")
            ));
        };
        let v = it.next().ok_or_else(|| format!("--{flag} needs a value"))?;
        if out.insert(flag.to_string(), v).is_some() {
            return Err(format!("--{flag} given twice"));
        }
    }
    Ok(out)
}

fn read(p: &str) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("cannot read `{p}`: {e}"))
}

fn timestamp() -> Result<Option<String>, String> {
    let var = std::env::var("SOURCE_DATE_EPOCH").ok();
    let Some(s) = var.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let secs: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("SOURCE_DATE_EPOCH `{s}` is not a number"))?;
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| format!("SOURCE_DATE_EPOCH: {e}"))?;
    t.format(&time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|e| format!("SOURCE_DATE_EPOCH: {e}"))
}

fn run() -> Result<(), String> {
    let a = args()?;
    let need = |k: &str| {
        a.get(k)
            .cloned()
            .ok_or_else(|| format!("--{k} is required"))
    };
    let info: BuildInfo = serde_json::from_str(&read(&need("info")?)?)
        .map_err(|e| format!("--info: not `cavra version --json`: {e}"))?;
    let metadata = serde_json::from_str(&read(&need("metadata")?)?)
        .map_err(|e| format!("--metadata: not JSON: {e}"))?;
    let lock = read(&need("lock")?)?;
    let (binary, key, out) = (
        PathBuf::from(need("binary")?),
        PathBuf::from(need("key")?),
        need("out")?,
    );
    let inputs = cavra_release::manifest::BuildInputs::parse(&read(&need("inputs")?)?)
        .map_err(|e| e.to_string())?;
    let ts = timestamp()?;
    let listed = assemble(&Assembly {
        out: Path::new(&out),
        binary: &binary,
        binary_name: a.get("name").map_or("cavra", String::as_str),
        info: &info,
        metadata: &metadata,
        lock: &lock,
        key: &key,
        builder: a.get("builder").map_or("local", String::as_str),
        timestamp: ts.as_deref(),
        inputs: &inputs,
    })
    .map_err(|e| e.to_string())?;
    for (name, digest) in listed {
        println!("{digest}  {name}");
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("cavra-release: error: {e}");
        std::process::exit(1);
    }
}
