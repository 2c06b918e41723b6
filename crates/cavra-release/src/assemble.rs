//! Writing a release directory: the binary, its SBOM and provenance beside whatever the
//! caller put there first (completions, man pages), then `SHA256SUMS` over every file and
//! its signature.

use crate::error::{ReleaseError, Result};
use crate::manifest::{self, BuildInputs};
use crate::provenance::{self, Build};
use crate::sums::{self, SUMS, SUMS_SIG};
use crate::{sbom, BuildInfo, MANIFEST_FILE, PROVENANCE_FILE, SBOM_FILE};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The inputs of one release directory.
#[derive(Debug, Clone)]
pub struct Assembly<'a> {
    /// The directory to fill (created if missing; files already in it are released too).
    pub out: &'a Path,
    /// The built binary, copied to `out/<binary_name>`.
    pub binary: &'a Path,
    pub binary_name: &'a str,
    /// What the binary says of itself (`cavra version --json`).
    pub info: &'a BuildInfo,
    /// `cargo metadata --format-version 1` of the build (its platform and features).
    pub metadata: &'a Value,
    /// The text of `Cargo.lock`.
    pub lock: &'a str,
    /// The release signing key (`cavra policy keygen`).
    pub key: &'a Path,
    /// The builder id of the provenance.
    pub builder: &'a str,
    /// The build time (RFC 3339; from `$SOURCE_DATE_EPOCH`), if any.
    pub timestamp: Option<&'a str>,
    /// The build's inputs, written to the reproducibility manifest.
    pub inputs: &'a BuildInputs,
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        return Err(ReleaseError::input(
            path.display().to_string(),
            "exists already (a release directory is written once)",
        ));
    }
    std::fs::write(path, bytes).map_err(ReleaseError::io("write", path))
}

