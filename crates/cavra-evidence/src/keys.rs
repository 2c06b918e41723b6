//! Signing keys (Ed25519 or HMAC-SHA256), the key directory and organisational trust roots.
//!
//! Key directory layout (`<cavra_dir>/keys` by default):
//! - `<key_id>.key.json`: private key, mode 0600 — `{"v":1,"key_id","alg","created_at","secret"}`
//!   with `secret` the base64 of the 32-byte Ed25519 seed or HMAC key;
//! - `<key_id>.pub.json`: public part (Ed25519 only) — `{"key_id","alg","public_key","created_at"}`;
//! - `active-ed25519` / `active-hmac-sha256`: the key id used for new signatures.
//!
//! Key ids: `ed25519-` + first 16 hex digits of SHA-256(public key);
//! `hmac-` + first 16 hex digits of SHA-256("cavra-hmac-key-id:" + key).

use crate::error::{EvidenceError, Result};
use crate::timeutil::{now_ts, parse_ts};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use hmac::Mac as _;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Signature algorithm of records, checkpoints, manifests and attestations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum SigningMode {
    /// Ed25519 (RFC 8032): publicly verifiable. The default.
    #[default]
    #[serde(rename = "ed25519")]
    Ed25519,
    /// HMAC-SHA256: verifiable only by holders of the shared secret.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

impl SigningMode {
    /// The wire name: `ed25519` or `hmac-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningMode::Ed25519 => "ed25519",
            SigningMode::HmacSha256 => "hmac-sha256",
        }
    }
    /// Parse the wire name (also accepts `hmac`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(SigningMode::Ed25519),
            "hmac-sha256" | "hmac" | "hmac_sha256" => Ok(SigningMode::HmacSha256),
            _ => Err(EvidenceError::Invalid(format!(
                "unknown signing algorithm `{s}` (expected `ed25519` or `hmac-sha256`)"
            ))),
        }
    }
}

enum Secret {
    Ed(Box<EdSecret>),
    Hmac([u8; 32]),
}

/// An Ed25519 key. With the feature `aws-lc` (default), AWS-LC signs (the identical
/// RFC 8032 signature in about half the time) and derives the public key, and the
/// ed25519-dalek key is only built when something asks for it; without it, ed25519-dalek
/// does everything.
struct EdSecret {
    seed: zeroize::Zeroizing<[u8; 32]>,
    public: [u8; 32],
    dalek: std::sync::OnceLock<ed25519_dalek::SigningKey>,
    #[cfg(feature = "aws-lc")]
    fast: Option<aws_lc_rs::signature::Ed25519KeyPair>,
}

impl EdSecret {
    fn new(seed: [u8; 32]) -> Self {
        let dalek = std::sync::OnceLock::new();
        #[cfg(feature = "aws-lc")]
        let fast = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed).ok();
        #[cfg(feature = "aws-lc")]
        let public = fast.as_ref().and_then(|k| {
            use aws_lc_rs::signature::KeyPair as _;
            <[u8; 32]>::try_from(k.public_key().as_ref()).ok()
        });
        #[cfg(not(feature = "aws-lc"))]
        let public: Option<[u8; 32]> = None;
        let public = public.unwrap_or_else(|| {
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            let p = k.verifying_key().to_bytes();
            let _ = dalek.set(k);
            p
        });
        EdSecret {
            seed: zeroize::Zeroizing::new(seed),
            public,
            dalek,
            #[cfg(feature = "aws-lc")]
            fast,
        }
    }

    fn dalek(&self) -> &ed25519_dalek::SigningKey {
        self.dalek
            .get_or_init(|| ed25519_dalek::SigningKey::from_bytes(&self.seed))
    }

    fn sign(&self, msg: &[u8]) -> [u8; 64] {
        #[cfg(feature = "aws-lc")]
        if let Some(k) = &self.fast {
            let sig = k.sign(msg);
            if let Ok(b) = <[u8; 64]>::try_from(sig.as_ref()) {
                return b;
            }
        }
        self.dalek().sign(msg).to_bytes()
    }
}

