//! Key files for signing policy packs (`cavra policy keygen|sign|verify`): generating a key
//! pair, reading a private key and reading trusted public keys. The signatures themselves
//! are `cavra_core::policy::signing` (pure); this module is the file side.
//!
//! Formats read: the 32 raw bytes in hex or base64 (what [`generate`] writes), or PEM
//! (PKCS#8 `PRIVATE KEY`, SPKI `PUBLIC KEY`). [`generate`] writes the private key as the
//! base64 seed (mode 0600, never over an existing file) and the public key to `PATH.pub`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::path::{Path, PathBuf};

/// Why a pack key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PackKeyError {
    /// The key file could not be read.
    #[error("cannot read key `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is none of the formats read.
    #[error("key `{0}` is neither hex, base64 nor PEM")]
    Encoding(PathBuf),
    /// A PEM file that is not an Ed25519 key of the expected kind.
    #[error("key `{path}` is not an Ed25519 {kind} key: {detail}")]
    Pem {
        path: PathBuf,
        kind: &'static str,
        detail: String,
    },
    /// Raw key material of the wrong length.
    #[error("{what} `{path}` must hold 32 bytes")]
    Length { what: &'static str, path: PathBuf },
    /// 32 bytes that are not an Ed25519 public key.
    #[error("bad public key: {0}")]
    BadPublic(String),
    /// The system has no randomness to generate a key from.
    #[error("no randomness available: {0}")]
    Random(String),
    /// The private key file exists already or cannot be created.
    #[error("cannot create `{path}` (it must not exist yet)")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A key file could not be written.
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, PackKeyError>;

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| PackKeyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// 32 bytes from hex or base64 text.
fn raw32(path: &Path, text: &str, what: &'static str) -> Result<[u8; 32]> {
    let t = text.trim();
    let bytes = match hex::decode(t) {
        Ok(b) => b,
        Err(_) => B64
            .decode(t)
            .map_err(|_| PackKeyError::Encoding(path.to_path_buf()))?,
    };
    bytes.try_into().map_err(|_| PackKeyError::Length {
        what,
        path: path.to_path_buf(),
    })
}

/// Reads a private key file: a 32-byte seed in hex or base64, or PKCS#8 PEM.
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let text = read(path)?;
    if text.contains("BEGIN PRIVATE KEY") {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        return SigningKey::from_pkcs8_pem(&text).map_err(|e| PackKeyError::Pem {
            path: path.to_path_buf(),
            kind: "PKCS#8",
            detail: e.to_string(),
        });
    }
    Ok(SigningKey::from_bytes(&raw32(path, &text, "key")?))
}

/// Reads a public key file: 32 bytes in hex or base64, or PEM.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let text = read(path)?;
    if text.contains("BEGIN PUBLIC KEY") {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        return VerifyingKey::from_public_key_pem(&text).map_err(|e| PackKeyError::Pem {
            path: path.to_path_buf(),
            kind: "public",
            detail: e.to_string(),
        });
    }
    VerifyingKey::from_bytes(&raw32(path, &text, "public key")?)
        .map_err(|e| PackKeyError::BadPublic(e.to_string()))
}

/// Reads every trusted public key file.
pub fn read_trusted(paths: &[PathBuf]) -> Result<Vec<VerifyingKey>> {
    paths.iter().map(|p| read_verifying_key(p)).collect()
}

/// A generated key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackKeyPair {
    /// `cavra_core::policy::signing::key_id` of the public key.
    pub key_id: String,
    /// The private key file (base64 seed, mode 0600).
    pub private: PathBuf,
    /// The public key file (`PATH.pub`, base64).
    pub public: PathBuf,
}

/// Generates an Ed25519 key pair: the private key at `path` (created, never replaced; mode
/// 0600), the public key at `PATH.pub`.
pub fn generate(path: &Path) -> Result<PackKeyPair> {
    use rand_core::RngCore;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::OsRng
        .try_fill_bytes(&mut *seed)
        .map_err(|e| PackKeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    write_private(path, &B64.encode(*seed))?;
    let public = PathBuf::from(format!("{}.pub", path.display()));
    let vk = key.verifying_key();
    std::fs::write(&public, B64.encode(vk.as_bytes()) + "\n").map_err(|source| {
        PackKeyError::Write {
            path: public.clone(),
            source,
        }
    })?;
    Ok(PackKeyPair {
        key_id: cavra_core::policy::signing::key_id(&vk),
        private: path.to_path_buf(),
        public,
    })
}

fn write_private(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|source| PackKeyError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    writeln!(f, "{content}").map_err(|source| PackKeyError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pair_reads_back_and_is_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        let pair = generate(&p).unwrap();
        let sk = read_signing_key(&pair.private).unwrap();
        let vk = read_verifying_key(&pair.public).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        assert_eq!(pair.key_id, cavra_core::policy::signing::key_id(&vk));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600);
        }
        let e = generate(&p).unwrap_err();
        assert!(e.to_string().contains("must not exist yet"), "{e}");
        assert_eq!(read_signing_key(&p).unwrap().to_bytes(), sk.to_bytes());
    }

    #[test]
    fn hex_and_pem_keys_read_and_bad_ones_say_why() {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, EncodePublicKey};
        let d = tempfile::tempdir().unwrap();
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let hexf = d.path().join("hex");
        std::fs::write(&hexf, hex::encode([7u8; 32])).unwrap();
        assert_eq!(read_signing_key(&hexf).unwrap().to_bytes(), sk.to_bytes());
        let pem = d.path().join("pem");
        let text = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
        std::fs::write(&pem, text.as_bytes()).unwrap();
        assert_eq!(read_signing_key(&pem).unwrap().to_bytes(), sk.to_bytes());
        let pubpem = d.path().join("pub.pem");
        let text = sk
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        std::fs::write(&pubpem, text).unwrap();
        assert_eq!(read_trusted(&[pubpem]).unwrap(), vec![sk.verifying_key()]);
        let short = d.path().join("short");
        std::fs::write(&short, hex::encode([1u8; 16])).unwrap();
        let e = read_verifying_key(&short).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("public key `{}` must hold 32 bytes", short.display())
        );
        let junk = d.path().join("junk");
        std::fs::write(&junk, "not a key!").unwrap();
        let e = read_signing_key(&junk).unwrap_err().to_string();
        assert!(e.contains("neither hex, base64 nor PEM"), "{e}");
        let e = read_signing_key(&d.path().join("missing")).unwrap_err();
        assert!(e.to_string().starts_with("cannot read key"), "{e}");
    }
}
