//! `SHA256SUMS` (the `sha256sum` format: `<hex>  <path>` per line, sorted by path) and its
//! detached Ed25519 signature `SHA256SUMS.sig`, a plain signature over the file's exact
//! bytes (so `openssl pkeyutl -verify -rawin` checks it too; docs/release.md).

use crate::error::{ReleaseError, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The checksums file's name.
pub const SUMS: &str = "SHA256SUMS";
/// The signature file's name.
pub const SUMS_SIG: &str = "SHA256SUMS.sig";

/// `SHA256SUMS.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SumsSignature {
    /// `ed25519`.
    pub algorithm: String,
    /// `cavra_core::policy::signing::key_id` of the signing key.
    pub key_id: String,
    /// Base64 of the 64-byte signature over `SHA256SUMS`.
    pub signature: String,
}

/// Renders the checksums file of `files` (path → SHA-256 hex).
pub(crate) fn render(files: &BTreeMap<String, String>) -> String {
    files.iter().map(|(p, d)| format!("{d}  {p}\n")).collect()
}

/// Is `p` a relative path of plain components (`a/b.txt`; no `..`, `.`, empty parts, `\`)?
pub(crate) fn plain_path(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\\')
        && p.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.chars().any(char::is_control))
}

/// Parses the checksums file: every line `<64 hex>  <plain path>` (or `<hex> *<path>`), no
/// path twice.
pub(crate) fn parse(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| ReleaseError::refused(SUMS, format!("line {}: {why}", n + 1));
        let (digest, path) = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .ok_or_else(|| bad("not `<sha256>  <file>`"))?;
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad("the digest is not 64 lowercase hex digits"));
        }
        if !plain_path(path) {
            return Err(bad(&format!("`{path}` is not a plain relative path")));
        }
        if out.insert(path.to_string(), digest.to_string()).is_some() {
            return Err(bad(&format!("`{path}` is listed twice")));
        }
    }
    if out.is_empty() {
        return Err(ReleaseError::refused(SUMS, "lists no file"));
    }
    Ok(out)
}

/// Signs the checksums file's bytes.
pub(crate) fn sign(sums: &[u8], key: &SigningKey) -> SumsSignature {
    SumsSignature {
        algorithm: "ed25519".into(),
        key_id: cavra_core::policy::signing::key_id(&key.verifying_key()),
        signature: B64.encode(key.sign(sums).to_bytes()),
    }
}

/// Checks `SHA256SUMS.sig` over `sums` under one of the trusted keys; returns its key id.
pub(crate) fn check(sums: &[u8], sig_text: &[u8], trusted: &[VerifyingKey]) -> Result<String> {
    let bad = |why: String| ReleaseError::refused(SUMS_SIG, why);
    let sig: SumsSignature =
        serde_json::from_slice(sig_text).map_err(|e| bad(format!("not a signature file: {e}")))?;
    if sig.algorithm != "ed25519" {
        return Err(bad(format!("algorithm `{}` is not ed25519", sig.algorithm)));
    }
    let ids: Vec<String> = trusted
        .iter()
        .map(cavra_core::policy::signing::key_id)
        .collect();
    let Some(key) = ids.iter().position(|id| *id == sig.key_id) else {
        return Err(bad(format!(
            "signed by key {}, which is not a trusted key (trusted: {})",
            sig.key_id,
            ids.join(", ")
        )));
    };
    let bytes = B64
        .decode(sig.signature.trim())
        .map_err(|_| bad("the signature is not base64".into()))?;
    let signature =
        Signature::from_slice(&bytes).map_err(|_| bad("the signature is not 64 bytes".into()))?;
    trusted[key].verify(sums, &signature).map_err(|_| {
        ReleaseError::refused(
            SUMS,
            format!("its signature in {SUMS_SIG} (key {}) does not verify: the file was changed after signing", sig.key_id),
        )
    })?;
    Ok(sig.key_id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn checksums_round_trip_and_bad_lines_are_named() {
        let files = BTreeMap::from([
            ("cavra".to_string(), "a".repeat(64)),
            ("man/cavra.1".to_string(), "b".repeat(64)),
        ]);
        assert_eq!(parse(&render(&files)).unwrap(), files);
        let a = "a".repeat(64);
        for (text, want) in [
            (
                format!("{a}  ../etc/passwd\n"),
                "line 1: `../etc/passwd` is not a plain relative path",
            ),
            (format!("{a}  /abs\n"), "is not a plain relative path"),
            (format!("{a}  x\n{a}  x\n"), "line 2: `x` is listed twice"),
            (
                "ABC  x\n".to_string(),
                "line 1: the digest is not 64 lowercase hex digits",
            ),
            ("garbage\n".to_string(), "line 1: not `<sha256>  <file>`"),
            (String::new(), "lists no file"),
        ] {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with("release refused: `SHA256SUMS`: "), "{e}");
            assert!(e.contains(want), "{e} / {want}");
        }
    }

    #[test]
    fn the_signature_verifies_only_over_the_same_bytes_and_a_trusted_key() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let other = SigningKey::from_bytes(&[4u8; 32]).verifying_key();
        let sums = b"x  y\n";
        let sig = serde_json::to_vec(&sign(sums, &key)).unwrap();
        let id = check(sums, &sig, &[other, key.verifying_key()]).unwrap();
        assert_eq!(
            id,
            cavra_core::policy::signing::key_id(&key.verifying_key())
        );
        let e = check(b"x  z\n", &sig, &[key.verifying_key()])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("release refused: `SHA256SUMS`: its signature"),
            "{e}"
        );
        let e = check(sums, &sig, &[other]).unwrap_err().to_string();
        assert!(
            e.starts_with("release refused: `SHA256SUMS.sig`: signed by key"),
            "{e}"
        );
        assert!(e.contains("not a trusted key"), "{e}");
        let e = check(sums, b"{", &[other]).unwrap_err().to_string();
        assert!(e.contains("not a signature file"), "{e}");
    }
}
