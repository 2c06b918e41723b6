//! Converts the bundled YAML packs to JSON at build time, with the same YAML reader the
//! library uses at run time, so the hook does not parse YAML on its hot path; and generates
//! the code that builds each pack's source and CLI table, so it parses no JSON either.
#![allow(clippy::panic, clippy::expect_used)]

#[path = "src/policy/yaml.rs"]
#[allow(dead_code)]
mod yaml;

#[path = "src/guard/cli_index.rs"]
#[allow(dead_code)]
mod cli_index;

use sha2::Digest as _;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    println!("cargo:rerun-if-changed=packs");
    println!("cargo:rerun-if-changed=src/policy/yaml.rs");
    println!("cargo:rerun-if-changed=src/guard/cli_index.rs");
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
            // the CLI table goes into a table of its own, one JSON text per program in key
            // order (the order of `CliSection::table`), with its index by program name and
            // alias, so the hook builds no index and parses only the entries of the programs
            // a command runs
            let mut value = value;
            let table = value
                .get_mut("cli")
                .and_then(|c| c.as_object_mut())
                .and_then(|c| c.remove("table"));
            // and the rule for unknown CLIs: a static built on first use
            let unknown = value
                .get_mut("cli")
                .and_then(|c| c.as_object_mut())
                .and_then(|c| c.remove("unknown"));
            let mut rows: Vec<(String, Vec<String>, String, String)> = Vec::new();
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
                    let built = rust_struct("CliSource", &entry);
                    rows.push((program, aliases, entry.to_string(), built));
                }
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let index = cli_index::build(
                rows.iter()
                    .map(|(p, a, _, _)| (p.as_str(), a.iter().map(String::as_str))),
            );
            // a block: the entries are a `static` of their own (each caches its built
            // entry), the table refers to it
            let mut entries = format!(
                "{{\n    static SOURCES: [crate::policy::source::CliEntrySource; {}] = [\n",
                rows.len()
            );
            for (_, aliases, json, built) in &rows {
                entries.push_str(&format!(
                    "        crate::policy::source::CliEntrySource::bundled(&{aliases:?}, {json:?}, || {built}),\n"
                ));
            }
            entries.push_str("    ];\n    BundledCli {\n        names: &[\n");
            for (program, _, _, _) in &rows {
                entries.push_str(&format!("            {program:?},\n"));
            }
            entries.push_str("        ],\n        sources: &SOURCES,\n        index: &[\n");
            for (alias_or_program, pos) in &index {
                entries.push_str(&format!("            ({alias_or_program:?}, {pos}),\n"));
            }
            entries.push_str("        ],\n        unknown: ");
            match &unknown {
                Some(u) => entries.push_str(&format!(
                    "{{\n            // every field may be set\n            #[allow(clippy::needless_update)]\n            static UNKNOWN: std::sync::LazyLock<crate::policy::source::CliUnknownSource> =\n                std::sync::LazyLock::new(|| {});\n            Some(({:?}, &UNKNOWN))\n        }},\n",
                    rust_struct("CliUnknownSource", u),
                    u.to_string()
                )),
                None => entries.push_str("None,\n"),
            }
            entries.push_str("    }\n}\n");
            std::fs::write(out.join(format!("{name}.cli.rs")), entries)
                .expect("OUT_DIR is writable");
            std::fs::write(out.join(format!("{name}.json")), value.to_string())
                .expect("OUT_DIR is writable");
            // the rest of the pack as an expression that builds its source (no JSON parsed
            // on the hook's path), or `None` for a pack with a section it cannot build
            let built = source_struct("PackSource", &value)
                .map_or_else(|| "None".to_string(), |e| format!("Some({e})"));
            std::fs::write(out.join(format!("{name}.source.rs")), built)
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

/// A CLI-table entry (or row, `ty` `CliVerbSource`, or the unknown-CLI rule,
/// `CliUnknownSource`) as a Rust expression that builds it, so
/// the hook builds the entries it uses without parsing JSON. The field names are the
/// struct's (a name it lacks does not compile); `bundled.rs`'s `lit` helpers convert each
/// value to the field's type, and a test checks every entry against its JSON parse.
fn rust_struct(ty: &str, v: &serde_json::Value) -> String {
    let serde_json::Value::Object(fields) = v else {
        panic!("a CLI-table {ty} must be a mapping, not {v}")
    };
    let mut out = format!("crate::policy::source::{ty} {{ ");
    for (k, x) in fields {
        // an entry's rows (the unknown-CLI rule's `verbs` are words)
        let value = if k == "verbs" && ty == "CliSource" {
            let serde_json::Value::Array(rows) = x else {
                panic!("`verbs` must be a list, not {x}")
            };
            let rows: Vec<String> = rows
                .iter()
                .map(|r| rust_struct("CliVerbSource", r))
                .collect();
            format!("vec![{}]", rows.join(", "))
        } else {
            rust_value(x)
        };
        out.push_str(&format!("{k}: {value}, "));
    }
    out.push_str("..Default::default() }");
    out
}

