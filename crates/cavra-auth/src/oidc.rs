//! OIDC bearer validation: a compact JWS checked against the issuer's JWKS, its claims
//! against the configuration, and the result mapped to a [`Principal`].
//!
//! Order: shape and size, header (`alg` allowed, no `crit`), key by `kid` (one rate-limited
//! JWKS refresh for an unknown kid), signature, then claims (`iss`, `aud`, `exp`, `nbf`,
//! `iat`, `sub`) — a claim error is only reported for a token whose signature verified.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::config::{OidcConfig, Settings};
use crate::error::AuthError;
use crate::jwks::{CachePolicy, KeyCache, KeySet, Lookup};
use crate::principal::{Principal, RoleMap};

/// The longest token accepted (bytes).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// At most this many groups are read from the groups claim.
pub const MAX_GROUPS: usize = 1000;

/// The moment a token is checked at: wall-clock seconds for the claims, a monotonic
/// instant for the key cache.
#[derive(Debug, Clone, Copy)]
pub struct At {
    pub unix: i64,
    pub instant: Instant,
}

impl At {
    pub fn now() -> At {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        At {
            unix,
            instant: Instant::now(),
        }
    }
}

/// Validates the bearer tokens of one OIDC issuer. `Send + Sync`: one per server, shared
/// by its blocking tasks. Fetching keys is blocking I/O (call it from `spawn_blocking`).
#[derive(Debug)]
pub struct OidcValidator {
    settings: Settings,
    roles: RoleMap,
    keys: KeyCache,
}

impl OidcValidator {
    /// Build from a configuration (checked again here). Fetches nothing yet: keys are
    /// fetched on first use, or by [`OidcValidator::refresh_keys`] at start-up.
    pub fn new(config: &OidcConfig) -> Result<OidcValidator, AuthError> {
        let settings = config.settings().map_err(|detail| AuthError::Config {
            path: "oidc".into(),
            detail,
        })?;
        // one crypto backend (AWS-LC) for jsonwebtoken, whatever else enables features
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        let roles = RoleMap::new(&settings.roles, settings.repositories.as_ref());
        let keys = KeyCache::new(
            settings.source.clone(),
            CachePolicy {
                ttl: settings.jwks_cache_ttl,
                min_refresh_interval: settings.min_refresh_interval,
                http_timeout: settings.http_timeout,
                issuer: settings.issuer.clone(),
            },
        );
        Ok(OidcValidator {
            settings,
            roles,
            keys,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Fetch the issuer's keys now (a start-up check: fails when they cannot be had).
    pub fn refresh_keys(&self) -> Result<Arc<KeySet>, AuthError> {
        self.keys.refresh_now(Instant::now())
    }

    /// How many times keys were fetched (for tests and `/metrics`).
    pub fn key_fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// Validate `token` (the bearer credential, without `Bearer `) now.
    pub fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        self.validate_at(token, At::now())
    }

    /// Validate the ID token of an authorization code flow: [`OidcValidator::validate`],
    /// and its `nonce` claim must be `nonce` (the one the flow sent: a token minted for
    /// another sign-in is refused).
    pub fn validate_id_token(&self, token: &str, nonce: &str) -> Result<Principal, AuthError> {
        let principal = self.validate(token)?;
        let claims = decode_json(split(token)?.payload, "payload")?;
        let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if got.is_empty() || got != nonce {
            return Err(AuthError::BadClaim {
                claim: "nonce".into(),
                detail: "not the nonce of this sign-in".into(),
            });
        }
        Ok(principal)
    }

    /// Validate `token` at `at`.
    pub fn validate_at(&self, token: &str, at: At) -> Result<Principal, AuthError> {
        let parts = split(token)?;
        let header = parse_header(parts.header)?;
        let alg = self.allowed(&header.alg)?;
        let signature = parts.signature;
        let message = parts.message;
        let mut keys = self.keys.current(at.instant)?;
        let mut refreshed = false;
        let key = loop {
            match keys.lookup(header.kid.as_deref(), alg) {
                Lookup::Found(k) => break k.key.clone(),
                Lookup::Mismatch => {
                    return Err(AuthError::KeyMismatch {
                        kid: header.kid.clone().unwrap_or_default(),
                        alg: header.alg.clone(),
                    })
                }
                Lookup::Ambiguous => return Err(AuthError::MissingKid),
                Lookup::Unknown if !refreshed => {
                    refreshed = true;
                    keys = self.keys.refresh_for_unknown(&keys, at.instant)?;
                }
                Lookup::Unknown => {
                    return Err(AuthError::UnknownKid(
                        header.kid.clone().unwrap_or_else(|| "(none)".into()),
                    ))
                }
            }
        };
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, alg) {
            Ok(true) => {}
            Ok(false) => return Err(AuthError::BadSignature),
            Err(e) => {
                return Err(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::Base64(_) => {
                        AuthError::Malformed("the signature is not base64url".into())
                    }
                    _ => AuthError::BadSignature,
                })
            }
        }
        let claims = decode_json(parts.payload, "payload")?;
        self.check_claims(claims, at.unix)
    }