/// A private signing key. Its `Debug` never prints key material.
pub struct SigningKey {
    key_id: String,
    mode: SigningMode,
    secret: Secret,
    created_at: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("alg", &self.mode.as_str())
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn ed_key_id(public: &[u8]) -> String {
    format!("ed25519-{}", &hex::encode(Sha256::digest(public))[..16])
}

fn hmac_key_id(secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"cavra-hmac-key-id:");
    h.update(secret);
    format!("hmac-{}", &hex::encode(h.finalize())[..16])
}

impl SigningKey {
    /// Build a key from 32 bytes of secret material (Ed25519 seed or HMAC key).
    pub fn from_bytes(mode: SigningMode, bytes: [u8; 32], created_at: &str) -> Self {
        match mode {
            SigningMode::Ed25519 => {
                let k = EdSecret::new(bytes);
                SigningKey {
                    key_id: ed_key_id(&k.public),
                    mode,
                    secret: Secret::Ed(Box::new(k)),
                    created_at: created_at.to_string(),
                }
            }
            SigningMode::HmacSha256 => SigningKey {
                key_id: hmac_key_id(&bytes),
                mode,
                secret: Secret::Hmac(bytes),
                created_at: created_at.to_string(),
            },
        }
    }

    /// A fresh random key.
    pub fn generate(mode: SigningMode) -> Self {
        let mut b = [0u8; 32];
        OsRng.fill_bytes(&mut b);
        Self::from_bytes(mode, b, &now_ts())
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The algorithm.
    pub fn mode(&self) -> SigningMode {
        self.mode
    }
    /// When the key was created.
    pub fn created_at(&self) -> &str {
        &self.created_at
    }

    /// Sign `msg`; base64 (standard alphabet, padded) signature or MAC.
    pub fn sign(&self, msg: &[u8]) -> String {
        match &self.secret {
            Secret::Ed(k) => B64.encode(k.sign(msg)),
            Secret::Hmac(key) => B64.encode(hmac_tag(key, msg)),
        }
    }

    /// The public key (base64) for Ed25519; `None` for HMAC.
    pub fn public_key_b64(&self) -> Option<String> {
        match &self.secret {
            Secret::Ed(k) => Some(B64.encode(k.public)),
            Secret::Hmac(_) => None,
        }
    }

    /// The matching verification key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            key_id: self.key_id.clone(),
            mode: self.mode,
            inner: match &self.secret {
                Secret::Ed(k) => VerifyInner::Ed(k.dalek().verifying_key()),
                Secret::Hmac(b) => VerifyInner::Hmac(*b),
            },
            not_before: None,
            not_after: None,
        }
    }

    fn secret_b64(&self) -> String {
        match &self.secret {
            Secret::Ed(k) => B64.encode(*k.seed),
            Secret::Hmac(b) => B64.encode(b),
        }
    }
}

fn hmac_tag(key: &[u8; 32], msg: &[u8]) -> Vec<u8> {
    // `new_from_slice` accepts keys of any length for HMAC: this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[derive(Clone)]
enum VerifyInner {
    Ed(ed25519_dalek::VerifyingKey),
    Hmac([u8; 32]),
}

/// A key that can check signatures, with an optional validity window.
#[derive(Clone)]
pub struct VerifyingKey {
    /// Key id.
    pub key_id: String,
    /// Algorithm.
    pub mode: SigningMode,
    inner: VerifyInner,
    /// Signatures made before this time are not accepted.
    pub not_before: Option<OffsetDateTime>,
    /// Signatures made after this time are not accepted.
    pub not_after: Option<OffsetDateTime>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("key_id", &self.key_id)
            .field("alg", &self.mode.as_str())
            .finish()
    }
}

