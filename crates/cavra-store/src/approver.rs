//! Approver identity: the approver key pair (kept outside the repository), approver tokens
//! (signed credentials carrying a subject, roles and an expiry) and the attestations that
//! sign approval, break-glass and release records.
//!
//! Files, in the approver directory ([`approver_dir`]):
//! - `approver.key` (mode 0600): `{"alg":"ed25519","kid":…,"seed":<hex>,"created_at":…}`
//! - `approver.pub`: `{"alg":"ed25519","kid":…,"public_key":<hex>}` — the trust root the
//!   decision pipeline verifies records and tokens against.
//!
//! A token is `cavra-approver.v1.<payload>.<signature>`: the payload is base64url (no
//! padding) JSON `{"sub","roles","iat","exp","kid","jti"}`, the signature is Ed25519 over
//! the ASCII bytes `cavra-approver.v1.<payload>`, base64url.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::StoreError;

/// File name of the approver private key.
pub const KEY_FILE: &str = "approver.key";
/// File name of the approver public key (the trust root).
pub const PUB_FILE: &str = "approver.pub";
/// Token prefix (format and version).
pub const TOKEN_PREFIX: &str = "cavra-approver.v1.";
/// Longest lifetime a token may be issued with.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Largest token accepted (bytes).
const MAX_TOKEN_LEN: usize = 8192;

/// The approver directory: `$CAVRA_APPROVER_DIR`, else `$XDG_CONFIG_HOME/cavra/approver`,
/// else `$HOME/.config/cavra/approver`. `None` when none of them is set.
pub fn approver_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("CAVRA_APPROVER_DIR")
        .or_else(|| var("XDG_CONFIG_HOME").map(|d| d.join("cavra").join("approver")))
        .or_else(|| var("HOME").map(|h| h.join(".config").join("cavra").join("approver")))
}

/// A role a token grants. `admin` grants every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Approve pending requests.
    Approve,
    /// Deny pending requests.
    Deny,
    /// Record break-glass overrides.
    BreakGlass,
    /// Release held sessions.
    Release,
    /// Every control action (registry trust, keys, uninstall, evidence prune/repair) and
    /// every role above.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Approve,
        Role::Deny,
        Role::BreakGlass,
        Role::Release,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approve => "approve",
            Role::Deny => "deny",
            Role::BreakGlass => "break_glass",
            Role::Release => "release",
            Role::Admin => "admin",
        }
    }

    /// Parse `approve|deny|break_glass|release|admin` (`break-glass` too).
    pub fn parse(s: &str) -> Result<Role, StoreError> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == t)
            .ok_or_else(|| {
                StoreError::input(
                    "role",
                    format!("`{s}` (expected approve, deny, break_glass, release or admin)"),
                )
            })
    }
}

/// How the approving person was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Confirmed on the controlling terminal; the identity is the OS user.
    Terminal,
    /// An approver token; the identity is its subject.
    Token,
    /// Through `cavra serve`, as a person whose OIDC token the server verified; the
    /// identity is the token's email (else its subject), signed by the server's key.
    Oidc,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Terminal => "terminal",
            AuthMethod::Token => "token",
            AuthMethod::Oidc => "oidc",
        }
    }
}