/// Every file under `dir` (relative `/`-separated path → absolute path), sorted; a symlink
/// or anything not a regular file is refused (named).
pub(crate) fn files_under(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = todo.pop() {
        let entries = std::fs::read_dir(&d).map_err(ReleaseError::io("read", &d))?;
        for e in entries {
            let e = e.map_err(ReleaseError::io("read", &d))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let kind = e.file_type().map_err(ReleaseError::io("read", &e.path()))?;
            if kind.is_dir() {
                todo.push((e.path(), format!("{rel}/")));
            } else if kind.is_file() && sums::plain_path(&rel) {
                out.insert(rel, e.path());
            } else {
                return Err(ReleaseError::refused(
                    rel,
                    "is not a regular file with a plain name",
                ));
            }
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(ReleaseError::io("read", path))
}

/// Writes the release directory; returns the files `SHA256SUMS` lists (path → SHA-256).
pub fn assemble(a: &Assembly) -> Result<BTreeMap<String, String>> {
    if !sums::plain_path(a.binary_name) || a.binary_name.contains('/') {
        return Err(ReleaseError::input(
            "binary name",
            format!("`{}` is not a plain file name", a.binary_name),
        ));
    }
    std::fs::create_dir_all(a.out).map_err(ReleaseError::io("create", a.out))?;
    if let Some(f) = [SUMS, SUMS_SIG]
        .into_iter()
        .find(|f| a.out.join(f).exists())
    {
        return Err(ReleaseError::input(
            a.out.display().to_string(),
            format!("holds a release already ({f})"),
        ));
    }
    let key = cavra_evidence::pack_keys::read_signing_key(a.key)?;
    let bin = read(a.binary)?;
    write(&a.out.join(a.binary_name), &bin)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = a.out.join(a.binary_name);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .map_err(ReleaseError::io("chmod", &p))?;
    }
    let lock_sha256 = crate::sha256_hex(a.lock.as_bytes());
    let bom = sbom::cyclonedx(a.metadata, a.lock, "cavra-cli", a.info, a.timestamp)?;
    let bom = serde_json::to_string_pretty(&bom).unwrap_or_default() + "\n";
    write(&a.out.join(SBOM_FILE), bom.as_bytes())?;
    let digest = crate::sha256_hex(&bin);
    let st = provenance::statement(&Build {
        subject: (a.binary_name, &digest),
        info: a.info,
        lock_sha256: &lock_sha256,
        builder: a.builder,
        finished_on: a.timestamp,
    });
    let env = provenance::envelope(&st, &key).to_string() + "\n";
    write(&a.out.join(PROVENANCE_FILE), env.as_bytes())?;
    let m = manifest::manifest((a.binary_name, &digest), a.info, &lock_sha256, a.inputs);
    let m = serde_json::to_string_pretty(&m).unwrap_or_default() + "\n";
    write(&a.out.join(MANIFEST_FILE), m.as_bytes())?;
    let mut listed = BTreeMap::new();
    for (rel, path) in files_under(a.out)? {
        if rel == SUMS || rel == SUMS_SIG {
            return Err(ReleaseError::input(
                rel,
                "exists already (a release directory is written once)",
            ));
        }
        listed.insert(rel, crate::sha256_hex(&read(&path)?));
    }
    let text = sums::render(&listed);
    write(&a.out.join(SUMS), text.as_bytes())?;
    let sig =
        serde_json::to_string_pretty(&sums::sign(text.as_bytes(), &key)).unwrap_or_default() + "\n";
    write(&a.out.join(SUMS_SIG), sig.as_bytes())?;
    Ok(listed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOCK: &str = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"aaaa\"\n";

    fn metadata() -> Value {
        json!({
            "packages": [
                {"name": "cavra-cli", "version": "0.1.0", "id": "cli", "source": null},
                {"name": "a", "version": "1.0.0", "id": "a", "source": "registry+https://github.com/rust-lang/crates.io-index"},
            ],
            "resolve": {"nodes": [
                {"id": "cli", "deps": [{"pkg": "a", "dep_kinds": [{"kind": null}]}]},
                {"id": "a", "deps": []},
            ]},
        })
    }

    #[test]
    fn a_release_is_written_once_and_its_parts_must_agree() {
        let d = tempfile::tempdir().unwrap();
        let (key, public) = (d.path().join("k"), d.path().join("k.pub"));
        let sk = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        std::fs::write(&key, hex::encode(sk.to_bytes())).unwrap();
        std::fs::write(&public, hex::encode(sk.verifying_key().to_bytes())).unwrap();
        let bin = d.path().join("bin");
        std::fs::write(&bin, b"\x7fELF not really").unwrap();
        let (info, meta, out) = (BuildInfo::current(&[]), metadata(), d.path().join("rel"));
        let a = Assembly {
            out: &out,
            binary: &bin,
            binary_name: "cavra",
            info: &info,
            metadata: &meta,
            lock: LOCK,
            key: &key,
            builder: "unit",
            timestamp: None,
            inputs: &crate::manifest::tests::inputs(&info),
        };
        let listed = assemble(&a).unwrap();
        assert_eq!(
            listed.keys().collect::<Vec<_>>(),
            ["cavra", MANIFEST_FILE, SBOM_FILE, PROVENANCE_FILE]
        );
        let r = crate::verify(&out, std::slice::from_ref(&public)).unwrap();
        assert_eq!((r.files.len(), r.sbom_components), (4, 1));
        assert!(!r.source_dirty);
        let e = assemble(&a).unwrap_err().to_string();
        assert!(e.ends_with("holds a release already (SHA256SUMS)"), "{e}");
        // an SBOM of another Cargo.lock, re-listed and re-signed with the release key: the
        // checksums hold, the SBOM and the provenance disagree
        let bom = sbom::cyclonedx(
            &meta,
            &format!("{LOCK}\n# other\n"),
            "cavra-cli",
            &info,
            None,
        )
        .unwrap();
        std::fs::write(out.join(SBOM_FILE), bom.to_string()).unwrap();
        let mut files = listed.clone();
        files.insert(
            SBOM_FILE.into(),
            crate::sha256_hex(bom.to_string().as_bytes()),
        );
        let text = sums::render(&files);
        std::fs::write(out.join(SUMS), &text).unwrap();
        let sig = serde_json::to_string(&sums::sign(text.as_bytes(), &sk)).unwrap();
        std::fs::write(out.join(SUMS_SIG), sig).unwrap();
        let e = crate::verify(&out, std::slice::from_ref(&public))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("release refused: `cavra.cdx.json`: it was made from Cargo.lock"),
            "{e}"
        );
        // the manifest left out of the checksums (re-signed): refused
        files.remove(MANIFEST_FILE);
        std::fs::remove_file(out.join(MANIFEST_FILE)).unwrap();
        let text = sums::render(&files);
        std::fs::write(out.join(SUMS), &text).unwrap();
        let sig = serde_json::to_string(&sums::sign(text.as_bytes(), &sk)).unwrap();
        std::fs::write(out.join(SUMS_SIG), sig).unwrap();
        let e = crate::verify(&out, std::slice::from_ref(&public))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "release refused: `SHA256SUMS`: does not list cavra.build.json"
        );
        let e = crate::verify(&out, &[]).unwrap_err().to_string();
        assert_eq!(e, "--trusted-key: at least one trusted key is needed");
    }
}