    fn allowed(&self, alg: &str) -> Result<Algorithm, AuthError> {
        crate::config::parse_algorithm(alg)
            .filter(|a| self.settings.algorithms.contains(a))
            .ok_or_else(|| AuthError::AlgorithmNotAllowed(alg.to_string()))
    }

    fn check_claims(&self, claims: Value, now: i64) -> Result<Principal, AuthError> {
        let s = &self.settings;
        let leeway = s.leeway_secs;
        let iss = str_claim(&claims, "iss")?;
        if iss != s.issuer {
            return Err(AuthError::WrongIssuer {
                found: iss.to_string(),
                expected: s.issuer.clone(),
            });
        }
        let aud = audiences(&claims)?;
        if !aud.iter().any(|a| s.audience.contains(a)) {
            return Err(AuthError::WrongAudience {
                found: aud,
                expected: s.audience.clone(),
            });
        }
        let exp = time_claim(&claims, "exp")?.ok_or_else(|| missing("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(AuthError::Expired { exp, now });
        }
        for name in ["nbf", "iat"] {
            if let Some(t) = time_claim(&claims, name)? {
                if now.saturating_add(leeway) < t {
                    return Err(AuthError::NotYetValid { nbf: t, now });
                }
            }
        }
        let sub = str_claim(&claims, "sub")?;
        if sub.trim().is_empty() {
            return Err(AuthError::BadClaim {
                claim: "sub".into(),
                detail: "empty".into(),
            });
        }
        let email_verified = claims.get("email_verified").and_then(Value::as_bool);
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty() && email_verified != Some(false))
            .map(str::to_string);
        let groups = groups(&claims, &s.groups_claim)?;
        Ok(self
            .roles
            .principal(sub.to_string(), email, iss.to_string(), groups))
    }
}

struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    message: &'a str,
    signature: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed(format!(
            "longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let dots = token.matches('.').count();
    if dots == 4 {
        return Err(AuthError::Malformed(
            "an encrypted token (JWE) is not accepted".into(),
        ));
    }
    let (message, signature) = token
        .rsplit_once('.')
        .filter(|_| dots == 2)
        .ok_or_else(|| AuthError::Malformed("not three dot-separated parts".into()))?;
    let (header, payload) = message
        .split_once('.')
        .ok_or_else(|| AuthError::Malformed("not three dot-separated parts".into()))?;
    if header.is_empty() || payload.is_empty() {
        return Err(AuthError::Malformed("an empty part".into()));
    }
    if signature.is_empty() {
        // `alg: none` tokens end with an empty signature
        return Err(AuthError::Malformed("no signature".into()));
    }
    Ok(Parts {
        header,
        payload,
        message,
        signature,
    })
}

fn decode_json(part: &str, what: &str) -> Result<Value, AuthError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed(format!("the {what} is not base64url")))?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| AuthError::Malformed(format!("the {what} is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(AuthError::Malformed(format!("the {what} is not an object")));
    }
    Ok(v)
}

struct Header {
    alg: String,
    kid: Option<String>,
}

fn parse_header(part: &str) -> Result<Header, AuthError> {
    let h = decode_json(part, "header")?;
    let alg = h
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::Malformed("the header has no `alg`".into()))?
        .to_string();
    if h.get("crit").is_some() {
        return Err(AuthError::Malformed(
            "critical header extensions (`crit`) are not supported".into(),
        ));
    }
    let kid = match h.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(AuthError::Malformed("`kid` is not a string".into())),
    };
    Ok(Header { alg, kid })
}