impl VerifyingKey {
    /// An Ed25519 public key from base64.
    pub fn ed25519_from_b64(public_b64: &str) -> Result<Self> {
        let raw = B64
            .decode(public_b64.trim())
            .map_err(|e| EvidenceError::Key(format!("public key is not base64: {e}")))?;
        let arr: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            EvidenceError::Key(format!("public key has {} bytes, expected 32", raw.len()))
        })?;
        let k = ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|e| EvidenceError::Key(format!("invalid Ed25519 public key: {e}")))?;
        Ok(VerifyingKey {
            key_id: ed_key_id(&arr),
            mode: SigningMode::Ed25519,
            inner: VerifyInner::Ed(k),
            not_before: None,
            not_after: None,
        })
    }

    /// Check `sig_b64` over `msg`. The error says why it failed.
    pub fn verify(&self, msg: &[u8], sig_b64: &str) -> std::result::Result<(), String> {
        let raw = B64
            .decode(sig_b64)
            .map_err(|e| format!("signature is not valid base64: {e}"))?;
        match &self.inner {
            VerifyInner::Ed(k) => {
                let arr: [u8; 64] = raw
                    .as_slice()
                    .try_into()
                    .map_err(|_| format!("signature has {} bytes, expected 64", raw.len()))?;
                k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&arr))
                    .map_err(|_| "Ed25519 signature does not verify".to_string())
            }
            VerifyInner::Hmac(key) => {
                let mut m = HmacSha256::new_from_slice(key).map_err(|e| e.to_string())?;
                m.update(msg);
                m.verify_slice(&raw)
                    .map_err(|_| "HMAC-SHA256 tag does not verify".to_string())
            }
        }
    }

    /// Whether a signature dated `at` falls in the key's validity window.
    pub fn valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before.is_none_or(|nb| at >= nb) && self.not_after.is_none_or(|na| at <= na)
    }

    /// Base64 public key (Ed25519 only).
    pub fn public_key_b64(&self) -> Option<String> {
        match &self.inner {
            VerifyInner::Ed(k) => Some(B64.encode(k.as_bytes())),
            VerifyInner::Hmac(_) => None,
        }
    }
}

/// One entry of a trust root: a public key the organisation accepts, and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrustedKey {
    /// Key id (must match the id derived from the public key).
    pub key_id: String,
    /// `ed25519`.
    pub alg: String,
    /// Base64 Ed25519 public key.
    pub public_key: String,
    /// RFC 3339; signatures before it are rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// RFC 3339; signatures after it are rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Free text (owner, purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A trust-root file: `{"version": 1, "keys": [TrustedKey, ...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TrustRoot {
    /// Format version, 1.
    pub version: u32,
    /// Accepted keys.
    pub keys: Vec<TrustedKey>,
}

impl TrustRoot {
    /// Load and validate a trust-root file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| EvidenceError::io(path, e))?;
        let tr: TrustRoot = serde_json::from_str(&text)
            .map_err(|e| EvidenceError::corrupt(path, format!("not a trust-root file: {e}")))?;
        if tr.version != 1 {
            return Err(EvidenceError::corrupt(
                path,
                format!("unsupported trust-root version {}", tr.version),
            ));
        }
        for (i, k) in tr.keys.iter().enumerate() {
            k.to_verifying_key().map_err(|e| {
                EvidenceError::corrupt(path, format!("keys[{i}] (`{}`): {e}", k.key_id))
            })?;
        }
        Ok(tr)
    }

    /// The keys as a keyring.
    pub fn keyring(&self, source: &str) -> Result<Keyring> {
        let mut ring = Keyring::new(source);
        for k in &self.keys {
            ring.insert(k.to_verifying_key()?);
        }
        ring.is_trust_root = true;
        Ok(ring)
    }
}

impl TrustedKey {
    /// Parse into a verification key (checks the key id matches the key).
    pub fn to_verifying_key(&self) -> Result<VerifyingKey> {
        if self.alg != "ed25519" {
            return Err(EvidenceError::Key(format!(
                "trust roots list public keys only; alg `{}` is not supported (use `ed25519`)",
                self.alg
            )));
        }
        let mut k = VerifyingKey::ed25519_from_b64(&self.public_key)?;
        if k.key_id != self.key_id {
            return Err(EvidenceError::Key(format!(
                "key id `{}` does not match its public key (expected `{}`)",
                self.key_id, k.key_id
            )));
        }
        k.not_before = self.not_before.as_deref().map(parse_ts).transpose()?;
        k.not_after = self.not_after.as_deref().map(parse_ts).transpose()?;
        Ok(k)
    }
}

/// The set of keys a verification accepts.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: BTreeMap<String, VerifyingKey>,
    /// Where the keys came from (for reports).
    pub source: String,
    /// True when the keys come from an organisational trust root.
    pub is_trust_root: bool,
}