fn key_err(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Approver {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn kid_of(vk: &VerifyingKey) -> String {
    let b = vk.to_bytes();
    hex::encode(b.get(..8).unwrap_or(&b))
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    alg: String,
    kid: String,
    seed: String,
    created_at: String,
}

#[derive(Serialize, Deserialize)]
struct PubFile {
    alg: String,
    kid: String,
    public_key: String,
}

/// The approver signing key.
#[derive(Clone)]
pub struct ApproverKey {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for ApproverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApproverKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

impl ApproverKey {
    /// A fresh random key (not written anywhere).
    pub fn generate() -> ApproverKey {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let kid = kid_of(&key.verifying_key());
        ApproverKey { key, kid }
    }

    /// Key id: the first 8 bytes of the public key, hex.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// The trust root holding this key's public half.
    pub fn trust(&self) -> ApproverTrust {
        ApproverTrust {
            keys: vec![(self.kid.clone(), self.key.verifying_key())],
        }
    }

    /// Create a new key pair in `dir` (created 0700 if missing). Refuses to replace an
    /// existing key.
    pub fn init(dir: &Path, now: OffsetDateTime) -> Result<ApproverKey, StoreError> {
        let kpath = dir.join(KEY_FILE);
        let ppath = dir.join(PUB_FILE);
        if kpath.exists() || ppath.exists() {
            return Err(key_err(
                dir,
                "an approver key already exists here; it is never replaced (remove it yourself to start over)",
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| key_err(dir, format!("cannot create: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| key_err(dir, format!("cannot set mode 0700: {e}")))?;
        }
        let k = ApproverKey::generate();
        let kf = KeyFile {
            alg: "ed25519".into(),
            kid: k.kid.clone(),
            seed: hex::encode(k.key.to_bytes()),
            created_at: crate::rfc3339(now),
        };
        let pf = PubFile {
            alg: "ed25519".into(),
            kid: k.kid.clone(),
            public_key: k.public_hex(),
        };
        write_private(&kpath, &(pretty(&kf) + "\n"))
            .map_err(|e| key_err(&kpath, format!("cannot write: {e}")))?;
        std::fs::write(&ppath, pretty(&pf) + "\n")
            .map_err(|e| key_err(&ppath, format!("cannot write: {e}")))?;
        Ok(k)
    }

    /// Load the private key from `dir`. `Ok(None)` when there is none. A key file that
    /// others can read (mode bits beyond 0600) is refused.
    pub fn load(dir: &Path) -> Result<Option<ApproverKey>, StoreError> {
        let path = dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_err(&path, format!("cannot read: {e}"))),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .map_err(|e| key_err(&path, format!("cannot stat: {e}")))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(key_err(
                    &path,
                    format!(
                        "mode {:o} lets others read the private key; run `chmod 600` on it",
                        mode & 0o777
                    ),
                ));
            }
        }
        let kf: KeyFile = serde_json::from_str(&text)
            .map_err(|e| key_err(&path, format!("not an approver key file: {e}")))?;
        let seed: [u8; 32] = hex::decode(kf.seed.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| key_err(&path, "the seed is not 32 bytes of hex"))?;
        let key = SigningKey::from_bytes(&seed);
        let kid = kid_of(&key.verifying_key());
        Ok(Some(ApproverKey { key, kid }))
    }

    fn sign(&self, msg: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(msg).to_bytes())
    }

    /// Issue a token for `subject` with `roles`, valid from `now` for `ttl`
    /// (at most [`MAX_TOKEN_TTL`]).
    pub fn issue_token(
        &self,
        subject: &str,
        roles: &[Role],
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let sub = crate::approvals::require_text("subject", subject)?;
        if roles.is_empty() {
            return Err(StoreError::input("role", "give at least one --role"));
        }
        if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
            return Err(StoreError::input(
                "ttl",
                format!(
                    "must be greater than zero and at most {} days",
                    MAX_TOKEN_TTL.as_secs() / 86400
                ),
            ));
        }
        let iat = now.unix_timestamp();
        let claims = TokenClaims {
            sub,
            roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
            iat,
            exp: iat.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            kid: self.kid.clone(),
            jti: crate::approvals::new_id("tok")?,
        };
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).map_err(|e| {
                StoreError::input("token", format!("cannot encode the claims: {e}"))
            })?);
        let signed = format!("{TOKEN_PREFIX}{payload}");
        let sig = self.sign(signed.as_bytes());
        Ok(format!("{signed}.{sig}"))
    }

    /// Attest an approval/break-glass/release record: sign `fields` (see
    /// [`Attestation`]).
    pub(crate) fn attest(
        &self,
        kind: &str,
        fields: &serde_json::Value,
        method: AuthMethod,
        label: Option<&str>,
    ) -> Attestation {
        let mut a = Attestation {
            v: 1,
            kid: self.kid.clone(),
            method,
            label: label.map(str::to_string),
            sig: String::new(),
        };
        a.sig = self.sign(&a.message(kind, fields));
        a
    }
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The public keys records and tokens are verified against.
#[derive(Debug, Clone, Default)]
pub struct ApproverTrust {
    keys: Vec<(String, VerifyingKey)>,
}

impl ApproverTrust {
    /// Load `dir/approver.pub`. No file: an empty trust root (nothing verifies).
    pub fn load(dir: &Path) -> Result<ApproverTrust, StoreError> {
        let path = dir.join(PUB_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ApproverTrust::default())
            }
            Err(e) => return Err(key_err(&path, format!("cannot read: {e}"))),
        };
        let pf: PubFile = serde_json::from_str(&text)
            .map_err(|e| key_err(&path, format!("not an approver public key file: {e}")))?;
        let bytes: [u8; 32] = hex::decode(pf.public_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| key_err(&path, "the public key is not 32 bytes of hex"))?;
        let vk = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| key_err(&path, format!("invalid Ed25519 public key: {e}")))?;
        Ok(ApproverTrust {
            keys: vec![(kid_of(&vk), vk)],
        })
    }

    /// No key at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn verify(&self, kid: &str, msg: &[u8], sig_b64: &str) -> bool {
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig_b64.trim()) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
            return false;
        };
        self.keys
            .iter()
            .filter(|(k, _)| k == kid)
            .any(|(_, vk)| vk.verify_strict(msg, &sig).is_ok())
    }

    /// Verify a token at `now`: format, signature, issued-at and expiry.
    pub fn verify_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<TokenClaims, TokenError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("longer than 8 KiB".into()));
        }
        let rest = token.strip_prefix(TOKEN_PREFIX).ok_or_else(|| {
            TokenError::Malformed(format!("does not start with `{TOKEN_PREFIX}`"))
        })?;
        let (payload, sig) = rest
            .split_once('.')
            .ok_or_else(|| TokenError::Malformed("no signature part".into()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed("the payload is not base64url".into()))?;
        let claims: TokenClaims = serde_json::from_slice(&bytes)
            .map_err(|e| TokenError::Malformed(format!("the payload is not token JSON: {e}")))?;
        if self.is_empty() {
            return Err(TokenError::NoTrustRoot);
        }
        let signed = format!("{TOKEN_PREFIX}{payload}");
        if !self.verify(&claims.kid, signed.as_bytes(), sig) {
            return Err(TokenError::BadSignature);
        }
        let t = now.unix_timestamp();
        if claims.exp <= t {
            return Err(TokenError::Expired(rfc(claims.exp)));
        }
        // a minute of clock skew
        if claims.iat > t.saturating_add(60) {
            return Err(TokenError::NotYetValid(rfc(claims.iat)));
        }
        if claims.sub.trim().is_empty() {
            return Err(TokenError::Malformed("empty subject".into()));
        }
        Ok(claims)
    }

    /// Does `att` sign `fields` of a record of `kind`?
    pub(crate) fn verify_attestation(
        &self,
        kind: &str,
        fields: &serde_json::Value,
        att: &Attestation,
    ) -> bool {
        att.v == 1 && self.verify(&att.kid, &att.message(kind, fields), &att.sig)
    }
}

