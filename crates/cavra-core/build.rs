//! Converts the bundled YAML packs to JSON at build time, with the same YAML reader the
//! library uses at run time, so the hook does not parse YAML on its hot path.
#![allow(clippy::panic, clippy::expect_used)]

#[path = "src/policy/yaml.rs"]
#[allow(dead_code)]
mod yaml;

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    println!("cargo:rerun-if-changed=packs");
    println!("cargo:rerun-if-changed=src/policy/yaml.rs");
    let dir = PathBuf::from("packs");
    let entries = std::fs::read_dir(&dir).expect("packs/ exists");
    for e in entries.flatten() {
        let path = e.path();
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
            std::fs::write(out.join(format!("{name}.json")), value.to_string())
                .expect("OUT_DIR is writable");
        }
    }
}