/// A plain value of an entry: string, flag, number, list of values or mapping of them.
fn rust_value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "Default::default()".into(),
        Value::Bool(b) => format!("lit::b({b})"),
        Value::Number(n) => {
            let n = n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or_else(|| panic!("`{n}`: a count is a whole number below 65,536"));
            format!("lit::n({n})")
        }
        Value::String(s) => format!("lit::s({s:?})"),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(rust_value).collect();
            format!("lit::v(vec![{}])", items.join(", "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("(lit::s({k:?}), {})", rust_value(x)))
                .collect();
            format!("lit::m(vec![{}])", items.join(", "))
        }
    }
}

/// What a key of a pack source's mapping holds, when it is more than a plain value
/// (strings, flags, counts, lists and mappings of them, which `rust_value` builds). A key
/// not listed here is a plain value; a plain value that is not of the field's type does
/// not compile, and `bundled.rs`'s test checks every built source against its JSON parse.
fn source_field(ty: &str, key: &str) -> Option<Shape> {
    use Shape::{Json, List, Map, OneOrMany, Struct};
    Some(match (ty, key) {
        ("PackSource", "metadata") => Struct("Metadata"),
        ("PackSource", "filesystem") => Struct("Filesystem"),
        ("PackSource", "commands") => Struct("Commands"),
        ("PackSource", "git") => Struct("GitSection"),
        ("PackSource", "mcp") => Struct("McpSection"),
        ("PackSource", "defaults") => Struct("Defaults"),
        ("PackSource", "cli") => Struct("CliSection"),
        ("PackSource", "rules") => List("RuleSource"),
        ("PackSource", "overrides") => List("OverrideSource"),
        ("PackSource", "wrappers") => List("WrapperSource"),
        ("PackSource", "programs") => Map("ProgramSource"),
        ("PackSource", "compliance" | "approvals" | "evidence" | "tests") | ("CliSection", _) => {
            Json
        }
        ("Metadata", "inherits" | "extends") => OneOrMany,
        ("Defaults", "escalation") => Struct("EscalationSource"),
        ("RuleSource", "match") => Struct("MatchSource"),
        ("MatchSource", "file") => Struct("FileMatchSource"),
        ("MatchSource", "command") => Struct("CommandMatchSource"),
        ("MatchSource", "git") => Struct("GitMatchSource"),
        ("MatchSource", "mcp") => Struct("McpMatchSource"),
        ("MatchSource", "network") => Struct("NetworkMatchSource"),
        _ => return None,
    })
}

/// The Rust field a key sets (`match` is a keyword).
fn field_name(key: &str) -> &str {
    match key {
        "match" => "matcher",
        k => k,
    }
}

#[derive(Clone, Copy)]
enum Shape {
    /// A struct of `crate::policy::source` (the field is it or an `Option` of it).
    Struct(&'static str),
    /// A list of such structs.
    List(&'static str),
    /// A mapping from names to such structs.
    Map(&'static str),
    /// `OneOrMany`: one string or a list of them.
    OneOrMany,
    /// Not built (free JSON, or a part built elsewhere): the pack is parsed instead.
    Json,
}

/// A pack source's mapping as a Rust expression that builds the struct `ty`, or `None`
/// when it holds a key `source_field` marks as not built.
fn source_struct(ty: &str, v: &serde_json::Value) -> Option<String> {
    let serde_json::Value::Object(fields) = v else {
        panic!("a pack's {ty} must be a mapping, not {v}")
    };
    let mut out = format!("crate::policy::source::{ty} {{ ");
    for (k, x) in fields {
        let value = match source_field(ty, k) {
            None => rust_value(x),
            Some(Shape::Json) => return None,
            Some(Shape::Struct(t)) => format!("From::from({})", source_struct(t, x)?),
            Some(Shape::List(t)) => {
                let serde_json::Value::Array(items) = x else {
                    panic!("`{k}` must be a list, not {x}")
                };
                let items = items
                    .iter()
                    .map(|i| source_struct(t, i))
                    .collect::<Option<Vec<_>>>()?;
                format!("vec![{}]", items.join(", "))
            }
            Some(Shape::Map(t)) => {
                let serde_json::Value::Object(m) = x else {
                    panic!("`{k}` must be a mapping, not {x}")
                };
                let items = m
                    .iter()
                    .map(|(n, i)| Some(format!("(lit::s({n:?}), {})", source_struct(t, i)?)))
                    .collect::<Option<Vec<_>>>()?;
                format!("lit::m(vec![{}])", items.join(", "))
            }
            Some(Shape::OneOrMany) => match x {
                serde_json::Value::String(s) => {
                    format!("crate::policy::source::OneOrMany::One(lit::s({s:?}))")
                }
                serde_json::Value::Array(_) => {
                    format!("crate::policy::source::OneOrMany::Many({})", rust_value(x))
                }
                _ => return None,
            },
        };
        out.push_str(&format!("{}: {value}, ", field_name(k)));
    }
    out.push_str("..Default::default() }");
    Some(out)
}

/// The code a pack digest depends on besides the packs themselves.
const FINGERPRINTED_CODE: &[&str] = &[
    // it generates the bundled packs' sources
    "build.rs",
    "src/policy/compile.rs",
    "src/policy/source.rs",
    "src/policy/mod.rs",
    "src/policy/bundled.rs",
    "src/model.rs",
];