fn missing(claim: &str) -> AuthError {
    AuthError::BadClaim {
        claim: claim.into(),
        detail: "missing".into(),
    }
}

fn str_claim<'a>(claims: &'a Value, name: &str) -> Result<&'a str, AuthError> {
    match claims.get(name) {
        None => Err(missing(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(AuthError::BadClaim {
            claim: name.into(),
            detail: "not a string".into(),
        }),
    }
}

/// A NumericDate claim (seconds; a fraction is dropped), when present.
fn time_claim(claims: &Value, name: &str) -> Result<Option<i64>, AuthError> {
    let bad = || AuthError::BadClaim {
        claim: name.into(),
        detail: "not a number of seconds".into(),
    };
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.is_finite() => {
                // saturating float → int: out-of-range values clamp, never wrap
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(f.floor() as i64))
            }
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

fn audiences(claims: &Value) -> Result<Vec<String>, AuthError> {
    let bad = || AuthError::BadClaim {
        claim: "aud".into(),
        detail: "not a string or a list of strings".into(),
    };
    match claims.get("aud") {
        None => Err(missing("aud")),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// The groups at the claim path (`groups`, `realm_access.roles`): a list of strings or one
/// string; absent means none.
fn groups(claims: &Value, path: &[String]) -> Result<Vec<String>, AuthError> {
    let name = path.join(".");
    let bad = |detail: &str| AuthError::BadClaim {
        claim: name.clone(),
        detail: detail.into(),
    };
    let mut v = claims;
    for p in path {
        match v.get(p) {
            Some(next) => v = next,
            None => return Ok(Vec::new()),
        }
    }
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => {
            if items.len() > MAX_GROUPS {
                return Err(bad("too many groups"));
            }
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("not a list of strings"))
                })
                .collect()
        }
        _ => Err(bad("not a list of strings")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_that_are_not_a_jws_are_malformed() {
        for t in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a..c",
            ".b.c",
            "a.b.",
            "a.b.c.d.e",
        ] {
            assert!(matches!(split(t), Err(AuthError::Malformed(_))), "{t:?}");
        }
        assert!(split(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
        let p = split("h.p.s").unwrap();
        assert_eq!(
            (p.header, p.payload, p.message, p.signature),
            ("h", "p", "h.p", "s")
        );
    }

    fn enc(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn headers() {
        let h = parse_header(&enc(&json!({"alg": "ES256", "kid": "k1"}))).unwrap();
        assert_eq!((h.alg.as_str(), h.kid.as_deref()), ("ES256", Some("k1")));
        assert!(parse_header(&enc(&json!({"kid": "k1"}))).is_err());
        assert!(parse_header(&enc(&json!({"alg": "ES256", "kid": 3}))).is_err());
        assert!(parse_header(&enc(&json!({"alg": "ES256", "crit": ["b64"]}))).is_err());
        assert!(parse_header(&enc(&json!(["alg"]))).is_err());
        assert!(parse_header("!!!").is_err());
    }

    #[test]
    fn claim_readers() {
        let c = json!({"aud": ["a", "b"], "exp": 10.7, "nbf": "soon", "g": {"r": ["x", "y"]}, "one": "z", "n": 3});
        assert_eq!(audiences(&c).unwrap(), vec!["a", "b"]);
        assert_eq!(audiences(&json!({"aud": "a"})).unwrap(), vec!["a"]);
        assert!(audiences(&json!({"aud": [1]})).is_err());
        assert!(audiences(&json!({})).is_err());
        assert_eq!(time_claim(&c, "exp").unwrap(), Some(10));
        assert!(time_claim(&c, "nbf").is_err());
        assert_eq!(time_claim(&c, "iat").unwrap(), None);
        assert_eq!(
            time_claim(&json!({"exp": 1e300}), "exp").unwrap(),
            Some(i64::MAX)
        );
        let path = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(groups(&c, &path("g.r")).unwrap(), vec!["x", "y"]);
        assert_eq!(groups(&c, &path("one")).unwrap(), vec!["z"]);
        assert!(groups(&c, &path("missing.deep")).unwrap().is_empty());
        assert!(groups(&c, &path("n")).is_err());
        assert!(groups(&json!({"g": [1]}), &path("g")).is_err());
    }
}
