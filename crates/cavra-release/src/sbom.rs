//! A CycloneDX 1.5 JSON SBOM of what one package of the workspace links: the closure of its
//! normal and build dependencies in `cargo metadata`'s resolve graph (run it with the
//! build's `--filter-platform` and features to get exactly the build's tree), each crate
//! with its licence and, from `Cargo.lock`, the SHA-256 of its `.crate` file. No local
//! paths and no clock (a timestamp only when given): the same inputs give the same bytes.

use crate::error::{ReleaseError, Result};
use crate::BuildInfo;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// CycloneDX spec version written.
pub const SPEC_VERSION: &str = "1.5";
/// The property holding the SHA-256 of `Cargo.lock`.
pub const LOCK_PROPERTY: &str = "cavra:cargo-lock-sha256";

fn bad(what: &str) -> ReleaseError {
    ReleaseError::input("cargo metadata", what)
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `(name, version, source)` → checksum, for every registry package of `Cargo.lock`.
fn lock_checksums(lock: &str) -> Result<BTreeMap<(String, String, String), String>> {
    let doc: toml_edit::DocumentMut = lock
        .parse()
        .map_err(|e| ReleaseError::input("Cargo.lock", e))?;
    let mut out = BTreeMap::new();
    let Some(packages) = doc.get("package").and_then(|p| p.as_array_of_tables()) else {
        return Err(ReleaseError::input("Cargo.lock", "no [[package]] tables"));
    };
    for p in packages {
        let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        if !s("checksum").is_empty() {
            out.insert((s("name"), s("version"), s("source")), s("checksum"));
        }
    }
    Ok(out)
}

/// The SBOM of package `root` (a workspace member's name) for the binary `info` describes.
/// `metadata` is `cargo metadata --format-version 1` output, `lock` the text of `Cargo.lock`.
pub fn cyclonedx(
    metadata: &Value,
    lock: &str,
    root: &str,
    info: &BuildInfo,
    timestamp: Option<&str>,
) -> Result<Value> {
    let checksums = lock_checksums(lock)?;
    let packages: BTreeMap<&str, &Value> = metadata
        .get("packages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `packages`"))?
        .iter()
        .map(|p| (str_of(p, "id"), p))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata
        .pointer("/resolve/nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `resolve.nodes` (run it without --no-deps)"))?
        .iter()
        .map(|n| (str_of(n, "id"), n))
        .collect();
    let root_id = packages
        .iter()
        .find(|(_, p)| str_of(p, "name") == root && p.get("source").is_none_or(Value::is_null))
        .map(|(id, _)| *id)
        .ok_or_else(|| bad(&format!("no workspace package `{root}`")))?;
    // a node's dependencies that are linked (normal or build, not dev-only)
    let linked = |id: &str| -> Vec<&str> {
        let deps = nodes
            .get(id)
            .and_then(|n| n.get("deps"))
            .and_then(Value::as_array);
        deps.into_iter()
            .flatten()
            .filter(|d| {
                d.get("dep_kinds")
                    .and_then(Value::as_array)
                    .is_some_and(|ks| ks.iter().any(|k| str_of(k, "kind") != "dev"))
            })
            .map(|d| str_of(d, "pkg"))
            .collect()
    };
    let mut closure = BTreeSet::from([root_id]);
    let mut todo = vec![root_id];
    while let Some(id) = todo.pop() {
        for d in linked(id) {
            if closure.insert(d) {
                todo.push(d);
            }
        }
    }
    // bom-refs: `name@version`, made unique when two sources give the same pair
    let mut refs: BTreeMap<&str, String> = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for id in &closure {
        let p = packages
            .get(id)
            .ok_or_else(|| bad(&format!("no package `{id}`")))?;
        let base = format!("{}@{}", str_of(p, "name"), str_of(p, "version"));
        let mut r = base.clone();
        let mut n = 1;
        while !taken.insert(r.clone()) {
            n += 1;
            r = format!("{base}+{n}");
        }
        refs.insert(id, r);
    }
    let component = |id: &str, kind: &str| -> Value {
        let p = packages.get(id).copied().unwrap_or(&Value::Null);
        let (name, version, source) =
            (str_of(p, "name"), str_of(p, "version"), str_of(p, "source"));
        let mut c = Map::new();
        c.insert("type".into(), json!(kind));
        c.insert("bom-ref".into(), json!(refs.get(id)));
        c.insert("name".into(), json!(name));
        c.insert("version".into(), json!(version));
        if let Some(d) = p.get("description").and_then(Value::as_str) {
            c.insert("description".into(), json!(d.trim()));
        }
        if let Some(l) = p.get("license").and_then(Value::as_str) {
            c.insert("licenses".into(), json!([{"expression": l}]));
        }
        if let Some(sum) = checksums.get(&(name.into(), version.into(), source.into())) {
            c.insert("hashes".into(), json!([{"alg": "SHA-256", "content": sum}]));
        }
        if source.starts_with("registry+https://github.com/rust-lang/crates.io-index") {
            c.insert("purl".into(), json!(format!("pkg:cargo/{name}@{version}")));
        } else if source.is_empty() {
            c.insert("scope".into(), json!("required"));
        }
        Value::Object(c)
    };
    let mut root_component = component(root_id, "application");
    root_component["name"] = json!(info.name);
    let components: Vec<Value> = closure
        .iter()
        .filter(|id| **id != root_id)
        .map(|id| component(id, "library"))
        .collect();
    let mut components = components;
    components.sort_by(|a, b| str_of(a, "bom-ref").cmp(str_of(b, "bom-ref")));
    let mut dependencies: Vec<Value> = closure
        .iter()
        .map(|id| {
            let on: BTreeSet<&String> = linked(id).iter().filter_map(|d| refs.get(d)).collect();
            json!({"ref": refs.get(id), "dependsOn": on})
        })
        .collect();
    dependencies.sort_by(|a, b| str_of(a, "ref").cmp(str_of(b, "ref")));
    let property = |name: &str, value: &str| json!({"name": name, "value": value});
    let mut meta = json!({
        "tools": {"components": [{
            "type": "application",
            "name": "cavra-release",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
        "component": root_component,
        "properties": [
            property(LOCK_PROPERTY, &crate::sha256_hex(lock.as_bytes())),
            property("cavra:git-commit", &info.git_commit),
            property("cavra:target", &info.target),
            property("cavra:profile", &info.profile),
            property("cavra:features", &info.features.join(",")),
        ],
    });
    if let Some(t) = timestamp {
        meta["timestamp"] = json!(t);
    }
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": meta,
        "components": components,
        "dependencies": dependencies,
    }))
}