fn rfc(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(crate::rfc3339)
        .unwrap_or_else(|_| secs.to_string())
}

/// The claims of an approver token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    pub sub: String,
    pub roles: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub kid: String,
    pub jti: String,
}

impl TokenClaims {
    /// Does the token grant `role` (directly or through `admin`)?
    pub fn grants(&self, role: Role) -> bool {
        self.roles
            .iter()
            .filter_map(|r| Role::parse(r).ok())
            .any(|r| r == role || r == Role::Admin)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the approver token is malformed: {0}")]
    Malformed(String),
    #[error(
        "no approver public key is installed to verify the token (`cavra keys approver init`)"
    )]
    NoTrustRoot,
    #[error("the approver token's signature does not verify against the approver public key")]
    BadSignature,
    #[error("the approver token expired at {0}")]
    Expired(String),
    #[error("the approver token is not valid before {0}")]
    NotYetValid(String),
    #[error(
        "the approver token of `{subject}` does not grant the `{role}` role (it grants: {roles})"
    )]
    MissingRole {
        subject: String,
        role: &'static str,
        roles: String,
    },
}

/// The signature of an approval, break-glass or release record by the approving
/// identity, stored beside the record. The signed message is the JSON array
/// `[kind, fields, method, label, kid]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub v: u32,
    pub kid: String,
    pub method: AuthMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub sig: String,
}

