//! Checking a release directory with no network: the signature of `SHA256SUMS` under a
//! trusted key, every file against it (nothing missing, nothing unlisted), the provenance's
//! signature and subjects, the SBOM's shape and its `Cargo.lock` digest against the
//! provenance's. The first failure is returned, naming its file.

use crate::assemble::files_under;
use crate::error::{ReleaseError, Result};
use crate::sums::{self, SUMS, SUMS_SIG};
use crate::{manifest, provenance, sbom, MANIFEST_FILE, PROVENANCE_FILE, SBOM_FILE};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One verified file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedFile {
    pub name: String,
    pub sha256: String,
}

/// A release directory that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub dir: PathBuf,
    pub verified: bool,
    /// The trusted key that signed the checksums and the provenance.
    pub key_id: String,
    pub files: Vec<VerifiedFile>,
    /// The provenance's subjects (the binary).
    pub subjects: Vec<String>,
    pub git_commit: String,
    pub builder: String,
    pub sbom_components: usize,
    /// The reproducibility manifest: built from a tree that differed from its commit.
    pub source_dirty: bool,
    /// The manifest's source tree digest, toolchain and cargo profile.
    pub source_tree_sha256: String,
    pub cargo_profile: String,
    pub rustc: String,
}

impl VerifyReport {
    pub fn text(&self) -> String {
        let mut s = format!(
            "release {} verified: {} files, signed by key {}\n",
            self.dir.display(),
            self.files.len(),
            self.key_id
        );
        for f in &self.files {
            s += &format!("  ok {}  {}\n", f.sha256, f.name);
        }
        s += &format!(
            "provenance: {} from commit {} (builder {})\nsbom: {} components\n",
            self.subjects.join(", "),
            self.git_commit,
            self.builder,
            self.sbom_components
        );
        s += &format!(
            "manifest: source tree {}{}, cargo profile {}, {}\n",
            self.source_tree_sha256,
            if self.source_dirty {
                " (DIRTY: differs from the commit)"
            } else {
                ""
            },
            self.cargo_profile,
            self.rustc
        );
        s
    }
}

fn read_listed(dir: &Path, name: &str, why: &str) -> Result<Vec<u8>> {
    std::fs::read(dir.join(name)).map_err(|e| ReleaseError::refused(name, format!("{why} ({e})")))
}

/// Verifies the release directory `dir` under the trusted public key files.
pub fn verify(dir: &Path, trusted_keys: &[PathBuf]) -> Result<VerifyReport> {
    if trusted_keys.is_empty() {
        return Err(ReleaseError::input(
            "--trusted-key",
            "at least one trusted key is needed",
        ));
    }
    let trusted = cavra_evidence::pack_keys::read_trusted(trusted_keys)?;
    if !dir.is_dir() {
        return Err(ReleaseError::input(
            dir.display().to_string(),
            "is not a directory",
        ));
    }
    let sums_bytes = read_listed(dir, SUMS, "cannot be read")?;
    let sig = read_listed(dir, SUMS_SIG, "cannot be read")?;
    let key_id = sums::check(&sums_bytes, &sig, &trusted)?;
    let text =
        String::from_utf8(sums_bytes).map_err(|_| ReleaseError::refused(SUMS, "is not UTF-8"))?;
    let listed = sums::parse(&text)?;
    for (rel, _) in files_under(dir)? {
        if rel != SUMS && rel != SUMS_SIG && !listed.contains_key(&rel) {
            return Err(ReleaseError::refused(
                rel,
                format!("is not listed in {SUMS}"),
            ));
        }
    }
    let mut files = Vec::new();
    for (name, want) in &listed {
        let bytes = read_listed(
            dir,
            name,
            &format!("is listed in {SUMS} but cannot be read"),
        )?;
        let got = crate::sha256_hex(&bytes);
        if &got != want {
            return Err(ReleaseError::refused(
                name,
                format!("its SHA-256 is {got}, {SUMS} says {want}"),
            ));
        }
        files.push(VerifiedFile {
            name: name.clone(),
            sha256: got,
        });
    }
    for needed in [SBOM_FILE, PROVENANCE_FILE, MANIFEST_FILE] {
        if !listed.contains_key(needed) {
            return Err(ReleaseError::refused(
                SUMS,
                format!("does not list {needed}"),
            ));
        }
    }
    let prov = provenance::check(
        PROVENANCE_FILE,
        &read_listed(dir, PROVENANCE_FILE, "cannot be read")?,
        &trusted,
    )?;
    for (name, digest) in &prov.subjects {
        match listed.get(name) {
            Some(d) if d == digest => {}
            Some(d) => {
                return Err(ReleaseError::refused(
                    name,
                    format!("its SHA-256 is {d}, the provenance's subject says {digest}"),
                ))
            }
            None => {
                return Err(ReleaseError::refused(
                    PROVENANCE_FILE,
                    format!("its subject `{name}` is not listed in {SUMS}"),
                ))
            }
        }
    }
    let bom = sbom::check(SBOM_FILE, &read_listed(dir, SBOM_FILE, "cannot be read")?)?;
    if bom.lock_sha256 != prov.lock_sha256 {
        return Err(ReleaseError::refused(
            SBOM_FILE,
            format!(
                "it was made from Cargo.lock {}, the provenance names {}",
                bom.lock_sha256, prov.lock_sha256
            ),
        ));
    }
    let m = manifest::check(
        MANIFEST_FILE,
        &read_listed(dir, MANIFEST_FILE, "cannot be read")?,
        &prov,
    )?;
    Ok(VerifyReport {
        dir: dir.to_path_buf(),
        verified: true,
        key_id,
        files,
        subjects: prov.subjects.into_keys().collect(),
        git_commit: prov.git_commit,
        builder: prov.builder,
        sbom_components: bom.components,
        source_dirty: m.source.git_dirty,
        source_tree_sha256: m.source.tree_sha256,
        cargo_profile: m.build.cargo_profile,
        rustc: m.info.rustc,
    })
}
