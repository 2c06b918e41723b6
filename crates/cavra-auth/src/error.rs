//! What failed, typed: the server maps these to 401 (a credential that does not
//! authenticate) or 500/503 (the issuer's keys could not be had), and names the reason.

use std::path::PathBuf;

use thiserror::Error;

/// Why a bearer token was not accepted, or why the validator could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    // ---- the token itself (HTTP 401) ----
    /// Not three base64url parts, a header or payload that is not JSON, a token over the
    /// size limit.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `alg: none`, an HMAC algorithm (`HS*`: a public key is not a shared secret), or an
    /// algorithm the configuration does not allow.
    #[error("algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    /// The token has no `kid` and the issuer publishes more than one key for its algorithm.
    #[error("the token names no key (`kid`) and the issuer has several")]
    MissingKid,
    /// No key with this `kid`, even after refreshing the issuer's JWKS.
    #[error("unknown signing key `{0}`")]
    UnknownKid(String),
    /// The key named by `kid` is for another algorithm or curve than the token's `alg`.
    #[error("key `{kid}` cannot verify `{alg}`")]
    KeyMismatch { kid: String, alg: String },
    #[error("bad signature")]
    BadSignature,
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("wrong issuer `{found}` (expected `{expected}`)")]
    WrongIssuer { found: String, expected: String },
    #[error("wrong audience {found:?} (expected one of {expected:?})")]
    WrongAudience {
        found: Vec<String>,
        expected: Vec<String>,
    },
    /// A claim that must be there is missing or of the wrong type (`sub`, `exp`, `iss`,
    /// `aud`, a groups claim that is not a list of strings).
    #[error("claim `{claim}`: {detail}")]
    BadClaim { claim: String, detail: String },

    // ---- the issuer's keys (the server's side: HTTP 503) ----
    /// The JWKS (file or URL) or the discovery document could not be had.
    #[error("cannot fetch `{url}`: {detail}")]
    Fetch { url: String, detail: String },
    /// A JWKS or discovery document that does not parse, or that names another issuer.
    #[error("bad key set from `{source_name}`: {detail}")]
    BadKeySet { source_name: String, detail: String },

    // ---- configuration ----
    #[error("invalid auth config `{path}`: {detail}")]
    Config { path: PathBuf, detail: String },
}

impl AuthError {
    /// Is this about the presented credential (401), as opposed to the server being unable
    /// to check it (its keys unavailable: 503) or misconfigured?
    pub fn is_credential_error(&self) -> bool {
        !matches!(
            self,
            AuthError::Fetch { .. } | AuthError::BadKeySet { .. } | AuthError::Config { .. }
        )
    }

    /// A stable short code for logs and JSON error documents.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Malformed(_) => "malformed_token",
            AuthError::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            AuthError::MissingKid => "missing_kid",
            AuthError::UnknownKid(_) => "unknown_kid",
            AuthError::KeyMismatch { .. } => "key_mismatch",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired { .. } => "expired",
            AuthError::NotYetValid { .. } => "not_yet_valid",
            AuthError::WrongIssuer { .. } => "wrong_issuer",
            AuthError::WrongAudience { .. } => "wrong_audience",
            AuthError::BadClaim { .. } => "bad_claim",
            AuthError::Fetch { .. } => "jwks_unavailable",
            AuthError::BadKeySet { .. } => "bad_jwks",
            AuthError::Config { .. } => "config",
        }
    }
}
