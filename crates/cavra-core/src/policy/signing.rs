//! Ed25519 signatures over policy packs.
//!
//! The signature covers both the exact source bytes and the digest of the compiled form, so
//! any edit to the file (even a comment) and any change in what the pack means are detected.
//! Signed message: `cavra-pack-signature/1\n<pack id>\n<sha256 of source>\n<compiled digest>`.

use super::PolicyError;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const SIGNATURE_FORMAT: &str = "cavra-pack-signature/1";

/// A detached pack signature (`policy.yaml.sig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackSignature {
    pub format: String,
    pub pack_id: String,
    pub source_sha256: String,
    pub digest: String,
    pub algorithm: String,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

/// The key id of a public key: first 16 hex chars of SHA-256 over its bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()).get(..8).unwrap_or_default())
}

fn message(pack_id: &str, source_sha256: &str, digest: &str) -> String {
    format!("{SIGNATURE_FORMAT}\n{pack_id}\n{source_sha256}\n{digest}")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Signs a pack.
pub fn sign(pack_id: &str, source: &[u8], digest: &str, key: &SigningKey) -> PackSignature {
    let src = sha256_hex(source);
    let sig = key.sign(message(pack_id, &src, digest).as_bytes());
    let vk = key.verifying_key();
    let b64 = base64::engine::general_purpose::STANDARD;
    PackSignature {
        format: SIGNATURE_FORMAT.into(),
        pack_id: pack_id.into(),
        source_sha256: src,
        digest: digest.into(),
        algorithm: "ed25519".into(),
        key_id: key_id(&vk),
        public_key: b64.encode(vk.as_bytes()),
        signature: b64.encode(sig.to_bytes()),
    }
}

/// Verifies a signature against the source, its compiled digest and a set of trusted keys.
/// With no trusted keys given, the key embedded in the signature is used (integrity only):
/// callers must say so to the user.
pub fn verify(
    sig: &PackSignature,
    pack_id: &str,
    source: &[u8],
    digest: &str,
    trusted: &[VerifyingKey],
) -> Result<String, PolicyError> {
    let bad = |m: String| Err(PolicyError::Signature(m));
    if sig.format != SIGNATURE_FORMAT {
        return bad(format!("unknown signature format `{}`", sig.format));
    }
    if sig.algorithm != "ed25519" {
        return bad(format!("unsupported algorithm `{}`", sig.algorithm));
    }
    if sig.pack_id != pack_id {
        return bad(format!(
            "signature is for pack `{}`, not `{pack_id}`",
            sig.pack_id
        ));
    }
    let src = sha256_hex(source);
    if sig.source_sha256 != src {
        return bad(format!(
            "pack file was modified after signing: source sha256 is `{src}`, signed `{}`",
            sig.source_sha256
        ));
    }
    if sig.digest != digest {
        return bad(format!(
            "compiled pack differs from the signed one: digest `{digest}`, signed `{}` (an inherited pack changed?)",
            sig.digest
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig_bytes: [u8; 64] = b64
        .decode(&sig.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| PolicyError::Signature("signature is not 64 bytes of base64".into()))?;
    let signature = Signature::from_bytes(&sig_bytes);
    let embedded: Option<VerifyingKey> = b64
        .decode(&sig.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let candidates: Vec<VerifyingKey> = if trusted.is_empty() {
        embedded.into_iter().collect()
    } else {
        trusted.to_vec()
    };
    let msg = message(pack_id, &src, digest);
    for k in &candidates {
        if verifies(k, msg.as_bytes(), &signature) {
            return Ok(key_id(k));
        }
    }
    if trusted.is_empty() {
        bad("signature does not verify".into())
    } else {
        bad(format!(
            "signature by key `{}` does not verify against any trusted key",
            sig.key_id
        ))
    }
}

/// Whether `sig` is `k`'s signature of `msg` (RFC 8032; with the feature `aws-lc`, checked
/// by AWS-LC, which accepts exactly the signatures ed25519-dalek's `verify` accepts for keys
/// and signatures made by a signer — a test compares them).
fn verifies(k: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    #[cfg(feature = "aws-lc")]
    {
        use aws_lc_rs::signature::{UnparsedPublicKey, ED25519};
        UnparsedPublicKey::new(&ED25519, k.as_bytes())
            .verify(msg, &sig.to_bytes())
            .is_ok()
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        use ed25519_dalek::Verifier as _;
        k.verify(msg, sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_accepts_what_dalek_accepts_and_nothing_else() {
        use ed25519_dalek::Verifier as _;
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let vk = key.verifying_key();
        let other = SigningKey::from_bytes(&[10u8; 32]).verifying_key();
        let good = key.sign(b"message");
        let mut flipped = good.to_bytes();
        flipped[5] ^= 1;
        // S + L: the same signature with a non-canonical scalar (rejected by both)
        let mut s_plus_l = good.to_bytes();
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s_plus_l[32 + i]) + u16::from(L[i]) + carry;
            s_plus_l[32 + i] = (v & 0xff) as u8;
            carry = v >> 8;
        }
        let cases: [(&VerifyingKey, &[u8], Signature, bool); 5] = [
            (&vk, b"message", good, true),
            (&vk, b"messagf", good, false),
            (&other, b"message", good, false),
            (&vk, b"message", Signature::from_bytes(&flipped), false),
            (&vk, b"message", Signature::from_bytes(&s_plus_l), false),
        ];
        for (i, (k, msg, sig, expected)) in cases.iter().enumerate() {
            assert_eq!(verifies(k, msg, sig), *expected, "case {i}");
            assert_eq!(k.verify(msg, sig).is_ok(), *expected, "case {i} (dalek)");
        }
    }

    #[test]
    fn sign_verify_tamper() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let sig = sign("cavra-x", b"metadata: {id: cavra-x}\n", "sha256:abc", &key);
        // fixed-key test vector: deterministic signature
        assert_eq!(sig.key_id, key_id(&key.verifying_key()));
        let again = sign("cavra-x", b"metadata: {id: cavra-x}\n", "sha256:abc", &key);
        assert_eq!(sig.signature, again.signature);
        let vk = key.verifying_key();
        assert!(verify(
            &sig,
            "cavra-x",
            b"metadata: {id: cavra-x}\n",
            "sha256:abc",
            &[vk]
        )
        .is_ok());
        let e = verify(
            &sig,
            "cavra-x",
            b"metadata: {id: cavra-y}\n",
            "sha256:abc",
            &[vk],
        )
        .unwrap_err();
        assert!(e.to_string().contains("modified after signing"));
        let e = verify(
            &sig,
            "cavra-x",
            b"metadata: {id: cavra-x}\n",
            "sha256:abd",
            &[vk],
        )
        .unwrap_err();
        assert!(e.to_string().contains("differs from the signed"));
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        let e = verify(
            &sig,
            "cavra-x",
            b"metadata: {id: cavra-x}\n",
            "sha256:abc",
            &[other],
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not verify"));
        let mut forged = sig.clone();
        forged.signature = sign("cavra-x", b"x", "sha256:abc", &key).signature;
        assert!(verify(
            &forged,
            "cavra-x",
            b"metadata: {id: cavra-x}\n",
            "sha256:abc",
            &[vk]
        )
        .is_err());
    }
}
