//! Converts the bundled YAML packs to JSON at build time, with the same YAML reader the
//! library uses at run time, so the hook does not parse YAML on its hot path.
#![allow(clippy::panic, clippy::expect_used)]

#[path = "src/policy/yaml.rs"]
#[allow(dead_code)]
mod yaml;

use sha2::Digest as _;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    println!("cargo:rerun-if-changed=packs");
    println!("cargo:rerun-if-changed=src/policy/yaml.rs");
    // the bundled packs' digests are read from `packs/digests.txt` while this fingerprint
    // (every bundled pack's JSON + the code that normalizes and hashes packs) matches the
    // one recorded there; otherwise they are computed at run time (see `bundled.rs`)
    for f in FINGERPRINTED_CODE {
        println!("cargo:rerun-if-changed={f}");
    }
    let dir = PathBuf::from("packs");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("packs/ exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    let mut fingerprint = sha2::Sha256::new();
    for f in FINGERPRINTED_CODE {
        let code = std::fs::read(f).expect("source file is readable");
        fingerprint.update((code.len() as u64).to_le_bytes());
        fingerprint.update(&code);
    }
    for path in paths {
        if path.extension().is_some_and(|x| x == "yaml") {
            let src = std::fs::read_to_string(&path).expect("pack is readable");
            let (value, _) = yaml::parse(&src).unwrap_or_else(|e| {
                panic!("{}:{}:{}: {}", path.display(), e.line, e.col, e.message)
            });
            let name = path
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .to_string();
            let json = value.to_string();
            fingerprint.update((name.len() as u64).to_le_bytes());
            fingerprint.update(name.as_bytes());
            fingerprint.update((json.len() as u64).to_le_bytes());
            fingerprint.update(json.as_bytes());
            // the CLI table goes into a table of its own, one JSON text per program, so the
            // hook parses only the entries of the programs a command runs
            let mut value = value;
            let table = value
                .get_mut("cli")
                .and_then(|c| c.as_object_mut())
                .and_then(|c| c.remove("table"));
            let mut entries = String::from("&[\n");
            if let Some(serde_json::Value::Object(t)) = table {
                for (program, entry) in t {
                    let aliases: Vec<String> = entry
                        .get("aliases")
                        .and_then(|a| a.as_array())
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().expect("aliases are strings").to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    entries.push_str(&format!(
                        "    ({program:?}, &{aliases:?}, {:?}),\n",
                        entry.to_string()
                    ));
                }
            }
            entries.push_str("]\n");
            std::fs::write(out.join(format!("{name}.cli.rs")), entries)
                .expect("OUT_DIR is writable");
            std::fs::write(out.join(format!("{name}.json")), value.to_string())
                .expect("OUT_DIR is writable");
        }
    }
    let hex: String = fingerprint
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(out.join("bundled_fingerprint.txt"), hex).expect("OUT_DIR is writable");
}

/// The code a pack digest depends on besides the packs themselves.
const FINGERPRINTED_CODE: &[&str] = &[
    "src/policy/compile.rs",
    "src/policy/source.rs",
    "src/policy/mod.rs",
    "src/policy/bundled.rs",
    "src/model.rs",
];