impl Attestation {
    fn message(&self, kind: &str, fields: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!([
            kind,
            fields,
            self.method.as_str(),
            self.label,
            self.kid
        ]))
        .unwrap_or_default()
    }

    pub(crate) fn parse(s: &str) -> Option<Attestation> {
        serde_json::from_str(s).ok()
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Who signs the records a control action writes.
#[derive(Debug, Clone)]
pub struct Signer {
    pub key: ApproverKey,
    pub method: AuthMethod,
    /// The `--as` display label, if any.
    pub label: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn token_round_trip_and_refusals() {
        let k = ApproverKey::generate();
        let tok = k
            .issue_token("alice", &[Role::Approve], t(0), Duration::from_secs(60))
            .unwrap();
        let c = k.trust().verify_token(&tok, t(1)).unwrap();
        assert_eq!(c.sub, "alice");
        assert!(c.grants(Role::Approve));
        assert!(!c.grants(Role::BreakGlass));
        assert!(matches!(
            k.trust().verify_token(&tok, t(60)),
            Err(TokenError::Expired(_))
        ));
        let other = ApproverKey::generate();
        assert!(matches!(
            other.trust().verify_token(&tok, t(1)),
            Err(TokenError::BadSignature)
        ));
        assert!(matches!(
            ApproverTrust::default().verify_token(&tok, t(1)),
            Err(TokenError::NoTrustRoot)
        ));
        // a changed payload breaks the signature
        let (head, sig) = tok.rsplit_once('.').unwrap();
        let payload = head.strip_prefix(TOKEN_PREFIX).unwrap();
        let mut claims: TokenClaims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims.roles = vec!["admin".into()];
        let forged = format!(
            "{TOKEN_PREFIX}{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert!(matches!(
            k.trust().verify_token(&forged, t(1)),
            Err(TokenError::BadSignature)
        ));
        for bad in ["", "x", "cavra-approver.v1.", "cavra-approver.v1.e30.AAAA"] {
            assert!(k.trust().verify_token(bad, t(1)).is_err(), "{bad}");
        }
        assert!(k
            .issue_token(
                "alice",
                &[Role::Approve],
                t(0),
                MAX_TOKEN_TTL + Duration::from_secs(1)
            )
            .is_err());
        assert!(k
            .issue_token(" ", &[Role::Approve], t(0), Duration::from_secs(1))
            .is_err());
        assert!(k
            .issue_token("a", &[], t(0), Duration::from_secs(1))
            .is_err());
    }

    #[test]
    fn attestation_binds_every_field() {
        let k = ApproverKey::generate();
        let f = serde_json::json!(["apr-1", "approved", 5]);
        let a = k.attest("approval", &f, AuthMethod::Terminal, Some("Alice"));
        assert!(k.trust().verify_attestation("approval", &f, &a));
        assert!(!k.trust().verify_attestation(
            "approval",
            &serde_json::json!(["apr-1", "approved", 6]),
            &a
        ));
        assert!(!k.trust().verify_attestation("release", &f, &a));
        let mut b = a.clone();
        b.method = AuthMethod::Token;
        assert!(!k.trust().verify_attestation("approval", &f, &b));
        assert!(!ApproverKey::generate()
            .trust()
            .verify_attestation("approval", &f, &a));
    }

    #[test]
    fn key_files_outside_and_private() {
        let d = tempfile::TempDir::new().unwrap();
        let dir = d.path().join("approver");
        let k = ApproverKey::init(&dir, t(0)).unwrap();
        assert!(ApproverKey::init(&dir, t(0)).is_err(), "never replaced");
        let l = ApproverKey::load(&dir).unwrap().unwrap();
        assert_eq!(l.kid(), k.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let m = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600);
            std::fs::set_permissions(dir.join(KEY_FILE), std::fs::Permissions::from_mode(0o644))
                .unwrap();
            assert!(
                ApproverKey::load(&dir).is_err(),
                "world-readable key refused"
            );
        }
        let tr = ApproverTrust::load(&dir).unwrap();
        let tok = k
            .issue_token("bob", &[Role::Admin], t(0), Duration::from_secs(60))
            .unwrap();
        assert!(tr.verify_token(&tok, t(1)).unwrap().grants(Role::Release));
        assert!(ApproverTrust::load(&d.path().join("none"))
            .unwrap()
            .is_empty());
    }
}