impl Keyring {
    /// An empty keyring.
    pub fn new(source: &str) -> Self {
        Keyring {
            keys: BTreeMap::new(),
            source: source.to_string(),
            is_trust_root: false,
        }
    }
    /// Add a key.
    pub fn insert(&mut self, k: VerifyingKey) {
        self.keys.insert(k.key_id.clone(), k);
    }
    /// Look a key up by id.
    pub fn get(&self, key_id: &str) -> Option<&VerifyingKey> {
        self.keys.get(key_id)
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// No keys at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Metadata of a key in the key directory (no secret material).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyInfo {
    pub key_id: String,
    pub alg: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    v: u32,
    key_id: String,
    alg: SigningMode,
    created_at: String,
    secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<String>,
}

/// The key directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

fn write_file_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(&tmp).map_err(|e| EvidenceError::io(&tmp, e))?;
    #[cfg(unix)]
    {
        // the mode passed to open() is filtered by the umask: enforce it
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| EvidenceError::io(&tmp, e))?;
    }
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| EvidenceError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| EvidenceError::io(path, e))
}

impl KeyStore {
    /// A key store rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyStore { dir: dir.into() }
    }
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ensure_dir(&self) -> Result<()> {
        if !self.dir.is_dir() {
            fs::create_dir_all(&self.dir).map_err(|e| EvidenceError::io(&self.dir, e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| EvidenceError::io(&self.dir, e))?;
            }
        }
        Ok(())
    }

    fn active_path(&self, mode: SigningMode) -> PathBuf {
        self.dir.join(format!("active-{}", mode.as_str()))
    }

    /// The active key id for `mode`, if any.
    pub fn active_id(&self, mode: SigningMode) -> Result<Option<String>> {
        let p = self.active_path(mode);
        match fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EvidenceError::io(&p, e)),
        }
    }

    fn check_id(key_id: &str) -> Result<()> {
        if key_id.is_empty()
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(EvidenceError::Invalid(format!(
                "`{key_id}` is not a key id"
            )));
        }
        Ok(())
    }

    /// Load a private key by id.
    pub fn load(&self, key_id: &str) -> Result<SigningKey> {
        Self::check_id(key_id)?;
        let p = self.dir.join(format!("{key_id}.key.json"));
        let text = fs::read_to_string(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EvidenceError::KeyNotFound(key_id.to_string())
            } else {
                EvidenceError::io(&p, e)
            }
        })?;
        let kf: KeyFile = serde_json::from_str(&text)
            .map_err(|e| EvidenceError::corrupt(&p, format!("not a key file: {e}")))?;
        let raw = B64
            .decode(kf.secret.trim())
            .map_err(|_| EvidenceError::corrupt(&p, "secret is not base64"))?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| EvidenceError::corrupt(&p, "secret must be 32 bytes"))?;
        let k = SigningKey::from_bytes(kf.alg, arr, &kf.created_at);
        if k.key_id != kf.key_id {
            return Err(EvidenceError::corrupt(
                &p,
                format!("key id `{}` does not match the key material", kf.key_id),
            ));
        }
        Ok(k)
    }

    /// Write `key` to the directory (private file 0600, public file 0644).
    pub fn save(&self, key: &SigningKey) -> Result<()> {
        self.ensure_dir()?;
        let kf = KeyFile {
            v: 1,
            key_id: key.key_id.clone(),
            alg: key.mode,
            created_at: key.created_at.clone(),
            secret: key.secret_b64(),
            retired_at: None,
        };
        let text =
            serde_json::to_string_pretty(&kf).map_err(|e| EvidenceError::Key(e.to_string()))?;
        write_file_mode(
            &self.dir.join(format!("{}.key.json", key.key_id)),
            text.as_bytes(),
            0o600,
        )?;
        if let Some(pk) = key.public_key_b64() {
            let pubv = serde_json::json!({"key_id": key.key_id, "alg": key.mode.as_str(),
                "public_key": pk, "created_at": key.created_at});
            write_file_mode(
                &self.dir.join(format!("{}.pub.json", key.key_id)),
                pubv.to_string().as_bytes(),
                0o644,
            )?;
        }
        Ok(())
    }

    fn set_active(&self, mode: SigningMode, key_id: &str) -> Result<()> {
        write_file_mode(&self.active_path(mode), key_id.as_bytes(), 0o644)
    }

    /// Generate a new key, save it and make it active.
    pub fn generate(&self, mode: SigningMode) -> Result<SigningKey> {
        let k = SigningKey::generate(mode);
        self.save(&k)?;
        self.set_active(mode, &k.key_id)?;
        Ok(k)
    }

    /// The active key for `mode`, generating one on first use. The flag says whether a
    /// key was created. Safe against concurrent first use by several processes.
    pub fn load_or_create_active(&self, mode: SigningMode) -> Result<(SigningKey, bool)> {
        if let Some(id) = self.active_id(mode)? {
            return Ok((self.load(&id)?, false));
        }
        self.ensure_dir()?;
        let lock_path = self.dir.join(".lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| EvidenceError::io(&lock_path, e))?;
        fs4::fs_std::FileExt::lock_exclusive(&lock)
            .map_err(|e| EvidenceError::io(&lock_path, e))?;
        let res = match self.active_id(mode)? {
            Some(id) => self.load(&id).map(|k| (k, false)),
            None => self.generate(mode).map(|k| (k, true)),
        };
        let _ = fs4::fs_std::FileExt::unlock(&lock);
        res
    }

    /// Generate a new active key and mark the previous one retired (it stays available
    /// for verification).
    pub fn rotate(&self, mode: SigningMode) -> Result<(Option<String>, SigningKey)> {
        let old = self.active_id(mode)?;
        if let Some(id) = &old {
            let p = self.dir.join(format!("{id}.key.json"));
            if let Ok(text) = fs::read_to_string(&p) {
                if let Ok(mut kf) = serde_json::from_str::<KeyFile>(&text) {
                    kf.retired_at = Some(now_ts());
                    if let Ok(t) = serde_json::to_string_pretty(&kf) {
                        write_file_mode(&p, t.as_bytes(), 0o600)?;
                    }
                }
            }
        }
        let k = self.generate(mode)?;
        Ok((old, k))
    }

    /// All keys in the directory (no secrets).
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(EvidenceError::io(&self.dir, e)),
        };
        let act_ed = self.active_id(SigningMode::Ed25519)?;
        let act_h = self.active_id(SigningMode::HmacSha256)?;
        for ent in rd {
            let ent = ent.map_err(|e| EvidenceError::io(&self.dir, e))?;
            let name = ent.file_name().to_string_lossy().to_string();
            let Some(id) = name.strip_suffix(".key.json") else {
                continue;
            };
            let p = ent.path();
            let text = fs::read_to_string(&p).map_err(|e| EvidenceError::io(&p, e))?;
            let kf: KeyFile = serde_json::from_str(&text)
                .map_err(|e| EvidenceError::corrupt(&p, format!("not a key file: {e}")))?;
            let key = self.load(id)?;
            out.push(KeyInfo {
                key_id: kf.key_id.clone(),
                alg: kf.alg.as_str().to_string(),
                created_at: kf.created_at,
                public_key: key.public_key_b64(),
                active: act_ed.as_deref() == Some(id) || act_h.as_deref() == Some(id),
                retired_at: kf.retired_at,
            });
        }
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.key_id.cmp(&b.key_id))
        });
        Ok(out)
    }

    /// Trust-root entries for the Ed25519 keys (all, or the one named).
    pub fn export_public(&self, key_id: Option<&str>) -> Result<TrustRoot> {
        let mut keys = Vec::new();
        for k in self.list()? {
            if k.alg != "ed25519" || key_id.is_some_and(|id| id != k.key_id) {
                continue;
            }
            if let Some(pk) = k.public_key {
                keys.push(TrustedKey {
                    key_id: k.key_id,
                    alg: k.alg,
                    public_key: pk,
                    not_before: Some(k.created_at),
                    not_after: None,
                    comment: None,
                });
            }
        }
        if let Some(id) = key_id {
            if keys.is_empty() {
                return Err(EvidenceError::KeyNotFound(id.to_string()));
            }
        }
        Ok(TrustRoot { version: 1, keys })
    }

    /// Every key in the directory as a verification keyring (Ed25519 public keys and
    /// HMAC secrets).
    pub fn keyring(&self) -> Result<Keyring> {
        let mut ring = Keyring::new(&format!("local key directory `{}`", self.dir.display()));
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ring),
            Err(e) => return Err(EvidenceError::io(&self.dir, e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| EvidenceError::io(&self.dir, e))?;
            let name = ent.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".key.json") {
                if let Ok(k) = self.load(id) {
                    ring.insert(k.verifying_key());
                }
            } else if name.ends_with(".pub.json") {
                let p = ent.path();
                if let Ok(text) = fs::read_to_string(&p) {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                        if let Some(pk) = v.get("public_key").and_then(|x| x.as_str()) {
                            if let Ok(k) = VerifyingKey::ed25519_from_b64(pk) {
                                ring.insert(k);
                            }
                        }
                    }
                }
            }
        }
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 test vector 1 (empty message).
    #[test]
    fn ed25519_rfc8032_vector() {
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let k = SigningKey::from_bytes(SigningMode::Ed25519, seed, "2025-01-01T00:00:00Z");
        let sig = B64.decode(k.sign(b"")).unwrap();
        assert_eq!(hex::encode(sig), "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
        assert_eq!(
            hex::encode(B64.decode(k.public_key_b64().unwrap()).unwrap()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert!(k.verifying_key().verify(b"", &k.sign(b"")).is_ok());
        assert!(k.verifying_key().verify(b"x", &k.sign(b"")).is_err());
    }

    /// The fast signer (AWS-LC) and ed25519-dalek agree byte for byte, so switching the
    /// feature never changes a signature.
    #[cfg(feature = "aws-lc")]
    #[test]
    fn aws_lc_and_dalek_signatures_are_identical() {
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(200), |(seed in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 0..300))| {
            let k = SigningKey::from_bytes(SigningMode::Ed25519, seed, "t");
            let Secret::Ed(ed) = &k.secret else { panic!("not ed25519") };
            prop_assert!(ed.fast.is_some());
            prop_assert_eq!(ed.sign(&msg), ed.dalek().sign(&msg).to_bytes());
            prop_assert_eq!(ed.public, ed.dalek().verifying_key().to_bytes());
        });
    }

    /// RFC 4231 test case 2 shape with a 32-byte key: HMAC matches an independent computation.
    #[test]
    fn hmac_known_vector() {
        let k = SigningKey::from_bytes(SigningMode::HmacSha256, [0x0b; 32], "t");
        // HMAC-SHA256(key = 0x0b * 32, "Hi There")
        assert_eq!(
            hex::encode(B64.decode(k.sign(b"Hi There")).unwrap()),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
        assert!(k
            .verifying_key()
            .verify(b"Hi There", &k.sign(b"Hi There"))
            .is_ok());
    }

    #[test]
    fn store_roundtrip_permissions_and_rotation() {
        let d = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(d.path().join("keys"));
        let (k, created) = ks.load_or_create_active(SigningMode::Ed25519).unwrap();
        assert!(created);
        let (k2, created2) = ks.load_or_create_active(SigningMode::Ed25519).unwrap();
        assert!(!created2);
        assert_eq!(k.key_id(), k2.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = fs::metadata(ks.dir().join(format!("{}.key.json", k.key_id())))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600);
        }
        let (old, new) = ks.rotate(SigningMode::Ed25519).unwrap();
        assert_eq!(old.as_deref(), Some(k.key_id()));
        assert_ne!(new.key_id(), k.key_id());
        let list = ks.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.iter().filter(|k| k.active).count(), 1);
        assert!(list.iter().any(|i| i.retired_at.is_some()));
        let tr = ks.export_public(None).unwrap();
        assert_eq!(tr.keys.len(), 2);
        let ring = tr.keyring("t").unwrap();
        assert!(ring.get(k.key_id()).is_some());
        assert!(!format!("{k:?}").contains(&k.secret_b64()));
    }

    #[test]
    fn trust_root_rejects_mismatched_id_and_bad_alg() {
        let k = SigningKey::generate(SigningMode::Ed25519);
        let mut tk = TrustedKey {
            key_id: "ed25519-0000000000000000".into(),
            alg: "ed25519".into(),
            public_key: k.public_key_b64().unwrap(),
            not_before: None,
            not_after: None,
            comment: None,
        };
        assert!(tk.to_verifying_key().is_err());
        tk.key_id = k.key_id().to_string();
        assert!(tk.to_verifying_key().is_ok());
        tk.alg = "rsa".into();
        assert!(tk.to_verifying_key().is_err());
    }
}