/// What [`check`] found in an SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomSummary {
    pub version: String,
    pub components: usize,
    pub lock_sha256: String,
}

/// Checks the shape of an SBOM this module wrote: CycloneDX 1.5, the root component, its
/// components with a name and version each, the `Cargo.lock` digest.
pub fn check(file: &str, bytes: &[u8]) -> Result<SbomSummary> {
    let refuse = |why: String| ReleaseError::refused(file, why);
    let v: Value = serde_json::from_slice(bytes).map_err(|e| refuse(format!("not JSON: {e}")))?;
    if str_of(&v, "bomFormat") != "CycloneDX" || str_of(&v, "specVersion") != SPEC_VERSION {
        return Err(refuse(format!("not a CycloneDX {SPEC_VERSION} document")));
    }
    let version = v
        .pointer("/metadata/component/version")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("no metadata.component.version".into()))?;
    let components = v
        .get("components")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refuse("no components".into()))?;
    if let Some(c) = components
        .iter()
        .find(|c| str_of(c, "name").is_empty() || str_of(c, "version").is_empty())
    {
        return Err(refuse(format!("a component without name or version: {c}")));
    }
    let lock_sha256 = v
        .pointer("/metadata/properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| str_of(p, "name") == LOCK_PROPERTY)
        .map(|p| str_of(p, "value").to_string())
        .ok_or_else(|| refuse(format!("no `{LOCK_PROPERTY}` property")))?;
    Ok(SbomSummary {
        version: version.to_string(),
        components: components.len(),
        lock_sha256,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["a", "d"]

[[package]]
name = "a"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"
dependencies = ["b"]

[[package]]
name = "b"
version = "2.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"

[[package]]
name = "d"
version = "3.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "dddd"
"#;

    fn metadata() -> Value {
        let reg = "registry+https://github.com/rust-lang/crates.io-index";
        let pkg = |name: &str, v: &str, source: Option<&str>| json!({"name": name, "version": v, "id": format!("{name}-id"), "source": source, "license": "MIT"});
        let dep = |pkg: &str, kind: Value| json!({"pkg": format!("{pkg}-id"), "dep_kinds": [{"kind": kind}]});
        json!({
            "packages": [pkg("app", "0.1.0", None), pkg("a", "1.0.0", Some(reg)), pkg("b", "2.0.0", Some(reg)), pkg("d", "3.0.0", Some(reg))],
            "resolve": {"nodes": [
                {"id": "app-id", "deps": [dep("a", Value::Null), dep("d", json!("dev"))]},
                {"id": "a-id", "deps": [dep("b", json!("build"))]},
                {"id": "b-id", "deps": []},
                {"id": "d-id", "deps": []},
            ]},
        })
    }

    #[test]
    fn the_sbom_lists_what_is_linked_with_hashes_and_is_stable() {
        let info = BuildInfo::current(&[]);
        let s = cyclonedx(&metadata(), LOCK, "app", &info, None).unwrap();
        let names: Vec<&str> = s["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| str_of(c, "name"))
            .collect();
        // `d` is a dev-dependency only: not linked, not listed
        assert_eq!(names, ["a", "b"]);
        assert_eq!(s["components"][0]["hashes"][0]["content"], "aaaa");
        assert_eq!(s["components"][1]["purl"], "pkg:cargo/b@2.0.0");
        assert_eq!(s["metadata"]["component"]["name"], "cavra");
        assert_eq!(
            s["dependencies"][1],
            json!({"ref": "app@0.1.0", "dependsOn": ["a@1.0.0"]})
        );
        assert!(s.get("metadata").unwrap().get("timestamp").is_none());
        let again = cyclonedx(&metadata(), LOCK, "app", &info, None).unwrap();
        assert_eq!(s.to_string(), again.to_string());
        let sum = check("x.json", s.to_string().as_bytes()).unwrap();
        assert_eq!(sum.components, 2);
        assert_eq!(sum.lock_sha256, crate::sha256_hex(LOCK.as_bytes()));
        let e = cyclonedx(&metadata(), LOCK, "nope", &info, None).unwrap_err();
        assert_eq!(e.to_string(), "cargo metadata: no workspace package `nope`");
        let e = cyclonedx(&metadata(), "[[package", "app", &info, None).unwrap_err();
        assert!(e.to_string().starts_with("Cargo.lock: "), "{e}");
    }

    #[test]
    fn a_document_that_is_no_sbom_is_refused_by_name() {
        for (text, want) in [
            ("{", "not JSON"),
            (r#"{"bomFormat": "SPDX"}"#, "not a CycloneDX 1.5 document"),
            (
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"component": {"version": "1"}}, "components": []}"#,
                "no components",
            ),
        ] {
            let e = check("cavra.cdx.json", text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("release refused: `cavra.cdx.json`: "), "{e}");
            assert!(e.contains(want), "{e}");
        }
    }
}
